//! ISO 9660 (ECMA-119) with its extensions: Joliet (UCS-2 names in a
//! supplementary volume descriptor), Rock Ridge (SUSP `NM` names, `CE`
//! continuation areas, `CL`/`RE` relocated directories), multi-extent
//! files, interleaved files, El Torito boot catalogs, and multi-session
//! images (a volume descriptor set at the start of every session; the
//! last session's set is usually copied to sector 16 as well).
//!
//! Each directory tree is one [`Listing`]. Earlier sessions are found by
//! their primary volume descriptors at any sector outside the files the
//! trees already list (a nested `.iso` file is a child, not a session).

use std::collections::HashSet;

use super::{Extent, FileRef, Listing, MAX_ENTRIES, slice};
use crate::bytes::utf16be_lossy as utf16_be;
use crate::bytes::{le_u16, le_u32};

const SECTOR: u64 = 2048;
/// Most volume descriptors read in one set.
const MAX_DESCRIPTORS: u64 = 64;
/// Most Rock Ridge continuation areas followed for one record.
const MAX_CONTINUATIONS: usize = 16;
/// Most El Torito catalog entries read.
const MAX_BOOT_ENTRIES: usize = 256;

/// Every reading of the ISO 9660 file systems on the image.
pub(super) fn readings(data: &[u8]) -> Vec<Listing> {
    let mut out = Vec::new();
    let mut entries = 0usize;
    let mut sets = vec![16u64];
    let mut done: HashSet<u64> = HashSet::new();
    let mut boot_done = false;
    while let Some(first) = sets.pop() {
        if !done.insert(first) || done.len() > 64 {
            continue;
        }
        let session = (first != 16).then(|| first - 16);
        let set = descriptors(data, first);
        for (i, tree) in set.trees.iter().enumerate() {
            let name = match (session, tree.joliet, i) {
                (None, false, 0) => "ISO 9660".to_string(),
                (None, true, _) => "Joliet".to_string(),
                (None, false, _) => format!("ISO 9660 (descriptor {})", i + 1),
                (Some(s), false, _) => format!("ISO 9660 session at sector {s}"),
                (Some(s), true, _) => format!("Joliet session at sector {s}"),
            };
            let mut listing = Listing::new(name);
            walk(data, tree, &mut listing, &mut entries);
            out.push(listing);
        }
        if !boot_done && let Some(catalog) = set.boot_catalog {
            boot_done = true;
            let mut listing = Listing::new("El Torito");
            boot_images(data, catalog, set.block, &mut listing);
            out.push(listing);
        }
        if session.is_none() {
            sets.extend(earlier_sessions(data, &out));
        }
    }
    out
}

/// A directory tree's root, from a primary or supplementary descriptor.
#[derive(Debug)]
struct Tree {
    root_lba: u64,
    root_len: u64,
    block: u64,
    joliet: bool,
    volume_end: u64,
}

#[derive(Debug, Default)]
struct DescriptorSet {
    trees: Vec<Tree>,
    boot_catalog: Option<u64>,
    block: u64,
}

fn descriptors(data: &[u8], first: u64) -> DescriptorSet {
    let mut set = DescriptorSet {
        block: SECTOR,
        ..DescriptorSet::default()
    };
    for n in 0..MAX_DESCRIPTORS {
        let (d, short) = slice(data, (first + n) * SECTOR, SECTOR);
        if short || d.get(1..6) != Some(b"CD001") {
            break;
        }
        match d.first() {
            Some(0) if d.get(7..30) == Some(b"EL TORITO SPECIFICATION") => {
                set.boot_catalog = le_u32(d, 0x47).map(u64::from);
            }
            Some(t @ (1 | 2)) => {
                let escape = d.get(88..91).unwrap_or_default();
                let joliet = *t == 2 && matches!(escape, [0x25, 0x2f, 0x40 | 0x43 | 0x45]);
                let block = le_u16(d, 128).map_or(SECTOR, u64::from);
                let block = if matches!(block, 512 | 1024 | 2048) {
                    block
                } else {
                    SECTOR
                };
                if *t == 1 {
                    set.block = block;
                }
                // A supplementary descriptor that is not Joliet (an
                // enhanced volume descriptor, version 2) still has a tree.
                let root = d.get(156..190).unwrap_or_default();
                if let (Some(lba), Some(len)) = (le_u32(root, 2), le_u32(root, 10)) {
                    set.trees.push(Tree {
                        root_lba: u64::from(lba),
                        root_len: u64::from(len),
                        block,
                        joliet,
                        volume_end: le_u32(d, 80).map_or(0, |n| u64::from(n) * block),
                    });
                }
            }
            Some(255) => break,
            _ => {}
        }
    }
    set
}

