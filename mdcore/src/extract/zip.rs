//! ZIP (and OOXML, JAR, APK, … which are ZIPs), read both ways.
//!
//! Tools disagree on what a zip holds: unzip and 7-Zip follow the central
//! directory, streaming readers (Java's `ZipInputStream`, many mail
//! gateways, bsdtar) walk the local headers. Attackers exploit the gap: an
//! entry only in local headers, two entries with one name, a central entry
//! whose method or size contradicts its local header, a second archive glued
//! to the first. So mdscan reads both:
//!
//! 1. the **central directory**, found from the last end-of-central-directory
//!    record that parses (bytes after it, a comment, a multi-disk flag or a
//!    junk prefix do not stop it; offsets are resolved with and without the
//!    prefix, so `zip -A` self-extractors and plain `cat stub a.zip` both
//!    work), every entry including duplicates by name;
//! 2. a **walk of the local headers** from the first one, stepping over each
//!    entry's data (so a stored zip inside is not mistaken for entries).
//!
//! Every entry either reading finds is scanned; where the readings disagree
//! the archive's node says so and both versions are scanned.
//!
//! Decoding is the `zip` crate's: each reading is presented to it as a
//! one-entry archive (the entry's own bytes, borrowed, followed by a central
//! directory built from that reading), so members decode in parallel on the
//! pool and every method the crate knows is available: stored, deflate,
//! deflate64, bzip2, lzma, xz, zstd, PPMd, and the legacy shrink, reduce and
//! implode; ZipCrypto and AES with the supplied passwords.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{self, Read, Seek, SeekFrom};

use memchr::memmem;
use zip::ZipArchive;
use zip::result::ZipError;

use super::{Child, Cx, Entry, Extractor, Flow, Issue, Sink, read_child, sanitize_name};
use crate::bytes::{le_u16, le_u32, le_u64};
use crate::kind::Span;
use crate::verdict::ResultCode;

pub(crate) struct Zip;

const LOCAL_SIG: &[u8] = b"PK\x03\x04";
const CENTRAL_SIG: &[u8] = b"PK\x01\x02";
const END_SIG: &[u8] = b"PK\x05\x06";
const DESCRIPTOR_SIG: &[u8] = b"PK\x07\x08";
/// End records tried from the end of the object before giving up.
const MAX_END_CANDIDATES: usize = 64;

/// Which header a reading of a member comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Central,
    Local,
}

/// One reading of one member: what one header says about it.
#[derive(Clone, Debug)]
struct Member<'a> {
    name: &'a [u8],
    version_made_by: u16,
    version_needed: u16,
    flags: u16,
    method: u16,
    time: u16,
    date: u16,
    crc: u32,
    csize: u64,
    usize: u64,
    extra: &'a [u8],
    external_attrs: u32,
    /// Absolute offset of the member's local header in the object.
    local: usize,
    source: Source,
}

impl Member<'_> {
    fn is_dir(&self) -> bool {
        let dos_dir = matches!(self.version_made_by >> 8, 0 | 10 | 11 | 14)
            && self.external_attrs & 0x10 != 0;
        self.name.ends_with(b"/") || self.name.ends_with(b"\\") || dos_dir
    }

    /// A directory entry with nothing in it: no object. (A directory entry
    /// whose data is more than an empty deflate stream is scanned: unzip
    /// and 7-Zip would write its bytes out as a file.)
    fn is_empty_dir(&self) -> bool {
        let empty_data = self.csize == 0 || (self.method == 8 && self.csize <= 2);
        self.is_dir() && self.usize == 0 && empty_data
    }

    fn label(&self) -> String {
        sanitize_name(&String::from_utf8_lossy(self.name))
    }

    fn uses_descriptor(&self) -> bool {
        self.flags & 0x0008 != 0
    }
}

/// A parsed end of central directory (classic or ZIP64).
#[derive(Clone, Copy, Debug)]
struct EndRecord {
    /// Where the archive ends: after the record and its comment, clamped to
    /// the object.
    end: usize,
    /// The central directory as it lies in this object.
    cd_start: usize,
    cd_end: usize,
    /// What to add to the offsets the archive declares to find its bytes in
    /// this object (the length of a prefix the archive does not know of).
    delta: i64,
    disk: u32,
}

