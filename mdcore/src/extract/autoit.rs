//! Compiled AutoIt scripts: the data AutoIt's compiler stores in the
//! executable (EA06: the `SCRIPT` resource; EA05: the overlay), found by the
//! carver from its `AU3!EA05` / `AU3!EA06` marker.
//!
//! Layout (as AutoIt-Ripper and ClamAV read it): a 16-byte GUID, `AU3!`,
//! the version (`EA05` or `EA06`), 16 bytes (EA05 sums them into its data
//! key), then entries, each opening with `FILE` encrypted. An entry has a
//! type string (`>>>AUTOIT SCRIPT<<<` for the tokenised script, the source
//! path for a `FileInstall`ed file), a name, a compressed flag, the stored
//! and unpacked sizes, an Adler-32 of the stored bytes, two file times and
//! the data. Integers are XORed with fixed keys; strings and data with a
//! keystream: MT19937 for EA05, the "LAME" generator for EA06 (its bytes
//! are the top byte of every second step). Compressed data is AutoIt's
//! LZSS (`EA05` / `EA06` / `JB00`; `JB01`'s adaptive Huffman coding is not
//! read: such an entry blocks with code 23).
//!
//! The EA06 script is tokens; it is rendered back to text (keywords,
//! function and macro names as the compiler stored them, upper case;
//! strings unmasked) so the engines see `script.au3` as source. Each
//! installed file becomes a child named by its source path.

use super::{Cx, Extractor, Flow, Issue, Sink, hand_over, sanitize_name};
use crate::bytes::le_u32;
use crate::verdict::ResultCode;

pub(crate) struct AutoIt;

/// Entries read from one script.
const MAX_ENTRIES: usize = 10_000;
/// The fixed header: GUID, `AU3!EA0x`, 16 bytes.
const HEADER: usize = 16 + 8 + 16;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cipher {
    Mt,
    Lame,
}

/// One version's keys (they differ between EA05 and EA06).
struct Scheme {
    cipher: Cipher,
    unicode: bool,
    file: u32,
    kind: (u32, u32),
    name: (u32, u32),
    size: u32,
    crc: u32,
    data: u32,
}

const EA05: Scheme = Scheme {
    cipher: Cipher::Mt,
    unicode: false,
    file: 0x16FA,
    kind: (0x29BC, 0xA25E),
    name: (0x29AC, 0xF25E),
    size: 0x45AA,
    crc: 0xC3D2,
    data: 0x22AF,
};

const EA06: Scheme = Scheme {
    cipher: Cipher::Lame,
    unicode: true,
    file: 0x18EE,
    kind: (0xADBC, 0xB33F),
    name: (0xF820, 0xF479),
    size: 0x87BC,
    crc: 0xA685,
    data: 0x2477,
};

/// EA06's generator: 17 words, two walking indices, rotations and sums.
struct Lame {
    s: [u32; 17],
    a: usize,
    b: usize,
}

impl Lame {
    fn new(seed: u32) -> Lame {
        let mut s = [0u32; 17];
        let mut x = seed;
        for w in &mut s {
            x = 1u32.wrapping_sub(x.wrapping_mul(0x53A9_B4FB));
            *w = x;
        }
        let mut l = Lame { s, a: 0, b: 10 };
        for _ in 0..9 {
            l.step();
        }
        l
    }

    fn step(&mut self) -> u32 {
        let (x, y) = (
            self.s.get(self.a).copied().unwrap_or(0),
            self.s.get(self.b).copied().unwrap_or(0),
        );
        let r = x.rotate_left(9).wrapping_add(y.rotate_left(13));
        if let Some(w) = self.s.get_mut(self.a) {
            *w = r;
        }
        self.a = if self.a == 0 { 16 } else { self.a - 1 };
        self.b = if self.b == 0 { 16 } else { self.b - 1 };
        r
    }

    /// A byte: the generator's double in [0, 1) times 256, which is the
    /// top byte of the second step.
    fn byte(&mut self) -> u8 {
        self.step();
        (self.step() >> 24) as u8
    }
}

