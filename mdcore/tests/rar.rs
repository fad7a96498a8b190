//! RAR archives. No RAR compressor exists on Debian (RAR is proprietary), so
//! two kinds of sample are used:
//! - third-party archives made by WinRAR/rar 1.5-6 (compressed, solid,
//!   encrypted with and without encrypted headers, multi-volume), from the
//!   test suite of the Python `rarfile` package (ISC licence, see
//!   `data/rar/LICENSE.rarfile`); the digests expected of their members are
//!   those `unar` (The Unarchiver) extracts;
//! - stored (method 0) RAR 4 and RAR 5 archives written here by hand from
//!   the RAR format descriptions, to plant EICAR, glue, cut and corrupt.

use mdcore::{Kind, Limits, ResultCode, ScanOptions, ScannerBuilder};

use crate::util::*;

fn sample(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/rar")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const CLEAN: &[(&str, &[u8])] = &[
    ("readme.txt", b"hello, world\n"),
    ("docs/notes.txt", b"nothing to see here\n"),
];

fn with_eicar() -> Vec<(&'static str, &'static [u8])> {
    let mut f = CLEAN.to_vec();
    f.push(("docs/deep/invoice.com", EICAR));
    f
}

#[test]
fn eicar_is_found_in_hand_built_rar4_and_rar5_and_their_twins_are_clean() {
    for (label, build) in [
        ("rar4", rar4_stored as fn(&[(&str, &[u8])]) -> Vec<u8>),
        ("rar5", rar5_stored),
    ] {
        let bad = build(&with_eicar());
        assert_eq!(mdcore::detect(&bad).kind, Kind::Rar, "{label}");
        let r = scan(&bad, "a.rar");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Infected,
            "{label}: {:?}",
            summary(&r)
        );
        assert_eq!(
            threat_paths(&r),
            vec!["a.rar/docs/deep/invoice.com"],
            "{label}"
        );

        let good = build(CLEAN);
        let r = scan(&good, "a.rar");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::NoThreat,
            "{label}: {:?}",
            summary(&r)
        );
        assert_eq!(r.root.children.len(), 2, "{label}");
        assert!(r.root.notes.is_empty(), "{label}: {:?}", r.root.notes);
    }
}

#[test]
fn rar_nested_in_zip_zip_nested_in_rar_and_rar_sfx() {
    let inner = rar5_stored(&with_eicar());
    let r = scan(&zip_of(&[("x.rar", &inner)]), "o.zip");
    assert_eq!(threat_paths(&r), vec!["o.zip/x.rar/docs/deep/invoice.com"]);

    let zipped = zip_of(&[("e.com", EICAR)]);
    let r = scan(&rar4_stored(&[("in.zip", &zipped)]), "o.rar");
    assert_eq!(threat_paths(&r), vec!["o.rar/in.zip/e.com"]);

    // A self-extracting archive: the RAR after an executable stub.
    let sfx = pe_with_overlay(&rar4_stored(&with_eicar()));
    let r = scan(&sfx, "setup.exe");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Infected,
        "{:?}",
        summary(&r)
    );
    assert_eq!(threat_paths(&r).len(), 1, "{:?}", summary(&r));
    assert!(threat_paths(&r)[0].ends_with("docs/deep/invoice.com"));

    // Twins.
    let r = scan(&zip_of(&[("x.rar", &rar5_stored(CLEAN))]), "o.zip");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::NoThreat,
        "{:?}",
        summary(&r)
    );
    let r = scan(&pe_with_overlay(&rar4_stored(CLEAN)), "setup.exe");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::NoThreat,
        "{:?}",
        summary(&r)
    );
}

#[test]
fn an_archive_glued_after_a_rar_is_found() {
    for build in [rar4_stored as fn(&[(&str, &[u8])]) -> Vec<u8>, rar5_stored] {
        let mut glued = build(CLEAN);
        glued.extend_from_slice(&zip_of(&[("hidden.com", EICAR)]));
        let r = scan(&glued, "a.rar");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Infected,
            "{:?}",
            summary(&r)
        );
        assert_eq!(threat_paths(&r).len(), 1, "{:?}", summary(&r));
        assert!(threat_paths(&r)[0].ends_with("hidden.com"));
    }
}

/// md5 of every file member, by name.
fn md5s(r: &mdcore::Report) -> Vec<(String, String)> {
    let mut v: Vec<_> = r
        .root
        .children
        .iter()
        .map(|n| (n.display_name.clone(), n.md5.clone()))
        .collect();
    v.sort();
    v
}

/// stest1.txt and stest2.txt of the rarfile samples, as unar extracts them.
const STEST_MD5: &str = "2c3dc8055c457947e5a16d46c969ea79";

