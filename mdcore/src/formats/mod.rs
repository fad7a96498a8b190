//! The one registry of formats mdscan knows.
//!
//! Each [`Format`] says how the format is recognised at the start of an
//! object, how it is found embedded anywhere in another object (carving),
//! its MIME type, description and usual extensions, and what mdscan does
//! with it: open it with an extractor, examine it as a whole, or report it
//! as recognised but not opened yet (code 23, never clean).
//!
//! Detection walks [`FORMATS`] in order and the first recogniser that
//! matches wins, so the order is part of the table: a tar header verified
//! by its checksum beats any magic at offset 0 (the first member's name is
//! the attacker's choice), MSI beats plain OLE2, Mach-O beats Java classes.
//! Everything else — extension lists, the extractor for a kind, the carver's
//! signatures — is derived from this table.
//!
//! Adding a format: one entry here, a recogniser in `formats/magic.rs`
//! (which calls the format's own header checks in its `extract/` file), and
//! (when mdscan can open it) an extractor file in `extract/`.

pub(crate) mod magic;

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::errors::BUG_NOTE;
use crate::extract::{self, Child, Cx, Entry, Extractor, Flow, Issue};
use crate::kind::{Flavour, Kind, Span};
use crate::verdict::ResultCode;

/// What mdscan does with objects of a format.
#[derive(Clone, Copy)]
pub(crate) enum Handling {
    /// Opened by this extractor; its children are examined in turn.
    Extract(&'static dyn Extractor),
    /// Examined as a whole by the engines: executables, text, media. Still
    /// searched for embedded archives.
    Leaf,
    /// A container mdscan recognises but does not open yet: code 23 with a
    /// note naming the format, so it blocks by default.
    Unsupported,
}

/// How a format is found embedded in another object.
#[derive(Clone, Copy)]
pub(crate) struct Carver {
    /// Bytes searched for anywhere in the object.
    pub(crate) signature: &'static [u8],
    /// Given the object and where the signature was found, the span of the
    /// embedded object — or `None` when the bytes there do not parse.
    pub(crate) validate: fn(&[u8], usize) -> Option<Span>,
}

impl Kind {
    /// Whether mdscan opens this kind with an extractor.
    pub fn is_container(self) -> bool {
        matches!(handling(self), Handling::Extract(_))
    }

    /// Whether this kind holds other objects that mdscan does not open yet
    /// (objects of it get code 23, Unsupported file type).
    pub fn is_unsupported_container(self) -> bool {
        matches!(handling(self), Handling::Unsupported)
    }

    /// File-name extensions that are normal for this kind.
    pub fn extensions(self) -> &'static [&'static str] {
        of(self).map_or(&[], |f| f.extensions)
    }
}

/// One format.
pub(crate) struct Format {
    pub(crate) kind: Kind,
    pub(crate) mime: &'static str,
    pub(crate) description: &'static str,
    /// Usual file-name extensions, lowercase; the first names carved objects.
    pub(crate) extensions: &'static [&'static str],
    /// Recognises the format from the first bytes of an object.
    pub(crate) recognise: fn(&[u8]) -> Option<Flavour>,
    /// How it is found inside other objects, if it is searched for.
    pub(crate) carve: &'static [Carver],
    pub(crate) handling: Handling,
    /// How sanitization rebuilds an archive of this format.
    pub(crate) rebuild: Rebuild,
}

/// How sanitization rebuilds an archive of a format (`sanitize/archive.rs`
/// reads its members with the format's extractor and writes them back).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rebuild {
    /// Not rebuilt: a container of this format inside an archive being
    /// sanitized is left out with a note (documents have sanitizers of
    /// their own, which decide by content).
    No,
    /// Rebuilt in its own format.
    Same,
    /// Rebuilt as a zip (no writer for the format here).
    AsZip,
}

impl Format {
    const fn rebuilt(self, rebuild: Rebuild) -> Format {
        Format { rebuild, ..self }
    }
}

