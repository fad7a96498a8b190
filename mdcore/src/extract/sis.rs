//! EPOC SIS installers (Psion and Symbian up to 6.x): the header names the
//! file records, and every record of a file that is in the package is a
//! member — each language's copy of a multi-language file too — under the
//! base name of its destination (or source) path. Files are zlib'd in
//! release 6 packages (UID2 `0x10003A12`) unless the header says
//! `NoCompress`, stored in release 3-5 ones (UID2 `0x1000006D`), as
//! Deark and ClamAV read them; a file that does not inflate to the length
//! its record states is damage. Conditional records are passed over;
//! an options record, or a record of a type not known, stops the walk
//! with 23. Symbian 9 SISX (a different, TLV-structured format) is
//! recognised and not opened (23).

use std::io::Read;

use super::{Child, Cx, Entry, Extractor, Flow, Issue, Sink, read_child, sanitize_name};
use crate::bytes::{le_u16, le_u32};
use crate::verdict::ResultCode;

pub(crate) struct Sis;

/// UID3 of every EPOC SIS file.
const UID3: u32 = 0x1000_0419;
/// UID2 of release 3-5 and release 6 packages.
const UID2_ER5: u32 = 0x1000_006d;
const UID2_ER6: u32 = 0x1000_3a12;
/// Symbian 9 SISX: UID1.
const UID1_SISX: u32 = 0x1020_1a7a;

/// An EPOC SIS header (release 3 to 6): `Some(true)` for release 6.
pub(crate) fn epoc_release6(d: &[u8]) -> Option<bool> {
    if le_u32(d, 8)? != UID3 {
        return None;
    }
    match le_u32(d, 4)? {
        UID2_ER5 => Some(false),
        UID2_ER6 => Some(true),
        _ => None,
    }
}

/// Any SIS the registry recognises: EPOC in its UID order, the order an
/// older recogniser took (UID2 `0x10000419`), or Symbian 9 SISX.
pub(crate) fn is_sis(d: &[u8]) -> bool {
    epoc_release6(d).is_some()
        || le_u32(d, 4) == Some(UID3)
        || (le_u32(d, 0) == Some(UID1_SISX) && d.len() >= 16)
}

fn string(d: &[u8], ptr: u32, len: u32, unicode: bool) -> String {
    let (Ok(ptr), Ok(len)) = (usize::try_from(ptr), usize::try_from(len)) else {
        return String::new();
    };
    let raw = ptr
        .checked_add(len.min(1024))
        .and_then(|end| d.get(ptr..end))
        .unwrap_or_default();
    if unicode {
        crate::bytes::utf16le_lossy(raw)
    } else {
        raw.iter().map(|b| char::from(*b)).collect()
    }
}