#[test]
fn compressed_and_solid_archives_of_every_rar_version_decode_as_unar_does() {
    let stest = |archive: &str| {
        vec![
            (format!("{archive}/stest1.txt"), STEST_MD5.to_string()),
            (format!("{archive}/stest2.txt"), STEST_MD5.to_string()),
        ]
    };
    for name in ["rar3-solid.rar", "rar5-solid.rar", "rar5-blake.rar"] {
        let r = scan(&sample(name), name);
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::NoThreat,
            "{name}: {:?}",
            summary(&r)
        );
        assert_eq!(md5s(&r), stest(name), "{name}");
    }
    let name = "rar202-comment-nopsw.rar";
    let r = scan(&sample(name), name);
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::NoThreat,
        "{:?}",
        summary(&r)
    );
    assert_eq!(
        md5s(&r),
        vec![
            (
                format!("{name}/FILE1.TXT"),
                "610abb9118043fbe0dc24bdcf8023fdc".into()
            ),
            (
                format!("{name}/FILE2.TXT"),
                "deee49f6be4f9078e25ea6bf38d2fc74".into()
            ),
        ]
    );
    // RAR 1.5: FILE2.TXT as unar extracts it.
    let name = "rar15-comment.rar";
    let r = scan(&sample(name), name);
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::NoThreat,
        "{:?}",
        summary(&r)
    );
    assert!(
        md5s(&r).contains(&(
            format!("{name}/FILE2.TXT"),
            "c730a428e45de20f498710f191b3a18c".into()
        )),
        "{:?}",
        md5s(&r)
    );
}

#[test]
fn a_hash_listed_member_of_a_compressed_solid_rar_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let hdb = dir.path().join("feed.hdb");
    std::fs::write(&hdb, format!("{STEST_MD5}:2048:Test.Planted\n")).unwrap();
    let s = ScannerBuilder::new().hash_list(&hdb).build().unwrap();
    for name in ["rar3-solid.rar", "rar5-solid.rar"] {
        let outer = zip_of(&[(name, &sample(name))]);
        let r = s.scan_bytes(&outer, &ScanOptions::new().name("o.zip"));
        assert_eq!(r.root.scan_all_result_i, ResultCode::Blocklisted, "{name}");
        assert_eq!(threat_paths(&r).len(), 2, "{name}: {:?}", summary(&r));
    }
}

#[test]
fn encrypted_rar_blocks_without_the_password_and_opens_with_it() {
    for name in ["rar5-psw.rar", "rar5-hpsw.rar"] {
        let data = sample(name);
        // No password, then only wrong ones: 12.
        for opts in [
            ScanOptions::new(),
            ScanOptions::new().password("nope").password("guess"),
        ] {
            let r = scanner().scan_bytes(&data, &opts.name(name));
            assert_eq!(
                r.root.scan_all_result_i,
                ResultCode::EncryptedArchive,
                "{name}: {:?}",
                summary(&r)
            );
        }
        // The right one, after a wrong one: every member decoded.
        let opts = ScanOptions::new().password("wrong").password("password");
        let r = scanner().scan_bytes(&data, &opts.name(name));
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::NoThreat,
            "{name}: {:?}",
            summary(&r)
        );
        assert_eq!(
            md5s(&r),
            vec![
                (format!("{name}/stest1.txt"), STEST_MD5.into()),
                (format!("{name}/stest2.txt"), STEST_MD5.into()),
            ],
            "{name}"
        );
    }
    // RAR 3 with encrypted headers.
    let name = "rar3-comment-hpsw.rar";
    let r = scan(&sample(name), name);
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::EncryptedArchive,
        "{:?}",
        summary(&r)
    );
    let opts = ScanOptions::new().password("password");
    let r = scanner().scan_bytes(&sample(name), &opts.name(name));
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::NoThreat,
        "{:?}",
        summary(&r)
    );
    assert!(!r.root.children.is_empty());
}

#[test]
fn a_file_continued_in_a_volume_not_given_blocks() {
    for name in ["rar5-vols.part1.rar", "rar5-vols.part3.rar"] {
        let r = scan(&sample(name), name);
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Failed,
            "{name}: {:?}",
            summary(&r)
        );
        let failed = nodes_with(&r, ResultCode::Failed);
        assert!(
            failed.iter().any(|n| n.ends_with("vols/bigfile.txt")),
            "{name}: {:?}",
            summary(&r)
        );
        let note = r
            .root
            .iter()
            .find(|n| n.display_name.ends_with("vols/bigfile.txt"))
            .map(|n| n.notes.join(" "))
            .unwrap_or_default();
        assert!(note.contains("volume"), "{name}: {note}");
    }
    // The whole small file in part 3 is decoded, as unar gives it.
    let r = scan(&sample("rar5-vols.part3.rar"), "p3.rar");
    let small = r
        .root
        .iter()
        .find(|n| n.display_name.ends_with("vols/smallfile.txt"))
        .expect("smallfile listed");
    assert_eq!(small.md5, "cd0723236ff1cc4df1371af977890923");
    assert_eq!(small.own_result_i, ResultCode::NoThreat);
}

