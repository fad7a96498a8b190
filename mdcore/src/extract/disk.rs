//! Disk images: an MBR (with its extended partitions) or GPT partition
//! table, and VHD files (fixed: a raw disk and a footer; dynamic: blocks
//! found through the block allocation table).
//!
//! Each partition becomes a child `[partition-N].img`, detected and opened
//! in turn (FAT, NTFS, ISO …). Every byte of the disk outside the
//! partitions and the partition tables that is not zero becomes a child
//! too, `[unpartitioned@OFFSET].bin`, so nothing hides between partitions.
//! A dynamic VHD is assembled into a zeroed buffer of its virtual size
//! (over the object limit: 13); a differencing VHD's parent is not
//! available, so it blocks (3).

use super::{Cx, Extractor, Flow, Issue, Sink, hand_over};
use crate::bytes::{at, be_u32, be_u64, le_u16, le_u32, le_u64};
use crate::verdict::ResultCode;

pub(crate) struct Partitioned;
pub(crate) struct Vhd;

const SECTOR: u64 = 512;
/// Logical partitions followed through extended boot records.
const MAX_LOGICAL: usize = 128;
/// GPT entries read.
const MAX_GPT_ENTRIES: u64 = 1024;

/// One partition: where it lies on the disk, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Part {
    start: u64,
    len: u64,
}

/// What a partition table says, and which bytes the table itself uses.
#[derive(Debug, Default)]
struct Table {
    parts: Vec<Part>,
    /// Sectors holding the tables (MBR, EBRs, GPT headers and entries).
    meta: Vec<Part>,
    damage: Vec<String>,
    scheme: &'static str,
}

fn mbr_entries(d: &[u8], at: u64) -> Option<[(u8, u64, u64); 4]> {
    let base = usize::try_from(at).ok()?;
    if d.get(base + 510..base + 512) != Some(&[0x55, 0xaa][..]) {
        return None;
    }
    let mut out = [(0u8, 0u64, 0u64); 4];
    for (i, slot) in out.iter_mut().enumerate() {
        let e = base + 446 + 16 * i;
        let kind = *d.get(e + 4)?;
        let lba = u64::from(le_u32(d, e + 8)?);
        let count = u64::from(le_u32(d, e + 12)?);
        *slot = (kind, lba, count);
    }
    Some(out)
}

fn is_extended(kind: u8) -> bool {
    matches!(kind, 0x05 | 0x0f | 0x85)
}

/// Reads the partition table of `d` (an MBR, with a GPT when its
/// protective entry says so).
fn table(d: &[u8]) -> Table {
    let mut t = Table {
        scheme: "MBR",
        ..Table::default()
    };
    t.meta.push(Part {
        start: 0,
        len: SECTOR,
    });
    let Some(entries) = mbr_entries(d, 0) else {
        t.damage.push("no partition table".into());
        return t;
    };
    if entries.iter().any(|(k, _, _)| *k == 0xee) {
        t.scheme = "GPT";
        gpt(d, &mut t);
        return t;
    }
    for (kind, lba, count) in entries {
        if kind == 0 || count == 0 {
            continue;
        }
        let part = Part {
            start: lba * SECTOR,
            len: count * SECTOR,
        };
        if is_extended(kind) {
            logical(d, part.start, &mut t);
        } else {
            t.parts.push(part);
        }
    }
    t
}

/// Follows the chain of extended boot records from `base`.
fn logical(d: &[u8], base: u64, t: &mut Table) {
    let mut ebr = base;
    let mut seen = Vec::new();
    for _ in 0..MAX_LOGICAL {
        if seen.contains(&ebr) {
            t.damage
                .push(format!("extended partition chain loops at {ebr}"));
            return;
        }
        seen.push(ebr);
        t.meta.push(Part {
            start: ebr,
            len: SECTOR,
        });
        let Some(entries) = mbr_entries(d, ebr) else {
            t.damage
                .push(format!("extended boot record at byte {ebr} not readable"));
            return;
        };
        let (kind, lba, count) = entries[0];
        if kind != 0 && count != 0 {
            t.parts.push(Part {
                start: ebr + lba * SECTOR,
                len: count * SECTOR,
            });
        }
        let (next_kind, next_lba, _) = entries[1];
        if next_kind == 0 || next_lba == 0 {
            return;
        }
        ebr = base + next_lba * SECTOR;
    }
    t.damage
        .push(format!("more than {MAX_LOGICAL} logical partitions"));
}

