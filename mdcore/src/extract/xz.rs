//! xz, every stream of a multi-stream file, as one child.

use liblzma::read::XzDecoder;

use super::{Cx, Extractor, Issue, Sink, single_stream, strip_compression_ext};

pub(crate) struct Xz;

impl Extractor for Xz {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let name = strip_compression_ext(cx.name, &["xz"]);
        single_stream(&mut XzDecoder::new_multi_decoder(data), name, cx, sink)
    }
}
