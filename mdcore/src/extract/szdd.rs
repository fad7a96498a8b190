//! Microsoft `COMPRESS.EXE` files, read from their published layout:
//! SZDD (LZSS with a 4 KiB window, the `setup.ex_` files of old Windows
//! installers) and KWAJ (stored, XOR 0xFF, the same LZSS, or MSZIP; the
//! "LZ + Huffman" method 3 is not decoded: 23).
//!
//! One member each, named from the container (`setup.ex_` -> `setup.ex_.out`
//! unless KWAJ stores the name). The decoded size must match the declared
//! one, else the member is not whole (3).

use std::io::{self, Read};

use super::{Child, Cx, Entry, Extractor, Issue, Sink, read_child, sanitize_name};
use crate::bytes::{le_u16, le_u32};
use crate::kind::Span;
use crate::verdict::ResultCode;

pub(crate) struct Szdd;
pub(crate) struct Kwaj;

/// Validates an SZDD header found inside another object: mode 'A' and a
/// declared size within the object limit's order (4 GiB field).
pub(crate) fn carve_szdd(d: &[u8], at: usize) -> Option<Span> {
    (d.get(at + 8) == Some(&b'A') && le_u32(d, at + 10).is_some() && d.len() > at + 14).then_some(
        Span {
            start: at,
            end: None,
        },
    )
}

/// Validates a KWAJ header found inside another object: a method that
/// exists (0-4) and a data offset past the header, inside the carrier.
pub(crate) fn carve_kwaj(d: &[u8], at: usize) -> Option<Span> {
    let method = le_u16(d, at + 8)?;
    let offset = usize::from(le_u16(d, at + 10)?);
    (method <= 4 && offset >= 14 && at + offset <= d.len()).then_some(Span {
        start: at,
        end: None,
    })
}

/// The LZSS of SZDD and KWAJ method 2: flag bytes (bit set: a literal;
/// clear: a 12-bit offset into a 4 KiB window primed with spaces and a
/// 4-bit length + 3), the window written from 4096 - 16.
struct Lzss<'d> {
    input: &'d [u8],
    at: usize,
    window: [u8; 4096],
    pos: usize,
    flags: u16,
    copy: usize,
    from: usize,
}

impl<'d> Lzss<'d> {
    fn new(input: &'d [u8]) -> Self {
        Lzss {
            input,
            at: 0,
            window: [b' '; 4096],
            pos: 4096 - 16,
            flags: 0,
            copy: 0,
            from: 0,
        }
    }

    fn byte(&mut self) -> Option<u8> {
        let b = self.input.get(self.at).copied();
        self.at += 1;
        b
    }
}

impl Read for Lzss<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            let b = if self.copy > 0 {
                self.copy -= 1;
                let b = self.window.get(self.from).copied().unwrap_or(b' ');
                self.from = (self.from + 1) & 4095;
                b
            } else {
                if self.flags & 0x100 == 0 {
                    let Some(f) = self.byte() else { break };
                    self.flags = u16::from(f) | 0xff00;
                }
                let literal = self.flags & 1 != 0;
                self.flags >>= 1;
                if literal {
                    let Some(b) = self.byte() else { break };
                    b
                } else {
                    let (Some(lo), Some(hi)) = (self.byte(), self.byte()) else {
                        break;
                    };
                    self.from = usize::from(lo) | (usize::from(hi & 0xf0) << 4);
                    self.copy = usize::from(hi & 0x0f) + 3;
                    continue;
                }
            };
            if let Some(slot) = self.window.get_mut(self.pos) {
                *slot = b;
            }
            self.pos = (self.pos + 1) & 4095;
            if let Some(slot) = buf.get_mut(n) {
                *slot = b;
            }
            n += 1;
        }
        Ok(n)
    }
}

/// Reads `r` into a child and checks the declared size.
fn member(
    r: &mut dyn Read,
    name: String,
    declared: Option<u64>,
    cx: &Cx<'_>,
    sink: &mut Sink<'_, '_>,
) -> Result<(), Issue> {
    let produced = read_child(r, cx.budget);
    let stop = produced.stop;
    let mut child = produced.into_child(name);
    let got = child.data.as_ref().map_or(0, |d| d.len() as u64);
    if let Some(size) = declared
        && child.issue.is_none()
        && got != size
    {
        child.issue = Some(Issue::corrupt(format!(
            "decodes to {got} bytes where {size} are declared: not whole"
        )));
    }
    sink(Entry::Ready(child));
    match stop {
        Some(s) => Err(Issue::stopped(s)),
        None => Ok(()),
    }
}

fn out_name(cx: &Cx<'_>) -> String {
    let base = cx.name.rsplit('/').next().unwrap_or(cx.name);
    format!("{base}.out")
}

impl Extractor for Szdd {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        if data.get(8) != Some(&b'A') {
            return Err(Issue::new(
                ResultCode::UnsupportedFileType,
                "SZDD compression mode other than 'A' is not decoded",
            ));
        }
        let size = le_u32(data, 10).ok_or_else(|| Issue::corrupt("SZDD header cut short"))?;
        let mut lz = Lzss::new(data.get(14..).unwrap_or_default());
        // The name's last letter, replaced by `_`, is stored in the header.
        let mut name = out_name(cx);
        if let (Some(stripped), Some(c)) = (name.strip_suffix("_.out"), data.get(9))
            && c.is_ascii_graphic()
        {
            name = format!("{stripped}{}", char::from(*c).to_ascii_lowercase());
        }
        let mut limited = (&mut lz).take(u64::from(size));
        member(&mut limited, name, Some(u64::from(size)), cx, sink)?;
        cx.consumed((14 + lz.at).min(data.len()));
        Ok(())
    }
}

