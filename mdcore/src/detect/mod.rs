//! Magic-byte type detection: a pure function of a prefix of the object.
//!
//! Our own table covers every format mdscan extracts plus executables,
//! documents and text, with the MIME types and descriptions libmagic uses
//! (MetaDefender reports those). Anything else falls back to the `infer`
//! crate, which knows images, media and fonts.

use std::borrow::Cow;

use memchr::memmem;

use crate::bytes::{be_u32, le_u32};

/// How many leading bytes detection looks at.
pub const PREFIX_LEN: usize = 64 << 10;

/// The kinds of object mdscan tells apart. Containers have an extractor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// ZIP and everything built on it (OOXML, JAR, APK, ODF…).
    Zip,
    /// gzip (one or more members).
    Gzip,
    /// bzip2 (one or more streams).
    Bzip2,
    /// xz (one or more streams).
    Xz,
    /// Zstandard (one or more frames).
    Zstd,
    /// POSIX ustar, GNU or pax tar, or a v7 tar with a valid header checksum.
    Tar,
    /// 7-Zip.
    SevenZip,
    /// Microsoft Cabinet.
    Cab,
    /// RPM package.
    Rpm,
    /// cpio (newc, crc, odc, or binary in either byte order).
    Cpio,
    /// Windows PE executable (may carry an archive in its overlay).
    Pe,
    /// ELF executable or library.
    Elf,
    /// Mach-O executable (thin or fat).
    MachO,
    /// PDF document.
    Pdf,
    /// OLE2 compound document (legacy Office, MSI).
    Ole2,
    /// Text.
    Text,
    /// A type known to `infer` (images, media, fonts…).
    Other,
    /// Nothing recognised.
    Unknown,
}

impl Kind {
    /// Whether mdscan has an extractor for this kind (PE only when an
    /// embedded archive is found in it).
    pub fn is_container(self) -> bool {
        matches!(
            self,
            Kind::Zip
                | Kind::Gzip
                | Kind::Bzip2
                | Kind::Xz
                | Kind::Zstd
                | Kind::Tar
                | Kind::SevenZip
                | Kind::Cab
                | Kind::Rpm
                | Kind::Cpio
                | Kind::Pe
        )
    }

    /// File-name extensions that are normal for this kind.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Kind::Zip => &[
                "zip", "jar", "war", "ear", "apk", "aar", "docx", "docm", "xlsx", "xlsm", "pptx",
                "pptm", "odt", "ods", "odp", "epub", "xpi", "nupkg", "whl", "ipa", "vsix", "appx",
                "msix", "crx", "kmz",
            ],
            Kind::Gzip => &["gz", "tgz", "gzip", "svgz"],
            Kind::Bzip2 => &["bz2", "tbz", "tbz2", "bzip2"],
            Kind::Xz => &["xz", "txz"],
            Kind::Zstd => &["zst", "zstd", "tzst"],
            Kind::Tar => &["tar"],
            Kind::SevenZip => &["7z"],
            Kind::Cab => &["cab", "msu"],
            Kind::Rpm => &["rpm"],
            Kind::Cpio => &["cpio"],
            Kind::Pe => &[
                "exe", "dll", "sys", "scr", "cpl", "ocx", "efi", "drv", "com", "mui", "ax",
            ],
            Kind::Elf => &["so", "elf", "o", "ko", "bin", "axf", "prx"],
            Kind::MachO => &["dylib", "bundle", "macho"],
            Kind::Pdf => &["pdf"],
            Kind::Ole2 => &[
                "doc", "xls", "ppt", "msi", "msg", "dot", "xlt", "pot", "vsd", "pub",
            ],
            Kind::Text => &[
                "txt", "log", "csv", "md", "json", "xml", "html", "htm", "js", "vbs", "ps1", "bat",
                "cmd", "sh", "py", "c", "h", "ini", "cfg", "conf", "yaml", "yml", "toml", "rs",
                "eml", "svg", "css", "sql", "com",
            ],
            Kind::Other | Kind::Unknown => &[],
        }
    }
}

/// The detected type of one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileType {
    /// The kind, which decides the extractor.
    pub kind: Kind,
    /// MIME type, as MetaDefender's `file_type`.
    pub mime: Cow<'static, str>,
    /// Human description, as MetaDefender's `file_type_description`.
    pub description: Cow<'static, str>,
}

impl FileType {
    fn new(kind: Kind, mime: &'static str, description: &'static str) -> FileType {
        FileType {
            kind,
            mime: Cow::Borrowed(mime),
            description: Cow::Borrowed(description),
        }
    }
}

