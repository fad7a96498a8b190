//! Hostile archives: traversal names, passwords, damaged and unsupported
//! members next to healthy ones.

use mdcore::{ResultCode, ScanOptions, ScannerBuilder};

use crate::util::*;

#[test]
fn traversal_and_absolute_names_are_only_labels() {
    let data = zip_of(&[
        ("../../../../tmp/evil.com", EICAR),
        ("/etc/cron.d/x", b"* * * * * root true\n"),
        ("C:\\Windows\\System32\\evil.dll", b"MZ"),
    ]);
    let before: Vec<_> = std::fs::read_dir(".")
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let report = scan(&data, "trav.zip");
    let names: Vec<&str> = report
        .root
        .children
        .iter()
        .map(|c| c.display_name.as_str())
        .collect();
    assert_eq!(
        names,
        vec![
            "trav.zip/tmp/evil.com",
            "trav.zip/etc/cron.d/x",
            "trav.zip/Windows/System32/evil.dll"
        ]
    );
    assert_eq!(report.verdict(), ResultCode::Infected);
    let after: Vec<_> = std::fs::read_dir(".")
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(before, after, "extraction must never write files");
    assert!(!std::path::Path::new("/tmp/evil.com").exists());

    let tar = tar_of(&[("a/../../b/eicar.com", EICAR)]);
    assert_eq!(
        threat_paths(&scan(&tar, "t.tar")),
        vec!["t.tar/a/b/eicar.com".to_string()]
    );
}

#[test]
fn encrypted_zip_needs_the_right_password() {
    for aes in [false, true] {
        let data = zip_encrypted(&[("eicar.com", EICAR), ("b.txt", b"text")], "s3cret", aes);
        // No password: the members are not examined -> 12, never clean.
        let report = scan(&data, "enc.zip");
        assert_eq!(report.verdict(), ResultCode::EncryptedArchive, "aes={aes}");
        assert_eq!(nodes_with(&report, ResultCode::EncryptedArchive).len(), 2);
        // Wrong passwords only: still 12.
        let s = ScannerBuilder::new()
            .password("nope")
            .password("guess")
            .build()
            .unwrap();
        let report = s.scan_bytes(&data, &ScanOptions::new());
        assert_eq!(report.verdict(), ResultCode::EncryptedArchive, "aes={aes}");
        // The right one, after a wrong one, supplied per scan.
        let opts = ScanOptions::new().password("wrong").password("s3cret");
        let report = scanner().scan_bytes(&data, &opts);
        assert_eq!(report.verdict(), ResultCode::Infected, "aes={aes}");
        assert_eq!(report.threats().len(), 1);
    }
}

#[test]
fn encrypted_7z_needs_the_right_password() {
    for solid in [false, true] {
        let data = sevenz_of(
            &[("eicar.com", EICAR), ("b.txt", b"text")],
            Some("pw7"),
            solid,
        );
        let report = scan(&data, "enc.7z");
        assert_eq!(
            report.verdict(),
            ResultCode::EncryptedArchive,
            "solid={solid}"
        );
        let opts = ScanOptions::new().password("bad").password("pw7");
        let report = scanner().scan_bytes(&data, &opts);
        assert_eq!(
            report.verdict(),
            ResultCode::Infected,
            "solid={solid} {:#?}",
            report.root
        );
    }
}

#[test]
fn a_corrupt_member_fails_alone_and_its_siblings_are_scanned() {
    let filler: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut data = zip_of(&[
        ("first.bin", &filler),
        ("middle.bin", &filler),
        ("eicar.com", EICAR),
    ]);
    // Damage the middle member's compressed bytes (its local header is right
    // after the first member).
    let second = data
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"PK\x03\x04")
        .nth(1)
        .unwrap()
        .0;
    for b in &mut data[second + 60..second + 90] {
        *b ^= 0x5a;
    }
    let report = scan(&data, "damaged.zip");
    let middle = report
        .root
        .children
        .iter()
        .find(|c| c.name == "middle.bin")
        .unwrap();
    assert_eq!(
        middle.own_result_i,
        ResultCode::Failed,
        "{:?}",
        middle.notes
    );
    assert!(!middle.notes.is_empty());
    assert_eq!(
        threat_paths(&report),
        vec!["damaged.zip/eicar.com".to_string()]
    );
    let first = report
        .root
        .children
        .iter()
        .find(|c| c.name == "first.bin")
        .unwrap();
    assert_eq!(first.own_result_i, ResultCode::NoThreat);
}