const fn f(
    kind: Kind,
    mime: &'static str,
    description: &'static str,
    extensions: &'static [&'static str],
    recognise: fn(&[u8]) -> Option<Flavour>,
    carve: &'static [Carver],
    handling: Handling,
) -> Format {
    Format {
        kind,
        mime,
        description,
        extensions,
        recognise,
        carve,
        handling,
        rebuild: Rebuild::No,
    }
}

use Handling::{Extract, Leaf, Unsupported};

/// RAR is opened through RARLAB's UnRAR source, behind the default-on `rar`
/// feature; a build without it recognises RAR and blocks it (23).
#[cfg(feature = "rar")]
const RAR: Handling = Extract(&extract::rar::Rar);
#[cfg(not(feature = "rar"))]
const RAR: Handling = Unsupported;

/// Every format, in detection order.
pub(crate) static FORMATS: &[Format] = &[
    f(
        Kind::Tar,
        "application/x-tar",
        "POSIX tar archive",
        &["tar"],
        magic::tar,
        &[],
        Extract(&extract::tar::Tar),
    )
    .rebuilt(Rebuild::Same),
    f(
        Kind::Zip,
        "application/zip",
        "Zip archive data",
        &[
            "zip", "jar", "war", "ear", "apk", "aar", "docx", "docm", "xlsx", "xlsm", "pptx",
            "pptm", "odt", "ods", "odp", "epub", "xpi", "nupkg", "whl", "ipa", "vsix", "appx",
            "msix", "crx", "kmz",
        ],
        magic::zip,
        &[
            Carver {
                signature: b"PK\x05\x06",
                validate: extract::zip::carve_end_record,
            },
            Carver {
                signature: b"PK\x03\x04",
                validate: extract::zip::carve_local_header,
            },
        ],
        Extract(&extract::zip::Zip),
    )
    .rebuilt(Rebuild::Same),
    f(
        Kind::Gzip,
        "application/gzip",
        "gzip compressed data",
        &["gz", "tgz", "gzip", "svgz"],
        magic::gzip,
        &[Carver {
            signature: &[0x1f, 0x8b, 0x08],
            validate: extract::gzip::carve,
        }],
        Extract(&extract::gzip::Gzip),
    )
    .rebuilt(Rebuild::Same),
    f(
        Kind::Bzip2,
        "application/x-bzip2",
        "bzip2 compressed data",
        &["bz2", "tbz", "tbz2", "bzip2"],
        magic::bzip2,
        &[Carver {
            signature: b"BZh",
            validate: extract::bzip2::carve,
        }],
        Extract(&extract::bzip2::Bzip2),
    )
    .rebuilt(Rebuild::Same),
    f(
        Kind::Xz,
        "application/x-xz",
        "XZ compressed data",
        &["xz", "txz"],
        magic::xz,
        &[Carver {
            signature: &[0xfd, b'7', b'z', b'X', b'Z', 0x00],
            validate: extract::xz::carve,
        }],
        Extract(&extract::xz::Xz),
    )
    .rebuilt(Rebuild::Same),
    f(
        Kind::Zstd,
        "application/zstd",
        "Zstandard compressed data",
        &["zst", "zstd", "tzst"],
        magic::zstd,
        &[Carver {
            signature: &[0x28, 0xb5, 0x2f, 0xfd],
            validate: extract::zstd::carve,
        }],
        Extract(&extract::zstd::Zstd),
    )
    .rebuilt(Rebuild::Same),
    f(
        Kind::SevenZip,
        "application/x-7z-compressed",
        "7-zip archive data",
        &["7z"],
        magic::sevenz,
        &[Carver {
            signature: &[b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c],
            validate: extract::sevenz::carve,
        }],
        Extract(&extract::sevenz::SevenZip),
    )
    .rebuilt(Rebuild::Same),
    f(
        Kind::Cab,
        "application/vnd.ms-cab-compressed",
        "Microsoft Cabinet archive data",
        &["cab", "msu"],
        magic::cab,
        &[Carver {
            signature: b"MSCF",
            validate: extract::cab::carve,
        }],
        Extract(&extract::cab::Cab),
    )
    .rebuilt(Rebuild::AsZip),
    f(
        Kind::Rar,
        "application/vnd.rar",
        "RAR archive data",
        &["rar"],
        magic::rar,
        &[Carver {
            signature: b"Rar!\x1a\x07",
            validate: carve_rar,
        }],
        RAR,
    )
    .rebuilt(Rebuild::AsZip),
    f(
        Kind::Rpm,
        "application/x-rpm",
        "RPM package",
        &["rpm"],
        magic::rpm,
        &[],
        Extract(&extract::rpm::Rpm),
    ),
    f(
        Kind::Cpio,
        "application/x-cpio",
        "cpio archive",
        &["cpio"],
        magic::cpio,
        &[],
        Extract(&extract::cpio::Cpio),
    )
    .rebuilt(Rebuild::AsZip),
    f(
        Kind::Tar,
        "application/x-tar",
        "POSIX tar archive",
        &["tar"],
        magic::tar_damaged,
        &[],
        Extract(&extract::tar::Tar),
    )
    .rebuilt(Rebuild::Same),
    f(
        Kind::Pe,
        "application/x-dosexec",
        "PE32 executable",
        &[
            "exe", "dll", "sys", "scr", "cpl", "ocx", "efi", "drv", "com", "mui", "ax",
        ],
        magic::pe,
        &[],
        // Self-extractors and installers carry their archive in the overlay
        // or a resource: the carver finds it.
        Leaf,
    ),
    f(
        Kind::Elf,
        "application/x-executable",
        "ELF executable",
        &["so", "elf", "o", "ko", "bin", "axf", "prx"],
        magic::elf,
        &[],
        Leaf,
    ),
    f(
        Kind::MachO,
        "application/x-mach-binary",
        "Mach-O executable",
        &["dylib", "bundle", "macho"],
        magic::macho,
        &[],
        Leaf,
    ),
    f(
        Kind::Other,
        "application/java-vm",
        "compiled Java class data",
        &["class"],
        magic::java_class,
        &[],
        Leaf,
    ),
    f(
        Kind::Msi,
        "application/x-msi",
        "Windows Installer package (MSI)",
        &["msi", "msp", "mst"],
        magic::msi,
        &[],
        Extract(&extract::ole2::Ole2),
    ),
    f(
        Kind::Ole2,
        "application/x-ole-storage",
        "Composite Document File V2 Document",
        &[
            "doc", "xls", "ppt", "msg", "dot", "xlt", "pot", "vsd", "pub",
        ],
        magic::ole2,
        &[],
        Extract(&extract::ole2::Ole2),
    ),
    f(
        Kind::OneNoteWeb,
        "application/onenote",
        "Microsoft OneNote section (FSSHTTPB packaging)",
        &["one", "onetoc2"],
        magic::onenote_web,
        &[],
        Extract(&extract::onenote::OneNote),
    ),
    f(
        Kind::OneNote,
        "application/onenote",
        "Microsoft OneNote section",
        &["one", "onetoc2"],
        magic::onenote,
        &[],
        Extract(&extract::onenote::OneNote),
    ),
    f(
        Kind::Iso9660,
        "application/x-iso9660-image",
        "ISO 9660 CD-ROM filesystem data",
        &["iso", "img"],
        magic::iso9660,
        &[],
        Extract(&extract::iso::Iso),
    ),
    f(
        Kind::Udf,
        "application/x-udf-image",
        "UDF filesystem data",
        &["iso", "img", "udf"],
        magic::udf,
        &[],
        Extract(&extract::iso::Iso),
    ),
    f(
        Kind::Vhd,
        "application/x-vhd",
        "Microsoft Virtual Hard Disk (VHD)",
        &["vhd"],
        magic::vhd,
        &[],
        Extract(&extract::disk::Vhd),
    ),
    f(
        Kind::Fat,
        "application/x-fat-image",
        "DOS/MBR boot sector, FAT file system",
        &["img", "ima", "vfd", "flp", "bin"],
        magic::fat,
        &[],
        Extract(&extract::fat::Fat),
    ),
    f(
        Kind::Ntfs,
        "application/x-ntfs-image",
        "DOS/MBR boot sector, NTFS file system",
        &["img", "bin"],
        magic::ntfs,
        &[],
        Extract(&extract::ntfs::NtfsVolume),
    ),
    f(
        Kind::Partitioned,
        "application/x-raw-disk-image",
        "DOS/MBR boot sector; partition table",
        &["img", "bin", "raw", "dd", "vhd"],
        magic::partitioned,
        &[],
        Extract(&extract::disk::Partitioned),
    ),
    f(
        Kind::Vhdx,
        "application/x-vhdx",
        "Microsoft Virtual Hard Disk (VHDX)",
        &["vhdx"],
        magic::vhdx,
        &[],
        Extract(&extract::vhdx::Vhdx),
    ),
    f(
        Kind::Wim,
        "application/x-ms-wim",
        "Windows Imaging Format (WIM)",
        &["wim", "swm", "esd"],
        magic::wim,
        &[],
        Unsupported,
    ),
    f(
        Kind::Chm,
        "application/vnd.ms-htmlhelp",
        "MS Windows HtmlHelp Data (CHM)",
        &["chm"],
        magic::chm,
        &[],
        Extract(&extract::chm::Chm),
    ),
    f(
        Kind::Arj,
        "application/x-arj",
        "ARJ archive data",
        &["arj"],
        magic::arj,
        &[],
        Extract(&extract::arj::Arj),
    )
    .rebuilt(Rebuild::AsZip),
    f(
        Kind::Lzh,
        "application/x-lzh-compressed",
        "LHa (LZH) archive data",
        &["lzh", "lha"],
        magic::lzh,
        &[Carver {
            signature: b"-lh",
            validate: extract::lzh::carve,
        }],
        Extract(&extract::lzh::Lzh),
    )
    .rebuilt(Rebuild::AsZip),
    f(
        Kind::Alz,
        "application/x-alz-compressed",
        "ALZip archive data",
        &["alz"],
        magic::alz,
        &[],
        Extract(&extract::alz::Alz),
    )
    .rebuilt(Rebuild::AsZip),
    f(
        Kind::Ace,
        "application/x-ace-compressed",
        "ACE archive data",
        &["ace"],
        magic::ace,
        &[],
        Unsupported,
    ),
    f(
        Kind::Sis,
        "application/vnd.symbian.install",
        "Symbian installation package (SIS)",
        &["sis", "sisx"],
        magic::sis,
        &[],
        Extract(&extract::sis::Sis),
    ),
    f(
        Kind::Szdd,
        "application/x-ms-compress-szdd",
        "MS Compress (SZDD) data",
        &["ex_", "dl_", "sy_", "in_", "hl_"],
        magic::szdd,
        &[Carver {
            signature: b"SZDD\x88\xf0\x27\x33",
            validate: extract::szdd::carve_szdd,
        }],
        Extract(&extract::szdd::Szdd),
    ),
    f(
        Kind::Kwaj,
        "application/x-ms-compress-kwaj",
        "MS Compress (KWAJ) data",
        &[],
        magic::kwaj,
        &[Carver {
            signature: b"KWAJ\x88\xf0\x27\xd1",
            validate: extract::szdd::carve_kwaj,
        }],
        Extract(&extract::szdd::Kwaj),
    ),
    f(
        Kind::Xar,
        "application/x-xar",
        "xar archive",
        &["xar", "pkg"],
        magic::xar,
        &[],
        Extract(&extract::xar::Xar),
    ),
    f(
        Kind::Warc,
        "application/warc",
        "WARC web archive",
        &["warc"],
        magic::warc,
        &[],
        Extract(&extract::warc::Warc),
    ),
    f(
        Kind::Squashfs,
        "application/x-squashfs",
        "Squashfs filesystem",
        &["squashfs", "sqfs", "snap"],
        magic::squashfs,
        &[],
        Unsupported,
    ),
    f(
        Kind::Lz4,
        "application/x-lz4",
        "LZ4 compressed data",
        &["lz4", "tlz4"],
        magic::lz4,
        &[Carver {
            signature: b"\x04\x22\x4d\x18",
            validate: extract::lz4::carve,
        }],
        Extract(&extract::lz4::Lz4),
    ),
    f(
        Kind::Lzip,
        "application/x-lzip",
        "lzip compressed data",
        &["lz", "tlz"],
        magic::lzip,
        &[Carver {
            signature: b"LZIP",
            validate: extract::lzip::carve,
        }],
        Extract(&extract::lzip::Lzip),
    ),
    f(
        Kind::Compress,
        "application/x-compress",
        "compress'd data (.Z)",
        &["z", "taz"],
        magic::compress,
        &[],
        Extract(&extract::compress::Compress),
    ),
    f(
        Kind::Lzop,
        "application/x-lzop",
        "lzop compressed data",
        &["lzo", "tzo"],
        magic::lzop,
        &[],
        Extract(&extract::lzop::Lzop),
    ),
    f(
        Kind::Lrzip,
        "application/x-lrzip",
        "LRZIP compressed data",
        &["lrz"],
        magic::lrzip,
        &[],
        Unsupported,
    ),
    f(
        Kind::Grzip,
        "application/x-grzip",
        "GRZipII compressed data",
        &["grz"],
        magic::grzip,
        &[],
        Unsupported,
    ),
    f(
        Kind::LzmaAlone,
        "application/x-lzma",
        "LZMA compressed data (legacy format)",
        &["lzma", "tlzma"],
        magic::lzma_alone,
        &[],
        Extract(&extract::lzma::LzmaAlone),
    ),
    f(
        Kind::Ar,
        "application/x-archive",
        "current ar archive",
        &["a", "ar", "deb", "lib"],
        magic::ar,
        &[],
        Extract(&extract::ar::Ar),
    ),
    // Installer payloads: found inside executables by the carver.
    f(
        Kind::Nsis,
        "application/x-nsis",
        "Nullsoft Installer (NSIS) data",
        &["nsis"],
        magic::nsis,
        &[Carver {
            signature: b"\xef\xbe\xad\xdeNullsoftInst",
            validate: carve_nsis,
        }],
        Extract(&extract::nsis::Nsis),
    ),
    f(
        Kind::InnoSetup,
        "application/x-innosetup",
        "Inno Setup installer data",
        &["inno"],
        magic::inno,
        &[Carver {
            signature: b"Inno Setup Setup Data (",
            validate: carve_from_signature,
        }],
        Unsupported,
    ),
    f(
        Kind::InstallShield,
        "application/x-installshield",
        "InstallShield setup launcher data",
        &["isdata"],
        magic::installshield,
        &[
            Carver {
                signature: b"InstallShield\0",
                validate: extract::installshield::carve,
            },
            Carver {
                signature: b"ISSetupStream\0",
                validate: extract::installshield::carve,
            },
            Carver {
                signature: b"\0Disk",
                validate: extract::installshield::carve_records,
            },
        ],
        Extract(&extract::installshield::InstallShield),
    ),
    f(
        Kind::InstallShieldCab,
        "application/x-installshield-cab",
        "InstallShield cabinet",
        &["cab", "hdr"],
        magic::iscab,
        &[],
        Extract(&extract::iscab::IsCab),
    ),
    f(
        Kind::AutoIt,
        "application/x-autoit",
        "compiled AutoIt script",
        &["a3x"],
        magic::autoit,
        &[Carver {
            signature: b"AU3!EA0",
            validate: carve_autoit,
        }],
        Extract(&extract::autoit::AutoIt),
    ),
    f(
        Kind::Rtf,
        "text/rtf",
        "Rich Text Format data",
        &["rtf", "doc"],
        magic::rtf,
        &[],
        Extract(&extract::rtf::Rtf),
    ),
    f(
        Kind::Tnef,
        "application/vnd.ms-tnef",
        "Transport Neutral Encapsulation Format",
        &["dat", "tnef"],
        magic::tnef,
        &[],
        Extract(&extract::tnef::Tnef),
    ),
    // Before PDF: Acrobat finds `%PDF-` anywhere in the first KiB, so a
    // message could pass for a PDF; as mail, its parts are examined.
    f(
        Kind::Mbox,
        "application/mbox",
        "mbox mailbox",
        &["mbox", "mbx"],
        magic::mbox,
        &[],
        Extract(&extract::mail::Mbox),
    ),
    f(
        Kind::Mail,
        "message/rfc822",
        "RFC 822 mail",
        &["eml", "mht", "mhtml", "mim", "mime", "nws"],
        magic::mail,
        &[],
        Extract(&extract::mail::Mail),
    ),
    f(
        Kind::Pdf,
        "application/pdf",
        "PDF document",
        &["pdf"],
        magic::pdf,
        &[],
        Extract(&extract::pdf::Pdf),
    ),
    f(
        Kind::Text,
        "text/plain",
        "ASCII text",
        &[
            "txt", "log", "csv", "md", "json", "xml", "html", "htm", "js", "vbs", "ps1", "bat",
            "cmd", "sh", "py", "c", "h", "ini", "cfg", "conf", "yaml", "yml", "toml", "rs", "svg",
            "css", "sql", "com",
        ],
        magic::text,
        &[],
        Extract(&extract::text::Text),
    ),
];

