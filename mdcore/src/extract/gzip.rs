//! gzip (RFC 1952), every member of a multi-member file, as one child.

use flate2::read::MultiGzDecoder;

use super::{Cx, Extractor, Issue, Sink, sanitize_name, single_stream, strip_compression_ext};

pub(crate) struct Gzip;

impl Extractor for Gzip {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let mut dec = MultiGzDecoder::new(data);
        // The member's own name (FNAME, RFC 1952 §2.3.1) when present.
        let name = dec
            .header()
            .and_then(|h| h.filename())
            .map(|f| sanitize_name(&String::from_utf8_lossy(f)))
            .filter(|n| n != "[unnamed]")
            .unwrap_or_else(|| strip_compression_ext(cx.name, &["gz", "gzip", "z"]));
        single_stream(&mut dec, name, cx, sink)
    }
}
