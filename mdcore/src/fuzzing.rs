//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`). Not a
//! stable API.
//!
//! [`extract`] runs one extractor on raw bytes under a [`Limits`] and checks
//! the invariants every extractor must keep, panicking (which the fuzzer
//! reports) when one is broken:
//! - no object is longer than `max_object_size`;
//! - the bytes produced stay within `max_total_bytes` plus one decoder
//!   chunk (a decoder learns it crossed the limit after the chunk that
//!   crossed it, then must stop);
//! - no more objects are yielded than `max_objects` admits.

use crate::extract::{Child, Cx, Entry, Flow};
use crate::kind::Kind;
use crate::limits::{Budget, Limits};

/// What one extractor run produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Objects yielded.
    pub children: u64,
    /// Bytes produced (charged to the budget).
    pub produced: u64,
    /// The container-level issue, if extraction stopped early.
    pub issue: Option<String>,
}

/// Runs the extractor for `kind` over `data`, deferred jobs inline.
///
/// # Panics
/// When an invariant above is broken, or `kind` is not a container.
pub fn extract(kind: Kind, data: &[u8], limits: &Limits) -> Outcome {
    #[allow(clippy::expect_used)]
    let ex = crate::formats::extractor_for(kind).expect("a container kind");
    let budget = Budget::new(limits.clone(), data.len() as u64, None);
    let passwords = vec!["infected".to_string(), "password".to_string()];
    let cx = Cx::new(&budget, &passwords, "fuzz.bin", crate::detect::identify);
    let mut children = 0u64;
    let mut check = |c: &Child| {
        children += 1;
        if let Some(d) = &c.data {
            assert!(
                d.len() as u64 <= limits.max_object_size,
                "object `{}` of {} bytes passes max_object_size {}",
                c.name,
                d.len(),
                limits.max_object_size
            );
        }
    };
    let mut admitted = 0u64;
    let result = ex.extract(data, &cx, &mut |entry| match entry {
        Entry::Ready(c) => {
            admitted += 1;
            if budget.admit().is_err() {
                return Flow::Stop;
            }
            check(&c);
            Flow::Continue
        }
        Entry::Deferred { members, job } => {
            admitted += members;
            if budget.admit_n(members).is_err() {
                return Flow::Stop;
            }
            let mut emitted = 0u64;
            job(&mut |c| {
                emitted += 1;
                check(&c);
                Flow::Continue
            });
            assert!(
                emitted <= members,
                "a deferred job announced {members} members and emitted {emitted}"
            );
            Flow::Continue
        }
    });
    let produced = budget.produced();
    let slack = 128u64 << 10;
    assert!(
        produced <= limits.max_total_bytes.saturating_add(slack),
        "produced {produced} bytes past max_total_bytes {}",
        limits.max_total_bytes
    );
    Outcome {
        children,
        produced,
        issue: result
            .err()
            .map(|i| format!("{}: {}", i.code.as_i(), i.note)),
    }
}

/// Runs the carver over `data` from `from` and checks its invariants: every
/// hit inside the input, starting at or after `from`, in order, with no two
/// overlapping.
///
/// # Panics
/// When an invariant is broken.
pub fn carve(data: &[u8], from: usize) -> usize {
    let c = crate::detect::carve::carve(data, from, &|| true);
    let mut covered = from;
    for hit in &c.hits {
        let end = hit.span.end.unwrap_or(data.len());
        assert!(
            hit.span.start >= covered,
            "hit {hit:?} overlaps or precedes {covered}"
        );
        assert!(
            end <= data.len() && end > hit.span.start,
            "hit {hit:?} outside the input"
        );
        covered = end;
    }
    c.hits.len()
}

/// The first note in `report` about a panic that mdcore contained (a
/// decoder, extractor or engine crashed): the fuzz targets fail on it, since
/// the walker's containment would otherwise hide the crash from them.
pub fn contained_crash(report: &crate::Report) -> Option<String> {
    report.contained_crash()
}

/// Tight limits for fuzzing: small, fast, and still deep enough to nest.
pub fn tight_limits() -> Limits {
    Limits {
        max_depth: 8,
        max_objects: 2_000,
        max_total_bytes: 32 << 20,
        max_object_size: 8 << 20,
        max_ratio: 1_000,
        ratio_floor: 1 << 20,
        timeout: std::time::Duration::from_secs(10),
        max_in_flight: 16 << 20,
        spill_threshold: 1 << 20,
    }
}

/// A compiled AutoIt script of one entry around fuzz bytes, encrypted and
/// checksummed as the compiler does it, so the fuzzer reaches the
/// decompressor and the token renderer. The first byte picks the version
/// (bit 0: EA05/EA06), the entry type (bits 1-2: tokenised script, UTF-16
/// script, text script, installed file) and the compressed flag (bit 3).
pub fn autoit_sample(data: &[u8]) -> Vec<u8> {
    crate::extract::autoit::sample(data)
}

/// A VHDX around fuzz bytes, checksums made valid: the first 76 bytes are
/// the header's fields after its checksum (both headers), the next byte
/// the number of regions (up to 4), then 32 bytes per region entry; the
/// rest is the file from 1 MiB on (where regions and blocks point).
pub fn vhdx_image(data: &[u8]) -> Vec<u8> {
    crate::extract::vhdx::image(data)
}

/// Opens `data` as a ClamAV `.cvd`, `.cld` and `.cud` container (header,
/// MD5, signature, body) under a 64 MiB unpacking cap.
pub fn clamav_container(data: &[u8]) {
    use crate::engines::clamav::cvd::{Flavour, open};
    for flavour in [Flavour::Cvd, Flavour::Cld, Flavour::Cud] {
        let _ = open(data, flavour, 64 << 20);
    }
}