#[test]
fn an_unsupported_member_method_is_23_not_clean() {
    let mut data = zip_with(
        &[("odd.bin", b"abc"), ("ok.txt", b"fine")],
        zip::CompressionMethod::Stored,
    );
    // Rewrite the first member's method (local header offset 8 and its
    // central directory entry offset 10) to 97, WavPack.
    data[8] = 97;
    let cd = data.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
    data[cd + 10] = 97;
    let report = scan(&data, "odd.zip");
    let odd = report
        .root
        .children
        .iter()
        .find(|c| c.name == "odd.bin")
        .unwrap();
    assert_eq!(
        odd.own_result_i,
        ResultCode::UnsupportedFileType,
        "{:?}",
        odd.notes
    );
    assert_eq!(report.verdict(), ResultCode::UnsupportedFileType);
    let ok = report
        .root
        .children
        .iter()
        .find(|c| c.name == "ok.txt")
        .unwrap();
    assert_eq!(ok.own_result_i, ResultCode::NoThreat);
}

#[test]
fn identical_members_are_scanned_once() {
    let inner = zip_with(&[("x.txt", b"x")], zip::CompressionMethod::Stored);
    let outer = tar_of(&[("same.zip", &inner), ("again.zip", &inner)]);
    // One thread, so one copy is finished before the other starts (copies
    // scanned at the same moment on two threads are both scanned).
    let s = ScannerBuilder::new().threads(1).build().unwrap();
    let report = s.scan_bytes(&outer, &ScanOptions::new().name("t.tar"));
    let reused: Vec<_> = report
        .root
        .children
        .iter()
        .filter(|c| c.notes.iter().any(|n| n.contains("scanned once")))
        .collect();
    assert_eq!(reused.len(), 1, "{:#?}", report.root);
    assert!(reused[0].children.is_empty());
    assert_eq!(reused[0].scan_details.len(), 1);
    assert_eq!(report.verdict(), ResultCode::NoThreat);
}

#[test]
fn password_protected_documents_are_15() {
    let pdf = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<</Encrypt 5 0 R>>\n%%EOF\n";
    assert_eq!(
        scan(pdf, "a.pdf").verdict(),
        ResultCode::PasswordProtectedDocument
    );
    let plain = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
    assert_eq!(scan(plain, "b.pdf").verdict(), ResultCode::NoThreat);
}

#[test]
fn garbage_with_container_magic_fails_cleanly() {
    let cases: &[(&str, &[u8])] = &[
        ("z.zip", b"PK\x03\x04garbage"),
        ("g.gz", &[0x1f, 0x8b, 8, 0, 1, 2, 3]),
        ("x.xz", &[0xfd, b'7', b'z', b'X', b'Z', 0, 9, 9]),
        ("s.7z", &[b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c, 0, 4, 1]),
        ("c.cab", b"MSCF\0\0\0\0\xff\xff"),
        ("r.rpm", &[0xed, 0xab, 0xee, 0xdb, 1]),
        ("z.zst", &[0x28, 0xb5, 0x2f, 0xfd, 0xff]),
        ("b.bz2", b"BZh91AY&SYgarbage"),
        ("c.cpio", b"070701zzzz"),
    ];
    for (name, data) in cases {
        let report = scan(data, name);
        assert_eq!(
            report.verdict(),
            ResultCode::Failed,
            "{name}: {:#?}",
            report.root
        );
        // The node that failed says why.
        let failed = report
            .root
            .iter()
            .find(|n| n.own_result_i == ResultCode::Failed);
        assert!(!failed.unwrap().notes.is_empty(), "{name}");
    }
}

/// Found by the `nested` fuzz target (fuzz/regressions/nested/): a tar's
/// first bytes are its first member's name, so a member named like another
/// format's magic made the tar a "corrupt cpio" (code 3, which the default
/// workflow allows) and hid what it carried.
#[test]
fn a_tar_member_named_like_another_format_does_not_hide_the_tar() {
    for first in [
        "070707",
        "070701x.com",
        "BZh91AY&SY",
        "\u{1f}\u{8b}\u{8}gz",
        "MZ.exe",
        "%PDF-1.7",
    ] {
        let data = tar_of(&[(first, EICAR), ("second.com", EICAR)]);
        let report = scan(&data, "t.tar");
        assert_eq!(report.root.file_type, "application/x-tar", "{first:?}");
        assert_eq!(
            report.root.scan_all_result_i,
            ResultCode::Infected,
            "{first:?}"
        );
        assert_eq!(
            threat_paths(&report).len(),
            2,
            "{first:?}: {}",
            report.to_json()
        );
    }
}
