//! tar (ustar, GNU, pax, v7) through the `tar` crate, streaming: each entry
//! with data is yielded as soon as it is read.
//!
//! Read as GNU tar and bsdtar read it: any entry that carries data and is
//! not a metadata record (pax headers, GNU long names) is a file, whatever
//! its type flag says — an unknown flag, a hard link or a device with data
//! is extracted by those tools, so it is scanned here. Headers whose
//! checksum is the *signed* byte sum (old Sun and GNU tars; GNU tar accepts
//! it) are accepted: the `tar` crate only knows the unsigned sum, so such a
//! header is handed to it with its checksum field rewritten.
//!
//! Sparse members are expanded as GNU tar extracts them, holes as zeros:
//! the old GNU format (type `S`, expanded by the `tar` crate) and the pax
//! formats 0.0, 0.1 and 1.0 (`GNU.sparse.*` records, expanded here), with
//! the member's real name from `GNU.sparse.name`. A map out of order,
//! overlapping, past the real size or disagreeing with the stored bytes
//! blocks: readers would write different files from it.

use std::cell::Cell;
use std::io::{self, Read};

use super::{Cx, Entry, Extractor, Flow, Issue, Sink, read_child, sanitize_name};

pub(crate) struct Tar;

const BLOCK: usize = 512;

impl Extractor for Tar {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        // How far the `tar` crate has read: when it hands over an entry, the
        // start of that entry's data (after any sparse extension headers).
        let read_to = Cell::new(0usize);
        let mut archive = tar::Archive::new(SignedSums {
            data,
            pos: &read_to,
        });
        let entries = archive
            .entries()
            .map_err(|e| Issue::corrupt(format!("not a readable tar archive: {e}")))?;
        // Where the data of the last entry ends (512-byte aligned): an intact
        // archive has its end-of-archive zero block there.
        let mut end = 0u64;
        for entry in entries {
            let mut entry =
                entry.map_err(|e| Issue::corrupt(format!("corrupt tar header: {e}")))?;
            let kind = entry.header().entry_type();
            // The bytes the entry holds in the archive: for an old GNU sparse
            // member `size()` is the expanded size, the header (or the pax
            // `size` record) says what is stored.
            let stored = if kind.is_gnu_sparse() {
                pax_number(&mut entry, "size")?
                    .or_else(|| entry.header().entry_size().ok())
                    .unwrap_or(0)
            } else {
                entry.size()
            };
            end = (read_to.get() as u64).saturating_add(stored.div_ceil(512).saturating_mul(512));
            let metadata = kind.is_pax_global_extensions()
                || kind.is_pax_local_extensions()
                || kind.is_gnu_longname()
                || kind.is_gnu_longlink();
            let has_data = entry.size() > 0;
            // Regular files (even empty ones) are objects; anything else is
            // one when it carries data.
            let file = kind.is_file() || kind.is_contiguous() || kind.is_gnu_sparse();
            if metadata || !(file || has_data) {
                continue;
            }
            let sparse = if kind.is_gnu_sparse() {
                None
            } else {
                pax_sparse(&mut entry)?
            };
            let raw_name = match sparse.as_ref().and_then(|s| s.name.clone()) {
                Some(n) => n,
                None => entry.path_bytes().into_owned(),
            };
            let name = sanitize_name(&String::from_utf8_lossy(&raw_name));
            let (produced, short) = match sparse {
                Some(map) => {
                    let mut expanded = Expand::new(&mut entry, map, stored)?;
                    let short = expanded.gnu_reading();
                    (read_child(&mut expanded, cx.budget), short)
                }
                None => (read_child(&mut entry, cx.budget), None),
            };
            // A map that stops short of the real size: GNU tar ends the file
            // at the last fragment, bsdtar at the real size. Both readings.
            let gnu = short
                .filter(|_| produced.issue.is_none() && produced.stop.is_none())
                .and_then(|len| usize::try_from(len).ok())
                .map(|len| {
                    let mut prefix = produced.blob.as_slice().get(..len).unwrap_or_default();
                    let mut c = read_child(&mut prefix, cx.budget).into_child(name.clone());
                    c.note = Some(
                        "this sparse member as GNU tar writes it (ending at its last fragment; bsdtar pads it to its real size)"
                            .into(),
                    );
                    c
                });
            if gnu.is_some() {
                cx.note(format!(
                    "`{name}`: a sparse map that ends before the member's real size; GNU tar and bsdtar write different files, both were scanned"
                ));
            }
            let stop = produced.stop;
            let mut child = produced.into_child(name);
            if !file {
                child.note = Some(format!(
                    "a tar entry of type `{}` that carries data; scanned as a file, as GNU tar and bsdtar extract it",
                    char::from(kind.as_byte()).escape_default()
                ));
            }
            // On `Stop` the walker has already noted the limit on this container.
            if sink(Entry::Ready(child)) == Flow::Stop {
                return Ok(());
            }
            if let Some(c) = gnu
                && sink(Entry::Ready(c)) == Flow::Stop
            {
                return Ok(());
            }
            if let Some(s) = stop {
                return Err(Issue::stopped(s));
            }
        }
        // The tar crate takes a clean EOF at a header boundary as the end;
        // a file cut exactly there would silently lose its remaining members.
        let at = usize::try_from(end).unwrap_or(usize::MAX);
        let marker = data.get(at..at.saturating_add(BLOCK));
        match marker {
            Some(block) if block.iter().all(|b| *b == 0) => {
                // The end-of-archive blocks and the record padding after them.
                let zeros = data
                    .get(at..)
                    .unwrap_or_default()
                    .chunks(BLOCK)
                    .take_while(|b| b.iter().all(|x| *x == 0))
                    .count();
                cx.consumed(at.saturating_add(zeros * BLOCK).min(data.len()));
                Ok(())
            }
            _ => {
                cx.consumed(at.min(data.len()));
                Err(Issue::corrupt(
                    "tar archive ends without its end-of-archive block (truncated)",
                ))
            }
        }
    }
}

