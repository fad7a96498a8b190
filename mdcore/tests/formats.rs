//! Golden tests per format: every container extracts its members and an
//! EICAR planted inside is found, at the right path, through short reads
//! too; truncated copies of every format end as Failed, never clean.

use mdcore::{ResultCode, ScanOptions};

use crate::util::*;

/// (name, bytes) of one archive per supported format, each holding
/// `eicar.com` and `readme.txt`.
fn samples() -> Vec<(&'static str, Vec<u8>)> {
    let files: &[(&str, &[u8])] = &[("readme.txt", b"hello, world\n"), ("dir/eicar.com", EICAR)];
    let tar = tar_of(files);
    let cpio = newc_of(files);
    vec![
        ("a.zip", zip_of(files)),
        (
            "stored.zip",
            zip_with(files, zip::CompressionMethod::Stored),
        ),
        ("bzip2.zip", zip_with(files, zip::CompressionMethod::Bzip2)),
        ("zstd.zip", zip_with(files, zip::CompressionMethod::Zstd)),
        ("xz.zip", zip_with(files, zip::CompressionMethod::Xz)),
        ("a.tar", tar.clone()),
        ("a.tar.gz", gz(&tar)),
        ("a.tar.bz2", bz2(&tar)),
        ("a.tar.xz", xz(&tar)),
        ("a.tar.zst", zst(&tar)),
        ("a.7z", sevenz_of(files, None, false)),
        ("solid.7z", sevenz_of(files, None, true)),
        ("mszip.cab", cab_of(&[files], true)),
        ("two-folders.cab", cab_of(&[&files[..1], &files[1..]], true)),
        ("stored.cab", cab_of(&[files], false)),
        ("lzx.cab", cab_lzx(files)),
        ("a.cpio", cpio.clone()),
        ("a.rpm", rpm_of(&xz(&cpio))),
        ("gz.rpm", rpm_of(&gz(&cpio))),
        ("zstd.rpm", rpm_of(&zst(&cpio))),
        ("sfx.exe", pe_with_overlay(&zip_of(files))),
        ("sfx7z.exe", pe_with_overlay(&sevenz_of(files, None, true))),
        ("sfxcab.exe", pe_with_overlay(&cab_of(&[files], true))),
        ("a.doc", ole2_of(files)),
    ]
}

#[test]
fn every_format_yields_its_members_and_the_planted_eicar() {
    let scanner = scanner();
    for (name, data) in samples() {
        let report = scanner.scan_bytes(&data, &ScanOptions::new().name(name));
        assert_eq!(
            report.verdict(),
            ResultCode::Infected,
            "{name}: {:#?}",
            report.root
        );
        let threats = report.threats();
        assert_eq!(threats.len(), 1, "{name}: {threats:?}");
        assert!(
            threats[0].display_name.ends_with("/dir/eicar.com"),
            "{name}: {}",
            threats[0].display_name
        );
        assert_eq!(threats[0].threat, "EICAR_Test_File");
        let readme = report.root.iter().find(|n| n.name == "readme.txt");
        let readme = readme.unwrap_or_else(|| panic!("{name}: readme.txt missing"));
        assert_eq!(readme.file_size, 13, "{name}");
        assert_eq!(readme.file_type, "text/plain", "{name}");
        assert_eq!(readme.scan_all_result_i, ResultCode::NoThreat, "{name}");
    }
}

#[test]
fn nested_five_formats_deep_has_the_full_path() {
    let inner = zip_of(&[("eicar.com", EICAR)]);
    let seven = sevenz_of(&[("in.zip", &inner)], None, false);
    let cab = cab_of(&[&[("in.7z", &seven)]], true);
    let tgz = gz(&tar_of(&[("in.cab", &cab)]));
    let outer = zip_of(&[("in.tgz", &tgz)]);
    let report = scan(&outer, "outer.zip");
    assert_eq!(
        threat_paths(&report),
        vec!["outer.zip/in.tgz/in.tar/in.cab/in.7z/in.zip/eicar.com".to_string()]
    );
    // The overall code rolls up through every level.
    for n in report.root.iter().filter(|n| n.name != "eicar.com") {
        assert_eq!(
            n.scan_all_result_i,
            ResultCode::Infected,
            "{}",
            n.display_name
        );
        assert_eq!(n.own_result_i, ResultCode::NoThreat, "{}", n.display_name);
    }
}

