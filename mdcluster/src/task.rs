//! The scan task: what travels on RabbitMQ. A root task is one submitted
//! file; a child task is one object of a fanned-out archive, carrying where
//! it sits in the tree and the root's remaining budget.

use std::time::Duration;

use mdcore::{Limits, Origin};
use serde::{Deserialize, Serialize};

/// The limits for an object of a tree that already used `objects_used`
/// objects and `bytes_used` bytes elsewhere, with the time left until
/// `deadline_ms`.
pub fn remaining(
    limits: &Limits,
    objects_used: u64,
    bytes_used: u64,
    now_ms: u64,
    deadline_ms: u64,
) -> Limits {
    Limits {
        max_objects: limits.max_objects.saturating_sub(objects_used),
        max_total_bytes: limits.max_total_bytes.saturating_sub(bytes_used),
        timeout: Duration::from_millis(deadline_ms.saturating_sub(now_ms)),
        ..limits.clone()
    }
}

/// One unit of work.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// The root scan's data_id.
    pub root: String,
    /// For a child task, the placeholder token in the root's report.
    pub token: Option<String>,
    /// Blob key of the bytes to scan.
    pub blob: String,
    /// The object's name.
    pub name: String,
    /// Bytes to scan.
    pub size: u64,
    /// For a child task, where it sits in the root's tree.
    pub origin: Option<Origin>,
    /// The root's limits (the remaining budget is computed from the root's
    /// counters in Redis when the task starts).
    pub limits: Limits,
    /// Archive passwords to try.
    pub passwords: Vec<String>,
    /// When the whole root must be done (ms since the epoch); 0 in a root
    /// task, whose clock starts when a worker takes it.
    pub deadline_ms: u64,
    /// The workflow's sanitization, applied to the root file by the
    /// worker that scans it (child tasks carry the default, off).
    #[serde(default)]
    pub sanitize: mdcore::sanitize::Policy,
    /// The workflow's blocking result codes: archive members whose own
    /// result is one of them are left out of the sanitized copy.
    #[serde(default = "default_block_codes")]
    pub block_codes: Vec<u8>,
}

fn default_block_codes() -> Vec<u8> {
    mdcore::DEFAULT_BLOCK_CODES.to_vec()
}

impl Task {
    /// A key unique to this task within the cluster (attempt counting).
    pub fn id(&self) -> String {
        match &self.token {
            Some(t) => format!("{}/{t}", self.root),
            None => self.root.clone(),
        }
    }

    /// Delivery priority (0..=9): small files first, so they are never stuck
    /// behind giant archives; children of started archives a step ahead.
    pub fn priority(&self) -> u8 {
        let base: u8 = match self.size {
            s if s < 1 << 20 => 7,
            s if s < 16 << 20 => 5,
            s if s < 256 << 20 => 3,
            _ => 1,
        };
        base + u8::from(self.token.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_budget() {
        let l = Limits::default();
        let r = remaining(&l, 10, 1000, 5_000, 65_000);
        assert_eq!(r.max_objects, Limits::default().max_objects - 10);
        assert_eq!(r.max_total_bytes, Limits::default().max_total_bytes - 1000);
        assert_eq!(r.timeout, Duration::from_secs(60));
        let late = remaining(&l, u64::MAX, u64::MAX, 70_000, 65_000);
        assert_eq!((late.max_objects, late.max_total_bytes), (0, 0));
        assert_eq!(late.timeout, Duration::ZERO);
        assert_eq!(late.max_depth, l.max_depth);
    }

    #[test]
    fn small_files_first() {
        let mut t = Task {
            root: "r".into(),
            token: None,
            blob: "b".into(),
            name: "n".into(),
            size: 100,
            origin: None,
            limits: Limits::default(),
            passwords: vec![],
            deadline_ms: 0,
            block_codes: vec![],
            sanitize: Default::default(),
        };
        let small = t.priority();
        t.size = 1 << 30;
        assert!(small > t.priority());
        t.token = Some("c".into());
        assert_eq!(t.id(), "r/c");
    }
}
