//! The three digests every object gets, computed once and shared by the
//! report, the hash engine and the duplicate cache.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

mod md5_lanes;

pub(crate) use md5_lanes::{lanes as md5_lanes, md5_many};

/// MD5, SHA-1 and SHA-256 of one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Digests {
    /// MD5.
    pub md5: [u8; 16],
    /// SHA-1.
    pub sha1: [u8; 20],
    /// SHA-256.
    pub sha256: [u8; 32],
}

/// Below this size the three digests are computed on one thread; above it
/// they run side by side on the pool (MD5 is ~3x slower than SHA-256 with
/// SHA-NI, so it dominates a serial pass).
const PARALLEL_FROM: usize = 1 << 20;

/// What is already known of an object's digests, so that nothing is
/// computed twice: the MD5 computed beside its siblings' ([`md5_many`]),
/// the SHA-256 computed first because the walker needs it before the rest
/// (duplicates, recursion), or all three from the caller (the server hashes
/// an upload as it arrives).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Known {
    pub(crate) md5: Option<[u8; 16]>,
    pub(crate) sha1: Option<[u8; 20]>,
    pub(crate) sha256: Option<[u8; 32]>,
}

impl Known {
    /// The MD5 only.
    pub(crate) fn md5(md5: [u8; 16]) -> Known {
        Known {
            md5: Some(md5),
            ..Known::default()
        }
    }

    /// All three.
    pub(crate) fn all(d: Digests) -> Known {
        Known {
            md5: Some(d.md5),
            sha1: Some(d.sha1),
            sha256: Some(d.sha256),
        }
    }
}

impl Digests {
    /// Digests of `data`, computing only what `known` does not hold; side
    /// by side on the pool when `data` is big.
    pub(crate) fn complete(data: &[u8], known: Known) -> Digests {
        if data.len() >= WINDOWED_FROM {
            return Digests::windowed(data, known);
        }
        let md5 = || known.md5.unwrap_or_else(|| Md5::digest(data).into());
        let sha1 = || known.sha1.unwrap_or_else(|| Sha1::digest(data).into());
        let sha256 = || known.sha256.unwrap_or_else(|| sha256_of(data));
        let (md5, (sha1, sha256)) = if data.len() < PARALLEL_FROM {
            (md5(), (sha1(), sha256()))
        } else {
            rayon::join(md5, || rayon::join(sha1, sha256))
        };
        Digests { md5, sha1, sha256 }
    }

    /// [`Digests::complete`] for big objects: window by window, the
    /// digests side by side on the pool, each window's pages released from
    /// the process once all have read it (when the object is a mapped
    /// spill), so a pass over a 4 GiB object does not keep 4 GiB resident.
    fn windowed(data: &[u8], known: Known) -> Digests {
        let mut md5 = known.md5.is_none().then(Md5::new);
        let mut sha1 = known.sha1.is_none().then(Sha1::new);
        let mut sha256 = known.sha256.is_none().then(Sha256::new);
        for w in data.chunks(WINDOW) {
            rayon::join(
                || md5.as_mut().map(|h| h.update(w)),
                || {
                    rayon::join(
                        || sha1.as_mut().map(|h| h.update(w)),
                        || sha256.as_mut().map(|h| h.update(w)),
                    )
                },
            );
            crate::blob::release(w);
        }
        Digests {
            md5: md5.map_or(known.md5.unwrap_or_default(), |h| h.finalize().into()),
            sha1: sha1.map_or(known.sha1.unwrap_or_default(), |h| h.finalize().into()),
            sha256: sha256.map_or(known.sha256.unwrap_or_default(), |h| h.finalize().into()),
        }
    }

    /// Digests of each of many objects: their MD5s are computed side by
    /// side in SIMD lanes (16 with AVX-512, 8 with AVX2), several times
    /// faster than one after another.
    pub fn of_many(objects: &[&[u8]]) -> Vec<Digests> {
        md5_many(objects)
            .into_iter()
            .zip(objects)
            .map(|(md5, data)| Digests::complete(data, Known::md5(md5)))
            .collect()
    }

