//! NTFS volumes through the `ntfs` crate, read by walking the Master File
//! Table rather than the directory indexes: every file record in use is
//! examined, listed in a directory or not, and every `$DATA` stream of it —
//! the unnamed one and the alternate data streams (`file.txt:hidden`).
//!
//! Paths are rebuilt from each record's parent reference (bounded depth,
//! cycles cut). NTFS-compressed streams are not decoded (23) and
//! EFS-encrypted ones not decrypted (12). The file system's own metadata
//! files (`$MFT`, `$LogFile`, `$Extend` …) are not examined.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use super::disk::Volume;

use ntfs::structured_values::NtfsFileNamespace;
use ntfs::{Ntfs, NtfsAttributeFlags, NtfsAttributeType, NtfsFile, NtfsFileFlags};

use super::{Child, Cx, Entry, Extractor, Flow, Issue, Sink, read_child, sanitize_name};
use crate::verdict::ResultCode;

pub(crate) struct NtfsVolume;

/// File records read from one volume.
const MAX_RECORDS: u64 = 1 << 20;
/// Directory levels followed when a path is rebuilt.
const MAX_DEPTH: usize = 64;
/// The first record of ordinary files (0-23 are the volume's own).
const FIRST_USER_RECORD: u64 = 24;
const ROOT: u64 = 5;
const EXTEND: u64 = 11;

struct Named {
    name: String,
    parent: u64,
}