fn gpt(d: &[u8], t: &mut Table) {
    // The primary header at LBA 1; the backup in the last sector.
    let last = (d.len() as u64 / SECTOR).saturating_sub(1);
    let header = [1, last].into_iter().find(|lba| {
        let at = (lba * SECTOR) as usize;
        d.get(at..at + 8) == Some(b"EFI PART")
    });
    let Some(lba) = header else {
        t.damage.push("GPT header not found".into());
        return;
    };
    if lba != 1 {
        t.damage
            .push("primary GPT header missing; the backup was read".into());
    }
    let at = (lba * SECTOR) as usize;
    t.meta.push(Part {
        start: lba * SECTOR,
        len: SECTOR,
    });
    let (Some(entries), Some(count), Some(size)) =
        (le_u64(d, at + 72), le_u32(d, at + 80), le_u32(d, at + 84))
    else {
        t.damage.push("GPT header cut short".into());
        return;
    };
    let size = u64::from(size);
    if size < 128 {
        t.damage.push(format!("GPT entries of {size} bytes"));
        return;
    }
    let count = u64::from(count).min(MAX_GPT_ENTRIES);
    t.meta.push(Part {
        start: entries.saturating_mul(SECTOR),
        len: count * size,
    });
    for i in 0..count {
        let Some(e) = entries
            .checked_mul(SECTOR)
            .and_then(|b| b.checked_add(i * size))
            .and_then(|b| usize::try_from(b).ok())
        else {
            break;
        };
        let Some(guid) = d.get(e..e + 16) else {
            t.damage.push("GPT entries cut short".into());
            return;
        };
        if guid.iter().all(|b| *b == 0) {
            continue;
        }
        let (Some(first), Some(last)) = (le_u64(d, e + 32), le_u64(d, e + 40)) else {
            t.damage.push("GPT entries cut short".into());
            return;
        };
        if last < first {
            t.damage
                .push(format!("GPT entry {} ends before it starts", i + 1));
            continue;
        }
        t.parts.push(Part {
            start: first.saturating_mul(SECTOR),
            len: (last - first + 1).saturating_mul(SECTOR),
        });
    }
}

/// Hands over every partition of `disk` and every non-zero byte outside
/// them. `virtual_len` is the disk's size when the bytes given stop early
/// because the rest is known to be zeros (a sparse VHD).
fn emit_disk(
    disk: &[u8],
    virtual_len: u64,
    cx: &Cx<'_>,
    sink: &mut Sink<'_, '_>,
) -> Result<(), Issue> {
    let t = table(disk);
    if t.parts.is_empty() && !t.damage.is_empty() {
        return Err(Issue::corrupt(format!(
            "disk image: {}",
            t.damage.join("; ")
        )));
    }
    cx.note(format!(
        "{} partition table: {} partitions",
        t.scheme,
        t.parts.len()
    ));
    let len = disk.len() as u64;
    let mut damage = t.damage.clone();
    for (i, p) in t.parts.iter().enumerate() {
        let end = p.start.saturating_add(p.len);
        let name = format!("[partition-{}].img", i + 1);
        let past_image = end > virtual_len;
        let from = usize::try_from(p.start.min(len)).unwrap_or(disk.len());
        let to = usize::try_from(end.min(len)).unwrap_or(disk.len());
        let bytes = disk.get(from..to).unwrap_or_default();
        let issue = past_image.then(|| {
            Issue::corrupt(format!(
                "partition runs past the end of the disk ({end} > {virtual_len} bytes): not whole"
            ))
        });
        if past_image {
            damage.push(format!("{name} runs past the end of the disk"));
        }
        if hand_over(sink, cx, name, bytes, None, issue)? == Flow::Stop {
            return Ok(());
        }
    }
    // Every other byte that is not zero.
    let mut covered: Vec<Part> = t.parts.iter().chain(&t.meta).copied().collect();
    covered.sort_by_key(|p| p.start);
    let mut at = 0u64;
    let mut gaps = Vec::new();
    for p in covered
        .iter()
        .chain(std::iter::once(&Part { start: len, len: 0 }))
    {
        if p.start > at {
            gaps.push(Part {
                start: at,
                len: p.start.min(len) - at.min(len),
            });
        }
        at = at.max(p.start.saturating_add(p.len));
    }
    for g in gaps {
        let (Ok(from), Ok(to)) = (usize::try_from(g.start), usize::try_from(g.start + g.len))
        else {
            continue;
        };
        let Some(bytes) = disk.get(from..to) else {
            continue;
        };
        // A fixed VHD's footer closes the disk.
        if to == disk.len() && bytes.len() == 512 && bytes.starts_with(b"conectix") {
            continue;
        }
        let Some(first) = bytes.iter().position(|b| *b != 0) else {
            continue;
        };
        let last = bytes.iter().rposition(|b| *b != 0).unwrap_or(first);
        let name = format!("[unpartitioned@{}].bin", from + first);
        let note = Some("bytes outside every partition".to_string());
        let data = bytes.get(first..=last).unwrap_or_default();
        if hand_over(sink, cx, name, data, note, None)? == Flow::Stop {
            return Ok(());
        }
    }
    if damage.is_empty() {
        Ok(())
    } else {
        Err(Issue::corrupt(format!("disk image: {}", damage.join("; "))))
    }
}

