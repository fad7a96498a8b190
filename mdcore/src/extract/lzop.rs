//! lzop (`.lzo`, `.tzo`) as lzop 1.04 reads it: each part of the file (a
//! header and its blocks; `lzop a b > x.lzo` writes one part per file) is
//! a child named as the part's header names it — what `lzop -dN` restores.
//! Methods LZO1X-1, LZO1X-1(15) and LZO1X-999 (all LZO1X streams, decoded
//! by the `lzo` crate's safe decoder); the header checksum (Adler-32 or
//! CRC-32) and every block checksum the header asks for are checked, as
//! lzop checks them, and a block that does not decode to its stated size
//! is damage. A part that uses lzop's old filters, or another method, is
//! 23 with a note. Bytes after the last part are left to the carver.

use std::io::{self, Read};

use crate::verdict::ResultCode;

use super::{
    Cx, Entry, Extractor, Flow, Issue, Sink, read_child, sanitize_name, strip_compression_ext,
};

pub(crate) struct Lzop;

pub(crate) const MAGIC: &[u8] = b"\x89LZO\x00\r\n\x1a\n";

const F_ADLER32_D: u32 = 0x1;
const F_ADLER32_C: u32 = 0x2;
const F_H_EXTRA_FIELD: u32 = 0x40;
const F_CRC32_D: u32 = 0x100;
const F_CRC32_C: u32 = 0x200;
const F_H_FILTER: u32 = 0x800;
const F_H_CRC32: u32 = 0x1000;
/// lzop refuses a block stating more than this.
const MAX_BLOCK: u32 = 64 << 20;

fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

fn cut() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "lzop file cut short")
}

/// Big-endian reads over the file, failing at its end.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        let d = self.data;
        let b = d
            .get(self.pos..self.pos.checked_add(n).ok_or_else(cut)?)
            .ok_or_else(cut)?;
        self.pos += n;
        Ok(b)
    }
    fn u8(&mut self) -> io::Result<u8> {
        self.take(1)?.first().copied().ok_or_else(cut)
    }
    fn u16(&mut self) -> io::Result<u16> {
        Ok(u16::from_be_bytes(
            self.take(2)?.try_into().map_err(|_| cut())?,
        ))
    }
    fn u32(&mut self) -> io::Result<u32> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().map_err(|_| cut())?,
        ))
    }
}

fn adler32(d: &[u8]) -> u32 {
    adler2::adler32_slice(d)
}

/// A part's header, as far as decoding needs it.
#[derive(Debug)]
struct Part {
    name: Vec<u8>,
    flags: u32,
}

/// Why a part can not be decoded although it is an lzop part.
enum Refusal {
    Broken(io::Error),
    Unsupported(String),
}

impl From<io::Error> for Refusal {
    fn from(e: io::Error) -> Self {
        Refusal::Broken(e)
    }
}

fn header(c: &mut Cursor<'_>) -> Result<Part, Refusal> {
    if c.take(MAGIC.len())? != MAGIC {
        return Err(bad("not an lzop header").into());
    }
    let start = c.pos;
    let version = c.u16()?;
    let _lib_version = c.u16()?;
    if version < 0x0900 {
        return Err(bad(format!("lzop header of an unknown version {version:#x}")).into());
    }
    if version >= 0x0940 {
        let _needed = c.u16()?;
    }
    let method = c.u8()?;
    if version >= 0x0940 {
        let _level = c.u8()?;
    }
    let flags = c.u32()?;
    if flags & F_H_FILTER != 0 {
        let _filter = c.u32()?;
    }
    let _mode = c.u32()?;
    let _mtime = c.u32()?;
    if version >= 0x0940 {
        let _mtime_high = c.u32()?;
    }
    let len = c.u8()?;
    let name = c.take(usize::from(len))?.to_vec();
    let covered = c.data.get(start..c.pos).unwrap_or_default();
    let sum = if flags & F_H_CRC32 != 0 {
        crc32fast::hash(covered)
    } else {
        adler32(covered)
    };
    if c.u32()? != sum {
        return Err(bad("lzop header checksum does not match").into());
    }
    if flags & F_H_EXTRA_FIELD != 0 {
        let n = c.u32()?;
        c.take(n as usize)?;
        let _sum = c.u32()?;
    }
    if !matches!(method, 1..=3) {
        return Err(Refusal::Unsupported(format!(
            "an lzop part compressed with method {method}, which lzop itself only reads when built with it"
        )));
    }
    if flags & F_H_FILTER != 0 {
        return Err(Refusal::Unsupported(
            "an lzop part written with one of lzop's old filters, which mdscan does not undo"
                .into(),
        ));
    }
    Ok(Part { name, flags })
}

