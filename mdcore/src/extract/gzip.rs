//! gzip (RFC 1952), every member of a multi-member file, as one child.
//! Bytes after the last member (GNU gzip warns "trailing garbage ignored")
//! are left to the carver.

use flate2::bufread::GzDecoder;

use super::{Cx, Extractor, Issue, Members, Sink, members, sanitize_name, strip_compression_ext};
use crate::kind::Span;

pub(crate) struct Gzip;

const MAGIC: &[u8] = &[0x1f, 0x8b, 0x08];

fn open(rest: &[u8]) -> std::io::Result<Option<GzDecoder<&[u8]>>> {
    Ok(rest.starts_with(MAGIC).then(|| GzDecoder::new(rest)))
}

impl Extractor for Gzip {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let reader = Members::new(data, open, GzDecoder::into_inner)
            .map_err(|e| Issue::corrupt(format!("not a readable gzip stream: {e}")))?;
        // The member's own name (FNAME, RFC 1952 §2.3.1) when present.
        let name = reader
            .current()
            .and_then(|d| d.header())
            .and_then(|h| h.filename())
            .map(|f| sanitize_name(&String::from_utf8_lossy(f)))
            .filter(|n| n != "[unnamed]")
            .unwrap_or_else(|| strip_compression_ext(cx.name, &["gz", "gzip", "z"]));
        members(reader, name, cx, sink)
    }
}

/// Carving: a gzip header with no reserved flag bits whose stream decodes.
pub(crate) fn carve(d: &[u8], at: usize) -> Option<Span> {
    let p = d.get(at..)?;
    let flags = *p.get(3)?;
    let xfl = *p.get(8)?;
    let os = *p.get(9)?;
    if flags & 0xe0 != 0 || !matches!(xfl, 0 | 2 | 4) || !(os <= 13 || os == 255) {
        return None;
    }
    let window = p.get(..1 << 20).unwrap_or(p);
    super::trial_decode(&mut GzDecoder::new(window)).then_some(Span {
        start: at,
        end: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn members_stop_where_the_last_member_ends() {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b"hello").unwrap();
        let one = e.finish().unwrap();
        let mut data = [&one[..], &one[..]].concat();
        let members_end = data.len();
        data.extend_from_slice(b"PK\x03\x04 and more");
        let mut r = Members::new(&data, open, GzDecoder::into_inner).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"hellohello");
        assert_eq!(r.end(), Some(members_end));
    }
}