/// Parses an end record at `at`, and checks that the central directory it
/// describes is where it says (or where the record's position implies).
fn end_record_at(d: &[u8], at: usize) -> Option<EndRecord> {
    if d.get(at..at + 4)? != END_SIG {
        return None;
    }
    let disk = u32::from(le_u16(d, at + 4)?);
    let mut cd_size = u64::from(le_u32(d, at + 12)?);
    let mut cd_offset = u64::from(le_u32(d, at + 16)?);
    let comment = usize::from(le_u16(d, at + 20)?);
    let end = at.saturating_add(22).saturating_add(comment).min(d.len());
    let mut cd_end = at;
    // ZIP64: a locator right before the record points at the ZIP64 record,
    // which usually sits right before the locator.
    if let Some(loc) = at.checked_sub(20)
        && d.get(loc..loc + 4) == Some(b"PK\x06\x07")
        && let Some(rec) = loc.checked_sub(56)
        && d.get(rec..rec + 4) == Some(b"PK\x06\x06")
    {
        cd_size = le_u64(d, rec + 40)?;
        cd_offset = le_u64(d, rec + 48)?;
        cd_end = rec;
    }
    let cd_start = cd_end.checked_sub(usize::try_from(cd_size).ok()?)?;
    let starts_ok = |s: usize| d.get(s..s + 4) == Some(CENTRAL_SIG);
    if cd_size == 0 || !starts_ok(cd_start) {
        return None;
    }
    let delta = i64::try_from(cd_start).ok()? - i64::try_from(cd_offset).ok()?;
    Some(EndRecord {
        end,
        cd_start,
        cd_end,
        delta,
        disk,
    })
}

/// The last end record in `d` that parses.
fn find_end(d: &[u8]) -> Option<EndRecord> {
    memmem::rfind_iter(d, END_SIG)
        .take(MAX_END_CANDIDATES)
        .find_map(|at| end_record_at(d, at))
}

/// Whether `d` holds an end record that lists no entry and no central
/// directory (an empty zip, 22 bytes as zip tools write it).
pub(crate) fn is_empty(d: &[u8]) -> bool {
    memmem::rfind_iter(d, END_SIG)
        .take(MAX_END_CANDIDATES)
        .any(|at| {
            // Entries on this disk, in all, and the directory's size.
            d.get(at + 8..at + 16)
                .is_some_and(|f| f.iter().all(|&b| b == 0))
                && d.len() >= at + 22
        })
}

/// The member names the central directory lists, as they are written
/// (lossy UTF-8); `None` when there is no central directory that parses.
/// Read the way the extractor reads it, without decoding anything: what a
/// package test (an Office package, ODF, JAR) asks of a zip.
pub(crate) fn central_names(d: &[u8]) -> Option<Vec<String>> {
    let rec = find_end(d)?;
    let mut names = Vec::new();
    let mut pos = rec.cd_start;
    while pos < rec.cd_end {
        let Some((m, _, next)) = central_at(d, pos) else {
            break;
        };
        names.push(String::from_utf8_lossy(m.name).into_owned());
        pos = next;
    }
    Some(names)
}

/// Values a ZIP64 extra field (0x0001) holds for the fields whose 32-bit
/// value is the 0xFFFFFFFF marker, in the order the spec lists them.
fn zip64(extra: &[u8], usize: &mut u64, csize: &mut u64, offset: Option<&mut u64>) {
    let Some((_, body, _)) = extra_blocks(extra).find(|(id, _, _)| *id == 0x0001) else {
        return;
    };
    let mut at = 0usize;
    let mut take = |field: &mut u64| {
        if *field == 0xffff_ffff
            && let Some(v) = le_u64(body, at)
        {
            *field = v;
            at += 8;
        }
    };
    take(usize);
    take(csize);
    if let Some(o) = offset {
        take(o);
    }
}

/// The blocks of an extra field: (header id, body, whole block), up to the
/// first one that runs past the end.
fn extra_blocks(extra: &[u8]) -> impl Iterator<Item = (u16, &[u8], &[u8])> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        let id = le_u16(extra, pos)?;
        let end = pos + 4 + usize::from(le_u16(extra, pos + 2)?);
        let whole = extra.get(pos..end)?;
        let body = whole.get(4..)?;
        pos = end;
        Some((id, body, whole))
    })
}

