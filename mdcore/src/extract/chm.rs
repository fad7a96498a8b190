//! Compiled HTML Help (`.chm`, ITSF), read from its published layout (the
//! same one 7-Zip, libmspack and chmlib read).
//!
//! - The ITSF header gives the directory (ITSP) and where content section 0
//!   (stored bytes) starts.
//! - Every listing chunk (PMGL) of the directory is read, linked or not,
//!   so an entry only a chunk outside the chain lists is still examined.
//! - Section 0 files are slices of the file. Section 1 ("MSCompressed") is
//!   one LZX stream: its frames (32 KiB each) are located by the reset
//!   table, decoded by `lzxd` with the decoder reset at every reset
//!   interval of the LZXC control data, and files are slices of the
//!   decoded section.
//! - The section is decoded only as far as the files that lie in it reach,
//!   charged to the extraction limit as it is decoded (and its files again
//!   when handed over), and never past half of what is left of that limit
//!   (further files: 13). A frame the table does not locate, or one that does not decode,
//!   leaves the files behind it not whole (3).
//!
//! Every entry with data is a child, named by its path, except the storage
//! entries this reader consumes itself (the compressed stream, its control
//! data, reset table, span, transform list and the section name list).

use super::{Child, Cx, Entry, Extractor, Flow, Issue, Sink, hand_over, sanitize_name};
use crate::blob::{Blob, BlobWriter};
use crate::bytes::{le_u32, le_u64};
use crate::verdict::ResultCode;

pub(crate) struct Chm;

const CONTENT: &str = "::DataSpace/Storage/MSCompressed/Content";
const CONTROL: &str = "::DataSpace/Storage/MSCompressed/ControlData";
const RESET_TABLE: &str = "::DataSpace/Storage/MSCompressed/Transform/\
                           {7FC28940-9D31-11D0-9B27-00A0C91E9C7C}/InstanceData/ResetTable";
const SPAN: &str = "::DataSpace/Storage/MSCompressed/SpanInfo";
const TRANSFORMS: &str = "::DataSpace/Storage/MSCompressed/Transform/List";
const NAME_LIST: &str = "::DataSpace/NameList";
/// The storage entries this reader consumes (or, for the transform list,
/// knows to name only the LZX transform).
const CONSUMED: [&str; 6] = [CONTENT, CONTROL, RESET_TABLE, SPAN, TRANSFORMS, NAME_LIST];
/// LZX frames are 32 KiB of output each.
const FRAME: u64 = 0x8000;
/// Directory chunks larger than this are not CHM as any writer makes it.
const MAX_CHUNK: u32 = 1 << 20;

/// One directory entry.
#[derive(Debug, Clone)]
struct Item {
    name: String,
    section: u64,
    offset: u64,
    length: u64,
}