impl Extractor for Partitioned {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        cx.consumed(data.len());
        emit_disk(data, data.len() as u64, cx, sink)
    }
}

impl Extractor for Vhd {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let footer = data
            .get(..512)
            .ok_or_else(|| Issue::corrupt("VHD footer cut short"))?;
        let kind = be_u32(footer, 60).unwrap_or(0);
        let size = be_u64(footer, 48).unwrap_or(0);
        let header = be_u64(footer, 16)
            .and_then(|o| usize::try_from(o).ok())
            .ok_or_else(|| Issue::corrupt("VHD footer without a header offset"))?;
        let dynamic = data
            .get(header..header + 1024)
            .filter(|h| h.starts_with(b"cxsparse"))
            .ok_or_else(|| Issue::corrupt("VHD dynamic header not found"))?;
        let table = be_u64(dynamic, 16).and_then(|o| usize::try_from(o).ok());
        let entries = be_u32(dynamic, 28).unwrap_or(0) as usize;
        let block = u64::from(be_u32(dynamic, 32).unwrap_or(0));
        let (Some(table), true) = (table, block >= 512 && block.is_power_of_two()) else {
            return Err(Issue::corrupt("VHD dynamic header not valid"));
        };
        let bitmap = (block / 512).div_ceil(8).div_ceil(512) * 512;
        let mut blocks = Vec::new();
        let mut damage = Vec::new();
        if kind == 4 {
            damage.push(
                "a differencing VHD: the blocks its parent disk holds are not available"
                    .to_string(),
            );
        }
        for i in 0..entries {
            let Some(sector) = be_u32(data, table + 4 * i) else {
                damage.push("block allocation table cut short".into());
                break;
            };
            if sector != u32::MAX {
                blocks.push((i as u64, u64::from(sector) * 512 + bitmap));
            }
        }
        let mut disk = virtual_disk("VHD", size, cx)?;
        let mut end = 512usize.max(table + 4 * entries);
        for (i, at) in blocks {
            let (Ok(from), Ok(to)) = (usize::try_from(at), usize::try_from(at + block)) else {
                continue;
            };
            let dest = usize::try_from(i * block).unwrap_or(usize::MAX);
            let Some(slot) = disk.get_mut(dest..) else {
                continue;
            };
            let src = data.get(from..to.min(data.len())).unwrap_or_default();
            if src.len() < block as usize {
                damage.push(format!("block {i} cut short"));
            }
            let n = src.len().min(slot.len());
            if let (Some(s), Some(d)) = (src.get(..n), slot.get_mut(..n)) {
                d.copy_from_slice(s);
            }
            end = end.max(to);
        }
        // The footer repeats after the last block.
        cx.consumed((end + 512).min(data.len()));
        let result = emit_virtual(&disk, cx, sink);
        if damage.is_empty() {
            result
        } else {
            result?;
            Err(Issue::corrupt(format!("VHD: {}", damage.join("; "))))
        }
    }
}

