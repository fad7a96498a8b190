//! Archives carried by Windows executables: self-extracting ZIP, 7-Zip and
//! CAB installers. The overlay (bytes after the last section) is searched
//! for an archive signature; CAB installers built with IExpress keep their
//! cabinet in a resource instead, so a CAB header that validates is looked
//! for in the whole file when the overlay holds nothing. The archive found
//! becomes the executable's one child, from its signature to the end of the
//! file, and is identified and extracted like any other object.

use memchr::memmem;

use super::{Cx, Entry, Extractor, Issue, Sink, read_child};
use crate::bytes::{le_u16, le_u32};

pub(crate) struct Sfx;

const SIGNATURES: &[(&[u8], &str)] = &[
    (b"PK\x03\x04", "zip"),
    (&[b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c], "7z"),
    (b"MSCF\0\0\0\0", "cab"),
];

impl Extractor for Sfx {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let Some((offset, ext)) = find_archive(data) else {
            return Ok(());
        };
        let Some(mut embedded) = data.get(offset..) else {
            return Ok(());
        };
        let produced = read_child(&mut embedded, cx.budget);
        let stop = produced.stop;
        sink(Entry::Ready(
            produced.into_child(format!("[overlay].{ext}")),
        ));
        match stop {
            Some(s) => Err(Issue::stopped(s)),
            None => Ok(()),
        }
    }
}

/// Where the overlay starts: the end of the furthest section's raw data.
/// `None` when the PE headers do not parse.
pub(crate) fn overlay_start(d: &[u8]) -> Option<usize> {
    let pe = usize::try_from(le_u32(d, 0x3c)?).ok()?;
    if d.get(pe..pe.checked_add(4)?)? != b"PE\0\0" {
        return None;
    }
    let sections = usize::from(le_u16(d, pe + 6)?);
    let optional = usize::from(le_u16(d, pe + 20)?);
    let table = pe.checked_add(24)?.checked_add(optional)?;
    let mut end = table.checked_add(sections.checked_mul(40)?)?;
    for i in 0..sections {
        let s = table + i * 40;
        let size = u64::from(le_u32(d, s + 16)?);
        let ptr = u64::from(le_u32(d, s + 20)?);
        if size == 0 {
            continue;
        }
        end = end.max(usize::try_from(ptr.checked_add(size)?).ok()?);
    }
    Some(end)
}

fn find_archive(d: &[u8]) -> Option<(usize, &'static str)> {
    if let Some(start) = overlay_start(d)
        && let Some(overlay) = d.get(start..)
    {
        let best = SIGNATURES
            .iter()
            .filter_map(|(sig, ext)| memmem::find(overlay, sig).map(|at| (start + at, *ext)))
            .min_by_key(|(at, _)| *at);
        if best.is_some() {
            return best;
        }
    }
    // IExpress: a cabinet inside a resource. Require a sane header: version
    // 1.3 and a declared size that fits in the file.
    memmem::find_iter(d, b"MSCF\0\0\0\0")
        .find(|&at| {
            let size = le_u32(d, at + 8).and_then(|s| usize::try_from(s).ok());
            let version = le_u16(d, at + 24);
            at > 0
                && version == Some(0x0103)
                && size.is_some_and(|s| s >= 36 && at.checked_add(s).is_some_and(|e| e <= d.len()))
        })
        .map(|at| (at, "cab"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PE with one section of `section` bytes at 0x200.
    pub(crate) fn pe_stub(section: usize) -> Vec<u8> {
        let mut d = vec![0u8; 0x200 + section];
        d[..2].copy_from_slice(b"MZ");
        d[0x3c] = 0x80;
        d[0x80..0x84].copy_from_slice(b"PE\0\0");
        d[0x86] = 1; // one section
        d[0x94] = 0xe0; // optional header size
        let s = 0x80 + 24 + 0xe0;
        d[s + 16..s + 20].copy_from_slice(&(section as u32).to_le_bytes());
        d[s + 20..s + 24].copy_from_slice(&0x200u32.to_le_bytes());
        d
    }

    #[test]
    fn finds_overlay_archives_only_after_sections() {
        let mut d = pe_stub(0x100);
        // A zip signature inside the section is code, not an overlay.
        d[0x210..0x214].copy_from_slice(b"PK\x03\x04");
        assert_eq!(overlay_start(&d), Some(0x300));
        assert_eq!(find_archive(&d), None);
        d.extend_from_slice(b"junk7z\xbc\xaf\x27\x1cPK\x03\x04");
        assert_eq!(find_archive(&d), Some((0x304, "7z")));
    }

    #[test]
    fn hostile_headers_do_not_panic() {
        let mut d = pe_stub(0);
        d[0x86] = 0xff; // 255 sections, table runs off the end
        assert_eq!(overlay_start(&d), None);
        assert_eq!(overlay_start(b"MZ"), None);
        let mut d = pe_stub(0x10);
        let s = 0x80 + 24 + 0xe0;
        d[s + 20..s + 24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(overlay_start(&d).is_some());
    }
}