/// Parses one central directory entry at `at`; returns it, the local header
/// offset it declares, and where the next entry starts.
fn central_at(d: &[u8], at: usize) -> Option<(Member<'_>, u64, usize)> {
    if d.get(at..at + 4)? != CENTRAL_SIG {
        return None;
    }
    let name_len = usize::from(le_u16(d, at + 28)?);
    let extra_len = usize::from(le_u16(d, at + 30)?);
    let comment_len = usize::from(le_u16(d, at + 32)?);
    let name = d.get(at + 46..at + 46 + name_len)?;
    let extra = d.get(at + 46 + name_len..at + 46 + name_len + extra_len)?;
    let mut usize = u64::from(le_u32(d, at + 24)?);
    let mut csize = u64::from(le_u32(d, at + 20)?);
    let mut offset = u64::from(le_u32(d, at + 42)?);
    zip64(extra, &mut usize, &mut csize, Some(&mut offset));
    let member = Member {
        name,
        version_made_by: le_u16(d, at + 4)?,
        version_needed: le_u16(d, at + 6)?,
        flags: le_u16(d, at + 8)?,
        method: le_u16(d, at + 10)?,
        time: le_u16(d, at + 12)?,
        date: le_u16(d, at + 14)?,
        crc: le_u32(d, at + 16)?,
        csize,
        usize,
        extra,
        external_attrs: le_u32(d, at + 38)?,
        local: 0,
        source: Source::Central,
    };
    Some((member, offset, at + 46 + name_len + extra_len + comment_len))
}

/// A parsed local header.
#[derive(Clone, Debug)]
struct Local<'a> {
    member: Member<'a>,
    data_start: usize,
}

fn local_at(d: &[u8], at: usize) -> Option<Local<'_>> {
    if d.get(at..at + 4)? != LOCAL_SIG {
        return None;
    }
    let name_len = usize::from(le_u16(d, at + 26)?);
    let extra_len = usize::from(le_u16(d, at + 28)?);
    let name = d.get(at + 30..at + 30 + name_len)?;
    let extra = d.get(at + 30 + name_len..at + 30 + name_len + extra_len)?;
    let mut usize = u64::from(le_u32(d, at + 22)?);
    let mut csize = u64::from(le_u32(d, at + 18)?);
    zip64(extra, &mut usize, &mut csize, None);
    let member = Member {
        name,
        version_made_by: 0,
        version_needed: le_u16(d, at + 4)?,
        flags: le_u16(d, at + 6)?,
        method: le_u16(d, at + 8)?,
        time: le_u16(d, at + 10)?,
        date: le_u16(d, at + 12)?,
        crc: le_u32(d, at + 14)?,
        csize,
        usize,
        extra,
        external_attrs: 0,
        local: at,
        source: Source::Local,
    };
    Some(Local {
        member,
        data_start: at + 30 + name_len + extra_len,
    })
}

/// Where a declared local header offset lies in this object: past the
/// prefix the archive does not know of (`cat stub a.zip`), or as declared
/// (`zip -A` adjusted the offsets to count the prefix).
fn resolve(d: &[u8], rec: &EndRecord, declared: u64) -> Option<usize> {
    let declared = i64::try_from(declared).ok()?;
    [declared.checked_add(rec.delta)?, declared]
        .into_iter()
        .filter_map(|o| usize::try_from(o).ok())
        .find(|&o| d.get(o..o + 4) == Some(LOCAL_SIG))
}

/// What a data descriptor after an entry's data says.
struct Descriptor {
    crc: u32,
    csize: u64,
    usize: u64,
    /// Where the descriptor ends.
    end: usize,
}

fn descriptor_at(d: &[u8], at: usize, zip64: bool) -> Option<Descriptor> {
    let body = if d.get(at..at + 4) == Some(DESCRIPTOR_SIG) {
        at + 4
    } else {
        at
    };
    if zip64 {
        Some(Descriptor {
            crc: le_u32(d, body)?,
            csize: le_u64(d, body + 4)?,
            usize: le_u64(d, body + 12)?,
            end: body + 20,
        })
    } else {
        Some(Descriptor {
            crc: le_u32(d, body)?,
            csize: u64::from(le_u32(d, body + 4)?),
            usize: u64::from(le_u32(d, body + 8)?),
            end: body + 12,
        })
    }
}

fn has_zip64(extra: &[u8]) -> bool {
    extra_blocks(extra).any(|(id, _, _)| id == 0x0001)
}

