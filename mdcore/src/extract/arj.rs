//! ARJ archives, read from the format's technical notes: the main header,
//! then one local header per entry (basic header with its CRC-32, extended
//! headers, then the entry's data) up to the empty end header.
//!
//! Methods: 0 stored; 1, 2 and 3 (LZ77 with static Huffman coding, the same
//! code as LHA's `-lh6-`, decoded by `delharc`); 4 ("fastest": LZ77 with
//! unary-prefixed lengths and offsets, decoded here). Every entry is checked
//! against its CRC-32. Garbled (password-protected) entries are tried with
//! the supplied passwords, the CRC deciding; none opening them is 12.
//! An entry continued from or into another volume is not whole (3).

use std::borrow::Cow;
use std::io::{self, Read};

use delharc::decode::{Decoder, DecoderAny};

use super::{Child, Cx, Entry, Extractor, Flow, Issue, Sink, read_child, sanitize_name};
use crate::bytes::{le_u16, le_u32};
use crate::verdict::ResultCode;

pub(crate) struct Arj;

const MAX_BASIC: usize = 2600;
/// Entries read from one archive.
const MAX_ENTRIES: usize = 1 << 20;
/// Extended headers after one basic header.
const MAX_EXTENDED: usize = 64;

const GARBLED: u8 = 0x01;
const VOLUME: u8 = 0x04;
const EXTFILE: u8 = 0x08;

/// One basic header.
struct Header<'d> {
    flags: u8,
    method: u8,
    file_type: u8,
    /// The password modifier of garbled entries.
    modifier: u8,
    packed: u64,
    original: u64,
    crc: u32,
    name: &'d [u8],
}

/// Reads the header at `at`: `Ok(None)` for the end header, else the
/// header and where the bytes after its extended headers begin.
fn header(d: &[u8], at: usize) -> Result<Option<(Header<'_>, usize)>, String> {
    if d.get(at..at + 2) != Some(&[0x60, 0xea][..]) {
        return Err(format!("no ARJ header at offset {at}"));
    }
    let size = usize::from(le_u16(d, at + 2).ok_or("header cut short")?);
    if size == 0 {
        return Ok(None);
    }
    if size > MAX_BASIC {
        return Err(format!("basic header of {size} bytes at offset {at}"));
    }
    let basic = d.get(at + 4..at + 4 + size).ok_or("header cut short")?;
    let crc = le_u32(d, at + 4 + size).ok_or("header cut short")?;
    if crc32fast::hash(basic) != crc {
        return Err(format!("header at offset {at} fails its CRC-32 check"));
    }
    let first = usize::from(*basic.first().ok_or("empty header")?);
    if first < 30 || first > size {
        return Err(format!("header at offset {at} has a bad fixed part size"));
    }
    let strings = basic.get(first..).unwrap_or_default();
    let name_len = strings
        .iter()
        .position(|b| *b == 0)
        .unwrap_or(strings.len());
    let get = |o: usize| basic.get(o).copied().unwrap_or(0);
    let h = Header {
        flags: get(4),
        method: get(5),
        file_type: get(6),
        modifier: get(7),
        packed: u64::from(le_u32(basic, 12).unwrap_or(0)),
        original: u64::from(le_u32(basic, 16).unwrap_or(0)),
        crc: le_u32(basic, 20).unwrap_or(0),
        name: strings.get(..name_len).unwrap_or_default(),
    };
    // Extended headers: a size, the bytes and their CRC-32, until size 0.
    let mut p = at + 4 + size + 4;
    for _ in 0..MAX_EXTENDED {
        let n = usize::from(le_u16(d, p).ok_or("extended header cut short")?);
        p += 2;
        if n == 0 {
            return Ok(Some((h, p)));
        }
        p = p
            .checked_add(n + 4)
            .filter(|e| *e <= d.len())
            .ok_or("extended header cut short")?;
    }
    Err("too many extended headers".into())
}