/// The most fragments a sparse map may list (GNU tar has no limit but
/// memory; a real sparse file has a few per hole).
const MAX_FRAGMENTS: usize = 1 << 20;

/// A pax sparse member's map: the expanded size, the data fragments
/// (offset, length) in the expanded file, and its real name.
struct SparseMap {
    real: u64,
    fragments: Vec<(u64, u64)>,
    /// Format 1.0: the map is at the start of the member's data, in
    /// decimal lines padded to a block, and `fragments` is still empty.
    map_in_data: bool,
    name: Option<Vec<u8>>,
}

fn sparse_error(what: impl std::fmt::Display) -> Issue {
    Issue::corrupt(format!("tar sparse member: {what}"))
}

fn decimal(v: &[u8], what: &str) -> Result<u64, Issue> {
    std::str::from_utf8(v)
        .ok()
        .map(str::trim)
        .and_then(|t| t.parse::<u64>().ok())
        .ok_or_else(|| sparse_error(format_args!("{what} is not a number")))
}

/// The pax record `key` of this entry as a decimal number, if present.
fn pax_number<R: Read>(entry: &mut tar::Entry<'_, R>, key: &str) -> Result<Option<u64>, Issue> {
    let Some(records) = entry
        .pax_extensions()
        .map_err(|e| Issue::corrupt(format!("corrupt pax header: {e}")))?
    else {
        return Ok(None);
    };
    let mut found = None;
    for r in records {
        let r = r.map_err(|e| Issue::corrupt(format!("corrupt pax header: {e}")))?;
        if r.key_bytes() == key.as_bytes() {
            found = Some(decimal(r.value_bytes(), key)?);
        }
    }
    Ok(found)
}

/// The sparse map the pax records of a regular entry describe (formats
/// 0.0, 0.1, 1.0 as GNU tar writes them), if they describe one.
fn pax_sparse<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<Option<SparseMap>, Issue> {
    let Some(records) = entry
        .pax_extensions()
        .map_err(|e| Issue::corrupt(format!("corrupt pax header: {e}")))?
    else {
        return Ok(None);
    };
    let (mut major, mut minor) = (None, None);
    let (mut size, mut realsize, mut name) = (None, None, None);
    let mut fragments = Vec::new();
    let mut listed = false;
    // Format 0.0: `offset` and `numbytes` records alternate.
    let mut offset = None;
    for r in records {
        let r = r.map_err(|e| Issue::corrupt(format!("corrupt pax header: {e}")))?;
        let Some(key) = r.key_bytes().strip_prefix(b"GNU.sparse.") else {
            continue;
        };
        let v = r.value_bytes();
        match key {
            b"major" => major = Some(decimal(v, "GNU.sparse.major")?),
            b"minor" => minor = Some(decimal(v, "GNU.sparse.minor")?),
            b"size" => size = Some(decimal(v, "GNU.sparse.size")?),
            b"realsize" => realsize = Some(decimal(v, "GNU.sparse.realsize")?),
            b"name" => name = Some(v.to_vec()),
            b"numblocks" => listed = true,
            b"offset" => {
                listed = true;
                offset = Some(decimal(v, "GNU.sparse.offset")?);
            }
            b"numbytes" => {
                let off = offset
                    .take()
                    .ok_or_else(|| sparse_error("GNU.sparse.numbytes without an offset"))?;
                fragments.push((off, decimal(v, "GNU.sparse.numbytes")?));
            }
            b"map" => {
                listed = true;
                let numbers = v
                    .split(|b| *b == b',')
                    .map(|n| decimal(n, "GNU.sparse.map"))
                    .collect::<Result<Vec<_>, _>>()?;
                if numbers.len() % 2 != 0 {
                    return Err(sparse_error("GNU.sparse.map holds an odd count of numbers"));
                }
                fragments.extend(pairs(&numbers));
            }
            _ => {}
        }
        if fragments.len() > MAX_FRAGMENTS {
            return Err(sparse_error("its map lists more than a million fragments"));
        }
    }
    let map_in_data = match (major, minor) {
        (Some(1), Some(0)) => true,
        (None, None) | (Some(0), _) => false,
        (Some(a), b) => {
            return Err(sparse_error(format_args!(
                "unknown sparse format {a}.{}",
                b.unwrap_or(0)
            )));
        }
        (None, Some(_)) => return Err(sparse_error("GNU.sparse.minor without a major")),
    };
    if !map_in_data && !listed {
        return Ok(None);
    }
    let real = realsize
        .or(size)
        .ok_or_else(|| sparse_error("no real size (GNU.sparse.size or realsize)"))?;
    Ok(Some(SparseMap {
        real,
        fragments,
        map_in_data,
        name,
    }))
}