/// For an entry whose sizes follow its data (flag bit 3) and that the
/// central directory does not describe: finds the data descriptor whose
/// compressed size matches its distance from the data, as streaming
/// readers do.
fn find_descriptor(d: &[u8], data_start: usize, zip64: bool) -> Option<(usize, Descriptor)> {
    let rest = d.get(data_start..)?;
    for at in memmem::find_iter(rest, DESCRIPTOR_SIG).take(4096) {
        let abs = data_start + at;
        if let Some(desc) = descriptor_at(d, abs, zip64)
            && desc.csize == at as u64
        {
            return Some((abs, desc));
        }
    }
    // The descriptor's signature is optional: try the 12 bytes before the
    // next header.
    for at in memmem::find_iter(rest, b"PK").take(4096) {
        let abs = data_start + at;
        let next = d.get(abs..abs + 4);
        if next != Some(LOCAL_SIG) && next != Some(CENTRAL_SIG) {
            continue;
        }
        let width = if zip64 { 20 } else { 12 };
        if let Some(desc_at) = abs.checked_sub(width)
            && desc_at >= data_start
            && let Some(desc) = descriptor_at(d, desc_at, zip64)
            && desc.csize == (desc_at - data_start) as u64
        {
            return Some((desc_at, desc));
        }
    }
    None
}

/// Sizes the central directory gave for the member at a local offset.
type Known = HashMap<usize, (u32, u64, u64)>;

/// Walks the local headers of `d[from..to]`: each entry, then the next
/// header after its data (or the next signature, past junk). `visit` gets
/// each entry and where its data ends, and says whether to go on.
fn walk_locals<'a>(
    d: &'a [u8],
    from: usize,
    to: usize,
    known: &Known,
    mut visit: impl FnMut(Member<'a>, usize) -> bool,
) {
    let find_next = |pos: usize| -> Option<usize> {
        d.get(pos..to)
            .and_then(|w| memmem::find(w, LOCAL_SIG))
            .map(|i| pos + i)
    };
    let Some(mut pos) = find_next(from) else {
        return;
    };
    while pos < to {
        let Some(local) = local_at(d, pos) else {
            match find_next(pos + 1) {
                Some(p) => {
                    pos = p;
                    continue;
                }
                None => break,
            }
        };
        let mut m = local.member;
        let mut next = None;
        if m.uses_descriptor() {
            if let Some(&(crc, csize, usize)) = known.get(&pos) {
                m.crc = crc;
                m.csize = csize;
                m.usize = usize;
                let data_end = local
                    .data_start
                    .saturating_add(usize::try_from(csize).unwrap_or(usize::MAX));
                next = descriptor_at(d, data_end, has_zip64(m.extra) || csize > 0xffff_fffe)
                    .map(|desc| desc.end);
            } else if let Some((_, desc)) = find_descriptor(d, local.data_start, has_zip64(m.extra))
            {
                m.crc = desc.crc;
                m.csize = desc.csize;
                m.usize = desc.usize;
                next = Some(desc.end);
            } else {
                // Its end is unknown: give it the rest up to the next header.
                let end = find_next(local.data_start).unwrap_or(to);
                m.csize = (end - local.data_start.min(end)) as u64;
                next = Some(end);
            }
        }
        let data_end = local
            .data_start
            .saturating_add(usize::try_from(m.csize).unwrap_or(usize::MAX));
        let next = next.unwrap_or(data_end);
        if !visit(m, data_end) || next <= pos {
            break;
        }
        pos = next;
        if d.get(pos..pos + 4) != Some(LOCAL_SIG) {
            match find_next(pos) {
                Some(p) => pos = p,
                None => break,
            }
        }
    }
}

/// What differs between the central and the local reading of one member.
fn disagreement(central: &Member<'_>, local: &Member<'_>) -> Option<String> {
    let mut what = Vec::new();
    if central.name != local.name {
        what.push(format!("name `{}` vs `{}`", central.label(), local.label()));
    }
    if central.method != local.method {
        what.push(format!("method {} vs {}", central.method, local.method));
    }
    if (central.flags ^ local.flags) & 0x0001 != 0 {
        what.push("encryption flag".into());
    }
    if !local.uses_descriptor() {
        if central.csize != local.csize {
            what.push(format!(
                "compressed size {} vs {}",
                central.csize, local.csize
            ));
        }
        if central.usize != local.usize {
            what.push(format!("size {} vs {}", central.usize, local.usize));
        }
        if central.crc != local.crc {
            what.push(format!("CRC {:08x} vs {:08x}", central.crc, local.crc));
        }
    }
    (!what.is_empty()).then(|| what.join(", "))
}