#[test]
fn short_reads_give_the_same_report_as_memory() {
    let scanner = scanner();
    for (name, data) in samples() {
        let opts = ScanOptions::new().name(name);
        let a = scanner.scan_bytes(&data, &opts);
        let b = scanner.scan_reader(ShortReads::new(&data), &opts).unwrap();
        assert_eq!(a.threats(), b.threats(), "{name}");
        assert_eq!(a.objects, b.objects, "{name}");
        assert_eq!(a.root.sha256, b.root.sha256, "{name}");
    }
}

#[test]
fn truncated_archives_of_every_format_are_failed_not_clean() {
    let scanner = scanner();
    for (name, data) in samples() {
        // An executable cut inside its own sections is a damaged program,
        // not a damaged archive: cut the SFX samples inside the overlay.
        let start = if name.ends_with(".exe") { 0x400 } else { 0 };
        let body = data.len() - start;
        for cut in [start + body / 3, start + body / 2, data.len() - 9] {
            let report = scanner.scan_bytes(&data[..cut], &ScanOptions::new().name(name));
            let v = report.verdict();
            assert!(
                v == ResultCode::Failed || v == ResultCode::Infected,
                "{name} cut at {cut}/{}: {v:?} {:#?}",
                data.len(),
                report.root
            );
            if v == ResultCode::Infected {
                // The EICAR member came out whole before the cut. Either the
                // cut lost nothing (only trailing padding) or the damage is
                // on record somewhere in the tree.
                let whole = report
                    .root
                    .iter()
                    .any(|n| n.name == "readme.txt" && n.file_size == 13);
                assert!(
                    whole || !nodes_with(&report, ResultCode::Failed).is_empty(),
                    "{name} cut at {cut}: damage not recorded"
                );
            }
        }
    }
}

/// Samples whose member bytes no checksum covers: a flipped byte inside the
/// planted file (or inside a deflate stream with no CRC after it) changes
/// what every reader extracts, so "No threat" can be the honest answer. In
/// every other sample a CRC (zip, gzip, bzip2, xz, 7z) covers the members.
const UNCHECKED: &[&str] = &[
    "a.tar",
    "a.cpio",
    "a.tar.zst",
    "zstd.rpm",
    "mszip.cab",
    "two-folders.cab",
    "stored.cab",
    "lzx.cab",
    "sfxcab.exe",
    "a.doc",
];

#[test]
fn corrupted_bytes_never_panic_and_never_hide_damage() {
    let scanner = scanner();
    for (name, data) in samples() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for round in 0..40 {
            let mut bad = data.clone();
            for _ in 0..4 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = (state % bad.len() as u64) as usize;
                bad[at] ^= (state >> 32) as u8 | 1;
            }
            let report = scanner.scan_bytes(&bad, &ScanOptions::new().name(name));
            // The walker contains a panic as a Failed node: that is a bug
            // all the same.
            assert_eq!(
                report.contained_crash(),
                None,
                "{name}, round {round}: a contained panic"
            );
            if report.verdict() != ResultCode::NoThreat {
                // Found, or blocked for what could not be examined.
                assert!(
                    report.blocked(),
                    "{name}, round {round}: {:?}",
                    report.verdict()
                );
                continue;
            }
            // A copy whose own signature the flips destroyed is no longer
            // that format (no reader opens it as one; its pieces are found
            // by carving, which validates what it takes).
            if mdcore::detect(&bad).kind != mdcore::detect(&data).kind {
                continue;
            }
            // A self-extractor's archive is found by carving, which takes
            // only what validates (a damaged archive inside a leaf is not
            // reported: docs/formats.md, "Not done yet"). When the carver
            // found nothing, the copy is an executable with junk after it.
            if name.ends_with(".exe") && report.root.children.is_empty() {
                continue;
            }
            // "No threat" on a copy of a sample holding EICAR: only honest
            // where no checksum covers the member and it was still reached
            // (its bytes changed, not dropped).
            assert!(
                UNCHECKED.contains(&name),
                "{name}, round {round}: damage under a checksum hidden: {:#?}",
                report.root
            );
            // (Its name may have been hit too.)
            let member = report
                .root
                .iter()
                .find(|n| n.depth > 0 && n.name != "readme.txt" && n.children.is_empty());
            assert!(
                member.is_some_and(|m| m.file_size > 0),
                "{name}, round {round}: the planted member was dropped, not reported damaged: {:#?}",
                report.root
            );
        }
    }
}

