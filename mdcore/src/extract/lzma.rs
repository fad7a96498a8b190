//! Legacy LZMA-alone streams (`.lzma`: `xz --format=lzma`, `lzma`, the
//! LZMA SDK), one member, decoded by liblzma's LZMA-alone decoder (the one
//! `xz -d` uses for them), the decoder's memory capped as for xz
//! ([`super::xz::MEMORY_LIMIT`]). A stream of known size ends there; one
//! of unknown size needs its end marker (without it, damage, 3). Bytes
//! after the stream are left to the carver.

use liblzma::bufread::XzDecoder;
use liblzma::stream::Stream;

use super::{Cx, Extractor, Issue, Members, Sink, members, strip_compression_ext};

pub(crate) struct LzmaAlone;

/// The 13-byte header, taken only as encoders write it (it has no magic):
/// the properties byte (lc + lp * 9 + pb * 45, with lc + lp <= 4 as
/// liblzma requires), a dictionary of 4 KiB to 1.5 GiB that is a power of
/// two or three times one, an uncompressed size that is unknown (all ones)
/// or below 2^48, and a first range-coder byte of 0 (every LZMA stream
/// starts so).
pub(crate) fn is_header(p: &[u8]) -> bool {
    let Some(&props) = p.first() else {
        return false;
    };
    if props >= 225 {
        return false;
    }
    let (lc, lp) = (props % 9, props / 9 % 5);
    let (Some(dict), Some(size)) = (crate::bytes::le_u32(p, 1), crate::bytes::le_u64(p, 5)) else {
        return false;
    };
    let pow2 = |d: u32| d.is_power_of_two();
    let dict_ok =
        (4096..=(3 << 29)).contains(&dict) && (pow2(dict) || (dict % 3 == 0 && pow2(dict / 3)));
    lc + lp <= 4 && dict_ok && (size == u64::MAX || size < 1 << 48) && p.get(13) == Some(&0)
}

fn open(rest: &[u8]) -> std::io::Result<Option<XzDecoder<&[u8]>>> {
    if !is_header(rest) {
        return Ok(None);
    }
    let stream = Stream::new_lzma_decoder(super::xz::MEMORY_LIMIT)?;
    Ok(Some(XzDecoder::new_stream(rest, stream)))
}

impl Extractor for LzmaAlone {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let name = strip_compression_ext(cx.name, &["lzma"]);
        let reader = Members::new(data, open, XzDecoder::into_inner)
            .map_err(|e| Issue::corrupt(format!("can not start the LZMA decoder: {e}")))?;
        members(reader, name, cx, sink)
    }
}
