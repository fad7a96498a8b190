//! Engines through the scanner: hash lists, rule files, custom engines.

use std::sync::Arc;
use std::time::Duration;

use mdcore::{
    Engine, EngineCode, EngineInfo, EngineKind, EngineResult, ObjectView, ResultCode, ScanOptions,
    ScannerBuilder,
};

use crate::util::*;

#[test]
fn clamav_hdb_blocks_and_fp_allows() {
    let dir = tempfile::tempdir().unwrap();
    let payload = b"known bad payload";
    let hdb = dir.path().join("feed.hdb");
    std::fs::write(
        &hdb,
        format!("{}:{}:Test.Bad.Payload\n", md5_hex(payload), payload.len()),
    )
    .unwrap();
    let s = ScannerBuilder::new().hash_list(&hdb).build().unwrap();
    let zip = zip_of(&[("bad.bin", payload), ("ok.txt", b"fine")]);
    let report = s.scan_bytes(&zip, &ScanOptions::new().name("a.zip"));
    assert_eq!(report.verdict(), ResultCode::Blocklisted);
    let bad = &report.root.children[0];
    assert_eq!(bad.own_result_i, ResultCode::Blocklisted);
    assert_eq!(
        bad.scan_details["Hash Lists"].threat_found,
        "Test.Bad.Payload"
    );
    assert_eq!(
        bad.scan_details["Hash Lists"].scan_result_i,
        EngineCode::Infected
    );
    // Listed objects skip the other engines.
    assert!(!bad.scan_details.contains_key("YARA-X"));

    // An .sfp allow list (sha256:*:name) overrides both the block list and
    // the rules: EICAR allow-listed is code 7.
    let eicar_sha = scan(EICAR, "e").root.sha256;
    let sfp = dir.path().join("local.sfp");
    std::fs::write(&sfp, format!("{eicar_sha}:*:Known.Good\n")).unwrap();
    let s = ScannerBuilder::new()
        .hash_list(&hdb)
        .hash_list(&sfp)
        .build()
        .unwrap();
    let report = s.scan_bytes(EICAR, &ScanOptions::new());
    assert_eq!(report.verdict(), ResultCode::Allowlisted);
    assert!(report.threats().is_empty());
}

#[test]
fn a_bad_hash_list_fails_the_build_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.hsb");
    std::fs::write(&bad, "# header\nnot-a-hash:12:Name\n").unwrap();
    let err = ScannerBuilder::new()
        .hash_list(&bad)
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("broken.hsb") && err.contains("line 2"),
        "{err}"
    );
}

#[test]
fn rule_directories_load_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(
        dir.path().join("a.yar"),
        "rule Marker_A { strings: $a = \"marker-a\" condition: $a }",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("sub/b.yara"),
        "rule Marker_B { strings: $b = \"marker-b\" condition: $b }",
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a rule file").unwrap();
    let s = ScannerBuilder::new()
        .rules_path(dir.path())
        .build()
        .unwrap();
    let zip = zip_of(&[
        ("1.txt", b"has marker-a"),
        ("2.txt", b"and marker-b"),
        ("e.com", EICAR),
    ]);
    let threats: Vec<String> = s
        .scan_bytes(&zip, &ScanOptions::new())
        .threats()
        .into_iter()
        .map(|d| d.threat)
        .collect();
    assert_eq!(threats, vec!["Marker_A", "Marker_B", "EICAR_Test_File"]);

    std::fs::write(
        dir.path().join("sub/c.yar"),
        "rule Broken {\n condition: undefined_thing }",
    )
    .unwrap();
    let err = ScannerBuilder::new()
        .rules_path(dir.path())
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("c.yar:2"), "{err}");
}

#[test]
fn without_any_engine_nothing_is_clean() {
    let s = ScannerBuilder::new().default_rules(false).build().unwrap();
    let report = s.scan_bytes(b"hello", &ScanOptions::new());
    assert_eq!(report.verdict(), ResultCode::NotScanned);
}

#[derive(Debug)]
struct Panicky(EngineInfo);

impl Engine for Panicky {
    fn info(&self) -> &EngineInfo {
        &self.0
    }
    fn scan(&self, object: &ObjectView<'_>, _timeout: Duration) -> EngineResult {
        if object.data.starts_with(b"boom") {
            panic!("engine bug");
        }
        EngineResult {
            code: EngineCode::Suspicious,
            threats: vec![format!("Custom.{}", object.file_type.kind_name())],
            ..EngineResult::clean()
        }
    }
}

trait KindName {
    fn kind_name(&self) -> String;
}
impl KindName for mdcore::FileType {
    fn kind_name(&self) -> String {
        format!("{:?}", self.kind)
    }
}

#[test]
fn custom_engines_plug_in_and_their_panics_are_contained() {
    let info = EngineInfo {
        id: "custom".into(),
        name: "Custom".into(),
        version: "1".into(),
        def_time: "2026-01-01T00:00:00.000Z".into(),
        kind: EngineKind::Av,
    };
    let s = ScannerBuilder::new()
        .engine(Arc::new(Panicky(info)))
        .build()
        .unwrap();
    assert_eq!(s.engines().len(), 2);
    let zip = zip_of(&[("a.txt", b"text"), ("b.bin", b"boom!")]);
    let report = s.scan_bytes(&zip, &ScanOptions::new());
    let a = &report.root.children[0];
    assert_eq!(a.scan_details["Custom"].threat_found, "Custom.Text");
    assert_eq!(a.own_result_i, ResultCode::Suspicious);
    let b = &report.root.children[1];
    assert_eq!(b.scan_details["Custom"].scan_result_i, EngineCode::Failed);
    assert_eq!(b.own_result_i, ResultCode::Failed);
}

