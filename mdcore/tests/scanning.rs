//! The scanner's contract: limits, cancel, progress, determinism, memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mdcore::{CancelToken, Limits, ResultCode, ScanOptions, ScannerBuilder};

use crate::util::*;

fn many_files(n: usize) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| {
            (
                format!("f{i:04}.txt"),
                format!("file number {i}\n").repeat(50).into_bytes(),
            )
        })
        .collect()
}

#[test]
fn results_are_in_archive_order_and_identical_across_thread_counts() {
    let files = many_files(300);
    let mut entries: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    entries.insert(150, ("mid/eicar.com", EICAR));
    let data = zip_of(&entries);
    let one = ScannerBuilder::new().threads(1).build().unwrap();
    let two = ScannerBuilder::new().threads(2).build().unwrap();
    let a = one.scan_bytes(&data, &ScanOptions::new().name("x.zip"));
    let b = two.scan_bytes(&data, &ScanOptions::new().name("x.zip"));
    let names = |r: &mdcore::Report| {
        r.root
            .children
            .iter()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&a), names(&b));
    assert_eq!(names(&a)[150], "mid/eicar.com");
    assert_eq!(names(&a)[0], "f0000.txt");
    assert_eq!(a.threats(), b.threats());
    assert_eq!(a.objects, 302);
}

#[test]
fn progress_reports_every_object() {
    let files = many_files(40);
    let entries: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let data = zip_of(&entries);
    let calls = Arc::new(AtomicU64::new(0));
    let max = Arc::new(AtomicU64::new(0));
    let (c, m) = (calls.clone(), max.clone());
    let opts = ScanOptions::new().progress(move |p| {
        c.fetch_add(1, Ordering::Relaxed);
        m.fetch_max(p.objects, Ordering::Relaxed);
    });
    let report = scanner().scan_bytes(&data, &opts);
    assert_eq!(calls.load(Ordering::Relaxed), report.objects);
    assert_eq!(max.load(Ordering::Relaxed), 41);
}

#[test]
fn a_cancelled_scan_reports_19() {
    let token = CancelToken::new();
    token.cancel();
    let data = zip_of(&[("a.txt", b"a"), ("eicar.com", EICAR)]);
    let report = scanner().scan_bytes(&data, &ScanOptions::new().cancel(token));
    assert_eq!(report.verdict(), ResultCode::Canceled);
}

#[test]
fn cancel_from_another_thread_stops_a_long_scan() {
    // 400 MiB of text in a tar.gz takes a while to inflate and scan.
    let line = b"lorem ipsum dolor sit amet, consectetur adipiscing elit\n".repeat(1 << 14);
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for _ in 0..400 {
        std::io::Write::write_all(&mut e, &line).unwrap();
    }
    let data = e.finish().unwrap();
    let token = CancelToken::new();
    let t = token.clone();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        t.cancel();
    });
    let s = ScannerBuilder::new()
        .limits(Limits {
            max_ratio: 10_000,
            ..Limits::default()
        })
        .build()
        .unwrap();
    let report = s.scan_bytes(&data, &ScanOptions::new().cancel(token));
    canceller.join().unwrap();
    assert_eq!(report.verdict(), ResultCode::Canceled);
    assert!(report.bytes_extracted < 400 * line.len() as u64);
}

#[test]
fn the_timeout_yields_16() {
    let data = zip_of(&[("a.txt", b"a"), ("eicar.com", EICAR)]);
    let opts = ScanOptions::new().limits(Limits {
        timeout: Duration::ZERO,
        ..Limits::default()
    });
    let report = scanner().scan_bytes(&data, &opts);
    assert_eq!(report.verdict(), ResultCode::ExceededArchiveTimeout);
}

#[test]
fn depth_limit_marks_the_container_it_did_not_open() {
    let inner = zip_of(&[("eicar.com", EICAR)]);
    let mid = zip_of(&[("inner.zip", &inner)]);
    let outer = zip_of(&[("mid.zip", &mid), ("ok.txt", b"ok")]);
    let opts = ScanOptions::new().name("outer.zip").limits(Limits {
        max_depth: 2,
        ..Limits::default()
    });
    let report = scanner().scan_bytes(&outer, &opts);
    assert_eq!(report.verdict(), ResultCode::ExceededArchiveDepth);
    assert_eq!(
        nodes_with(&report, ResultCode::ExceededArchiveDepth),
        vec!["outer.zip/mid.zip/inner.zip".to_string()]
    );
}

