//! Optical disc images (`.iso`, `.img`, `.udf`): every file system on the
//! image is read and their files are examined once each.
//!
//! An image can carry several directory trees over the same sectors, and
//! each operating system picks one: Windows mounts UDF when it is there and
//! Joliet otherwise, Linux prefers Rock Ridge, old tools read the plain
//! ISO 9660 names, and a multi-session disc shows its last session while
//! files only earlier sessions list stay on it. An attacker who builds the
//! image picks which tree the victim sees, so mdscan reads them all:
//!
//! - [`iso9660`]: the primary tree (with Rock Ridge names and relocated
//!   directories), every Joliet tree, the trees of earlier sessions, and
//!   the El Torito boot images;
//! - [`udf`]: UDF 1.02–2.60 (type 1, sparable and metadata partitions).
//!
//! A file is identified by the sectors it occupies, so a file every tree
//! lists is examined once, under the first name found; a file that only
//! some trees list carries a note saying which. A tree that does not parse
//! to its end is 3 after everything found is handed over.

mod iso9660;
mod udf;

use std::collections::HashMap;
use std::io::{self, Read};

use super::{Child, Cx, Entry, Extractor, Flow, Issue, Sink, read_child, sanitize_name};

pub(crate) struct Iso;

/// A run of a file's bytes in the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Extent {
    pub(crate) offset: u64,
    pub(crate) len: u64,
    /// Allocated but not recorded (UDF): reads as zeros.
    pub(crate) zeros: bool,
}

/// A file as one reading of the image lists it.
#[derive(Debug)]
pub(crate) struct FileRef {
    pub(crate) path: String,
    pub(crate) extents: Vec<Extent>,
}

/// What one reading (one directory tree) of the image found.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// What the reading is, for notes: "ISO 9660", "Joliet", "UDF", ...
    pub(crate) name: String,
    pub(crate) files: Vec<FileRef>,
    /// Damage found on the way: each makes the image 3.
    pub(crate) damage: Vec<String>,
    /// Where the file system's data ends, as far as this reading knows.
    pub(crate) end: u64,
}

impl Listing {
    pub(crate) fn new(name: impl Into<String>) -> Listing {
        Listing {
            name: name.into(),
            ..Listing::default()
        }
    }
}

/// Most directory records or file entries one image may list in all its
/// readings together: beyond it the image is 3, not walked forever.
pub(crate) const MAX_ENTRIES: usize = 1 << 20;

impl Extractor for Iso {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let mut listings = udf::readings(data);
        listings.extend(iso9660::readings(data));
        let readable: Vec<&Listing> = listings.iter().filter(|l| !l.files.is_empty()).collect();
        let mut damage: Vec<String> = listings
            .iter()
            .flat_map(|l| l.damage.iter().map(move |d| format!("{}: {d}", l.name)))
            .collect();
        if listings.is_empty() {
            return Err(Issue::corrupt(
                "no ISO 9660 or UDF file system could be read on the image",
            ));
        }
        let names: Vec<&str> = listings.iter().map(|l| l.name.as_str()).collect();
        cx.note(format!("file systems read: {}", names.join(", ")));
        if let Some(end) = listings.iter().map(|l| l.end).max() {
            cx.consumed(usize::try_from(end).unwrap_or(usize::MAX).min(data.len()));
        }