impl Extractor for Zip {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let rec = find_end(data);
        let mut seen: HashSet<usize> = HashSet::new();
        let mut known: Known = HashMap::new();
        let member = |m: Member<'a>, note: Option<String>| -> Entry<'a> {
            let job = Box::new(move |emit: &mut super::Emit<'_>| {
                let mut child = decode(data, &m, cx);
                child.note = note;
                emit(child);
            });
            Entry::Deferred { members: 1, job }
        };
        let mut walk_to = data.len();
        if let Some(rec) = rec {
            cx.consumed(rec.end);
            walk_to = rec.cd_start;
            if rec.disk != 0 {
                cx.note(format!(
                    "the end record names disk {} of a multi-disk set; read as one file",
                    rec.disk
                ));
            }
            let mut names: HashSet<u64> = HashSet::new();
            let mut duplicates = 0u64;
            let mut pos = rec.cd_start;
            let mut index = 0u64;
            let mut overran = None;
            while pos < rec.cd_end {
                let Some((mut m, declared, next)) = central_at(data, pos) else {
                    if data.get(pos..pos + 4) == Some(END_SIG) {
                        break;
                    }
                    let child = Child::failed(
                        format!("[entry {index}]"),
                        Issue::corrupt(format!(
                            "corrupt central directory entry at offset {pos}; the entries after it were read from local headers only"
                        )),
                    );
                    if sink(Entry::Ready(child)) == Flow::Stop {
                        return Ok(());
                    }
                    break;
                };
                // An entry whose lengths run past the directory's end hides
                // the entries after it (7-Zip and unzip report an error):
                // that is damage, never a shorter archive.
                if next > rec.cd_end {
                    overran = Some(pos);
                }
                pos = next;
                index += 1;
                if index.is_multiple_of(256)
                    && let Err(stop) = cx.budget.check()
                {
                    return Err(Issue::stopped(stop));
                }
                let mut h = DefaultHasher::new();
                m.name.hash(&mut h);
                if !names.insert(h.finish()) {
                    duplicates += 1;
                }
                let Some(at) = resolve(data, &rec, declared) else {
                    let issue = Issue::corrupt(format!(
                        "no local header at offset {declared} where the central directory puts it"
                    ));
                    if sink(Entry::Ready(Child::failed(m.label(), issue))) == Flow::Stop {
                        return Ok(());
                    }
                    continue;
                };
                m.local = at;
                seen.insert(at);
                known.insert(at, (m.crc, m.csize, m.usize));
                let local = local_at(data, at).map(|l| l.member);
                let differs = local.as_ref().and_then(|l| disagreement(&m, l));
                if !m.is_empty_dir() {
                    let note = (m.is_dir()).then(|| {
                        format!("a directory entry that carries {} bytes of data", m.usize)
                    });
                    if sink(member(m.clone(), note)) == Flow::Stop {
                        return Ok(());
                    }
                }
                if let (Some(what), Some(local)) = (differs, local) {
                    cx.note(format!(
                        "`{}`: the central directory and the local header disagree ({what}); both readings were scanned",
                        m.label()
                    ));
                    let note = Some(format!(
                        "read as its local header describes it; the central directory says otherwise ({what})"
                    ));
                    if !local.is_empty_dir() && sink(member(local, note)) == Flow::Stop {
                        return Ok(());
                    }
                }
            }
            if let Some(at) = overran {
                let child = Child::failed(
                    format!("[entry {index}]"),
                    Issue::corrupt(format!(
                        "the central directory entry at offset {at} runs past the directory's end; the entries after it were read from local headers only"
                    )),
                );
                if sink(Entry::Ready(child)) == Flow::Stop {
                    return Ok(());
                }
            }
            if duplicates > 0 {
                cx.note(format!(
                    "{duplicates} entries repeat a name already in the central directory; every entry was scanned"
                ));
            }
        }
        // The local-header reading: entries the central directory does not
        // list (or all of them, when there is no central directory).
        let mut only_local = 0u64;
        let mut walked_end = 0usize;
        let mut stopped = false;
        let mut cut = None;
        let mut walked = 0u64;
        walk_locals(data, 0, walk_to, &known, |m, data_end| {
            walked += 1;
            if walked.is_multiple_of(256)
                && let Err(stop) = cx.budget.check()
            {
                cut = Some(stop);
                return false;
            }
            walked_end = walked_end.max(data_end.min(data.len()));
            if seen.contains(&m.local) || m.is_empty_dir() {
                return true;
            }
            only_local += 1;
            let note = rec.map(|_| {
                "found by walking the local headers; the central directory does not list it"
                    .to_string()
            });
            stopped = sink(member(m, note)) == Flow::Stop;
            !stopped
        });
        if stopped {
            return Ok(());
        }
        if let Some(stop) = cut {
            return Err(Issue::stopped(stop));
        }
        match rec {
            Some(_) if only_local > 0 => cx.note(format!(
                "{only_local} entries are present as local headers but missing from the central directory; they were scanned"
            )),
            Some(_) => {}
            None if only_local > 0 => {
                cx.consumed(walked_end);
                return Err(Issue::corrupt(format!(
                    "no central directory (the archive is truncated or damaged); {only_local} entries were read from their local headers"
                )));
            }
            // An empty archive (an end record listing no entry), as 7-Zip
            // and bsdtar read it: nothing to scan.
            None if is_empty(data) => {}
            None => return Err(Issue::corrupt("not a readable zip archive: no central directory and no local headers")),
        }
        Ok(())
    }
}

