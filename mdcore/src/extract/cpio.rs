//! cpio: newc (`070701`), crc (`070702`), odc (`070707`) and the old binary
//! format in either byte order, read as a stream (RPM payloads reuse it).

use std::io::{self, Read};

use super::{Cx, Entry, Extractor, Flow, Issue, Sink, read_child, sanitize_name};

pub(crate) struct Cpio;

impl Extractor for Cpio {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let end = walk_stream(&mut &data[..], cx, sink)?;
        cx.consumed(usize::try_from(end).unwrap_or(data.len()).min(data.len()));
        Ok(())
    }
}

/// Longest entry name accepted (PATH_MAX on Linux); longer is corruption.
const MAX_NAME: u64 = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// newc and crc: ASCII hex fields, 4-byte alignment.
    Newc,
    /// odc: ASCII octal fields, no alignment.
    Odc,
    /// old binary: 16-bit fields, 2-byte alignment.
    Binary { big_endian: bool },
}

struct Header {
    mode: u64,
    name_size: u64,
    file_size: u64,
}

/// Reads cpio entries from a stream, yielding every entry that carries
/// data (whatever its mode says: GNU cpio and bsdtar hand such bytes to the
/// user) and every empty regular file. Returns where the archive ended.
pub(crate) fn walk_stream<'a>(
    r: &mut dyn Read,
    cx: &Cx<'a>,
    sink: &mut Sink<'_, 'a>,
) -> Result<u64, Issue> {
    let mut pos: u64 = 0;
    loop {
        let mut magic = [0u8; 6];
        match read_exact_or_eof(r, &mut magic).map_err(io_issue)? {
            0 => return Ok(pos), // clean end without a trailer: accept
            6 => {}
            _ => return Err(Issue::corrupt("truncated cpio header")),
        }
        pos += 6;
        let format = match &magic {
            b"070701" | b"070702" => Format::Newc,
            b"070707" => Format::Odc,
            [0xc7, 0x71, ..] => Format::Binary { big_endian: false },
            [0x71, 0xc7, ..] => Format::Binary { big_endian: true },
            // Padding after the trailer (cpio pads to 512-byte blocks).
            m if m.iter().all(|b| *b == 0) => return Ok(pos - 6),
            _ => {
                return Err(Issue::corrupt(format!(
                    "bad cpio magic at offset {}",
                    pos - 6
                )));
            }
        };
        let header = read_header(r, format, &magic, &mut pos)?;
        if header.name_size == 0 || header.name_size > MAX_NAME {
            return Err(Issue::corrupt(format!(
                "cpio name size {} out of range",
                header.name_size
            )));
        }
        let mut name = vec![0u8; usize::try_from(header.name_size).unwrap_or(0)];
        r.read_exact(&mut name).map_err(io_issue)?;
        pos += header.name_size;
        skip(r, pad(format, pos))?;
        pos += pad(format, pos);
        let name = String::from_utf8_lossy(name.split(|b| *b == 0).next().unwrap_or_default())
            .into_owned();
        if name == "TRAILER!!!" {
            return Ok(pos);
        }
        let is_file = header.mode & 0o170000 == 0o100000;
        let mut body = r.take(header.file_size);
        if is_file || header.file_size > 0 {
            let produced = read_child(&mut body, cx.budget);
            let stop = produced.stop;
            let cut = produced.issue.is_some();
            let mut child = produced.into_child(sanitize_name(&name));
            if !is_file {
                child.note = Some(format!(
                    "a cpio entry of mode {:o} that carries data; scanned as a file",
                    header.mode
                ));
            }
            if sink(Entry::Ready(child)) == Flow::Stop {
                return Ok(pos);
            }
            if let Some(s) = stop {
                return Err(Issue::stopped(s));
            }
            if cut {
                // The member was cut or damaged: the stream position is
                // unknown past it, so stop here (its issue is on the child).
                return Err(Issue::corrupt(
                    "cpio stream not readable past a damaged member",
                ));
            }
        }
        // Skip what is left of the body (all of it for non-files); a body
        // shorter than declared is truncation.
        io::copy(&mut body, &mut io::sink()).map_err(io_issue)?;
        if body.limit() != 0 {
            return Err(Issue::corrupt("truncated cpio member"));
        }
        pos += header.file_size;
        skip(r, pad(format, pos))?;
        pos += pad(format, pos);
        if let Err(s) = cx.budget.check() {
            return Err(Issue::stopped(s));
        }
    }
}