/// The registry entry of a kind (its first entry, for kinds listed twice).
pub(crate) fn of(kind: Kind) -> Option<&'static Format> {
    FORMATS.iter().find(|f| f.kind == kind)
}

/// How sanitization rebuilds an archive of this kind.
pub(crate) fn rebuild(kind: Kind) -> Rebuild {
    of(kind).map_or(Rebuild::No, |f| f.rebuild)
}

/// What mdscan does with a kind. Kinds outside the table (`Other`,
/// `Unknown`) are examined as a whole.
pub(crate) fn handling(kind: Kind) -> Handling {
    of(kind).map_or(Leaf, |f| f.handling)
}

/// The extractor for a kind, if mdscan opens it.
pub(crate) fn extractor_for(kind: Kind) -> Option<&'static dyn Extractor> {
    match handling(kind) {
        Extract(ex) => Some(ex),
        Leaf | Unsupported => None,
    }
}

/// The members of one container, read in order on the calling thread:
/// the registry's extractor for `kind` over `data`, each member admitted
/// against `cx`'s budget as the walk admits it, deferred jobs run in place.
/// The walker reads members the same way, in parallel; a rebuild (the
/// sanitized copy of an archive) and the vulnerability assessment read
/// them here, so they see the objects the scan examined, under the same
/// limits. `Err` when no
/// extractor opens `kind`, when the container could not be read whole, and
/// when a tree-wide limit stopped the reading (the issue says which).
pub(crate) fn each_member(
    kind: Kind,
    data: &[u8],
    cx: &Cx<'_>,
    f: &mut dyn FnMut(Child) -> Flow,
) -> Result<(), Issue> {
    let ex = extractor_for(kind).ok_or_else(|| {
        Issue::new(
            ResultCode::UnsupportedFileType,
            format!("this build does not open {kind:?} files"),
        )
    })?;
    let budget = cx.budget;
    let mut limit: Option<Issue> = None;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        ex.extract(data, cx, &mut |entry| match entry {
            Entry::Ready(child) => match budget.admit() {
                Ok(()) => f(child),
                Err(stop) => {
                    limit.get_or_insert_with(|| Issue::stopped(stop));
                    Flow::Stop
                }
            },
            Entry::Deferred { members, job } => {
                if let Err(stop) = budget.admit_n(members) {
                    limit.get_or_insert_with(|| Issue::stopped(stop));
                    return Flow::Stop;
                }
                let mut flow = Flow::Continue;
                job(&mut |c| {
                    if flow == Flow::Continue {
                        flow = f(c);
                    }
                    flow
                });
                flow
            }
        })
    }))
    .unwrap_or_else(|_| {
        Err(Issue::corrupt(format!(
            "the extractor crashed on this object {BUG_NOTE}"
        )))
    });
    match (limit, outcome) {
        (Some(issue), _) | (None, Err(issue)) => Err(issue),
        (None, Ok(())) => Ok(()),
    }
}

