//! ALZip archives (`.alz`, ESTsoft), read from their layout as unalz and
//! ClamAV read it: an `ALZ\x01` file header, then records — `BLZ\x01`
//! local file headers each followed by its data, `CLZ\x01` central
//! directory records (skipped), `CLZ\x02` the end.
//!
//! - A local header's descriptor byte gives the width of its size fields
//!   (high nibble: 0, 1, 2, 4 or 8 bytes; 0 is a directory or empty file)
//!   and whether it is encrypted (bit 0).
//! - Methods: 0 stored, 2 raw deflate; 1 (ALZip's bzip2) is decoded as
//!   standard bzip2 and, where that fails, is 23; others are 23.
//! - Encrypted entries use PKWARE's traditional cipher with a 12-byte
//!   header after the name; each supplied password is tried (the check
//!   byte, then the CRC decide); none works: 12.
//! - Every entry's CRC-32 is checked (a mismatch is 3). Names (CP949 or
//!   UTF-8) are read lossily, `\` as a separator.

use std::io::Read;

use super::{Child, Cx, Entry, Extractor, Flow, Issue, Sink, read_child, sanitize_name};
use crate::bytes::{le_u16, le_u32};
use crate::verdict::ResultCode;

pub(crate) struct Alz;

/// One local file header.
struct Header {
    name: String,
    encrypted: bool,
    method: u8,
    crc: u32,
    time: u32,
    packed: usize,
    size: u64,
    /// Where the entry's data (or its encryption header) starts.
    data: usize,
}

/// A little-endian number of `width` bytes.
fn number(d: &[u8], at: usize, width: usize) -> Option<u64> {
    let bytes = d.get(at..at.checked_add(width)?)?;
    Some(
        bytes
            .iter()
            .rev()
            .fold(0u64, |v, b| (v << 8) | u64::from(*b)),
    )
}

/// Parses the local header whose signature is at `at`.
fn header(d: &[u8], at: usize) -> Option<Header> {
    let name_len = usize::from(le_u16(d, at + 4)?);
    let time = le_u32(d, at + 7)?;
    let descriptor = *d.get(at + 11)?;
    let width = usize::from(descriptor >> 4);
    if ![0, 1, 2, 4, 8].contains(&width) {
        return None;
    }
    let (method, crc, packed, size, name_at) = if width == 0 {
        (0, 0, 0, 0, at + 13)
    } else {
        let method = *d.get(at + 13)?;
        let crc = le_u32(d, at + 15)?;
        let packed = number(d, at + 19, width)?;
        let size = number(d, at + 19 + width, width)?;
        (method, crc, packed, size, at + 19 + 2 * width)
    };
    let name = d.get(name_at..name_at.checked_add(name_len)?)?;
    Some(Header {
        name: String::from_utf8_lossy(name).replace('\\', "/"),
        encrypted: descriptor & 1 != 0,
        method,
        crc,
        time,
        packed: usize::try_from(packed).ok()?,
        size,
        data: name_at + name_len,
    })
}

/// PKWARE's traditional cipher (APPNOTE 6.1).
struct Keys([u32; 3]);

impl Keys {
    fn new(password: &[u8]) -> Keys {
        let mut k = Keys([0x1234_5678, 0x2345_6789, 0x3456_7890]);
        for &b in password {
            k.update(b);
        }
        k
    }

    fn crc(c: u32, b: u8) -> u32 {
        let mut h = crc32fast::Hasher::new_with_initial(!c);
        h.update(&[b]);
        !h.finalize()
    }

    fn update(&mut self, b: u8) {
        let [k0, k1, k2] = &mut self.0;
        *k0 = Keys::crc(*k0, b);
        *k1 = k1
            .wrapping_add(*k0 & 0xff)
            .wrapping_mul(134_775_813)
            .wrapping_add(1);
        *k2 = Keys::crc(*k2, (*k1 >> 24) as u8);
    }

    fn decrypt(&mut self, data: &[u8]) -> Vec<u8> {
        data.iter()
            .map(|&c| {
                let t = (self.0[2] | 2) & 0xffff;
                let p = c ^ ((t.wrapping_mul(t ^ 1)) >> 8) as u8;
                self.update(p);
                p
            })
            .collect()
    }
}

