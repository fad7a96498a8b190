//! Disc images built by the real tools (genisoimage, xorriso): ISO 9660
//! with and without Joliet and Rock Ridge, the UDF bridge, multi-session
//! images, El Torito boot images; each with a clean twin, and truncated or
//! corrupt copies that block.

use std::path::Path;

use mdcore::{Kind, ResultCode, ScanOptions, ScannerBuilder};

use crate::util::*;

/// Writes `files` under `dir/src` and runs `program args` in `dir`; the
/// image it writes to `dir/out.iso` (None when the tool is missing).
fn build(files: &[(&str, &[u8])], program: &str, args: &[&str]) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path(), "src", files);
    tool(dir.path(), program, args)?;
    Some(std::fs::read(dir.path().join("out.iso")).unwrap())
}

fn populate(dir: &Path, sub: &str, files: &[(&str, &[u8])]) {
    for (name, data) in files {
        let p = dir.join(sub).join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
}

fn genisoimage(files: &[(&str, &[u8])], extra: &[&str]) -> Option<Vec<u8>> {
    let mut args = vec!["-quiet", "-o", "out.iso"];
    args.extend_from_slice(extra);
    args.push("src");
    build(files, "genisoimage", &args)
}

const CLEAN: &[(&str, &[u8])] = &[
    ("readme.txt", b"hello, world\n"),
    ("docs/notes.txt", b"nothing to see\n"),
];

fn with_eicar() -> Vec<(&'static str, &'static [u8])> {
    let mut f = CLEAN.to_vec();
    f.push(("docs/deep/invoice.exe", EICAR));
    f
}

fn assert_clean(data: &[u8], name: &str) {
    let r = scan(data, name);
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::NoThreat,
        "{name}: {:?}",
        r.root
            .iter()
            .map(|n| (n.display_name.clone(), n.own_result_i, n.notes.clone()))
            .collect::<Vec<_>>()
    );
    assert!(r.root.iter().count() >= 3, "{name}: files were not listed");
}

#[test]
fn iso9660_with_rock_ridge_and_joliet_names() {
    let Some(iso) = genisoimage(&with_eicar(), &["-J", "-R"]) else {
        return;
    };
    assert_eq!(mdcore::detect(&iso).kind, Kind::Iso9660);
    let r = scan(&iso, "a.iso");
    assert_eq!(r.root.scan_all_result_i, ResultCode::Infected);
    assert_eq!(threat_paths(&r), vec!["a.iso/docs/deep/invoice.exe"]);
    assert!(
        r.root.notes.iter().any(|n| n.contains("Joliet")),
        "{:?}",
        r.root.notes
    );
    // Every file once, though three trees list it.
    assert_eq!(
        r.root
            .iter()
            .filter(|n| n.display_name.ends_with("readme.txt"))
            .count(),
        1
    );
    assert_clean(&genisoimage(CLEAN, &["-J", "-R"]).unwrap(), "a.iso");
}

#[test]
fn plain_iso9660_names() {
    let Some(iso) = genisoimage(&with_eicar(), &[]) else {
        return;
    };
    let r = scan(&iso, "plain.iso");
    assert_eq!(threat_paths(&r), vec!["plain.iso/DOCS/DEEP/INVOICE.EXE"]);
    assert_clean(&genisoimage(CLEAN, &[]).unwrap(), "plain.iso");
}

#[test]
fn a_file_hidden_from_joliet_is_still_examined_with_a_note() {
    // Windows shows the Joliet tree: the file is hidden there and only the
    // ISO 9660 tree (with Rock Ridge names) lists it.
    let files = with_eicar();
    let Some(iso) = genisoimage(&files, &["-J", "-R", "-hide-joliet", "invoice.exe"]) else {
        return;
    };
    let r = scan(&iso, "hidden.iso");
    assert_eq!(threat_paths(&r), vec!["hidden.iso/docs/deep/invoice.exe"]);
    let node = r
        .root
        .iter()
        .find(|n| n.display_name.ends_with("invoice.exe"))
        .unwrap();
    assert!(
        node.notes
            .iter()
            .any(|n| n.contains("listed only by") && !n.contains("Joliet")),
        "{:?}",
        node.notes
    );
}

#[test]
fn udf_bridge_and_udf_only_images() {
    let Some(iso) = genisoimage(&with_eicar(), &["-J", "-R", "-udf"]) else {
        return;
    };
    let r = scan(&iso, "bridge.iso");
    assert_eq!(threat_paths(&r), vec!["bridge.iso/docs/deep/invoice.exe"]);
    assert!(r.root.notes.iter().any(|n| n.contains("UDF")));
    // The same image with its ISO 9660 descriptors wiped: only UDF is left,
    // which is what Windows mounts anyway.
    let udf_only = wipe_iso9660(iso);
    assert_eq!(mdcore::detect(&udf_only).kind, Kind::Udf);
    let r = scan(&udf_only, "udf.img");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Infected,
        "{:?}",
        r.root.notes
    );
    assert_eq!(threat_paths(&r), vec!["udf.img/docs/deep/invoice.exe"]);
    let clean = genisoimage(CLEAN, &["-J", "-R", "-udf"]).unwrap();
    assert_clean(&clean, "bridge.iso");
    assert_clean(&wipe_iso9660(clean), "udf.img");
}

/// Overwrites every ISO 9660 volume descriptor (type 1, 2, 255 at sector
/// 16 on), leaving the UDF volume recognition sequence and volume.
fn wipe_iso9660(mut iso: Vec<u8>) -> Vec<u8> {
    for s in 16..32 {
        let off = s * 2048;
        if &iso[off + 1..off + 6] == b"CD001" {
            iso[off..off + 2048].fill(0);
        }
    }
    iso
}

