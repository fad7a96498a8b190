//! OneNote sections (`.one`, `.onetoc2`), in both of the forms they travel
//! in, by one reader — a file is searched for both, since a section of one
//! form can carry the other:
//!
//! - The revision store ([MS-ONESTORE] 2.1–2.7, what the desktop app
//!   saves): the files a page embeds are FileDataStoreObject structures
//!   (2.6.13) — a header GUID, a 64-bit length, the data, then a footer
//!   GUID. They are found by their header GUID wherever they sit (as the
//!   OneNote lures of 2023 were taken apart), and each is a child
//!   `embedded-N.bin`. A length running past the end of the file keeps the
//!   bytes that are there and is 3.
//! - The alternative packaging (2.8, what OneDrive and OneNote for the
//!   web hand out): an FSSHTTPB data element package, walked whole by
//!   [`package`]; each object data BLOB (embedded files, pictures) is a
//!   child `blob-N.bin`, and fragmented data elements are put together
//!   first. A package that does not parse to its end, or fragments that
//!   do not make a whole element, are 3 — after everything found is
//!   handed over.

mod package;

use super::{Cx, Extractor, Flow, Issue, Sink, hand_over};
use crate::bytes::array;

pub(crate) struct OneNote;

/// {BDE316E7-2665-4511-A4C4-8D4D0B7A9EAC} as stored.
const HEADER: [u8; 16] = [
    0xe7, 0x16, 0xe3, 0xbd, 0x65, 0x26, 0x11, 0x45, 0xa4, 0xc4, 0x8d, 0x4d, 0x0b, 0x7a, 0x9e, 0xac,
];

/// Where the file-format GUID sits in a packaged section's header (after
/// the file-type, file and legacy-version GUIDs).
const FORMAT_AT: usize = 48;

impl Extractor for OneNote {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let mut damaged = None;
        if store_files(data, cx, sink, &mut damaged)? == Flow::Stop {
            return Ok(());
        }
        if packaged_files(data, cx, sink, &mut damaged)? == Flow::Stop {
            return Ok(());
        }
        damaged.map_or(Ok(()), Err)
    }
}

/// The revision store's FileDataStoreObjects.
fn store_files<'a>(
    data: &'a [u8],
    cx: &'a Cx<'a>,
    sink: &mut Sink<'_, 'a>,
    damaged: &mut Option<Issue>,
) -> Result<Flow, Issue> {
    let mut n = 0usize;
    for at in memchr::memmem::find_iter(data, &HEADER) {
        let Some(len) = array::<8>(data, at + 16).map(u64::from_le_bytes) else {
            continue;
        };
        let start = at + 36;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let body = data.get(start..start.saturating_add(len));
        let cut = body.is_none();
        let body = body.unwrap_or_else(|| data.get(start..).unwrap_or_default());
        n += 1;
        let cut = cut.then(|| {
            Issue::corrupt(format!(
                "the embedded file at offset {at} declares {len} bytes, more than the section holds"
            ))
        });
        if cut.is_some() {
            damaged.clone_from(&cut);
        }
        let note =
            format!("a file embedded in the OneNote section (FileDataStoreObject at offset {at})");
        let name = format!("embedded-{n}.bin");
        if hand_over(sink, cx, name, body, Some(note), cut)? == Flow::Stop {
            return Ok(Flow::Stop);
        }
    }
    Ok(Flow::Continue)
}

/// The object data BLOBs of every FSSHTTPB package in the file.
fn packaged_files<'a>(
    data: &'a [u8],
    cx: &'a Cx<'a>,
    sink: &mut Sink<'_, 'a>,
    damaged: &mut Option<Issue>,
) -> Result<Flow, Issue> {
    let mut n = 0usize;
    let mut elements = 0usize;
    for at in memchr::memmem::find_iter(data, &package::FORMAT) {
        let Some(walk) = package::read(data, at) else {
            continue;
        };
        if let Some(e) = &walk.damage {
            *damaged = Some(Issue::corrupt(format!(
                "the OneNote package at offset {at} could not be read to its end: {e}"
            )));
        } else if at == FORMAT_AT {
            // The package is the file: what follows it is trailing data.
            cx.consumed(walk.end);
        }
        for blob in &walk.blobs {
            n += 1;
            let note = format!(
                "a file stored in the OneNote package (object data BLOB at offset {})",
                blob.start
            );
            let bytes = data.get(blob.clone()).unwrap_or_default();
            if hand_over(sink, cx, format!("blob-{n}.bin"), bytes, Some(note), None)? == Flow::Stop
            {
                return Ok(Flow::Stop);
            }
        }
        for parts in package::by_element(&walk.fragments) {
            elements += 1;
            let (element, mut problem) = package::reassemble(data, &parts);
            let inner = package::read_all(&element);
            if let Some(e) = inner.damage {
                problem.get_or_insert(format!("the reassembled element does not parse: {e}"));
            }
            if !inner.fragments.is_empty() {
                problem.get_or_insert("it holds fragments of its own".to_string());
            }
            for blob in &inner.blobs {
                n += 1;
                let note = format!(
                    "a file stored in the OneNote package (object data BLOB in a data element reassembled from {} fragments)",
                    parts.len()
                );
                let bytes = element.get(blob.clone()).unwrap_or_default();
                if hand_over(sink, cx, format!("blob-{n}.bin"), bytes, Some(note), None)?
                    == Flow::Stop
                {
                    return Ok(Flow::Stop);
                }
            }
            if let Some(p) = problem {
                // Not understood whole: its bytes are examined as they are,
                // and it blocks.
                let issue = Issue::corrupt(format!(
                    "a data element of the OneNote package sent in {} fragments is not whole: {p}",
                    parts.len()
                ));
                *damaged = Some(issue.clone());
                let note = "the reassembled bytes of a fragmented data element".to_string();
                let name = format!("element-{elements}.bin");
                if hand_over(sink, cx, name, &element, Some(note), Some(issue))? == Flow::Stop {
                    return Ok(Flow::Stop);
                }
            }
        }
    }
    Ok(Flow::Continue)
}