/// Primary volume descriptors of earlier sessions: at a sector no listed
/// file occupies, 16 sectors after the session's start.
fn earlier_sessions(data: &[u8], listings: &[Listing]) -> Vec<u64> {
    let mut taken: Vec<(u64, u64)> = listings
        .iter()
        .flat_map(|l| l.files.iter())
        .flat_map(|f| f.extents.iter())
        .filter(|e| !e.zeros && e.len > 0)
        .map(|e| (e.offset, e.offset.saturating_add(e.len)))
        .collect();
    taken.sort_unstable();
    let inside = |off: u64| {
        let i = taken.partition_point(|(start, _)| *start <= off);
        taken
            .get(..i)
            .unwrap_or_default()
            .iter()
            .rev()
            .take(64)
            .any(|(s, e)| *s <= off && off < *e)
    };
    // The last session's descriptors are usually copied to sector 16.
    let newest = slice(data, 16 * SECTOR, SECTOR).0;
    let mut found = Vec::new();
    let sectors = data.len() as u64 / SECTOR;
    for s in 17..sectors {
        let Ok(off) = usize::try_from(s * SECTOR) else {
            break;
        };
        if data.get(off) == Some(&1)
            && data.get(off + 1..off + 6) == Some(b"CD001")
            && data.get(off + 6) == Some(&1)
            && !inside(s * SECTOR)
            && data.get(off..off + SECTOR as usize) != Some(newest)
        {
            found.push(s);
        }
        if found.len() >= 64 {
            break;
        }
    }
    found
}

/// Walks a directory tree, adding every file to the listing.
fn walk(data: &[u8], tree: &Tree, out: &mut Listing, entries: &mut usize) {
    out.end = out.end.max(tree.volume_end);
    let mut stack = vec![(tree.root_lba, tree.root_len, String::new(), 0usize)];
    let mut visited: HashSet<u64> = HashSet::new();
    let mut skip = 0usize;
    let mut first_dir = true;
    while let Some((lba, len, path, depth)) = stack.pop() {
        if !visited.insert(lba) {
            continue;
        }
        if depth > 64 {
            out.damage
                .push(format!("directories nested deeper than 64 at {path}"));
            continue;
        }
        let offset = lba * tree.block;
        let (dir, short) = slice(data, offset, len.min(64 << 20));
        if short {
            out.damage.push(format!(
                "directory '{}' runs past the end of the image",
                display(&path)
            ));
        }
        out.end = out.end.max(offset + dir.len() as u64);
        let mut pos = 0usize;
        let mut pending: Option<(String, Vec<Extent>)> = None;
        let mut index = 0usize;
        while pos < dir.len() {
            let rec_len = usize::from(*dir.get(pos).unwrap_or(&0));
            if rec_len == 0 {
                // Records do not cross sectors: the rest of this one is padding.
                pos = (pos / SECTOR as usize + 1) * SECTOR as usize;
                continue;
            }
            let Some(rec) = dir.get(pos..pos + rec_len).filter(|_| rec_len >= 34) else {
                out.damage.push(format!(
                    "bad directory record at offset {} of '{}'",
                    pos,
                    display(&path)
                ));
                break;
            };
            pos += rec_len;
            index += 1;
            *entries += 1;
            if *entries > MAX_ENTRIES {
                out.damage
                    .push(format!("more than {MAX_ENTRIES} directory records"));
                return;
            }
            let name_len = usize::from(*rec.get(32).unwrap_or(&0));
            let raw_name = rec.get(33..33 + name_len).unwrap_or_default();
            let su_start = 33 + name_len + usize::from(name_len % 2 == 0);
            let system_use = rec.get(su_start..).unwrap_or_default();
            if index == 1 && first_dir && !tree.joliet {
                // The root's "." record: a SUSP "SP" entry says how many
                // bytes to skip in every system use area.
                if system_use.get(0..2) == Some(b"SP") {
                    skip = usize::from(*system_use.get(6).unwrap_or(&0));
                }
            }
            if raw_name == [0] || raw_name == [1] {
                continue;
            }
            let susp = if tree.joliet {
                Susp::default()
            } else {
                susp(data, system_use.get(skip..).unwrap_or_default(), tree.block)
            };
            if susp.relocated {
                // Listed again where its CL entry stands.
                continue;
            }
            let name = susp.name.unwrap_or_else(|| iso_name(raw_name, tree.joliet));
            let full = if path.is_empty() {
                name
            } else {
                format!("{path}/{name}")
            };
            let flags = *rec.get(25).unwrap_or(&0);
            let ext_attr = u64::from(*rec.get(1).unwrap_or(&0));
            let extent_lba = u64::from(le_u32(rec, 2).unwrap_or(0));
            let size = u64::from(le_u32(rec, 10).unwrap_or(0));
            if let Some(child) = susp.child_link {
                // A relocated directory: its size is in its own "." record.
                let (first, _) = slice(data, child * tree.block, 34);
                let len = u64::from(le_u32(first, 10).unwrap_or(0));
                stack.push((child, len, full, depth + 1));
                continue;
            }
            if flags & 0x02 != 0 {
                stack.push((extent_lba, size, full, depth + 1));
                continue;
            }
            let start = (extent_lba + ext_attr) * tree.block;
            let unit = u64::from(*rec.get(26).unwrap_or(&0));
            let gap = u64::from(*rec.get(27).unwrap_or(&0));
            let mut extents = interleaved(start, size, unit * tree.block, gap * tree.block);
            match pending.take() {
                Some((p, mut before)) if p == full => {
                    before.append(&mut extents);
                    extents = before;
                }
                Some((p, before)) => unfinished(out, p, before),
                None => {}
            }
            if let Some(last) = extents.last() {
                out.end = out.end.max(last.offset.saturating_add(last.len));
            }
            if flags & 0x80 != 0 {
                pending = Some((full, extents));
            } else {
                out.files.push(FileRef {
                    path: full,
                    extents,
                });
            }
        }
        if let Some((p, before)) = pending {
            unfinished(out, p, before);
        }
        first_dir = false;
    }
}

