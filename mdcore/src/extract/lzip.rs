//! lzip (`.lz`, `.tlz`), every member of a multi-member file, as one
//! child, decoded by liblzma's lzip decoder (xz-utils' own, which `xz -d`
//! uses for `.lz`; members' CRC32 and sizes checked). Bytes after the last
//! member are left to the carver, as lzip itself leaves trailing data; an
//! lzip member found inside other bytes is carved ([`carve`]).
//!
//! The decoder's memory is capped as for xz ([`super::xz::MEMORY_LIMIT`]):
//! a member declaring a huge dictionary is refused, not allocated.

use liblzma::bufread::XzDecoder;
use liblzma::stream::Stream;

use super::{Cx, Extractor, Issue, Members, Sink, members, strip_compression_ext};
use crate::kind::Span;

pub(crate) struct Lzip;

/// A member's header: magic and version (0 or 1).
fn starts_member(rest: &[u8]) -> bool {
    rest.starts_with(b"LZIP") && rest.get(4).is_some_and(|v| *v <= 1)
}

fn open(rest: &[u8]) -> std::io::Result<Option<XzDecoder<&[u8]>>> {
    if !starts_member(rest) {
        return Ok(None);
    }
    // One member at a time (no CONCATENATED flag): the bytes after it are
    // looked at again, so trailing data is not taken for a damaged member.
    let stream = Stream::new_lzip_decoder(super::xz::MEMORY_LIMIT, 0)?;
    Ok(Some(XzDecoder::new_stream(rest, stream)))
}

impl Extractor for Lzip {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let name = strip_compression_ext(cx.name, &["lz"]);
        let reader = Members::new(data, open, XzDecoder::into_inner)
            .map_err(|e| Issue::corrupt(format!("can not start the lzip decoder: {e}")))?;
        members(reader, name, cx, sink)
    }
}

/// Carving: a member header, and the first 64 KiB decoding (lzip has no
/// header checksum; its CRC is at the member's end).
pub(crate) fn carve(d: &[u8], at: usize) -> Option<Span> {
    let p = d.get(at..)?;
    let mut dec = open(p.get(..1 << 20).unwrap_or(p)).ok()??;
    super::trial_decode(&mut dec).then_some(Span {
        start: at,
        end: None,
    })
}