        // One child per distinct run of sectors, in the order first seen.
        let mut order: Vec<(&FileRef, Vec<usize>)> = Vec::new();
        let mut seen: HashMap<Key<'_>, usize> = HashMap::new();
        for (r, listing) in readable.iter().enumerate() {
            for file in &listing.files {
                let key = if file.extents.iter().all(|e| e.len == 0) {
                    Key::Empty(file.path.to_lowercase())
                } else {
                    Key::Sectors(&file.extents)
                };
                match seen.get(&key) {
                    Some(i) => {
                        if let Some((_, by)) = order.get_mut(*i)
                            && !by.contains(&r)
                        {
                            by.push(r);
                        }
                    }
                    None => {
                        seen.insert(key, order.len());
                        order.push((file, vec![r]));
                    }
                }
            }
        }
        for (file, by) in order {
            let note = (readable.len() > 1 && by.len() < readable.len()).then(|| {
                let only: Vec<&str> = by
                    .iter()
                    .filter_map(|r| readable.get(*r).map(|l| l.name.as_str()))
                    .collect();
                format!("listed only by: {}", only.join(", "))
            });
            let mut reader = Extents::new(data, &file.extents);
            let produced = read_child(&mut reader, cx.budget);
            let stop = produced.stop;
            let mut child: Child = produced.into_child(sanitize_name(&file.path));
            child.note = note;
            if child.issue.is_none() && reader.missing > 0 {
                child.issue = Some(Issue::corrupt(format!(
                    "the file runs past the end of the image: {} bytes missing",
                    reader.missing
                )));
            }
            if sink(Entry::Ready(child)) == Flow::Stop {
                return Ok(());
            }
            if let Some(s) = stop {
                return Err(Issue::stopped(s));
            }
        }
        if readable.is_empty() && damage.is_empty() {
            cx.note("the image lists no files");
        }
        if damage.len() > 8 {
            let more = damage.len() - 8;
            damage.truncate(8);
            damage.push(format!("and {more} more"));
        }
        if damage.is_empty() {
            Ok(())
        } else {
            Err(Issue::corrupt(format!(
                "damaged file system: {}",
                damage.join("; ")
            )))
        }
    }
}

#[derive(PartialEq, Eq, Hash)]
enum Key<'f> {
    Sectors(&'f [Extent]),
    Empty(String),
}

/// Reads a file's extents from the image in order; bytes past the end of
/// the image are counted in `missing`, not invented.
struct Extents<'a> {
    data: &'a [u8],
    extents: &'a [Extent],
    at: usize,
    done: u64,
    missing: u64,
}

impl<'a> Extents<'a> {
    fn new(data: &'a [u8], extents: &'a [Extent]) -> Extents<'a> {
        Extents {
            data,
            extents,
            at: 0,
            done: 0,
            missing: 0,
        }
    }
}

impl Read for Extents<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(e) = self.extents.get(self.at) else {
                return Ok(0);
            };
            let left = e.len - self.done;
            if left == 0 || buf.is_empty() {
                if buf.is_empty() {
                    return Ok(0);
                }
                self.at += 1;
                self.done = 0;
                continue;
            }
            let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
            let Some(out) = buf.get_mut(..want) else {
                return Ok(0);
            };
            if e.zeros {
                out.fill(0);
                self.done += want as u64;
                return Ok(want);
            }
            let from = e.offset.saturating_add(self.done);
            let available = usize::try_from(from)
                .ok()
                .and_then(|f| self.data.get(f..))
                .unwrap_or_default();
            if available.is_empty() {
                // The rest of this extent (and the extents after it that
                // lie past the end) is missing.
                self.missing += left;
                self.at += 1;
                self.done = 0;
                continue;
            }
            let n = want.min(available.len());
            if let (Some(dst), Some(src)) = (out.get_mut(..n), available.get(..n)) {
                dst.copy_from_slice(src);
            }
            self.done += n as u64;
            return Ok(n);
        }
    }
}

/// `len` bytes at `offset` of the image, or as many as there are, and
/// whether any were missing.
pub(crate) fn slice(data: &[u8], offset: u64, len: u64) -> (&[u8], bool) {
    let Ok(start) = usize::try_from(offset) else {
        return (&[], len > 0);
    };
    let Some(rest) = data.get(start..) else {
        return (&[], len > 0);
    };
    let want = usize::try_from(len).unwrap_or(usize::MAX);
    if rest.len() >= want {
        (rest.get(..want).unwrap_or_default(), false)
    } else {
        (rest, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extents_read_in_order_with_zeros_and_missing_tail() {
        let data = b"0123456789";
        let ext = [
            Extent {
                offset: 8,
                len: 2,
                zeros: false,
            },
            Extent {
                offset: 0,
                len: 3,
                zeros: true,
            },
            Extent {
                offset: 2,
                len: 3,
                zeros: false,
            },
            Extent {
                offset: 9,
                len: 4,
                zeros: false,
            },
        ];
        let mut r = Extents::new(data, &ext);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"89\x00\x00\x00234\x39");
        assert_eq!(r.missing, 3);
    }
}