fn io_issue(e: io::Error) -> Issue {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        Issue::corrupt("truncated cpio archive")
    } else {
        Issue::corrupt(format!("cpio read failed: {e}"))
    }
}

fn read_exact_or_eof(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let Some(rest) = buf.get_mut(got..) else {
            break;
        };
        match r.read(rest) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn skip(r: &mut dyn Read, n: u64) -> Result<(), Issue> {
    if n == 0 {
        return Ok(());
    }
    // Missing padding at the very end is harmless; the next header read
    // reports real truncation.
    io::copy(&mut r.take(n), &mut io::sink()).map_err(io_issue)?;
    Ok(())
}

/// Padding after the header+name or after the body, to the format's alignment.
fn pad(format: Format, pos: u64) -> u64 {
    match format {
        Format::Newc => (4 - pos % 4) % 4,
        Format::Odc => 0,
        Format::Binary { .. } => pos % 2,
    }
}

fn read_header(
    r: &mut dyn Read,
    format: Format,
    magic: &[u8; 6],
    pos: &mut u64,
) -> Result<Header, Issue> {
    match format {
        Format::Newc => {
            // 13 fields of 8 hex digits follow the magic (110 bytes in all).
            let mut h = [0u8; 104];
            r.read_exact(&mut h).map_err(io_issue)?;
            *pos += 104;
            let field = |i: usize| -> Result<u64, Issue> {
                let text = h
                    .get(i * 8..i * 8 + 8)
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .ok_or_else(|| Issue::corrupt("bad cpio header"))?;
                u64::from_str_radix(text, 16)
                    .map_err(|_| Issue::corrupt(format!("bad hex field `{text}` in cpio header")))
            };
            Ok(Header {
                mode: field(1)?,
                file_size: field(6)?,
                name_size: field(11)?,
            })
        }
        Format::Odc => {
            // dev ino mode uid gid nlink rdev (6 each) mtime (11) namesize (6) filesize (11)
            let mut h = [0u8; 70];
            r.read_exact(&mut h).map_err(io_issue)?;
            *pos += 70;
            let field = |start: usize, len: usize| -> Result<u64, Issue> {
                let text = h
                    .get(start..start + len)
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .ok_or_else(|| Issue::corrupt("bad cpio header"))?;
                u64::from_str_radix(text, 8)
                    .map_err(|_| Issue::corrupt(format!("bad octal field `{text}` in cpio header")))
            };
            Ok(Header {
                mode: field(12, 6)?,
                name_size: field(53, 6)?,
                file_size: field(59, 11)?,
            })
        }
        Format::Binary { big_endian } => {
            // 13 u16 fields; the magic's 2 bytes are in `magic`, and 4 more
            // header bytes were read along with it.
            let mut h = [0u8; 26];
            h[..6].copy_from_slice(magic);
            r.read_exact(&mut h[6..]).map_err(io_issue)?;
            *pos += 20;
            let word = |i: usize| -> u64 {
                let b = crate::bytes::array::<2>(&h, i * 2).unwrap_or_default();
                u64::from(if big_endian {
                    u16::from_be_bytes(b)
                } else {
                    u16::from_le_bytes(b)
                })
            };
            // The 32-bit file size is stored most significant word first.
            Ok(Header {
                mode: word(3),
                name_size: word(10),
                file_size: (word(11) << 16) | word(12),
            })
        }
    }
}

/// A newc archive of regular files, for tests.
#[cfg(test)]
pub(crate) fn newc_archive(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut all: Vec<(&str, &[u8], u32)> =
        entries.iter().map(|(n, d)| (*n, *d, 0o100644)).collect();
    all.push(("TRAILER!!!", b"", 0));
    for (name, data, mode) in all {
        let fields = [
            1,
            mode,
            0,
            0,
            1,
            0,
            data.len() as u32,
            0,
            0,
            0,
            0,
            name.len() as u32 + 1,
            0,
        ];
        out.extend_from_slice(b"070701");
        for f in fields {
            out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out.extend_from_slice(data);
        while out.len() % 4 != 0 {
            out.push(0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    type Collected = (Vec<(String, Vec<u8>)>, Result<(), Issue>);

    /// Returns 1..=7 bytes per read: decoders feeding `walk_stream` (RPM
    /// payloads) hand out short reads, and the parser must not care.
    struct ShortReads<'a>(&'a [u8], usize);

    impl Read for ShortReads<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.1 = self.1 % 7 + 1;
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn collect(data: &[u8]) -> Collected {
        collect_from(&mut &data[..])
    }

    fn collect_from(r: &mut dyn Read) -> Collected {
        let budget = crate::limits::Budget::new(crate::Limits::default(), 100, None);
        let cx = Cx::new(&budget, &[], "x.cpio", crate::detect::identify);
        let mut out = Vec::new();
        let res = walk_stream(r, &cx, &mut |e| {
            if let Entry::Ready(c) = e {
                out.push((c.name, c.data.map(|b| b.to_vec()).unwrap_or_default()));
            }
            Flow::Continue
        });
        (out, res.map(|_| ()))
    }

    #[test]
    fn newc_round_trip_and_truncation() {
        let a = newc_archive(&[("./a.txt", b"hello"), ("../b", b"worlds!")]);
        let (out, res) = collect(&a);
        assert!(res.is_ok(), "{res:?}");
        assert_eq!(
            out,
            vec![
                ("a.txt".into(), b"hello".to_vec()),
                ("b".into(), b"worlds!".to_vec())
            ]
        );
        let (short, res) = collect_from(&mut ShortReads(&a, 0));
        assert!(res.is_ok(), "{res:?}");
        assert_eq!(short, out);
        let (out, res) = collect(&a[..a.len() - 140]);
        assert_eq!(out.len(), 1);
        assert!(res.is_err());
    }

    #[test]
    fn binary_both_endians() {
        for big in [false, true] {
            let w = |v: u16| {
                if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                }
            };
            let mut out = Vec::new();
            for (name, data, mode) in [("f", &b"xyz"[..], 0o100644u16), ("TRAILER!!!", &b""[..], 0)]
            {
                let fields = [
                    0o070707,
                    0,
                    1,
                    mode,
                    0,
                    0,
                    1,
                    0,
                    0,
                    0,
                    name.len() as u16 + 1,
                    0,
                    data.len() as u16,
                ];
                for f in fields {
                    out.extend_from_slice(&w(f));
                }
                out.extend_from_slice(name.as_bytes());
                out.push(0);
                if out.len() % 2 == 1 {
                    out.push(0);
                }
                out.extend_from_slice(data);
                if out.len() % 2 == 1 {
                    out.push(0);
                }
            }
            let (got, res) = collect(&out);
            assert!(res.is_ok(), "{res:?}");
            assert_eq!(got, vec![("f".into(), b"xyz".to_vec())]);
        }
    }

    #[test]
    fn odc() {
        let mut out = Vec::new();
        for (name, data) in [("odc.txt", &b"data"[..]), ("TRAILER!!!", &b""[..])] {
            out.extend_from_slice(b"070707");
            out.extend_from_slice(
                format!(
                    "{:06o}{:06o}{:06o}{:06o}{:06o}{:06o}{:06o}{:011o}{:06o}{:011o}",
                    0,
                    1,
                    0o100644,
                    0,
                    0,
                    1,
                    0,
                    0,
                    name.len() + 1,
                    data.len()
                )
                .as_bytes(),
            );
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            out.extend_from_slice(data);
        }
        let (got, res) = collect(&out);
        assert!(res.is_ok(), "{res:?}");
        assert_eq!(got, vec![("odc.txt".into(), b"data".to_vec())]);
    }
}
