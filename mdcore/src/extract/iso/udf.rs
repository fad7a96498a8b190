//! UDF (ECMA-167 as profiled by OSTA UDF 1.02–2.60): the anchor volume
//! descriptor pointer at sector 256 (or at the last sector, or 256 before
//! it), the volume descriptor sequence (main, then reserve), the partition
//! and logical volume descriptors, the file set descriptor, then the
//! directory tree from the root ICB: file entries and extended file
//! entries, short, long, extended and embedded allocation descriptors,
//! allocation extent descriptors, and unrecorded extents read as zeros.
//!
//! Partitions: type 1 and sparable maps are read directly; the metadata
//! partition of UDF 2.50+ through its metadata file (or its mirror). A
//! virtual partition (VAT, CD-R) is not read: damage, so the image blocks.

use std::collections::HashSet;

use super::{Extent, FileRef, Listing, MAX_ENTRIES, slice};
use crate::bytes::utf16be_lossy as utf16_be;
use crate::bytes::{le_u16, le_u32, le_u64};

/// Most allocation descriptors one file may have.
const MAX_EXTENTS: usize = 1 << 16;
/// Most allocation extent descriptors followed for one file.
const MAX_AED: usize = 1024;
/// Largest directory read.
const MAX_DIR: u64 = 64 << 20;

/// The UDF reading of the image, if it has a UDF anchor.
pub(super) fn readings(data: &[u8]) -> Vec<Listing> {
    let Some(vol) = Volume::find(data) else {
        return Vec::new();
    };
    let mut listing = Listing::new("UDF");
    match vol {
        Ok(vol) => vol.walk(&mut listing),
        Err(e) => listing.damage.push(e),
    }
    vec![listing]
}

#[derive(Clone, Copy, Debug)]
enum Map {
    /// A type 1 or sparable partition: blocks from the partition's start.
    Physical {
        partition: u16,
    },
    /// The metadata partition: blocks through the metadata file.
    Metadata {
        partition: u16,
        file: u32,
        mirror: u32,
    },
    Virtual,
}

#[derive(Debug)]
struct Volume<'a> {
    data: &'a [u8],
    block: u64,
    /// Partition number -> (start block, length in blocks).
    partitions: Vec<(u16, u64, u64)>,
    maps: Vec<Map>,
    /// The metadata file's extents (physical byte offsets), per map index.
    metadata: Vec<Option<Vec<Extent>>>,
    fsd: (u32, u16),
}

/// A tag: its identifier, if the bytes hold one whose recorded location
/// is `location` (when given) and whose checksum matches.
fn tag(d: &[u8]) -> Option<u16> {
    let head = d.get(..16)?;
    let sum = head
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 4)
        .fold(0u8, |s, (_, b)| s.wrapping_add(*b));
    (sum == *head.get(4)?).then(|| le_u16(head, 0)).flatten()
}