/// Whether any format claims this (lowercase) extension.
pub(crate) fn claimed_extension(ext: &str) -> bool {
    FORMATS.iter().any(|f| f.extensions.contains(&ext))
}

/// Whether `ext` (lowercase) is usual for `kind`.
pub(crate) fn extension_fits(kind: Kind, ext: &str) -> bool {
    FORMATS
        .iter()
        .filter(|f| f.kind == kind)
        .any(|f| f.extensions.contains(&ext))
}

fn carve_rar(d: &[u8], at: usize) -> Option<Span> {
    // RAR 4: the marker block is followed by the main archive header (type
    // 0x73); RAR 5: by a header CRC, a size and type 1 (main archive header).
    let v4 = d.get(at + 6) == Some(&0x00) && d.get(at + 9) == Some(&0x73);
    let v5 = d.get(at + 6..at + 8) == Some(&[0x01, 0x00][..])
        && d.get(at + 12).is_some_and(|size| *size > 0)
        && d.get(at + 13) == Some(&0x01);
    (v4 || v5).then_some(Span {
        start: at,
        end: None,
    })
}

/// NSIS's first header: 4 bytes of flags, then the signature.
fn carve_nsis(_d: &[u8], at: usize) -> Option<Span> {
    Some(Span {
        start: at.checked_sub(4)?,
        end: None,
    })
}