/// Detects the type of an object from its first bytes (at most
/// [`PREFIX_LEN`] are looked at).
pub fn detect(data: &[u8]) -> FileType {
    let p = data.get(..PREFIX_LEN).unwrap_or(data);
    let t = |kind, mime, desc| FileType::new(kind, mime, desc);
    // A tar's first bytes are its first member's name, which the archive's
    // author chooses: a member named `070707…` or `BZh9…` must not turn the
    // tar into a "corrupt" cpio or bzip2 and hide its content. A ustar magic
    // with a correct header checksum is stronger evidence than any magic at
    // offset 0, so it is checked first.
    if is_ustar_verified(p) {
        return t(Kind::Tar, "application/x-tar", "POSIX tar archive");
    }
    if p.starts_with(b"PK\x03\x04") || p.starts_with(b"PK\x05\x06") || p.starts_with(b"PK\x07\x08")
    {
        return zip_flavour(p);
    }
    if p.starts_with(&[0x1f, 0x8b, 0x08]) {
        return t(Kind::Gzip, "application/gzip", "gzip compressed data");
    }
    if is_bzip2(p) {
        return t(Kind::Bzip2, "application/x-bzip2", "bzip2 compressed data");
    }
    if p.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        return t(Kind::Xz, "application/x-xz", "XZ compressed data");
    }
    if p.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return t(Kind::Zstd, "application/zstd", "Zstandard compressed data");
    }
    if p.starts_with(&[b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c]) {
        return t(
            Kind::SevenZip,
            "application/x-7z-compressed",
            "7-zip archive data",
        );
    }
    if p.starts_with(b"MSCF\0\0\0\0") {
        return t(
            Kind::Cab,
            "application/vnd.ms-cab-compressed",
            "Microsoft Cabinet archive data",
        );
    }
    if p.starts_with(&[0xed, 0xab, 0xee, 0xdb]) {
        return t(Kind::Rpm, "application/x-rpm", "RPM package");
    }
    if is_cpio(p) {
        return t(Kind::Cpio, "application/x-cpio", "cpio archive");
    }
    if is_tar(p) {
        return t(Kind::Tar, "application/x-tar", "POSIX tar archive");
    }
    if let Some(ft) = executable(p) {
        return ft;
    }
    if p.starts_with(&[0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]) {
        return t(
            Kind::Ole2,
            "application/x-ole-storage",
            "Composite Document File V2 Document",
        );
    }
    if memmem::find(p.get(..1024).unwrap_or(p), b"%PDF-").is_some() {
        return t(Kind::Pdf, "application/pdf", "PDF document");
    }
    if let Some(ft) = text(p) {
        return ft;
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
    t(Kind::Unknown, "application/octet-stream", "data")
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
    if ft.kind.extensions().contains(&ext.as_str()) {
        return false;
    }
    ALL_KINDS
        .iter()
        .any(|k| k.extensions().contains(&ext.as_str()))
}

const ALL_KINDS: &[Kind] = &[
    Kind::Zip,
    Kind::Gzip,
    Kind::Bzip2,
    Kind::Xz,
    Kind::Zstd,
    Kind::Tar,
    Kind::SevenZip,
    Kind::Cab,
    Kind::Rpm,
    Kind::Cpio,
    Kind::Pe,
    Kind::Elf,
    Kind::MachO,
    Kind::Pdf,
    Kind::Ole2,
    Kind::Text,
];

fn zip_flavour(p: &[u8]) -> FileType {
    let has = |needle: &[u8]| memmem::find(p, needle).is_some();
    let t = |mime, desc| FileType::new(Kind::Zip, mime, desc);
    if has(b"[Content_Types].xml") || has(b"_rels/.rels") {
        if has(b"word/") {
            return t(
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "Microsoft Word 2007+",
            );
        }
        if has(b"xl/") {
            return t(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "Microsoft Excel 2007+",
            );
        }
        if has(b"ppt/") {
            return t(
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                "Microsoft PowerPoint 2007+",
            );
        }
        return t(
            "application/vnd.openxmlformats-officedocument",
            "Microsoft OOXML",
        );
    }
    if has(b"AndroidManifest.xml") || has(b"classes.dex") {
        return t(
            "application/vnd.android.package-archive",
            "Android package (APK)",
        );
    }
    if has(b"META-INF/MANIFEST.MF") {
        return t("application/java-archive", "Java archive data (JAR)");
    }
    if p.get(30..38) == Some(b"mimetype") && has(b"application/vnd.oasis.opendocument") {
        return t("application/vnd.oasis.opendocument", "OpenDocument");
    }
    if p.get(30..38) == Some(b"mimetype") && has(b"application/epub+zip") {
        return t("application/epub+zip", "EPUB document");
    }
    t("application/zip", "Zip archive data")
}