/// Decodes one entry's (decrypted) data into a child (a failed one for a
/// method not decoded).
fn decode(h: &Header, packed: &[u8], name: String, cx: &Cx<'_>) -> Child {
    let mut reader: Box<dyn Read + '_> = match h.method {
        0 => Box::new(packed),
        1 => Box::new(bzip2::read::BzDecoder::new(packed)),
        2 => Box::new(flate2::read::DeflateDecoder::new(packed)),
        m => {
            return Child::failed(
                name,
                Issue::new(
                    ResultCode::UnsupportedFileType,
                    format!("ALZ method {m} is not decoded"),
                ),
            );
        }
    };
    let produced = read_child(&mut reader.as_mut().take(h.size), cx.budget);
    let stop = produced.stop;
    let mut child = produced.into_child(name);
    if child.issue.is_none() {
        let bytes = child
            .data
            .as_ref()
            .map(|b| b.as_slice())
            .unwrap_or_default();
        if bytes.len() as u64 != h.size || crc32fast::hash(bytes) != h.crc {
            child.issue = Some(if h.method == 1 {
                Issue::new(
                    ResultCode::UnsupportedFileType,
                    "ALZ method 1 (ALZip's bzip2) did not decode as standard bzip2",
                )
            } else {
                Issue::corrupt("ALZ entry fails its size or CRC-32 check: not whole")
            });
        }
    } else if h.method == 1
        && child
            .issue
            .as_ref()
            .is_some_and(|i| i.code == ResultCode::Failed)
    {
        child.issue = Some(Issue::new(
            ResultCode::UnsupportedFileType,
            "ALZ method 1 (ALZip's bzip2) did not decode as standard bzip2",
        ));
    }
    if let Some(s) = stop
        && child.issue.is_none()
    {
        child.issue = Some(Issue::stopped(s));
    }
    child
}

/// The child of an encrypted entry: the first supplied password whose
/// check byte and CRC agree, else 12.
fn decrypt(h: &Header, packed: &[u8], name: String, cx: &Cx<'_>) -> Child {
    let Some((head, body)) = packed.split_at_checked(12) else {
        return Child::failed(name, Issue::corrupt("ALZ encryption header cut short"));
    };
    for password in cx.passwords {
        let mut keys = Keys::new(password.as_bytes());
        let check = keys.decrypt(head).last().copied();
        // The check byte is the CRC's high byte, or the time's (entries
        // written with a data descriptor).
        if check != Some((h.crc >> 24) as u8) && check != Some((h.time >> 8) as u8) {
            continue;
        }
        let plain = keys.decrypt(body);
        let child = decode(h, &plain, name.clone(), cx);
        if child.issue.is_none() || child.data.is_none() {
            return child;
        }
    }
    Child::failed(
        name,
        Issue::new(
            ResultCode::EncryptedArchive,
            if cx.passwords.is_empty() {
                "ALZ entry is encrypted and no password was supplied".to_string()
            } else {
                "ALZ entry is encrypted and no supplied password opens it".to_string()
            },
        ),
    )
}

impl Extractor for Alz {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let mut at = 8;
        let mut outcome = Ok(());
        loop {
            match data.get(at..at + 4) {
                Some(b"BLZ\x01") => {
                    let Some(h) = header(data, at) else {
                        outcome = Err(Issue::corrupt("ALZ local file header is damaged"));
                        break;
                    };
                    let extra = if h.encrypted { 12 } else { 0 };
                    let end = h.data.saturating_add(h.packed).saturating_add(extra);
                    let name = sanitize_name(&h.name);
                    at = end;
                    if h.size == 0 && h.packed == 0 {
                        continue;
                    }
                    let Some(packed) = data.get(h.data..end) else {
                        let issue = Issue::corrupt("ALZ entry data cut short: not whole");
                        sink(Entry::Ready(Child::failed(name, issue)));
                        outcome = Err(Issue::corrupt("ALZ archive is cut short"));
                        at = data.len();
                        break;
                    };
                    let child = if h.encrypted {
                        decrypt(&h, packed, name, cx)
                    } else {
                        decode(&h, packed, name, cx)
                    };
                    if sink(Entry::Ready(child)) == Flow::Stop {
                        return Ok(());
                    }
                    cx.budget.check().map_err(Issue::stopped)?;
                }
                // A central directory record: signature and 8 bytes.
                Some(b"CLZ\x01") => at += 12,
                Some(b"CLZ\x02") => {
                    at += 4;
                    break;
                }
                None if at >= data.len() => {
                    outcome = Err(Issue::corrupt("ALZ archive ends without its end record"));
                    break;
                }
                _ => {
                    outcome = Err(Issue::corrupt(format!(
                        "ALZ archive has an unknown record at offset {at}"
                    )));
                    break;
                }
            }
        }
        cx.consumed(at.min(data.len()));
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_fields_are_little_endian_of_their_width() {
        assert_eq!(number(&[0x34, 0x12], 0, 2), Some(0x1234));
        assert_eq!(number(&[1, 0, 0, 0, 0, 0, 0, 1], 0, 8), Some(1 << 56 | 1));
        assert_eq!(number(&[1], 0, 2), None);
    }
}
