//! Unix `compress` (`.Z`, `.taz`): one LZW stream, one child, decoded as
//! ncompress and gzip decode it — codes of 9 up to the header's 9–16 bits,
//! least significant bit first; in block mode, code 256 clears the table.
//! Their quirk is kept: when the code width grows or the table is cleared,
//! the rest of the current group of eight codes (as many bytes as the
//! width in bits) is skipped, counted from where the previous width began.
//! A code that names an entry not made yet is damage (3), as both tools
//! say "corrupt input"; codes stop where a whole one no longer fits.
//!
//! The decoder streams: what it produces is charged to the budget as it
//! is read (LZW expands at most about 8,000 times, but a large `.Z` still
//! makes a large object).

use std::io::{self, Read};

use super::{Cx, Extractor, Issue, Sink, one_child, strip_compression_ext};

pub(crate) struct Compress;

/// The first code width, and code 256 (a table clear in block mode).
const INIT_BITS: u32 = 9;
const CLEAR: u32 = 256;

/// An LZW decoder over the bytes after the 3-byte header.
struct Lzw<'a> {
    data: &'a [u8],
    /// The next code's bit position, and where the current width began.
    pos: u64,
    base: u64,
    n_bits: u32,
    max_bits: u32,
    block_mode: bool,
    /// Largest code at this width, and the table size the header allows.
    max_code: u32,
    max_max_code: u32,
    /// The next table entry.
    free_ent: u32,
    old_code: Option<u32>,
    fin_char: u8,
    prefix: Vec<u16>,
    suffix: Vec<u8>,
    /// The string of the last code, and how much of it was read.
    out: Vec<u8>,
    out_at: usize,
    /// An error met after some bytes were handed out in the same read:
    /// returned by the next read, so those bytes are kept.
    failed: Option<io::Error>,
}

impl<'a> Lzw<'a> {
    fn new(data: &'a [u8]) -> Option<Lzw<'a>> {
        let flags = *data.get(2)?;
        let max_bits = u32::from(flags & 0x1f);
        if !(INIT_BITS..=16).contains(&max_bits) {
            return None;
        }
        let block_mode = flags & 0x80 != 0;
        Some(Lzw {
            data: data.get(3..)?,
            pos: 0,
            base: 0,
            n_bits: INIT_BITS,
            max_bits,
            block_mode,
            max_code: (1 << INIT_BITS) - 1,
            max_max_code: 1 << max_bits,
            free_ent: if block_mode { 257 } else { 256 },
            old_code: None,
            fin_char: 0,
            prefix: vec![0; 1 << 16],
            suffix: (0..=u8::MAX)
                .chain(std::iter::repeat_n(0, (1 << 16) - 256))
                .collect(),
            out: Vec::new(),
            out_at: 0,
            failed: None,
        })
    }

    /// Skips to the end of the current group of eight codes (counted from
    /// where the width began), as ncompress does at a width change or a
    /// clear; the next width begins there.
    fn skip_group(&mut self) {
        let group = i64::from(self.n_bits) * 8;
        let rel = i64::try_from(self.pos - self.base).unwrap_or(0);
        let rounded = (rel - 1) + (group - (rel - 1 + group).rem_euclid(group));
        self.pos = self.base + u64::try_from(rounded).unwrap_or(0);
        self.base = self.pos;
    }

    /// The next code, if a whole one is left.
    fn code(&mut self) -> Option<u32> {
        let end = self.pos + u64::from(self.n_bits);
        if end > self.data.len() as u64 * 8 {
            return None;
        }
        let mut code = 0u32;
        for i in 0..self.n_bits {
            let bit = self.pos + u64::from(i);
            let byte = self.data.get(usize::try_from(bit / 8).ok()?)?;
            code |= u32::from((byte >> (bit % 8)) & 1) << i;
        }
        self.pos = end;
        Some(code)
    }

    /// Decodes one code into `out`; `false` at the end of the codes.
    fn step(&mut self) -> io::Result<bool> {
        loop {
            if self.free_ent > self.max_code {
                self.skip_group();
                self.n_bits += 1;
                self.max_code = if self.n_bits >= self.max_bits {
                    self.max_max_code
                } else {
                    (1 << self.n_bits) - 1
                };
            }
            let Some(code) = self.code() else {
                return Ok(false);
            };
            let Some(old) = self.old_code else {
                if code >= 256 {
                    return Err(corrupt());
                }
                self.fin_char = code as u8;
                self.old_code = Some(code);
                self.out.clear();
                self.out.push(self.fin_char);
                self.out_at = 0;
                return Ok(true);
            };
            if code == CLEAR && self.block_mode {
                // The table starts again; the code after the clear is read
                // as any other (ncompress keeps the last code as its prefix
                // for entry 256, which no code can name).
                self.free_ent = 256;
                self.skip_group();
                self.n_bits = INIT_BITS;
                self.max_code = (1 << INIT_BITS) - 1;
                continue;
            }
            let mut c = code;
            self.out.clear();
            if c >= self.free_ent {
                if c > self.free_ent {
                    return Err(corrupt());
                }
                self.out.push(self.fin_char);
                c = old;
            }
            while c >= 256 {
                let i = usize::try_from(c).unwrap_or(usize::MAX);
                let (Some(&s), Some(&p)) = (self.suffix.get(i), self.prefix.get(i)) else {
                    return Err(corrupt());
                };
                self.out.push(s);
                c = u32::from(p);
                // A string is never longer than the table.
                if self.out.len() > 1 << 16 {
                    return Err(corrupt());
                }
            }
            self.fin_char = c as u8;
            self.out.push(self.fin_char);
            self.out.reverse();
            self.out_at = 0;
            let entry = self.free_ent;
            if entry < self.max_max_code
                && let (Some(p), Some(s)) = (
                    self.prefix.get_mut(entry as usize),
                    self.suffix.get_mut(entry as usize),
                )
            {
                *p = u16::try_from(old).unwrap_or(0);
                *s = self.fin_char;
                self.free_ent = entry + 1;
            }
            self.old_code = Some(code);
            return Ok(true);
        }
    }
}

fn corrupt() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "corrupt input (a code names no table entry)",
    )
}