/// A big-endian base-128 number (7 bits a byte, high bit: more follow).
fn encint(d: &[u8], at: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    for _ in 0..10 {
        let b = *d.get(*at)?;
        *at += 1;
        v = v.checked_mul(128)?.checked_add(u64::from(b & 0x7f))?;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The entries of one PMGL chunk; `false` when its listing is damaged.
fn list_chunk(chunk: &[u8], out: &mut Vec<Item>) -> bool {
    let size = chunk.len();
    let free = le_u32(chunk, 4).map_or(size, |f| f as usize);
    let (end, mut whole) = match size.checked_sub(free) {
        Some(e) if e >= 0x14 => (e, true),
        _ => (size, false),
    };
    let Some(list) = chunk.get(..end) else {
        return false;
    };
    let mut at = 0x14;
    while at < list.len() {
        let entry = (|| {
            let len = usize::try_from(encint(list, &mut at)?).ok()?;
            let name = list.get(at..at.checked_add(len)?)?;
            at += len;
            let section = encint(list, &mut at)?;
            let offset = encint(list, &mut at)?;
            let length = encint(list, &mut at)?;
            (len > 0).then(|| Item {
                name: String::from_utf8_lossy(name).into_owned(),
                section,
                offset,
                length,
            })
        })();
        match entry {
            Some(item) => out.push(item),
            None => {
                // A chunk whose free-space field was wrong runs into its
                // quick-reference area: that is where its listing ends.
                whole = false;
                break;
            }
        }
    }
    whole
}

/// The directory: every entry of every PMGL chunk.
fn directory(data: &[u8], dir_off: usize, dir_len: u64) -> Result<(Vec<Item>, bool), Issue> {
    let itsp = data
        .get(dir_off..)
        .filter(|d| d.starts_with(b"ITSP"))
        .ok_or_else(|| Issue::corrupt("CHM directory header (ITSP) missing"))?;
    let (Some(header_len), Some(chunk_size), Some(chunks)) =
        (le_u32(itsp, 8), le_u32(itsp, 0x10), le_u32(itsp, 0x2c))
    else {
        return Err(Issue::corrupt("CHM directory header cut short"));
    };
    if !(0x20..=MAX_CHUNK).contains(&chunk_size) {
        return Err(Issue::corrupt(format!(
            "CHM directory chunk size {chunk_size} is not plausible"
        )));
    }
    let chunk_size = chunk_size as usize;
    let first = dir_off.saturating_add(header_len as usize);
    // Chunks the directory's length and the file hold, whatever the count
    // field says (a count that disagrees is damage).
    let fits_dir = usize::try_from(dir_len.saturating_sub(u64::from(header_len)))
        .unwrap_or(usize::MAX)
        / chunk_size;
    let fits_file = data.len().saturating_sub(first) / chunk_size;
    let mut whole = chunks as usize <= fits_dir.min(fits_file);
    let mut items = Vec::new();
    for i in 0..(chunks as usize).min(fits_dir).min(fits_file) {
        let at = first + i * chunk_size;
        let Some(chunk) = data.get(at..at + chunk_size) else {
            whole = false;
            break;
        };
        if chunk.starts_with(b"PMGL") {
            whole &= list_chunk(chunk, &mut items);
        }
    }
    Ok((items, whole))
}

/// The LZX parameters of section 1 and its decoded bytes.
struct Compressed {
    decoded: Blob,
    /// Why the section ends where `decoded` ends, if before its declared
    /// length.
    short: Option<Issue>,
}

fn find<'i>(items: &'i [Item], name: &str) -> Option<&'i Item> {
    items.iter().find(|i| i.name == name && i.section == 0)
}

/// The bytes of a section 0 entry.
fn stored<'d>(data: &'d [u8], content: u64, item: &Item) -> Option<&'d [u8]> {
    let start = usize::try_from(content.checked_add(item.offset)?).ok()?;
    let end = start.checked_add(usize::try_from(item.length).ok()?)?;
    data.get(start..end)
}

/// Where a section 0 entry ends in the file.
fn stored_end(content: u64, item: &Item) -> Option<usize> {
    usize::try_from(content.checked_add(item.offset)?.checked_add(item.length)?).ok()
}

/// `len` bytes of `d` from `start`, or as many as there are (`true`: cut).
fn slice(d: &[u8], start: usize, len: u64) -> (&[u8], bool) {
    let part = d.get(start..).unwrap_or_default();
    match usize::try_from(len).ok().and_then(|l| part.get(..l)) {
        Some(whole) => (whole, false),
        None => (part, true),
    }
}