/// `data` XORed with the keystream seeded by `seed`.
fn decrypt(cipher: Cipher, seed: u32, data: &[u8]) -> Vec<u8> {
    match cipher {
        Cipher::Lame => {
            let mut g = Lame::new(seed);
            data.iter().map(|b| b ^ g.byte()).collect()
        }
        Cipher::Mt => {
            let mut g = rand_mt::Mt::new(seed);
            data.iter().map(|b| b ^ (g.next_u32() >> 1) as u8).collect()
        }
    }
}

/// A cursor over the entries.
struct Reader<'d> {
    d: &'d [u8],
    at: usize,
}

impl<'d> Reader<'d> {
    fn take(&mut self, n: usize) -> Option<&'d [u8]> {
        let s = self.d.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }

    fn u32(&mut self) -> Option<u32> {
        let v = le_u32(self.d, self.at)?;
        self.at += 4;
        Some(v)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(*self.take(1)?.first()?)
    }

    /// A length-prefixed encrypted string.
    fn string(&mut self, s: &Scheme, keys: (u32, u32)) -> Option<String> {
        let len = self.u32()? ^ keys.0;
        let bytes = usize::try_from(len)
            .ok()?
            .checked_mul(if s.unicode { 2 } else { 1 })?;
        let raw = decrypt(s.cipher, len.wrapping_add(keys.1), self.take(bytes)?);
        Some(if s.unicode {
            crate::bytes::utf16le_lossy(&raw)
        } else {
            raw.iter().map(|b| char::from(*b)).collect()
        })
    }
}

/// AutoIt's LZSS: MSB-first bits; a flag bit (1 = literal for EA06 and
/// JB00, 0 for EA05), then 8 literal bits or a match (EA0x: 15-bit
/// distance and a growing length code; JB00: 13-bit distance + 3 and a
/// 4-bit length + 3). Stops at `want` bytes or `cap`; `Err` on damage.
fn lzss(src: &[u8], cap: usize) -> Result<(Vec<u8>, bool), String> {
    let (Some(magic), Some(size)) = (src.get(..4), src.get(4..8)) else {
        return Err("compressed data cut short".into());
    };
    let jb00 = match magic {
        b"EA05" | b"EA06" => false,
        b"JB00" => true,
        b"JB01" => return Err("JB01".into()),
        _ => return Err("compressed data without its EA05/EA06/JB00 marker".into()),
    };
    let literal = u32::from(magic != b"EA05");
    let want = u32::from_be_bytes([
        size.first().copied().unwrap_or(0),
        size.get(1).copied().unwrap_or(0),
        size.get(2).copied().unwrap_or(0),
        size.get(3).copied().unwrap_or(0),
    ]) as usize;
    let bits = src.get(8..).unwrap_or_default();
    let mut pos = 0usize;
    let mut get = |n: u32| -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = bits.get(pos / 8)?;
            v = (v << 1) | u32::from((byte >> (7 - pos % 8)) & 1);
            pos += 1;
        }
        Some(v)
    };
    let limit = want.min(cap);
    let mut out: Vec<u8> = Vec::with_capacity(limit.min(1 << 20));
    let short = || "compressed data cut short".to_string();
    while out.len() < limit {
        if get(1).ok_or_else(short)? == literal {
            out.push(get(8).ok_or_else(short)? as u8);
            continue;
        }
        let (distance, length) = if jb00 {
            (
                get(13).ok_or_else(short)? as usize + 3,
                get(4).ok_or_else(short)? as usize + 3,
            )
        } else {
            let distance = get(15).ok_or_else(short)? as usize;
            let mut length = 3usize;
            let mut done = false;
            for (base, n, all) in [
                (3, 2, 3),
                (6, 3, 7),
                (13, 5, 31),
                (44, 8, 255),
                (299, 8, 255),
            ] {
                let v = get(n).ok_or_else(short)? as usize;
                length = base + v;
                if v != all {
                    done = true;
                    break;
                }
            }
            if !done {
                // 299 + 255 + 255 …: each further 255 adds on.
                loop {
                    let v = get(8).ok_or_else(short)? as usize;
                    length += v;
                    if v != 255 {
                        break;
                    }
                }
            }
            (distance, length)
        };
        if distance == 0 || distance > out.len() {
            return Err(format!(
                "a match reaches {distance} bytes back, before the start of the data"
            ));
        }
        for _ in 0..length.min(limit - out.len()) {
            let b = out.get(out.len() - distance).copied().unwrap_or(0);
            out.push(b);
        }
    }
    Ok((out, want > cap))
}