#[test]
fn an_object_over_the_size_limit_is_cut_scanned_and_marked() {
    let big = vec![b'z'; 2 << 20];
    let data = zip_of(&[("big.bin", &big), ("eicar.com", EICAR)]);
    let opts = ScanOptions::new().limits(Limits {
        max_object_size: 1 << 20,
        ..Limits::default()
    });
    let report = scanner().scan_bytes(&data, &opts);
    let big = &report.root.children[0];
    assert_eq!(big.own_result_i, ResultCode::ExceededArchiveSize);
    assert_eq!(big.file_size, 1 << 20);
    // The infected sibling is still found and outranks the limit.
    assert_eq!(report.verdict(), ResultCode::Infected);
}

#[test]
fn large_members_spill_to_disk_and_are_still_scanned() {
    let mut payload = vec![b'.'; 3 << 20];
    payload.extend_from_slice(b"the-needle-at-the-end");
    let data = gz(&tar_of(&[("big.log", &payload)]));
    let s = ScannerBuilder::new()
        .rules_source(
            "needle.yar",
            "rule Needle { strings: $n = \"the-needle-at-the-end\" condition: $n }",
        )
        .limits(Limits {
            spill_threshold: 64 << 10,
            ..Limits::default()
        })
        .build()
        .unwrap();
    let report = s.scan_bytes(&data, &ScanOptions::new().name("big.tgz"));
    // The tar holds the needle too: both the tar and its member match.
    assert_eq!(
        threat_paths(&report),
        vec![
            "big.tgz/big.tar".to_string(),
            "big.tgz/big.tar/big.log".to_string()
        ]
    );
}

#[test]
fn scan_path_maps_large_files_and_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bundle.zip");
    let mut filler = vec![0u8; 1 << 20];
    for (i, b) in filler.iter_mut().enumerate() {
        *b = (i * 31 % 253) as u8;
    }
    std::fs::write(
        &p,
        zip_with(
            &[("f.bin", &filler), ("e.com", EICAR)],
            zip::CompressionMethod::Stored,
        ),
    )
    .unwrap();
    let s = ScannerBuilder::new()
        .limits(Limits {
            spill_threshold: 1 << 10,
            ..Limits::default()
        })
        .build()
        .unwrap();
    let report = s.scan_path(&p, &ScanOptions::new()).unwrap();
    assert_eq!(report.root.name, "bundle.zip");
    assert_eq!(threat_paths(&report), vec!["bundle.zip/e.com".to_string()]);
    let missing = s
        .scan_path(dir.path().join("nope"), &ScanOptions::new())
        .unwrap_err();
    assert!(missing.to_string().contains("nope"), "{missing}");
}

#[test]
fn the_report_serializes_with_metadefender_field_names() {
    let report = scan(&zip_of(&[("eicar.com", EICAR)]), "a.zip");
    let v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    let root = &v["root"];
    for field in [
        "display_name",
        "file_size",
        "file_type",
        "file_type_description",
        "md5",
        "sha1",
        "sha256",
        "scan_all_result_i",
        "scan_all_result_a",
        "scan_details",
        "notes",
        "children",
    ] {
        assert!(root.get(field).is_some(), "missing {field}");
    }
    assert_eq!(root["scan_all_result_i"], 1);
    assert_eq!(root["scan_all_result_a"], "Infected");
    let child = &root["children"][0];
    assert_eq!(
        child["scan_details"]["YARA-X"]["threat_found"],
        "EICAR_Test_File"
    );
    assert_eq!(child["scan_details"]["YARA-X"]["scan_result_i"], 1);
    assert_eq!(
        child["sha256"],
        "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
    );
    let back: mdcore::Report = serde_json::from_value(v).unwrap();
    assert_eq!(back, report);
}

