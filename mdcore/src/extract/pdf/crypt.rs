//! The Standard security handler (ISO 32000-2 7.6.4): the file key for an
//! empty user password, checked against `/U`, and per-object decryption
//! (RC4, AES-128-CBC, AES-256-CBC).

use aes::cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use md5::{Digest, Md5};

use super::Object;
use super::syntax::{Obj, parse_at};

const PAD: [u8; 32] = [
    0x28, 0xbf, 0x4e, 0x5e, 0x4e, 0x75, 0x8a, 0x41, 0x64, 0x00, 0x4e, 0x56, 0xff, 0xfa, 0x01, 0x08,
    0x2e, 0x2e, 0x00, 0xb6, 0xd0, 0x68, 0x3e, 0x80, 0x2f, 0x0c, 0xa9, 0xfe, 0x64, 0x53, 0x69, 0x7a,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    None,
    Rc4,
    Aes128,
    Aes256,
}

pub(crate) struct Security {
    key: Vec<u8>,
    streams: Method,
    strings: Method,
    revision: i64,
}

impl Security {
    /// The document's security: `Ok(None)` when it is not encrypted,
    /// `Err(why)` when it can not be opened without a password.
    pub(crate) fn of(data: &[u8], objects: &[Object<'_>]) -> Result<Option<Security>, String> {
        // Trailer dictionaries and cross-reference streams name /Encrypt.
        let mut trailers: Vec<Obj> = memchr::memmem::find_iter(data, b"trailer")
            .filter_map(|at| parse_at(data, at + 7).map(|(o, _)| o))
            .collect();
        trailers.extend(
            objects
                .iter()
                .filter(|o| o.value.get(b"Type").and_then(Obj::name) == Some(b"XRef"))
                .map(|o| o.value.clone()),
        );
        let Some(trailer) = trailers.iter().rev().find(|t| t.get(b"Encrypt").is_some()) else {
            return Ok(None);
        };
        let dict = match trailer.get(b"Encrypt") {
            Some(Obj::Ref(n, _)) => objects
                .iter()
                .rev()
                .find(|o| o.num == *n)
                .map(|o| o.value.clone())
                .ok_or("its /Encrypt dictionary is missing")?,
            Some(d @ Obj::Dict(_)) => d.clone(),
            _ => return Err("its /Encrypt entry is malformed".into()),
        };
        let id0 = match trailer.get(b"ID") {
            Some(Obj::Array(a)) => a.first().and_then(Obj::string).unwrap_or_default().to_vec(),
            _ => Vec::new(),
        };
        let filter = dict.get(b"Filter").and_then(Obj::name).unwrap_or_default();
        if filter != b"Standard" {
            return Err(format!(
                "security handler `{}`",
                String::from_utf8_lossy(filter)
            ));
        }
        let v = dict.get(b"V").and_then(Obj::int).unwrap_or(0);
        let r = dict.get(b"R").and_then(Obj::int).unwrap_or(0);
        let o = dict.get(b"O").and_then(Obj::string).unwrap_or_default();
        let u = dict.get(b"U").and_then(Obj::string).unwrap_or_default();
        let method = |name: Option<&[u8]>| -> Method {
            let Some(name) = name else {
                return if v >= 4 { Method::None } else { Method::Rc4 };
            };
            if name == b"Identity" {
                return Method::None;
            }
            let cfm = dict
                .get(b"CF")
                .and_then(|cf| cf.get(name))
                .and_then(|f| f.get(b"CFM"))
                .and_then(Obj::name);
            match cfm {
                Some(b"AESV2") => Method::Aes128,
                Some(b"AESV3") => Method::Aes256,
                Some(b"None") => Method::None,
                _ => Method::Rc4,
            }
        };
        let (streams, strings) = if v >= 4 {
            (
                method(Some(
                    dict.get(b"StmF").and_then(Obj::name).unwrap_or(b"Identity"),
                )),
                method(Some(
                    dict.get(b"StrF").and_then(Obj::name).unwrap_or(b"Identity"),
                )),
            )
        } else {
            (Method::Rc4, Method::Rc4)
        };
        let key = if r >= 5 {
            let ue = dict.get(b"UE").and_then(Obj::string).unwrap_or_default();
            key_r6(r, u, ue).ok_or("a user password is set")?
        } else {
            let p = dict.get(b"P").and_then(Obj::int).unwrap_or(0) as i32;
            let len = dict.get(b"Length").and_then(Obj::int).unwrap_or(40);
            let meta = !matches!(dict.get(b"EncryptMetadata"), Some(Obj::Bool(false)));
            key_r4(r, len, o, p, &id0, meta, u).ok_or("a user password is set")?
        };
        Ok(Some(Security {
            key,
            streams,
            strings,
            revision: r,
        }))
    }

    pub(crate) fn describe(&self) -> String {
        let m = match self.streams {
            Method::Rc4 => format!("RC4 {}-bit", self.key.len() * 8),
            Method::Aes128 => "AES-128".into(),
            Method::Aes256 => "AES-256".into(),
            Method::None => "identity".into(),
        };
        format!("{m}, revision {}", self.revision)
    }

    /// Decrypts a string or stream of object `num gen`.
    pub(crate) fn decrypt(&self, num: u32, gen_: u16, data: &[u8], stream: bool) -> Vec<u8> {
        let method = if stream { self.streams } else { self.strings };
        let object_key = |aes: bool| {
            let mut h = Md5::new();
            h.update(&self.key);
            h.update(&num.to_le_bytes()[..3]);
            h.update(gen_.to_le_bytes());
            if aes {
                h.update(b"sAlT");
            }
            let d = h.finalize();
            d.get(..(self.key.len() + 5).min(16))
                .unwrap_or_default()
                .to_vec()
        };
        match method {
            Method::None => data.to_vec(),
            Method::Rc4 => rc4(&object_key(false), data),
            Method::Aes128 => aes_cbc_payload(&object_key(true), data),
            Method::Aes256 => aes_cbc_payload(&self.key, data),
        }
    }
}

/// Algorithm 2 (file key for R2–R4) with the empty password, checked
/// against `/U` (Algorithms 4 and 5).
fn key_r4(r: i64, len: i64, o: &[u8], p: i32, id0: &[u8], meta: bool, u: &[u8]) -> Option<Vec<u8>> {
    let n = if r == 2 {
        5
    } else {
        usize::try_from(len / 8).ok()?.clamp(5, 16)
    };
    let mut h = Md5::new();
    h.update(PAD);
    h.update(o.get(..32).unwrap_or(o));
    h.update(p.to_le_bytes());
    h.update(id0);
    if r >= 4 && !meta {
        h.update([0xff; 4]);
    }
    let mut key = h.finalize().to_vec();
    if r >= 3 {
        for _ in 0..50 {
            key = Md5::digest(key.get(..n)?).to_vec();
        }
    }
    key.truncate(n);
    let ok = if r == 2 {
        u.get(..32) == Some(rc4(&key, &PAD).as_slice())
    } else {
        let mut h = Md5::new();
        h.update(PAD);
        h.update(id0);
        let mut x = rc4(&key, &h.finalize());
        for i in 1..=19u8 {
            let k: Vec<u8> = key.iter().map(|b| b ^ i).collect();
            x = rc4(&k, &x);
        }
        u.get(..16) == Some(x.as_slice())
    };
    ok.then_some(key)
}

/// R5/R6 (AES-256): `/U` checked with the empty password, the file key
/// decrypted from `/UE`.
fn key_r6(r: i64, u: &[u8], ue: &[u8]) -> Option<Vec<u8>> {
    let hash = u.get(..32)?;
    let check = hash_r6(r, u.get(32..40)?);
    if check.as_slice() != hash {
        return None;
    }
    let inter = hash_r6(r, u.get(40..48)?);
    let key = aes_cbc(&inter, [0; 16], ue.get(..32)?)?;
    Some(key)
}

/// The R5 hash (SHA-256) and the R6 one (Algorithm 2.B) of the empty
/// password with `salt` (no user key: this is the user password check).
fn hash_r6(r: i64, salt: &[u8]) -> Vec<u8> {
    use sha2::{Sha256, Sha384, Sha512};
    let mut k = Sha256::digest(salt).to_vec();
    if r == 5 {
        return k;
    }
    let mut round = 0u32;
    loop {
        let k1 = k.repeat(64);
        let (Some(key), Some(iv)) = (k.get(..16), k.get(16..32)) else {
            return k;
        };
        let Some(e) = aes128_cbc_encrypt(key, iv, &k1) else {
            return k;
        };
        let sum: u32 = e.iter().take(16).map(|b| u32::from(*b)).sum();
        k = match sum % 3 {
            0 => Sha256::digest(&e).to_vec(),
            1 => Sha384::digest(&e).to_vec(),
            _ => Sha512::digest(&e).to_vec(),
        };
        round += 1;
        let last = u32::from(e.last().copied().unwrap_or(0));
        if round >= 64 && last <= round - 32 {
            break;
        }
    }
    k.truncate(32);
    k
}

fn rc4(key: &[u8], data: &[u8]) -> Vec<u8> {
    if key.is_empty() {
        return data.to_vec();
    }
    let mut s: Vec<u8> = (0..=255u8).collect();
    let mut j = 0u8;
    for i in 0..256usize {
        let k = key.get(i % key.len()).copied().unwrap_or(0);
        j = j
            .wrapping_add(s.get(i).copied().unwrap_or(0))
            .wrapping_add(k);
        s.swap(i, usize::from(j));
    }
    let (mut i, mut j) = (0u8, 0u8);
    data.iter()
        .map(|b| {
            i = i.wrapping_add(1);
            j = j.wrapping_add(s.get(usize::from(i)).copied().unwrap_or(0));
            s.swap(usize::from(i), usize::from(j));
            let t = s
                .get(usize::from(i))
                .copied()
                .unwrap_or(0)
                .wrapping_add(s.get(usize::from(j)).copied().unwrap_or(0));
            b ^ s.get(usize::from(t)).copied().unwrap_or(0)
        })
        .collect()
}

/// A string or stream under AES: a 16-byte IV, CBC, PKCS#7 padding
/// (stripped when valid; a damaged tail is kept as it is).
fn aes_cbc_payload(key: &[u8], data: &[u8]) -> Vec<u8> {
    let (Some(iv), Some(body)) = (crate::bytes::array::<16>(data, 0), data.get(16..)) else {
        return Vec::new();
    };
    let mut out = aes_cbc(key, iv, body).unwrap_or_default();
    if let Some(&pad) = out.last()
        && (1..=16).contains(&pad)
        && out.len() >= usize::from(pad)
        && out.iter().rev().take(usize::from(pad)).all(|b| *b == pad)
    {
        out.truncate(out.len() - usize::from(pad));
    }
    out
}

enum Aes {
    A128(aes::Aes128),
    A256(aes::Aes256),
}

impl Aes {
    fn new(key: &[u8]) -> Option<Aes> {
        match key.len() {
            16 => aes::Aes128::new_from_slice(key).ok().map(Aes::A128),
            32 => aes::Aes256::new_from_slice(key).ok().map(Aes::A256),
            _ => None,
        }
    }
}

/// AES-CBC decryption of whole blocks (a partial last block is dropped).
fn aes_cbc(key: &[u8], iv: [u8; 16], data: &[u8]) -> Option<Vec<u8>> {
    let cipher = Aes::new(key)?;
    let mut prev = iv;
    let mut out = Vec::with_capacity(data.len());
    for chunk in data.chunks_exact(16) {
        let block: [u8; 16] = chunk.try_into().ok()?;
        let mut b = Array::from(block);
        match &cipher {
            Aes::A128(c) => c.decrypt_block(&mut b),
            Aes::A256(c) => c.decrypt_block(&mut b),
        }
        out.extend(b.iter().zip(prev).map(|(x, p)| x ^ p));
        prev = block;
    }
    Some(out)
}

fn aes128_cbc_encrypt(key: &[u8], iv: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let cipher = aes::Aes128::new_from_slice(key).ok()?;
    let mut prev: [u8; 16] = iv.try_into().ok()?;
    let mut out = Vec::with_capacity(data.len());
    for chunk in data.chunks_exact(16) {
        let mut block = [0u8; 16];
        for ((o, c), p) in block.iter_mut().zip(chunk).zip(prev) {
            *o = c ^ p;
        }
        let mut b = Array::from(block);
        cipher.encrypt_block(&mut b);
        prev = b.into();
        out.extend_from_slice(&prev);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rc4_known_answer() {
        // RFC 6229 / Wikipedia: RC4("Key", "Plaintext").
        assert_eq!(
            rc4(b"Key", b"Plaintext"),
            vec![0xbb, 0xf3, 0x16, 0xe8, 0xd9, 0x40, 0xaf, 0x0a, 0xd3]
        );
    }

    #[test]
    fn aes_cbc_round_trip() {
        let key = [7u8; 16];
        let iv = [9u8; 16];
        let plain = b"sixteen byte blk and another one";
        let enc = aes128_cbc_encrypt(&key, &iv, plain).unwrap();
        assert_eq!(aes_cbc(&key, iv, &enc).unwrap(), plain);
    }
}