/// Renders EA06's script tokens as text; `Err` keeps what was rendered.
fn render(tokens: &[u8], cap: usize) -> Result<String, (String, String)> {
    let mut r = Reader { d: tokens, at: 0 };
    let mut out = String::new();
    let Some(lines) = r.u32() else {
        return Err((out, "script tokens cut short".into()));
    };
    let mut line: Vec<String> = Vec::new();
    let mut done = 0u32;
    while done < lines {
        if out.len() > cap {
            return Err((out, "rendered script over the object size limit".into()));
        }
        let Some(op) = r.u8() else {
            return Err((out, "script tokens cut short".into()));
        };
        let word = match op {
            0x00 => r.u32().map(|n| format!("<keyword {n}>")),
            0x01 => r.u32().map(|n| format!("<function {n}>")),
            0x05 => r.u32().map(|n| n.to_string()),
            0x10 => r
                .take(8)
                .and_then(|b| b.try_into().ok())
                .map(|b| u64::from_le_bytes(b).to_string()),
            0x20 => r
                .take(8)
                .and_then(|b| b.try_into().ok())
                .map(|b| f64::from_le_bytes(b).to_string()),
            0x30..=0x37 => masked(&mut r).map(|s| match op {
                0x32 => format!("@{s}"),
                0x33 => format!("${s}"),
                0x35 => format!(".{s}"),
                0x36 => format!("\"{}\"", s.replace('"', "\"\"")),
                _ => s,
            }),
            0x40..=0x58 => OPERATORS
                .get(usize::from(op - 0x40))
                .map(|s| (*s).to_string()),
            0x7F => {
                out.push_str(&line.join(" "));
                out.push_str("\r\n");
                line.clear();
                done += 1;
                continue;
            }
            _ => return Err((out, format!("unknown script token 0x{op:02x}"))),
        };
        match word {
            Some(w) => line.push(w),
            None => return Err((out, "script tokens cut short".into())),
        }
    }
    Ok(out)
}

const OPERATORS: [&str; 25] = [
    ",", "=", ">", "<", "<>", ">=", "<=", "(", ")", "+", "-", "/", "*", "&", "[", "]", "==", "^",
    "+=", "-=", "/=", "*=", "&=", "?", ":",
];

/// A token string: a length in UTF-16 units, each unit XORed with it.
fn masked(r: &mut Reader<'_>) -> Option<String> {
    let len = r.u32()?;
    let raw = r.take(usize::try_from(len).ok()?.checked_mul(2)?)?;
    let units: Vec<u16> = raw
        .chunks_exact(2)
        .map(|c| {
            u16::from_le_bytes([
                c.first().copied().unwrap_or(0),
                c.get(1).copied().unwrap_or(0),
            ]) ^ (len as u16)
        })
        .collect();
    Some(String::from_utf16_lossy(&units))
}

/// One entry's data, unpacked and named.
struct Unpacked {
    name: String,
    bytes: Vec<u8>,
    note: String,
    issue: Option<Issue>,
}

