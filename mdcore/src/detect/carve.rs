//! Carving: archives embedded anywhere in an object.
//!
//! Attackers hide archives where a type check at offset 0 does not look:
//! behind a junk prefix or an image, after a stub executable, glued to the
//! end of another archive. Unpackers (7-Zip, unzip, bsdtar) find them
//! anyway, so mdscan must too. One pass of an Aho-Corasick automaton over
//! the registry's carving signatures finds every candidate; each is then
//! validated by its format's parser (a header checksum, a central directory
//! that points back at local headers, a trial decode), so random bytes and
//! ordinary files do not produce phantom children.
//!
//! Candidates inside an object already accepted are skipped (they are found
//! when that object is opened), so a stored zip inside a zip is not carved
//! twice, and the work is bounded: at most [`MAX_REJECTED`] candidates may
//! fail to parse and at most [`MAX_HITS`] objects are found per object, and
//! the caller's budget is consulted as we go.

use std::sync::OnceLock;

use aho_corasick::AhoCorasick;

use crate::formats::{Carver, FORMATS};
use crate::kind::{Hit, Kind};

/// What a carve found, and whether it had to stop early.
#[derive(Debug, Default)]
pub(crate) struct Carving {
    pub(crate) hits: Vec<Hit>,
    /// Why the search stopped before the end of the object, if it did.
    pub(crate) stopped: Option<Stopped>,
}

/// Why a carve stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// More than [`MAX_REJECTED`] candidates did not parse, or more than
    /// [`MAX_HITS`] did.
    TooManyCandidates,
    /// The caller's budget said stop (time, cancel).
    Budget,
}

/// Most candidates per object that may fail to parse. Ordinary files have
/// a handful; a file built to be full of signatures is cut off here (and
/// said so).
pub(crate) const MAX_REJECTED: usize = 4096;

/// Most embedded objects found in one object.
pub(crate) const MAX_HITS: usize = 16_384;

struct Searcher {
    ac: AhoCorasick,
    /// Pattern index -> (kind, extension, carver).
    carvers: Vec<(Kind, &'static str, &'static Carver)>,
}

fn searcher() -> Option<&'static Searcher> {
    static S: OnceLock<Option<Searcher>> = OnceLock::new();
    S.get_or_init(|| {
        let carvers: Vec<_> = FORMATS
            .iter()
            .flat_map(|f| {
                let ext = f.extensions.first().copied().unwrap_or("bin");
                f.carve.iter().map(move |c| (f.kind, ext, c))
            })
            .collect();
        // Leftmost-first, non-overlapping: the packed (Teddy SIMD) searcher
        // applies, several times faster than an overlapping search. No two
        // signatures share a prefix, so no candidate is lost that matters.
        let ac = AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(carvers.iter().map(|(_, _, c)| c.signature))
            .ok()?;
        Some(Searcher { ac, carvers })
    })
    .as_ref()
}

/// Whether the carver's span may start before its signature (a zip found
/// from its end record): those are validated first, in the search pass.
fn backward(kind: Kind, c: &Carver) -> bool {
    kind == Kind::Zip && c.signature == b"PK\x05\x06"
}

/// Finds embedded objects that start at or after `from`. `go_on` is asked
/// now and then whether to continue (the budget: time, cancel).
pub(crate) fn carve(data: &[u8], from: usize, go_on: &dyn Fn() -> bool) -> Carving {
    let mut out = Carving::default();
    let Some(s) = searcher() else {
        return out;
    };
    let Some(hay) = data.get(from..) else {
        return out;
    };
    let mut validations = 0usize;
    let mut rejected = 0usize;
    // Spans found from a zip end record (they start before their signature)
    // and forward candidates, both in position order.
    let mut known: Vec<Hit> = Vec::new();
    let mut forward: Vec<(usize, usize)> = Vec::new();
    for m in s.ac.find_iter(hay) {
        let Some(&(kind, ext, carver)) = s.carvers.get(m.pattern().as_usize()) else {
            continue;
        };
        let at = from + m.start();
        if backward(kind, carver) {
            validations += 1;
            if rejected > MAX_REJECTED || known.len() > MAX_HITS {
                out.stopped = Some(Stopped::TooManyCandidates);
                break;
            }
            if validations.is_multiple_of(64) && !go_on() {
                out.stopped = Some(Stopped::Budget);
                return out;
            }
            match (carver.validate)(data, at) {
                Some(span) if span.start >= from => known.push(Hit { span, kind, ext }),
                Some(_) => {}
                None => rejected += 1,
            }
        } else {
            forward.push((at, m.pattern().as_usize()));
        }
    }
    // The outermost reading wins: sort by start, longest first.
    known.sort_by_key(|h| (h.span.start, std::cmp::Reverse(h.span.end)));
    let mut covered = from;
    let mut known = known.into_iter().peekable();
    let accept = |hit: Hit, covered: &mut usize, hits: &mut Vec<Hit>| {
        if hit.span.start >= *covered {
            *covered = hit.span.end.unwrap_or(data.len()).max(hit.span.start + 1);
            hits.push(hit);
        }
    };
    for (at, pattern) in forward {
        while let Some(k) = known.next_if(|k| k.span.start <= at) {
            accept(k, &mut covered, &mut out.hits);
        }
        if at < covered {
            continue;
        }
        let Some(&(kind, ext, carver)) = s.carvers.get(pattern) else {
            continue;
        };
        validations += 1;
        if rejected > MAX_REJECTED || out.hits.len() > MAX_HITS {
            out.stopped = Some(Stopped::TooManyCandidates);
            break;
        }
        if validations.is_multiple_of(64) && !go_on() {
            out.stopped = Some(Stopped::Budget);
            return out;
        }
        let found = (carver.validate)(data, at);
        if found.is_none() {
            rejected += 1;
        }
        if let Some(span) = found
            && span.start >= covered
        {
            // A zip end record further on may describe an archive that
            // starts right here (its first local header): prefer it, since
            // it knows where the archive ends.
            if let Some(k) = known.next_if(|k| k.span.start == span.start) {
                accept(k, &mut covered, &mut out.hits);
            } else {
                accept(Hit { span, kind, ext }, &mut covered, &mut out.hits);
            }
        }
        if covered >= data.len() {
            break;
        }
    }
    for k in known {
        accept(k, &mut covered, &mut out.hits);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_have_no_hits() {
        // A deterministic pseudo-random megabyte, salted with signatures
        // that do not validate.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut d: Vec<u8> = (0..1 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        for (i, sig) in [
            &b"PK\x03\x04"[..],
            b"PK\x05\x06",
            &[0x1f, 0x8b, 0x08],
            b"MSCF",
            &[b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c],
            &[0x28, 0xb5, 0x2f, 0xfd],
            b"BZh9",
        ]
        .iter()
        .enumerate()
        {
            let at = 1000 + i * 50_000;
            d[at..at + sig.len()].copy_from_slice(sig);
        }
        let c = carve(&d, 0, &|| true);
        assert!(c.hits.is_empty(), "{:?}", c.hits);
        assert_eq!(c.stopped, None);
    }

    #[test]
    fn many_candidates_are_cut_off() {
        let d = b"BZh".repeat(MAX_REJECTED + 10);
        let c = carve(&d, 0, &|| true);
        assert_eq!(c.stopped, Some(Stopped::TooManyCandidates));
        let c = carve(&d, 0, &|| false);
        assert_eq!(c.stopped, Some(Stopped::Budget));
    }
}
