//! Where a body signature may start: ClamAV's offset field (`*`, `n`,
//! `EOF-n`, `EP±n`, `Sx+n`, `SEx`, `SL+n`, each optionally `,maxshift`),
//! and the executable facts the relative ones need (entry point and
//! sections as ClamAV computes them for PE and ELF).

use crate::bytes::{le_u16, le_u32};

/// The base an offset counts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Base {
    Any,
    Absolute(u64),
    Eof(u64),
    EntryPoint(i64),
    Section(u32, u64),
    SectionEntire(u32),
    LastSection(u64),
}

/// A parsed offset field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Offset {
    base: Base,
    shift: u64,
}

/// The offset field is not one ClamAV reads.
#[derive(Debug)]
pub(crate) struct BadOffset(pub(crate) String);

fn num(s: &str) -> Result<u64, BadOffset> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadOffset(format!("`{s}` is not a number")));
    }
    s.parse()
        .map_err(|_| BadOffset(format!("`{s}` is too large")))
}

impl Offset {
    /// Anywhere.
    pub(crate) const ANY: Offset = Offset {
        base: Base::Any,
        shift: 0,
    };

    /// Parses ClamAV's offset field.
    pub(crate) fn parse(field: &str) -> Result<Offset, BadOffset> {
        if field == "*" {
            return Ok(Offset::ANY);
        }
        let (head, shift) = match field.split_once(',') {
            Some((h, s)) => (h, num(s)?),
            None => (field, 0),
        };
        let base = if let Some(n) = head.strip_prefix("EOF-") {
            Base::Eof(num(n)?)
        } else if let Some(rest) = head.strip_prefix("EP") {
            let n = if let Some(n) = rest.strip_prefix('+') {
                i64::try_from(num(n)?).map_err(|_| BadOffset(format!("`{n}` is too large")))?
            } else if let Some(n) = rest.strip_prefix('-') {
                -i64::try_from(num(n)?).map_err(|_| BadOffset(format!("`{n}` is too large")))?
            } else {
                return Err(BadOffset(format!("`{head}`: EP needs +n or -n")));
            };
            Base::EntryPoint(n)
        } else if let Some(rest) = head.strip_prefix("SL+") {
            Base::LastSection(num(rest)?)
        } else if let Some(rest) = head.strip_prefix("SE") {
            Base::SectionEntire(
                u32::try_from(num(rest)?)
                    .map_err(|_| BadOffset(format!("`{rest}` is too large")))?,
            )
        } else if let Some(rest) = head.strip_prefix('S') {
            let Some((x, n)) = rest.split_once('+') else {
                return Err(BadOffset(format!("`{head}`: a section offset is Sx+n")));
            };
            Base::Section(
                u32::try_from(num(x)?).map_err(|_| BadOffset(format!("`{x}` is too large")))?,
                num(n)?,
            )
        } else if head == "VI" {
            return Err(BadOffset("VI".into()));
        } else {
            Base::Absolute(num(head)?)
        };
        if shift > 0 && base == Base::Any {
            return Err(BadOffset("`*` takes no shift".into()));
        }
        Ok(Offset { base, shift })
    }

    /// Whether the offset is the version-information one (`VI`), which
    /// this engine does not evaluate.
    pub(crate) fn is_version_info(field: &str) -> bool {
        field.split(',').next() == Some("VI")
    }

    /// Whether the offset needs an executable's layout.
    pub(crate) fn is_executable_relative(&self) -> bool {
        matches!(
            self.base,
            Base::EntryPoint(_) | Base::Section(..) | Base::SectionEntire(_) | Base::LastSection(_)
        )
    }

