//! RPM packages: the lead, the signature header and the main header are
//! skipped (their sizes checked against the file), and the payload — a cpio
//! archive compressed with gzip, bzip2, xz, lzma, zstd or nothing — is the
//! package's one child, named `<package>.cpio.<ext>` as 7-Zip hands it
//! out: an object of its own (a hash list naming a payload matches it),
//! which the walker opens as any compressed stream and cpio archive.

use super::{Child, Cx, Entry, Extractor, Issue, Sink, read_child, strip_compression_ext};
use crate::bytes::be_u32;
use crate::kind::Kind;
use crate::verdict::ResultCode;

pub(crate) struct Rpm;

const LEAD_LEN: usize = 96;
const HEADER_MAGIC: [u8; 4] = [0x8e, 0xad, 0xe8, 0x01];

/// The extension 7-Zip gives a payload of `kind` (as the walker detects
/// it, so the payload is opened as it is named); `None` for a payload
/// that is none of the compressors RPM uses.
fn payload_ext(kind: Kind) -> Option<&'static str> {
    Some(match kind {
        Kind::Gzip => "cpio.gz",
        Kind::Bzip2 => "cpio.bz2",
        Kind::Xz => "cpio.xz",
        Kind::Zstd => "cpio.zst",
        Kind::LzmaAlone => "cpio.lzma",
        Kind::Cpio => "cpio",
        _ => return None,
    })
}

impl Extractor for Rpm {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let sig_end = header_end(data, LEAD_LEN, "signature")?;
        // The signature header is padded to a multiple of 8 bytes.
        let main_start = sig_end
            .checked_add((8 - sig_end % 8) % 8)
            .ok_or_else(|| Issue::corrupt("rpm header offsets overflow"))?;
        let payload_start = header_end(data, main_start, "main")?;
        let mut payload = data
            .get(payload_start..)
            .ok_or_else(|| Issue::corrupt("rpm payload missing"))?;
        if payload.is_empty() {
            return Ok(());
        }
        let ext = payload_ext(cx.identify(payload).0);
        let stem = strip_compression_ext(cx.name, &["rpm"]);
        let stem = stem.strip_suffix(".out").unwrap_or(&stem);
        let name = format!("{stem}.{}", ext.unwrap_or("payload"));
        // The payload runs to the end of the package.
        cx.consumed(data.len());
        let produced = read_child(&mut payload, cx.budget);
        let stop = produced.stop;
        let mut child: Child = produced.into_child(name);
        if ext.is_none() {
            child.note = Some("an rpm payload compressed in a way mdscan does not know".into());
        }
        sink(Entry::Ready(child));
        if let Some(s) = stop {
            return Err(Issue::stopped(s));
        }
        match ext {
            Some(_) => Ok(()),
            None => Err(Issue::new(
                ResultCode::UnsupportedFileType,
                "rpm payload compression not supported",
            )),
        }
    }
}

/// What an RPM's main header says the package is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Package {
    /// NAME (tag 1000).
    pub(crate) name: String,
    /// VERSION (1001), with `-RELEASE` (1002) when there is one.
    pub(crate) version: String,
    /// VENDOR (1011), empty when absent.
    pub(crate) vendor: String,
}

/// The package an RPM is, from its main header's string tags; `None` when
/// the headers are not whole or the name or version is missing.
pub(crate) fn package(data: &[u8]) -> Option<Package> {
    let sig_end = header_end(data, LEAD_LEN, "signature").ok()?;
    let start = sig_end.checked_add((8 - sig_end % 8) % 8)?;
    header_end(data, start, "main").ok()?;
    let be = |at: usize| -> Option<usize> { usize::try_from(be_u32(data, at)?).ok() };
    let count = be(start + 8)?;
    let store = start.checked_add(16)?.checked_add(count.checked_mul(16)?)?;
    let tag = |want: usize| -> Option<String> {
        for i in 0..count {
            let e = start.checked_add(16)?.checked_add(i.checked_mul(16)?)?;
            // Type 6: a NUL-terminated string.
            if be(e)? == want && be(e + 4)? == 6 {
                let off = store.checked_add(be(e + 8)?)?;
                let rest = data.get(off..)?;
                let end = memchr::memchr(0, rest)?;
                return Some(String::from_utf8_lossy(rest.get(..end)?).into_owned());
            }
        }
        None
    };
    let name = tag(1000)?;
    let version = tag(1001)?;
    let version = match tag(1002) {
        Some(r) => format!("{version}-{r}"),
        None => version,
    };
    Some(Package {
        name,
        version,
        vendor: tag(1011).unwrap_or_default(),
    })
}

