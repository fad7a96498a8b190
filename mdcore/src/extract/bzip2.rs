//! bzip2, every stream of a multi-stream file, as one child.

use bzip2::read::MultiBzDecoder;

use super::{Cx, Extractor, Issue, Sink, single_stream, strip_compression_ext};

pub(crate) struct Bzip2;

impl Extractor for Bzip2 {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let name = strip_compression_ext(cx.name, &["bz2", "bzip2"]);
        single_stream(&mut MultiBzDecoder::new(data), name, cx, sink)
    }
}