#[test]
fn multi_member_gzip_and_multi_stream_xz_are_read_whole() {
    let mut two = gz(b"first part, ");
    two.extend(gz(EICAR));
    let report = scan(&two, "joined.gz");
    let member = &report.root.children[0];
    assert_eq!(member.file_size as usize, 12 + EICAR.len());
    assert_eq!(member.name, "joined");

    let mut two = xz(b"abc");
    two.extend(xz(b"def"));
    let report = scan(&two, "joined.xz");
    assert_eq!(report.root.children[0].file_size, 6);
    assert_eq!(report.verdict(), ResultCode::NoThreat);
}

#[test]
fn cpio_binary_and_odc_members_are_found() {
    // odc: ASCII octal headers, no padding.
    let mut odc = Vec::new();
    for (name, data) in [("eicar.com", EICAR), ("TRAILER!!!", &b""[..])] {
        odc.extend_from_slice(b"070707");
        let h = format!(
            "{:06o}{:06o}{:06o}{:06o}{:06o}{:06o}{:06o}{:011o}{:06o}{:011o}",
            0,
            1,
            0o100644,
            0,
            0,
            1,
            0,
            0,
            name.len() + 1,
            data.len()
        );
        odc.extend_from_slice(h.as_bytes());
        odc.extend_from_slice(name.as_bytes());
        odc.push(0);
        odc.extend_from_slice(data);
    }
    assert_eq!(
        threat_paths(&scan(&odc, "a.cpio")),
        vec!["a.cpio/eicar.com".to_string()]
    );
}

#[test]
fn a_packed_executable_says_which_packer() {
    let mut pe = pe_with_overlay(b"");
    let table = 0x80 + 24 + 0xe0;
    pe[table..table + 4].copy_from_slice(b"UPX1");
    let r = scan(&pe, "packed.exe");
    assert!(
        r.root.notes.iter().any(|n| n.contains("packed with UPX")),
        "{:?}",
        r.root.notes
    );
    let r = scan(&pe_with_overlay(b""), "plain.exe");
    assert!(
        !r.root.notes.iter().any(|n| n.contains("packed")),
        "{:?}",
        r.root.notes
    );
}

#[test]
fn an_lzx_cabinet_of_several_frames_decodes_as_7zip_decodes_it() {
    let mut big = Vec::new();
    while big.len() < 200_000 {
        big.extend_from_slice(format!("frame filler line {}\n", big.len()).as_bytes());
        big.extend_from_slice(&random_bytes(333, big.len() as u64));
    }
    let cab = cab_lzx(&[("big.bin", &big), ("e.com", EICAR)]);
    let r = scan(&cab, "a.cab");
    assert_eq!(threat_paths(&r), vec!["a.cab/e.com"], "{:?}", summary(&r));
    let node = r.root.iter().find(|n| n.name == "big.bin").unwrap();
    assert_eq!(node.md5, md5_hex(&big));
    // The hand-built cabinet is what 7-Zip reads too.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.cab"), &cab).unwrap();
    if tool(dir.path(), "7zz", &["x", "-y", "-oout", "a.cab"]).is_some() {
        let got = std::fs::read(dir.path().join("out/big.bin")).unwrap();
        assert_eq!(md5_hex(&got), md5_hex(&big));
    }
}

#[test]
fn an_empty_zip_is_an_empty_archive_as_bsdtar_reads_it() {
    // The end record alone, as Info-ZIP, Python and the rebuild write an
    // archive with no member: bsdtar and 7-Zip list nothing and succeed;
    // it was "not a readable zip archive" (blocked).
    let mut empty = b"PK\x05\x06".to_vec();
    empty.resize(22, 0);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.zip"), &empty).unwrap();
    if tool(dir.path(), "bsdtar", &["-tf", "empty.zip"]).is_none() {
        return;
    }
    let report = scan(&empty, "empty.zip");
    assert_eq!(report.verdict(), ResultCode::NoThreat, "{:#?}", report.root);
    assert!(report.root.children.is_empty());
    // A damaged one still is not: an end record that lists entries it
    // does not hold.
    let mut lying = empty.clone();
    lying[8] = 1;
    lying[10] = 1;
    assert_ne!(scan(&lying, "lying.zip").verdict(), ResultCode::NoThreat);
}
