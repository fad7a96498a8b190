//! InstallShield cabinets (`ISc(`: `data1.cab`, and the `data1.hdr` that
//! holds the file table of a cabinet set), read from their layout as
//! unshield reads it. No tool in Debian writes them; the tests build them
//! by hand and check each against unshield.
//!
//! - A 20-byte common header (signature, version, volume info, where the
//!   cabinet descriptor is and how long), then a volume header (40 bytes
//!   up to InstallShield 5, 64 after) and the files' data.
//! - The descriptor holds the file table: directory names, then per file
//!   a descriptor (IS 5: found through the table, 0x3a bytes; IS 6 on: an
//!   array of 0x57-byte records) with its flags, sizes, data offset, name,
//!   directory and, from IS 6, its MD5. Names are ANSI, UTF-16 from
//!   InstallShield 17.
//! - A file's data is stored, or (flag 4) a run of chunks, each a 16-bit
//!   length and a raw deflate stream; flag 2 obfuscates every stored byte
//!   (XOR 0xd5, rotate right 2, minus a running counter mod 0x47).
//!
//! A cabinet whose file table lives in its `.hdr` cannot be listed alone,
//! and a `.hdr` holds no data: both are 23 with a note, as is a file whose
//! bytes are in another volume of the set. Sizes and (IS 6 on) MD5s are
//! checked: a mismatch is 3.

use std::io::Read;

use md5::{Digest, Md5};

use super::{Child, Cx, Entry, Extractor, Flow, Issue, Sink, read_child, sanitize_name};
use crate::bytes::{le_u16, le_u32};
use crate::verdict::ResultCode;

pub(crate) struct IsCab;

const SIGNATURE: &[u8; 4] = b"ISc(";
const COMMON: usize = 20;
/// Files or directories one cabinet may list.
const MAX_ENTRIES: u32 = 1 << 20;
const V6_DESCRIPTOR: usize = 0x57;
const FLAG_SPLIT: u16 = 1;
const FLAG_OBFUSCATED: u16 = 2;
const FLAG_COMPRESSED: u16 = 4;
const FLAG_INVALID: u16 = 8;
const LINK_PREVIOUS: u8 = 1;

fn le_u64(d: &[u8], at: usize) -> Option<u64> {
    Some(u64::from(le_u32(d, at)?) | (u64::from(le_u32(d, at + 4)?) << 32))
}

/// The InstallShield major version a header's version word names (0: an
/// unknown word, read with the IS 5 layout as unshield does).
fn major(version: u32) -> u32 {
    match version >> 24 {
        1 => (version >> 12) & 0xf,
        2 | 4 => (version & 0xffff) / 100,
        _ => 0,
    }
}

/// The cabinet's file table.
struct Table<'a> {
    d: &'a [u8],
    /// The descriptor ends past the end of the object.
    cut: bool,
    major: u32,
    /// Where the file table starts (descriptor + its offset).
    table: usize,
    /// IS 6 on: where the file descriptors start, from the table.
    descriptors: usize,
    dirs: u32,
    files: u32,
}

/// One file's descriptor.
struct File {
    name: String,
    dir: u32,
    flags: u16,
    expanded: u64,
    stored: u64,
    data: u64,
    md5: Option<[u8; 16]>,
    link_previous: Option<u32>,
    volume: u16,
}

