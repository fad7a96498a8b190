//! Recognisers: each looks at the first bytes of an object (at most
//! [`crate::kind::PREFIX_LEN`]) and says whether it is one format, and which
//! flavour. They are pure functions referenced from the format registry
//! (`crate::formats`), which decides the order they are tried in.

use memchr::memmem;

use crate::bytes::{at, be_u32, le_u16, le_u32};
use crate::kind::Flavour;

fn plain(yes: bool) -> Option<Flavour> {
    yes.then_some(Flavour::Plain)
}

/// A tar header whose checksum is right (the unsigned sum, or the signed
/// sum old Sun and GNU tars wrote — GNU tar accepts both), with the ustar
/// magic or, for v7 headers that have none, a non-empty name (512 zero
/// bytes would pass the checksum otherwise).
///
/// A tar's first bytes are its first member's name, which the archive's
/// author chooses: a member named `070707…` or `BZh9…` must not turn the
/// tar into a "corrupt" cpio or bzip2 and hide its content. A verified
/// header is stronger evidence than any magic at offset 0, so tar comes
/// first in the registry.
pub(crate) fn tar(p: &[u8]) -> Option<Flavour> {
    let h = p.get(..512)?;
    if !crate::extract::tar::tar_checksum_ok(h) {
        return None;
    }
    if h.get(257..262) == Some(b"ustar") {
        return Some(Flavour::Plain);
    }
    h.first()
        .is_some_and(|b| *b != 0)
        .then_some(Flavour::As("application/x-tar", "tar archive (v7)"))
}

/// The ustar magic with a checksum that does not hold: a damaged tar, not
/// "no tar" (tried late, after every other magic, since the magic alone is
/// weak evidence). Its reader then reports the damage (3).
pub(crate) fn tar_damaged(p: &[u8]) -> Option<Flavour> {
    plain(p.get(257..262) == Some(b"ustar"))
}

pub(crate) fn zip(p: &[u8]) -> Option<Flavour> {
    let magic = p.starts_with(b"PK\x03\x04")
        || p.starts_with(b"PK\x05\x06")
        || p.starts_with(b"PK\x07\x08");
    magic.then(|| zip_flavour(p))
}

fn zip_flavour(p: &[u8]) -> Flavour {
    let has = |needle: &[u8]| memmem::find(p, needle).is_some();
    if has(b"[Content_Types].xml") || has(b"_rels/.rels") {
        if has(b"word/") {
            return Flavour::As(
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "Microsoft Word 2007+",
            );
        }
        if has(b"xl/") {
            return Flavour::As(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "Microsoft Excel 2007+",
            );
        }
        if has(b"ppt/") {
            return Flavour::As(
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                "Microsoft PowerPoint 2007+",
            );
        }
        return Flavour::As(
            "application/vnd.openxmlformats-officedocument",
            "Microsoft OOXML",
        );
    }
    if has(b"AndroidManifest.xml") || has(b"classes.dex") {
        return Flavour::As(
            "application/vnd.android.package-archive",
            "Android package (APK)",
        );
    }
    if has(b"META-INF/MANIFEST.MF") {
        return Flavour::As("application/java-archive", "Java archive data (JAR)");
    }
    if p.get(30..38) == Some(b"mimetype") && has(b"application/vnd.oasis.opendocument") {
        return Flavour::As("application/vnd.oasis.opendocument", "OpenDocument");
    }
    if p.get(30..38) == Some(b"mimetype") && has(b"application/epub+zip") {
        return Flavour::As("application/epub+zip", "EPUB document");
    }
    Flavour::Plain
}

pub(crate) fn gzip(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(&[0x1f, 0x8b, 0x08]))
}

pub(crate) fn bzip2(p: &[u8]) -> Option<Flavour> {
    plain(crate::extract::bzip2::header_ok(p))
}

pub(crate) fn xz(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]))
}