/// Siblings get their MD5s computed side by side (SIMD lanes, in batches
/// sent when full or when the last producer ends): every object's three
/// digests must still be those of its own bytes — members of every size
/// around the batch and padding limits, duplicates, one member too big to
/// wait for siblings, zip members decoded by deferred jobs, a cabinet's
/// folders, a tar's slices, and the hash list fed from the batched MD5.
#[test]
fn every_object_carries_the_digests_of_its_own_bytes() {
    use md5::Md5;
    use sha1::Sha1;
    use sha2::{Digest, Sha256};
    let hex = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..300usize {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = match i {
            0..=9 => i * 7 + 50,            // around one padded block
            10..=12 => 0,                   // empty
            _ => (x % 90_000) as usize + 1, // up to ~88 KiB
        };
        let data: Vec<u8> = (0..len)
            .map(|n| (n as u64).wrapping_mul(x | 1).rotate_left(7) as u8)
            .collect();
        files.push((format!("f{i:03}.bin"), data));
    }
    files.push(("dup.bin".into(), files[20].1.clone()));
    files.push(("big.bin".into(), vec![0x5a; (1 << 20) + 3]));
    let bad = files[123].1.clone();
    let dir = tempfile::tempdir().unwrap();
    let hdb = dir.path().join("list.hdb");
    std::fs::write(
        &hdb,
        format!("{}:{}:Test.Batched\n", hex(&Md5::digest(&bad)), bad.len()),
    )
    .unwrap();
    let entries: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let by_name: std::collections::HashMap<&str, &[u8]> = entries.iter().copied().collect();
    let (a, b) = entries.split_at(150);
    let containers = [
        ("all.zip", zip_of(&entries)),
        ("all.tar", tar_of(&entries)),
        ("all.cab", cab_of(&[a, b], true)),
    ];
    for threads in [1, 2] {
        let s = ScannerBuilder::new()
            .threads(threads)
            .hash_list(&hdb)
            .build()
            .unwrap();
        for (name, data) in &containers {
            let r = s.scan_bytes(data, &ScanOptions::new().name(*name));
            assert_eq!(r.root.children.len(), files.len(), "{name}");
            for c in &r.root.children {
                let d = by_name[c.name.as_str()];
                let what = format!("{name}/{} on {threads} threads", c.name);
                assert_eq!(c.md5, hex(&Md5::digest(d)), "{what}");
                assert_eq!(c.sha1, hex(&Sha1::digest(d)), "{what}");
                assert_eq!(c.sha256, hex(&Sha256::digest(d)), "{what}");
            }
            assert_eq!(r.root.md5, hex(&Md5::digest(data)));
            assert_eq!(r.root.sha256, hex(&Sha256::digest(data)));
            let hits: Vec<_> = r.threats().into_iter().map(|t| t.threat).collect();
            assert_eq!(hits, ["Test.Batched"], "{name}");
        }
    }
}

/// Digests the caller already has (a server hashes an upload as it
/// arrives) are taken as given for the root: reported, and what the hash
/// list looks up; its members are still hashed here.
#[test]
fn digests_given_by_the_caller_are_used_for_the_root() {
    let s = scanner();
    let zip = zip_of(&[("a.txt", b"alpha"), ("b.txt", b"beta")]);
    let own = s.scan_bytes(&zip, &ScanOptions::new());
    let given = mdcore::Digests::of(&zip);
    let r = s.scan_bytes(&zip, &ScanOptions::new().digests(given));
    assert_eq!(r.root.md5, own.root.md5);
    assert_eq!(r.root.sha1, own.root.sha1);
    assert_eq!(r.root.sha256, own.root.sha256);
    assert_eq!(r.root.children[1].md5, own.root.children[1].md5);
    // Taken as given: the root's hash-list lookup uses them.
    let dir = tempfile::tempdir().unwrap();
    let hdb = dir.path().join("list.hdb");
    std::fs::write(&hdb, format!("{}:5:Test.Given\n", md5_hex(b"other"))).unwrap();
    let listed = ScannerBuilder::new().hash_list(&hdb).build().unwrap();
    let other = mdcore::Digests::of(b"other");
    let r = listed.scan_bytes(b"other", &ScanOptions::new().digests(other));
    assert_eq!(r.verdict(), ResultCode::Blocklisted);
    assert_eq!(r.root.md5, md5_hex(b"other"));
}
