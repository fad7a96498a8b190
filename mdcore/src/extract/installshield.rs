//! InstallShield setup launchers: the files `setup.exe` carries after its
//! PE image (the MSI package, `data1.cab`, `setup.ini`, prerequisites),
//! found by the carver from the `InstallShield` or `ISSetupStream` header.
//!
//! Layout (as ISx and ClamAV read it; no tool in Debian writes or reads
//! it): a 46-byte header (signature, file count, a type ≤ 4), then per
//! file its attributes and its bytes. `InstallShield` (up to IS 2014):
//! 312 bytes of attributes — an ANSI name in a 260-byte field, flags, the
//! length, a "Unicode launcher" word. `ISSetupStream` (IS 2015 on): 24
//! bytes (name length, flags, length, the word; type 4 adds 24 more), then
//! the UTF-16 name.
//!
//! A file whose flags have bit 2 or 4 is encrypted: each byte is
//! nibble-swapped, XORed with a key byte and inverted; the key is the
//! file's name (ISSetupStream: its UTF-8 form) XORed with `13 35 86 07`,
//! restarting every 1,024 bytes (flag 4), or running over the whole file
//! (flag 2 alone, `InstallShield` only). A Unicode launcher's files are
//! then zlib streams. Each file becomes a child under its name; what
//! follows the last one is searched by the carver.
//!
//! Older one-file setups (InstallShield 11 era; ClamAV's `clam_IScab_*`
//! samples) carry no header: the overlay is a run of records, each four
//! NUL-terminated fields — the file's name, its path on the disk layout
//! (`Disk1\data1.cab`, ending in the name), a version (`0.0.0.0`) and
//! the length in decimal — followed by the file's bytes (`data1.hdr`,
//! `data1.cab`, `setup.exe`, `setup.ini`…). Recognised by a first record
//! that reads whole (the path ends in the name, the version is digits and
//! dots, the bytes fit), carved from the NUL after a name followed by
//! `Disk`, and read record by record.

use super::{Cx, Extractor, Flow, Issue, Sink, hand_over, hand_over_from, sanitize_name};
use crate::bytes::{le_u16, le_u32};

pub(crate) struct InstallShield;

const HEADER: usize = 46;
const CLASSIC_ATTRIBUTES: usize = 312;
const STREAM_ATTRIBUTES: usize = 24;
const NAME_FIELD: usize = 260;
const MAGIC: [u8; 4] = [0x13, 0x35, 0x86, 0x07];
/// Files listed in one setup.
const MAX_FILES: u16 = 4096;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    Classic,
    Stream { type4: bool },
}

/// The layout and file count, when `d` opens with a valid header.
fn header(d: &[u8]) -> Option<(Layout, u16)> {
    let layout = if d.starts_with(b"InstallShield\0") {
        Layout::Classic
    } else if d.starts_with(b"ISSetupStream\0") {
        Layout::Stream {
            type4: le_u32(d, 16)? == 4,
        }
    } else {
        return None;
    };
    let count = le_u16(d, 14)?;
    let kind = le_u32(d, 16)?;
    (kind <= 4 && (1..=MAX_FILES).contains(&count)).then_some((layout, count))
}

/// Whether `d` opens with a valid header (or a run of disk records).
pub(crate) fn is_header(d: &[u8]) -> bool {
    header(d).is_some() || record_fields(d, 0).is_some()
}

/// The longest name or path a disk record may hold.
const RECORD_FIELD: usize = 260;

/// A disk record at `at`: (path, where its bytes start, their length),
/// its bytes inside `d`.
fn record(d: &[u8], at: usize) -> Option<(String, usize, usize)> {
    let (path, start, len) = record_fields(d, at)?;
    (start.checked_add(len)? <= d.len()).then_some((path, start, len))
}

/// A disk record's fields at `at` (recognition sees only the start of an
/// object, so the bytes need not be there).
fn record_fields(d: &[u8], at: usize) -> Option<(String, usize, usize)> {
    let mut pos = at;
    let mut field = || -> Option<&[u8]> {
        let rest = d.get(pos..)?;
        let end = rest.iter().take(RECORD_FIELD + 1).position(|b| *b == 0)?;
        let f = rest.get(..end)?;
        pos += end + 1;
        Some(f)
    };
    let name = field()?;
    let path = field()?;
    let version = field()?;
    let size = field()?;
    let printable = |f: &[u8]| f.iter().all(|b| (0x20..0x7f).contains(b));
    let ok = !name.is_empty()
        && printable(name)
        && !name.contains(&b'\\')
        && path.starts_with(b"Disk")
        && path.len() > name.len()
        && path.ends_with(name)
        && path.get(path.len() - name.len() - 1) == Some(&b'\\')
        && printable(path)
        && !version.is_empty()
        && version.iter().all(|b| b.is_ascii_digit() || *b == b'.')
        && !size.is_empty()
        && size.len() <= 10
        && size.iter().all(u8::is_ascii_digit);
    if !ok {
        return None;
    }
    let len: usize = std::str::from_utf8(size).ok()?.parse().ok()?;
    Some((String::from_utf8_lossy(path).into_owned(), pos, len))
}