/// A sparse member expanded: zeros for the holes, the stored fragments in
/// between, `real` bytes in all.
struct Expand<'r, R> {
    inner: &'r mut R,
    fragments: Vec<(u64, u64)>,
    real: u64,
    /// Position in the expanded file and the fragment at or after it.
    pos: u64,
    next: usize,
}

impl<'r, R: Read> Expand<'r, R> {
    /// Checks the map against the `stored` bytes of the entry; for format
    /// 1.0 first reads the map from the start of the data.
    fn new(inner: &'r mut R, map: SparseMap, stored: u64) -> Result<Self, Issue> {
        let SparseMap {
            real,
            mut fragments,
            map_in_data,
            ..
        } = map;
        let mut data = stored;
        if map_in_data {
            let (list, used) = read_map(inner, stored)?;
            fragments = list;
            data = stored.saturating_sub(used);
        }
        let mut end = 0u64;
        let mut sum = 0u64;
        for &(off, len) in &fragments {
            let stop = off
                .checked_add(len)
                .ok_or_else(|| sparse_error("a fragment ends past 2^64"))?;
            if off < end {
                return Err(sparse_error("its map is out of order or overlapping"));
            }
            if stop > real {
                return Err(sparse_error("a fragment ends past the real size"));
            }
            end = stop;
            sum = sum.saturating_add(len);
        }
        if sum != data {
            return Err(sparse_error(format_args!(
                "its map lists {sum} data bytes and the member stores {data}"
            )));
        }
        Ok(Self {
            inner,
            fragments,
            real,
            pos: 0,
            next: 0,
        })
    }
}

impl<R> Expand<'_, R> {
    /// The length GNU tar gives the member when the map ends before the
    /// real size (it writes up to the end of the last fragment).
    fn gnu_reading(&self) -> Option<u64> {
        let end = self
            .fragments
            .last()
            .map_or(0, |(off, len)| off.saturating_add(*len));
        (end < self.real).then_some(end)
    }
}

/// Reads a format 1.0 map (decimal lines: the count, then offset and
/// length of each fragment) and the padding to its block boundary; returns
/// the fragments and the bytes it took.
fn read_map<R: Read>(r: &mut R, stored: u64) -> Result<(Vec<(u64, u64)>, u64), Issue> {
    let mut used = 0u64;
    let mut block = [0u8; BLOCK];
    let mut line = Vec::new();
    let mut numbers: Vec<u64> = Vec::new();
    let mut want: Option<u64> = None;
    'blocks: loop {
        if used.saturating_add(BLOCK as u64) > stored {
            return Err(sparse_error("its map runs past the member's data"));
        }
        r.read_exact(&mut block)
            .map_err(|e| sparse_error(format_args!("its map is cut short: {e}")))?;
        used += BLOCK as u64;
        for &b in &block {
            if want.is_some_and(|w| numbers.len() as u64 == w.saturating_mul(2)) {
                break 'blocks;
            }
            if b != b'\n' {
                if line.len() > 20 {
                    return Err(sparse_error("a number in its map is too long"));
                }
                line.push(b);
                continue;
            }
            let n = decimal(&line, "a map line")?;
            line.clear();
            match want {
                None => {
                    if n > MAX_FRAGMENTS as u64 {
                        return Err(sparse_error("its map lists more than a million fragments"));
                    }
                    want = Some(n);
                }
                Some(_) => numbers.push(n),
            }
        }
        if want.is_some_and(|w| numbers.len() as u64 == w.saturating_mul(2)) {
            break;
        }
    }
    Ok((pairs(&numbers).collect(), used))
}

