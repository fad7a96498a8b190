//! Per-root limits and the budget that enforces them.
//!
//! Every limit is shared by the whole tree of one scan (the "root"), and is
//! counted on bytes actually produced by decoders, never on sizes an archive
//! declares. The [`Budget`] is a handful of atomics so that a check in a hot
//! decode loop costs one or two relaxed loads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::verdict::ResultCode;

/// Limits applied to one scan (one root object and everything inside it).
///
/// The defaults let ordinary software distributions (installers of thousands
/// of files, multi-GB disk images) pass while stopping decompression bombs in
/// well under a second.
/// Serializable (a cluster carries them in its tasks); `timeout` as
/// `{"secs": …, "nanos": …}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// Deepest nesting level that is still extracted; the root is level 0.
    /// A container at this level is reported with code 9 instead of being
    /// opened. Values above 64 are treated as 64. Default: 16.
    pub max_depth: u32,
    /// Most objects extracted from one root, at all levels. Past it, the
    /// container being extracted gets code 14. Default: 100 000.
    pub max_objects: u64,
    /// Most bytes decoders may produce for one root, at all levels. Past it,
    /// code 13. Default: 16 GiB.
    pub max_total_bytes: u64,
    /// Largest single extracted object; a bigger one is cut, scanned as far as
    /// it got, and gets code 13. Default: 2 GiB.
    pub max_object_size: u64,
    /// Largest expansion factor: bytes produced for the whole tree divided by
    /// the root's size. Only enforced once more than [`Limits::ratio_floor`]
    /// bytes were produced, so small, very compressible files pass. Past it,
    /// code 13. Default: 200.
    pub max_ratio: u64,
    /// Bytes that may be produced before [`Limits::max_ratio`] applies.
    /// Default: 64 MiB.
    pub ratio_floor: u64,
    /// Wall-clock time for one root; past it, code 16. Default: 300 s.
    pub timeout: Duration,
    /// Extracted bytes held in memory and waiting for a pool thread; past it,
    /// the extracting thread scans children itself instead of queueing them,
    /// so memory does not grow with archive size. Default: 256 MiB.
    pub max_in_flight: u64,
    /// Objects larger than this are written to a temporary file and memory
    /// mapped instead of being held on the heap. Default: 16 MiB.
    pub spill_threshold: u64,
}

/// The hard ceiling on [`Limits::max_depth`]: deeper recursion would only
/// stress thread stacks.
pub(crate) const DEPTH_CEILING: u32 = 64;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 16,
            max_objects: 100_000,
            max_total_bytes: 16 << 30,
            max_object_size: 2 << 30,
            max_ratio: 200,
            ratio_floor: 64 << 20,
            timeout: Duration::from_secs(300),
            max_in_flight: 256 << 20,
            spill_threshold: 16 << 20,
        }
    }
}

impl Limits {
    /// The effective depth limit, clamped to the hard ceiling.
    pub(crate) fn depth(&self) -> u32 {
        self.max_depth.min(DEPTH_CEILING)
    }
}

/// Cancels a scan from another thread. Cheap to clone; all clones share one flag.
///
/// Objects not yet examined when the token fires get code 19 (Canceled).
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that has not fired.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fires the token. Idempotent.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Why the walker stopped examining something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Total bytes, object size or expansion ratio (13).
    Size,
    /// Object count (14).
    Files,
    /// Wall clock (16).
    Timeout,
    /// Cancel token (19).
    Cancelled,
}

impl Stop {
    pub(crate) fn code(self) -> ResultCode {
        match self {
            Stop::Size => ResultCode::ExceededArchiveSize,
            Stop::Files => ResultCode::ExceededArchiveFileNumber,
            Stop::Timeout => ResultCode::ExceededArchiveTimeout,
            Stop::Cancelled => ResultCode::Canceled,
        }
    }

    fn from_u8(v: u8) -> Option<Stop> {
        match v {
            1 => Some(Stop::Size),
            2 => Some(Stop::Files),
            3 => Some(Stop::Timeout),
            4 => Some(Stop::Cancelled),
            _ => None,
        }
    }

    fn as_u8(self) -> u8 {
        match self {
            Stop::Size => 1,
            Stop::Files => 2,
            Stop::Timeout => 3,
            Stop::Cancelled => 4,
        }
    }
}

/// The shared, atomic accounting of one root's limits.
#[derive(Debug)]
pub(crate) struct Budget {
    pub(crate) limits: Limits,
    root_size: u64,
    deadline: Instant,
    cancel: Option<CancelToken>,
    produced: AtomicU64,
    objects: AtomicU64,
    in_flight: AtomicU64,
    /// Set once when a tree-wide limit (total bytes, ratio, object count,
    /// time, cancel) is reached; everything not yet examined stops.
    tripped: AtomicU8,
}

