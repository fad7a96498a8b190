//! Zstandard, every frame, as one child; skippable frames (RFC 8878
//! §3.1.2) are stepped over as the zstd tool does. Bytes after the last
//! frame are left to the carver.
//!
//! The decoder's window is capped at 2^27 bytes (zstd's default for
//! decoders): a frame asking for more is refused — a size limit (13) —
//! instead of allocating whatever its header declares.

use std::io;

use super::{Cx, Extractor, Issue, Members, Sink, members, strip_compression_ext};
use crate::bytes::le_u32;
use crate::kind::Span;

pub(crate) struct Zstd;

type Frame<'a> = zstd::stream::read::Decoder<'static, &'a [u8]>;

fn starts_frame(rest: &[u8]) -> bool {
    rest.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || le_u32(rest, 0).is_some_and(|m| m & 0xffff_fff0 == 0x184d_2a50)
}

fn open(rest: &[u8]) -> io::Result<Option<Frame<'_>>> {
    if !starts_frame(rest) {
        return Ok(None);
    }
    let mut dec = zstd::stream::read::Decoder::with_buffer(rest)?.single_frame();
    dec.window_log_max(27)?;
    Ok(Some(dec))
}

impl Extractor for Zstd {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let name = strip_compression_ext(cx.name, &["zst", "zstd"]);
        let reader = Members::new(data, open, Frame::finish)
            .map_err(|e| Issue::corrupt(format!("can not start the zstd decoder: {e}")))?;
        members(reader, name, cx, sink)
    }
}

/// Carving: a frame whose start decodes.
pub(crate) fn carve(d: &[u8], at: usize) -> Option<Span> {
    let p = d.get(at..)?;
    let window = p.get(..1 << 20).unwrap_or(p);
    let mut dec = zstd::stream::read::Decoder::with_buffer(window)
        .ok()?
        .single_frame();
    dec.window_log_max(27).ok()?;
    super::trial_decode(&mut dec).then_some(Span {
        start: at,
        end: None,
    })
}
