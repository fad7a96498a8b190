//! ClamAV's signed database containers: `.cvd`, `.cld` and `.cud`.
//!
//! A 512-byte text header (`ClamAV-VDB:time:version:signatures:level:md5:
//! dsig:builder:stime`, space padded) and a gzip'd tar of database files.
//! The body's MD5 must equal the header's, and a `.cvd`'s digital
//! signature must decode, under ClamAV's published public key, to that
//! MD5. A `.cld` (freshclam's uncompressed, incrementally updated copy) is
//! checked by its MD5 when the header carries one; `.cud` is unsigned by
//! design.

use std::io::Read;

use md5::{Digest, Md5};
use num_bigint::BigUint;

use crate::digest::hex;

/// ClamAV's database-signing key: modulus (decimal) and exponent, as
/// published in its sources (`libclamav/dsig.c`).
const KEY_N: &str = "118640995551645342603070001658453189751527774412027743746599405743243142607464144767361060640655844749760788890022283424922762488917565551002467771109669598189410434699034532232228621591089508178591428456220796841621637175567590476666928698770143328137383952820383197532047771780196576957695822641224262693037";
const KEY_E: u32 = 100_001_027;

/// The container's header fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// Build time as written (`22 Jun 2021 14-58 -0400`).
    pub(crate) time: String,
    pub(crate) version: u32,
    pub(crate) signatures: u64,
    pub(crate) level: u32,
    md5: String,
    dsig: String,
    pub(crate) builder: String,
    /// Build time, seconds since the epoch.
    pub(crate) stime: Option<u64>,
}

/// Which container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavour {
    Cvd,
    Cld,
    Cud,
}

/// The header of a container, from its first 512 bytes.
pub(crate) fn header(data: &[u8]) -> Result<Header, String> {
    let raw = data
        .get(..512)
        .ok_or("shorter than the 512-byte header of a ClamAV database")?;
    let text = std::str::from_utf8(raw)
        .map_err(|_| "the header is not text")?
        .trim_end_matches([' ', '\0', '\n']);
    let f: Vec<&str> = text.split(':').collect();
    let field = |i: usize| f.get(i).copied().unwrap_or_default();
    if field(0) != "ClamAV-VDB" || f.len() < 8 {
        return Err("not a ClamAV database header (ClamAV-VDB:...)".into());
    }
    let n = |i: usize, what: &str| -> Result<u64, String> {
        field(i)
            .trim()
            .parse()
            .map_err(|_| format!("the header's {what} `{}` is not a number", field(i)))
    };
    Ok(Header {
        time: field(1).to_string(),
        version: u32::try_from(n(2, "version")?).map_err(|_| "version too large")?,
        signatures: n(3, "signature count")?,
        level: u32::try_from(n(4, "functionality level")?).map_err(|_| "level too large")?,
        md5: field(5).to_string(),
        dsig: field(6).to_string(),
        builder: field(7).to_string(),
        stime: field(8).trim().parse().ok(),
    })
}

/// Whether `dsig` is ClamAV's signature of `md5_hex` under its key.
fn signature_ok(md5_hex: &str, dsig: &str) -> bool {
    const ALPHABET: &[u8; 64] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
    if dsig.is_empty() || dsig.len() > 400 || md5_hex.len() != 32 {
        return false;
    }
    // Little-endian base 64 in ClamAV's own alphabet.
    let mut c = BigUint::default();
    for ch in dsig.bytes().rev() {
        let Some(d) = ALPHABET.iter().position(|&a| a == ch) else {
            return false;
        };
        c = (c << 6u32) + BigUint::from(d as u32);
    }
    let Some(n) = BigUint::parse_bytes(KEY_N.as_bytes(), 10) else {
        return false;
    };
    let plain = c.modpow(&BigUint::from(KEY_E), &n);
    // The low 16 bytes, most significant first, are the MD5.
    let mut md5: Vec<u8> = plain.to_bytes_le().into_iter().take(16).collect();
    md5.resize(16, 0);
    md5.reverse();
    hex(&md5).eq_ignore_ascii_case(md5_hex)
}