impl Budget {
    pub(crate) fn new(limits: Limits, root_size: u64, cancel: Option<CancelToken>) -> Self {
        let deadline = Instant::now()
            .checked_add(limits.timeout)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365));
        Budget {
            limits,
            root_size,
            deadline,
            cancel,
            produced: AtomicU64::new(0),
            objects: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            tripped: AtomicU8::new(0),
        }
    }

    fn trip(&self, stop: Stop) -> Stop {
        // The first reason wins; later ones are consequences of it.
        let _ =
            self.tripped
                .compare_exchange(0, stop.as_u8(), Ordering::Relaxed, Ordering::Relaxed);
        Stop::from_u8(self.tripped.load(Ordering::Relaxed)).unwrap_or(stop)
    }

    /// Checks the tree-wide stop conditions: an earlier trip, the deadline and
    /// the cancel token.
    pub(crate) fn check(&self) -> Result<(), Stop> {
        if let Some(stop) = Stop::from_u8(self.tripped.load(Ordering::Relaxed)) {
            return Err(stop);
        }
        if self.cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
            return Err(self.trip(Stop::Cancelled));
        }
        if Instant::now() >= self.deadline {
            return Err(self.trip(Stop::Timeout));
        }
        Ok(())
    }

    /// Charges `n` freshly decoded bytes to the tree.
    pub(crate) fn charge(&self, n: u64) -> Result<(), Stop> {
        let total = self
            .produced
            .fetch_add(n, Ordering::Relaxed)
            .saturating_add(n);
        if total > self.limits.max_total_bytes {
            return Err(self.trip(Stop::Size));
        }
        if total > self.limits.ratio_floor && total / self.root_size.max(1) >= self.limits.max_ratio
        {
            return Err(self.trip(Stop::Size));
        }
        self.check()
    }

    /// Admits one more extracted object.
    pub(crate) fn admit(&self) -> Result<(), Stop> {
        self.admit_n(1)
    }

    /// Admits `n` more extracted objects at once.
    pub(crate) fn admit_n(&self, n: u64) -> Result<(), Stop> {
        self.check()?;
        let n = self
            .objects
            .fetch_add(n, Ordering::Relaxed)
            .saturating_add(n);
        if n > self.limits.max_objects {
            return Err(self.trip(Stop::Files));
        }
        Ok(())
    }

    /// Reserves `n` bytes of in-flight memory; false when the cap would be passed.
    pub(crate) fn reserve_in_flight(&self, n: u64) -> bool {
        let cap = self.limits.max_in_flight;
        self.in_flight
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |cur| {
                let next = cur.saturating_add(n);
                (next <= cap).then_some(next)
            })
            .is_ok()
    }

    /// Returns memory reserved by [`Budget::reserve_in_flight`].
    pub(crate) fn release_in_flight(&self, n: u64) {
        let _ = self
            .in_flight
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |cur| {
                Some(cur.saturating_sub(n))
            });
    }

    /// Time left before the deadline.
    pub(crate) fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    pub(crate) fn produced(&self) -> u64 {
        self.produced.load(Ordering::Relaxed)
    }

    /// Bytes left before the tree's extraction limit.
    pub(crate) fn room(&self) -> u64 {
        self.limits.max_total_bytes.saturating_sub(self.produced())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_applies_only_past_the_floor() {
        let limits = Limits {
            max_ratio: 10,
            ratio_floor: 1000,
            ..Limits::default()
        };
        let b = Budget::new(limits, 10, None);
        assert!(b.charge(999).is_ok(), "under the floor any ratio passes");
        assert_eq!(b.charge(2), Err(Stop::Size));
        // Once tripped, every later check fails the same way.
        assert_eq!(b.check(), Err(Stop::Size));
        assert_eq!(b.admit(), Err(Stop::Size));
    }

    #[test]
    fn object_count_and_cancel() {
        let limits = Limits {
            max_objects: 2,
            ..Limits::default()
        };
        let b = Budget::new(limits.clone(), 10, None);
        assert!(b.admit().is_ok());
        assert!(b.admit().is_ok());
        assert_eq!(b.admit(), Err(Stop::Files));

        let token = CancelToken::new();
        let b = Budget::new(limits, 10, Some(token.clone()));
        assert!(b.check().is_ok());
        token.cancel();
        assert_eq!(b.check(), Err(Stop::Cancelled));
    }

    #[test]
    fn in_flight_is_capped() {
        let limits = Limits {
            max_in_flight: 100,
            ..Limits::default()
        };
        let b = Budget::new(limits, 10, None);
        assert!(b.reserve_in_flight(60));
        assert!(!b.reserve_in_flight(60));
        b.release_in_flight(60);
        assert!(b.reserve_in_flight(60));
    }
}
