//! Type detection and carving.
//!
//! [`detect`] is a pure function of a prefix of the object: it walks the
//! format registry (`crate::formats`) in order and returns the first format
//! whose recogniser matches, with the MIME types and descriptions libmagic
//! uses (MetaDefender reports those). Anything else falls back to the
//! `infer` crate, which knows images, media and fonts.
//!
//! [`carve`] finds archives embedded anywhere in an object — behind a junk
//! prefix, an image, a stub executable, another archive — from the
//! registry's carving signatures.

use std::borrow::Cow;

pub(crate) mod carve;
pub(crate) mod packer;

use crate::formats::{self, FORMATS};
use crate::kind::Flavour;
pub use crate::kind::{FileType, Kind, PREFIX_LEN};

/// Detects the type of an object from its first bytes (at most
/// [`PREFIX_LEN`] are looked at).
pub fn detect(data: &[u8]) -> FileType {
    let p = data.get(..PREFIX_LEN).unwrap_or(data);
    for f in FORMATS {
        match (f.recognise)(p) {
            Some(Flavour::Plain) => return FileType::new(f.kind, f.mime, f.description),
            Some(Flavour::As(mime, desc)) => return FileType::new(f.kind, mime, desc),
            None => {}
        }
    }
    if let Some(m) = infer::get(p) {
        let description = match m.matcher_type() {
            infer::MatcherType::Image => "image data",
            infer::MatcherType::Video => "video data",
            infer::MatcherType::Audio => "audio data",
            infer::MatcherType::Font => "font data",
            infer::MatcherType::Book => "e-book data",
            infer::MatcherType::Doc => "document data",
            infer::MatcherType::Archive => "archive data",
            _ => "data",
        };
        return FileType {
            kind: Kind::Other,
            mime: Cow::Borrowed(m.mime_type()),
            description: Cow::Owned(format!("{} {description}", m.extension().to_uppercase())),
        };
    }
    FileType::new(Kind::Unknown, "application/octet-stream", "data")
}

/// The kind of `data` and the extension that names an object of it
/// (`bin` when the kind has none): what the readers get through their
/// context to name decoded objects.
pub(crate) fn identify(data: &[u8]) -> (Kind, &'static str) {
    let kind = detect(data).kind;
    (kind, kind.extensions().first().copied().unwrap_or("bin"))
}

