//! Stream filters (ISO 32000-1 7.4): FlateDecode with predictors,
//! LZWDecode, ASCIIHexDecode, ASCII85Decode, RunLengthDecode, in chains.
//! Image codecs are left encoded. Every stage stops at `cap` bytes.

use super::read_capped;
use super::syntax::Obj;
use crate::extract::Issue;
use crate::verdict::ResultCode;

const IMAGE_FILTERS: &[&[u8]] = &[
    b"DCTDecode",
    b"DCT",
    b"JPXDecode",
    b"JBIG2Decode",
    b"CCITTFaxDecode",
    b"CCF",
];

fn filters(dict: &Obj) -> (Vec<Vec<u8>>, Vec<Option<&Obj>>) {
    let names = match dict.get(b"Filter").or_else(|| dict.get(b"F")) {
        Some(Obj::Name(n)) => vec![n.clone()],
        Some(Obj::Array(a)) => a
            .iter()
            .filter_map(|o| o.name().map(<[u8]>::to_vec))
            .collect(),
        _ => Vec::new(),
    };
    let parms = match dict.get(b"DecodeParms").or_else(|| dict.get(b"DP")) {
        Some(Obj::Array(a)) => a.iter().map(Some).collect(),
        Some(d @ Obj::Dict(_)) => vec![Some(d)],
        _ => Vec::new(),
    };
    (names, parms)
}

/// Whether a stream is an image left in its codec: an image filter, and
/// data that starts as that codec's data does (a "JPEG" that is not one is
/// decoded like any other stream and examined).
pub(crate) fn is_image(dict: &Obj, raw: &[u8]) -> bool {
    let (names, _) = filters(dict);
    match names.last().map(Vec::as_slice) {
        Some(b"DCTDecode" | b"DCT") if names.len() == 1 => raw.starts_with(&[0xff, 0xd8]),
        Some(b"JPXDecode") if names.len() == 1 => {
            raw.starts_with(&[0xff, 0x4f]) || raw.get(4..8) == Some(b"jP  ")
        }
        Some(n) => {
            IMAGE_FILTERS.contains(&n)
                && names.len() == 1
                && dict.get(b"Subtype").and_then(Obj::name) == Some(b"Image")
        }
        None => false,
    }
}

/// Decodes a stream through its filter chain. The bytes decoded before any
/// damage are kept; damage with nothing decoded is an issue (3), a stage
/// cut at `cap` is 13.
pub(crate) fn decode(dict: &Obj, raw: &[u8], cap: u64) -> (Vec<u8>, Option<Issue>) {
    let (names, parms) = filters(dict);
    let mut data = raw.to_vec();
    let mut issue = None;
    for (i, name) in names.iter().enumerate() {
        let parm = parms.get(i).copied().flatten();
        let step = match name.as_slice() {
            b"FlateDecode" | b"Fl" => flate(&data, cap).map(|d| predict(d, parm)),
            b"LZWDecode" | b"LZW" => {
                let early = parm
                    .and_then(|p| p.get(b"EarlyChange"))
                    .and_then(Obj::int)
                    .unwrap_or(1);
                Ok((lzw(&data, early != 0, cap), None)).map(|d| predict(d, parm))
            }
            b"ASCIIHexDecode" | b"AHx" => Ok((super::syntax::ascii_hex(&data), None)),
            b"ASCII85Decode" | b"A85" => Ok(ascii85(&data)),
            b"RunLengthDecode" | b"RL" => Ok((run_length(&data, cap), None)),
            // An image codec or the identity: what is left stays encoded.
            n if IMAGE_FILTERS.contains(&n) => break,
            b"Crypt" => continue,
            other => {
                issue = Some(Issue::new(
                    ResultCode::UnsupportedFileType,
                    format!(
                        "stream filter `{}` is not supported; examined undecoded",
                        String::from_utf8_lossy(other)
                    ),
                ));
                break;
            }
        };
        match step {
            Ok((d, damage)) => {
                data = d;
                if let Some(why) = damage
                    && issue.is_none()
                {
                    issue = Some(why);
                }
            }
            Err(i) => {
                issue = Some(i);
                break;
            }
        }
        if data.len() as u64 >= cap {
            issue = Some(Issue::new(
                ResultCode::ExceededArchiveSize,
                format!("a decoded stream reached the limit of {cap} bytes and was cut"),
            ));
            break;
        }
    }
    (data, issue)
}

type Step = Result<(Vec<u8>, Option<Issue>), Issue>;