fn base_name(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

impl Extractor for Sis {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let Some(release6) = epoc_release6(data) else {
            return Err(Issue::new(
                ResultCode::UnsupportedFileType,
                "a Symbian SIS package of a layout mdscan does not open (Symbian 9 SISX, or UIDs in an order EPOC does not use)",
            ));
        };
        let short = || Issue::corrupt("SIS header cut short");
        let nlangs = le_u16(data, 18).ok_or_else(short)?;
        let nfiles = le_u16(data, 20).ok_or_else(short)?;
        let options = le_u16(data, 36).ok_or_else(short)?;
        let files_ptr = le_u32(data, 52).ok_or_else(short)?;
        let unicode = options & 0x1 != 0;
        let compressed = release6 && options & 0x8 == 0;
        let mut pos = usize::try_from(files_ptr).map_err(|_| short())?;
        let mut end = pos;
        let bad = |what: &str| Issue::corrupt(format!("SIS file record {what}"));
        for index in 0..nfiles {
            let u32_at = |p: &mut usize| -> Result<u32, Issue> {
                let v = le_u32(data, *p).ok_or_else(|| bad("cut short"))?;
                *p += 4;
                Ok(v)
            };
            let kind = u32_at(&mut pos)?;
            match kind {
                0 | 1 => {}
                3 | 4 => {
                    // *if* / *elseif*: a conditional expression, skipped.
                    let n = u32_at(&mut pos)?;
                    pos = pos
                        .checked_add(n as usize)
                        .filter(|p| *p <= data.len())
                        .ok_or_else(|| bad("runs past the file"))?;
                    continue;
                }
                5 | 6 => continue,
                other => {
                    cx.consumed(data.len());
                    return Err(Issue::new(
                        ResultCode::UnsupportedFileType,
                        format!(
                            "SIS file record {index} is of type {other} (options or unknown), which mdscan does not read; the records after it were not reached"
                        ),
                    ));
                }
            }
            let file_type = u32_at(&mut pos)?;
            let _details = u32_at(&mut pos)?;
            let (src_len, src_ptr) = (u32_at(&mut pos)?, u32_at(&mut pos)?);
            let (dst_len, dst_ptr) = (u32_at(&mut pos)?, u32_at(&mut pos)?);
            let forks = if kind == 1 { usize::from(nlangs) } else { 1 };
            let mut lens = Vec::with_capacity(forks);
            for _ in 0..forks {
                lens.push(u32_at(&mut pos)?);
            }
            let mut ptrs = Vec::with_capacity(forks);
            for _ in 0..forks {
                ptrs.push(u32_at(&mut pos)?);
            }
            let mut originals = Vec::new();
            if release6 {
                for _ in 0..forks {
                    originals.push(u32_at(&mut pos)?);
                }
                let _mime = (u32_at(&mut pos)?, u32_at(&mut pos)?);
            }
            // File type 4: created at install time, not in the package.
            if file_type == 4 {
                continue;
            }
            let src = string(data, src_ptr, src_len, unicode);
            let dst = string(data, dst_ptr, dst_len, unicode);
            let path = if (matches!(file_type, 0 | 3) && !dst.is_empty()) || src.is_empty() {
                dst
            } else {
                src
            };
            let base = sanitize_name(base_name(&path));
            let base = if base.is_empty() {
                format!("file-{index}")
            } else {
                base
            };
            for (fork, (len, ptr)) in lens.iter().zip(&ptrs).enumerate() {
                let name = if forks > 1 {
                    format!("lang{fork}.{base}")
                } else {
                    base.clone()
                };
                let span = usize::try_from(*ptr)
                    .ok()
                    .zip(usize::try_from(*len).ok())
                    .and_then(|(p, l)| Some((p, p.checked_add(l)?)));
                let Some(raw) = span.and_then(|(p, e)| data.get(p..e)) else {
                    let child = Child::failed(name, bad("points past the end of the file"));
                    if sink(Entry::Ready(child)) == Flow::Stop {
                        return Ok(());
                    }
                    continue;
                };
                end = end.max(span.map_or(0, |(_, e)| e));
                let (child, stop) = if compressed {
                    let want = originals.get(fork).copied().map(u64::from);
                    let mut z = flate2::read::ZlibDecoder::new(raw);
                    let produced = read_child(&mut z, cx.budget);
                    let stop = produced.stop;
                    let complete = produced.issue.is_none() && stop.is_none();
                    let got = produced.blob.as_slice().len() as u64;
                    let mut c = produced.into_child(name);
                    if complete && want.is_some_and(|w| w != got) {
                        c.issue = Some(Issue::corrupt(format!(
                            "SIS file inflates to {got} bytes, its record says {}",
                            want.unwrap_or(0)
                        )));
                    }
                    (c, stop)
                } else {
                    let mut r: &[u8] = raw;
                    let produced = read_child(&mut r as &mut dyn Read, cx.budget);
                    let stop = produced.stop;
                    (produced.into_child(name), stop)
                };
                if sink(Entry::Ready(child)) == Flow::Stop {
                    return Ok(());
                }
                if let Some(s) = stop {
                    return Err(Issue::stopped(s));
                }
            }
        }
        cx.consumed(end.max(pos).min(data.len()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_are_told_apart_by_uid2() {
        let mut h = vec![0u8; 16];
        h[8..12].copy_from_slice(&UID3.to_le_bytes());
        h[4..8].copy_from_slice(&UID2_ER6.to_le_bytes());
        assert_eq!(epoc_release6(&h), Some(true));
        h[4..8].copy_from_slice(&UID2_ER5.to_le_bytes());
        assert_eq!(epoc_release6(&h), Some(false));
        h[4..8].copy_from_slice(&UID3.to_le_bytes());
        assert_eq!(epoc_release6(&h), None);
        assert!(is_sis(&h));
    }
}