fn unpack(
    kind: &str,
    path: &str,
    stored: Vec<u8>,
    compressed: bool,
    crc_ok: bool,
    cx: &Cx<'_>,
) -> Unpacked {
    let mut issue =
        (!crc_ok).then(|| Issue::corrupt("AutoIt entry's Adler-32 does not match its data"));
    let cap = usize::try_from(cx.budget.limits.max_object_size.min(cx.budget.room()))
        .unwrap_or(usize::MAX);
    let bytes = if compressed {
        match lzss(&stored, cap) {
            Ok((b, cut)) => {
                if cut {
                    issue = Some(Issue::new(
                        ResultCode::ExceededArchiveSize,
                        "AutoIt entry unpacks past the size limit: cut there",
                    ));
                }
                b
            }
            Err(e) if e == "JB01" => {
                issue = Some(Issue::new(
                    ResultCode::UnsupportedFileType,
                    "AutoIt entry compressed with JB01, which mdscan does not read yet",
                ));
                stored
            }
            Err(e) => {
                issue = Some(Issue::corrupt(format!("AutoIt entry not unpacked: {e}")));
                stored
            }
        }
    } else {
        stored
    };
    let note = format!("AutoIt entry {kind:?} ({path})");
    match kind {
        ">>>AUTOIT SCRIPT<<<"
            if issue
                .as_ref()
                .is_none_or(|i| i.code != ResultCode::UnsupportedFileType) =>
        {
            let text = match render(&bytes, cap) {
                Ok(t) => t,
                Err((t, e)) => {
                    issue.get_or_insert_with(|| Issue::corrupt(format!("AutoIt script: {e}")));
                    t
                }
            };
            Unpacked {
                name: "script.au3".into(),
                bytes: text.into_bytes(),
                note,
                issue,
            }
        }
        ">AUTOIT UNICODE SCRIPT<" => {
            let text = crate::bytes::utf16le_lossy(&bytes);
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text).to_string();
            Unpacked {
                name: "script.au3".into(),
                bytes: text.into_bytes(),
                note,
                issue,
            }
        }
        ">AUTOIT SCRIPT<" => Unpacked {
            name: "script.au3".into(),
            bytes,
            note,
            issue,
        },
        _ => {
            let base = kind.rsplit(['\\', '/']).next().unwrap_or(kind);
            Unpacked {
                name: sanitize_name(base),
                bytes,
                note,
                issue,
            }
        }
    }
}

impl Extractor for AutoIt {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let scheme = match data.get(16..24) {
            Some(b"AU3!EA05") => &EA05,
            Some(b"AU3!EA06") => &EA06,
            _ => return Err(Issue::corrupt("AutoIt script header not found")),
        };
        let checksum = match scheme.cipher {
            Cipher::Mt => data
                .get(24..40)
                .unwrap_or_default()
                .iter()
                .fold(0u32, |s, b| s.wrapping_add(u32::from(*b))),
            Cipher::Lame => 0,
        };
        let mut r = Reader {
            d: data,
            at: HEADER,
        };
        let mut count = 0usize;
        let mut damage = None;
        loop {
            let start = r.at;
            match r.take(4) {
                Some(f) if decrypt(scheme.cipher, scheme.file, f) == b"FILE" => {}
                _ => {
                    r.at = start;
                    break;
                }
            }
            if count >= MAX_ENTRIES {
                damage = Some(Issue::new(
                    ResultCode::ExceededArchiveFileNumber,
                    format!("AutoIt script has more than {MAX_ENTRIES} entries"),
                ));
                break;
            }
            count += 1;
            let (Some(kind), Some(path)) =
                (r.string(scheme, scheme.kind), r.string(scheme, scheme.name))
            else {
                damage = Some(Issue::corrupt("AutoIt entry cut short"));
                break;
            };
            if kind == ">>>AUTOIT NO CMDEXECUTE<<<" {
                let skip = r
                    .take(1)
                    .and_then(|_| r.u32())
                    .map(|n| (n ^ scheme.size) as usize + 0x18);
                if skip.and_then(|n| r.take(n)).is_none() {
                    damage = Some(Issue::corrupt("AutoIt entry cut short"));
                    break;
                }
                continue;
            }
            let head = (|| {
                let compressed = r.u8()? == 1;
                let stored = r.u32()? ^ scheme.size;
                let _unpacked = r.u32()? ^ scheme.size;
                let crc = r.u32()? ^ scheme.crc;
                r.take(16)?;
                Some((compressed, stored, crc))
            })();
            let Some((compressed, stored, crc)) = head else {
                damage = Some(Issue::corrupt("AutoIt entry cut short"));
                break;
            };
            let Some(raw) = r.take(stored as usize) else {
                damage = Some(Issue::corrupt(format!(
                    "AutoIt entry {kind:?} cut short: {stored} bytes declared, {} left",
                    data.len().saturating_sub(r.at)
                )));
                break;
            };
            let plain = decrypt(scheme.cipher, checksum.wrapping_add(scheme.data), raw);
            let crc_ok = adler2::adler32_slice(&plain) == crc;
            let u = unpack(&kind, &path, plain, compressed, crc_ok, cx);
            if hand_over(sink, cx, u.name, &u.bytes, Some(u.note), u.issue)? == Flow::Stop {
                break;
            }
        }
        cx.consumed(r.at);
        if count == 0 && damage.is_none() {
            return Err(Issue::corrupt("AutoIt script holds no entry that decrypts"));
        }
        damage.map_or(Ok(()), Err)
    }
}