/// zlib, or raw deflate when the zlib header is missing (Acrobat accepts
/// both); a stream damaged part way keeps what came before.
fn flate(data: &[u8], cap: u64) -> Step {
    let zlib = data.first().is_some_and(|b| b & 0x0f == 8)
        && crate::bytes::array::<2>(data, 0).is_some_and(|h| u16::from_be_bytes(h) % 31 == 0);
    let mut out = Vec::new();
    let result = if zlib {
        read_capped(&mut flate2::read::ZlibDecoder::new(data), cap, &mut out)
    } else {
        read_capped(&mut flate2::read::DeflateDecoder::new(data), cap, &mut out)
    };
    match result {
        Ok(_) => Ok((out, None)),
        // Truncated or damaged data: keep what decoded (as Acrobat does).
        Err(_) if !out.is_empty() => Ok((out, None)),
        Err(e) => Err(Issue::corrupt(format!(
            "a FlateDecode stream does not decode: {e}"
        ))),
    }
}

/// PNG (10–15) and TIFF (2) predictors.
fn predict(
    (data, issue): (Vec<u8>, Option<Issue>),
    parm: Option<&Obj>,
) -> (Vec<u8>, Option<Issue>) {
    let Some(p) = parm else { return (data, issue) };
    let get = |k: &[u8], d: i64| p.get(k).and_then(Obj::int).unwrap_or(d);
    let predictor = get(b"Predictor", 1);
    if predictor < 2 {
        return (data, issue);
    }
    let colors = usize::try_from(get(b"Colors", 1).clamp(1, 32)).unwrap_or(1);
    let bpc = usize::try_from(get(b"BitsPerComponent", 8).clamp(1, 16)).unwrap_or(8);
    let columns = usize::try_from(get(b"Columns", 1).clamp(1, 1 << 20)).unwrap_or(1);
    let bpp = (colors * bpc).div_ceil(8).max(1);
    let row = (colors * bpc * columns).div_ceil(8);
    let mut out = Vec::with_capacity(data.len());
    if predictor == 2 {
        for line in data.chunks(row.max(1)) {
            let start = out.len();
            for (i, b) in line.iter().enumerate() {
                let left = if i >= bpp {
                    out.get(start + i - bpp).copied().unwrap_or(0)
                } else {
                    0
                };
                out.push(b.wrapping_add(left));
            }
        }
        return (out, issue);
    }
    let mut prev = vec![0u8; row];
    for line in data.chunks(row + 1) {
        let Some((&kind, line)) = line.split_first() else {
            break;
        };
        let mut cur = vec![0u8; line.len()];
        for i in 0..line.len() {
            let x = line.get(i).copied().unwrap_or(0);
            let a = if i >= bpp {
                cur.get(i - bpp).copied().unwrap_or(0)
            } else {
                0
            };
            let b = prev.get(i).copied().unwrap_or(0);
            let c = if i >= bpp {
                prev.get(i - bpp).copied().unwrap_or(0)
            } else {
                0
            };
            let v = match kind {
                1 => x.wrapping_add(a),
                2 => x.wrapping_add(b),
                3 => x.wrapping_add(((u16::from(a) + u16::from(b)) / 2) as u8),
                4 => {
                    let p = i16::from(a) + i16::from(b) - i16::from(c);
                    let (pa, pb, pc) = (
                        (p - i16::from(a)).abs(),
                        (p - i16::from(b)).abs(),
                        (p - i16::from(c)).abs(),
                    );
                    let pred = if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    };
                    x.wrapping_add(pred)
                }
                _ => x,
            };
            if let Some(slot) = cur.get_mut(i) {
                *slot = v;
            }
        }
        out.extend_from_slice(&cur);
        prev = cur;
        prev.resize(row, 0);
    }
    (out, issue)
}

fn ascii85(data: &[u8]) -> (Vec<u8>, Option<Issue>) {
    let data = data.strip_prefix(b"<~").unwrap_or(data);
    let mut out = Vec::with_capacity(data.len() / 5 * 4);
    let mut group = [0u32; 5];
    let mut n = 0usize;
    for &c in data {
        match c {
            b'~' => break,
            b'z' if n == 0 => out.extend_from_slice(&[0; 4]),
            b'!'..=b'u' => {
                if let Some(slot) = group.get_mut(n) {
                    *slot = u32::from(c - b'!');
                }
                n += 1;
                if n == 5 {
                    let v = group.iter().fold(0u64, |acc, d| acc * 85 + u64::from(*d));
                    out.extend_from_slice(&(v as u32).to_be_bytes());
                    n = 0;
                }
            }
            _ => {}
        }
    }
    if n > 1 {
        for slot in group.iter_mut().skip(n) {
            *slot = 84;
        }
        let v = group.iter().fold(0u64, |acc, d| acc * 85 + u64::from(*d));
        out.extend_from_slice((v as u32).to_be_bytes().get(..n - 1).unwrap_or_default());
    }
    (out, None)
}