/// A multi-extent file whose last extent never came: listed with what it
/// has, and damage.
fn unfinished(out: &mut Listing, path: String, extents: Vec<Extent>) {
    out.damage.push(format!(
        "multi-extent file '{}' has no last extent",
        display(&path)
    ));
    out.files.push(FileRef { path, extents });
}

fn display(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

/// An interleaved file is recorded in units of `unit` bytes separated by
/// gaps of `gap` bytes; a plain file is one extent.
fn interleaved(start: u64, size: u64, unit: u64, gap: u64) -> Vec<Extent> {
    if unit == 0 || gap == 0 {
        return vec![Extent {
            offset: start,
            len: size,
            zeros: false,
        }];
    }
    let mut out = Vec::new();
    let mut at = start;
    let mut left = size;
    while left > 0 && out.len() < 1 << 16 {
        let n = left.min(unit);
        out.push(Extent {
            offset: at,
            len: n,
            zeros: false,
        });
        left -= n;
        at = at.saturating_add(unit + gap);
    }
    if left > 0 {
        out.push(Extent {
            offset: at,
            len: left,
            zeros: false,
        });
    }
    out
}

/// An ISO 9660 or Joliet file identifier: the version (`;1`) and a
/// trailing dot of a name without extension dropped.
fn iso_name(raw: &[u8], joliet: bool) -> String {
    let name = if joliet {
        utf16_be(raw)
    } else {
        raw.iter().map(|b| char::from(*b)).collect()
    };
    let base = match name.rsplit_once(';') {
        Some((b, v)) if v.chars().all(|c| c.is_ascii_digit()) => b.to_string(),
        _ => name,
    };
    match base.strip_suffix('.') {
        Some(b) if !b.is_empty() => b.to_string(),
        _ => base,
    }
}

/// What a record's Rock Ridge entries say.
#[derive(Debug, Default)]
struct Susp {
    name: Option<String>,
    child_link: Option<u64>,
    relocated: bool,
}

fn susp(data: &[u8], area: &[u8], block: u64) -> Susp {
    let mut out = Susp::default();
    let mut name: Option<Vec<u8>> = None;
    let mut area = area;
    let mut hops = 0usize;
    loop {
        let mut next = None;
        let mut pos = 0usize;
        while let (Some(sig), Some(len)) = (area.get(pos..pos + 2), area.get(pos + 2)) {
            let len = usize::from(*len);
            let Some(entry) = area.get(pos..pos + len).filter(|_| len >= 4) else {
                break;
            };
            match sig {
                b"NM" => {
                    let flags = *entry.get(4).unwrap_or(&0);
                    if flags & 0x06 == 0 {
                        name.get_or_insert_with(Vec::new)
                            .extend_from_slice(entry.get(5..).unwrap_or_default());
                    }
                }
                b"CE" => {
                    if let (Some(b), Some(o), Some(l)) =
                        (le_u32(entry, 4), le_u32(entry, 12), le_u32(entry, 20))
                    {
                        next = Some((u64::from(b) * block + u64::from(o), u64::from(l)));
                    }
                }
                b"CL" => out.child_link = le_u32(entry, 4).map(u64::from),
                b"RE" => out.relocated = true,
                b"ST" => break,
                _ => {}
            }
            pos += len;
        }
        hops += 1;
        match next {
            Some((off, len)) if hops <= MAX_CONTINUATIONS => {
                area = slice(data, off, len.min(SECTOR)).0;
            }
            _ => break,
        }
    }
    out.name = name
        .filter(|n| !n.is_empty())
        .map(|n| String::from_utf8_lossy(&n).into_owned());
    out
}

/// The boot images an El Torito catalog lists, as files `[boot]/boot-N.img`.
fn boot_images(data: &[u8], catalog: u64, block: u64, out: &mut Listing) {
    let (cat, short) = slice(data, catalog * block, SECTOR);
    if short {
        out.damage
            .push("the boot catalog lies past the end of the image".into());
        return;
    }
    if cat.first() != Some(&1) || cat.get(30..32) != Some(&[0x55, 0xaa][..]) {
        out.damage
            .push("the boot catalog has no validation entry".into());
        return;
    }
    let mut n = 0usize;
    for entry in cat.chunks_exact(32).skip(1).take(MAX_BOOT_ENTRIES) {
        let indicator = *entry.first().unwrap_or(&0);
        // Section headers (0x90, 0x91) and extensions (0x44) carry no image.
        if !matches!(indicator, 0x88 | 0x00) {
            continue;
        }
        let count = u64::from(le_u16(entry, 6).unwrap_or(0));
        let rba = u64::from(le_u32(entry, 8).unwrap_or(0));
        if rba == 0 {
            continue;
        }
        let media = entry.get(1).map_or(0, |m| m & 0x0f);
        let start = rba * block;
        let len = match media {
            1 => 1200 << 10,
            2 => 1440 << 10,
            3 => 2880 << 10,
            4 => hard_disk_size(slice(data, start, 512).0).unwrap_or(count * 512),
            _ => (count * 512).max(512),
        };
        n += 1;
        out.files.push(FileRef {
            path: format!("[boot]/boot-{n}.img"),
            extents: vec![Extent {
                offset: start,
                len,
                zeros: false,
            }],
        });
        out.end = out.end.max(start.saturating_add(len));
    }
}

/// A hard-disk emulation image's size: where its last MBR partition ends.
fn hard_disk_size(mbr: &[u8]) -> Option<u64> {
    if mbr.get(510..512) != Some(&[0x55, 0xaa][..]) {
        return None;
    }
    (0..4)
        .filter_map(|i| {
            let e = 446 + 16 * i;
            let start = u64::from(le_u32(mbr, e + 8)?);
            let count = u64::from(le_u32(mbr, e + 12)?);
            Some((start + count) * 512)
        })
        .max()
        .filter(|s| *s > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(iso_name(b"README.TXT;1", false), "README.TXT");
        assert_eq!(iso_name(b"NOEXT.;1", false), "NOEXT");
        assert_eq!(iso_name(&[0, b'a', 0, b';', 0, b'1'], true), "a");
    }

    #[test]
    fn interleaving() {
        let e = interleaved(0, 5000, 2048, 2048);
        assert_eq!(e.len(), 3);
        assert_eq!(e[1].offset, 4096);
        assert_eq!(e[2].len, 5000 - 4096);
    }
}