/// A one-entry zip presented to the `zip` crate: the member's local header
/// and data, borrowed from the object, then a central directory and end
/// record built from the reading being decoded.
struct Spliced<'a> {
    head: &'a [u8],
    tail: Vec<u8>,
    pos: u64,
}

impl Read for Spliced<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let head_len = self.head.len() as u64;
        let (src, at) = if self.pos < head_len {
            (self.head, self.pos)
        } else {
            (&self.tail[..], self.pos - head_len)
        };
        let at = usize::try_from(at).unwrap_or(usize::MAX);
        let avail = src.get(at..).unwrap_or_default();
        let n = avail.len().min(buf.len());
        buf.get_mut(..n)
            .unwrap_or_default()
            .copy_from_slice(avail.get(..n).unwrap_or_default());
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Spliced<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let len = (self.head.len() + self.tail.len()) as i128;
        let target = match to {
            SeekFrom::Start(p) => i128::from(p),
            SeekFrom::End(o) => len + i128::from(o),
            SeekFrom::Current(o) => i128::from(self.pos) + i128::from(o),
        };
        self.pos = u64::try_from(target)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

/// The central directory entry and end record for one reading, with the
/// central directory at `cd_offset` of the spliced archive.
fn synth_directory(m: &Member<'_>, cd_offset: u64) -> Vec<u8> {
    let big = m.csize >= 0xffff_ffff || m.usize >= 0xffff_ffff;
    // The reading's extra fields, minus its ZIP64 block (rewritten below).
    let mut extra: Vec<u8> = extra_blocks(m.extra)
        .filter(|(id, _, _)| *id != 0x0001)
        .flat_map(|(_, _, whole)| whole.iter().copied())
        .collect();
    if big {
        extra.extend_from_slice(&1u16.to_le_bytes());
        extra.extend_from_slice(&16u16.to_le_bytes());
        extra.extend_from_slice(&m.usize.to_le_bytes());
        extra.extend_from_slice(&m.csize.to_le_bytes());
    }
    let name = m.name.get(..usize::from(u16::MAX)).unwrap_or(m.name);
    let extra = extra.get(..usize::from(u16::MAX)).unwrap_or(&extra);
    let mut cd = Vec::with_capacity(46 + name.len() + extra.len() + 98);
    cd.extend_from_slice(CENTRAL_SIG);
    let made_by = if m.source == Source::Central {
        m.version_made_by
    } else {
        m.version_needed.max(20)
    };
    for v in [made_by, m.version_needed, m.flags, m.method, m.time, m.date] {
        cd.extend_from_slice(&v.to_le_bytes());
    }
    cd.extend_from_slice(&m.crc.to_le_bytes());
    let clamp = |v: u64| if big { u32::MAX } else { v as u32 };
    cd.extend_from_slice(&clamp(m.csize).to_le_bytes());
    cd.extend_from_slice(&clamp(m.usize).to_le_bytes());
    cd.extend_from_slice(&(name.len() as u16).to_le_bytes());
    cd.extend_from_slice(&(extra.len() as u16).to_le_bytes());
    cd.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
    cd.extend_from_slice(&m.external_attrs.to_le_bytes());
    cd.extend_from_slice(&0u32.to_le_bytes()); // local header at 0
    cd.extend_from_slice(name);
    cd.extend_from_slice(extra);
    let cd_len = cd.len() as u64;
    if cd_offset >= 0xffff_ffff {
        let rec_at = cd_offset + cd_len;
        cd.extend_from_slice(b"PK\x06\x06");
        cd.extend_from_slice(&44u64.to_le_bytes());
        cd.extend_from_slice(&45u16.to_le_bytes());
        cd.extend_from_slice(&45u16.to_le_bytes());
        cd.extend_from_slice(&[0; 8]); // this disk, disk with the directory
        cd.extend_from_slice(&1u64.to_le_bytes());
        cd.extend_from_slice(&1u64.to_le_bytes());
        cd.extend_from_slice(&cd_len.to_le_bytes());
        cd.extend_from_slice(&cd_offset.to_le_bytes());
        cd.extend_from_slice(b"PK\x06\x07");
        cd.extend_from_slice(&0u32.to_le_bytes());
        cd.extend_from_slice(&rec_at.to_le_bytes());
        cd.extend_from_slice(&1u32.to_le_bytes());
    }
    cd.extend_from_slice(END_SIG);
    cd.extend_from_slice(&[0; 4]);
    let count: u16 = if cd_offset >= 0xffff_ffff { 0xffff } else { 1 };
    cd.extend_from_slice(&count.to_le_bytes());
    cd.extend_from_slice(&count.to_le_bytes());
    cd.extend_from_slice(&(cd_len as u32).to_le_bytes());
    cd.extend_from_slice(&u32::try_from(cd_offset).unwrap_or(u32::MAX).to_le_bytes());
    cd.extend_from_slice(&0u16.to_le_bytes());
    cd
}