/// Where skippable frames (magic 0x184D2A50..5F: RFC 8878 §3.1.2 for zstd,
/// the same in LZ4's frame format) lead, walking at most 16 of them.
enum AfterSkippable {
    /// The magic of the first frame that is not skippable.
    Magic(u32),
    /// They run past the prefix detection looks at.
    Past,
}

fn after_skippable(p: &[u8]) -> Option<AfterSkippable> {
    let mut pos = 0usize;
    for _ in 0..16 {
        let magic = le_u32(p, pos)?;
        if magic & 0xffff_fff0 != 0x184d_2a50 {
            return Some(AfterSkippable::Magic(magic));
        }
        let len = usize::try_from(le_u32(p, pos + 4)?).ok()?;
        pos = pos.checked_add(8)?.checked_add(len)?;
        if pos >= p.len() {
            return Some(AfterSkippable::Past);
        }
    }
    None
}

/// A zstd frame, or skippable frames followed by one: the zstd tool skips
/// them, so must we.
pub(crate) fn zstd(p: &[u8]) -> Option<Flavour> {
    match after_skippable(p)? {
        AfterSkippable::Magic(0xfd2f_b528) => Some(Flavour::Plain),
        // The frame after the skippable ones lies past the prefix.
        AfterSkippable::Past => (p.len() >= crate::kind::PREFIX_LEN).then_some(Flavour::Plain),
        AfterSkippable::Magic(_) => None,
    }
}

pub(crate) fn sevenz(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(&[b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c]))
}

/// `MSCF\0\0\0\0` (libmagic's test), or `MSCF` with any reserved field
/// (cabextract ignores it) and a sane version 1.3 header.
pub(crate) fn cab(p: &[u8]) -> Option<Flavour> {
    plain(
        p.starts_with(b"MSCF\0\0\0\0")
            || (p.starts_with(b"MSCF") && crate::extract::cab::header_ok(p, 0, usize::MAX)),
    )
}

pub(crate) fn rpm(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(&[0xed, 0xab, 0xee, 0xdb]))
}

pub(crate) fn cpio(p: &[u8]) -> Option<Flavour> {
    plain(
        p.starts_with(b"070701")
            || p.starts_with(b"070702")
            || p.starts_with(b"070707")
            || p.starts_with(&[0xc7, 0x71])
            || p.starts_with(&[0x71, 0xc7]),
    )
}

pub(crate) fn rar(p: &[u8]) -> Option<Flavour> {
    if p.starts_with(b"Rar!\x1a\x07\x01\x00") {
        return Some(Flavour::As("application/vnd.rar", "RAR archive data, v5"));
    }
    plain(p.starts_with(b"Rar!\x1a\x07\x00"))
}

pub(crate) fn pe(p: &[u8]) -> Option<Flavour> {
    if !p.starts_with(b"MZ") {
        return None;
    }
    let lfanew = le_u32(p, 0x3c).and_then(|o| usize::try_from(o).ok());
    if let Some(off) = lfanew
        && p.get(off..off.saturating_add(4)) == Some(b"PE\0\0")
    {
        let magic = p.get(off.saturating_add(24)..off.saturating_add(26));
        return Some(if magic == Some(&[0x0b, 0x02]) {
            Flavour::As("application/x-dosexec", "PE32+ executable")
        } else {
            Flavour::As("application/x-dosexec", "PE32 executable")
        });
    }
    Some(Flavour::As("application/x-dosexec", "MS-DOS executable"))
}

pub(crate) fn elf(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(b"\x7fELF"))
}

pub(crate) fn macho(p: &[u8]) -> Option<Flavour> {
    let thin = [
        [0xfe, 0xed, 0xfa, 0xce],
        [0xfe, 0xed, 0xfa, 0xcf],
        [0xce, 0xfa, 0xed, 0xfe],
        [0xcf, 0xfa, 0xed, 0xfe],
    ];
    if thin.iter().any(|m| p.starts_with(m)) {
        return Some(Flavour::Plain);
    }
    // Fat Mach-O shares CAFEBABE with Java classes; a class file has a
    // major version >= 45 where a fat header has a small architecture count.
    if p.starts_with(&[0xca, 0xfe, 0xba, 0xbe])
        && be_u32(p, 4).is_some_and(|n| (1..20).contains(&n))
    {
        return Some(Flavour::As(
            "application/x-mach-binary",
            "Mach-O universal binary",
        ));
    }
    None
}