impl Extractor for NtfsVolume {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        // The size its boot sector declares: sectors times bytes per sector.
        let declared = crate::bytes::le_u64(data, 0x28)
            .zip(crate::bytes::le_u16(data, 0x0b))
            .and_then(|(n, b)| n.checked_mul(u64::from(b)))
            .unwrap_or(data.len() as u64);
        // The `ntfs` crate panics on some boot sectors it cannot parse:
        // only a sector with the NTFS signature and 55 AA reaches it.
        if !super::disk::ntfs_boot_sector(data) || data.len() < 512 {
            return Err(Issue::corrupt("NTFS boot sector not found"));
        }
        let mut r = Volume::new(data, declared);
        let overrun = r.overrun.clone();
        let mut fs =
            Ntfs::new(&mut r).map_err(|e| Issue::corrupt(format!("NTFS volume not read: {e}")))?;
        fs.read_upcase_table(&mut r)
            .map_err(|e| Issue::corrupt(format!("NTFS upcase table not read: {e}")))?;
        cx.consumed(
            usize::try_from(fs.size())
                .unwrap_or(data.len())
                .min(data.len()),
        );
        let records = mft_records(&fs, &mut r)?;
        let mut damage = Vec::new();
        if records > MAX_RECORDS {
            damage.push(format!(
                "only the first {MAX_RECORDS} of {records} file records were read"
            ));
        }
        let records = records.min(MAX_RECORDS);
        // Pass 1: every record's name and parent.
        let mut names: HashMap<u64, Named> = HashMap::new();
        let mut files = Vec::new();
        let mut unreadable = 0u64;
        for n in 0..records {
            cx.budget.check().map_err(Issue::stopped)?;
            let file = match fs.file(&mut r, n) {
                Ok(f) => f,
                Err(_) => {
                    // A record never used has no "FILE" signature; one in
                    // use that does not parse is counted below.
                    if n >= FIRST_USER_RECORD && record_claims_use(data, &fs, n) {
                        unreadable += 1;
                    }
                    continue;
                }
            };
            if !file.flags().contains(NtfsFileFlags::IN_USE) {
                continue;
            }
            if let Some(named) = name_of(&file, &mut r) {
                if n >= FIRST_USER_RECORD && !file.is_directory() && named.parent != EXTEND {
                    files.push(n);
                }
                names.insert(n, named);
            } else if n >= FIRST_USER_RECORD && !file.is_directory() {
                files.push(n);
            }
        }
        if unreadable > 0 {
            damage.push(format!(
                "{unreadable} file records in use could not be read"
            ));
        }
        // Pass 2: the streams of every file.
        for n in files {
            let path = path_of(n, &names);
            match streams(&fs, &mut r, n, &path, cx, sink) {
                Ok(Flow::Continue) => {}
                Ok(Flow::Stop) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        if overrun.load(Ordering::Relaxed) {
            damage.push(format!(
                "the volume is cut short: it declares {declared} bytes, {} are present, and its \
                 file system uses bytes past them",
                data.len()
            ));
        }
        if damage.is_empty() {
            Ok(())
        } else {
            Err(Issue::corrupt(format!("NTFS: {}", damage.join("; "))))
        }
    }
}

/// How many file records the MFT holds (its `$DATA` length over the
/// record size).
fn mft_records(fs: &Ntfs, r: &mut Volume<'_>) -> Result<u64, Issue> {
    let mft = fs
        .file(r, 0)
        .map_err(|e| Issue::corrupt(format!("NTFS $MFT not read: {e}")))?;
    let item = mft
        .data(r, "")
        .ok_or_else(|| Issue::corrupt("NTFS $MFT has no data"))?
        .map_err(|e| Issue::corrupt(format!("NTFS $MFT data not read: {e}")))?;
    let attr = item
        .to_attribute()
        .map_err(|e| Issue::corrupt(format!("NTFS $MFT data not read: {e}")))?;
    Ok(attr.value_length() / u64::from(fs.file_record_size().max(1)))
}

/// Whether the raw record `n` says "FILE" and in use (so a parse failure
/// is damage, not an empty slot). Only records in the MFT's first run are
/// checked this way.
fn record_claims_use(data: &[u8], fs: &Ntfs, n: u64) -> bool {
    let size = u64::from(fs.file_record_size());
    let Some(at) = fs
        .mft_position()
        .value()
        .map(|p| p.get())
        .and_then(|p| p.checked_add(n.checked_mul(size)?))
        .and_then(|p| usize::try_from(p).ok())
    else {
        return false;
    };
    data.get(at..at + 4) == Some(b"FILE")
        && crate::bytes::le_u16(data, at + 22).is_some_and(|f| f & 1 != 0)
}

/// The record's long name and parent (a DOS 8.3 name only when it has no
/// other).
fn name_of(file: &NtfsFile<'_>, r: &mut Volume<'_>) -> Option<Named> {
    let spaces = [
        Some(NtfsFileNamespace::Win32AndDos),
        Some(NtfsFileNamespace::Win32),
        Some(NtfsFileNamespace::Posix),
        None,
    ];
    spaces.into_iter().find_map(|ns| {
        let name = file.name(r, ns, None)?.ok()?;
        Some(Named {
            name: name.name().to_string_lossy(),
            parent: name.parent_directory_reference().file_record_number(),
        })
    })
}

fn path_of(n: u64, names: &HashMap<u64, Named>) -> String {
    let mut parts = Vec::new();
    let mut at = n;
    for _ in 0..MAX_DEPTH {
        if at == ROOT {
            break;
        }
        let Some(named) = names.get(&at) else {
            parts.push(format!("[orphan-{at}]"));
            break;
        };
        parts.push(named.name.clone());
        if named.parent == at {
            break;
        }
        at = named.parent;
    }
    parts.reverse();
    sanitize_name(&parts.join("/"))
}

/// Hands over every `$DATA` stream of record `n`.
fn streams(
    fs: &Ntfs,
    r: &mut Volume<'_>,
    n: u64,
    path: &str,
    cx: &Cx<'_>,
    sink: &mut Sink<'_, '_>,
) -> Result<Flow, Issue> {
    let file = match fs.file(r, n) {
        Ok(f) => f,
        Err(e) => {
            let issue = Issue::corrupt(format!("NTFS file record not read: {e}"));
            return Ok(sink(Entry::Ready(Child::failed(path.to_string(), issue))));
        }
    };
    let mut attributes = file.attributes();
    let mut found = 0usize;
    while let Some(item) = attributes.next(r) {
        let item = match item {
            Ok(i) => i,
            Err(e) => {
                let issue = Issue::corrupt(format!("NTFS attribute not read: {e}"));
                let name = format!("{path}:[attribute]");
                return Ok(sink(Entry::Ready(Child::failed(name, issue))));
            }
        };
        let attr = match item.to_attribute() {
            Ok(a) => a,
            Err(e) => {
                let issue = Issue::corrupt(format!("NTFS attribute not read: {e}"));
                let name = format!("{path}:[attribute]");
                return Ok(sink(Entry::Ready(Child::failed(name, issue))));
            }
        };
        if attr.ty().ok() != Some(NtfsAttributeType::Data) {
            continue;
        }
        found += 1;
        let stream = attr.name().map(|s| s.to_string_lossy()).unwrap_or_default();
        let name = if stream.is_empty() {
            path.to_string()
        } else {
            format!("{path}:{}", sanitize_name(&stream))
        };
        let flags = attr.flags();
        let child = if flags.contains(NtfsAttributeFlags::ENCRYPTED) {
            Child::failed(
                name,
                Issue::new(
                    ResultCode::EncryptedArchive,
                    "EFS-encrypted NTFS stream: not decrypted",
                ),
            )
        } else if flags.contains(NtfsAttributeFlags::COMPRESSED) {
            Child::failed(
                name,
                Issue::new(
                    ResultCode::UnsupportedFileType,
                    "NTFS-compressed stream: not decoded",
                ),
            )
        } else {
            match attr.value(r) {
                Ok(value) => {
                    let declared = attr.value_length();
                    let mut reader = value.attach(r);
                    let produced = read_child(&mut reader, cx.budget);
                    let stop = produced.stop;
                    let mut child = produced.into_child(name);
                    let got = child.data.as_ref().map_or(0, |d| d.len() as u64);
                    if child.issue.is_none() && got < declared {
                        child.issue = Some(Issue::corrupt(format!(
                            "NTFS stream cut short: {got} of {declared} bytes"
                        )));
                    }
                    if sink(Entry::Ready(child)) == Flow::Stop {
                        return Ok(Flow::Stop);
                    }
                    if let Some(s) = stop {
                        return Err(Issue::stopped(s));
                    }
                    continue;
                }
                Err(e) => Child::failed(name, Issue::corrupt(format!("NTFS stream not read: {e}"))),
            }
        };
        if sink(Entry::Ready(child)) == Flow::Stop {
            return Ok(Flow::Stop);
        }
    }
    if found == 0 {
        // A file without data (empty, or its $DATA lost).
        let child = Child {
            name: path.to_string(),
            data: Some(crate::Blob::from_vec(Vec::new())),
            issue: None,
            note: Some("no $DATA stream".into()),
        };
        return Ok(sink(Entry::Ready(child)));
    }
    Ok(Flow::Continue)
}