/// A container's member files: (name, bytes).
pub(crate) type Members = Vec<(String, Vec<u8>)>;

/// The database files inside a container (name, bytes), after checking
/// its MD5 and, for a `.cvd`, its signature. `max` bounds the unpacked
/// size.
pub(crate) fn open(data: &[u8], flavour: Flavour, max: u64) -> Result<(Header, Members), String> {
    let h = header(data)?;
    let body = data.get(512..).unwrap_or_default();
    let digest = hex(&Md5::digest(body));
    let md5_given = h.md5.len() == 32;
    match flavour {
        Flavour::Cvd => {
            if !digest.eq_ignore_ascii_case(&h.md5) {
                return Err(format!(
                    "the body's MD5 {digest} is not the header's {} (a damaged or altered database)",
                    h.md5
                ));
            }
            if !signature_ok(&h.md5, &h.dsig) {
                return Err(
                    "the digital signature does not verify with ClamAV's public key (an altered or \
                     forged database)"
                        .into(),
                );
            }
        }
        Flavour::Cld | Flavour::Cud => {
            if md5_given && !digest.eq_ignore_ascii_case(&h.md5) && flavour == Flavour::Cud {
                return Err(format!(
                    "the body's MD5 {digest} is not the header's {}",
                    h.md5
                ));
            }
        }
    }
    // A .cld is an uncompressed tar; a .cvd/.cud a gzip'd one.
    let gz = body.starts_with(&[0x1F, 0x8B]);
    let mut raw = Vec::new();
    let reader: Box<dyn Read + '_> = if gz {
        Box::new(flate2::read::GzDecoder::new(body))
    } else {
        Box::new(body)
    };
    reader
        .take(max.saturating_add(1))
        .read_to_end(&mut raw)
        .map_err(|e| format!("the body does not unpack: {e}"))?;
    if raw.len() as u64 > max {
        return Err(format!("the body unpacks to more than {max} bytes"));
    }
    let mut files = Vec::new();
    let mut archive = tar::Archive::new(raw.as_slice());
    let entries = archive
        .entries()
        .map_err(|e| format!("the body is not a tar archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("the body's tar is damaged: {e}"))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .map_err(|e| format!("a tar member's name: {e}"))?
            .to_string_lossy()
            .into_owned();
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| format!("`{name}` in the body: {e}"))?;
        files.push((name, bytes));
    }
    Ok((h, files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_and_signature() {
        // A header as ClamAV writes it (the test-1.cvd of ClamAV's unit
        // tests, signed with its key).
        let text = "ClamAV-VDB:22 Jun 2021 14-58 -0400:1:0:81:a4ab60ae1c1c4e8f787459102dcfd90b:ttQeKzTSL5iF5/IWsA8weveL64WDVkhgfbm/ABaW3xAWalVKcAp65Q/cWmhkhKFfHSLIXNfCzTLbhfTeISKpfWAheL7NZk+t6nQ8NEFBBst6CQcoFTwwyVLwwTSN38VYLW/vZFYphnkBcCotyo++NYU5VQ9JUA6dFQXxaU00b6c:micasnyd:1624388302";
        let mut raw = text.as_bytes().to_vec();
        raw.resize(512, b' ');
        let h = header(&raw).unwrap();
        assert_eq!((h.version, h.signatures, h.level), (1, 0, 81));
        assert_eq!(h.stime, Some(1_624_388_302));
        assert!(signature_ok(&h.md5, &h.dsig));
        // One changed digit of the MD5 and the signature no longer holds.
        assert!(!signature_ok("a4ab60ae1c1c4e8f787459102dcfd90c", &h.dsig));
        assert!(!signature_ok(&h.md5, "not*base64"));
        assert!(header(b"ClamAV-VDB:x").is_err());
        raw[..10].copy_from_slice(b"ClamAV-VDX");
        assert!(header(&raw).is_err());
    }
}