fn run_length(data: &[u8], cap: u64) -> Vec<u8> {
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&len) = data.get(i) {
        if out.len() >= cap {
            break;
        }
        match len {
            128 => break,
            0..=127 => {
                let n = usize::from(len) + 1;
                out.extend_from_slice(
                    data.get(i + 1..i + 1 + n)
                        .unwrap_or_else(|| data.get(i + 1..).unwrap_or_default()),
                );
                i += 1 + n;
            }
            _ => {
                let Some(&b) = data.get(i + 1) else { break };
                out.extend(std::iter::repeat_n(b, 257 - usize::from(len)));
                i += 2;
            }
        }
    }
    out.truncate(cap);
    out
}

/// LZW with 9- to 12-bit codes (TIFF/PDF flavour).
fn lzw(data: &[u8], early: bool, cap: u64) -> Vec<u8> {
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    let mut table: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
    table.push(Vec::new());
    table.push(Vec::new());
    let mut width = 9u32;
    let mut prev: Option<Vec<u8>> = None;
    let (mut acc, mut bits) = (0u32, 0u32);
    for &byte in data {
        acc = (acc << 8) | u32::from(byte);
        bits += 8;
        while bits >= width {
            bits -= width;
            let code = ((acc >> bits) & ((1 << width) - 1)) as usize;
            acc &= (1 << bits) - 1;
            match code {
                256 => {
                    table.truncate(258);
                    width = 9;
                    prev = None;
                    continue;
                }
                257 => return out,
                _ => {}
            }
            let entry = match (table.get(code), &prev) {
                (Some(e), _) => e.clone(),
                (None, Some(p)) if code == table.len() => {
                    let mut e = p.clone();
                    e.push(p.first().copied().unwrap_or(0));
                    e
                }
                _ => return out,
            };
            if out.len() + entry.len() > cap {
                out.extend_from_slice(entry.get(..cap - out.len()).unwrap_or_default());
                return out;
            }
            out.extend_from_slice(&entry);
            if let Some(mut p) = prev.take()
                && table.len() < 4096
            {
                p.push(entry.first().copied().unwrap_or(0));
                table.push(p);
            }
            prev = Some(entry);
            let next = table.len() + usize::from(early);
            width = if next >= 2048 {
                12
            } else if next >= 1024 {
                11
            } else if next >= 512 {
                10
            } else {
                9
            };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dict(filter: &str) -> Obj {
        super::super::syntax::parse_at(filter.as_bytes(), 0)
            .unwrap()
            .0
    }

    #[test]
    fn chains_decode() {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut z, b"hello pdf").unwrap();
        let z = z.finish().unwrap();
        let hex = crate::digest::hex(&z);
        let (out, issue) = decode(
            &dict("<< /Filter [/AHx /Fl] >>"),
            format!("{hex}>").as_bytes(),
            1 << 20,
        );
        assert_eq!((out.as_slice(), issue), (&b"hello pdf"[..], None));
        // ASCII85 of "hello" (from the PDF spec's algorithm).
        assert_eq!(ascii85(b"BOu!rDZ~>").0, b"hello");
        assert_eq!(
            run_length(&[2, b'a', b'b', b'c', 254, b'x', 128], 100),
            b"abcxxx"
        );
    }

    #[test]
    fn lzw_spec_example() {
        // ISO 32000-1 7.4.4.2: "-----A---B" encodes to these bytes.
        let enc = [0x80, 0x0b, 0x60, 0x50, 0x22, 0x0c, 0x0c, 0x85, 0x01];
        assert_eq!(lzw(&enc, true, 100), b"-----A---B");
    }

    #[test]
    fn png_predictor_up() {
        // Two rows of 3 bytes, filter type 2 (Up).
        let data = vec![2, 1, 2, 3, 2, 1, 1, 1];
        let parm = dict("<< /Predictor 12 /Columns 3 >>");
        let (out, _) = predict((data, None), Some(&parm));
        assert_eq!(out, vec![1, 2, 3, 2, 3, 4]);
    }
}
