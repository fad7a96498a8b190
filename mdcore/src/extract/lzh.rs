//! LHA / LZH archives through `delharc`: header levels 0 to 3, methods
//! `-lh0-` to `-lh7-`, `-lhx-`, `-lzs-`, `-lz4-`, `-lz5-`, `-pm0-` to
//! `-pm2-`. Every member is checked against its CRC-16. A method `delharc`
//! does not decode (`-lh2-`, `-lh3-`, unknown ids) is 23 for that member.
//! Archives behind a self-extractor stub are carved (`-lh` at offset 2 of a
//! header that parses).

use std::io::Cursor;

use delharc::{LhaDecodeReader, LhaHeader};

use super::{Child, Cx, Entry, Extractor, Flow, Issue, Sink, read_child, sanitize_name};
use crate::kind::Span;
use crate::verdict::ResultCode;

pub(crate) struct Lzh;

/// Members read from one archive.
const MAX_ENTRIES: usize = 1 << 20;

impl Extractor for Lzh {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let mut reader = LhaDecodeReader::new(Cursor::new(data))
            .map_err(|e| Issue::corrupt(format!("LZH header not read: {e}")))?;
        for index in 0.. {
            if index >= MAX_ENTRIES {
                return Err(Issue::new(
                    ResultCode::ExceededArchiveFileNumber,
                    format!("LZH archive has more than {MAX_ENTRIES} members"),
                ));
            }
            let header = reader.header();
            let name = sanitize_name(&header.parse_pathname_to_str());
            if !header.is_directory() {
                let flow = if reader.is_decoder_supported() {
                    let produced = read_child(&mut reader, cx.budget);
                    let whole = produced.issue.is_none() && reader.is_empty();
                    let stop = produced.stop;
                    let mut child = produced.into_child(name);
                    if whole && !reader.crc_is_ok() {
                        child.issue = Some(Issue::corrupt("LZH member fails its CRC-16 check"));
                    }
                    let flow = sink(Entry::Ready(child));
                    if let Some(s) = stop {
                        return Err(Issue::stopped(s));
                    }
                    flow
                } else {
                    let method = String::from_utf8_lossy(&header.compression).into_owned();
                    let issue = Issue::new(
                        ResultCode::UnsupportedFileType,
                        format!("LZH method {method} is not decoded"),
                    );
                    sink(Entry::Ready(Child::failed(name, issue)))
                };
                if flow == Flow::Stop {
                    return Ok(());
                }
            }
            // Seeks over what was not read (a member cut at a limit) instead
            // of decoding it.
            match reader.seek_next_file() {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    return Err(Issue::corrupt(format!(
                        "LZH headers damaged after {} members: {e}",
                        index + 1
                    )));
                }
            }
        }
        if let Some(cursor) = reader.get_ref() {
            cx.consumed(usize::try_from(cursor.position()).unwrap_or(data.len()));
        }
        Ok(())
    }
}

/// An LZH header at `at - 2` (the signature is the method id `-lh`).
pub(crate) fn carve(d: &[u8], at: usize) -> Option<Span> {
    let start = at.checked_sub(2)?;
    let mut rest = d.get(start..)?;
    let header = LhaHeader::read(&mut rest).ok()??;
    // The method must be a known one, and the sizes fit what follows.
    header.compression_method().ok()?;
    let left = rest.len() as u64;
    (header.compressed_size <= left).then_some(Span { start, end: None })
}
