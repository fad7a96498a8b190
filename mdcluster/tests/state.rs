//! The Redis state against the machine's real Redis (127.0.0.1:6379): the
//! writes a redelivered task repeats must not count twice. With `CI` set, a
//! missing Redis fails the test.

use mdcluster::State;
use mdcore::{Report, ResultCode, ScanOptions, ScannerBuilder};

fn state() -> Option<State> {
    let up = std::net::TcpStream::connect("127.0.0.1:6379").is_ok();
    if !up {
        assert!(
            std::env::var_os("CI").is_none(),
            "these tests need Redis on 127.0.0.1:6379"
        );
        eprintln!("SKIPPED: no Redis on 127.0.0.1:6379");
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
    s.create_scan("root1", "{}").await.unwrap();
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
    s.create_scan("r2", "{\"meta\":1}").await.unwrap();
    assert!(s.exists("r2").await.unwrap());
    assert!(!s.done("r2").await.unwrap());
    assert!(s.cancel("r2").await.unwrap());
    assert!(s.cancelled("r2").await.unwrap());
    s.start("r2", "w").await.unwrap();
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
