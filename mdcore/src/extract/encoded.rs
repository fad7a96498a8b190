//! Decoders for text encodings of binary data, written to be as lenient as
//! the most forgiving mail client: base64 that skips garbage and missing
//! padding, quoted-printable that keeps malformed escapes, and the blocks
//! found in message bodies — uuencode, yEnc and BinHex 4.0.
//!
//! Every decoder stops at `cap` output bytes (the caller passes the object
//! size limit) and never allocates from a size the data declares.

use memchr::memmem;

/// A binary object found encoded inside text.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Block {
    /// The file name the block gives (sanitized by the caller).
    pub(crate) name: String,
    pub(crate) data: Vec<u8>,
    /// Which encoding it was in (for the child's note).
    pub(crate) encoding: &'static str,
    /// Set when the block is cut short or damaged.
    pub(crate) damaged: Option<String>,
}

fn b64_value(b: u8) -> Option<u8> {
    Some(match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        // The URL-safe alphabet too: a lenient decoder takes both.
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    })
}

/// Base64 as a lenient mail client reads it: characters outside the
/// alphabet are skipped, missing padding is fine, and `=` ends a quantum
/// (so concatenated padded runs decode as they were written).
pub(crate) fn base64(input: &[u8], cap: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity((input.len() / 4 * 3).min(cap));
    let mut acc = 0u32;
    let mut bits = 0u32;
    for &b in input {
        if b == b'=' {
            acc = 0;
            bits = 0;
            continue;
        }
        let Some(v) = b64_value(b) else { continue };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            if out.len() >= cap {
                break;
            }
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Quoted-printable (RFC 2045 6.7): `=XX` escapes, `=` at a line end is a
/// soft break; a malformed escape is kept as it stands.
pub(crate) fn quoted_printable(input: &[u8], cap: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len().min(cap));
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if out.len() >= cap {
            break;
        }
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        let rest = input.get(i + 1..).unwrap_or_default();
        // A soft line break, with trailing whitespace tolerated.
        let ws = rest
            .iter()
            .take_while(|c| **c == b' ' || **c == b'\t')
            .count();
        match rest.get(ws..) {
            Some([b'\r', b'\n', ..]) => {
                i += 1 + ws + 2;
                continue;
            }
            Some([b'\n', ..]) => {
                i += 1 + ws + 1;
                continue;
            }
            _ => {}
        }
        match (
            rest.first().and_then(|c| hex(*c)),
            rest.get(1).and_then(|c| hex(*c)),
        ) {
            (Some(h), Some(l)) => {
                out.push(h << 4 | l);
                i += 3;
            }
            _ => {
                out.push(b'=');
                i += 1;
            }
        }
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Lines of `text`, without their line ending, with their start offsets.
fn lines(text: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut at = 0usize;
    text.split(|b| *b == b'\n').map(move |l| {
        let start = at;
        at += l.len() + 1;
        (start, l.strip_suffix(b"\r").unwrap_or(l))
    })
}

/// One uuencoded line: a length character, then groups of four characters
/// of six bits each (space or backquote is zero).
fn uu_line(line: &[u8], out: &mut Vec<u8>, cap: usize) -> bool {
    let Some((&len, body)) = line.split_first() else {
        return true;
    };
    let n = usize::from(len.wrapping_sub(b' ') & 0x3f);
    if n == 0 {
        return true;
    }
    let six = |c: u8| c.wrapping_sub(b' ') & 0x3f;
    let mut produced = 0usize;
    for group in body.chunks(4) {
        let g: Vec<u8> = (0..4)
            .map(|k| group.get(k).copied().map_or(0, six))
            .collect();
        let (a, b, c, d) = (
            g.first().copied().unwrap_or(0),
            g.get(1).copied().unwrap_or(0),
            g.get(2).copied().unwrap_or(0),
            g.get(3).copied().unwrap_or(0),
        );
        for byte in [a << 2 | b >> 4, b << 4 | c >> 2, c << 6 | d] {
            if produced < n && out.len() < cap {
                out.push(byte);
                produced += 1;
            }
        }
    }
    produced == n
}

/// BinHex blocks decoded in one text at most.
const MAX_BINHEX: usize = 64;

/// Every uuencode, yEnc and BinHex 4.0 block in `text`.
pub(crate) fn blocks(text: &[u8], cap: usize) -> Vec<Block> {
    let mut out = Vec::new();
    let mut binhex_seen = 0usize;
    let mut lines = lines(text).peekable();
    while let Some((start, line)) = lines.next() {
        if let Some(name) = uu_begin(line) {
            let mut data = Vec::new();
            let mut damaged = Some("the uuencoded block has no `end` line".to_string());
            for (_, l) in lines.by_ref() {
                if l == b"end" || l.starts_with(b"end ") {
                    damaged = None;
                    break;
                }
                if !uu_line(l, &mut data, cap) && damaged.is_none() {
                    damaged = Some("a uuencoded line is short".into());
                }
            }
            out.push(Block {
                name,
                data,
                encoding: "uuencode",
                damaged,
            });
        } else if line.starts_with(b"=ybegin ") {
            let name = yenc_param(line, b"name=").unwrap_or_else(|| "yenc.bin".into());
            let mut data = Vec::new();
            let mut damaged = Some("the yEnc block has no `=yend` line".to_string());
            for (_, l) in lines.by_ref() {
                if l.starts_with(b"=yend") {
                    damaged = None;
                    break;
                }
                if l.starts_with(b"=ypart ") {
                    continue;
                }
                yenc_line(l, &mut data, cap);
            }
            out.push(Block {
                name,
                data,
                encoding: "yEnc",
                damaged,
            });
        } else if line.starts_with(b"(This file must be converted with BinHex")
            && binhex_seen < MAX_BINHEX
        {
            // Each block is decoded to its closing colon: cap how many, so
            // a text of nothing but BinHex headers stays linear.
            binhex_seen += 1;
            let rest = text.get(start + line.len()..).unwrap_or_default();
            if let Some(b) = binhex(rest, cap) {
                out.push(b);
            }
        }
    }
    out
}

/// `begin <mode> <name>` (and `begin-base64`, which is not uuencode).
fn uu_begin(line: &[u8]) -> Option<String> {
    let rest = line.strip_prefix(b"begin ")?;
    let text = String::from_utf8_lossy(rest);
    let (mode, name) = text.trim().split_once(' ')?;
    if mode.is_empty() || !mode.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    Some(name.trim().to_string())
}

fn yenc_param(line: &[u8], key: &[u8]) -> Option<String> {
    let at = memmem::find(line, key)?;
    // `name=` is the last parameter and runs to the end of the line.
    let v = line.get(at + key.len()..)?;
    Some(String::from_utf8_lossy(v).trim().to_string())
}

fn yenc_line(line: &[u8], out: &mut Vec<u8>, cap: usize) {
    let mut escaped = false;
    for &b in line {
        if out.len() >= cap {
            return;
        }
        if escaped {
            out.push(b.wrapping_sub(64).wrapping_sub(42));
            escaped = false;
        } else if b == b'=' {
            escaped = true;
        } else {
            out.push(b.wrapping_sub(42));
        }
    }
}

const BINHEX: &[u8; 64] = b"!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr";

/// A BinHex 4.0 block ([RFC 1741]): text between colons, six bits a
/// character, then run-length encoding (0x90), then a header giving the
/// file's name and the lengths of its data and resource forks.
fn binhex(text: &[u8], cap: usize) -> Option<Block> {
    let start = memchr::memchr(b':', text)? + 1;
    let body = text.get(start..)?;
    let end = memchr::memchr(b':', body);
    let mut damaged = end
        .is_none()
        .then(|| "the BinHex block has no closing `:`".to_string());
    let body = body.get(..end.unwrap_or(body.len()))?;
    // Six-bit decoding.
    let mut raw = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in body {
        if c.is_ascii_whitespace() {
            continue;
        }
        let Some(v) = BINHEX.iter().position(|x| *x == c) else {
            damaged.get_or_insert_with(|| "a character outside the BinHex alphabet".into());
            break;
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            raw.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Run-length decoding: 0x90 n repeats the previous byte n-1 more times;
    // 0x90 0 is a literal 0x90.
    let mut plain: Vec<u8> = Vec::new();
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if plain.len() >= cap.saturating_add(1024) {
            damaged.get_or_insert_with(|| "cut at the size limit".into());
            break;
        }
        if b == 0x90 {
            match raw.get(i + 1) {
                Some(0) => plain.push(0x90),
                Some(&n) => {
                    let prev = plain.last().copied().unwrap_or(0);
                    let room = cap.saturating_add(1024).saturating_sub(plain.len());
                    plain.extend(std::iter::repeat_n(prev, usize::from(n - 1).min(room)));
                }
                None => {}
            }
            i += 2;
        } else {
            plain.push(b);
            i += 1;
        }
    }
    // Header: name length, name, 0, type (4), creator (4), flags (2),
    // data length (4, big-endian), resource length (4), CRC (2).
    let n = usize::from(*plain.first()?);
    let name = String::from_utf8_lossy(plain.get(1..1 + n)?).into_owned();
    let h = 1 + n + 1 + 4 + 4 + 2;
    let data_len = u32::from_be_bytes(crate::bytes::array(&plain, h)?);
    let data_start = h + 4 + 4 + 2;
    let want = usize::try_from(data_len).unwrap_or(usize::MAX).min(cap);
    let avail = plain.get(data_start..).unwrap_or_default();
    if avail.len() < want {
        damaged.get_or_insert_with(|| "the BinHex data fork is cut short".into());
    }
    let data = avail
        .get(..want.min(avail.len()))
        .unwrap_or_default()
        .to_vec();
    Some(Block {
        name: if name.is_empty() {
            "binhex.bin".into()
        } else {
            name
        },
        data,
        encoding: "BinHex 4.0",
        damaged,
    })
}

/// Decodes RFC 2047 encoded words (`=?charset?B?...?=`, `=?charset?Q?...?=`)
/// in a header value; text around them is kept.
pub(crate) fn encoded_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut after_word = false;
    while let Some(at) = rest.find("=?") {
        let (before, word) = rest.split_at(at);
        let parsed = (|| {
            let inner = word.get(2..)?;
            let (charset, inner) = inner.split_once('?')?;
            let (enc, inner) = inner.split_once('?')?;
            let end = inner.find("?=")?;
            let text = inner.get(..end)?;
            let bytes = match enc.to_ascii_lowercase().as_str() {
                "b" => base64(text.as_bytes(), usize::MAX),
                "q" => quoted_printable(text.replace('_', " ").as_bytes(), usize::MAX),
                _ => return None,
            };
            let used = 2 + charset.len() + 1 + enc.len() + 1 + end + 2;
            Some((decode_charset(charset, &bytes), used))
        })();
        match parsed {
            Some((text, used)) => {
                // Whitespace between two encoded words is dropped.
                if !(after_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&text);
                rest = word.get(used..).unwrap_or_default();
                after_word = true;
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = word.get(2..).unwrap_or_default();
                after_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Bytes in a named charset as text (UTF-8 and anything unknown lossily).
pub(crate) fn decode_charset(charset: &str, bytes: &[u8]) -> String {
    // RFC 2231 allows a language after `*`: "utf-8*en".
    let label = charset.split('*').next().unwrap_or(charset);
    match encoding_rs::Encoding::for_label(label.trim().as_bytes()) {
        Some(enc) => enc.decode_without_bom_handling(bytes).0.into_owned(),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_skips_garbage_and_missing_padding() {
        assert_eq!(base64(b"aGVsbG8=", 100), b"hello");
        assert_eq!(base64(b"aGVs\r\nbG8", 100), b"hello");
        assert_eq!(base64(b"aG!!Vs*bG8=", 100), b"hello");
        // Two padded runs back to back.
        assert_eq!(base64(b"aGk=aGk=", 100), b"hihi");
        assert_eq!(base64(b"aGVsbG8=", 3), b"hel");
    }

    #[test]
    fn quoted_printable_soft_breaks_and_bad_escapes() {
        assert_eq!(quoted_printable(b"a=3Db=\r\nc", 100), b"a=bc");
        assert_eq!(quoted_printable(b"a=  \nb", 100), b"ab");
        assert_eq!(quoted_printable(b"50=%", 100), b"50=%");
        assert_eq!(quoted_printable(b"end=", 100), b"end=");
    }

    #[test]
    fn uuencode_yenc_and_binhex_blocks() {
        let text = b"Hi,\nbegin 644 cat.txt\n#0V%T\n`\nend\nbye\n";
        let b = blocks(text, 1000);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].name, "cat.txt");
        assert_eq!(b[0].data, b"Cat");
        assert_eq!(b[0].damaged, None);

        let mut y = b"=ybegin line=128 size=3 name=y.bin\n".to_vec();
        y.extend(b"abc".iter().map(|c| c.wrapping_add(42)));
        y.extend_from_slice(b"\n=yend size=3\n");
        let b = blocks(&y, 1000);
        assert_eq!(
            (b[0].name.as_str(), b[0].data.as_slice()),
            ("y.bin", &b"abc"[..])
        );

        // Cut short: still a block, marked damaged.
        let b = blocks(b"begin 600 x\n#0V%T\n", 1000);
        assert!(b[0].damaged.is_some());
        assert!(blocks(b"begin the meeting at 10\n", 1000).is_empty());
    }

    #[test]
    fn binhex_round_trip() {
        let data = b"hello binhex";
        let encoded = binhex_encode("h.txt", data);
        let mut text = b"(This file must be converted with BinHex 4.0)\n".to_vec();
        text.extend_from_slice(&encoded);
        let b = blocks(&text, 1000);
        assert_eq!(b.len(), 1, "{b:?}");
        assert_eq!(b[0].name, "h.txt");
        assert_eq!(b[0].data, data);
        assert_eq!(b[0].damaged, None);
        // Any cut: no panic.
        for n in 0..text.len() {
            let _ = blocks(&text[..n], 1000);
        }
    }

    /// BinHex without run-length compression (a valid encoding).
    fn binhex_encode(name: &str, data: &[u8]) -> Vec<u8> {
        let mut plain = vec![name.len() as u8];
        plain.extend_from_slice(name.as_bytes());
        plain.push(0);
        plain.extend_from_slice(b"TEXTttxt\0\0");
        plain.extend_from_slice(&(data.len() as u32).to_be_bytes());
        plain.extend_from_slice(&0u32.to_be_bytes());
        plain.extend_from_slice(&[0, 0]);
        plain.extend_from_slice(data);
        plain.extend_from_slice(&[0, 0]);
        let mut out = vec![b':'];
        for c in plain.chunks(3) {
            let v = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            let n = c.len() + 1;
            for k in 0..n {
                out.push(BINHEX[((v >> (18 - 6 * k)) & 0x3f) as usize]);
            }
        }
        out.push(b':');
        out
    }

    #[test]
    fn encoded_words_decode() {
        assert_eq!(encoded_words("=?utf-8?B?aW52b2ljZS5leGU=?="), "invoice.exe");
        assert_eq!(encoded_words("=?iso-8859-1?Q?caf=E9?= ok"), "café ok");
        assert_eq!(encoded_words("=?utf-8?Q?a?= =?utf-8?Q?b?=.zip"), "ab.zip");
        assert_eq!(encoded_words("plain =?broken"), "plain =?broken");
    }
}
