//! Zstandard, every frame, as one child.
//!
//! The decoder's window is capped at 2^27 bytes (zstd's default for
//! decoders): a frame asking for more is refused instead of allocating
//! whatever its header declares.

use super::{Cx, Extractor, Issue, Sink, single_stream, strip_compression_ext};

pub(crate) struct Zstd;

impl Extractor for Zstd {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let name = strip_compression_ext(cx.name, &["zst", "zstd"]);
        let mut dec = zstd::stream::read::Decoder::with_buffer(data)
            .map_err(|e| Issue::corrupt(format!("can not start the zstd decoder: {e}")))?;
        dec.window_log_max(27)
            .map_err(|e| Issue::corrupt(format!("can not configure the zstd decoder: {e}")))?;
        single_stream(&mut dec, name, cx, sink)
    }
}