pub(crate) fn java_class(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(&[0xca, 0xfe, 0xba, 0xbe]))
}

const OLE2_MAGIC: [u8; 8] = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];

/// The CLSID of an OLE2 file's root storage, if its directory lies in `p`.
fn ole2_root_clsid(p: &[u8]) -> Option<[u8; 16]> {
    let shift = u32::from(le_u16(p, 0x1e)?);
    if !(7..=16).contains(&shift) {
        return None;
    }
    let first_dir = u64::from(le_u32(p, 0x30)?);
    let off = usize::try_from((first_dir + 1) << shift).ok()?;
    crate::bytes::array(p, off.checked_add(0x50)?)
}

/// Windows Installer packages, patches and transforms: OLE2 files whose
/// root storage carries the installer's CLSID ({000C1084-…} and kin).
pub(crate) fn msi(p: &[u8]) -> Option<Flavour> {
    if !p.starts_with(&OLE2_MAGIC) {
        return None;
    }
    let clsid = ole2_root_clsid(p)?;
    let tail = [0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46];
    if clsid.get(4..) != Some(&tail[..]) || clsid.get(2..4) != Some(&[0x0c, 0x00][..]) {
        return None;
    }
    match clsid.first().copied()? {
        0x84 => Some(Flavour::Plain),
        0x86 => Some(Flavour::As(
            "application/x-ms-patch",
            "Windows Installer patch",
        )),
        0x82 => Some(Flavour::As(
            "application/x-ms-transform",
            "Windows Installer transform",
        )),
        _ => None,
    }
}

pub(crate) fn ole2(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(&OLE2_MAGIC))
}

/// The file-type GUIDs of OneNote sections ({7B5C52E4-D88C-4DA7-AEB1-
/// 5378D02996D3}, `.one`) and tables of contents ({43FF2FA1-EFD9-4C76-
/// 9EE2-10EA5722765F}, `.onetoc2`), as stored.
const ONENOTE_TYPES: [[u8; 16]; 2] = [
    [
        0xe4, 0x52, 0x5c, 0x7b, 0x8c, 0xd8, 0xa7, 0x4d, 0xae, 0xb1, 0x53, 0x78, 0xd0, 0x29, 0x96,
        0xd3,
    ],
    [
        0xa1, 0x2f, 0xff, 0x43, 0xd9, 0xef, 0x76, 0x4c, 0x9e, 0xe2, 0x10, 0xea, 0x57, 0x22, 0x76,
        0x5f,
    ],
];

/// The file-format GUID of OneNote's alternative packaging ([MS-ONESTORE]
/// 2.8): {638DE92F-A6D4-4BC1-9A36-B3FC2511A5B7}, as stored.
const ONENOTE_PACKAGE: [u8; 16] = [
    0x2f, 0xe9, 0x8d, 0x63, 0xd4, 0xa6, 0xc1, 0x4b, 0x9a, 0x36, 0xb3, 0xfc, 0x25, 0x11, 0xa5, 0xb7,
];

/// OneNote revision-store files: a OneNote file-type GUID first.
pub(crate) fn onenote(p: &[u8]) -> Option<Flavour> {
    plain(ONENOTE_TYPES.iter().any(|t| p.starts_with(t)))
}

/// OneNote's alternative packaging (OneDrive, OneNote for the web): a
/// OneNote file-type GUID and, after the file and legacy-version GUIDs,
/// the packaging's file-format GUID. A file that starts with the format
/// GUID (no file-type GUID) is read as one too.
pub(crate) fn onenote_web(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(&ONENOTE_PACKAGE) || (onenote(p).is_some() && at(p, 48, &ONENOTE_PACKAGE)))
}

