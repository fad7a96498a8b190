//! xz, every stream of a multi-stream file, as one child.
//!
//! The decoder's memory is capped ([`MEMORY_LIMIT`]): a header declaring a
//! huge dictionary is refused (code 3) instead of being allocated.

use liblzma::read::XzDecoder;
use liblzma::stream::{CONCATENATED, Stream};

use super::{Cx, Extractor, Issue, Sink, single_stream, strip_compression_ext};

pub(crate) struct Xz;

/// Most memory liblzma may use for one stream; `xz -9` needs 674 MiB to
/// compress but 65 MiB to decompress.
pub(crate) const MEMORY_LIMIT: u64 = 256 << 20;

/// A multi-stream xz decoder with the memory cap.
pub(crate) fn decoder(data: &[u8]) -> Result<XzDecoder<&[u8]>, Issue> {
    let stream = Stream::new_stream_decoder(MEMORY_LIMIT, CONCATENATED)
        .map_err(|e| Issue::corrupt(format!("can not start the xz decoder: {e}")))?;
    Ok(XzDecoder::new_stream(data, stream))
}

impl Extractor for Xz {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let name = strip_compression_ext(cx.name, &["xz"]);
        single_stream(&mut decoder(data)?, name, cx, sink)
    }
}
