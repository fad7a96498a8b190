//! OneNote's alternative packaging ([MS-ONESTORE] 2.8): the section as
//! OneDrive and OneNote for the web hand it out, an FSSHTTPB data element
//! package ([MS-FSSHTTPB] 2.2.1.12) instead of a revision store.
//!
//! The package is a tree of stream objects. Every stream object starts
//! with a 16- or 32-bit header giving its type, whether it is compound and
//! the length of its own fields; a compound object's children follow its
//! own fields and end with an 8- or 16-bit end marker of the same type.
//! That regularity lets the whole tree be walked without knowing what each
//! type means, so no data element — of a type we know or not — is skipped
//! unseen. Two types carry file bytes: an object data BLOB (`0x02`, where
//! embedded files and pictures live) and a data element fragment (`0x6A`,
//! one piece of a data element too large to send whole). BLOBs are
//! returned as ranges of the input; fragments are reassembled by the
//! caller with [`reassemble`].
//!
//! A header that does not parse, a length past the end of its parent, an
//! end marker of the wrong type or nesting deeper than [`MAX_DEPTH`] stop
//! the walk: what was found before stays found and the damage is returned
//! for the caller to report (fail closed).

use std::collections::HashMap;
use std::ops::Range;

/// The file-format GUID {638DE92F-A6D4-4BC1-9A36-B3FC2511A5B7} as stored.
pub(super) const FORMAT: [u8; 16] = [
    0x2f, 0xe9, 0x8d, 0x63, 0xd4, 0xa6, 0xc1, 0x4b, 0x9a, 0x36, 0xb3, 0xfc, 0x25, 0x11, 0xa5, 0xb7,
];

/// Stream object types ([MS-FSSHTTPB] 2.2.1.5) this reader acts on.
const PACKAGING: u16 = 0x7a;
const OBJECT_DATA_BLOB: u16 = 0x02;
const FRAGMENT: u16 = 0x6a;

/// Deeper than any package OneNote writes (packaging, data element
/// package, data element, object group, its data, an object: six).
const MAX_DEPTH: usize = 32;

/// A piece of a fragmented data element.
#[derive(Debug)]
pub(super) struct Fragment {
    /// The data element it belongs to (GUID and value of its ExGUID).
    pub(super) element: ([u8; 16], u32),
    /// The data element's whole size, as the fragment declares it.
    pub(super) size: u64,
    /// Where this piece goes in the data element.
    pub(super) offset: u64,
    /// The piece's bytes in the input.
    pub(super) bytes: Range<usize>,
}

/// What a walk found.
#[derive(Debug, Default)]
pub(super) struct Walk {
    /// The object data BLOBs' bytes, as ranges of the walked buffer, in
    /// the order they appear.
    pub(super) blobs: Vec<Range<usize>>,
    pub(super) fragments: Vec<Fragment>,
    /// Where the walk stopped: the end of the packaging when it parsed.
    pub(super) end: usize,
    /// Why the walk stopped early, if it did.
    pub(super) damage: Option<String>,
}

/// Reads the packaging whose file-format GUID sits at `at` (the GUID,
/// four bytes of padding, then the packaging stream object). `None` when
/// no packaging object starts there — a stray copy of the GUID.
pub(super) fn read(data: &[u8], at: usize) -> Option<Walk> {
    let start = at.checked_add(FORMAT.len() + 4)?;
    let mut c = Cursor {
        d: data,
        pos: start,
        end: data.len(),
    };
    match header(&mut c) {
        Ok(Mark::Start { ty: PACKAGING, .. }) => {}
        _ => return None,
    }
    let mut walk = Walk::default();
    c.pos = start;
    if let Err(e) = walk.object(&mut c, 0) {
        walk.damage = Some(e);
    }
    walk.end = c.pos;
    Some(walk)
}

/// Walks `data` as a sequence of stream objects (a reassembled data
/// element); fragments inside it are not followed again.
pub(super) fn read_all(data: &[u8]) -> Walk {
    let mut c = Cursor {
        d: data,
        pos: 0,
        end: data.len(),
    };
    let mut walk = Walk::default();
    while c.pos < c.end {
        if let Err(e) = walk.object(&mut c, 1) {
            walk.damage = Some(e);
            break;
        }
    }
    walk.end = c.pos;
    walk
}