impl<'a> Table<'a> {
    fn read(d: &'a [u8]) -> Result<Table<'a>, Issue> {
        let bad = |what: &str| Issue::corrupt(format!("InstallShield cabinet: {what}"));
        let version = le_u32(d, 4).ok_or_else(|| bad("header cut short"))?;
        let desc = le_u32(d, 12).ok_or_else(|| bad("header cut short"))? as usize;
        let desc_size = le_u32(d, 16).ok_or_else(|| bad("header cut short"))? as usize;
        if desc_size == 0 {
            return Err(Issue::new(
                ResultCode::UnsupportedFileType,
                "InstallShield cabinet whose file table is in its .hdr file: \
                 the files cannot be listed from the cabinet alone",
            ));
        }
        let field = |at: usize| le_u32(d, desc + at).ok_or_else(|| bad("descriptor cut short"));
        let table = desc
            .checked_add(field(0x0c)? as usize)
            .ok_or_else(|| bad("file table out of range"))?;
        let dirs = field(0x1c)?;
        let files = field(0x28)?;
        let descriptors = table.saturating_add(field(0x2c)? as usize);
        if dirs > MAX_ENTRIES || files > MAX_ENTRIES || table >= d.len() {
            return Err(bad("file table out of range"));
        }
        Ok(Table {
            d,
            cut: desc.saturating_add(desc_size) > d.len(),
            major: major(version),
            table,
            descriptors,
            dirs,
            files,
        })
    }

    fn unicode(&self) -> bool {
        self.major >= 17
    }

    /// The string at `offset` from the file table.
    fn string(&self, offset: u32) -> Option<String> {
        let at = self.table.checked_add(offset as usize)?;
        let rest = self.d.get(at..)?;
        if self.unicode() {
            let units: Vec<u16> = crate::bytes::utf16le(rest)
                .take(1024)
                .take_while(|u| *u != 0)
                .collect();
            Some(String::from_utf16_lossy(&units))
        } else {
            let end = rest.iter().take(1024).position(|b| *b == 0)?;
            Some(rest.get(..end)?.iter().map(|b| char::from(*b)).collect())
        }
    }

    /// Entry `i` of the file table (offsets from its start).
    fn slot(&self, i: u32) -> Option<u32> {
        le_u32(self.d, self.table.checked_add(4 * i as usize)?)
    }

    fn directory(&self, i: u32) -> String {
        if i >= self.dirs {
            return String::new();
        }
        self.slot(i)
            .and_then(|o| self.string(o))
            .unwrap_or_default()
    }

    fn file(&self, i: u32) -> Option<File> {
        let d = self.d;
        let (name_offset, f) = if self.major <= 5 {
            let at = self
                .table
                .checked_add(self.slot(self.dirs.checked_add(i)?)? as usize)?;
            let name_offset = le_u32(d, at)?;
            let f = File {
                name: String::new(),
                dir: le_u32(d, at + 4)?,
                flags: le_u16(d, at + 8)?,
                expanded: u64::from(le_u32(d, at + 10)?),
                stored: u64::from(le_u32(d, at + 14)?),
                data: u64::from(le_u32(d, at + 0x26)?),
                md5: None,
                link_previous: None,
                volume: 0,
            };
            (name_offset, f)
        } else {
            let at = self
                .descriptors
                .checked_add((i as usize).checked_mul(V6_DESCRIPTOR)?)?;
            let rec = d.get(at..at.checked_add(V6_DESCRIPTOR)?)?;
            let mut md5 = [0u8; 16];
            md5.copy_from_slice(rec.get(0x1a..0x2a)?);
            let link_flags = *rec.get(0x54)?;
            let f = File {
                name: String::new(),
                dir: u32::from(le_u16(rec, 0x3e)?),
                flags: le_u16(rec, 0)?,
                expanded: le_u64(rec, 2)?,
                stored: le_u64(rec, 0x0a)?,
                data: le_u64(rec, 0x12)?,
                md5: Some(md5),
                link_previous: (link_flags & LINK_PREVIOUS != 0).then_some(le_u32(rec, 0x4c)?),
                volume: le_u16(rec, 0x55)?,
            };
            (le_u32(rec, 0x3a)?, f)
        };
        let name = if name_offset == 0 {
            String::new()
        } else {
            self.string(name_offset)?
        };
        Some(File { name, ..f })
    }
}

/// Undoes the obfuscation of flag 2, the counter running from the file's
/// first stored byte.
fn deobfuscate(data: &[u8]) -> Vec<u8> {
    data.iter()
        .enumerate()
        .map(|(i, b)| {
            let k = (i % 0x47) as u8;
            (b ^ 0xd5).rotate_right(2).wrapping_sub(k)
        })
        .collect()
}

/// A file's chunks as one stream: each a 16-bit length and a raw deflate
/// stream of its own (ended by a final block or by a sync flush).
struct Chunks<'a> {
    rest: &'a [u8],
    current: Option<flate2::read::DeflateDecoder<&'a [u8]>>,
}