impl Extractor for Arj {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let (_main, mut at) = header(data, 0)
            .map_err(|e| Issue::corrupt(format!("ARJ main header not read: {e}")))?
            .ok_or_else(|| Issue::corrupt("ARJ archive without a main header"))?;
        for index in 0.. {
            if index >= MAX_ENTRIES {
                return Err(Issue::new(
                    ResultCode::ExceededArchiveFileNumber,
                    format!("ARJ archive has more than {MAX_ENTRIES} entries"),
                ));
            }
            let (h, body) = match header(data, at) {
                Ok(Some(x)) => x,
                Ok(None) => {
                    cx.consumed(at + 4);
                    return Ok(());
                }
                Err(e) => {
                    return Err(Issue::corrupt(format!(
                        "ARJ headers damaged after {index} entries: {e}"
                    )));
                }
            };
            let end = usize::try_from(h.packed)
                .ok()
                .and_then(|n| body.checked_add(n));
            let packed = end.and_then(|e| data.get(body..e));
            // Binary, text and (ARJ 2.x) unlabelled entries hold data;
            // directories, labels and comments do not.
            if matches!(h.file_type, 0 | 1) {
                let name = sanitize_name(&String::from_utf8_lossy(h.name));
                let (packed, short) = match packed {
                    Some(p) => (p, false),
                    None => (data.get(body..).unwrap_or_default(), true),
                };
                let (child, stop) = entry(&h, packed, short, name, cx);
                if sink(Entry::Ready(child)) == Flow::Stop {
                    return Ok(());
                }
                if let Some(s) = stop {
                    return Err(Issue::stopped(s));
                }
            }
            match end.filter(|e| *e <= data.len()) {
                Some(e) => at = e,
                None => return Err(Issue::corrupt("ARJ archive cut short inside an entry")),
            }
        }
        Ok(())
    }
}

/// Decodes one entry, trying the supplied passwords when it is garbled.
fn entry(
    h: &Header<'_>,
    packed: &[u8],
    short: bool,
    name: String,
    cx: &Cx<'_>,
) -> (Child, Option<crate::limits::Stop>) {
    if !matches!(h.method, 0..=4) {
        let issue = Issue::new(
            ResultCode::UnsupportedFileType,
            format!("ARJ method {} is not decoded", h.method),
        );
        return (Child::failed(name, issue), None);
    }
    let split = if h.flags & EXTFILE != 0 {
        Some("ARJ entry begins in an earlier volume, which was not given: not whole")
    } else if h.flags & VOLUME != 0 {
        Some("ARJ entry continues in a later volume, which was not given: not whole")
    } else {
        None
    };
    if h.flags & GARBLED != 0 {
        // Each password is tried by decoding without keeping the bytes
        // (bounded by the object limit); the one whose CRC-32 matches is
        // used to decode for real.
        let right = cx.passwords.iter().find(|pw| {
            let clear = ungarble(packed, pw.as_bytes(), h.modifier);
            checks(h, &clear, cx.budget.limits.max_object_size)
        });
        let Some(pw) = right else {
            let note = match cx.passwords.len() {
                0 => "garbled (password-protected) ARJ entry and no password was supplied"
                    .to_string(),
                n => format!(
                    "garbled (password-protected) ARJ entry; none of the {n} supplied passwords \
                     opened it"
                ),
            };
            let issue = Issue::new(ResultCode::EncryptedArchive, note);
            return (Child::failed(name, issue), None);
        };
        let clear = ungarble(packed, pw.as_bytes(), h.modifier);
        return decode(h, Cow::Owned(clear), short, split, name, cx);
    }
    decode(h, Cow::Borrowed(packed), short, split, name, cx)
}

fn ungarble(packed: &[u8], password: &[u8], modifier: u8) -> Vec<u8> {
    if password.is_empty() {
        return packed.to_vec();
    }
    packed
        .iter()
        .zip(password.iter().cycle())
        .map(|(b, p)| b ^ p.wrapping_add(modifier))
        .collect()
}

/// Whether the entry decodes to its CRC-32 (for a password trial).
fn checks(h: &Header<'_>, packed: &[u8], cap: u64) -> bool {
    if h.original > cap {
        return false;
    }
    let mut r = Checked::new(decoder(h, packed), h.original);
    let mut sink = io::sink();
    io::copy(&mut r, &mut sink).is_ok() && r.whole() && r.crc_ok(h.crc)
}

fn decode(
    h: &Header<'_>,
    packed: Cow<'_, [u8]>,
    short: bool,
    split: Option<&str>,
    name: String,
    cx: &Cx<'_>,
) -> (Child, Option<crate::limits::Stop>) {
    let mut r = Checked::new(decoder(h, &packed), h.original);
    let produced = read_child(&mut r, cx.budget);
    let stop = produced.stop;
    let cut = produced.issue.is_some();
    let mut child = produced.into_child(name);
    if !cut {
        if short {
            child.issue = Some(Issue::corrupt("ARJ entry cut short: not whole"));
        } else if !r.whole() {
            child.issue = Some(Issue::corrupt(
                "ARJ entry decodes to fewer bytes than it declares",
            ));
        } else if !r.crc_ok(h.crc) {
            child.issue = Some(Issue::corrupt("ARJ entry fails its CRC-32 check"));
        }
    }
    if let Some(why) = split {
        child.issue = Some(Issue::corrupt(why));
    }
    (child, stop)
}

