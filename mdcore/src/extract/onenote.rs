//! OneNote sections (`.one`, [MS-ONESTORE]): the files a page embeds are
//! FileDataStoreObject structures (2.6.13) — a header GUID, a 64-bit
//! length, the data, then a footer GUID. They are found by their header
//! GUID wherever they sit (as the OneNote lures of 2023 were taken apart),
//! and each is a child `embedded-N.bin`. A length running past the end of
//! the file keeps the bytes that are there and is 3.

use super::{Cx, Extractor, Flow, Issue, Sink, hand_over};
use crate::bytes::array;

pub(crate) struct OneNote;

/// {BDE316E7-2665-4511-A4C4-8D4D0B7A9EAC} as stored.
const HEADER: [u8; 16] = [
    0xe7, 0x16, 0xe3, 0xbd, 0x65, 0x26, 0x11, 0x45, 0xa4, 0xc4, 0x8d, 0x4d, 0x0b, 0x7a, 0x9e, 0xac,
];

impl Extractor for OneNote {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let mut n = 0usize;
        let mut damaged = None;
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
            let note = format!(
                "a file embedded in the OneNote section (FileDataStoreObject at offset {at})"
            );
            let name = format!("embedded-{n}.bin");
            if hand_over(sink, cx, name, body, Some(note), cut)? == Flow::Stop {
                return Ok(());
            }
        }
        damaged.map_or(Ok(()), Err)
    }
}