/// Whether `name`'s extension claims a type that `ft` contradicts (code 17).
///
/// Only an extension that some kind claims can contradict; unknown
/// extensions and names without one never do, and neither does content of
/// unknown type.
pub fn extension_mismatch(name: &str, ft: &FileType) -> bool {
    let Some(ext) = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()) else {
        return false;
    };
    if ext.is_empty() || ext.contains('/') || matches!(ft.kind, Kind::Unknown | Kind::Other) {
        return false;
    }
    !formats::extension_fits(ft.kind, &ext) && formats::claimed_extension(&ext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magics() {
        assert_eq!(detect(b"PK\x03\x04rest").kind, Kind::Zip);
        assert_eq!(detect(&[0x1f, 0x8b, 8, 0]).kind, Kind::Gzip);
        assert_eq!(detect(b"BZh91AY&SY").kind, Kind::Bzip2);
        assert_eq!(detect(b"BZh9xxxxxx").kind, Kind::Text);
        assert_eq!(detect(&[0xfd, b'7', b'z', b'X', b'Z', 0]).kind, Kind::Xz);
        assert_eq!(detect(&[0x28, 0xb5, 0x2f, 0xfd]).kind, Kind::Zstd);
        assert_eq!(
            detect(&[b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c]).kind,
            Kind::SevenZip
        );
        assert_eq!(detect(&[0xed, 0xab, 0xee, 0xdb]).kind, Kind::Rpm);
        assert_eq!(detect(b"070701000").kind, Kind::Cpio);
        assert_eq!(detect(b"070707000").kind, Kind::Cpio);
        assert_eq!(detect(&[0xc7, 0x71, 0]).kind, Kind::Cpio);
        assert_eq!(detect(&[0x71, 0xc7, 0]).kind, Kind::Cpio);
        assert_eq!(detect(b"\x7fELF\x02").kind, Kind::Elf);
        assert_eq!(detect(&[0xcf, 0xfa, 0xed, 0xfe]).kind, Kind::MachO);
        assert_eq!(detect(b"%PDF-1.7\n").kind, Kind::Pdf);
        assert_eq!(
            detect(&[0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]).kind,
            Kind::Ole2
        );
        assert_eq!(detect(b"hello world\n").kind, Kind::Text);
        assert_eq!(
            detect("h\u{e9}llo".as_bytes()).description,
            "UTF-8 Unicode text"
        );
        assert_eq!(detect(&[0, 1, 2, 3]).kind, Kind::Unknown);
        assert_eq!(detect(b"").kind, Kind::Unknown);
        assert_eq!(detect(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR").mime, "image/png");
    }

    #[test]
    fn pe_needs_its_header() {
        let mut pe = vec![0u8; 0x100];
        pe[..2].copy_from_slice(b"MZ");
        pe[0x3c] = 0x80;
        pe[0x80..0x84].copy_from_slice(b"PE\0\0");
        assert_eq!(detect(&pe).description, "PE32 executable");
        pe[0x80] = b'X';
        assert_eq!(detect(&pe).description, "MS-DOS executable");
    }

    #[test]
    fn tar_by_checksum_unsigned_or_signed() {
        let mut h = [0u8; 512];
        h[..5].copy_from_slice(b"a.txt");
        h[257..262].copy_from_slice(b"ustar");
        // ustar magic alone is not a verified header (it is a damaged tar,
        // found late in the registry, after every other magic).
        assert!(crate::formats::magic::tar(&h).is_none());
        assert_eq!(detect(&h).kind, Kind::Tar);
        let sum: u32 = h.iter().map(|b| u32::from(*b)).sum::<u32>() + 8 * 32;
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        assert_eq!(detect(&h).kind, Kind::Tar);
        // v7: no magic, the checksum alone.
        h[257..262].copy_from_slice(&[0; 5]);
        let unsigned = |h: &[u8; 512]| -> i64 {
            h.iter()
                .enumerate()
                .map(|(i, b)| {
                    if (148..156).contains(&i) {
                        32
                    } else {
                        i64::from(*b)
                    }
                })
                .sum()
        };
        let sum = unsigned(&h);
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        assert_eq!(detect(&h).kind, Kind::Tar);
        // A name with high bytes and the signed sum, as old tars wrote it.
        h[..5].copy_from_slice(&[0xe9, 0xe9, b'.', b't', b'x']);
        let signed: i64 = h
            .iter()
            .enumerate()
            .map(|(i, b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    i64::from(*b as i8)
                }
            })
            .sum();
        assert_ne!(signed, unsigned(&h));
        h[148..156].copy_from_slice(format!("{signed:06o}\0 ").as_bytes());
        assert_eq!(detect(&h).kind, Kind::Tar);
        assert_eq!(detect(&[0u8; 512]).kind, Kind::Unknown);
    }

    #[test]
    fn recognised_containers_without_a_reader() {
        assert_eq!(detect(b"Rar!\x1a\x07\x00\xcf\x90\x73").kind, Kind::Rar);
        assert_eq!(detect(b"Rar!\x1a\x07\x01\x00abcd").kind, Kind::Rar);
        let mut iso = vec![0u8; 0x9000];
        iso[0x8001..0x8006].copy_from_slice(b"CD001");
        assert_eq!(detect(&iso).kind, Kind::Iso9660);
        assert_eq!(detect(b"ITSF\x03\0\0\0").kind, Kind::Chm);
        assert_eq!(detect(b"SZDD\x88\xf0\x27\x33A").kind, Kind::Szdd);
        assert!(Kind::Szdd.is_container());
        assert_eq!(detect(b"!<arch>\ndebian-binary").kind, Kind::Ar);
        assert!(Kind::Chm.is_container());
        assert!(Kind::Ar.is_container());
        assert!(Kind::InnoSetup.is_unsupported_container());
        assert!(!Kind::InnoSetup.is_container());
        // RAR is opened when built with the (default) `rar` feature.
        assert_eq!(Kind::Rar.is_container(), cfg!(feature = "rar"));
        assert_eq!(Kind::Rar.is_unsupported_container(), !cfg!(feature = "rar"));
    }

    #[test]
    fn zstd_after_skippable_frames() {
        let mut d = vec![0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3];
        d.extend_from_slice(&[0x28, 0xb5, 0x2f, 0xfd, 0]);
        assert_eq!(detect(&d).kind, Kind::Zstd);
        assert_ne!(detect(&d[..11]).kind, Kind::Zstd);
    }

    #[test]
    fn cab_reserved_field_is_ignored() {
        let mut cab = b"MSCF\x01\x02\x03\x04".to_vec();
        cab.extend_from_slice(&100u32.to_le_bytes());
        cab.extend_from_slice(&[0; 4]);
        cab.extend_from_slice(&44u32.to_le_bytes());
        cab.extend_from_slice(&[0; 4]);
        cab.extend_from_slice(&[3, 1]);
        cab.resize(100, 0);
        assert_eq!(detect(&cab).kind, Kind::Cab);
    }

    #[test]
    fn zip_flavours() {
        let mut docx = b"PK\x03\x04".to_vec();
        docx.extend_from_slice(&[0; 26]);
        docx.extend_from_slice(b"[Content_Types].xml....word/document.xml");
        assert_eq!(detect(&docx).description, "Microsoft Word 2007+");
    }

    #[test]
    fn mismatch_only_for_claimed_extensions() {
        let pe = FileType::new(Kind::Pe, "application/x-dosexec", "PE32 executable");
        assert!(extension_mismatch("invoice.pdf", &pe));
        assert!(!extension_mismatch("setup.exe", &pe));
        assert!(!extension_mismatch("setup.EXE", &pe));
        assert!(!extension_mismatch("noext", &pe));
        assert!(!extension_mismatch("weird.qqq", &pe));
        let unknown = FileType::new(Kind::Unknown, "application/octet-stream", "data");
        assert!(!extension_mismatch("a.pdf", &unknown));
    }
}