/// One part's blocks, decoded one at a time.
struct Blocks<'c, 'a> {
    c: &'c mut Cursor<'a>,
    flags: u32,
    out: Vec<u8>,
    given: usize,
    done: bool,
}

impl Blocks<'_, '_> {
    fn next_block(&mut self) -> io::Result<()> {
        let dst_len = self.c.u32()?;
        if dst_len == 0 {
            self.done = true;
            return Ok(());
        }
        if dst_len > MAX_BLOCK {
            return Err(bad(format!(
                "lzop block of {dst_len} bytes (lzop refuses more than 64 MiB)"
            )));
        }
        let src_len = self.c.u32()?;
        if src_len == 0 || src_len > dst_len {
            return Err(bad("lzop block sizes do not agree"));
        }
        let d_adler = (self.flags & F_ADLER32_D != 0)
            .then(|| self.c.u32())
            .transpose()?;
        let d_crc = (self.flags & F_CRC32_D != 0)
            .then(|| self.c.u32())
            .transpose()?;
        let packed = src_len < dst_len;
        let c_adler = (packed && self.flags & F_ADLER32_C != 0)
            .then(|| self.c.u32())
            .transpose()?;
        let c_crc = (packed && self.flags & F_CRC32_C != 0)
            .then(|| self.c.u32())
            .transpose()?;
        let src = self.c.take(src_len as usize)?;
        if c_adler.is_some_and(|s| s != adler32(src))
            || c_crc.is_some_and(|s| s != crc32fast::hash(src))
        {
            return Err(bad("lzop checksum of a compressed block does not match"));
        }
        self.out.clear();
        self.given = 0;
        if packed {
            self.out.resize(dst_len as usize, 0);
            let n = lzo::decompress_into(src, &mut self.out)
                .map_err(|e| bad(format!("lzop block does not decode: {e}")))?;
            if n != dst_len as usize {
                return Err(bad(format!(
                    "lzop block decodes to {n} bytes, its header says {dst_len}"
                )));
            }
        } else {
            self.out.extend_from_slice(src);
        }
        if d_adler.is_some_and(|s| s != adler32(&self.out))
            || d_crc.is_some_and(|s| s != crc32fast::hash(&self.out))
        {
            return Err(bad("lzop checksum of a decoded block does not match"));
        }
        Ok(())
    }
}

impl Read for Blocks<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = super::give_out(&self.out, &mut self.given, buf);
            if n > 0 {
                return Ok(n);
            }
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            self.next_block()?;
        }
    }
}

impl Extractor for Lzop {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let mut c = Cursor { data, pos: 0 };
        let mut parts = 0usize;
        while c.data.get(c.pos..).is_some_and(|r| r.starts_with(MAGIC)) {
            let start = c.pos;
            let part = match header(&mut c) {
                Ok(p) => p,
                Err(Refusal::Broken(e)) => {
                    cx.consumed(start.saturating_add(1));
                    return Err(Issue::corrupt(format!("corrupt lzop header: {e}")));
                }
                Err(Refusal::Unsupported(why)) => {
                    cx.consumed(start.saturating_add(1));
                    return Err(Issue::new(ResultCode::UnsupportedFileType, why));
                }
            };
            let name = if part.name.is_empty() {
                strip_compression_ext(cx.name, &["lzo"])
            } else {
                sanitize_name(&String::from_utf8_lossy(&part.name))
            };
            let mut blocks = Blocks {
                c: &mut c,
                flags: part.flags,
                out: Vec::new(),
                given: 0,
                done: false,
            };
            let produced = read_child(&mut blocks, cx.budget);
            let finished = blocks.done && produced.issue.is_none();
            let stop = produced.stop;
            parts += 1;
            if sink(Entry::Ready(produced.into_child(name))) == Flow::Stop {
                return Ok(());
            }
            if let Some(s) = stop {
                return Err(Issue::stopped(s));
            }
            if !finished {
                // The part's damage is on its child; what follows is left
                // to the carver.
                cx.consumed(start.saturating_add(1));
                return Ok(());
            }
        }
        if parts == 0 {
            return Err(Issue::corrupt("not an lzop file"));
        }
        cx.consumed(c.pos);
        Ok(())
    }
}