/// A zeroed buffer for a virtual disk of `size` bytes (blocks never
/// written read as zeros; the zeroed allocation stays virtual until
/// written), or 13 when it is over the object limit.
pub(super) fn virtual_disk(what: &str, size: u64, cx: &Cx<'_>) -> Result<Vec<u8>, Issue> {
    let limit = cx.budget.limits.max_object_size;
    match usize::try_from(size) {
        Ok(n) if size <= limit => Ok(vec![0u8; n]),
        _ => Err(Issue::new(
            ResultCode::ExceededArchiveSize,
            format!("{what} disk of {size} bytes, over the object limit of {limit}"),
        )),
    }
}

/// Hands over an assembled virtual disk: its partitions when it has a
/// partition table, else the whole disk as one volume (a "superfloppy").
pub(super) fn emit_virtual(disk: &[u8], cx: &Cx<'_>, sink: &mut Sink<'_, '_>) -> Result<(), Issue> {
    if mbr_entries(disk, 0).is_some() && !is_volume(disk) {
        emit_disk(disk, disk.len() as u64, cx, sink)
    } else {
        hand_over(sink, cx, "[disk].img".into(), disk, None, None).map(|_| ())
    }
}

/// A volume's bytes as a seekable reader of its declared size: reads past
/// the bytes given yield zeros and are remembered, so a file system reader
/// that needed bytes the image does not hold makes the volume damaged,
/// while one cut after everything its file system uses is not.
#[derive(Debug)]
pub(crate) struct Volume<'d> {
    data: &'d [u8],
    len: u64,
    pos: u64,
    /// Set once a read went past the bytes given (shared, so it can be
    /// read after the reader was handed to a file system library).
    pub(crate) overrun: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl<'d> Volume<'d> {
    pub(crate) fn new(data: &'d [u8], declared: u64) -> Self {
        Volume {
            data,
            len: declared.max(data.len() as u64),
            pos: 0,
            overrun: std::sync::Arc::default(),
        }
    }
}

impl std::io::Read for Volume<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let n = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
        let Some(out) = buf.get_mut(..n) else {
            return Ok(0);
        };
        let have = self.data.len() as u64;
        let start = usize::try_from(self.pos.min(have)).unwrap_or(self.data.len());
        let real = self.data.get(start..).unwrap_or_default();
        let copy = real.len().min(n);
        let (head, tail) = out.split_at_mut(copy);
        head.copy_from_slice(real.get(..copy).unwrap_or_default());
        tail.fill(0);
        if !tail.is_empty() {
            self.overrun
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl std::io::Seek for Volume<'_> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        let target = match pos {
            std::io::SeekFrom::Start(p) => Some(p),
            std::io::SeekFrom::End(d) => self.len.checked_add_signed(d),
            std::io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let target = target.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        self.pos = target;
        Ok(target)
    }
}

/// A volume boot sector: FAT12/16/32, NTFS or exFAT (not a partition
/// table, though both end in 55 AA).
pub(crate) fn is_volume(p: &[u8]) -> bool {
    fat_boot_sector(p) || ntfs_boot_sector(p) || at(p, 3, b"EXFAT   ")
}

/// A FAT12/16/32 boot sector: a jump, a sane BIOS parameter block, 55 AA.
pub(crate) fn fat_boot_sector(p: &[u8]) -> bool {
    let jump = (p.first() == Some(&0xeb) && p.get(2) == Some(&0x90)) || p.first() == Some(&0xe9);
    let (Some(bps), Some(&spc), Some(reserved), Some(&fats), Some(&media)) = (
        le_u16(p, 11),
        p.get(13),
        le_u16(p, 14),
        p.get(16),
        p.get(21),
    ) else {
        return false;
    };
    jump && at(p, 510, &[0x55, 0xaa])
        && matches!(bps, 512 | 1024 | 2048 | 4096)
        && spc.is_power_of_two()
        && reserved >= 1
        && (1..=2).contains(&fats)
        && (media == 0xf0 || media >= 0xf8)
        && !at(p, 3, b"NTFS    ")
        && !at(p, 3, b"EXFAT   ")
}

/// An NTFS boot sector.
pub(crate) fn ntfs_boot_sector(p: &[u8]) -> bool {
    at(p, 3, b"NTFS    ") && at(p, 510, &[0x55, 0xaa])
}