impl Extractor for Kwaj {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let cut = || Issue::corrupt("KWAJ header cut short");
        let method = le_u16(data, 8).ok_or_else(cut)?;
        let offset = usize::from(le_u16(data, 10).ok_or_else(cut)?);
        let flags = le_u16(data, 12).ok_or_else(cut)?;
        let mut p = 14usize;
        let mut declared = None;
        if flags & 0x01 != 0 {
            declared = Some(u64::from(le_u32(data, p).ok_or_else(cut)?));
            p += 4;
        }
        if flags & 0x02 != 0 {
            p += 2;
        }
        if flags & 0x04 != 0 {
            p += 2 + usize::from(le_u16(data, p).ok_or_else(cut)?);
        }
        let mut stored = String::new();
        for (bit, max) in [(0x08u16, 9usize), (0x10, 4)] {
            if flags & bit != 0 {
                let field = data.get(p..).unwrap_or_default();
                let len = field.iter().take(max).position(|b| *b == 0);
                let text = field
                    .get(..len.unwrap_or(max.min(field.len())))
                    .unwrap_or_default();
                if bit == 0x10 {
                    stored.push('.');
                }
                stored.push_str(&String::from_utf8_lossy(text));
                p += len.map_or(max, |l| l + 1);
            }
        }
        let name = if stored.is_empty() || stored == "." {
            out_name(cx)
        } else {
            sanitize_name(&stored)
        };
        let body = data
            .get(offset..)
            .ok_or_else(|| Issue::corrupt("KWAJ data offset past the end"))?;
        // Stored and XOR data end at the declared size (the rest is for
        // the carver to search), or run to the end.
        let sized = declared
            .and_then(|d| usize::try_from(d).ok())
            .and_then(|d| body.get(..d))
            .unwrap_or(body);
        match method {
            0 => {
                cx.consumed(offset + sized.len());
                member(&mut &sized[..], name, declared, cx, sink)
            }
            1 => {
                cx.consumed(offset + sized.len());
                let mut xored = sized.iter().map(|b| b ^ 0xff).collect::<Vec<_>>();
                let r = member(&mut &xored[..], name, declared, cx, sink);
                xored.clear();
                r
            }
            2 => {
                let mut lz = Lzss::new(body);
                let r = match declared {
                    Some(d) => member(&mut (&mut lz).take(d), name, declared, cx, sink),
                    None => member(&mut lz, name, None, cx, sink),
                };
                cx.consumed((offset + lz.at).min(data.len()));
                r
            }
            4 => {
                let mut r = Mszip::new(body);
                let result = match declared {
                    Some(d) => member(&mut (&mut r).take(d), name, declared, cx, sink),
                    None => member(&mut r, name, None, cx, sink),
                };
                cx.consumed(offset + body.len() - r.rest.len());
                result
            }
            m => {
                let issue = Issue::new(
                    ResultCode::UnsupportedFileType,
                    format!("KWAJ method {m} is not decoded"),
                );
                sink(Entry::Ready(Child::failed(name, issue)));
                Ok(())
            }
        }
    }
}

/// KWAJ method 4: blocks of `u16 length`, "CK", then deflate data, each
/// block's dictionary continuing from the last (as in CAB's MSZIP).
struct Mszip<'d> {
    rest: &'d [u8],
    out: Vec<u8>,
    at: usize,
    history: Vec<u8>,
    failed: bool,
}

impl<'d> Mszip<'d> {
    fn new(body: &'d [u8]) -> Self {
        Mszip {
            rest: body,
            out: Vec::new(),
            at: 0,
            history: Vec::new(),
            failed: false,
        }
    }

    fn next_block(&mut self) -> io::Result<bool> {
        let Some(len) = le_u16(self.rest, 0) else {
            return Ok(false);
        };
        let len = usize::from(len);
        let block = self
            .rest
            .get(2..2 + len)
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "MSZIP block cut short"))?;
        self.rest = self.rest.get(2 + len..).unwrap_or_default();
        let deflate = block
            .strip_prefix(b"CK")
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "MSZIP block without CK"))?;
        let mut d = flate2::Decompress::new(false);
        if !self.history.is_empty() {
            d.set_dictionary(&self.history)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        }
        // A block decodes to at most 32 KiB.
        let mut out = Vec::with_capacity(32 << 10);
        d.decompress_vec(deflate, &mut out, flate2::FlushDecompress::Finish)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        self.history = out.iter().rev().take(32 << 10).rev().copied().collect();
        self.out = out;
        self.at = 0;
        Ok(true)
    }
}

impl Read for Mszip<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at >= self.out.len() {
            if self.failed || !self.next_block().inspect_err(|_| self.failed = true)? {
                return Ok(0);
            }
        }
        let avail = self.out.get(self.at..).unwrap_or_default();
        let n = avail.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), avail.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.at += n;
        Ok(n)
    }
}