impl Read for Lzw<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let mut n = 0;
        while n < buf.len() {
            if self.out_at >= self.out.len() {
                match self.step() {
                    Ok(true) => {}
                    Ok(false) => break,
                    // What was decoded before the bad code is output, as
                    // gzip and ncompress write it before they stop.
                    Err(e) if n > 0 => {
                        self.failed = Some(e);
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            let left = self.out.get(self.out_at..).unwrap_or_default();
            let take = left.len().min(buf.len() - n);
            if let (Some(dst), Some(src)) = (buf.get_mut(n..n + take), left.get(..take)) {
                dst.copy_from_slice(src);
            }
            n += take;
            self.out_at += take;
        }
        Ok(n)
    }
}

impl Extractor for Compress {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let name = strip_compression_ext(cx.name, &["z"]);
        let lzw =
            Lzw::new(data).ok_or_else(|| Issue::corrupt("not a compress'd stream: bad header"))?;
        // The stream runs to the end of the file: compress has no end
        // marker.
        one_child(lzw, |_| data.len(), name, cx, sink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Codes packed least significant bit first at 9 bits.
    fn pack9(codes: &[u32]) -> Vec<u8> {
        let mut out = vec![0x1f, 0x9d, 0x90];
        let mut acc = 0u64;
        let mut bits = 0;
        for &c in codes {
            acc |= u64::from(c) << bits;
            bits += 9;
            while bits >= 8 {
                out.push(acc as u8);
                acc >>= 8;
                bits -= 8;
            }
        }
        if bits > 0 {
            out.push(acc as u8);
        }
        out
    }

    fn decode(d: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Lzw::new(d).unwrap().read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn kwkwk_and_damage() {
        // a, b, "ab" (257), "aba" (the entry being made: KwKwK).
        assert_eq!(decode(&pack9(&[97, 98, 257, 259])).unwrap(), b"abababa");
        // A code past the next entry is damage.
        assert!(decode(&pack9(&[97, 300])).is_err());
        assert!(decode(&pack9(&[300])).is_err());
    }
}