pub(crate) fn pdf(p: &[u8]) -> Option<Flavour> {
    // Acrobat accepts the header anywhere in the first 1024 bytes.
    plain(memmem::find(p.get(..1024).unwrap_or(p), b"%PDF-").is_some())
}

/// ISO 9660: a volume descriptor "CD001" in sector 16.
pub(crate) fn iso9660(p: &[u8]) -> Option<Flavour> {
    plain(at(p, 0x8001, b"CD001"))
}

/// UDF without an ISO 9660 bridge: the volume recognition sequence from
/// sector 16 (ISO 9660 descriptors, then BEA01, NSR02 or NSR03), as far as
/// the detection prefix reaches.
pub(crate) fn udf(p: &[u8]) -> Option<Flavour> {
    let sectors = || (16..32).map(|s| s * 2048 + 1);
    let bea = sectors().find(|o| at(p, *o, b"BEA01"))?;
    plain(sectors().any(|o| o > bea && (at(p, o, b"NSR02") || at(p, o, b"NSR03"))))
}

pub(crate) fn chm(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(b"ITSF") && le_u32(p, 4).is_some_and(|v| v == 2 || v == 3))
}

/// ARJ: the main header (type 2) after the 0x60 0xEA signature.
pub(crate) fn arj(p: &[u8]) -> Option<Flavour> {
    plain(
        p.starts_with(&[0x60, 0xea])
            && le_u16(p, 2).is_some_and(|n| (20..=2600).contains(&n))
            && p.get(10) == Some(&2),
    )
}

/// LHA/LZH: a level 0–2 header whose method id is `-lh?-` or `-lz?-`.
pub(crate) fn lzh(p: &[u8]) -> Option<Flavour> {
    let m = p.get(2..7)?;
    let method = (m.starts_with(b"-lh") || m.starts_with(b"-lz"))
        && m.get(4) == Some(&b'-')
        && m.get(3).is_some_and(|c| c.is_ascii_alphanumeric());
    plain(method && p.get(20).is_some_and(|level| *level <= 3))
}

/// InstallShield cabinet: `ISc(` and a version word whose top byte is
/// one InstallShield writes (1, 2 or 4) or 0.
pub(crate) fn iscab(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(b"ISc(") && p.get(7).is_some_and(|v| matches!(v, 0 | 1 | 2 | 4)))
}

pub(crate) fn alz(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(b"ALZ\x01"))
}

pub(crate) fn szdd(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(b"SZDD\x88\xf0\x27\x33"))
}

pub(crate) fn kwaj(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(b"KWAJ\x88\xf0\x27\xd1"))
}

pub(crate) fn ace(p: &[u8]) -> Option<Flavour> {
    plain(at(p, 7, b"**ACE**"))
}

/// Symbian SIS: EPOC (release 3-6) by its UIDs, or Symbian 9 SISX.
pub(crate) fn sis(p: &[u8]) -> Option<Flavour> {
    plain(crate::extract::sis::is_sis(p))
}

pub(crate) fn wim(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(b"MSWIM\0\0\0"))
}

pub(crate) fn warc(p: &[u8]) -> Option<Flavour> {
    plain(crate::extract::warc::is_record(p))
}

pub(crate) fn xar(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(b"xar!"))
}

/// A dynamic VHD starts with a copy of its footer ("conectix"); a fixed
/// VHD has it only at the end and reads as a raw disk.
/// A dynamic or differencing VHD: the footer's copy at the start (a fixed
/// VHD is a raw disk with the footer only at its end).
pub(crate) fn vhd(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(b"conectix"))
}

/// A disk with an MBR partition table (or a GPT behind its protective
/// MBR): 55 AA, no volume boot sector, and four entries that are empty or
/// sane with at least one partition.
pub(crate) fn fat(p: &[u8]) -> Option<Flavour> {
    crate::extract::disk::fat_boot_sector(p).then_some(Flavour::As(
        "application/x-fat-image",
        "DOS/MBR boot sector, FAT file system",
    ))
}