/// (offset, length) pairs of a flat list of numbers.
fn pairs(numbers: &[u64]) -> impl Iterator<Item = (u64, u64)> + '_ {
    numbers.chunks_exact(2).map(|p| {
        (
            p.first().copied().unwrap_or(0),
            p.get(1).copied().unwrap_or(0),
        )
    })
}

impl<R: Read> Read for Expand<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Fragments this position has passed (empty ones included).
        while let Some(&(off, len)) = self.fragments.get(self.next)
            && off.saturating_add(len) <= self.pos
            && self.pos >= off
        {
            self.next += 1;
        }
        if buf.is_empty() || self.pos >= self.real {
            return Ok(0);
        }
        let room = buf.len() as u64;
        match self.fragments.get(self.next).copied() {
            Some((off, len)) if self.pos >= off => {
                let left = off.saturating_add(len).saturating_sub(self.pos);
                let want = usize::try_from(left.min(room)).unwrap_or(buf.len());
                let n = self.inner.read(buf.get_mut(..want).unwrap_or_default())?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "sparse member's data is cut short",
                    ));
                }
                self.pos += n as u64;
                Ok(n)
            }
            next => {
                // A hole: zeros up to the next fragment or the real size.
                let until = next.map_or(self.real, |(off, _)| off);
                let n =
                    usize::try_from(until.saturating_sub(self.pos).min(room)).unwrap_or(buf.len());
                buf.get_mut(..n).unwrap_or_default().fill(0);
                self.pos += n as u64;
                Ok(n)
            }
        }
    }
}

/// The archive's bytes, with every 512-byte block that is a tar header
/// checksummed by the signed byte sum handed over with the unsigned sum in
/// its checksum field instead (what the `tar` crate verifies). Every other
/// byte passes unchanged.
struct SignedSums<'a> {
    data: &'a [u8],
    pos: &'a Cell<usize>,
}

/// The checksum field rewritten for a header block whose signed sum (and
/// not its unsigned sum) matches, if `block` is one.
fn fixed_checksum(block: &[u8]) -> Option<[u8; 8]> {
    let field = block.get(148..156)?;
    // Cheap test first: a checksum field is octal digits, spaces and NULs.
    let looks_octal = field.iter().all(|b| matches!(b, b'0'..=b'7' | b' ' | 0))
        && field.iter().any(u8::is_ascii_digit);
    if !looks_octal {
        return None;
    }
    let sums = tar_sums(block)?;
    if sums.stored == sums.unsigned || sums.stored != sums.signed {
        return None;
    }
    format!("{:06o}\0 ", sums.unsigned)
        .as_bytes()
        .try_into()
        .ok()
}

impl Read for SignedSums<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let pos = self.pos.get();
        let src = self.data.get(pos..).unwrap_or_default();
        let n = src.len().min(buf.len());
        let (Some(dst), Some(src)) = (buf.get_mut(..n), src.get(..n)) else {
            return Ok(0);
        };
        dst.copy_from_slice(src);
        // Patch the checksum fields of the blocks this read covers.
        let first = pos / BLOCK;
        let last = (pos + n).div_ceil(BLOCK);
        for b in first..last {
            let start = b * BLOCK;
            let Some(block) = self.data.get(start..start + BLOCK) else {
                break;
            };
            if let Some(field) = fixed_checksum(block) {
                for (i, byte) in field.iter().enumerate() {
                    let abs = start + 148 + i;
                    if let Some(at) = abs.checked_sub(pos)
                        && let Some(slot) = dst.get_mut(at)
                    {
                        *slot = *byte;
                    }
                }
            }
        }
        self.pos.set(pos + n);
        Ok(n)
    }
}

/// A tar header's checksum field (octal, bytes 148..156) and the sums it
/// may hold: of the 512 header bytes with the field itself as spaces, as
/// unsigned bytes (POSIX) and as signed bytes (old Sun and GNU tars).
pub(crate) struct TarSums {
    pub(crate) stored: i64,
    pub(crate) unsigned: i64,
    pub(crate) signed: i64,
}

pub(crate) fn tar_sums(h: &[u8]) -> Option<TarSums> {
    let field = h.get(148..156)?;
    let text: String = field
        .iter()
        .skip_while(|b| **b == b' ')
        .take_while(|b| (b'0'..=b'7').contains(*b))
        .map(|b| char::from(*b))
        .collect();
    let stored = i64::from_str_radix(&text, 8).ok()?;
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (i, b) in h.iter().take(512).enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { *b };
        unsigned += i64::from(b);
        signed += i64::from(b as i8);
    }
    Some(TarSums {
        stored,
        unsigned,
        signed,
    })
}

/// The header checksum matches the header, summed as unsigned or as signed
/// bytes (GNU tar accepts both).
pub(crate) fn tar_checksum_ok(h: &[u8]) -> bool {
    tar_sums(h).is_some_and(|s| s.stored == s.unsigned || s.stored == s.signed)
}