/// Carving disk records: the hit is the NUL after a name, followed by
/// `Disk`; the record starts where the name does.
pub(crate) fn carve_records(d: &[u8], at: usize) -> Option<crate::kind::Span> {
    let from = at.saturating_sub(RECORD_FIELD);
    let before = d.get(from..at)?;
    let len = before
        .iter()
        .rev()
        .take_while(|b| (0x20..0x7f).contains(*b) && **b != b'\\')
        .count();
    // The run of printable bytes may begin inside the previous file's
    // data: the record starts at the first place it reads whole.
    let start = (at - len..at).find(|s| record(d, *s).is_some())?;
    let mut end = start;
    while let Some((_, data, len)) = record(d, end) {
        end = data + len;
    }
    Some(crate::kind::Span {
        start,
        end: Some(end),
    })
}

/// The files of a run of disk records, each under its path.
fn extract_records<'a>(
    data: &'a [u8],
    cx: &'a Cx<'a>,
    sink: &mut Sink<'_, 'a>,
) -> Result<(), Issue> {
    let mut at = 0;
    let mut files: Vec<(String, &'a [u8])> = Vec::new();
    while let Some((path, start, len)) = record(data, at) {
        files.push((
            sanitize_name(&path.replace('\\', "/")),
            data.get(start..start + len).unwrap_or_default(),
        ));
        at = start + len;
    }
    cx.note(format!(
        "InstallShield setup (disk records) holding {} files",
        files.len()
    ));
    cx.consumed(at);
    if files.is_empty() {
        return Err(Issue::corrupt("InstallShield disk record not valid"));
    }
    // A record whose fields read but whose bytes run past the end: cut.
    let cut = record_fields(data, at).map(|(path, _, len)| {
        Issue::corrupt(format!(
            "InstallShield disk record `{path}` of {len} bytes runs past the end of the setup (cut short)"
        ))
    });
    let note =
        || Some("InstallShield setup file (a disk record of the setup's overlay)".to_string());
    for (name, bytes) in &files {
        if hand_over(sink, cx, name.clone(), bytes, note(), None)? == Flow::Stop {
            return Ok(());
        }
    }
    // A cabinet set's first cabinet lists its files in the `.hdr` beside
    // it: read the pair as unshield reads it, each file under
    // `<cabinet>/<path>` (the cabinet alone stays 23: its own reader
    // cannot list it).
    for (name, cab) in &files {
        let Some(stem) = name.strip_suffix(".cab") else {
            continue;
        };
        if !super::iscab::table_elsewhere(cab) {
            continue;
        }
        let hdr_name = format!("{stem}.hdr");
        if let Some((_, hdr)) = files.iter().find(|(n, _)| *n == hdr_name) {
            cx.note(format!("`{name}` read with the file table of `{hdr_name}`"));
            // Volume N of `data1.cab` is `data<N>.cab`.
            let base = stem.trim_end_matches(|c: char| c.is_ascii_digit());
            let volume = |v: u16| -> Option<&[u8]> {
                let want = format!("{base}{v}.cab");
                let found = files.iter().find(|(n, _)| *n == want).map(|(_, b)| *b);
                found.or_else(|| (v == 1).then_some(*cab))
            };
            super::iscab::files_of_set(hdr, &volume, &format!("{name}/"), cx, sink)?;
        }
    }
    cut.map_or(Ok(()), Err)
}

/// One file's attributes.
struct File {
    name: String,
    /// The bytes the key is made of.
    seed: Vec<u8>,
    flags: u32,
    len: usize,
    deflated: bool,
    /// Where its bytes start.
    data: usize,
}

fn attributes(d: &[u8], at: usize, layout: Layout) -> Option<File> {
    match layout {
        Layout::Classic => {
            let a = d.get(at..at + CLASSIC_ATTRIBUTES)?;
            let field = a.get(..NAME_FIELD)?;
            let end = field.iter().position(|b| *b == 0)?;
            let raw = field.get(..end)?;
            if raw.is_empty() {
                return None;
            }
            Some(File {
                name: raw.iter().map(|b| char::from(*b)).collect(),
                seed: raw.to_vec(),
                flags: le_u32(a, 260)?,
                len: le_u32(a, 268)? as usize,
                deflated: le_u16(a, 280)? != 0,
                data: at + CLASSIC_ATTRIBUTES,
            })
        }
        Layout::Stream { type4 } => {
            let a = d.get(at..at + STREAM_ATTRIBUTES)?;
            let name_len = le_u32(a, 0)? as usize;
            if name_len == 0 || name_len >= 2 * NAME_FIELD || !name_len.is_multiple_of(2) {
                return None;
            }
            let from = at + STREAM_ATTRIBUTES + if type4 { STREAM_ATTRIBUTES } else { 0 };
            let raw = d.get(from..from + name_len)?;
            let units: Vec<u16> = crate::bytes::utf16le(raw).take_while(|u| *u != 0).collect();
            let name = String::from_utf16(&units).ok()?;
            let name = name.strip_prefix('\u{feff}').unwrap_or(&name).to_string();
            if name.is_empty() {
                return None;
            }
            Some(File {
                seed: name.as_bytes().to_vec(),
                name,
                flags: le_u32(a, 4)?,
                len: le_u32(a, 10)? as usize,
                deflated: le_u16(a, 22)? != 0,
                data: from + name_len,
            })
        }
    }
}

/// Undoes the launcher's encryption of one file.
fn decrypt(f: &File, layout: Layout, data: &[u8]) -> Vec<u8> {
    let key: Vec<u8> = f
        .seed
        .iter()
        .zip(MAGIC.iter().cycle())
        .map(|(s, m)| s ^ m)
        .collect();
    let per_kib = f.flags & 4 != 0;
    let whole = f.flags & 2 != 0 && layout == Layout::Classic;
    if key.is_empty() || !(per_kib || whole) {
        return data.to_vec();
    }
    data.iter()
        .enumerate()
        .map(|(i, b)| {
            let at = if per_kib { i % 1024 } else { i };
            let k = key.get(at % key.len()).copied().unwrap_or(0);
            !(k ^ b.rotate_left(4))
        })
        .collect()
}

/// Where an InstallShield setup found in another object lies: its header
/// and first file's attributes must parse, and the file must start inside.
pub(crate) fn carve(d: &[u8], at: usize) -> Option<crate::kind::Span> {
    let rest = d.get(at..)?;
    let (layout, _) = header(rest)?;
    let first = attributes(rest, HEADER, layout)?;
    (first.data <= rest.len() && first.flags < 0x100).then_some(crate::kind::Span {
        start: at,
        end: None,
    })
}

impl Extractor for InstallShield {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let Some((layout, count)) = header(data) else {
            return extract_records(data, cx, sink);
        };
        cx.note(format!(
            "InstallShield setup ({}) listing {count} files",
            if layout == Layout::Classic {
                "InstallShield"
            } else {
                "ISSetupStream"
            }
        ));
        let mut at = HEADER;
        let mut damage = None;
        for i in 0..count {
            let Some(f) = attributes(data, at, layout) else {
                damage = Some(Issue::corrupt(format!(
                    "InstallShield file {} of {count}: attributes cut short or not valid",
                    i + 1
                )));
                break;
            };
            let end = f.data.saturating_add(f.len);
            let stored = data.get(f.data..end.min(data.len())).unwrap_or_default();
            let short = (stored.len() < f.len).then(|| {
                Issue::corrupt(format!(
                    "InstallShield file {:?} cut short: {} of {} bytes",
                    f.name,
                    stored.len(),
                    f.len
                ))
            });
            let plain = decrypt(&f, layout, stored);
            let name = sanitize_name(&f.name);
            let encrypted = f.flags & 6 != 0;
            let note = Some(format!(
                "InstallShield setup file{}{}",
                if encrypted { ", decrypted" } else { "" },
                if f.deflated { ", inflated" } else { "" }
            ));
            let flow = if f.deflated {
                let mut z = flate2::read::ZlibDecoder::new(plain.as_slice());
                hand_over_from(sink, cx, name, &mut z, note, short.clone())?
            } else {
                hand_over(sink, cx, name, &plain, note, short.clone())?
            };
            at = end;
            if short.is_some() {
                damage = short;
                break;
            }
            if flow == Flow::Stop {
                break;
            }
        }
        cx.consumed(at.min(data.len()));
        damage.map_or(Ok(()), Err)
    }
}