/// Puts fragments of one data element together. `Err` says what is
/// missing or contradictory; the bytes that were there are returned with
/// it, so they are still examined.
pub(super) fn reassemble(data: &[u8], parts: &[&Fragment]) -> (Vec<u8>, Option<String>) {
    let declared = parts.iter().map(|f| f.size).max().unwrap_or(0);
    let have: u64 = parts.iter().map(|f| f.bytes.len() as u64).sum();
    let mut problem = None;
    if parts.iter().any(|f| f.size != declared) {
        problem = Some("its fragments declare different sizes".to_string());
    }
    // Never allocate more than the fragments hold: a declared size is a
    // claim, the bytes are a fact.
    let size = usize::try_from(declared.min(have)).unwrap_or(usize::MAX);
    let mut slots: Vec<Option<u8>> = vec![None; size];
    for f in parts {
        let bytes = data.get(f.bytes.clone()).unwrap_or_default();
        let Ok(off) = usize::try_from(f.offset) else {
            problem = Some(format!("a fragment starts at {}, past its size", f.offset));
            continue;
        };
        for (i, b) in bytes.iter().enumerate() {
            let Some(slot) = off.checked_add(i).and_then(|at| slots.get_mut(at)) else {
                problem = Some(format!(
                    "a fragment at {off} runs past the {declared} bytes declared"
                ));
                break;
            };
            match slot {
                Some(old) if old != b => {
                    problem = Some(format!(
                        "two fragments disagree about byte {} (the first reading is kept)",
                        off + i
                    ));
                }
                _ => *slot = Some(*b),
            }
        }
    }
    let missing =
        slots.iter().filter(|s| s.is_none()).count() as u64 + (declared - declared.min(have));
    if missing > 0 {
        problem = Some(format!(
            "{missing} of its {declared} bytes are in no fragment"
        ));
    }
    let out = slots.into_iter().map(|s| s.unwrap_or(0)).collect();
    (out, problem)
}

/// Groups fragments by the data element they belong to, in the order the
/// elements first appear.
pub(super) fn by_element(fragments: &[Fragment]) -> Vec<Vec<&Fragment>> {
    let mut index: HashMap<([u8; 16], u32), usize> = HashMap::new();
    let mut groups: Vec<Vec<&Fragment>> = Vec::new();
    for f in fragments {
        let i = *index.entry(f.element).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        if let Some(g) = groups.get_mut(i) {
            g.push(f);
        }
    }
    groups
}

impl Walk {
    /// One stream object and, when compound, its children and end marker.
    fn object(&mut self, c: &mut Cursor<'_>, depth: usize) -> Result<(), String> {
        let at = c.pos;
        let (ty, compound, len) = match header(c)? {
            Mark::Start { ty, compound, len } => (ty, compound, len),
            Mark::End { ty } => {
                return Err(format!(
                    "an end marker (type {ty:#x}) at offset {at} where an object should start"
                ));
            }
        };
        let own = c.pos;
        let own_end = usize::try_from(len)
            .ok()
            .and_then(|l| own.checked_add(l))
            .filter(|&e| e <= c.end)
            .ok_or_else(|| {
                format!("the stream object at offset {at} declares {len} bytes, past its end")
            })?;
        match ty {
            OBJECT_DATA_BLOB => {
                let mut f = Cursor {
                    d: c.d,
                    pos: own,
                    end: own_end,
                };
                let bytes = binary_item(&mut f)
                    .ok_or_else(|| format!("the object data BLOB at offset {at} is cut short"))?;
                self.blobs.push(bytes);
            }
            FRAGMENT => {
                let mut f = Cursor {
                    d: c.d,
                    pos: own,
                    end: own_end,
                };
                let fragment = fragment(&mut f).ok_or_else(|| {
                    format!("the data element fragment at offset {at} is cut short")
                })?;
                self.fragments.push(fragment);
            }
            _ => {}
        }
        c.pos = own_end;
        if !compound {
            return Ok(());
        }
        if depth >= MAX_DEPTH {
            return Err(format!(
                "stream objects nest deeper than {MAX_DEPTH} at offset {at}"
            ));
        }
        loop {
            let here = c.pos;
            if here >= c.end {
                return Err(format!(
                    "the stream object at offset {at} (type {ty:#x}) has no end marker"
                ));
            }
            if let Some((end_ty, n)) = end_marker(c) {
                if end_ty != ty {
                    return Err(format!(
                        "the end marker at offset {here} closes type {end_ty:#x}, but type {ty:#x} (offset {at}) is open"
                    ));
                }
                c.pos += n;
                return Ok(());
            }
            self.object(c, depth + 1)?;
        }
    }
}

struct Cursor<'a> {
    d: &'a [u8],
    pos: usize,
    end: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Option<Range<usize>> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.end)?;
        let r = self.pos..end;
        self.pos = end;
        Some(r)
    }

    fn u8(&mut self) -> Option<u8> {
        let r = self.take(1)?;
        self.d.get(r.start).copied()
    }

    fn le(&mut self, n: usize) -> Option<u64> {
        let r = self.take(n)?;
        Some(
            self.d
                .get(r)?
                .iter()
                .rev()
                .fold(0u64, |v, b| (v << 8) | u64::from(*b)),
        )
    }
}

enum Mark {
    Start { ty: u16, compound: bool, len: u64 },
    End { ty: u16 },
}