#[test]
fn type_mismatch_is_opt_in() {
    let exe = pe_with_overlay(b"");
    assert_eq!(scan(&exe, "invoice.pdf").verdict(), ResultCode::NoThreat);
    let s = ScannerBuilder::new().type_mismatch(true).build().unwrap();
    let r = s.scan_bytes(&exe, &ScanOptions::new().name("invoice.pdf"));
    assert_eq!(r.verdict(), ResultCode::FileTypeMismatch);
    let r = s.scan_bytes(&exe, &ScanOptions::new().name("setup.exe"));
    assert_eq!(r.verdict(), ResultCode::NoThreat);
}

#[test]
fn a_yara_timeout_is_16_on_that_object() {
    let mut y = mdcore::YaraEngineBuilder::new();
    // A rule that takes far longer than a second on a few MiB.
    y.add_source(
        "slow.yar",
        "rule Slow { condition: for all i in (0..filesize) : \
         ( for all j in (0..1000) : ( uint8(i) + j >= 0 ) ) }",
    )
    .timeout(Duration::from_secs(1));
    let s = ScannerBuilder::new()
        .default_rules(false)
        .engine(Arc::new(y.build().unwrap()))
        .build()
        .unwrap();
    let data = zip_of(&[("big.bin", &vec![7u8; 4 << 20]), ("small.txt", b"tiny")]);
    let r = s.scan_bytes(&data, &ScanOptions::new().name("t.zip"));
    let big = r
        .root
        .iter()
        .find(|n| n.display_name == "t.zip/big.bin")
        .unwrap();
    assert_eq!(
        big.own_result_i,
        ResultCode::ExceededArchiveTimeout,
        "{:?}",
        big.notes
    );
    assert!(
        big.notes.iter().any(|n| n.contains("timed out")),
        "{:?}",
        big.notes
    );
    assert_eq!(r.verdict(), ResultCode::ExceededArchiveTimeout);
    assert!(r.blocked());
}

/// Big objects are opened while their engines run; when an engine then puts
/// one on a list, the extracted part is dropped (also under a second big
/// level) and the report is the one a scan that waited would give.
#[test]
fn a_big_archive_opened_early_and_then_listed_keeps_no_children() {
    let filler: Vec<u8> = (0..(17u32 << 20))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let inner = tar_of(&[("filler.bin", &filler), ("eicar.com", EICAR)]);
    let outer = tar_of(&[("inner.tar", &inner), ("e2.com", EICAR)]);
    assert!(inner.len() > 16 << 20 && outer.len() > inner.len());
    let dir = tempfile::tempdir().unwrap();
    let sha = |d: &[u8]| scan(d, "x").root.sha256;

    // Not listed: both levels opened, both EICARs found, on 1 and 2 threads.
    for threads in [1, 2] {
        let s = ScannerBuilder::new().threads(threads).build().unwrap();
        let r = s.scan_bytes(&outer, &ScanOptions::new().name("o.tar"));
        assert_eq!(r.threats().len(), 2, "{threads} threads");
        assert_eq!(r.root.children[0].children.len(), 2);
    }
    // The outer tar allow-listed: code 7, no children, nothing found.
    let sfp = dir.path().join("allow.sfp");
    std::fs::write(&sfp, format!("{}:*:Known.Good\n", sha(&outer))).unwrap();
    for threads in [1, 2] {
        let s = ScannerBuilder::new()
            .threads(threads)
            .hash_list(&sfp)
            .build()
            .unwrap();
        let r = s.scan_bytes(&outer, &ScanOptions::new().name("o.tar"));
        assert_eq!(r.verdict(), ResultCode::Allowlisted, "{threads} threads");
        assert!(r.root.children.is_empty());
        assert!(r.threats().is_empty());
        assert!(!r.root.md5.is_empty() && !r.root.sha1.is_empty());
        assert!(
            r.root
                .notes
                .iter()
                .any(|n| n.contains("extraction skipped"))
        );
    }
    // The inner tar block-listed (by MD5): it keeps no children, its
    // sibling EICAR is still found.
    let hdb = dir.path().join("block.hdb");
    std::fs::write(
        &hdb,
        format!("{}:{}:Test.Inner\n", md5_hex(&inner), inner.len()),
    )
    .unwrap();
    for threads in [1, 2] {
        let s = ScannerBuilder::new()
            .threads(threads)
            .hash_list(&hdb)
            .build()
            .unwrap();
        let r = s.scan_bytes(&outer, &ScanOptions::new().name("o.tar"));
        let listed = &r.root.children[0];
        assert_eq!(
            listed.own_result_i,
            ResultCode::Blocklisted,
            "{threads} threads"
        );
        assert!(listed.children.is_empty());
        assert_eq!(r.root.children[1].scan_all_result_i, ResultCode::Infected);
    }
}
