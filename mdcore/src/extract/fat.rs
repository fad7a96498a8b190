//! FAT12, FAT16 and FAT32 file systems (floppy and USB-stick images,
//! partitions of disk images) through the `fatfs` crate: every file of
//! every directory, under its long name.
//!
//! `fatfs` wants a writable device; it gets one whose writes fail, so
//! nothing is ever changed. Directory trees are walked to a bounded depth
//! and entry count (a cyclic cluster chain cannot loop), and every file is
//! read through [`read_child`]. Deleted entries are not examined.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::atomic::Ordering;

use fatfs::{Dir, FileSystem, FsOptions};

use super::disk::Volume;
use super::{Cx, Entry, Extractor, Flow, Issue, Sink, read_child, sanitize_name};
use crate::limits::Stop;
use crate::verdict::ResultCode;

pub(crate) struct Fat;

const MAX_DEPTH: usize = 64;
const MAX_ENTRIES: usize = 1 << 20;
const MAX_DIR_ENTRIES: usize = 1 << 16;

/// The image, readable and seekable; writes are refused.
struct ReadOnly<'d>(Volume<'d>);

impl Read for ReadOnly<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Seek for ReadOnly<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.0.seek(pos)
    }
}

impl Write for ReadOnly<'_> {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the image is read only",
        ))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

type Fs<'d> = FileSystem<ReadOnly<'d>>;

struct Walk<'s, 'x, 'a> {
    sink: &'s mut Sink<'x, 'a>,
    cx: &'a Cx<'a>,
    entries: usize,
    /// Directories that could not be read in full.
    damage: Vec<String>,
    /// The listing signature of each directory being walked (outermost
    /// first): a directory that lists like one of its ancestors is a loop.
    ancestors: Vec<u64>,
}

/// A signature of a directory's first entries: names, sizes, kinds and
/// times. `fatfs` does not expose clusters, so a directory whose cluster
/// chain leads back to an ancestor is recognised by listing the same.
fn signature(dir: &Dir<'_, ReadOnly<'_>>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for entry in dir.iter().take(64) {
        match entry {
            Ok(e) => {
                e.short_file_name_as_bytes().hash(&mut h);
                e.len().hash(&mut h);
                e.is_dir().hash(&mut h);
                format!("{:?}{:?}", e.created(), e.modified()).hash(&mut h);
            }
            Err(_) => 0u8.hash(&mut h),
        }
    }
    h.finish()
}

enum Halt {
    /// The walker said stop.
    Sink,
    /// A tree-wide limit.
    Limit(Stop),
    /// Too many entries.
    Entries,
}

impl Extractor for Fat {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let declared = volume_end(data).unwrap_or(data.len());
        let volume = Volume::new(data, declared as u64);
        let overrun = volume.overrun.clone();
        let fs: Fs<'_> = FileSystem::new(ReadOnly(volume), FsOptions::new())
            .map_err(|e| Issue::corrupt(format!("FAT file system not read: {e}")))?;
        // The volume ends where its sectors end (the rest is searched).
        cx.consumed(declared.min(data.len()));
        let mut walk = Walk {
            sink,
            cx,
            entries: 0,
            damage: Vec::new(),
            ancestors: Vec::new(),
        };
        let root = fs.root_dir();
        walk.ancestors.push(signature(&root));
        let halt = walk.dir(&root, "", 0);
        let result = match halt {
            Err(Halt::Sink) => return Ok(()),
            Err(Halt::Limit(s)) => Err(Issue::stopped(s)),
            Err(Halt::Entries) => Err(Issue::new(
                ResultCode::ExceededArchiveFileNumber,
                format!("FAT image has more than {MAX_ENTRIES} entries"),
            )),
            Ok(()) if walk.damage.is_empty() => Ok(()),
            Ok(()) => Err(Issue::corrupt(format!(
                "FAT directories damaged: {}",
                walk.damage.join("; ")
            ))),
        };
        drop(root);
        // Unmounting writes nothing on a volume nothing changed.
        drop(fs);
        if overrun.load(Ordering::Relaxed) && result.is_ok() {
            return Err(Issue::corrupt(format!(
                "FAT volume cut short: it declares {declared} bytes, {} are present, and \
                 its file system uses bytes past them",
                data.len()
            )));
        }
        result
    }
}

impl Walk<'_, '_, '_> {
    fn dir(&mut self, dir: &Dir<'_, ReadOnly<'_>>, path: &str, depth: usize) -> Result<(), Halt> {
        if depth > MAX_DEPTH {
            self.damage.push(format!(
                "{path}: nested deeper than {MAX_DEPTH} directories"
            ));
            return Ok(());
        }
        for (i, entry) in dir.iter().enumerate() {
            self.cx.budget.check().map_err(Halt::Limit)?;
            // FAT allows 65,536 entries in a directory: more is a cluster
            // chain that loops.
            if i >= MAX_DIR_ENTRIES {
                self.damage.push(format!(
                    "{}: more than {MAX_DIR_ENTRIES} entries (a looping cluster chain)",
                    display(path)
                ));
                return Ok(());
            }
            self.entries += 1;
            if self.entries > MAX_ENTRIES {
                return Err(Halt::Entries);
            }
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    self.damage.push(format!("{}: {e}", display(path)));
                    return Ok(());
                }
            };
            let name = entry.file_name();
            if name == "." || name == ".." {
                continue;
            }
            let full = if path.is_empty() {
                name
            } else {
                format!("{path}/{name}")
            };
            if entry.is_dir() {
                let sub = entry.to_dir();
                let sig = signature(&sub);
                if self.ancestors.contains(&sig) {
                    self.damage
                        .push(format!("{full}: lists like a directory it is in (a loop)"));
                    continue;
                }
                self.ancestors.push(sig);
                let r = self.dir(&sub, &full, depth + 1);
                self.ancestors.pop();
                r?;
            } else if entry.is_file() {
                let mut file = entry.to_file();
                let produced = read_child(&mut file, self.cx.budget);
                let stop = produced.stop;
                let mut child = produced.into_child(sanitize_name(&full));
                let got = child.data.as_ref().map_or(0, |d| d.len() as u64);
                if child.issue.is_none() && got < entry.len() {
                    child.issue = Some(Issue::corrupt(format!(
                        "FAT file cut short: {got} of {} bytes",
                        entry.len()
                    )));
                }
                if (self.sink)(Entry::Ready(child)) == Flow::Stop {
                    return Err(Halt::Sink);
                }
                if let Some(s) = stop {
                    return Err(Halt::Limit(s));
                }
            }
        }
        Ok(())
    }
}

fn display(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

/// The volume's size from its boot sector.
fn volume_end(d: &[u8]) -> Option<usize> {
    let bytes = u64::from(crate::bytes::le_u16(d, 11)?);
    let small = u64::from(crate::bytes::le_u16(d, 19)?);
    let total = if small != 0 {
        small
    } else {
        u64::from(crate::bytes::le_u32(d, 32)?)
    };
    usize::try_from(bytes.checked_mul(total)?).ok()
}
