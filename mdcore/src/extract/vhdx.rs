//! VHDX disk images ([MS-VHDX] 1.0, as Hyper-V, Windows and `qemu-img`
//! write them): the current of the two headers (CRC-32C checked, the
//! higher sequence number wins), the region table, the metadata region
//! (block size, logical sector size, virtual disk size, whether a parent
//! disk exists) and the block allocation table, whose entries are
//! interleaved with sector-bitmap entries once every "chunk ratio" blocks.
//!
//! The virtual disk is assembled into a zeroed buffer of its size (over the
//! object limit: 13) and handed over as [`disk`](super::disk) does for a
//! VHD: its partitions, or the whole disk when it has no partition table.
//! What mdscan cannot read as Hyper-V would blocks with a note (3): a
//! differencing disk (its parent's blocks are not here), a log holding
//! writes not yet applied (it is not replayed), a required region or
//! metadata item this reader does not know, two valid region tables that
//! disagree. Blocks the table calls unmapped or undefined but still point at
//! bytes in the file are handed over too (a reader may return those
//! bytes), as `[unmapped@OFFSET].bin`.

use super::disk::{emit_virtual, virtual_disk};
use super::{Cx, Extractor, Flow, Issue, Sink, hand_over};
use crate::bytes::{le_u16, le_u32, le_u64};

pub(crate) struct Vhdx;

const KIB: usize = 1024;
const MIB: u64 = 1 << 20;
/// Headers at 64 and 128 KiB, region tables at 192 and 256 KiB.
const HEADERS: [usize; 2] = [64 * KIB, 128 * KIB];
const REGION_TABLES: [usize; 2] = [192 * KIB, 256 * KIB];
const HEADER_LEN: usize = 4 * KIB;
const REGION_TABLE_LEN: usize = 64 * KIB;
/// Region and metadata tables hold at most this many entries.
const MAX_ENTRIES: u32 = 2047;

/// A GUID as it is stored: the first three fields little-endian.
const fn guid(a: u32, b: u16, c: u16, d: [u8; 8]) -> [u8; 16] {
    let a = a.to_le_bytes();
    let b = b.to_le_bytes();
    let c = c.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5], d[6],
        d[7],
    ]
}

const BAT: [u8; 16] = guid(
    0x2DC2_7766,
    0xF623,
    0x4200,
    [0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08],
);
const METADATA: [u8; 16] = guid(
    0x8B7C_A206,
    0x4790,
    0x4B9A,
    [0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E],
);
const FILE_PARAMETERS: [u8; 16] = guid(
    0xCAA1_6737,
    0xFA36,
    0x4D43,
    [0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B],
);
const VIRTUAL_DISK_SIZE: [u8; 16] = guid(
    0x2FA5_4224,
    0xCD1B,
    0x4876,
    [0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8],
);
const VIRTUAL_DISK_ID: [u8; 16] = guid(
    0xBECA_12AB,
    0xB2E6,
    0x4523,
    [0x93, 0xEF, 0xC3, 0x09, 0xE0, 0x00, 0xC7, 0x46],
);
const LOGICAL_SECTOR_SIZE: [u8; 16] = guid(
    0x8141_BF1D,
    0xA96F,
    0x4709,
    [0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F],
);
const PHYSICAL_SECTOR_SIZE: [u8; 16] = guid(
    0xCDA3_48C7,
    0x445D,
    0x4471,
    [0x9C, 0xC9, 0xE9, 0x88, 0x52, 0x51, 0xC5, 0x56],
);
const PARENT_LOCATOR: [u8; 16] = guid(
    0xA8D3_5F2D,
    0xB30B,
    0x454D,
    [0xAB, 0xF7, 0xD3, 0xD8, 0x48, 0x34, 0xAB, 0x0C],
);

/// Payload block states (the low three bits of a BAT entry).
const FULLY_PRESENT: u64 = 6;
const PARTIALLY_PRESENT: u64 = 7;
const UNDEFINED: u64 = 1;
const UNMAPPED: u64 = 3;