/// Validates the header structure at `start` and returns where it ends.
fn header_end(data: &[u8], start: usize, which: &str) -> Result<usize, Issue> {
    let bad = || Issue::corrupt(format!("corrupt rpm {which} header"));
    if data.get(start..start.saturating_add(4)) != Some(&HEADER_MAGIC[..]) {
        return Err(bad());
    }
    let count = be_u32(data, start + 8).ok_or_else(bad)?;
    let size = be_u32(data, start + 12).ok_or_else(bad)?;
    let end = u64::from(count)
        .checked_mul(16)
        .and_then(|n| n.checked_add(u64::from(size)))
        .and_then(|n| n.checked_add(16))
        .and_then(|n| usize::try_from(n).ok())
        .and_then(|n| n.checked_add(start))
        .ok_or_else(bad)?;
    if end > data.len() {
        return Err(Issue::corrupt(format!("truncated rpm {which} header")));
    }
    Ok(end)
}

/// Builds a minimal RPM around a payload, for tests here and in tests/.
#[cfg(test)]
pub(crate) fn build(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; LEAD_LEN];
    out[..4].copy_from_slice(&[0xed, 0xab, 0xee, 0xdb]);
    for (count, size) in [(1u32, 16u32), (1, 8)] {
        out.extend_from_slice(&HEADER_MAGIC);
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&count.to_be_bytes());
        out.extend_from_slice(&size.to_be_bytes());
        out.extend_from_slice(&[0; 16]);
        out.extend_from_slice(&vec![0; size as usize]);
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
    }
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::{Flow, cpio};
    use std::io::Write;

    fn children(data: &[u8]) -> (Vec<String>, Result<(), Issue>) {
        let budget = crate::limits::Budget::new(crate::Limits::default(), 100, None);
        let cx = Cx::new(&budget, &[], "p.rpm", crate::detect::identify);
        let mut names = Vec::new();
        let res = Rpm.extract(data, &cx, &mut |e| {
            if let Entry::Ready(c) = e {
                names.push(c.name);
            }
            Flow::Continue
        });
        (names, res)
    }

    #[test]
    fn the_payload_is_one_object_under_each_compressor() {
        let cpio = cpio::newc_archive(&[("./usr/bin/tool", b"binary"), ("./etc/conf", b"x=1")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&cpio).unwrap();
        let gz = gz.finish().unwrap();
        let xz = {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
            e.write_all(&cpio).unwrap();
            e.finish().unwrap()
        };
        let zst = zstd::encode_all(&cpio[..], 3).unwrap();
        for (payload, name) in [
            (cpio.clone(), "p.cpio"),
            (gz, "p.cpio.gz"),
            (xz, "p.cpio.xz"),
            (zst, "p.cpio.zst"),
        ] {
            let (names, res) = children(&build(&payload));
            assert!(res.is_ok(), "{res:?}");
            assert_eq!(names, vec![name.to_string()]);
        }
    }

    #[test]
    fn truncated_headers_are_corrupt_not_panics() {
        let rpm = build(&cpio::newc_archive(&[("a", b"b")]));
        for cut in [0, 10, 96, 100, 120, 150] {
            let (_, res) = children(&rpm[..cut]);
            assert_eq!(res.unwrap_err().code, ResultCode::Failed, "cut at {cut}");
        }
        let (_, res) = children(&build(b"????"));
        assert_eq!(res.unwrap_err().code, ResultCode::UnsupportedFileType);
    }
}
