//! bzip2, every stream of a multi-stream file, as one child. Bytes after
//! the last stream are left to the carver.

use bzip2::bufread::BzDecoder;

use super::{Cx, Extractor, Issue, Members, Sink, members, strip_compression_ext};
use crate::kind::Span;

pub(crate) struct Bzip2;

fn open(rest: &[u8]) -> std::io::Result<Option<BzDecoder<&[u8]>>> {
    Ok(header_ok(rest).then(|| BzDecoder::new(rest)))
}

impl Extractor for Bzip2 {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let name = strip_compression_ext(cx.name, &["bz2", "bzip2"]);
        let reader = Members::new(data, open, BzDecoder::into_inner)
            .map_err(|e| Issue::corrupt(format!("not a readable bzip2 stream: {e}")))?;
        members(reader, name, cx, sink)
    }
}

/// Carving: the 10-byte stream header (level and block magic) is enough.
pub(crate) fn carve(d: &[u8], at: usize) -> Option<Span> {
    header_ok(d.get(at..)?).then_some(Span {
        start: at,
        end: None,
    })
}

/// A bzip2 stream header: `BZh`, a block size digit, then the magic of a
/// block or of the end of the stream.
pub(crate) fn header_ok(p: &[u8]) -> bool {
    const BLOCK: [u8; 6] = [0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
    const END: [u8; 6] = [0x17, 0x72, 0x45, 0x38, 0x50, 0x90];
    p.starts_with(b"BZh")
        && p.get(3).is_some_and(|b| (b'1'..=b'9').contains(b))
        && p.get(4..10).is_some_and(|m| m == BLOCK || m == END)
}