/// Decodes section 1 up to `need` bytes (and no further than the budget
/// allows).
fn decode_section(
    data: &[u8],
    content: u64,
    items: &[Item],
    need: u64,
    cx: &Cx<'_>,
) -> Result<Compressed, Issue> {
    let part = |name: &str| {
        find(items, name)
            .and_then(|i| stored(data, content, i))
            .ok_or_else(|| Issue::corrupt(format!("CHM storage entry `{name}` missing or cut")))
    };
    let stream = part(CONTENT)?;
    let control = part(CONTROL)?;
    let table = part(RESET_TABLE)?;
    if control.get(4..8) != Some(b"LZXC") {
        return Err(Issue::new(
            ResultCode::UnsupportedFileType,
            "CHM compressed section is not LZX: not decoded",
        ));
    }
    let (Some(version), Some(interval), Some(window)) =
        (le_u32(control, 8), le_u32(control, 12), le_u32(control, 16))
    else {
        return Err(Issue::corrupt("CHM LZX control data cut short"));
    };
    let unit = if version == 2 { FRAME } else { 1 };
    let (interval, window) = (u64::from(interval) * unit, u64::from(window) * unit);
    let window = match window {
        0x8000 => lzxd::WindowSize::KB32,
        0x1_0000 => lzxd::WindowSize::KB64,
        0x2_0000 => lzxd::WindowSize::KB128,
        0x4_0000 => lzxd::WindowSize::KB256,
        0x8_0000 => lzxd::WindowSize::KB512,
        0x10_0000 => lzxd::WindowSize::MB1,
        0x20_0000 => lzxd::WindowSize::MB2,
        w => {
            return Err(Issue::corrupt(format!(
                "CHM LZX window of {w} bytes is not valid"
            )));
        }
    };
    if interval == 0 || !interval.is_multiple_of(FRAME) {
        return Err(Issue::corrupt(format!(
            "CHM LZX reset interval of {interval} bytes is not a whole number of frames"
        )));
    }
    let frames_per_reset = interval / FRAME;
    let (Some(entries), Some(entry_size), Some(table_head), Some(length), Some(frame_len)) = (
        le_u32(table, 4),
        le_u32(table, 8),
        le_u32(table, 12),
        le_u64(table, 16),
        le_u64(table, 32),
    ) else {
        return Err(Issue::corrupt("CHM LZX reset table cut short"));
    };
    if entry_size != 8 || frame_len != FRAME {
        return Err(Issue::corrupt(
            "CHM LZX reset table has an entry size or frame length no writer uses",
        ));
    }
    let offset_of = |frame: u64| -> Option<usize> {
        if frame >= u64::from(entries) {
            return None;
        }
        let at = usize::try_from(frame.checked_mul(8)?.checked_add(u64::from(table_head))?).ok()?;
        usize::try_from(le_u64(table, at)?).ok()
    };
    // The decoded section is charged to the budget as it is decoded (it is
    // decompression work, and keeps the ratio limit honest), and its files
    // again when handed over: it may take half of what is left.
    let room = cx.budget.room() / 2;
    let target = need.min(length);
    let mut short = (need > length).then(|| {
        Issue::corrupt(format!(
            "files reach past the {length} bytes the compressed section declares"
        ))
    });
    let target = if target > room {
        short = Some(Issue::new(
            ResultCode::ExceededArchiveSize,
            format!(
                "CHM compressed section needs {target} bytes decoded, more than half of \
                 what is left of the extraction limit ({room} bytes): decoded as far as that"
            ),
        ));
        room
    } else {
        target
    };
    let mut out = BlobWriter::new(cx.budget.limits.spill_threshold);
    let mut lzx = lzxd::Lzxd::new(window);
    let mut frame = 0u64;
    while out.len() < target {
        cx.budget.check().map_err(Issue::stopped)?;
        if frame > 0 && frame.is_multiple_of(frames_per_reset) {
            lzx.reset();
        }
        let (Some(start), next) = (offset_of(frame), offset_of(frame + 1)) else {
            short = Some(Issue::corrupt(format!(
                "the CHM reset table does not locate frame {frame}: the rest of the \
                 compressed section is not decoded"
            )));
            break;
        };
        let end = next.unwrap_or(stream.len());
        let Some(chunk) = stream.get(start..end.max(start)) else {
            short = Some(Issue::corrupt(format!(
                "CHM compressed frame {frame} lies outside the compressed stream"
            )));
            break;
        };
        let left = length.saturating_sub(out.len());
        let want = usize::try_from(FRAME.min(left)).unwrap_or(0x8000);
        match lzx.decompress_next(chunk, want) {
            Ok(bytes) => {
                let bytes = bytes.get(..want).unwrap_or(bytes);
                out.write(bytes).map_err(|e| {
                    Issue::corrupt(format!("can not store the decoded CHM section: {e}"))
                })?;
                cx.budget
                    .charge(bytes.len() as u64)
                    .map_err(Issue::stopped)?;
            }
            Err(e) => {
                short = Some(Issue::corrupt(format!(
                    "CHM compressed frame {frame} does not decode ({e}): the rest of the \
                     section is not decoded"
                )));
                break;
            }
        }
        frame += 1;
    }
    let decoded = out
        .finish()
        .map_err(|e| Issue::corrupt(format!("can not store the decoded CHM section: {e}")))?;
    Ok(Compressed { decoded, short })
}