/// See [`crate::fuzzing::autoit_sample`].
#[cfg(feature = "fuzzing")]
pub(crate) fn sample(data: &[u8]) -> Vec<u8> {
    let sel = data.first().copied().unwrap_or(0);
    let body = data.get(1..).unwrap_or_default();
    let s = if sel & 1 == 0 { &EA06 } else { &EA05 };
    let kind = match (sel >> 1) & 3 {
        0 => ">>>AUTOIT SCRIPT<<<",
        1 => ">AUTOIT UNICODE SCRIPT<",
        2 => ">AUTOIT SCRIPT<",
        _ => "C:\\x\\file.bin",
    };
    let mut out = vec![0u8; 16];
    out.extend_from_slice(if s.cipher == Cipher::Mt {
        b"AU3!EA05"
    } else {
        b"AU3!EA06"
    });
    out.extend_from_slice(&[0u8; 16]);
    out.extend(decrypt(s.cipher, s.file, b"FILE"));
    for (text, keys) in [(kind, s.kind), (kind, s.name)] {
        let raw: Vec<u8> = if s.unicode {
            text.encode_utf16().flat_map(u16::to_le_bytes).collect()
        } else {
            text.as_bytes().to_vec()
        };
        let len = if s.unicode { raw.len() / 2 } else { raw.len() } as u32;
        out.extend_from_slice(&(len ^ keys.0).to_le_bytes());
        out.extend(decrypt(s.cipher, len.wrapping_add(keys.1), &raw));
    }
    out.push(u8::from(sel & 8 != 0));
    let n = body.len() as u32;
    out.extend_from_slice(&(n ^ s.size).to_le_bytes());
    out.extend_from_slice(&(n ^ s.size).to_le_bytes());
    out.extend_from_slice(&(adler2::adler32_slice(body) ^ s.crc).to_le_bytes());
    out.extend_from_slice(&[0u8; 16]);
    out.extend(decrypt(s.cipher, s.data, body));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lzss_literals_and_an_overlapping_match() {
        // EA06: 1 = literal. "ab" then a match of 4 at distance 2: "ababab".
        let mut bits = String::new();
        for c in b"ab" {
            bits.push('1');
            bits.push_str(&format!("{c:08b}"));
        }
        bits.push('0');
        bits.push_str(&format!("{:015b}", 2));
        bits.push_str("01"); // length 3 + 1
        while !bits.len().is_multiple_of(8) {
            bits.push('0');
        }
        let mut src = b"EA06\0\0\0\x06".to_vec();
        for chunk in bits.as_bytes().chunks(8) {
            src.push(u8::from_str_radix(std::str::from_utf8(chunk).unwrap(), 2).unwrap());
        }
        assert_eq!(lzss(&src, 100).unwrap().0, b"ababab");
        // Capped: cut and said so.
        let (b, cut) = lzss(&src, 3).unwrap();
        assert_eq!((b.as_slice(), cut), (&b"aba"[..], true));
        // A match before the start.
        src[8] = 0;
        assert!(lzss(&src, 100).is_err());
    }

    #[test]
    fn mt_keystream_is_mt19937() {
        // MT19937 seeded with 5489 starts 3499211612 (the reference value).
        let mut g = rand_mt::Mt::new(5489);
        assert_eq!(g.next_u32(), 3_499_211_612);
        let x = decrypt(Cipher::Mt, 5489, &[0]);
        assert_eq!(x, [(3_499_211_612u32 >> 1) as u8]);
    }
}
