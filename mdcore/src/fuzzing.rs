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

use crate::detect::Kind;
use crate::extract::{self, Child, Cx, Entry, Flow};
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
    let ex = extract::extractor_for(kind).expect("a container kind");
    let budget = Budget::new(limits.clone(), data.len() as u64, None);
    let passwords = vec!["infected".to_string(), "password".to_string()];
    let cx = Cx {
        budget: &budget,
        passwords: &passwords,
        name: "fuzz.bin",
    };
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