pub(crate) fn ntfs(p: &[u8]) -> Option<Flavour> {
    plain(crate::extract::disk::ntfs_boot_sector(p))
}

pub(crate) fn partitioned(p: &[u8]) -> Option<Flavour> {
    if !at(p, 510, &[0x55, 0xaa]) || crate::extract::disk::is_volume(p) {
        return None;
    }
    let mut any = false;
    for i in 0..4 {
        let e = 446 + 16 * i;
        let entry = p.get(e..e + 16)?;
        if entry.iter().all(|b| *b == 0) {
            continue;
        }
        let status = *entry.first()?;
        let kind = *entry.get(4)?;
        let lba = le_u32(entry, 8)?;
        let count = le_u32(entry, 12)?;
        if !(status == 0 || status == 0x80) || kind == 0 || lba == 0 || count == 0 {
            return None;
        }
        any = true;
    }
    if !any {
        return None;
    }
    Some(if at(p, 512, b"EFI PART") {
        Flavour::As(
            "application/x-raw-disk-image",
            "DOS/MBR boot sector; GPT partition table",
        )
    } else {
        Flavour::As(
            "application/x-raw-disk-image",
            "DOS/MBR boot sector; partition table",
        )
    })
}

pub(crate) fn vhdx(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(b"vhdxfile"))
}

pub(crate) fn squashfs(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(b"hsqs") || p.starts_with(b"sqsh"))
}

/// An LZ4 frame, an LZ4 legacy frame (what `lz4 -l` and old kernels
/// write), or skippable frames (magic 0x184D2A50..5F, shared with zstd)
/// followed by either: the `lz4` tool skips them, so a recogniser that
/// looked only at offset 0 let such a stream pass as data.
pub(crate) fn lz4(p: &[u8]) -> Option<Flavour> {
    match after_skippable(p)? {
        AfterSkippable::Magic(0x184d_2204) => Some(Flavour::Plain),
        AfterSkippable::Magic(0x184c_2102) => Some(Flavour::As(
            "application/x-lz4",
            "LZ4 compressed data (legacy format)",
        )),
        _ => None,
    }
}

pub(crate) fn lzip(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(b"LZIP") && p.get(4).is_some_and(|v| *v <= 1))
}

/// Unix `compress` (.Z): magic and a sane bits field (9–16).
pub(crate) fn compress(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(&[0x1f, 0x9d]) && p.get(2).is_some_and(|b| (9..=16).contains(&(b & 0x1f))))
}

/// lzop: its 9-byte magic (lzop's own, checked by `file`).
pub(crate) fn lzop(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(b"\x89LZO\x00\r\n\x1a\n"))
}

/// GRZipII: its 12-byte magic, as libarchive's grzip filter checks it.
pub(crate) fn grzip(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(b"GRZipII\x00\x02\x04:)"))
}

/// lrzip: `LRZI` and a major version of 0.
pub(crate) fn lrzip(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(b"LRZI") && p.get(4) == Some(&0))
}

/// Legacy LZMA-alone (`xz --format=lzma`, `lzma`, the LZMA SDK): no
/// magic, so the reader's strict header check.
pub(crate) fn lzma_alone(p: &[u8]) -> Option<Flavour> {
    plain(crate::extract::lzma::is_header(p))
}

/// Unix `ar` archives: Debian packages and static libraries.
pub(crate) fn ar(p: &[u8]) -> Option<Flavour> {
    if p.starts_with(b"!<arch>\ndebian-binary") {
        return Some(Flavour::As(
            "application/vnd.debian.binary-package",
            "Debian binary package",
        ));
    }
    plain(p.starts_with(b"!<arch>\n"))
}

