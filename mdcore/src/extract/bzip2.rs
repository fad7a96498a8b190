//! bzip2, every stream of a multi-stream file, as one child. Bytes after
//! the last stream are left to the carver.

use bzip2::bufread::BzDecoder;

use super::{Cx, Extractor, Issue, Members, Sink, members, strip_compression_ext};
use crate::formats::Span;

pub(crate) struct Bzip2;

fn open(rest: &[u8]) -> std::io::Result<Option<BzDecoder<&[u8]>>> {
    Ok(crate::detect::magic::bzip2(rest).map(|_| BzDecoder::new(rest)))
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
    crate::detect::magic::bzip2(d.get(at..)?).map(|_| Span {
        start: at,
        end: None,
    })
}