fn is_bzip2(p: &[u8]) -> bool {
    const BLOCK: [u8; 6] = [0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
    const END: [u8; 6] = [0x17, 0x72, 0x45, 0x38, 0x50, 0x90];
    p.starts_with(b"BZh")
        && p.get(3).is_some_and(|b| (b'1'..=b'9').contains(b))
        && p.get(4..10).is_some_and(|m| m == BLOCK || m == END)
}

fn is_cpio(p: &[u8]) -> bool {
    p.starts_with(b"070701")
        || p.starts_with(b"070702")
        || p.starts_with(b"070707")
        || p.starts_with(&[0xc7, 0x71])
        || p.starts_with(&[0x71, 0xc7])
}

/// ustar/GNU magic, or a v7 header whose checksum is right.
pub(crate) fn is_tar(p: &[u8]) -> bool {
    let Some(h) = p.get(..512) else {
        return false;
    };
    if h.get(257..262) == Some(b"ustar") {
        return true;
    }
    // v7: no magic, so the header checksum is the only evidence; require a
    // non-empty name too, or 512 zero bytes would pass.
    if h.first().is_none_or(|b| *b == 0) {
        return false;
    }
    tar_checksum_ok(h)
}

/// ustar/GNU magic and a correct header checksum.
fn is_ustar_verified(p: &[u8]) -> bool {
    p.get(..512)
        .is_some_and(|h| h.get(257..262) == Some(b"ustar") && tar_checksum_ok(h))
}

/// The header checksum (octal, bytes 148..156, computed with the field
/// itself as spaces) matches the header.
fn tar_checksum_ok(h: &[u8]) -> bool {
    let Some(field) = h.get(148..156) else {
        return false;
    };
    let text: String = field
        .iter()
        .take_while(|b| **b != 0 && **b != b' ')
        .map(|b| char::from(*b))
        .collect();
    let Ok(stored) = u32::from_str_radix(text.trim(), 8) else {
        return false;
    };
    let sum: u32 = h
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(*b)
            }
        })
        .sum();
    sum == stored
}

fn executable(p: &[u8]) -> Option<FileType> {
    let t = |kind, mime, desc| Some(FileType::new(kind, mime, desc));
    if p.starts_with(b"MZ") {
        let lfanew = le_u32(p, 0x3c);
        if let Some(off) = lfanew.and_then(|o| usize::try_from(o).ok())
            && p.get(off..off.saturating_add(4)) == Some(b"PE\0\0")
        {
            let magic = p.get(off.saturating_add(24)..off.saturating_add(26));
            return if magic == Some(&[0x0b, 0x02]) {
                t(Kind::Pe, "application/x-dosexec", "PE32+ executable")
            } else {
                t(Kind::Pe, "application/x-dosexec", "PE32 executable")
            };
        }
        return t(Kind::Pe, "application/x-dosexec", "MS-DOS executable");
    }
    if p.starts_with(b"\x7fELF") {
        return t(Kind::Elf, "application/x-executable", "ELF executable");
    }
    let macho = [
        [0xfe, 0xed, 0xfa, 0xce],
        [0xfe, 0xed, 0xfa, 0xcf],
        [0xce, 0xfa, 0xed, 0xfe],
        [0xcf, 0xfa, 0xed, 0xfe],
    ];
    if macho.iter().any(|m| p.starts_with(m)) {
        return t(
            Kind::MachO,
            "application/x-mach-binary",
            "Mach-O executable",
        );
    }
    // Fat Mach-O shares CAFEBABE with Java classes; a class file has a
    // major version >= 45 where a fat header has a small architecture count.
    if p.starts_with(&[0xca, 0xfe, 0xba, 0xbe]) {
        let n = be_u32(p, 4);
        if n.is_some_and(|n| (1..20).contains(&n)) {
            return t(
                Kind::MachO,
                "application/x-mach-binary",
                "Mach-O universal binary",
            );
        }
        return t(
            Kind::Other,
            "application/java-vm",
            "compiled Java class data",
        );
    }
    None
}

fn text(p: &[u8]) -> Option<FileType> {
    let sample = p.get(..8192).unwrap_or(p);
    if sample.is_empty() || sample.contains(&0) {
        return None;
    }
    let utf8_ok = match std::str::from_utf8(sample) {
        Ok(_) => true,
        // A multi-byte character cut by the sample boundary is still text.
        Err(e) => e.error_len().is_none() && sample.len() == 8192,
    };
    let ascii = sample.is_ascii();
    if utf8_ok {
        let control = sample
            .iter()
            .filter(|b| **b < 0x20 && !matches!(**b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b))
            .count();
        if control * 100 > sample.len() {
            return None;
        }
        let desc = if ascii {
            "ASCII text"
        } else {
            "UTF-8 Unicode text"
        };
        return Some(FileType::new(Kind::Text, "text/plain", desc));
    }
    None
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
        assert_eq!(detect(b"MSCF\0\0\0\0").kind, Kind::Cab);
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
    fn tar_by_magic_and_by_v7_checksum() {
        let mut h = [0u8; 512];
        h[..5].copy_from_slice(b"a.txt");
        h[257..262].copy_from_slice(b"ustar");
        assert!(is_tar(&h));
        h[257..262].copy_from_slice(&[0; 5]);
        assert!(!is_tar(&h));
        let sum: u32 = h.iter().map(|b| u32::from(*b)).sum::<u32>() + 8 * 32;
        let field = format!("{sum:06o}\0 ");
        h[148..156].copy_from_slice(field.as_bytes());
        assert!(is_tar(&h));
        assert!(!is_tar(&[0u8; 512]));
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