    /// Digests from their lower- or upper-case hex forms; `None` when one
    /// is not hex of the right length.
    pub fn from_hex(md5: &str, sha1: &str, sha256: &str) -> Option<Digests> {
        Some(Digests {
            md5: unhex(md5)?.try_into().ok()?,
            sha1: unhex(sha1)?.try_into().ok()?,
            sha256: unhex(sha256)?.try_into().ok()?,
        })
    }

    /// Digests of `data`.
    pub fn of(data: &[u8]) -> Digests {
        Digests::complete(data, Known::default())
    }
}

/// SHA-256 of `data`.
pub(crate) fn sha256_of(data: &[u8]) -> [u8; 32] {
    if data.len() < WINDOWED_FROM {
        return Sha256::digest(data).into();
    }
    let mut h = Sha256::new();
    for w in data.chunks(WINDOW) {
        h.update(w);
        crate::blob::release(w);
    }
    h.finalize().into()
}

/// From this size digests go window by window ([`Digests::windowed`]).
const WINDOWED_FROM: usize = 64 << 20;

/// The window: big enough that joining per window costs nothing, small
/// enough that what is resident stays small.
const WINDOW: usize = 8 << 20;

/// Lower-case hex of `bytes` (digests, identifiers): the one hex encoder
/// of the workspace.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Bytes of a hex string, `None` when it is not hex of even length.
pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect()
}

/// A SHA-256 from its hex form.
pub(crate) fn unhex32(s: &str) -> Option<[u8; 32]> {
    unhex(s)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests_serial_and_parallel_agree() {
        let d = Digests::of(b"abc");
        assert_eq!(hex(&d.md5), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(hex(&d.sha1), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            hex(&d.sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let big = vec![7u8; PARALLEL_FROM + 5];
        let p = Digests::of(&big);
        assert_eq!(hex(&p.sha256), hex(&Sha256::digest(&big)));
        assert_eq!(hex(&p.md5), hex(&Md5::digest(&big)));
        let many = Digests::of_many(&[b"abc", &big, b"", b"abc"]);
        assert_eq!(many, [d, p, Digests::of(b""), d]);
        let md5 = Md5::digest(b"abc").into();
        assert_eq!(Digests::complete(b"abc", Known::md5(md5)), d);
        assert_eq!(Digests::complete(&big, Known::md5(p.md5)), p);
        assert_eq!(Digests::complete(b"other", Known::all(d)), d);
        assert_eq!(Digests::complete(b"abc", Known::default()), d);
        let sha256_first = Known {
            sha256: Some(p.sha256),
            ..Known::default()
        };
        assert_eq!(Digests::complete(&big, sha256_first), p);
        // Window by window, known or not, the same digests.
        let huge: Vec<u8> = (0..WINDOWED_FROM + WINDOW / 2 + 3)
            .map(|i| (i % 251) as u8)
            .collect();
        let whole = Digests {
            md5: Md5::digest(&huge).into(),
            sha1: Sha1::digest(&huge).into(),
            sha256: Sha256::digest(&huge).into(),
        };
        assert_eq!(Digests::of(&huge), whole);
        assert_eq!(sha256_of(&huge), whole.sha256);
        let some = Known {
            sha1: Some(whole.sha1),
            ..Known::default()
        };
        assert_eq!(Digests::complete(&huge, some), whole);
        assert_eq!(
            Digests::from_hex(&hex(&d.md5), &hex(&d.sha1), &hex(&d.sha256).to_uppercase()),
            Some(d)
        );
        assert_eq!(
            Digests::from_hex(&hex(&d.sha1), &hex(&d.md5), &hex(&d.sha256)),
            None
        );
        assert_eq!(unhex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(unhex("0g"), None);
    }
}