    /// The starts allowed in an object of `len` bytes (inclusive range),
    /// `None` when the offset cannot be placed (no entry point, no such
    /// section, before the start of the file).
    pub(crate) fn starts(&self, len: u64, exec: Option<&ExecInfo>) -> Option<(u64, u64)> {
        let lo = match self.base {
            Base::Any => return Some((0, u64::MAX)),
            Base::Absolute(n) => n,
            Base::Eof(n) => len.checked_sub(n)?,
            Base::EntryPoint(d) => exec?.entry?.checked_add_signed(d)?,
            Base::Section(x, n) => exec?.sections.get(x as usize)?.raw.checked_add(n)?,
            Base::LastSection(n) => exec?.sections.last()?.raw.checked_add(n)?,
            Base::SectionEntire(x) => {
                let s = exec?.sections.get(x as usize)?;
                return Some((s.raw, s.raw.checked_add(s.size)?.checked_sub(1)?));
            }
        };
        Some((lo, lo.saturating_add(self.shift)))
    }
}

/// A section as ClamAV places it in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Section {
    pub(crate) raw: u64,
    pub(crate) size: u64,
}

/// An executable's entry point (as a file offset) and sections.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ExecInfo {
    pub(crate) entry: Option<u64>,
    pub(crate) sections: Vec<Section>,
}

fn align_down(o: u32, a: u32) -> u32 {
    o.checked_div(a).map_or(o, |q| q * a)
}

fn align_up(o: u32, a: u32) -> u32 {
    o.checked_div(a)
        .map_or(o, |q| (q + u32::from(!o.is_multiple_of(a))).wrapping_mul(a))
}

/// A PE's layout, with ClamAV's alignment rules: section file offsets
/// aligned down and sizes up to the file alignment (0x200 when a section
/// is misaligned to it but aligned to 0x200), sizes cut at the end of the
/// file, the entry point mapped through the last section that holds it
/// (or kept as is when it lies in the headers).
pub(crate) fn pe(data: &[u8]) -> Option<ExecInfo> {
    if data.get(..2)? != b"MZ" {
        return None;
    }
    let pe_at = le_u32(data, 0x3C)? as usize;
    if data.get(pe_at..pe_at + 4)? != b"PE\0\0" {
        return None;
    }
    let coff = pe_at + 4;
    let nsections = le_u16(data, coff + 2)? as usize;
    let opt_size = le_u16(data, coff + 16)? as usize;
    let opt = coff + 20;
    let magic = le_u16(data, opt)?;
    if magic != 0x10B && magic != 0x20B {
        return None;
    }
    let entry_rva = le_u32(data, opt + 16)?;
    let valign = le_u32(data, opt + 32)?;
    let mut falign = le_u32(data, opt + 36)?;
    let hdr_size = le_u32(data, opt + 60)?;
    let table = opt + opt_size;
    let fsize = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let mut headers = Vec::with_capacity(nsections.min(96));
    for i in 0..nsections.min(96) {
        let h = table + i * 40;
        let vaddr = le_u32(data, h + 12)?;
        let rsize = le_u32(data, h + 16)?;
        let raw = le_u32(data, h + 20)?;
        headers.push((vaddr, rsize, raw));
    }
    if falign != 0x200
        && headers.iter().any(|&(_, rsize, raw)| {
            falign != 0 && rsize != 0 && raw % falign != 0 && raw % 0x200 == 0
        })
    {
        falign = 0x200;
    }
    let hdr_size = align_up(hdr_size, valign);
    let mut sections = Vec::with_capacity(headers.len());
    let mut rvas = Vec::with_capacity(headers.len());
    for &(vaddr, rsize, raw) in &headers {
        let rva = align_down(vaddr, valign);
        let raw = align_down(raw, falign);
        let mut rsz = align_up(rsize, falign);
        if rsz != 0 && fsize > raw && raw.checked_add(rsz).is_none_or(|e| e > fsize) {
            rsz = fsize - raw;
        }
        sections.push(Section {
            raw: u64::from(raw),
            size: u64::from(rsz),
        });
        rvas.push(rva);
    }
    let entry = if entry_rva < hdr_size {
        (entry_rva < fsize).then_some(u64::from(entry_rva))
    } else {
        sections
            .iter()
            .zip(&rvas)
            .rev()
            .find(|&(s, &rva)| {
                s.size != 0 && rva <= entry_rva && s.size > u64::from(entry_rva - rva)
            })
            .map(|(s, &rva)| u64::from(entry_rva - rva) + s.raw)
    };
    Some(ExecInfo { entry, sections })
}

