//! The formats' shared vocabulary: what an object is ([`Kind`],
//! [`FileType`]), what a recogniser says ([`Flavour`]) and where an
//! embedded object lies ([`Span`], [`Hit`]).
//!
//! A leaf: it imports nothing of the crate, so the registry
//! (`formats`), detection (`detect`), the readers (`extract`) and the
//! walker all use it without importing one another for it.

use std::borrow::Cow;

/// How many leading bytes detection looks at.
pub const PREFIX_LEN: usize = 64 << 10;

/// The kinds of object mdscan tells apart. The format registry says which
/// are opened, which are examined whole and which are recognised but not
/// opened yet (code 23).
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
    /// Zstandard (one or more frames, skippable frames included).
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
    /// OLE2 compound file (legacy Office, Outlook .msg, vbaProject.bin).
    Ole2,
    /// Text.
    Text,
    /// An Internet mail message (RFC 5322 / MIME), `.eml`, `.mht`.
    Mail,
    /// An mbox mailbox: messages after `From ` lines.
    Mbox,
    /// Rich Text Format (embedded objects are opened).
    Rtf,
    /// TNEF (`winmail.dat`): Outlook's attachment wrapper.
    Tnef,
    /// RAR archive (1.5 to 5).
    Rar,
    /// Windows Installer package, patch or transform (an OLE2 file).
    Msi,
    /// OneNote section (its embedded files are opened).
    OneNote,
    /// OneNote section in the FSSHTTPB "alternative packaging" of OneNote
    /// for the web (not opened yet).
    OneNoteWeb,
    /// ISO 9660 image (with Joliet, Rock Ridge, El Torito).
    Iso9660,
    /// UDF image.
    Udf,
    /// Dynamic or differencing VHD disk image (a fixed VHD is a raw
    /// disk: [`Kind::Partitioned`] or a volume).
    Vhd,
    /// A raw disk image with an MBR or GPT partition table.
    Partitioned,
    /// A FAT12/16/32 file system image (a floppy, a USB stick, a partition).
    Fat,
    /// An NTFS file system image (a volume, a partition).
    Ntfs,
    /// VHDX disk image.
    Vhdx,
    /// Windows Imaging Format (not opened yet).
    Wim,
    /// Compiled HTML Help.
    Chm,
    /// ARJ archive.
    Arj,
    /// LHA/LZH archive.
    Lzh,
    /// ALZip archive.
    Alz,
    /// ACE archive (not opened yet).
    Ace,
    /// Symbian installation package: SIS (EPOC, opened) or SISX (Symbian
    /// 9, not opened yet).
    Sis,
    /// MS `compress.exe` SZDD.
    Szdd,
    /// MS `compress.exe` KWAJ.
    Kwaj,
    /// xar archive (macOS `.pkg`).
    Xar,
    /// WARC web archive.
    Warc,
    /// Squashfs image (not opened yet).
    Squashfs,
    /// LZ4 stream (frames, legacy frames).
    Lz4,
    /// lzip stream.
    Lzip,
    /// Unix `compress` (.Z) stream.
    Compress,
    /// lzop file.
    Lzop,
    /// lrzip stream (not opened yet).
    Lrzip,
    /// GRZipII stream (not opened yet).
    Grzip,
    /// Legacy LZMA-alone stream (`.lzma`).
    LzmaAlone,
    /// Unix `ar` archive: Debian package, static library.
    Ar,
    /// NSIS installer data, found in an executable.
    Nsis,
    /// Inno Setup installer data, found in an executable (not opened yet).
    InnoSetup,
    /// Compiled AutoIt script, found in an executable.
    AutoIt,
    /// The files of an InstallShield setup launcher, found in an
    /// executable.
    InstallShield,
    /// An InstallShield cabinet (`ISc(`: `data1.cab`, `data1.hdr`).
    InstallShieldCab,
    /// A type known to `infer` (images, media, fonts…), or a Java class.
    Other,
    /// Nothing recognised.
    Unknown,
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
    pub(crate) fn new(kind: Kind, mime: &'static str, description: &'static str) -> FileType {
        FileType {
            kind,
            mime: Cow::Borrowed(mime),
            description: Cow::Borrowed(description),
        }
    }
}

/// What a recogniser found: the format as its registry entry describes it,
/// or a more precise MIME type and description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavour {
    /// The registry entry's own MIME type and description.
    Plain,
    /// A refinement: MIME type and description.
    As(&'static str, &'static str),
}

/// Where an embedded object lies in its carrier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: usize,
    /// Exclusive end, when the format says where it ends; `None` runs to the
    /// end of the carrier (the object's reader reports what it consumed and
    /// the rest is searched again).
    pub(crate) end: Option<usize>,
}

/// An embedded object found in a carrier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hit {
    pub(crate) span: Span,
    pub(crate) kind: Kind,
    /// Extension naming the carved child (`[embedded@4096].zip`).
    pub(crate) ext: &'static str,
}