/// Plain text: UTF-8 (or ASCII) with few control characters.
pub(crate) fn text(p: &[u8]) -> Option<Flavour> {
    let sample = p.get(..8192).unwrap_or(p);
    if sample.is_empty() || sample.contains(&0) {
        return None;
    }
    let utf8_ok = match std::str::from_utf8(sample) {
        Ok(_) => true,
        // A multi-byte character cut by the sample boundary is still text.
        Err(e) => e.error_len().is_none() && sample.len() == 8192,
    };
    if !utf8_ok {
        return None;
    }
    let control = sample
        .iter()
        .filter(|b| **b < 0x20 && !matches!(**b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b))
        .count();
    if control * 100 > sample.len() {
        return None;
    }
    Some(if sample.is_ascii() {
        Flavour::Plain
    } else {
        Flavour::As("text/plain", "UTF-8 Unicode text")
    })
}

/// Header fields every mail carries (one of them must be among the first).
const MAIL_FIELDS: &[&str] = &[
    "from",
    "to",
    "subject",
    "date",
    "received",
    "message-id",
    "mime-version",
    "return-path",
    "delivered-to",
    "reply-to",
    "cc",
    "sender",
    "x-mailer",
    "content-type",
    "x-unsent",
    "thread-topic",
];

/// The header block at the start of `p`: (fields, of them well-known mail
/// fields), or `None` when a line before the first blank one is not a field.
fn mail_headers(p: &[u8]) -> Option<(usize, usize)> {
    let head = p.get(..8192).unwrap_or(p);
    let (mut fields, mut known) = (0usize, 0usize);
    for (i, line) in head.split(|b| *b == b'\n').enumerate().take(200) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if i == 0 {
                return None;
            }
            continue;
        }
        match crate::extract::mail::header_line(line) {
            Some((name, _)) => {
                fields += 1;
                known += usize::from(MAIL_FIELDS.contains(&name.as_str()));
            }
            // A line that is not a field ends the block; a message needs
            // a few fields before it.
            None if fields >= 2 => break,
            None => return None,
        }
    }
    Some((fields, known))
}

/// An Internet message: it opens with header fields, two or more, at least
/// one of them a field mail carries (`From`, `Received`, `Content-Type`…).
pub(crate) fn mail(p: &[u8]) -> Option<Flavour> {
    let (fields, known) = mail_headers(p)?;
    plain(fields >= 2 && known >= 1)
}

/// An mbox: a `From ` envelope line, then a message.
pub(crate) fn mbox(p: &[u8]) -> Option<Flavour> {
    let rest = p.strip_prefix(b"From ")?;
    let next = memchr::memchr(b'\n', rest)?;
    let (fields, known) = mail_headers(rest.get(next + 1..)?)?;
    plain(fields >= 1 && known >= 1)
}

/// RTF: Word takes any file starting `{\rt` as RTF (not only `{\rtf1`).
pub(crate) fn rtf(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(b"{\\rt"))
}

pub(crate) fn tnef(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(&crate::extract::tnef::SIGNATURE.to_le_bytes()))
}

/// NSIS installer data (the "first header" the carver cuts from an
/// executable): 4 bytes of flags, then the signature.
pub(crate) fn nsis(p: &[u8]) -> Option<Flavour> {
    plain(at(p, 4, b"\xef\xbe\xad\xdeNullsoftInst"))
}

pub(crate) fn inno(p: &[u8]) -> Option<Flavour> {
    plain(p.starts_with(b"Inno Setup Setup Data ("))
}

/// An InstallShield launcher's files: the signature, a file count and a
/// type that are valid (the carver also wants the first file's attributes).
pub(crate) fn installshield(p: &[u8]) -> Option<Flavour> {
    plain(crate::extract::installshield::is_header(p))
}

/// A compiled AutoIt script: a 16-byte GUID, then "AU3!EA05"/"AU3!EA06".
pub(crate) fn autoit(p: &[u8]) -> Option<Flavour> {
    plain(at(p, 16, b"AU3!EA05") || at(p, 16, b"AU3!EA06"))
}
