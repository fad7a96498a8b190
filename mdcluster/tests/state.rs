//! The Redis state against the machine's real Redis (127.0.0.1:6379): the
//! writes a redelivered task repeats must not count twice. With `CI` set, a
//! missing Redis fails the test.
// Tests assert by panicking: unwrap, expect, panic and indexing are
// how they fail (the workspace denies them in library code).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use mdcluster::State;
use mdcore::{Report, ResultCode, ScanOptions, ScannerBuilder};

include!("../../mdcore/tests/support/skip.rs");

fn state() -> Option<State> {
    let up = std::net::TcpStream::connect("127.0.0.1:6379").is_ok();
    if !up {
        skip("these tests need Redis on 127.0.0.1:6379");
        return None;
    }
    let ns = format!("st{}x{}", std::process::id(), rand::random::<u32>());
    Some(State::new("redis://127.0.0.1:6379/", &ns, 300).unwrap())
}

fn child(name: &str, objects: u64, bytes: u64) -> Report {
    let mut r = Report::unscanned(name, ResultCode::NoThreat, "test");
    r.objects = objects;
    r.bytes_extracted = bytes;
    r
}

#[tokio::test]
async fn a_repeated_child_result_counts_once() {
    let Some(s) = state() else { return };
    let parent = Report::unscanned("p.zip", ResultCode::InProgress, "parent");
    let tokens = vec!["a".to_string(), "b".to_string()];
    s.create_scan("root1", "{}", "{}", "aa").await.unwrap();
    s.fan_open("root1", &parent, &tokens, (2, 100))
        .await
        .unwrap();
    // A redelivered root opens again: the first record stays.
    s.fan_open("root1", &parent, &["x".to_string()], (9, 9))
        .await
        .unwrap();
    assert_eq!(s.fan_usage("root1").await.unwrap(), (2, 100));

    assert_eq!(
        s.fan_part("root1", "a", &child("a", 3, 10)).await.unwrap(),
        Some(1)
    );
    // The same child again (a redelivery): pending and counters unchanged.
    assert_eq!(
        s.fan_part("root1", "a", &child("a", 3, 10)).await.unwrap(),
        Some(1)
    );
    assert_eq!(s.fan_usage("root1").await.unwrap(), (4, 110));
    // A token the root never published is ignored.
    assert_eq!(
        s.fan_part("root1", "x", &child("x", 5, 5)).await.unwrap(),
        None
    );
    assert_eq!(
        s.fan_part("root1", "b", &child("b", 1, 0)).await.unwrap(),
        Some(0)
    );
    assert_eq!(
        s.fan_part("root1", "b", &child("b", 1, 0)).await.unwrap(),
        Some(0)
    );

    let fan = s.fan_collect("root1").await.unwrap().unwrap();
    assert_eq!(fan.parts.len(), 2);
    s.fan_close("root1").await.unwrap();
    assert!(s.fan_collect("root1").await.unwrap().is_none());
    assert_eq!(
        s.fan_part("root1", "a", &child("a", 3, 10)).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn results_cancel_flags_and_the_hash_index() {
    let Some(s) = state() else { return };
    let scanner = ScannerBuilder::new().build().unwrap();
    let report = scanner.scan_bytes(b"hello", &ScanOptions::new().name("h.txt"));
    assert!(
        !s.cancel("nope").await.unwrap(),
        "unknown scans can not be cancelled"
    );
    s.create_scan("r2", "{\"meta\":1}", "{}", "bb")
        .await
        .unwrap();
    assert!(s.exists("r2").await.unwrap());
    assert!(!s.done("r2").await.unwrap());
    assert!(s.cancel("r2").await.unwrap());
    assert!(s.cancelled("r2").await.unwrap());
    s.start("r2", "w", 1).await.unwrap();
    s.finish("r2", &report).await.unwrap();
    // Finishing twice (a redelivered task) is harmless.
    s.finish("r2", &report).await.unwrap();
    assert!(s.done("r2").await.unwrap());
    assert!(
        !s.cancel("r2").await.unwrap(),
        "a finished scan can not be cancelled"
    );
    let rec = s.scan("r2").await.unwrap().unwrap();
    assert_eq!(rec.state, "done");
    assert_eq!(rec.meta, "{\"meta\":1}");
    assert_eq!(rec.report.unwrap(), report);
    assert_eq!(
        s.by_hash(&report.root.sha256).await.unwrap().as_deref(),
        Some("r2")
    );
    assert_eq!(s.attempts("task").await.unwrap(), 0);
    assert_eq!(s.attempt("task").await.unwrap(), 1);
    assert_eq!(s.attempt("task").await.unwrap(), 2);
    // A scan that ended gives its attempt back; never below zero.
    s.refund("task").await.unwrap();
    assert_eq!(s.attempts("task").await.unwrap(), 1);
    s.refund("task").await.unwrap();
    s.refund("task").await.unwrap();
    assert_eq!(s.attempts("task").await.unwrap(), 0);
}

/// A report of 100,000 objects with long names (an archive of deep paths)
/// is well past what one Redis value may hold (512 MB here): it is stored
/// cut down, with its verdict, the detection and a note, instead of the
/// write failing (and the task being retried forever).
#[tokio::test]
async fn a_report_of_100000_objects_with_long_names_is_stored() {
    let Some(s) = state() else { return };
    let mut r = Report::unscanned("deep.zip", ResultCode::NoThreat, "root");
    let long = "d/".repeat(1700);
    let template = r.root.clone();
    for i in 0..100_000u32 {
        let mut c = template.clone();
        c.notes.clear();
        c.name = format!("{long}{i}.txt");
        c.display_name = format!("deep.zip/{long}{i}.txt");
        c.depth = 1;
        c.md5 = format!("{i:032x}");
        c.sha256 = format!("{i:064x}");
        if i == 77_777 {
            c.own_result_i = ResultCode::Infected;
            c.roll_up();
        }
        r.root.children.push(c);
    }
    r.root.roll_up();
    r.objects = 100_001;
    let (json, cut) = mdcluster::state::stored(&r).unwrap();
    assert!(cut.is_some() && json.len() <= mdcluster::state::MAX_REPORT_BYTES);
    s.create_scan("big", "{}", "{}", "cc").await.unwrap();
    s.finish("big", &r).await.unwrap();
    let back = s.scan("big").await.unwrap().unwrap().report.unwrap();
    assert_eq!(back.verdict(), ResultCode::Infected);
    assert_eq!(back.objects, 100_001);
    let hit = back
        .root
        .children
        .iter()
        .find(|c| c.own_result_i == ResultCode::Infected)
        .expect("the infected object is listed");
    assert!(hit.name.len() < 4096);
    assert!(back.root.notes.iter().any(|n| n.contains("not listed")));
    // The index follows the stored tree: the detection is found by hash.
    let id = s
        .by_hash(&format!("{:064x}", 77_777))
        .await
        .unwrap()
        .unwrap();
    let child = s.child(&id).await.unwrap().unwrap();
    assert_eq!(child.root_id, "big");
    assert!(s.open_before(u64::MAX, 10).await.unwrap().is_empty());
}

fn rabbit() -> bool {
    let up = std::net::TcpStream::connect("127.0.0.1:5672").is_ok();
    if !up {
        skip("this test needs RabbitMQ on 127.0.0.1:5672");
    }
    up
}

/// A scan whose task never reached the queue (a lost publish) is published
/// again by the reconciler; one that stays stuck is stored as Failed, which
/// blocks. A scan done meanwhile is only forgotten.
#[tokio::test]
async fn the_reconciler_requeues_then_fails_a_lost_scan() {
    use mdcluster::upkeep::{ReconcileConfig, reconcile};
    if state().is_none() {
        return;
    }
    if !rabbit() {
        return;
    }
    let ns = format!("rc{}x{}", std::process::id(), rand::random::<u32>());
    let s = State::new("redis://127.0.0.1:6379/", &ns, 300).unwrap();
    let names = mdcluster::queue::Names::new(&ns);
    let url = "amqp://guest:guest@127.0.0.1:5672/%2f";
    let (_conn, ch) = mdcluster::queue::open(url, &names).await.unwrap();
    let publisher = mdcluster::queue::Publisher::new(url, names.clone());
    let task = mdcluster::Task {
        root: "lost".into(),
        token: None,
        blob: "uploads/00".into(),
        name: "lost.txt".into(),
        size: 1,
        origin: None,
        limits: mdcore::Limits::default(),
        passwords: Vec::new(),
        deadline_ms: 0,
        sanitize: Default::default(),
        block_codes: mdcore::DEFAULT_BLOCK_CODES.to_vec(),
    };
    let tj = serde_json::to_string(&task).unwrap();
    s.create_scan("lost", "{}", &tj, "dd").await.unwrap();
    s.create_scan("fine", "{}", &tj, "dd").await.unwrap();
    s.finish("fine", &Report::unscanned("f", ResultCode::NoThreat, "ok"))
        .await
        .unwrap();
    let cfg = ReconcileConfig {
        stuck_after: std::time::Duration::ZERO,
        max_requeues: 1,
    };
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let r = reconcile(&s, &publisher, &cfg).await.unwrap();
    assert_eq!(r.requeued, vec!["lost".to_string()]);
    assert_eq!(
        publisher.depth().await.unwrap(),
        1,
        "the task is queued again"
    );
    // While a task waits in the queue nothing counts as stuck.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let r = reconcile(&s, &publisher, &cfg).await.unwrap();
    assert!(r.requeued.is_empty() && r.failed.is_empty());
    ch.queue_purge(names.tasks.as_str().into(), Default::default())
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let r = reconcile(&s, &publisher, &cfg).await.unwrap();
    assert_eq!(r.failed, vec!["lost".to_string()]);
    let rec = s.scan("lost").await.unwrap().unwrap();
    assert_eq!(rec.state, "done");
    let report = rec.report.unwrap();
    assert_eq!(report.verdict(), ResultCode::Failed);
    assert!(report.blocked());
    assert!(report.root.notes[0].contains("lost this scan"));
    assert!(s.open_before(u64::MAX, 10).await.unwrap().is_empty());
    let _ = ch
        .queue_delete(names.tasks.as_str().into(), Default::default())
        .await;
}

#[tokio::test]
async fn the_audit_stream_is_newest_first_and_trimmed_by_time() {
    let Some(s) = state() else { return };
    s.audit_add(1000, "{\"n\":1}").await.unwrap();
    s.audit_add(2000, "{\"n\":2}").await.unwrap();
    // An entry stamped before the last one (another gateway's clock) is
    // still kept.
    s.audit_add(1500, "{\"n\":3}").await.unwrap();
    let all = s.audit_range(0, u64::MAX / 2, 10).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[1], "{\"n\":2}");
    let early = s.audit_range(0, 1999, 10).await.unwrap();
    assert_eq!(early, vec!["{\"n\":1}".to_string()]);
    s.audit_trim(1500).await.unwrap();
    assert_eq!(s.audit_range(0, u64::MAX / 2, 10).await.unwrap().len(), 2);
}

#[tokio::test]
async fn records_are_kept_per_kind_and_created_once() {
    let Some(s) = state() else { return };
    assert!(s.put_record("user", "alice", b"a1", true).await.unwrap());
    assert!(!s.put_record("user", "alice", b"a2", true).await.unwrap());
    assert!(s.put_record("user", "alice", b"a3", false).await.unwrap());
    assert!(s.put_record("user", "bob", b"b1", true).await.unwrap());
    assert!(s.put_record("apikey", "k", b"x", true).await.unwrap());
    assert_eq!(
        s.records("user").await.unwrap(),
        vec![
            ("alice".to_string(), b"a3".to_vec()),
            ("bob".to_string(), b"b1".to_vec())
        ]
    );
    assert_eq!(s.record("apikey", "k").await.unwrap().unwrap(), b"x");
    assert!(s.drop_record("user", "bob").await.unwrap());
    assert!(!s.drop_record("user", "bob").await.unwrap());
    assert!(s.record("user", "bob").await.unwrap().is_none());
    assert!(s.records("none").await.unwrap().is_empty());
    assert!(s.has_records("user").await.unwrap());
    assert!(!s.has_records("none").await.unwrap());
}

#[tokio::test]
async fn audit_pages_by_id_keep_entries_that_share_a_millisecond() {
    let Some(s) = state() else { return };
    s.audit_add(6000, "{\"n\":9}").await.unwrap();
    for n in 0..5 {
        s.audit_add(7000, &format!("{{\"n\":{n}}}")).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut end = "7000-18446744073709551615".to_string();
    loop {
        let page = s.audit_page(0, &end, 2).await.unwrap();
        let n = page.len();
        seen.extend(page.iter().map(|(_, e)| e.clone()));
        match page.last() {
            Some((id, _)) if n == 2 => end = format!("({id}"),
            _ => break,
        }
    }
    let want: Vec<String> = [4, 3, 2, 1, 0, 9]
        .iter()
        .map(|n| format!("{{\"n\":{n}}}"))
        .collect();
    assert_eq!(seen, want, "every entry once, newest first");
}