impl Extractor for Chm {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let (Some(version), Some(dir_off), Some(dir_len)) =
            (le_u32(data, 4), le_u64(data, 0x48), le_u64(data, 0x50))
        else {
            return Err(Issue::corrupt("CHM header cut short"));
        };
        let content = match le_u64(data, 0x58) {
            Some(c) if version >= 3 => c,
            _ => dir_off.saturating_add(dir_len),
        };
        let dir_start = usize::try_from(dir_off).unwrap_or(usize::MAX);
        let (items, whole) = directory(data, dir_start, dir_len)?;
        let mut damage = (!whole).then(|| Issue::corrupt("CHM directory is damaged"));
        let mut end = usize::try_from(dir_off.saturating_add(dir_len)).unwrap_or(usize::MAX);

        let need = items
            .iter()
            .filter(|i| i.section == 1)
            .map(|i| i.offset.saturating_add(i.length))
            .max()
            .unwrap_or(0);
        let section = if need > 0 {
            match decode_section(data, content, &items, need, cx) {
                Ok(s) => Ok(s),
                Err(e) if e.code == ResultCode::UnsupportedFileType => Err(e),
                Err(e) => Err(Issue::corrupt(format!(
                    "{} (files in the compressed section are not examined)",
                    e.note
                ))),
            }
        } else {
            Ok(Compressed {
                decoded: Blob::from_vec(Vec::new()),
                short: None,
            })
        };

        for item in &items {
            if item.length == 0 || (item.section == 0 && CONSUMED.contains(&item.name.as_str())) {
                if let Some(e) = stored_end(content, item).filter(|&e| e <= data.len()) {
                    end = end.max(e);
                }
                continue;
            }
            let name = sanitize_name(item.name.trim_start_matches('/'));
            let flow = match (item.section, &section) {
                (0, _) => {
                    let start =
                        usize::try_from(content.saturating_add(item.offset)).unwrap_or(usize::MAX);
                    let (bytes, cut) = slice(data, start, item.length);
                    end = end.max(start.saturating_add(bytes.len()));
                    let damage = cut.then(|| {
                        Issue::corrupt("CHM entry reaches past the end of the file: not whole")
                    });
                    hand_over(sink, cx, name, bytes, None, damage)?
                }
                (1, Ok(s)) => {
                    let start = usize::try_from(item.offset).unwrap_or(usize::MAX);
                    let (bytes, cut) = slice(s.decoded.as_slice(), start, item.length);
                    let damage = cut.then(|| {
                        s.short.clone().unwrap_or_else(|| {
                            Issue::corrupt("CHM entry reaches past its section: not whole")
                        })
                    });
                    hand_over(sink, cx, name, bytes, None, damage)?
                }
                (1, Err(e)) => sink(Entry::Ready(Child::failed(name, e.clone()))),
                (n, _) => {
                    damage.get_or_insert_with(|| {
                        Issue::corrupt(format!("CHM lists content section {n}"))
                    });
                    let issue = Issue::new(
                        ResultCode::UnsupportedFileType,
                        format!("CHM content section {n} is not one any writer makes: not read"),
                    );
                    sink(Entry::Ready(Child::failed(name, issue)))
                }
            };
            if flow == Flow::Stop {
                return Ok(());
            }
        }
        cx.consumed(end.min(data.len()));
        match damage {
            Some(d) => Err(d),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encint_is_big_endian_base_128() {
        let mut at = 0;
        assert_eq!(encint(&[0x81, 0x00, 0x05], &mut at), Some(128));
        assert_eq!(at, 2);
        assert_eq!(encint(&[0x81, 0x00, 0x05], &mut at), Some(5));
        let mut at = 0;
        assert_eq!(encint(&[0xff; 12], &mut at), None);
    }

    #[test]
    fn a_listing_with_a_wrong_free_space_field_is_damage() {
        let mut chunk = vec![0u8; 0x40];
        chunk[..4].copy_from_slice(b"PMGL");
        chunk[4..8].copy_from_slice(&0x1000u32.to_le_bytes());
        // entry: name "/a", section 0, offset 0, length 3
        chunk[0x14..0x1a].copy_from_slice(&[2, b'/', b'a', 0, 0, 3]);
        let mut items = Vec::new();
        assert!(!list_chunk(&chunk, &mut items));
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].name, "/a");
    }
}