/// An ELF's layout: the entry point mapped through the program header
/// that loads it, and its sections' file extents.
pub(crate) fn elf(data: &[u8]) -> Option<ExecInfo> {
    if data.get(..4)? != b"\x7FELF" {
        return None;
    }
    let wide = match data.get(4)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let big = match data.get(5)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let rd = |at: usize, n: usize| -> Option<u64> {
        let b = data.get(at..at.checked_add(n)?)?;
        let fold = |v: u64, &byte: &u8| v << 8 | u64::from(byte);
        Some(if big {
            b.iter().fold(0, fold)
        } else {
            b.iter().rev().fold(0, fold)
        })
    };
    let word = if wide { 8 } else { 4 };
    let entry = rd(24, word)?;
    let (phoff, shoff) = (rd(24 + word, word)?, rd(24 + 2 * word, word)?);
    let base = 24 + 3 * word + 4;
    let phentsize = rd(base + 2, 2)? as usize;
    let phnum = rd(base + 4, 2)? as usize;
    let shentsize = rd(base + 6, 2)? as usize;
    let shnum = rd(base + 8, 2)? as usize;
    let mut mapped = None;
    for i in 0..phnum.min(128) {
        let h = usize::try_from(phoff).ok()?.checked_add(i * phentsize)?;
        if rd(h, 4)? != 1 {
            continue;
        }
        let (off, vaddr, filesz) = if wide {
            (rd(h + 8, 8)?, rd(h + 16, 8)?, rd(h + 32, 8)?)
        } else {
            (rd(h + 4, 4)?, rd(h + 8, 4)?, rd(h + 16, 4)?)
        };
        if vaddr <= entry && entry - vaddr < filesz {
            mapped = off.checked_add(entry - vaddr);
            break;
        }
    }
    let mut sections = Vec::new();
    if shoff != 0 {
        for i in 0..shnum.min(256) {
            let Some(h) = usize::try_from(shoff)
                .ok()
                .and_then(|o| o.checked_add(i * shentsize))
            else {
                break;
            };
            let (off, size) = if wide {
                (rd(h + 24, 8), rd(h + 32, 8))
            } else {
                (rd(h + 16, 4), rd(h + 20, 4))
            };
            let (Some(raw), Some(size)) = (off, size) else {
                break;
            };
            sections.push(Section { raw, size });
        }
    }
    Some(ExecInfo {
        entry: mapped,
        sections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse_and_place() {
        let exec = ExecInfo {
            entry: Some(0x400),
            sections: vec![
                Section {
                    raw: 0x400,
                    size: 0x200,
                },
                Section {
                    raw: 0x600,
                    size: 0x100,
                },
            ],
        };
        let at = |f: &str, len: u64| Offset::parse(f).unwrap().starts(len, Some(&exec));
        assert_eq!(at("*", 10), Some((0, u64::MAX)));
        assert_eq!(at("12", 100), Some((12, 12)));
        assert_eq!(at("12,5", 100), Some((12, 17)));
        assert_eq!(at("EOF-10", 100), Some((90, 90)));
        assert_eq!(at("EOF-200", 100), None);
        assert_eq!(at("EP+4", 0), Some((0x404, 0x404)));
        assert_eq!(at("EP-4,8", 0), Some((0x3FC, 0x404)));
        assert_eq!(at("S1+2", 0), Some((0x602, 0x602)));
        assert_eq!(at("S2+2", 0), None);
        assert_eq!(at("SL+0", 0), Some((0x600, 0x600)));
        assert_eq!(at("SE0", 0), Some((0x400, 0x5FF)));
        for bad in ["", "x", "EP4", "S1", "EOF-", "*,3", "1,x"] {
            assert!(Offset::parse(bad).is_err(), "{bad}");
        }
        assert!(Offset::parse("EP+1").unwrap().starts(10, None).is_none());
    }
}