/// AutoIt: a 16-byte GUID, then "AU3!EA05" or "AU3!EA06".
fn carve_autoit(d: &[u8], at: usize) -> Option<Span> {
    let version = *d.get(at + 7)?;
    (version == b'5' || version == b'6').then_some(Span {
        start: at.saturating_sub(16),
        end: None,
    })
}

fn carve_from_signature(_d: &[u8], at: usize) -> Option<Span> {
    Some(Span {
        start: at,
        end: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_listed_twice_is_described_and_handled_the_same() {
        for a in FORMATS {
            for b in FORMATS.iter().filter(|b| b.kind == a.kind) {
                assert_eq!(a.mime, b.mime, "{:?}", a.kind);
                assert_eq!(a.extensions, b.extensions, "{:?}", a.kind);
                assert_eq!(
                    std::mem::discriminant(&a.handling),
                    std::mem::discriminant(&b.handling),
                    "{:?}",
                    a.kind
                );
            }
        }
    }

    #[test]
    fn extensions_are_lowercase_and_carvers_have_signatures() {
        for f in FORMATS {
            for e in f.extensions {
                assert_eq!(*e, e.to_ascii_lowercase(), "{:?}", f.kind);
            }
            for c in f.carve {
                assert!(c.signature.len() >= 3, "{:?}", f.kind);
            }
        }
    }

    #[test]
    fn recognised_but_unopened_formats_are_unsupported() {
        for kind in [Kind::InnoSetup, Kind::Wim] {
            assert!(matches!(handling(kind), Unsupported), "{kind:?}");
        }
    }
}