/// Decodes one reading of one member.
fn decode(data: &[u8], m: &Member<'_>, cx: &Cx<'_>) -> Child {
    let name = m.label();
    if let Err(stop) = cx.budget.check() {
        return Child::failed(name, Issue::stopped(stop));
    }
    let Some(local) = local_at(data, m.local) else {
        return Child::failed(name, Issue::corrupt("its local header is damaged"));
    };
    let declared_end = local
        .data_start
        .saturating_add(usize::try_from(m.csize).unwrap_or(usize::MAX));
    let truncated = declared_end > data.len();
    let Some(head) = data.get(m.local..declared_end.min(data.len())) else {
        return Child::failed(name, Issue::corrupt("its data lies outside the archive"));
    };
    let tail = synth_directory(m, head.len() as u64);
    let spliced = Spliced { head, tail, pos: 0 };
    let mut archive = match ZipArchive::new(spliced) {
        Ok(a) => a,
        Err(e) => return Child::failed(name, open_issue(e)),
    };
    let mut child = read_member(&mut archive, name, cx);
    if truncated && child.issue.is_none() {
        child.issue = Some(Issue::corrupt(format!(
            "truncated: its data runs {} bytes past the end of the archive",
            declared_end - data.len()
        )));
    }
    child
}

fn read_member<R: Read + Seek>(archive: &mut ZipArchive<R>, name: String, cx: &Cx<'_>) -> Child {
    let (encrypted, method) = match archive.by_index_data(0) {
        Ok(e) => (e.encrypted(), e.compression()),
        Err(e) => return Child::failed(name, open_issue(e)),
    };
    #[allow(deprecated)]
    if let zip::CompressionMethod::Unsupported(m) = method {
        return Child::failed(
            name,
            Issue::new(
                ResultCode::UnsupportedFileType,
                format!("zip compression method {m} is not supported"),
            ),
        );
    }
    if !encrypted {
        return match archive.by_index(0) {
            Ok(mut file) => read_child(&mut file, cx.budget).into_child(name),
            Err(e) => Child::failed(name, open_issue(e)),
        };
    }
    for (i, password) in cx.passwords.iter().enumerate() {
        let last = i + 1 == cx.passwords.len();
        match archive.by_index_decrypt(0, password.as_bytes()) {
            Ok(mut file) => {
                let produced = read_child(&mut file, cx.budget);
                // ZipCrypto's check byte lets 1 wrong password in 256 pass; the
                // CRC at the end then fails. Try the next password.
                let bad = produced
                    .issue
                    .as_ref()
                    .is_some_and(|i| i.code == ResultCode::Failed);
                if bad && produced.stop.is_none() {
                    if last {
                        return Child::failed(name, wrong_password(cx));
                    }
                    continue;
                }
                return produced.into_child(name);
            }
            Err(ZipError::InvalidPassword) => {}
            Err(e) => return Child::failed(name, open_issue(e)),
        }
    }
    Child::failed(name, wrong_password(cx))
}