/// A reader of the entry's decoded bytes.
fn decoder<'p>(h: &Header<'_>, packed: &'p [u8]) -> Box<dyn Read + 'p> {
    match h.method {
        0 => Box::new(packed),
        4 => Box::new(Fastest::new(packed)),
        _ => Box::new(Lh6 {
            dec: DecoderAny::new_from_compression(delharc::CompressionMethod::Lh6, packed),
        }),
    }
}

/// Methods 1-3 through delharc's `-lh6-` decoder (it fills whole buffers;
/// [`Checked`] never asks past the declared size).
struct Lh6<'p> {
    dec: DecoderAny<&'p [u8]>,
}

impl Read for Lh6<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.dec.fill_buffer(buf).map_err(io::Error::from)?;
        Ok(buf.len())
    }
}

/// Yields exactly the declared size (or less when the decoder fails),
/// computing the CRC-32 on the way.
struct Checked<R> {
    inner: R,
    left: u64,
    hasher: crc32fast::Hasher,
}

impl<R: Read> Checked<R> {
    fn new(inner: R, size: u64) -> Self {
        Checked {
            inner,
            left: size,
            hasher: crc32fast::Hasher::new(),
        }
    }

    fn whole(&self) -> bool {
        self.left == 0
    }

    fn crc_ok(&self, crc: u32) -> bool {
        self.hasher.clone().finalize() == crc
    }
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = usize::try_from(self.left).map_or(buf.len(), |l| l.min(buf.len()));
        let Some(window) = buf.get_mut(..want) else {
            return Ok(0);
        };
        if window.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(window)?;
        let got = window.get(..n).unwrap_or_default();
        self.hasher.update(got);
        self.left -= n as u64;
        Ok(n)
    }
}

/// ARJ method 4: literals and matches, each announced by a unary-prefixed
/// length; offsets likewise; a 26,624-byte window.
struct Fastest<'p> {
    input: &'p [u8],
    /// Bit position in `input`.
    bit: usize,
    window: Vec<u8>,
    pos: usize,
    /// A match being copied: bytes left and where from.
    copy: usize,
    from: usize,
}

const WINDOW: usize = 26_624;
const THRESHOLD: usize = 3;

impl<'p> Fastest<'p> {
    fn new(input: &'p [u8]) -> Self {
        Fastest {
            input,
            bit: 0,
            window: vec![0; WINDOW],
            pos: 0,
            copy: 0,
            from: 0,
        }
    }

    fn bits(&mut self, n: u32) -> io::Result<usize> {
        let mut v = 0usize;
        for _ in 0..n {
            let byte = self.input.get(self.bit / 8).copied().ok_or_else(|| {
                io::Error::new(io::ErrorKind::UnexpectedEof, "ARJ data ends early")
            })?;
            v = (v << 1) | usize::from((byte >> (7 - self.bit % 8)) & 1);
            self.bit += 1;
        }
        Ok(v)
    }

    /// A value coded as a unary prefix of up to `stop - start` ones that
    /// picks a width, then that many bits.
    fn prefixed(&mut self, start: u32, stop: u32) -> io::Result<usize> {
        let mut plus = 0usize;
        let mut pwr = 1usize << start;
        let mut width = start;
        while width < stop {
            if self.bits(1)? == 0 {
                break;
            }
            plus += pwr;
            pwr <<= 1;
            width += 1;
        }
        let v = if width != 0 { self.bits(width)? } else { 0 };
        Ok(v + plus)
    }

    fn put(&mut self, b: u8) {
        if let Some(slot) = self.window.get_mut(self.pos) {
            *slot = b;
        }
        self.pos = (self.pos + 1) % WINDOW;
    }
}

impl Read for Fastest<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            let b = if self.copy > 0 {
                self.copy -= 1;
                let b = self.window.get(self.from).copied().unwrap_or(0);
                self.from = (self.from + 1) % WINDOW;
                b
            } else {
                let len = self.prefixed(0, 7)?;
                if len == 0 {
                    self.bits(8)? as u8
                } else {
                    let offset = self.prefixed(9, 13)?;
                    self.copy = len - 1 + THRESHOLD;
                    self.from = (self.pos + 2 * WINDOW - offset - 1) % WINDOW;
                    continue;
                }
            };
            self.put(b);
            if let Some(slot) = buf.get_mut(n) {
                *slot = b;
            }
            n += 1;
        }
        Ok(n)
    }
}