impl Read for Chunks<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if let Some(dec) = self.current.as_mut() {
                let n = dec.read(buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
                self.current = None;
            }
            if self.rest.is_empty() {
                return Ok(0);
            }
            let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
            let len = le_u16(self.rest, 0).ok_or_else(|| bad("chunk length cut short"))?;
            if len == 0 {
                return Err(bad("a chunk of length 0"));
            }
            let end = 2 + usize::from(len);
            let chunk = self
                .rest
                .get(2..end)
                .ok_or_else(|| bad("chunk cut short"))?;
            self.rest = self.rest.get(end..).unwrap_or_default();
            self.current = Some(flate2::read::DeflateDecoder::new(chunk));
        }
    }
}

/// The child of one file: its bytes decoded and checked.
/// The bytes of each volume of a cabinet set (1 = the first cabinet).
pub(crate) type Volumes<'v> = dyn Fn(u16) -> Option<&'v [u8]> + 'v;

fn decode(volumes: &Volumes<'_>, f: &File, name: String, cx: &Cx<'_>) -> Child {
    let unsupported = |why: String| {
        Child::failed(
            name.clone(),
            Issue::new(ResultCode::UnsupportedFileType, why),
        )
    };
    let data = volumes(f.volume.max(1));
    let Some(data) = data.filter(|_| f.flags & FLAG_SPLIT == 0) else {
        return unsupported(format!(
            "InstallShield file spans or lies in another volume of the set (volume {}), which is not here",
            f.volume
        ));
    };
    let stored = if f.flags & FLAG_COMPRESSED != 0 {
        f.stored
    } else {
        f.expanded
    };
    let range = usize::try_from(f.data)
        .ok()
        .zip(usize::try_from(stored).ok())
        .and_then(|(a, n)| Some(a..a.checked_add(n)?));
    let Some(raw) = range.and_then(|r| data.get(r)) else {
        return unsupported(
            "InstallShield file's bytes are not in this object (a .hdr file, or another \
             cabinet of the set)"
                .into(),
        );
    };
    let plain;
    let raw = if f.flags & FLAG_OBFUSCATED != 0 {
        plain = deobfuscate(raw);
        &plain[..]
    } else {
        raw
    };
    let mut reader: Box<dyn Read + '_> = if f.flags & FLAG_COMPRESSED != 0 {
        Box::new(Chunks {
            rest: raw,
            current: None,
        })
    } else {
        Box::new(raw)
    };
    let produced = read_child(&mut reader, cx.budget);
    let stop = produced.stop;
    let mut child = produced.into_child(name);
    if child.issue.is_none() {
        let bytes = child
            .data
            .as_ref()
            .map(|b| b.as_slice())
            .unwrap_or_default();
        if bytes.len() as u64 != f.expanded {
            child.issue = Some(Issue::corrupt(format!(
                "InstallShield file decodes to {} bytes, its descriptor says {}: not whole",
                bytes.len(),
                f.expanded
            )));
        } else if let Some(want) = f.md5
            && want != [0; 16]
            && <[u8; 16]>::from(Md5::digest(bytes)) != want
        {
            child.issue = Some(Issue::corrupt(
                "InstallShield file fails its MD5 check: not whole",
            ));
        }
    }
    if let Some(s) = stop
        && child.issue.is_none()
    {
        child.issue = Some(Issue::stopped(s));
    }
    child
}