/// A stream object header or end marker ([MS-FSSHTTPB] 2.2.1.5).
fn header(c: &mut Cursor<'_>) -> Result<Mark, String> {
    let at = c.pos;
    let short = || format!("a stream object header at offset {at} is cut short");
    let first = *c.d.get(at).filter(|_| at < c.end).ok_or_else(short)?;
    match first & 3 {
        0 => {
            let v = c.le(2).ok_or_else(short)?;
            Ok(Mark::Start {
                ty: ((v >> 3) & 0x3f) as u16,
                compound: v & 4 != 0,
                len: v >> 9,
            })
        }
        2 => {
            let v = c.le(4).ok_or_else(short)?;
            let mut len = v >> 17;
            if len == 0x7fff {
                len = compact(c).ok_or_else(short)?;
            }
            Ok(Mark::Start {
                ty: ((v >> 3) & 0x3fff) as u16,
                compound: v & 4 != 0,
                len,
            })
        }
        1 => {
            c.pos += 1;
            Ok(Mark::End {
                ty: u16::from(first >> 2),
            })
        }
        _ => {
            let v = c.le(2).ok_or_else(short)?;
            Ok(Mark::End {
                ty: (v >> 2) as u16,
            })
        }
    }
}

/// The end marker at the cursor, if one is there: its type and length.
fn end_marker(c: &Cursor<'_>) -> Option<(u16, usize)> {
    let first = *c.d.get(c.pos).filter(|_| c.pos < c.end)?;
    match first & 3 {
        1 => Some((u16::from(first >> 2), 1)),
        3 => {
            let second = *c.d.get(c.pos + 1).filter(|_| c.pos + 1 < c.end)?;
            Some((u16::from_le_bytes([first, second]) >> 2, 2))
        }
        _ => None,
    }
}

/// A compact unsigned 64-bit integer ([MS-FSSHTTPB] 2.2.1.1): the lowest
/// set bit of the first byte says how many bytes hold the value.
fn compact(c: &mut Cursor<'_>) -> Option<u64> {
    let first = *c.d.get(c.pos).filter(|_| c.pos < c.end)?;
    if first == 0 {
        c.pos += 1;
        return Some(0);
    }
    if first == 0x80 {
        c.pos += 1;
        return c.le(8);
    }
    let width = first.trailing_zeros() as usize + 1;
    Some(c.le(width)? >> width)
}

/// An extended GUID ([MS-FSSHTTPB] 2.2.1.7): a GUID and a small value.
fn exguid(c: &mut Cursor<'_>) -> Option<([u8; 16], u32)> {
    let first = c.u8()?;
    let value = if first == 0 {
        return Some(([0; 16], 0));
    } else if first & 0x07 == 0x04 {
        u32::from(first >> 3)
    } else if first & 0x3f == 0x20 {
        (u32::from(c.u8()?) << 2) | u32::from(first >> 6)
    } else if first & 0x7f == 0x40 {
        ((c.le(2)? as u32) << 1) | u32::from(first >> 7)
    } else if first == 0x80 {
        c.le(4)? as u32
    } else {
        return None;
    };
    let g = c.take(16)?;
    let mut guid = [0u8; 16];
    guid.copy_from_slice(c.d.get(g)?);
    Some((guid, value))
}

/// A binary item ([MS-FSSHTTPB] 2.2.1.3): a compact length, then bytes.
fn binary_item(c: &mut Cursor<'_>) -> Option<Range<usize>> {
    let len = usize::try_from(compact(c)?).ok()?;
    c.take(len)
}

/// A data element fragment's fields ([MS-FSSHTTPB] 2.2.1.12.7): the
/// element's ExGUID, its size, the chunk (offset, length), the bytes.
fn fragment(c: &mut Cursor<'_>) -> Option<Fragment> {
    let element = exguid(c)?;
    let size = compact(c)?;
    let offset = compact(c)?;
    let length = usize::try_from(compact(c)?).ok()?;
    let bytes = c.take(length)?;
    Some(Fragment {
        element,
        size,
        offset,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(d: &[u8]) -> Cursor<'_> {
        Cursor {
            d,
            pos: 0,
            end: d.len(),
        }
    }

    #[test]
    fn compact_integers_of_every_width() {
        // [MS-FSSHTTPB] 2.2.1.1's own example: 0xd4 0x8b 0x10 is 135546.
        assert_eq!(compact(&mut cur(&[0xd4, 0x8b, 0x10])), Some(135_546));
        assert_eq!(compact(&mut cur(&[0])), Some(0));
        assert_eq!(compact(&mut cur(&[0x0b])), Some(5));
        let mut big = vec![0x80];
        big.extend_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(compact(&mut cur(&big)), Some(u64::MAX));
        // A width the bytes do not hold.
        assert_eq!(compact(&mut cur(&[0x40, 1, 2])), None);
    }

    #[test]
    fn reassembly_reports_gaps_and_disagreements() {
        let data = b"abcdefXY";
        let f = |offset, bytes: Range<usize>| Fragment {
            element: ([1; 16], 1),
            size: 8,
            offset,
            bytes,
        };
        let whole = [f(0, 0..6), f(6, 6..8)];
        let (out, problem) = reassemble(data, &whole.iter().collect::<Vec<_>>());
        assert_eq!((out.as_slice(), problem), (&b"abcdefXY"[..], None));
        let gap = [f(0, 0..6)];
        let (_, problem) = reassemble(data, &gap.iter().collect::<Vec<_>>());
        assert!(problem.unwrap().contains("2 of its 8 bytes"));
        let clash = [f(0, 0..6), f(0, 2..8)];
        let (_, problem) = reassemble(data, &clash.iter().collect::<Vec<_>>());
        assert!(problem.is_some());
    }
}
