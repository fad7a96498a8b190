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
        let mut archive = tar::Archive::new(SignedSums { data, pos: 0 });
        let entries = archive
            .entries()
            .map_err(|e| Issue::corrupt(format!("not a readable tar archive: {e}")))?;
        // Where the data of the last entry ends (512-byte aligned): an intact
        // archive has its end-of-archive zero block there.
        let mut end = 0u64;
        for entry in entries {
            let mut entry =
                entry.map_err(|e| Issue::corrupt(format!("corrupt tar header: {e}")))?;
            end = entry
                .raw_file_position()
                .saturating_add(entry.size().div_ceil(512).saturating_mul(512));
            let kind = entry.header().entry_type();
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
            let name = sanitize_name(&String::from_utf8_lossy(&entry.path_bytes()));
            let produced = read_child(&mut entry, cx.budget);
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

/// The archive's bytes, with every 512-byte block that is a tar header
/// checksummed by the signed byte sum handed over with the unsigned sum in
/// its checksum field instead (what the `tar` crate verifies). Every other
/// byte passes unchanged.
struct SignedSums<'a> {
    data: &'a [u8],
    pos: usize,
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
        let src = self.data.get(self.pos..).unwrap_or_default();
        let n = src.len().min(buf.len());
        let (Some(dst), Some(src)) = (buf.get_mut(..n), src.get(..n)) else {
            return Ok(0);
        };
        dst.copy_from_slice(src);
        // Patch the checksum fields of the blocks this read covers.
        let first = self.pos / BLOCK;
        let last = (self.pos + n).div_ceil(BLOCK);
        for b in first..last {
            let start = b * BLOCK;
            let Some(block) = self.data.get(start..start + BLOCK) else {
                break;
            };
            if let Some(field) = fixed_checksum(block) {
                for (i, byte) in field.iter().enumerate() {
                    let abs = start + 148 + i;
                    if let Some(at) = abs.checked_sub(self.pos)
                        && let Some(slot) = dst.get_mut(at)
                    {
                        *slot = *byte;
                    }
                }
            }
        }
        self.pos += n;
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