impl Extractor for IsCab {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        if !data.starts_with(SIGNATURE) || data.len() < COMMON {
            return Err(Issue::corrupt("InstallShield cabinet header cut short"));
        }
        let t = Table::read(data)?;
        files(&t, &|v| (v == 1).then_some(data), "", cx, sink)
    }
}

/// Whether `d` is an InstallShield cabinet whose file table is in a
/// separate `.hdr` (its own descriptor is empty).
pub(crate) fn table_elsewhere(d: &[u8]) -> bool {
    d.starts_with(SIGNATURE) && le_u32(d, 16) == Some(0)
}

/// The files of a cabinet set, listed by the file table of its `hdr` and
/// read from its `volumes` (what unshield does given `data1.hdr` beside
/// `data1.cab`, `data2.cab`…), each named `prefix` + its path.
pub(crate) fn files_of_set<'a>(
    hdr: &'a [u8],
    volumes: &Volumes<'_>,
    prefix: &str,
    cx: &'a Cx<'a>,
    sink: &mut Sink<'_, 'a>,
) -> Result<(), Issue> {
    if !hdr.starts_with(SIGNATURE) || hdr.len() < COMMON {
        return Err(Issue::corrupt("InstallShield .hdr header cut short"));
    }
    let t = Table::read(hdr)?;
    files(&t, volumes, prefix, cx, sink)
}

/// Every file `t` lists, its bytes read from `data`.
fn files<'a>(
    t: &Table<'_>,
    volumes: &Volumes<'_>,
    prefix: &str,
    cx: &'a Cx<'a>,
    sink: &mut Sink<'_, 'a>,
) -> Result<(), Issue> {
    cx.note(format!(
        "InstallShield cabinet (version {}) listing {} files in {} directories",
        t.major, t.files, t.dirs
    ));
    let (mut empty, mut linked) = (0u32, 0u32);
    for i in 0..t.files {
        let Some(f) = t.file(i) else {
            return Err(Issue::corrupt(format!(
                "InstallShield file descriptor {} of {} cut short or out of range",
                i + 1,
                t.files
            )));
        };
        if f.flags & FLAG_INVALID != 0 || f.data == 0 || f.name.is_empty() {
            empty += 1;
            continue;
        }
        if f.link_previous.is_some_and(|p| p < i) {
            // The same bytes as an earlier file, which is examined.
            linked += 1;
            continue;
        }
        let dir = t.directory(f.dir);
        let path = if dir.is_empty() {
            f.name.clone()
        } else {
            format!("{dir}/{}", f.name)
        };
        let name = sanitize_name(&format!("{prefix}{path}"));
        let child = decode(volumes, &f, name, cx);
        if sink(Entry::Ready(child)) == Flow::Stop {
            return Ok(());
        }
        cx.budget.check().map_err(Issue::stopped)?;
    }
    if empty > 0 {
        cx.note(format!(
            "{empty} InstallShield entries carry no data (marked invalid or unnamed)"
        ));
    }
    if linked > 0 {
        cx.note(format!(
            "{linked} InstallShield files share an earlier file's bytes"
        ));
    }
    if t.cut {
        return Err(Issue::corrupt(
            "InstallShield cabinet cut short: its descriptor runs past the end",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_obfuscation() {
        assert_eq!(major(0x0100_5000), 5);
        assert_eq!(major(0x0200_04b0), 12);
        assert_eq!(major(0x0400_0834), 21);
        assert_eq!(major(0x0000_0001), 0);
        // ror(c ^ 0xd5, 2) - (i % 0x47) undone by its inverse.
        let plain: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
        let stored: Vec<u8> = plain
            .iter()
            .enumerate()
            .map(|(i, p)| p.wrapping_add((i % 0x47) as u8).rotate_left(2) ^ 0xd5)
            .collect();
        assert_eq!(deobfuscate(&stored), plain);
    }
}