#[test]
fn files_only_an_earlier_session_lists_are_examined() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path(), "one", &with_eicar());
    populate(dir.path(), "two", &[("later.txt", b"second session\n")]);
    let first = [
        "-dev", "out.iso", "-joliet", "on", "-map", "one", "/", "-commit",
    ];
    if tool(dir.path(), "xorriso", &first).is_none() {
        return;
    }
    let second = [
        "-dev",
        "out.iso",
        "-rm_r",
        "/docs/deep",
        "--",
        "-map",
        "two",
        "/",
        "-commit",
    ];
    tool(dir.path(), "xorriso", &second).unwrap();
    let iso = std::fs::read(dir.path().join("out.iso")).unwrap();
    let r = scan(&iso, "multi.iso");
    assert_eq!(r.root.scan_all_result_i, ResultCode::Infected);
    let threat = threat_paths(&r);
    assert_eq!(threat, vec!["multi.iso/docs/deep/invoice.exe"]);
    let node = r
        .root
        .iter()
        .find(|n| n.display_name.ends_with("invoice.exe"))
        .unwrap();
    assert!(
        node.notes.iter().any(|n| n.contains("session at sector")),
        "{:?}",
        node.notes
    );
    // The second session's own file is there too.
    assert!(r.root.iter().any(|n| n.display_name.ends_with("later.txt")));
}

#[test]
fn el_torito_boot_images_are_examined() {
    // A boot image the directory trees do not list.
    let payload = planted_binary();
    let mut boot = payload.clone();
    boot.resize(2048, 0);
    let files: Vec<(&str, &[u8])> = vec![("readme.txt", b"hi\n"), ("boot.img", &boot)];
    let Some(iso) = genisoimage(
        &files,
        &[
            "-J",
            "-R",
            "-b",
            "boot.img",
            "-no-emul-boot",
            "-boot-load-size",
            "4",
            "-hide",
            "boot.img",
            "-hide-joliet",
            "boot.img",
            "-hide-rr-moved",
        ],
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let hdb = dir.path().join("feed.hdb");
    std::fs::write(&hdb, format!("{}:2048:Test.Planted\n", md5_hex(&boot))).unwrap();
    let s = ScannerBuilder::new().hash_list(&hdb).build().unwrap();
    let r = s.scan_bytes(&iso, &ScanOptions::new().name("boot.iso"));
    assert_eq!(r.root.scan_all_result_i, ResultCode::Blocklisted);
    assert_eq!(threat_paths(&r), vec!["boot.iso/[boot]/boot-1.img"]);
}

fn planted_binary() -> Vec<u8> {
    b"MZ\x90\x00\x03 planted binary \x00\x01\x02\xff for the hash list".to_vec()
}

#[test]
fn a_hash_listed_binary_is_found_in_every_image_form() {
    let payload = planted_binary();
    let s = hash_listed(&payload);
    let files: &[(&str, &[u8])] = &[("a/x.exe", &payload)];
    let Some(plain) = genisoimage(files, &[]) else {
        return;
    };
    let cases = vec![
        ("plain.iso", plain),
        ("jr.iso", genisoimage(files, &["-J", "-R"]).unwrap()),
        (
            "udf.img",
            wipe_iso9660(genisoimage(files, &["-udf"]).unwrap()),
        ),
    ];
    for (name, iso) in cases {
        let r = s.scan_bytes(&iso, &ScanOptions::new().name(name));
        assert_eq!(r.root.scan_all_result_i, ResultCode::Blocklisted, "{name}");
        let zipped = zip_of(&[(name, &iso)]);
        let r = s.scan_bytes(&zipped, &ScanOptions::new().name("outer.zip"));
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Blocklisted,
            "zip/{name}"
        );
    }
}

#[test]
fn an_image_nested_in_an_archive_and_an_archive_in_an_image() {
    let Some(iso) = genisoimage(&with_eicar(), &["-J", "-R"]) else {
        return;
    };
    let r = scan(&gz(&iso), "a.iso.gz");
    assert_eq!(
        threat_paths(&r),
        vec!["a.iso.gz/a.iso/docs/deep/invoice.exe"]
    );
    let zipped = zip_of(&[("invoice.exe", EICAR)]);
    let inner = genisoimage(&[("payload.zip", &zipped)], &["-J", "-R"]).unwrap();
    let r = scan(&inner, "b.iso");
    assert_eq!(threat_paths(&r), vec!["b.iso/payload.zip/invoice.exe"]);
}

#[test]
fn truncated_and_corrupt_images_block() {
    let Some(iso) = genisoimage(&with_eicar(), &["-J", "-R", "-udf"]) else {
        return;
    };
    // Cut inside the planted file: it is incomplete, and so is the image.
    let at = iso.windows(EICAR.len()).position(|w| w == EICAR).unwrap();
    let r = scan(&iso[..at + 10], "cut.iso");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Failed,
        "{:?}",
        r.root.notes
    );
    assert!(
        nodes_with(&r, ResultCode::Failed)
            .iter()
            .any(|n| n.ends_with("invoice.exe"))
    );
    // Cut right after the descriptors: nothing can be listed.
    let r = scan(&iso[..17 * 2048], "short.iso");
    assert_eq!(r.root.scan_all_result_i, ResultCode::Failed);
    // Every directory record of the primary tree overwritten.
    let clean = genisoimage(CLEAN, &["-R"]).unwrap();
    let root = u32::from_le_bytes(clean[16 * 2048 + 158..16 * 2048 + 162].try_into().unwrap());
    let mut bad = clean.clone();
    let at = root as usize * 2048;
    bad[at..at + 2048].fill(0xff);
    let r = scan(&bad, "bad.iso");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Failed,
        "{:?}",
        r.root.notes
    );
}