/// CRC-32C of `bytes` with the four checksum bytes at 4..8 read as zero.
fn checksum_ok(bytes: &[u8]) -> bool {
    let (Some(head), Some(stored), Some(tail)) = (bytes.get(..4), le_u32(bytes, 4), bytes.get(8..))
    else {
        return false;
    };
    let mut d = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi);
    d.update(head);
    d.update(&[0; 4]);
    d.update(tail);
    d.finalize() == u64::from(stored)
}

/// What the current header says.
struct Header {
    sequence: u64,
    log_dirty: bool,
    log_end: u64,
}

fn header(data: &[u8], at: usize) -> Option<Header> {
    let h = data.get(at..at + HEADER_LEN)?;
    if !h.starts_with(b"head") || !checksum_ok(h) {
        return None;
    }
    let log_guid = h.get(48..64)?;
    let log_len = u64::from(le_u32(h, 68)?);
    let log_offset = le_u64(h, 72)?;
    Some(Header {
        sequence: le_u64(h, 8)?,
        log_dirty: log_guid.iter().any(|b| *b != 0),
        log_end: log_offset.saturating_add(log_len),
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Region {
    guid: [u8; 16],
    offset: u64,
    len: u64,
    required: bool,
}

fn region_table(data: &[u8], at: usize) -> Option<Vec<Region>> {
    let t = data.get(at..at + REGION_TABLE_LEN)?;
    if !t.starts_with(b"regi") || !checksum_ok(t) {
        return None;
    }
    let count = le_u32(t, 8)?;
    if count > MAX_ENTRIES {
        return None;
    }
    (0..count as usize)
        .map(|i| {
            let e = t.get(16 + 32 * i..48 + 32 * i)?;
            Some(Region {
                guid: e.get(..16)?.try_into().ok()?,
                offset: le_u64(e, 16)?,
                len: u64::from(le_u32(e, 24)?),
                required: le_u32(e, 28)? & 1 != 0,
            })
        })
        .collect()
}

/// The metadata items mdscan needs.
struct Meta {
    block: u64,
    has_parent: bool,
    size: u64,
    logical_sector: u64,
}

fn metadata(region: &[u8], damage: &mut Vec<String>) -> Result<Meta, Issue> {
    if !region.starts_with(b"metadata") {
        return Err(Issue::corrupt("VHDX metadata region without its signature"));
    }
    let count = le_u16(region, 10).unwrap_or(0);
    if u32::from(count) > MAX_ENTRIES {
        return Err(Issue::corrupt("VHDX metadata table too long"));
    }
    let (mut block, mut flags, mut size, mut sector) = (None, None, None, None);
    for i in 0..usize::from(count) {
        let Some(e) = region.get(32 + 32 * i..64 + 32 * i) else {
            return Err(Issue::corrupt("VHDX metadata table cut short"));
        };
        let id: [u8; 16] = e
            .get(..16)
            .and_then(|g| g.try_into().ok())
            .unwrap_or_default();
        let from = le_u32(e, 16).unwrap_or(0) as usize;
        let len = le_u32(e, 20).unwrap_or(0) as usize;
        let required = le_u32(e, 24).unwrap_or(0) & 4 != 0;
        let value = region.get(from..from.saturating_add(len));
        if id == FILE_PARAMETERS {
            block = value.and_then(|v| le_u32(v, 0));
            flags = value.and_then(|v| le_u32(v, 4));
        } else if id == VIRTUAL_DISK_SIZE {
            size = value.and_then(|v| le_u64(v, 0));
        } else if id == LOGICAL_SECTOR_SIZE {
            sector = value.and_then(|v| le_u32(v, 0));
        } else if required && ![VIRTUAL_DISK_ID, PHYSICAL_SECTOR_SIZE, PARENT_LOCATOR].contains(&id)
        {
            damage.push("a required metadata item this reader does not know".into());
        }
    }
    let (Some(block), Some(flags), Some(size), Some(sector)) = (block, flags, size, sector) else {
        return Err(Issue::corrupt(
            "VHDX metadata lacks the block size, disk size or sector size",
        ));
    };
    let block = u64::from(block);
    if !(MIB..=256 * MIB).contains(&block) || !block.is_power_of_two() {
        return Err(Issue::corrupt(format!(
            "VHDX block size of {block} bytes is not valid"
        )));
    }
    if sector != 512 && sector != 4096 {
        return Err(Issue::corrupt(format!(
            "VHDX logical sector size of {sector} bytes is not valid"
        )));
    }
    Ok(Meta {
        block,
        has_parent: flags & 2 != 0,
        size,
        logical_sector: u64::from(sector),
    })
}

/// The current header and the region table.
fn layout(data: &[u8], damage: &mut Vec<String>) -> Result<(Header, Vec<Region>), Issue> {
    let header = HEADERS
        .iter()
        .filter_map(|at| header(data, *at))
        .max_by_key(|h| h.sequence)
        .ok_or_else(|| Issue::corrupt("VHDX has no valid header"))?;
    let tables: Vec<Vec<Region>> = REGION_TABLES
        .iter()
        .filter_map(|at| region_table(data, *at))
        .collect();
    let regions = tables
        .first()
        .cloned()
        .ok_or_else(|| Issue::corrupt("VHDX has no valid region table"))?;
    if tables.iter().any(|t| *t != regions) {
        damage.push("its two region tables disagree (the first was read)".into());
    }
    if header.log_dirty {
        damage.push("its log holds writes not applied (the log is not replayed)".into());
    }
    for r in &regions {
        if r.required && r.guid != BAT && r.guid != METADATA {
            damage.push("a required region this reader does not know".into());
        }
    }
    Ok((header, regions))
}

fn slice(data: &[u8], offset: u64, len: u64) -> Option<&[u8]> {
    let from = usize::try_from(offset).ok()?;
    let to = usize::try_from(offset.checked_add(len)?).ok()?;
    data.get(from..to)
}

impl Extractor for Vhdx {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let mut damage = Vec::new();
        let (header, regions) = layout(data, &mut damage)?;
        let find = |g: [u8; 16]| regions.iter().find(|r| r.guid == g);
        let (Some(bat), Some(meta)) = (find(BAT), find(METADATA)) else {
            return Err(Issue::corrupt("VHDX lacks its BAT or metadata region"));
        };
        let meta_bytes = slice(data, meta.offset, meta.len)
            .ok_or_else(|| Issue::corrupt("VHDX metadata region cut short"))?;
        let m = metadata(meta_bytes, &mut damage)?;
        if m.has_parent {
            damage.push(
                "a differencing VHDX: the blocks its parent disk holds are not available".into(),
            );
        }
        let mut disk = virtual_disk("VHDX", m.size, cx)?;
        let table = data
            .get(usize::try_from(bat.offset).unwrap_or(usize::MAX)..)
            .unwrap_or_default();
        let table = table
            .get(
                ..usize::try_from(bat.len)
                    .unwrap_or(usize::MAX)
                    .min(table.len()),
            )
            .unwrap_or_default();
        let chunk_ratio = ((1u64 << 23) * m.logical_sector / m.block).max(1);
        let blocks = m.size.div_ceil(m.block);
        let mut end = [
            header.log_end,
            bat.offset.saturating_add(bat.len),
            meta.offset.saturating_add(meta.len),
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        let mut stale = Vec::new();
        for i in 0..blocks {
            let index = i + i / chunk_ratio;
            let Some(entry) = usize::try_from(index * 8)
                .ok()
                .and_then(|at| le_u64(table, at))
            else {
                damage.push("its block allocation table is cut short".into());
                break;
            };
            let state = entry & 7;
            let offset = (entry >> 20) * MIB;
            match state {
                FULLY_PRESENT | PARTIALLY_PRESENT => {}
                UNDEFINED | UNMAPPED if offset != 0 => {
                    stale.push(offset);
                    continue;
                }
                0..=3 => continue,
                _ => {
                    damage.push(format!("block {i} has an invalid state ({state})"));
                    continue;
                }
            }
            let dest = usize::try_from(i * m.block).unwrap_or(usize::MAX);
            let Some(slot) = disk.get_mut(dest..) else {
                continue;
            };
            let want = slot
                .len()
                .min(usize::try_from(m.block).unwrap_or(usize::MAX));
            let from = usize::try_from(offset).unwrap_or(usize::MAX);
            let src = data.get(from..).unwrap_or_default();
            let src = src.get(..want.min(src.len())).unwrap_or_default();
            if src.len() < want {
                damage.push(format!("block {i} is cut short"));
            }
            if let Some(d) = slot.get_mut(..src.len()) {
                d.copy_from_slice(src);
            }
            end = end.max(offset.saturating_add(want as u64));
        }
        cx.consumed(usize::try_from(end).unwrap_or(usize::MAX).min(data.len()));
        cx.note(format!(
            "VHDX disk of {} bytes in blocks of {} bytes",
            m.size, m.block
        ));
        let mut result = emit_virtual(&disk, cx, sink);
        drop(disk);
        if result.is_ok() {
            for offset in stale {
                let bytes = slice(data, offset, m.block)
                    .or_else(|| data.get(usize::try_from(offset).unwrap_or(usize::MAX)..))
                    .unwrap_or_default();
                if bytes.iter().all(|b| *b == 0) {
                    continue;
                }
                let note = Some("a block the table calls unmapped still points here".into());
                match hand_over(
                    sink,
                    cx,
                    format!("[unmapped@{offset}].bin"),
                    bytes,
                    note,
                    None,
                ) {
                    Ok(Flow::Continue) => {}
                    Ok(Flow::Stop) => break,
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
        }
        if damage.is_empty() {
            result
        } else {
            result?;
            Err(Issue::corrupt(format!("VHDX: {}", damage.join("; "))))
        }
    }
}

/// See [`crate::fuzzing::vhdx_image`].
#[cfg(feature = "fuzzing")]
pub(crate) fn image(data: &[u8]) -> Vec<u8> {
    fn seal(img: &mut [u8], at: usize, len: usize) {
        if let Some(b) = img.get_mut(at + 4..at + 8) {
            b.fill(0);
        }
        let crc = img
            .get(at..at + len)
            .map(|b| crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, b) as u32)
            .unwrap_or(0);
        if let Some(b) = img.get_mut(at + 4..at + 8) {
            b.copy_from_slice(&crc.to_le_bytes());
        }
    }
    let (head, rest) = data.split_at(data.len().min(76));
    let count = rest.first().map_or(0, |c| usize::from(c % 5));
    let rest = rest.get(1..).unwrap_or_default();
    let (entries, rest) = rest.split_at(rest.len().min(32 * count));
    let mut img = vec![0u8; MIB as usize];
    if let Some(b) = img.get_mut(..8) {
        b.copy_from_slice(b"vhdxfile");
    }
    for at in HEADERS {
        if let Some(b) = img.get_mut(at..at + 4) {
            b.copy_from_slice(b"head");
        }
        if let Some(b) = img.get_mut(at + 8..at + 8 + head.len()) {
            b.copy_from_slice(head);
        }
        seal(&mut img, at, HEADER_LEN);
    }
    for at in REGION_TABLES {
        if let Some(b) = img.get_mut(at..at + 4) {
            b.copy_from_slice(b"regi");
        }
        if let Some(b) = img.get_mut(at + 8..at + 12) {
            b.copy_from_slice(&(entries.len() as u32 / 32).to_le_bytes());
        }
        if let Some(b) = img.get_mut(at + 16..at + 16 + entries.len()) {
            b.copy_from_slice(entries);
        }
        seal(&mut img, at, REGION_TABLE_LEN);
    }
    img.extend_from_slice(rest);
    img
}