#[test]
fn truncated_and_corrupt_rar_blocks() {
    for build in [rar4_stored as fn(&[(&str, &[u8])]) -> Vec<u8>, rar5_stored] {
        let whole = build(&with_eicar());
        let at = whole.windows(EICAR.len()).position(|w| w == EICAR).unwrap();
        // Cut inside EICAR's data.
        let cut = &whole[..at + 20];
        let r = scan(cut, "cut.rar");
        assert_ne!(
            r.root.scan_all_result_i,
            ResultCode::NoThreat,
            "{:?}",
            summary(&r)
        );
        assert!(
            !nodes_with(&r, ResultCode::Failed).is_empty(),
            "{:?}",
            summary(&r)
        );

        // A flipped byte in a clean file's data: its checksum fails.
        let clean = build(CLEAN);
        let mut bad = clean.clone();
        let at = bad.windows(5).position(|w| w == b"hello").unwrap();
        bad[at] ^= 0x20;
        let r = scan(&bad, "crc.rar");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Failed,
            "{:?}",
            summary(&r)
        );
        // The other file is still decoded.
        assert!(
            r.root
                .iter()
                .any(|n| n.display_name.ends_with("docs/notes.txt")
                    && n.own_result_i == ResultCode::NoThreat),
            "{:?}",
            summary(&r)
        );
    }
}

#[test]
fn a_rar_header_followed_by_garbage_blocks() {
    let mut rar = b"Rar!\x1a\x07\x00\xcf\x90\x73\x00\x00\x0d\x00".to_vec();
    rar.extend_from_slice(&[0; 64]);
    let r = scan(&rar, "a.rar");
    assert_eq!(r.verdict(), ResultCode::Failed, "{:?}", summary(&r));
    assert!(r.blocked());
    let mut rar5 = rar5_stored(CLEAN);
    rar5.truncate(20);
    rar5.extend_from_slice(&[0x55; 64]);
    let r = scan(&rar5, "b.rar");
    assert_eq!(r.verdict(), ResultCode::Failed, "{:?}", summary(&r));
}

#[test]
fn rar_entries_over_the_limits_are_not_decoded_and_block() {
    let big = vec![b'a'; 3 << 20];
    let data = rar5_stored(&[("big.bin", &big), ("e.com", EICAR)]);
    let opts = ScanOptions::new().name("big.rar").limits(Limits {
        max_object_size: 1 << 20,
        ..Limits::default()
    });
    let r = scanner().scan_bytes(&data, &opts);
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Infected,
        "{:?}",
        summary(&r)
    );
    assert_eq!(
        nodes_with(&r, ResultCode::ExceededArchiveSize),
        vec!["big.rar/big.bin".to_string()]
    );
    // Large entries are staged on disk and still scanned.
    let opts = ScanOptions::new().name("big.rar").limits(Limits {
        spill_threshold: 1 << 20,
        ..Limits::default()
    });
    let mut payload = vec![b'.'; 2 << 20];
    payload.extend_from_slice(EICAR);
    let data = rar4_stored(&[("big.com", &payload)]);
    let r = scanner().scan_bytes(&data, &opts);
    let big = r.root.children.first().expect("a child");
    assert_eq!(big.file_size, payload.len() as u64);
    assert_eq!(big.md5, md5_hex(&payload));
}

#[test]
fn a_rar_dictionary_over_the_cap_is_not_allocated() {
    // Method 1 with a 4 GiB dictionary (128 KiB << 15): refused before
    // UnRAR allocates it.
    let big = rar5_with(&[("x.bin", b"data")], 0x80 | (15 << 10));
    let r = scan(&big, "dict.rar");
    assert_eq!(
        r.verdict(),
        ResultCode::ExceededArchiveSize,
        "{:?}",
        summary(&r)
    );
    let node = &r.root.children[0];
    assert!(
        node.notes.join(" ").contains("dictionary"),
        "{:?}",
        node.notes
    );
    // A sane dictionary (32 MiB) with the same bytes is decoded (and fails).
    let r = scan(
        &rar5_with(&[("x.bin", b"data")], 0x80 | (8 << 10)),
        "ok.rar",
    );
    assert_eq!(r.verdict(), ResultCode::Failed, "{:?}", summary(&r));
}