fn wrong_password(cx: &Cx<'_>) -> Issue {
    let note = match cx.passwords.len() {
        0 => "encrypted member and no password was supplied".to_string(),
        n => format!("encrypted member; none of the {n} supplied passwords opened it"),
    };
    Issue::new(ResultCode::EncryptedArchive, note)
}

fn open_issue(e: ZipError) -> Issue {
    match e {
        ZipError::CompressionMethodNotSupported(m) => Issue::new(
            ResultCode::UnsupportedFileType,
            format!("zip compression method {m} is not supported"),
        ),
        ZipError::UnsupportedArchive(msg) if msg.to_ascii_lowercase().contains("password") => {
            Issue::new(ResultCode::EncryptedArchive, msg)
        }
        ZipError::UnsupportedArchive(msg) => Issue::new(
            ResultCode::UnsupportedFileType,
            format!("unsupported zip member: {msg}"),
        ),
        ZipError::Io(e) if super::is_memory_refusal(&e) => {
            super::memory_limit_issue(&e.to_string())
        }
        e => Issue::corrupt(format!("can not open zip member: {e}")),
    }
}

/// Carving from an end record: the archive it describes, from its first
/// local header to the end of the record.
pub(crate) fn carve_end_record(d: &[u8], at: usize) -> Option<Span> {
    let rec = end_record_at(d, at)?;
    let mut start: Option<usize> = None;
    let mut pos = rec.cd_start;
    // The first entries decide; a directory of a million entries is not
    // walked here (the reader does that).
    for _ in 0..4096 {
        if pos >= rec.cd_end {
            break;
        }
        let Some((_, declared, next)) = central_at(d, pos) else {
            break;
        };
        pos = next;
        if let Some(local) = resolve(d, &rec, declared) {
            start = Some(start.map_or(local, |s: usize| s.min(local)));
        }
    }
    Some(Span {
        start: start?,
        end: Some(rec.end),
    })
}

/// Methods a carved local header may declare: those the zip crate decodes
/// plus the ones 7-Zip knows (a header with another is not a zip).
const KNOWN_METHODS: &[u16] = &[0, 1, 2, 3, 4, 5, 6, 8, 9, 12, 14, 93, 95, 98, 99];

/// Carving from a local header with no end record behind it (a truncated
/// zip, or one whose directory was cut off): the header must be plausible
/// and the start of its data must decode.
pub(crate) fn carve_local_header(d: &[u8], at: usize) -> Option<Span> {
    let local = local_at(d, at)?;
    let m = &local.member;
    let plausible = !m.name.is_empty()
        && m.name.len() <= 4096
        && !m.name.contains(&0)
        && (m.version_needed & 0xff) <= 63
        && KNOWN_METHODS.contains(&m.method);
    if !plausible {
        return None;
    }
    let encrypted = m.flags & 0x0001 != 0;
    if !m.uses_descriptor() && !encrypted {
        let data_end = local
            .data_start
            .checked_add(usize::try_from(m.csize).ok()?)?;
        let body = d.get(local.data_start..data_end)?;
        match m.method {
            0 if crc32fast::hash(body) != m.crc => return None,
            8 if !inflates(body.get(..4096).unwrap_or(body), body.len() <= 4096) => return None,
            _ => {}
        }
    } else if m.method == 8 && !encrypted {
        let rest = d.get(local.data_start..)?;
        if !inflates(rest.get(..4096).unwrap_or(rest), false) {
            return None;
        }
    }
    Some(Span {
        start: at,
        end: None,
    })
}

/// Whether raw deflate data decodes without error (to its end, when
/// `whole`).
fn inflates(data: &[u8], whole: bool) -> bool {
    let mut z = flate2::Decompress::new(false);
    let mut out = Vec::with_capacity(64 << 10);
    loop {
        let before = z.total_in();
        match z.decompress_vec(
            data.get(usize::try_from(z.total_in()).unwrap_or(usize::MAX)..)
                .unwrap_or_default(),
            &mut out,
            flate2::FlushDecompress::None,
        ) {
            Ok(flate2::Status::StreamEnd) => return true,
            Ok(_) if z.total_in() == data.len() as u64 => return !whole,
            Ok(_) if out.len() == out.capacity() => out.clear(),
            Ok(_) if z.total_in() == before => return false,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}