impl<'a> Volume<'a> {
    /// `None` when the image has no UDF anchor; `Err` when it has one but
    /// the volume can not be set up.
    fn find(data: &'a [u8]) -> Option<Result<Volume<'a>, String>> {
        for block in [2048u64, 512, 4096] {
            let blocks = data.len() as u64 / block;
            for at in [256, blocks.saturating_sub(1), blocks.saturating_sub(257)] {
                if at == 0 {
                    continue;
                }
                let (d, _) = slice(data, at * block, block);
                if tag(d) == Some(2) && le_u32(d, 12).map(u64::from) == Some(at) {
                    return Some(Volume::setup(data, block, d));
                }
            }
        }
        None
    }

    fn setup(data: &'a [u8], block: u64, anchor: &[u8]) -> Result<Volume<'a>, String> {
        let mut last_err = String::from("no volume descriptor sequence");
        // Main, then reserve sequence.
        for at in [16usize, 24] {
            let (Some(len), Some(loc)) = (le_u32(anchor, at), le_u32(anchor, at + 4)) else {
                continue;
            };
            match Volume::sequence(data, block, u64::from(loc), u64::from(len)) {
                Ok(v) => return Ok(v),
                Err(e) => last_err = e,
            }
        }
        Err(last_err)
    }

    fn sequence(data: &'a [u8], block: u64, loc: u64, len: u64) -> Result<Volume<'a>, String> {
        let mut partitions = Vec::new();
        let mut lvd: Option<&[u8]> = None;
        let mut at = loc;
        let mut end = loc + len.div_ceil(block);
        let mut read = 0;
        while at < end && read < 256 {
            read += 1;
            let (d, short) = slice(data, at * block, block);
            if short {
                return Err("the volume descriptor sequence runs past the end".into());
            }
            match tag(d) {
                Some(5) => {
                    if let (Some(n), Some(s), Some(l)) =
                        (le_u16(d, 22), le_u32(d, 188), le_u32(d, 192))
                    {
                        partitions.push((n, u64::from(s), u64::from(l)));
                    }
                }
                Some(6) => lvd = Some(d),
                Some(7) => {
                    // A pointer to the sequence's next extent.
                    if let (Some(l), Some(n)) = (le_u32(d, 16), le_u32(d, 20)) {
                        at = u64::from(n);
                        end = at + u64::from(l).div_ceil(block);
                        continue;
                    }
                }
                Some(8) => break,
                _ => {}
            }
            at += 1;
        }
        let lvd = lvd.ok_or("no logical volume descriptor")?;
        if partitions.is_empty() {
            return Err("no partition descriptor".into());
        }
        let lblock = le_u32(lvd, 212).map_or(block, u64::from);
        if lblock != block {
            return Err(format!(
                "logical block size {lblock} differs from the sector size {block}"
            ));
        }
        let fsd = (le_u32(lvd, 252).unwrap_or(0), le_u16(lvd, 256).unwrap_or(0));
        let count = le_u32(lvd, 268).unwrap_or(0).min(64);
        let mut maps = Vec::new();
        let mut pos = 440usize;
        for _ in 0..count {
            let (Some(kind), Some(mlen)) = (lvd.get(pos), lvd.get(pos + 1)) else {
                return Err("partition maps run past the descriptor".into());
            };
            let m = lvd.get(pos..pos + usize::from(*mlen)).unwrap_or_default();
            let map = match kind {
                1 => Map::Physical {
                    partition: le_u16(m, 4).unwrap_or(0),
                },
                2 => {
                    let id = m.get(5..28).unwrap_or_default();
                    let partition = le_u16(m, 38).unwrap_or(0);
                    if id.starts_with(b"*UDF Metadata Partition") {
                        Map::Metadata {
                            partition,
                            file: le_u32(m, 40).unwrap_or(0),
                            mirror: le_u32(m, 44).unwrap_or(u32::MAX),
                        }
                    } else if id.starts_with(b"*UDF Sparable Partition") {
                        Map::Physical { partition }
                    } else {
                        Map::Virtual
                    }
                }
                _ => return Err(format!("unknown partition map type {kind}")),
            };
            maps.push(map);
            pos += usize::from(*mlen).max(2);
        }
        let mut vol = Volume {
            data,
            block,
            partitions,
            maps,
            metadata: Vec::new(),
            fsd,
        };
        vol.metadata = vol
            .maps
            .clone()
            .iter()
            .map(|m| match m {
                Map::Metadata {
                    partition,
                    file,
                    mirror,
                } => [*file, *mirror].iter().find_map(|f| {
                    let start = vol.partition_start(*partition)?;
                    let entry = vol.entry((start + u64::from(*f)) * block, None)?;
                    Some(entry.extents)
                }),
                _ => None,
            })
            .collect();
        Ok(vol)
    }

    fn partition_start(&self, number: u16) -> Option<u64> {
        self.partitions
            .iter()
            .find(|(n, _, _)| *n == number)
            .map(|(_, s, _)| *s)
    }

    /// The byte offset of logical block `lb` of partition reference `part`.
    fn offset(&self, lb: u32, part: u16) -> Result<u64, String> {
        let map = self
            .maps
            .get(usize::from(part))
            .ok_or_else(|| format!("partition reference {part} is not mapped"))?;
        match map {
            Map::Physical { partition } => {
                let start = self
                    .partition_start(*partition)
                    .ok_or_else(|| format!("partition {partition} is not described"))?;
                Ok((start + u64::from(lb)) * self.block)
            }
            Map::Metadata { .. } => {
                let extents = self
                    .metadata
                    .get(usize::from(part))
                    .and_then(Option::as_ref)
                    .ok_or("the metadata file can not be read")?;
                let mut want = u64::from(lb) * self.block;
                for e in extents {
                    if want < e.len {
                        return Ok(e.offset + want);
                    }
                    want -= e.len;
                }
                Err(format!("block {lb} lies outside the metadata partition"))
            }
            Map::Virtual => Err("a virtual partition (VAT) is not read".into()),
        }
    }

    /// Parses a file entry or extended file entry at `part` (the partition
    /// reference short allocation descriptors are relative to; `None` for
    /// the metadata file, whose descriptors are physical).
    fn entry(&self, offset: u64, part: Option<u16>) -> Option<Entry> {
        let (fe, _) = slice(self.data, offset, self.block);
        let id = tag(fe)?;
        let (ea_at, ad_at, fixed) = match id {
            261 => (168, 172, 176),
            266 => (208, 212, 216),
            _ => return None,
        };
        let file_type = *fe.get(27)?;
        let flags = le_u16(fe, 34)?;
        let size = le_u64(fe, 56)?;
        let l_ea = usize::try_from(le_u32(fe, ea_at)?).ok()?;
        let l_ad = usize::try_from(le_u32(fe, ad_at)?).ok()?;
        let ads_start = fixed + l_ea;
        let Some(ads) = fe.get(ads_start..ads_start.checked_add(l_ad)?) else {
            return Some(Entry {
                file_type,
                size,
                extents: Vec::new(),
                damage: Some("allocation descriptors run past the entry".into()),
            });
        };
        let mut entry = Entry {
            file_type,
            size,
            extents: Vec::new(),
            damage: None,
        };
        if flags & 7 == 3 {
            // Embedded: the data is the descriptor area itself, in place.
            entry.extents.push(Extent {
                offset: offset + ads_start as u64,
                len: size.min(l_ad as u64),
                zeros: false,
            });
            return Some(entry);
        }
        self.allocation(ads, flags & 7, part, &mut entry);
        Some(entry)
    }

    /// Follows allocation descriptors (and allocation extent descriptors)
    /// until the file's size is covered.
    fn allocation(&self, ads: &[u8], kind: u16, part: Option<u16>, entry: &mut Entry) {
        let step = match kind {
            0 => 8,
            1 => 16,
            2 => 20,
            _ => {
                entry.damage = Some(format!("unknown allocation descriptor type {kind}"));
                return;
            }
        };
        let mut ads = ads;
        let mut owned: Vec<u8>;
        let mut covered = 0u64;
        let mut hops = 0;
        'outer: loop {
            let mut next = None;
            for ad in ads.chunks_exact(step) {
                let raw = le_u32(ad, 0).unwrap_or(0);
                let len = u64::from(raw & 0x3fff_ffff);
                let ext_type = raw >> 30;
                if len == 0 {
                    break 'outer;
                }
                let (lb, p) = match kind {
                    0 => (le_u32(ad, 4).unwrap_or(0), part),
                    1 => (le_u32(ad, 4).unwrap_or(0), le_u16(ad, 8)),
                    _ => (le_u32(ad, 12).unwrap_or(0), le_u16(ad, 16)),
                };
                let offset = match p {
                    Some(p) => self.offset(lb, p),
                    // The metadata file: relative to its physical partition.
                    None => self
                        .maps
                        .iter()
                        .find_map(|m| match m {
                            Map::Metadata { partition, .. } => self.partition_start(*partition),
                            _ => None,
                        })
                        .map(|s| (s + u64::from(lb)) * self.block)
                        .ok_or_else(|| "no partition for the metadata file".to_string()),
                };
                let offset = match offset {
                    Ok(o) => o,
                    Err(e) => {
                        entry.damage = Some(e);
                        return;
                    }
                };
                if ext_type == 3 {
                    next = Some(offset);
                    break;
                }
                let len = len.min(entry.size.saturating_sub(covered));
                if len > 0 {
                    entry.extents.push(Extent {
                        offset,
                        len,
                        zeros: ext_type != 0,
                    });
                }
                covered += len;
                if entry.extents.len() > MAX_EXTENTS {
                    entry.damage = Some(format!("more than {MAX_EXTENTS} extents"));
                    return;
                }
            }
            let Some(at) = next else { break };
            hops += 1;
            if hops > MAX_AED {
                entry.damage = Some("too many allocation extent descriptors".into());
                return;
            }
            let (aed, _) = slice(self.data, at, self.block);
            let l_ad = le_u32(aed, 20).map_or(0, |l| l as usize);
            if tag(aed) != Some(258) {
                entry.damage = Some("bad allocation extent descriptor".into());
                return;
            }
            owned = aed.get(24..24 + l_ad).unwrap_or_default().to_vec();
            ads = &owned;
        }
        if covered < entry.size {
            entry.damage = Some(format!(
                "allocation covers {covered} of {} bytes",
                entry.size
            ));
        }
    }

    fn walk(&self, out: &mut Listing) {
        out.end = self
            .partitions
            .iter()
            .map(|(_, s, l)| (s + l) * self.block)
            .max()
            .unwrap_or(0);
        let fsd = match self.offset(self.fsd.0, self.fsd.1) {
            Ok(o) => slice(self.data, o, self.block).0,
            Err(e) => {
                out.damage.push(format!("file set descriptor: {e}"));
                return;
            }
        };
        if tag(fsd) != Some(256) {
            out.damage.push("no file set descriptor".into());
            return;
        }
        let root = (le_u32(fsd, 404).unwrap_or(0), le_u16(fsd, 408).unwrap_or(0));
        let mut stack = vec![(root, String::new(), 0usize)];
        let mut visited = HashSet::new();
        let mut entries = 0usize;
        while let Some(((lb, part), path, depth)) = stack.pop() {
            if !visited.insert((lb, part)) || depth > 64 {
                continue;
            }
            let shown = if path.is_empty() { "/" } else { path.as_str() };
            let dir = match self.read_entry(lb, part) {
                Ok(e) => e,
                Err(e) => {
                    out.damage.push(format!("directory '{shown}': {e}"));
                    continue;
                }
            };
            if let Some(d) = &dir.damage {
                out.damage.push(format!("directory '{shown}': {d}"));
            }
            let mut bytes = Vec::new();
            for e in &dir.extents {
                if bytes.len() as u64 + e.len > MAX_DIR {
                    out.damage.push(format!("directory '{shown}' is too large"));
                    break;
                }
                let (s, short) = slice(self.data, e.offset, e.len);
                if e.zeros {
                    bytes.resize(bytes.len() + e.len as usize, 0);
                } else {
                    bytes.extend_from_slice(s);
                }
                if short {
                    out.damage
                        .push(format!("directory '{shown}' runs past the end"));
                }
            }
            let mut pos = 0usize;
            while pos + 38 <= bytes.len() {
                let fid = bytes.get(pos..).unwrap_or_default();
                if tag(fid) != Some(257) {
                    out.damage
                        .push(format!("bad file identifier in '{shown}' at {pos}"));
                    break;
                }
                let chars = *fid.get(18).unwrap_or(&0);
                let l_fi = usize::from(*fid.get(19).unwrap_or(&0));
                let l_iu = usize::from(le_u16(fid, 36).unwrap_or(0));
                let icb = (le_u32(fid, 24).unwrap_or(0), le_u16(fid, 28).unwrap_or(0));
                let name = fid.get(38 + l_iu..38 + l_iu + l_fi).unwrap_or_default();
                pos += (38 + l_iu + l_fi + 3) & !3;
                entries += 1;
                if entries > MAX_ENTRIES {
                    out.damage.push(format!("more than {MAX_ENTRIES} entries"));
                    return;
                }
                // Parent links and deleted entries.
                if chars & 0x08 != 0 || chars & 0x04 != 0 {
                    continue;
                }
                let name = dstring(name);
                let full = if path.is_empty() {
                    name
                } else {
                    format!("{path}/{name}")
                };
                if chars & 0x02 != 0 {
                    stack.push((icb, full, depth + 1));
                    continue;
                }
                match self.read_entry(icb.0, icb.1) {
                    Ok(e) => {
                        if let Some(d) = e.damage {
                            out.damage.push(format!("'{full}': {d}"));
                        }
                        if e.file_type == 4 {
                            stack.push((icb, full, depth + 1));
                            continue;
                        }
                        if let Some(last) = e.extents.iter().rfind(|e| !e.zeros) {
                            out.end = out.end.max(last.offset + last.len);
                        }
                        out.files.push(FileRef {
                            path: full,
                            extents: e.extents,
                        });
                    }
                    Err(e) => out.damage.push(format!("'{full}': {e}")),
                }
            }
        }
    }

    fn read_entry(&self, lb: u32, part: u16) -> Result<Entry, String> {
        let offset = self.offset(lb, part)?;
        if slice(self.data, offset, self.block).1 {
            return Err("the file entry lies past the end of the image".into());
        }
        self.entry(offset, Some(part))
            .ok_or_else(|| "not a file entry".to_string())
    }
}

#[derive(Debug)]
struct Entry {
    file_type: u8,
    size: u64,
    extents: Vec<Extent>,
    damage: Option<String>,
}

/// An OSTA compressed Unicode name: 8 (or 254) one byte per character, 16
/// (or 255) UTF-16 big-endian.
fn dstring(d: &[u8]) -> String {
    match d.split_first() {
        Some((8 | 254, rest)) => rest.iter().map(|b| char::from(*b)).collect(),
        Some((16 | 255, rest)) => utf16_be(rest),
        _ => String::from_utf8_lossy(d).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(dstring(b"\x08abc"), "abc");
        assert_eq!(dstring(&[16, 0, b'x', 0x26, 0x03]), "x\u{2603}");
    }

    #[test]
    fn tag_checksum() {
        let mut t = [0u8; 16];
        t[0] = 2;
        t[4] = 2;
        assert_eq!(tag(&t), Some(2));
        t[4] = 3;
        assert_eq!(tag(&t), None);
    }
}
