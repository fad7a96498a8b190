//! xz, every stream of a multi-stream file (with the stream padding between
//! them), as one child. Bytes after the last stream are left to the carver.
//!
//! The decoder's memory is capped ([`MEMORY_LIMIT`]): a header declaring a
//! huge dictionary is refused — a size limit (13), not damage — instead of
//! being allocated.

use liblzma::bufread::XzDecoder;
use liblzma::stream::Stream;

use super::{Cx, Extractor, Issue, Members, Sink, members, strip_compression_ext};
use crate::kind::Span;

pub(crate) struct Xz;

/// Most memory liblzma may use for one stream; `xz -9` needs 674 MiB to
/// compress but 65 MiB to decompress.
pub(crate) const MEMORY_LIMIT: u64 = 256 << 20;

const MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];

fn open(rest: &[u8]) -> std::io::Result<Option<XzDecoder<&[u8]>>> {
    // Stream padding: zero bytes in multiples of four (xz file format §2.2).
    let zeros = rest.iter().take_while(|b| **b == 0).count() / 4 * 4;
    let rest = rest.get(zeros..).unwrap_or_default();
    if !rest.starts_with(MAGIC) {
        return Ok(None);
    }
    let stream = Stream::new_stream_decoder(MEMORY_LIMIT, 0)?;
    Ok(Some(XzDecoder::new_stream(rest, stream)))
}

/// A multi-stream xz decoder with the memory cap, for payloads that run to
/// the end of their container (RPM).
pub(crate) fn decoder(data: &[u8]) -> Result<liblzma::read::XzDecoder<&[u8]>, Issue> {
    let stream = Stream::new_stream_decoder(MEMORY_LIMIT, liblzma::stream::CONCATENATED)
        .map_err(|e| Issue::corrupt(format!("can not start the xz decoder: {e}")))?;
    Ok(liblzma::read::XzDecoder::new_stream(data, stream))
}

impl Extractor for Xz {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let name = strip_compression_ext(cx.name, &["xz"]);
        let reader = Members::new(data, open, XzDecoder::into_inner)
            .map_err(|e| Issue::corrupt(format!("can not start the xz decoder: {e}")))?;
        members(reader, name, cx, sink)
    }
}

/// Carving: the stream header's flags and their CRC32.
pub(crate) fn carve(d: &[u8], at: usize) -> Option<Span> {
    let flags = d.get(at + 6..at + 8)?;
    let crc = crate::bytes::le_u32(d, at + 8)?;
    (flags.first() == Some(&0)
        && flags.get(1).is_some_and(|f| f & 0xf0 == 0)
        && crc32fast::hash(flags) == crc)
        .then_some(Span {
            start: at,
            end: None,
        })
}
