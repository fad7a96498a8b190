//! RPM packages: the lead, the signature header and the main header are
//! skipped (their sizes checked against the file), and the payload — a cpio
//! archive compressed with gzip, bzip2, xz, lzma, zstd or nothing — is
//! streamed straight into the cpio reader, so package members are the
//! package's children.

use std::io::Read;

use super::{Cx, Extractor, Issue, Sink, cpio};
use crate::bytes::be_u32;
use crate::verdict::ResultCode;

pub(crate) struct Rpm;

const LEAD_LEN: usize = 96;
const HEADER_MAGIC: [u8; 4] = [0x8e, 0xad, 0xe8, 0x01];

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
        let payload = data
            .get(payload_start..)
            .ok_or_else(|| Issue::corrupt("rpm payload missing"))?;
        // A bare cpio has no check of its own to reach.
        let compressed = !payload.starts_with(b"07070");
        let mut reader: Box<dyn Read + 'a> = match payload {
            [0x1f, 0x8b, ..] => Box::new(flate2::read::MultiGzDecoder::new(payload)),
            [b'B', b'Z', b'h', ..] => Box::new(bzip2::read::MultiBzDecoder::new(payload)),
            [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Box::new(super::xz::decoder(payload)?),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => {
                let mut d = zstd::stream::read::Decoder::with_buffer(payload)
                    .map_err(|e| Issue::corrupt(format!("can not start zstd: {e}")))?;
                d.window_log_max(27)
                    .map_err(|e| Issue::corrupt(format!("can not configure zstd: {e}")))?;
                Box::new(d)
            }
            [0x5d, 0, 0, ..] => {
                let stream = liblzma::stream::Stream::new_lzma_decoder(super::xz::MEMORY_LIMIT)
                    .map_err(|e| Issue::corrupt(format!("can not start lzma: {e}")))?;
                Box::new(liblzma::read::XzDecoder::new_stream(payload, stream))
            }
            [b'0', b'7', b'0', b'7', b'0', ..] => Box::new(payload),
            [] => return Ok(()),
            _ => {
                return Err(Issue::new(
                    ResultCode::UnsupportedFileType,
                    "rpm payload compression not supported",
                ));
            }
        };
        // The payload runs to the end of the package: nothing follows it,
        // which is what the walker assumes when a reader says nothing.
        cpio::walk_stream(&mut reader, cx, sink)?;
        // The cpio reader stops at its trailer; the compressed stream's own
        // check (gzip's CRC-32, xz's and bzip2's) comes after it. Read on
        // to the end so damage inside the payload is not hidden.
        if compressed {
            drain(&mut reader)?;
        }
        Ok(())
    }
}

/// What is read past the cpio trailer to reach the end of a compressed
/// payload (padding, normally a few hundred bytes).
const MAX_AFTER_TRAILER: u64 = 64 << 20;

fn drain(reader: &mut dyn Read) -> Result<(), Issue> {
    let mut buf = [0u8; 8192];
    let mut read = 0u64;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                read += n as u64;
                if read > MAX_AFTER_TRAILER {
                    return Err(Issue::corrupt(format!(
                        "the payload goes on for more than {} MiB after the cpio trailer; its integrity check was not reached",
                        MAX_AFTER_TRAILER >> 20
                    )));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(Issue::corrupt(format!(
                    "the compressed payload is damaged after the cpio trailer: {e}"
                )));
            }
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
    use crate::extract::{Entry, Flow};
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
    fn payload_under_each_compressor() {
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
        for payload in [cpio.clone(), gz, xz, zst] {
            let (names, res) = children(&build(&payload));
            assert!(res.is_ok(), "{res:?}");
            assert_eq!(
                names,
                vec!["usr/bin/tool".to_string(), "etc/conf".to_string()]
            );
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
