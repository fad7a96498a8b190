//! The older archivers, built by the real tools: LHA/LZH by jLHA (`jlha`,
//! Debian's jlha-utils) with methods lh5, lh6, lh7 and header levels 0, 1,
//! 2; ARJ by ARJ 3.10 (`arj`) with methods 0-4, garbling and volumes; SZDD
//! by `mscompress`, KWAJ by hand (no tool writes it); NSIS installers by
//! makensis with every compressor, solid and not; CHM by halibut (real LZX,
//! checked against what 7-Zip extracts) and by hand where chosen bytes must
//! go inside (`util::chm`). Each with a clean twin, and truncated or
//! corrupt copies that block.

use mdcore::{Kind, ResultCode, ScanOptions};

use crate::util::*;

/// A file that compresses well, so the archivers really compress it.
fn planted() -> Vec<u8> {
    let mut v = b"MZ planted binary for the hash list\n".to_vec();
    for i in 0..400u32 {
        v.extend_from_slice(format!("line {i}: the quick brown fox jumps\n").as_bytes());
    }
    v
}

fn files(bad: bool) -> Vec<(&'static str, Vec<u8>)> {
    let mut f = vec![
        ("readme.txt", b"hello, world\n".to_vec()),
        ("docs/payload.bin", planted()),
    ];
    if bad {
        f.push(("docs/deep/invoice.com", EICAR.to_vec()));
    }
    f
}

/// Runs `jlha <command> out.lzh <files>` in a directory holding `files`.
fn jlha(command: &str, files: &[(&str, Vec<u8>)]) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    for (name, data) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    let mut args = vec![command, "out.lzh"];
    args.extend(files.iter().map(|(n, _)| *n));
    tool(dir.path(), "jlha", &args)?;
    Some(std::fs::read(dir.path().join("out.lzh")).unwrap())
}

/// Methods (`o5`…`o7`) and header levels (`0`…`2`) jLHA writes.
const LZH_COMMANDS: &[&str] = &["ao5", "ao6", "ao7", "a0", "a1", "a2"];

#[test]
fn lzh_of_every_method_and_header_level_decodes_and_finds_eicar() {
    let payload = planted();
    for command in LZH_COMMANDS {
        let Some(bad) = jlha(command, &files(true)) else {
            return;
        };
        // The planted file really is compressed.
        assert!(bad.len() < payload.len(), "{command}: not compressed");
        assert_eq!(mdcore::detect(&bad).kind, Kind::Lzh, "{command}");
        let r = scan(&bad, "a.lzh");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Infected,
            "{command}: {:?}",
            summary(&r)
        );
        assert_eq!(
            threat_paths(&r),
            vec!["a.lzh/docs/deep/invoice.com"],
            "{command}"
        );
        let member = r
            .root
            .iter()
            .find(|n| n.display_name == "a.lzh/docs/payload.bin")
            .unwrap_or_else(|| panic!("{command}: {:?}", summary(&r)));
        assert_eq!(member.md5, md5_hex(&payload), "{command}");

        let good = jlha(command, &files(false)).unwrap();
        let r = scan(&good, "a.lzh");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::NoThreat,
            "{command}: {:?}",
            summary(&r)
        );
        assert_eq!(r.root.children.len(), 2, "{command}");
    }
}

#[test]
fn a_hash_listed_binary_in_lzh_nested_and_behind_a_stub_is_found() {
    let payload = planted();
    let Some(lzh) = jlha("ao7", &[("x/payload.bin", payload.clone())]) else {
        return;
    };
    let s = hash_listed(&payload);
    for (name, data) in [
        ("a.lzh", lzh.clone()),
        ("o.zip", zip_of(&[("in.lzh", &lzh)])),
        ("t.tar.gz", gz(&tar_of(&[("in.lzh", &lzh)]))),
        // A self-extractor: the archive after an executable stub.
        ("setup.exe", pe_with_overlay(&lzh)),
    ] {
        let r = s.scan_bytes(&data, &ScanOptions::new().name(name));
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Blocklisted,
            "{name}: {:?}",
            summary(&r)
        );
    }
    // And an LZH holding a zip holding EICAR.
    let inner = zip_of(&[("e.com", EICAR)]);
    let outer = jlha("a", &[("in.zip", inner)]).unwrap();
    assert_eq!(
        threat_paths(&scan(&outer, "o.lzh")),
        vec!["o.lzh/in.zip/e.com"]
    );
    // Clean twin behind a stub.
    let clean = jlha("ao7", &files(false)).unwrap();
    let r = scan(&pe_with_overlay(&clean), "setup.exe");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::NoThreat,
        "{:?}",
        summary(&r)
    );
}

#[test]
fn an_archive_glued_after_an_lzh_is_found() {
    let Some(mut lzh) = jlha("ao5", &files(false)) else {
        return;
    };
    lzh.extend_from_slice(&zip_of(&[("hidden.com", EICAR)]));
    let r = scan(&lzh, "a.lzh");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Infected,
        "{:?}",
        summary(&r)
    );
    assert!(
        threat_paths(&r)[0].ends_with("hidden.com"),
        "{:?}",
        summary(&r)
    );
}

#[test]
fn truncated_and_corrupt_lzh_blocks() {
    for command in ["ao5", "ao7"] {
        let Some(whole) = jlha(command, &files(false)) else {
            return;
        };
        // Cut inside the compressed member.
        let cut = &whole[..whole.len() - 200];
        let r = scan(cut, "cut.lzh");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Failed,
            "{command}: {:?}",
            summary(&r)
        );
        // A flipped byte inside the compressed data.
        let mut bad = whole.clone();
        let at = bad.len() - 300;
        bad[at] ^= 0x55;
        let r = scan(&bad, "bad.lzh");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Failed,
            "{command}: {:?}",
            summary(&r)
        );
        // A damaged header after the first member.
        let mut bad = whole.clone();
        let second = bad.windows(3).skip(3).position(|w| w == b"-lh").unwrap() + 3;
        bad[second + 3] = b'?';
        let r = scan(&bad, "hdr.lzh");
        assert_ne!(
            r.root.scan_all_result_i,
            ResultCode::NoThreat,
            "{command}: {:?}",
            summary(&r)
        );
    }
}

/// Runs `arj a <args> out.arj <files>` in a directory holding `files`;
/// returns every file the run wrote whose name starts with `out.`, sorted.
fn arj(args: &[&str], files: &[(&str, Vec<u8>)]) -> Option<Vec<(String, Vec<u8>)>> {
    let dir = tempfile::tempdir().unwrap();
    for (name, data) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    let mut all = vec!["a", "-y"];
    all.extend_from_slice(args);
    all.push("out.arj");
    all.extend(files.iter().map(|(n, _)| *n));
    tool(dir.path(), "arj", &all)?;
    let mut out: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().starts_with("out."))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    Some(out)
}

fn arj1(args: &[&str], files: &[(&str, Vec<u8>)]) -> Option<Vec<u8>> {
    arj(args, files).map(|mut v| v.remove(0).1)
}

#[test]
fn arj_of_every_method_decodes_and_finds_eicar() {
    let payload = planted();
    for method in ["-m0", "-m1", "-m2", "-m3", "-m4"] {
        let Some(bad) = arj1(&[method], &files(true)) else {
            return;
        };
        if method != "-m0" {
            assert!(bad.len() < payload.len(), "{method}: not compressed");
        }
        assert_eq!(mdcore::detect(&bad).kind, Kind::Arj, "{method}");
        let r = scan(&bad, "a.arj");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Infected,
            "{method}: {:?}",
            summary(&r)
        );
        assert_eq!(
            threat_paths(&r),
            vec!["a.arj/docs/deep/invoice.com"],
            "{method}"
        );
        let member = r
            .root
            .iter()
            .find(|n| n.display_name == "a.arj/docs/payload.bin")
            .unwrap_or_else(|| panic!("{method}: {:?}", summary(&r)));
        assert_eq!(member.md5, md5_hex(&payload), "{method}");

        let good = arj1(&[method], &files(false)).unwrap();
        let r = scan(&good, "a.arj");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::NoThreat,
            "{method}: {:?}",
            summary(&r)
        );
        assert_eq!(r.root.children.len(), 2, "{method}");
    }
}

#[test]
fn garbled_arj_blocks_without_the_password_and_opens_with_it() {
    for method in ["-m0", "-m1", "-m4"] {
        let Some(data) = arj1(&[method, "-gs3cret"], &files(true)) else {
            return;
        };
        for opts in [ScanOptions::new(), ScanOptions::new().password("nope")] {
            let r = scanner().scan_bytes(&data, &opts.name("g.arj"));
            assert_eq!(
                r.root.scan_all_result_i,
                ResultCode::EncryptedArchive,
                "{method}: {:?}",
                summary(&r)
            );
        }
        let opts = ScanOptions::new().password("wrong").password("s3cret");
        let r = scanner().scan_bytes(&data, &opts.name("g.arj"));
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Infected,
            "{method}: {:?}",
            summary(&r)
        );
        let member = r
            .root
            .iter()
            .find(|n| n.display_name == "g.arj/docs/payload.bin")
            .unwrap();
        assert_eq!(member.md5, md5_hex(&planted()), "{method}");
    }
}

#[test]
fn arj_nested_glued_and_split_in_volumes() {
    let Some(inner) = arj1(&["-m1"], &files(true)) else {
        return;
    };
    let r = scan(&zip_of(&[("x.arj", &inner)]), "o.zip");
    assert_eq!(threat_paths(&r), vec!["o.zip/x.arj/docs/deep/invoice.com"]);
    // A zip glued after the archive.
    let mut glued = arj1(&["-m1"], &files(false)).unwrap();
    glued.extend_from_slice(&zip_of(&[("hidden.com", EICAR)]));
    let r = scan(&glued, "a.arj");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Infected,
        "{:?}",
        summary(&r)
    );
    // Volumes of 10 KB: each given alone, the file spanning them is 3.
    let big = random_bytes(30_000, 7);
    let vols = arj(&["-m1", "-v10k"], &[("big.bin", big)]).unwrap();
    assert!(
        vols.len() >= 2,
        "{:?}",
        vols.iter().map(|v| &v.0).collect::<Vec<_>>()
    );
    for (name, data) in &vols {
        let r = scan(data, name);
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Failed,
            "{name}: {:?}",
            summary(&r)
        );
        let notes = r
            .root
            .iter()
            .flat_map(|n| n.notes.clone())
            .collect::<Vec<_>>();
        assert!(
            notes.iter().any(|n| n.contains("volume")),
            "{name}: {notes:?}"
        );
    }
}

#[test]
fn truncated_and_corrupt_arj_blocks() {
    for method in ["-m1", "-m4"] {
        let Some(whole) = arj1(&[method], &files(false)) else {
            return;
        };
        let cut = &whole[..whole.len() - 200];
        let r = scan(cut, "cut.arj");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Failed,
            "{method}: {:?}",
            summary(&r)
        );
        let mut bad = whole.clone();
        let at = bad.len() - 300;
        bad[at] ^= 0x55;
        let r = scan(&bad, "bad.arj");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Failed,
            "{method}: {:?}",
            summary(&r)
        );
        // A damaged local header: its CRC fails.
        let mut bad = whole.clone();
        let second = bad
            .windows(2)
            .skip(2)
            .position(|w| w == [0x60, 0xea])
            .unwrap()
            + 2;
        bad[second + 10] ^= 1;
        let r = scan(&bad, "hdr.arj");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Failed,
            "{method}: {:?}",
            summary(&r)
        );
    }
}

/// `mscompress` (Debian's mscompress): an SZDD file of `data`.
fn szdd(data: &[u8]) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("setup.exe"), data).unwrap();
    tool(dir.path(), "mscompress", &["setup.exe"])?;
    Some(std::fs::read(dir.path().join("setup.exe_")).unwrap())
}

/// A KWAJ file (hand-built from the format's description: no tool writes
/// one) with `method` and `body`, declaring `size` and the name `name.ext`.
fn kwaj(method: u16, body: &[u8], size: u32) -> Vec<u8> {
    let mut k = b"KWAJ\x88\xf0\x27\xd1".to_vec();
    k.extend_from_slice(&method.to_le_bytes());
    let header = 14 + 4 + 7 + 4; // flags 0x01 (size), 0x08 (name), 0x10 (ext)
    k.extend_from_slice(&(header as u16).to_le_bytes());
    k.extend_from_slice(&0x19u16.to_le_bytes());
    k.extend_from_slice(&size.to_le_bytes());
    k.extend_from_slice(b"invoic\0");
    k.extend_from_slice(b"com\0");
    k.extend_from_slice(body);
    k
}

#[test]
fn szdd_and_kwaj_are_decoded() {
    let mut payload = EICAR.to_vec();
    let Some(bad) = szdd(&payload) else {
        return;
    };
    assert_eq!(mdcore::detect(&bad).kind, Kind::Szdd);
    let r = scan(&bad, "setup.ex_");
    // mscompress does not store the replaced letter: the member keeps the
    // container's name.
    assert_eq!(
        threat_paths(&r),
        vec!["setup.ex_/setup.ex_.out"],
        "{:?}",
        summary(&r)
    );
    let mut named = bad.clone();
    named[9] = b'e';
    let r = scan(&named, "setup.ex_");
    assert_eq!(
        threat_paths(&r),
        vec!["setup.ex_/setup.exe"],
        "{:?}",
        summary(&r)
    );
    // A compressible member decodes exactly.
    let p = planted();
    let packed = szdd(&p).unwrap();
    assert!(packed.len() < p.len());
    let r = scan(&packed, "x.ex_");
    assert_eq!(r.root.children[0].md5, md5_hex(&p), "{:?}", summary(&r));
    assert_eq!(r.root.scan_all_result_i, ResultCode::NoThreat);
    // Cut short: not whole.
    let r = scan(&packed[..packed.len() - 40], "x.ex_");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Failed,
        "{:?}",
        summary(&r)
    );

    // KWAJ: stored, XOR, LZSS (SZDD's bitstream), MSZIP.
    let lzss = szdd(&p).unwrap()[14..].to_vec();
    let block = [&b"CK"[..], &deflate_raw(&p)].concat();
    let mszip = [(block.len() as u16).to_le_bytes().to_vec(), block].concat();
    let size = p.len() as u32;
    for (method, body) in [
        (0u16, p.clone()),
        (1, p.iter().map(|b| b ^ 0xff).collect()),
        (2, lzss),
        (4, mszip.clone()),
    ] {
        let k = kwaj(method, &body, size);
        assert_eq!(mdcore::detect(&k).kind, Kind::Kwaj);
        let r = scan(&k, "a.kw_");
        assert_eq!(r.root.children.len(), 1, "method {method}");
        let c = &r.root.children[0];
        assert_eq!(c.display_name, "a.kw_/invoic.com", "method {method}");
        assert_eq!(c.md5, md5_hex(&p), "method {method}: {:?}", summary(&r));
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::NoThreat,
            "method {method}"
        );
    }
    payload.truncate(EICAR.len());
    let r = scan(
        &kwaj(1, &payload.iter().map(|b| b ^ 0xff).collect::<Vec<_>>(), 68),
        "e.kw_",
    );
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Infected,
        "{:?}",
        summary(&r)
    );
    // Method 3 (LZ + Huffman) is not decoded: 23.
    let r = scan(&kwaj(3, &[0; 32], 10), "m3.kw_");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::UnsupportedFileType,
        "{:?}",
        summary(&r)
    );
    // MSZIP cut short: 3.
    let r = scan(&kwaj(4, &mszip[..mszip.len() / 2], size), "cut.kw_");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Failed,
        "{:?}",
        summary(&r)
    );
}

/// An NSIS installer made by makensis (Debian's nsis) that installs
/// `files`, with `compressor` (e.g. `zlib`, `/SOLID lzma`).
fn makensis(compressor: &str, files: &[(&str, Vec<u8>)]) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let mut script = format!(
        "OutFile \"out.exe\"\nSetCompressor {compressor}\nInstallDir \"$TEMP\\t\"\nSection\nSetOutPath $INSTDIR\n"
    );
    for (i, (name, data)) in files.iter().enumerate() {
        let local = format!("f{i}.bin");
        std::fs::write(dir.path().join(&local), data).unwrap();
        script.push_str(&format!("File \"/oname={name}\" \"{local}\"\n"));
    }
    script.push_str("SectionEnd\n");
    std::fs::write(dir.path().join("t.nsi"), script).unwrap();
    tool(dir.path(), "makensis", &["-V1", "t.nsi"])?;
    Some(std::fs::read(dir.path().join("out.exe")).unwrap())
}

#[test]
fn nsis_installers_of_every_compressor_are_opened() {
    let payload = planted();
    let s = hash_listed(&payload);
    for compressor in [
        "zlib",
        "bzip2",
        "lzma",
        "/SOLID zlib",
        "/SOLID bzip2",
        "/SOLID lzma",
    ] {
        let Some(bad) = makensis(compressor, &files(true)) else {
            return;
        };
        let r = scan(&bad, "setup.exe");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Infected,
            "{compressor}: {:?}",
            summary(&r)
        );
        let threats = threat_paths(&r);
        assert_eq!(threats.len(), 1, "{compressor}: {:?}", summary(&r));
        assert!(
            threats[0].ends_with("invoice.com"),
            "{compressor}: {threats:?}"
        );
        let r = s.scan_bytes(&bad, &ScanOptions::new().name("setup.exe"));
        assert!(
            r.root.iter().any(|n| n.md5 == md5_hex(&payload)),
            "{compressor}: {:?}",
            summary(&r)
        );
        let good = makensis(compressor, &files(false)).unwrap();
        let r = scan(&good, "setup.exe");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::NoThreat,
            "{compressor}: {:?}",
            summary(&r)
        );
        let r = s.scan_bytes(
            &zip_of(&[("setup.exe", &good)]),
            &ScanOptions::new().name("o.zip"),
        );
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Blocklisted,
            "{compressor}: {:?}",
            summary(&r)
        );
    }
    // Cut inside the compressed data: blocks.
    let whole = makensis("/SOLID lzma", &files(false)).unwrap();
    let r = scan(&whole[..whole.len() - 500], "cut.exe");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Failed,
        "{:?}",
        summary(&r)
    );
}

/// A CHM manual written by halibut (Debian's halibut: its own LZX
/// compressor) from `paragraphs` paragraphs of text.
fn halibut_chm(paragraphs: usize) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let mut doc = String::from("\\title Test manual\n\n\\C{intro} Introduction\n\n");
    for i in 0..paragraphs {
        doc.push_str(&format!(
            "Paragraph {i}: a help page that compresses, {} and so on.\n\n",
            i * 7919 % 104_729
        ));
        if i % 200 == 199 {
            doc.push_str(&format!("\\C{{c{i}}} Chapter {i}\n\n"));
        }
    }
    std::fs::write(dir.path().join("doc.but"), doc).unwrap();
    tool(dir.path(), "halibut", &["--chm=out.chm", "doc.but"])?;
    Some(std::fs::read(dir.path().join("out.chm")).unwrap())
}

/// What 7-Zip extracts from `chm`: (name, md5) of every file.
fn seven_zip_chm(chm: &[u8]) -> Option<Vec<(String, String)>> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.chm"), chm).unwrap();
    tool(dir.path(), "7zz", &["x", "-y", "-oout", "in.chm"])?;
    let mut files = Vec::new();
    let root = dir.path().join("out");
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let data = std::fs::read(&p).unwrap();
                // Empty entries (`#ITBITS`) are not objects for us.
                if !data.is_empty() {
                    let name = p
                        .strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    files.push((name, md5_hex(&data)));
                }
            }
        }
    }
    files.sort();
    Some(files)
}

/// (name below the root, md5) of every direct child of the root.
fn children_md5(r: &mdcore::Report, root: &str) -> Vec<(String, String)> {
    let mut v: Vec<_> = r
        .root
        .children
        .iter()
        .map(|c| {
            let name = c.display_name.strip_prefix(&format!("{root}/")).unwrap();
            (name.to_string(), c.md5.clone())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn chm_from_halibut_reads_as_7zip_reads_it() {
    // 5 pages, then a manual of ~20 frames (decoder resets every 2).
    for paragraphs in [5, 4_000] {
        let Some(chm) = halibut_chm(paragraphs) else {
            return;
        };
        assert_eq!(mdcore::detect(&chm).kind, Kind::Chm);
        let r = scan(&chm, "manual.chm");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::NoThreat,
            "{paragraphs}: {:?}",
            summary(&r)
        );
        let ours = children_md5(&r, "manual.chm");
        let theirs = seven_zip_chm(&chm).unwrap();
        assert!(ours.len() >= 10, "{ours:?}");
        assert_eq!(ours, theirs, "{paragraphs} paragraphs");
    }
}

/// A file of several LZX frames that is not all one byte.
fn frames_of_planted() -> Vec<u8> {
    let mut v = planted();
    while v.len() < 150_000 {
        v.extend_from_slice(&planted());
        v.extend_from_slice(&random_bytes(1_001, v.len() as u64));
    }
    v
}

#[test]
fn eicar_in_either_chm_section_is_found_and_7zip_agrees_on_the_bytes() {
    let big = frames_of_planted();
    // 7-Zip takes reset intervals of a power of two frames only.
    for reset_frames in [1, 2, 4] {
        for in_section1 in [true, false] {
            let page: &[(&str, &[u8])] = &[("index.html", b"<html>help</html>")];
            let payload: &[(&str, &[u8])] = &[("big.bin", &big), ("files/setup.com", EICAR)];
            let (s0, s1) = if in_section1 {
                (page, payload)
            } else {
                (payload, page)
            };
            let bad = chm(s0, s1, reset_frames);
            let what = format!("reset every {reset_frames}, compressed {in_section1}");
            assert_eq!(mdcore::detect(&bad).kind, Kind::Chm);
            let r = scan(&bad, "help.chm");
            assert_eq!(
                threat_paths(&r),
                vec!["help.chm/files/setup.com"],
                "{what}: {:?}",
                summary(&r)
            );
            let ours = children_md5(&r, "help.chm");
            assert!(
                ours.contains(&("big.bin".into(), md5_hex(&big))),
                "{what}: {ours:?}"
            );
            // The writer is checked against 7-Zip's reading of it.
            if let Some(theirs) = seven_zip_chm(&bad) {
                assert_eq!(ours, theirs, "{what}");
            }
            let good = chm(page, &[("big.bin", &big)], reset_frames);
            let r = scan(&good, "help.chm");
            assert_eq!(
                r.root.scan_all_result_i,
                ResultCode::NoThreat,
                "{what}: {:?}",
                summary(&r)
            );
        }
    }
}

#[test]
fn a_hash_listed_binary_in_a_chm_nested_anywhere_is_found() {
    let payload = planted();
    let help = chm(
        &[("a.html", b"<p>x</p>")],
        &[("tools/payload.bin", &payload)],
        2,
    );
    let s = hash_listed(&payload);
    for (name, data) in [
        ("h.chm", help.clone()),
        ("o.zip", zip_of(&[("in.chm", &help)])),
        ("o.7z", sevenz_of(&[("in.chm", &help)], None, true)),
        ("setup.exe", pe_with_overlay(&zip_of(&[("in.chm", &help)]))),
    ] {
        let r = s.scan_bytes(&data, &ScanOptions::new().name(name));
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Blocklisted,
            "{name}: {:?}",
            summary(&r)
        );
    }
    // A CHM holding a zip holding EICAR.
    let inner = zip_of(&[("e.com", EICAR)]);
    let outer = chm(&[], &[("in.zip", &inner)], 1);
    assert_eq!(
        threat_paths(&scan(&outer, "o.chm")),
        vec!["o.chm/in.zip/e.com"]
    );
}

#[test]
fn truncated_or_corrupt_chm_blocks() {
    let big = frames_of_planted();
    let good = chm(&[("a.html", b"<p>x</p>")], &[("big.bin", &big)], 2);
    assert_eq!(
        scan(&good, "h.chm").root.scan_all_result_i,
        ResultCode::NoThreat
    );
    // Cut anywhere: never "No Threat".
    for cut in [0x40, 0x100, 0x1000, good.len() / 2, good.len() - 100] {
        let r = scan(&good[..cut], "h.chm");
        assert_ne!(
            r.root.scan_all_result_i,
            ResultCode::NoThreat,
            "cut at {cut}: {:?}",
            summary(&r)
        );
    }
    // A reset table entry pointing past the stream: the file is not whole.
    let table = good
        .windows(8)
        .rposition(|w| w == 0x8000u64.to_le_bytes())
        .unwrap();
    let mut bad = good.clone();
    bad[table + 16..table + 24].copy_from_slice(&u64::MAX.to_le_bytes());
    let r = scan(&bad, "h.chm");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Failed,
        "{:?}",
        summary(&r)
    );
    let node = r
        .root
        .iter()
        .find(|n| n.display_name == "h.chm/big.bin")
        .unwrap();
    assert_eq!(node.own_result_i, ResultCode::Failed, "{:?}", summary(&r));
    // An LZX block type damaged (7, which does not exist): the section
    // does not decode. The stream follows the header (0x78), the directory
    // (0x54 + one 4 KiB chunk), a.html (8 bytes) and the name list (60).
    let stream = 0x78 + 0x54 + 0x1000 + 8 + 60;
    assert_eq!(good[stream + 1] & 0x70, 0x10, "a verbatim block");
    let mut bad = good.clone();
    bad[stream + 1] |= 0x70;
    let r = scan(&bad, "h.chm");
    assert_ne!(
        r.root.scan_all_result_i,
        ResultCode::NoThreat,
        "{:?}",
        summary(&r)
    );
}

#[test]
fn a_chm_section_over_the_extraction_limit_is_13() {
    let big = frames_of_planted();
    let help = chm(&[], &[("big.bin", &big)], 1);
    let s = mdcore::ScannerBuilder::new()
        .limits(mdcore::Limits {
            max_total_bytes: 64 << 10,
            ..mdcore::Limits::default()
        })
        .build()
        .unwrap();
    let r = s.scan_bytes(&help, &ScanOptions::new().name("h.chm"));
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::ExceededArchiveSize,
        "{:?}",
        summary(&r)
    );
}

#[test]
fn szdd_and_kwaj_behind_a_stub_or_glued_together_are_carved() {
    let Some(packed) = szdd(EICAR) else {
        return;
    };
    let p = planted();
    let stored = kwaj(0, &p, p.len() as u32);
    let xored = kwaj(
        1,
        &EICAR.iter().map(|b| b ^ 0xff).collect::<Vec<_>>(),
        EICAR.len() as u32,
    );
    for (what, data, threats) in [
        ("szdd", packed.clone(), 1),
        ("kwaj", xored.clone(), 1),
        // A clean KWAJ, then an SZDD holding EICAR: the KWAJ ends at its
        // declared size and the rest is searched.
        ("both", [stored.clone(), packed.clone()].concat(), 1),
    ] {
        let r = scan(&pe_with_overlay(&data), "setup.exe");
        assert_eq!(threat_paths(&r).len(), threats, "{what}: {:?}", summary(&r));
        assert_eq!(r.root.scan_all_result_i, ResultCode::Infected, "{what}");
    }
    let glued = [stored.clone(), packed].concat();
    let r = scan(&glued, "a.kw_");
    assert_eq!(threat_paths(&r).len(), 1, "{:?}", summary(&r));
    // Clean twin: the planted file behind a stub, no threat.
    let r = scan(&pe_with_overlay(&stored), "setup.exe");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::NoThreat,
        "{:?}",
        summary(&r)
    );
    assert!(
        r.root.iter().any(|n| n.md5 == md5_hex(&p)),
        "{:?}",
        summary(&r)
    );
}

/// What unalz extracts from `alz` (with `password`): (path, md5) sorted.
fn unalz(alz: &[u8], password: Option<&str>) -> Option<Vec<(String, String)>> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.alz"), alz).unwrap();
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let mut args = vec!["-d", "out"];
    if let Some(p) = password {
        args.extend(["-pwd", p]);
    }
    args.push("in.alz");
    tool(dir.path(), "unalz", &args)?;
    let root = dir.path().join("out");
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let name = p
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.push((name, md5_hex(&std::fs::read(&p).unwrap())));
            }
        }
    }
    files.sort();
    Some(files)
}

#[test]
fn alz_stored_deflated_and_encrypted_is_read_as_unalz_reads_it() {
    let p = planted();
    for password in [None, Some("s3cret")] {
        for method in [0u8, 2] {
            let what = format!("method {method}, password {password:?}");
            let bad = alz_of(
                &[
                    ("readme.txt", b"hello\n", method),
                    ("docs\\payload.bin", &p, method),
                    ("docs/deep/invoice.com", EICAR, method),
                ],
                password,
            );
            assert_eq!(mdcore::detect(&bad).kind, Kind::Alz);
            let mut opts = ScanOptions::new().name("a.alz");
            if let Some(p) = password {
                opts = opts.password(p);
            }
            let r = scanner().scan_bytes(&bad, &opts);
            assert_eq!(
                threat_paths(&r),
                vec!["a.alz/docs/deep/invoice.com"],
                "{what}: {:?}",
                summary(&r)
            );
            let ours = children_md5(&r, "a.alz");
            let Some(theirs) = unalz(&bad, password) else {
                return;
            };
            // unalz writes what it extracts by the paths we report.
            let ours_flat: Vec<_> = r
                .root
                .iter()
                .filter(|n| n.children.is_empty() && n.display_name != "a.alz")
                .map(|n| {
                    (
                        n.display_name.strip_prefix("a.alz/").unwrap().to_string(),
                        n.md5.clone(),
                    )
                })
                .collect();
            let mut ours_flat = ours_flat;
            ours_flat.sort();
            assert_eq!(ours_flat, theirs, "{what}: {ours:?}");
            let good = alz_of(
                &[
                    ("readme.txt", b"hello\n", method),
                    ("payload.bin", &p, method),
                ],
                password,
            );
            let r = scanner().scan_bytes(&good, &opts);
            assert_eq!(
                r.root.scan_all_result_i,
                ResultCode::NoThreat,
                "{what}: {:?}",
                summary(&r)
            );
        }
    }
    // Encrypted, no password or a wrong one: 12.
    let enc = alz_of(&[("e.com", EICAR, 2)], Some("s3cret"));
    for pw in [None, Some("wrong")] {
        let mut opts = ScanOptions::new().name("a.alz");
        if let Some(p) = pw {
            opts = opts.password(p);
        }
        let r = scanner().scan_bytes(&enc, &opts);
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::EncryptedArchive,
            "{pw:?}: {:?}",
            summary(&r)
        );
    }
}

#[test]
fn alz_nested_hash_listed_and_damaged() {
    let p = planted();
    let alz = alz_of(&[("x/payload.bin", &p, 2)], None);
    let s = hash_listed(&p);
    for (name, data) in [
        ("a.alz", alz.clone()),
        ("o.zip", zip_of(&[("in.alz", &alz)])),
        ("o.7z", sevenz_of(&[("in.alz", &alz)], None, true)),
        ("h.chm", chm(&[], &[("in.alz", &alz)], 2)),
    ] {
        let r = s.scan_bytes(&data, &ScanOptions::new().name(name));
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Blocklisted,
            "{name}: {:?}",
            summary(&r)
        );
    }
    // An ALZ holding a zip holding EICAR.
    let outer = alz_of(&[("in.zip", &zip_of(&[("e.com", EICAR)]), 0)], None);
    assert_eq!(
        threat_paths(&scan(&outer, "o.alz")),
        vec!["o.alz/in.zip/e.com"]
    );
    // Cut anywhere, or a flipped data byte: never "No Threat".
    let good = alz_of(&[("a.txt", b"hello", 0), ("payload.bin", &p, 2)], None);
    assert_eq!(
        scan(&good, "a.alz").root.scan_all_result_i,
        ResultCode::NoThreat
    );
    for cut in [6, 12, 40, good.len() / 2, good.len() - 20, good.len() - 2] {
        let r = scan(&good[..cut], "a.alz");
        assert_ne!(
            r.root.scan_all_result_i,
            ResultCode::NoThreat,
            "cut {cut}: {:?}",
            summary(&r)
        );
    }
    let mut flipped = good.clone();
    let n = flipped.len();
    flipped[n - 40] ^= 0x55;
    let r = scan(&flipped, "a.alz");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Failed,
        "{:?}",
        summary(&r)
    );
}

/// What AutoIt-Ripper (PyPI) reads from a compiled AutoIt script: each
/// entry's name (a `FileInstall` source path cut to its last part) and
/// MD5, the script's of its text without case or white space.
fn autoit_ripper(au3: &[u8]) -> Option<Vec<(String, String)>> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.a3x"), au3).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/autoit-ripper.sh"
    );
    let out = std::process::Command::new("bash")
        .arg(script)
        .arg(dir.path().join("in.a3x"))
        .output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        other => {
            crate::shared::skip(format_args!(
                "AutoIt-Ripper (autoit-ripper.sh) did not run: {other:?}"
            ));
            return None;
        }
    };
    let mut v: Vec<(String, String)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (name, md5) = l.split_once('\t').unwrap();
            let base = name.rsplit(['\\', '/']).next().unwrap();
            (base.to_string(), md5.to_string())
        })
        .collect();
    v.sort();
    Some(v)
}

/// What mdscan hands over besides the script, in the same form (the
/// script is compared through the hash list: see below).
fn autoit_children(r: &mdcore::Report, root: &str) -> Vec<(String, String)> {
    children_md5(r, root)
        .into_iter()
        .filter(|(n, _)| n != "script.au3")
        .collect()
}

/// The script every AutoIt sample carries: a few lines of tokens, and the
/// text mdscan renders them as.
fn au3_script() -> (Vec<u8>, &'static str) {
    let tokens = au3_tokens(&[
        &[
            (0x30, "LOCAL"),
            (0x33, "sPath"),
            (0x41, ""),
            (0x32, "TEMPDIR"),
            (0x4D, ""),
            (0x36, "\\a \"b\".exe"),
        ],
        &[
            (0x31, "FILEINSTALL"),
            (0x47, ""),
            (0x36, "C:\\build\\payload.bin"),
            (0x40, ""),
            (0x33, "sPath"),
            (0x40, ""),
            (0x05, "1"),
            (0x48, ""),
        ],
        &[(0x31, "RUN"), (0x47, ""), (0x33, "sPath"), (0x48, "")],
    ]);
    let text = "LOCAL $sPath = @TEMPDIR & \"\\a \"\"b\"\".exe\"\r\n\
                FILEINSTALL ( \"C:\\build\\payload.bin\" , $sPath , 1 )\r\n\
                RUN ( $sPath )\r\n";
    (tokens, text)
}

fn au3_sample(version: u8, bad: bool, script: &[u8]) -> Vec<u8> {
    let payload = planted();
    let kind = if version == 5 {
        ">AUTOIT SCRIPT<"
    } else {
        ">>>AUTOIT SCRIPT<<<"
    };
    let mut entries = vec![
        Au3Entry {
            kind,
            name: "C:\\build\\main.au3",
            data: script,
            compress: true,
        },
        Au3Entry {
            kind: "C:\\build\\payload.bin",
            name: "C:\\build\\payload.bin",
            data: &payload,
            compress: true,
        },
    ];
    if bad {
        entries.push(Au3Entry {
            kind: "C:\\build\\invoice.com",
            name: "C:\\build\\invoice.com",
            data: EICAR,
            compress: false,
        });
    }
    autoit_of(version, &entries)
}

#[test]
fn autoit_ea06_and_ea05_are_read_as_autoit_ripper_reads_them() {
    let (tokens, text) = au3_script();
    let ea05_text = b"Local $s = 'plain EA05 source'\r\nRun($s)\r\n".to_vec();
    for (version, script) in [(6u8, tokens.clone()), (5, ea05_text.clone())] {
        let au3 = au3_sample(version, true, &script);
        assert_eq!(mdcore::detect(&au3).kind, Kind::AutoIt, "EA0{version}");
        let r = scan(&au3, "a.a3x");
        assert_eq!(
            threat_paths(&r),
            vec!["a.a3x/invoice.com"],
            "EA0{version}: {:?}",
            summary(&r)
        );
        let mut ours = autoit_children(&r, "a.a3x");
        // The script's text, in AutoIt-Ripper's comparison form.
        let rendered: Vec<u8> = if version == 6 {
            text.as_bytes().to_vec()
        } else {
            ea05_text.clone()
        };
        let squeezed: Vec<u8> = rendered
            .iter()
            .filter(|b| !b.is_ascii_whitespace())
            .map(|b| b.to_ascii_lowercase())
            .collect();
        ours.push(("script.au3".into(), md5_hex(&squeezed)));
        ours.sort();
        // The rendered script is exactly `text`: a hash list naming it hits.
        let s = hash_listed(&rendered);
        let r = s.scan_bytes(&au3, &ScanOptions::new().name("a.a3x"));
        assert!(
            nodes_with(&r, ResultCode::Blocklisted).contains(&"a.a3x/script.au3".to_string()),
            "EA0{version}: {:?}",
            summary(&r)
        );
        if let Some(theirs) = autoit_ripper(&au3) {
            assert_eq!(ours, theirs, "EA0{version}");
        }
    }
}

#[test]
fn autoit_in_an_executable_nested_and_hash_listed() {
    let (tokens, _) = au3_script();
    let bad = au3_sample(6, true, &tokens);
    let good = au3_sample(6, false, &tokens);
    let s = hash_listed(&planted());
    for (name, data) in [
        ("a.exe", pe_with_overlay(&bad)),
        ("o.zip", zip_of(&[("in/a.exe", &pe_with_overlay(&bad))])),
        (
            "o.tar",
            tar_of(&[("a.a3x", &au3_sample(5, true, b"Run('x')"))]),
        ),
    ] {
        let r = scan(&data, name);
        let t = threat_paths(&r);
        assert!(
            t.len() == 1 && t[0].ends_with("/invoice.com"),
            "{name}: {:?}",
            summary(&r)
        );
        let r = s.scan_bytes(&data, &ScanOptions::new().name(name));
        assert!(
            nodes_with(&r, ResultCode::Blocklisted)
                .iter()
                .any(|n| n.ends_with("/payload.bin")),
            "{name}: {:?}",
            summary(&r)
        );
    }
    let r = scan(&pe_with_overlay(&good), "a.exe");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::NoThreat,
        "{:?}",
        summary(&r)
    );
}

#[test]
fn truncated_corrupt_and_unreadable_autoit_blocks() {
    let (tokens, _) = au3_script();
    let good = au3_sample(6, false, &tokens);
    assert_eq!(
        scan(&good, "a.a3x").root.scan_all_result_i,
        ResultCode::NoThreat
    );
    // Cut inside the last entry's data.
    let r = scan(&good[..good.len() - 10], "a.a3x");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Failed,
        "{:?}",
        summary(&r)
    );
    // A byte of the last entry's data changed: its Adler-32 fails.
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 20] ^= 0x55;
    let r = scan(&bad, "a.a3x");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Failed,
        "{:?}",
        summary(&r)
    );
    // No entry decrypts (the FILE marker damaged).
    let mut bad = good.clone();
    bad[40] ^= 1;
    let r = scan(&bad, "a.a3x");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Failed,
        "{:?}",
        summary(&r)
    );
    // Script tokens that end early.
    let short = au3_sample(6, false, &tokens[..tokens.len() - 3]);
    let r = scan(&short, "a.a3x");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Failed,
        "{:?}",
        summary(&r)
    );
    // JB01 compression (adaptive Huffman) is not read: 23, with a note.
    let mut jb01 = b"JB01\0\0\0\x10".to_vec();
    jb01.extend_from_slice(&[0xAB; 16]);
    let au3 = autoit_of(
        6,
        &[Au3Entry {
            kind: "C:\\x.bin",
            name: "C:\\x.bin",
            data: &jb01,
            compress: false,
        }],
    );
    // Mark the stored JB01 blob compressed (the flag byte sits 17 bytes
    // before the data's sizes and checksum end).
    let flag = au3.len() - jb01.len() - 16 - 12 - 1;
    let mut au3 = au3;
    au3[flag] = 1;
    let r = scan(&au3, "a.a3x");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::UnsupportedFileType,
        "{:?}",
        summary(&r)
    );
}

/// The files of an InstallShield setup (hand-built: no tool in Debian writes
/// them; layout from ISx): `setup.ini`, the package (an MSI by wixl
/// holding `name`/`data` in its cabinet, or a zip of them) and the planted
/// binary, under the given flags.
fn setup_files(
    stream: bool,
    flags: u32,
    deflate: bool,
    name: &str,
    data: &[u8],
) -> Option<Vec<u8>> {
    let msi = wixl_msi(name, data)?;
    let planted = planted();
    Some(installshield_of(
        stream,
        &[
            IsFile {
                name: "setup.ini",
                data: b"[Startup]\r\nProduct=Test\r\n",
                flags,
                deflate,
            },
            IsFile {
                name: "Test Product.msi",
                data: &msi,
                flags,
                deflate,
            },
            IsFile {
                name: "0x0409.ini",
                data: &planted,
                flags,
                deflate,
            },
        ],
    ))
}

#[test]
fn installshield_setups_of_every_layout_and_cipher_are_opened() {
    let s = hash_listed(&planted());
    for (stream, flags, deflate) in [
        (false, 0, false),
        (false, 2, false),
        (false, 6, false),
        (false, 6, true),
        (true, 4, false),
        (true, 6, true),
    ] {
        let what = format!("stream={stream} flags={flags} deflate={deflate}");
        let Some(bad) = setup_files(stream, flags, deflate, "eicar.com", EICAR) else {
            return;
        };
        let good = setup_files(stream, flags, deflate, "readme.txt", b"hello\n").unwrap();
        let kind = mdcore::detect(&bad).kind;
        assert_eq!(kind, Kind::InstallShield, "{what}");
        // Behind the launcher's PE image, as setup.exe carries them.
        let exe = pe_with_overlay(&bad);
        let r = scan(&exe, "setup.exe");
        let t = threat_paths(&r);
        assert!(
            t.len() == 1 && t[0].contains("/Test Product.msi/") && t[0].ends_with("/F1"),
            "{what}: {:?}",
            summary(&r)
        );
        let r = s.scan_bytes(&exe, &ScanOptions::new().name("setup.exe"));
        assert!(
            nodes_with(&r, ResultCode::Blocklisted)
                .iter()
                .any(|n| n.ends_with("/0x0409.ini")),
            "{what}: {:?}",
            summary(&r)
        );
        let r = scan(&pe_with_overlay(&good), "setup.exe");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::NoThreat,
            "{what}: {:?}",
            summary(&r)
        );
    }
}

#[test]
fn truncated_and_corrupt_installshield_blocks() {
    let Some(good) = setup_files(false, 6, true, "readme.txt", b"hello\n") else {
        return;
    };
    assert_eq!(
        scan(&good, "a.isdata").root.scan_all_result_i,
        ResultCode::NoThreat
    );
    for (what, data) in [
        ("cut in the last file", good[..good.len() - 100].to_vec()),
        ("cut in the attributes", good[..46 + 100].to_vec()),
        ("a zlib stream damaged", {
            let mut d = good.clone();
            let n = d.len();
            d[n - 40] ^= 0xff;
            d
        }),
    ] {
        let r = scan(&data, "a.isdata");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Failed,
            "{what}: {:?}",
            summary(&r)
        );
    }
}

/// What unshield (Debian) extracts from `cab` saved as `data1.cab`: (path,
/// md5) sorted, `\` and `/` alike.
fn unshield(cab: &[u8]) -> Option<Vec<(String, String)>> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data1.cab"), cab).unwrap();
    tool(dir.path(), "unshield", &["-d", "out", "x", "data1.cab"])?;
    let root = dir.path().join("out");
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let name = p.strip_prefix(&root).unwrap().to_string_lossy();
                // unshield puts each file group in a directory of its name
                // (a space made `_`).
                let name = name
                    .strip_prefix("Program_Files/")
                    .unwrap_or(&name)
                    .replace('\\', "/");
                files.push((name, md5_hex(&std::fs::read(&p).unwrap())));
            }
        }
    }
    files.sort();
    Some(files)
}

fn iscab_files<'a>(p: &'a [u8], big: &'a [u8], bad: bool) -> Vec<IsCabFile<'a>> {
    let f = |dir, name, data, compressed, obfuscated| IsCabFile {
        dir,
        name,
        data,
        compressed,
        obfuscated,
    };
    let mut v = vec![
        f("", "readme.txt", b"hello\n".as_slice(), false, false),
        f("bin", "payload.bin", p, true, false),
        f("bin\\data", "big.dat", big, true, false),
        f(
            "app",
            "stored-obfuscated.txt",
            b"plain words".as_slice(),
            false,
            true,
        ),
    ];
    if bad {
        v.push(f("bin\\deep", "invoice.com", EICAR, true, true));
    }
    v
}

/// InstallShield cabinets of the IS 5, IS 12 (ANSI) and IS 21 (UTF-16)
/// layouts, stored, compressed in several chunks, and obfuscated: every
/// file is read as unshield reads it, EICAR is found, and the clean twin
/// passes.
#[test]
fn installshield_cabinets_are_read_as_unshield_reads_them() {
    let p = planted();
    let big = random_bytes(100_000, 7);
    for major in [5, 12, 21] {
        let bad = iscab_of(major, &iscab_files(&p, &big, true));
        assert_eq!(
            mdcore::detect(&bad).kind,
            Kind::InstallShieldCab,
            "IS {major}"
        );
        let r = scan(&bad, "data1.cab");
        assert_eq!(
            threat_paths(&r),
            vec!["data1.cab/bin/deep/invoice.com"],
            "IS {major}: {:?}",
            summary(&r)
        );
        let mut ours: Vec<(String, String)> = r
            .root
            .iter()
            .filter(|n| n.display_name != "data1.cab")
            .map(|n| {
                (
                    n.display_name
                        .strip_prefix("data1.cab/")
                        .unwrap()
                        .to_string(),
                    n.md5.clone(),
                )
            })
            .collect();
        ours.sort();
        assert_eq!(ours.len(), 5, "IS {major}: {ours:?}");
        if let Some(theirs) = unshield(&bad) {
            assert_eq!(ours, theirs, "IS {major}");
        }
        let good = iscab_of(major, &iscab_files(&p, &big, false));
        let r = scan(&good, "data1.cab");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::NoThreat,
            "IS {major}: {:?}",
            summary(&r)
        );
    }
}

#[test]
fn installshield_cabinets_nested_split_and_damaged() {
    let p = planted();
    let big = random_bytes(40_000, 9);
    let good = iscab_of(12, &iscab_files(&p, &big, false));
    // A hash-listed file inside, the cabinet inside other containers.
    let s = hash_listed(&p);
    for (name, data) in [
        ("data1.cab", good.clone()),
        ("o.zip", zip_of(&[("disk1/data1.cab", &good)])),
        ("o.7z", sevenz_of(&[("data1.cab", &good)], None, true)),
        ("o.tar", tar_of(&[("data1.cab", &good)])),
    ] {
        let r = s.scan_bytes(&data, &ScanOptions::new().name(name));
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Blocklisted,
            "{name}: {:?}",
            summary(&r)
        );
    }
    // Its file table in a .hdr: the cabinet alone cannot be listed (23).
    let mut split = good.clone();
    split[12..20].fill(0);
    let r = scan(&split, "data1.cab");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::UnsupportedFileType,
        "{:?}",
        summary(&r)
    );
    // Cut anywhere: never "No Threat"; a flipped byte of compressed data
    // fails its check (3).
    for cut in [10, 30, 100, good.len() / 2, good.len() - 10] {
        let r = scan(&good[..cut], "data1.cab");
        assert_ne!(
            r.root.scan_all_result_i,
            ResultCode::NoThreat,
            "cut {cut}: {:?}",
            summary(&r)
        );
    }
    let mut flipped = good.clone();
    // The middle of the cabinet lies in the files' compressed chunks.
    let mid = good.len() / 2;
    flipped[mid] ^= 0x55;
    let r = scan(&flipped, "data1.cab");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Failed,
        "{:?}",
        summary(&r)
    );
}

/// Runs GNU `ar` (binutils) with `args` in a directory holding `files`;
/// the archive `out.a`.
fn gnu_ar(args: &[&str], files: &[(&str, Vec<u8>)]) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    for (name, data) in files {
        std::fs::write(dir.path().join(name), data).unwrap();
    }
    let mut all = args.to_vec();
    all.push("out.a");
    all.extend(files.iter().map(|(n, _)| *n));
    tool(dir.path(), "ar", &all)?;
    Some(std::fs::read(dir.path().join("out.a")).unwrap())
}

#[test]
fn ar_archives_gnu_long_names_and_bsd_names_open_and_find_eicar() {
    // GNU ar: a member name longer than 15 bytes goes to the `//` table.
    let long = "an_object_file_with_a_long_name.o";
    let bad = [
        ("short.o", planted()),
        (long, EICAR.to_vec()),
        ("odd.txt", b"odd".to_vec()),
    ];
    let Some(a) = gnu_ar(&["rc"], &bad) else {
        return;
    };
    assert_eq!(mdcore::detect(&a).kind, Kind::Ar);
    let r = scan(&a, "lib.a");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Infected,
        "{:?}",
        summary(&r)
    );
    assert_eq!(threat_paths(&r), vec![format!("lib.a/{long}")]);
    let short = r
        .root
        .iter()
        .find(|n| n.display_name == "lib.a/short.o")
        .unwrap_or_else(|| panic!("{:?}", summary(&r)));
    assert_eq!(short.md5, md5_hex(&planted()));
    let good = gnu_ar(
        &["rc"],
        &[("short.o", planted()), ("odd.txt", b"odd".to_vec())],
    )
    .unwrap();
    let r = scan(&good, "lib.a");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::NoThreat,
        "{:?}",
        summary(&r)
    );
    assert_eq!(r.root.children.len(), 2);

    // 4.4BSD names (`#1/N`, the name at the start of the data), as
    // macOS's ar writes them; checked against bsdtar's reading.
    let mut bsd = b"!<arch>\n".to_vec();
    for (name, data) in [("long_bsd_member_name.o", EICAR), ("b.txt", &b"bee"[..])] {
        let field = format!("#1/{}", name.len());
        let size = name.len() + data.len();
        bsd.extend_from_slice(
            format!(
                "{field:<16}{:<12}{:<6}{:<6}{:<8}{size:<10}`\n",
                0, 0, 0, 644
            )
            .as_bytes(),
        );
        bsd.extend_from_slice(name.as_bytes());
        bsd.extend_from_slice(data);
        if size % 2 == 1 {
            bsd.push(b'\n');
        }
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bsd.a"), &bsd).unwrap();
    if tool(dir.path(), "bsdtar", &["-xf", "bsd.a"]).is_some() {
        assert_eq!(
            std::fs::read(dir.path().join("long_bsd_member_name.o")).unwrap(),
            EICAR
        );
    }
    let r = scan(&bsd, "bsd.a");
    assert_eq!(threat_paths(&r), vec!["bsd.a/long_bsd_member_name.o"]);

    // Cut inside a member: what is there is examined, and it blocks.
    let cut = &a[..a.len() - 2];
    let r = scan(cut, "lib.a");
    assert!(r.blocked(), "{:?}", summary(&r));
    // A header that does not end with "`\n" is damage, not the end.
    let mut broken = good.clone();
    let second = 8 + 60 + planted().len() + planted().len() % 2;
    broken[second + 58] = b'x';
    let r = scan(&broken, "lib.a");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Failed,
        "{:?}",
        summary(&r)
    );
}

#[test]
fn a_debian_package_built_by_dpkg_deb_is_opened_to_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let build = |bad: bool| -> Option<Vec<u8>> {
        let root = dir.path().join(if bad { "bad" } else { "good" });
        std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
        std::fs::create_dir_all(root.join("usr/share/demo")).unwrap();
        std::fs::write(
            root.join("DEBIAN/control"),
            "Package: demo\nVersion: 1.0\nArchitecture: all\nMaintainer: m <m@example.org>\nDescription: demo\n",
        )
        .unwrap();
        std::fs::write(root.join("usr/share/demo/readme"), "readme\n").unwrap();
        if bad {
            std::fs::write(root.join("usr/share/demo/tool.com"), EICAR).unwrap();
        }
        let out = format!("{}.deb", if bad { "bad" } else { "good" });
        tool(
            dir.path(),
            "dpkg-deb",
            &[
                "--root-owner-group",
                "-Zxz",
                "--build",
                root.to_str().unwrap(),
                &out,
            ],
        )?;
        Some(std::fs::read(dir.path().join(out)).unwrap())
    };
    let Some(bad) = build(true) else {
        return;
    };
    let r = scan(&bad, "demo.deb");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Infected,
        "{:?}",
        summary(&r)
    );
    assert_eq!(
        threat_paths(&r),
        vec!["demo.deb/data.tar.xz/data.tar/usr/share/demo/tool.com"]
    );
    let good = build(false).unwrap();
    let r = scan(&good, "demo.deb");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::NoThreat,
        "{:?}",
        summary(&r)
    );
    let names: Vec<&str> = r.root.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["debian-binary", "control.tar.xz", "data.tar.xz"]);
}

/// LZX with E8 call translation on (what Microsoft's compressor does for
/// executables): every E8 operand kind — zero, in range either side,
/// out of range, within the last 10 bytes of a frame, across a frame's
/// end, back to back — decodes to the bytes cabextract (libmspack) and
/// 7-Zip write out.
#[test]
fn lzx_cabinets_with_e8_translation_give_the_bytes_cabextract_and_7zip_give() {
    const SIZE: u32 = 12_000_000;
    let mut data: Vec<u8> = (0..100_000u32)
        .map(|i| {
            let b = (i.wrapping_mul(2_654_435_761) >> 13) as u8;
            if b == 0xe8 { 0x90 } else { b }
        })
        .collect();
    let mut plant = |at: usize, operand: i32| {
        data[at] = 0xe8;
        data[at + 1..at + 5].copy_from_slice(&operand.to_le_bytes());
    };
    plant(0, 0);
    plant(100, 0);
    plant(200, 5000);
    plant(300, -50);
    plant(400, SIZE as i32);
    plant(500, SIZE as i32 + 7);
    plant(600, -1_000_000);
    plant(700, 0x7fff_ffff);
    plant(705, 12);
    plant(40_000, 0);
    plant(40_100, 39_000);
    plant(32_757, 77);
    plant(32_762, 77);
    plant(65_530, 1);
    plant(99_990, 3);
    let cab = cab_lzx_e8(&[("a.exe", &data)], Some(SIZE));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.cab"), &cab).unwrap();
    let r = scan(&cab, "x.cab");
    let member = r
        .root
        .iter()
        .find(|n| n.name == "a.exe")
        .unwrap_or_else(|| panic!("{:#?}", r.root));
    for (tool_name, args, out) in [
        ("cabextract", &["-q", "-d", "ce", "x.cab"][..], "ce/a.exe"),
        ("7zz", &["x", "-y", "-o7z", "x.cab"][..], "7z/a.exe"),
    ] {
        if tool(dir.path(), tool_name, args).is_none() {
            return;
        }
        let theirs = std::fs::read(dir.path().join(out)).unwrap();
        assert_eq!(theirs.len(), data.len(), "{tool_name}");
        assert_eq!(
            member.sha256,
            sha256_hex(&theirs),
            "{tool_name} writes other bytes; first difference at {:?}",
            first_difference(&theirs, &ours(&cab))
        );
    }
}

/// The member as mdscan reads it: the sanitizer rebuilds the cabinet as a
/// zip from the scanner's own extractor.
fn ours(cab: &[u8]) -> Vec<u8> {
    let copy = mdcore::sanitize::sanitize(cab, "x.cab", &mdcore::sanitize::SanitizeOptions::new())
        .unwrap();
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(copy.data)).unwrap();
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut z.by_name("a.exe").unwrap(), &mut out).unwrap();
    out
}

fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}

/// Runs `program args`: what it wrote to standard output and whether it
/// succeeded; `None` (after a visible skip) when it is not installed.
fn stdout_of(dir: &std::path::Path, program: &str, args: &[&str]) -> Option<(Vec<u8>, bool)> {
    match std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
    {
        Ok(out) => Some((out.stdout, out.status.success())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::shared::skip(format_args!("{program} is not installed"));
            None
        }
        Err(e) => panic!("{program}: {e}"),
    }
}

/// Lone LZMA-alone, lzip and Unix compress streams, written by xz
/// (`--format=lzma`, presets 0 and 9e), lzip (levels 0 and 9, split in
/// members) and ncompress (9, 10, 12 and 16 bits, block mode and
/// the old mode without it), read by `xz -d` and 7-Zip, `lzip -d`,
/// `uncompress`/`gzip -d` and ncompress's `compress -d`, and scanned by
/// mdscan: the member mdscan scans is, byte for byte, what
/// each reader writes. Where a reader calls a stream corrupt (ncompress
/// 4.2.4's 9-bit and `-C` streams, which its own decoder refuses too),
/// mdscan blocks it (3) after scanning the same bytes the reader wrote
/// before it stopped. Inputs: text, incompressible data (the code width
/// grows to the limit and the table is cleared), long runs, one byte,
/// EICAR. lzip and compress streams were 23 (recognised, not opened),
/// LZMA-alone passed as data.
#[test]
fn lone_lzma_lzip_and_compress_streams_give_the_bytes_their_tools_give() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let inputs: Vec<(&str, Vec<u8>)> = vec![
        ("text", b"hello hello hello, compress me\n".repeat(400)),
        ("random", random_bytes(300_000, 7)),
        (
            "runs",
            (0..1_500_000u32).map(|i| (i / 5000) as u8).collect(),
        ),
        ("one", b"x".to_vec()),
        ("eicar", EICAR.to_vec()),
    ];
    type Tools<'a> = &'a [(&'a str, &'a [&'a str])];
    // Debian's `uncompress` is gzip's; `compress -d` is ncompress's own.
    let z_readers: Tools<'_> = &[
        ("uncompress", &["-c"]),
        ("gzip", &["-dc"]),
        ("compress", &["-dc"]),
    ];
    let lz_readers: Tools<'_> = &[("lzip", &["-dc"])];
    let lzma_readers: Tools<'_> = &[("xz", &["--format=lzma", "-dc"]), ("7zz", &["e", "-so"])];
    let variants: [(&str, &[&str], Tools<'_>); 10] = [
        ("lzma", &["xz", "--format=lzma", "-c", "-0"], lzma_readers),
        ("lzma", &["xz", "--format=lzma", "-c", "-9e"], lzma_readers),
        ("lz", &["lzip", "-c", "-0"], lz_readers),
        ("lz", &["lzip", "-c", "-9"], lz_readers),
        ("lz", &["lzip", "-c", "-0", "-b", "100KiB"], lz_readers),
        ("Z", &["compress", "-c", "-f", "-b", "9"], z_readers),
        ("Z", &["compress", "-c", "-f", "-b", "10"], z_readers),
        ("Z", &["compress", "-c", "-f", "-b", "12"], z_readers),
        ("Z", &["compress", "-c", "-f"], z_readers),
        ("Z", &["compress", "-c", "-f", "-C"], z_readers),
    ];
    let (mut whole, mut refused) = (0, 0);
    for (name, data) in &inputs {
        std::fs::write(d.join(name), data).unwrap();
        for (i, (ext, writer, readers)) in variants.iter().enumerate() {
            let Some((packed, _)) = stdout_of(d, writer[0], &[&writer[1..], &[*name]].concat())
            else {
                return;
            };
            assert!(!packed.is_empty(), "{writer:?} wrote nothing");
            let file = format!("{name}-{i}.{ext}");
            std::fs::write(d.join(&file), &packed).unwrap();
            let report = scan(&packed, &file);
            let child = report
                .root
                .children
                .first()
                .unwrap_or_else(|| panic!("{file}: no member: {:#?}", report.root));
            assert_eq!(child.name, format!("{name}-{i}"), "{file}");
            let mut all_ok = true;
            let mut as_written = true;
            for (reader, args) in readers.iter() {
                let Some((theirs, ok)) = stdout_of(d, reader, &[*args, &[file.as_str()]].concat())
                else {
                    return;
                };
                all_ok &= ok;
                as_written &= ok && theirs == *data;
                if !ok && *reader == "compress" {
                    // ncompress writes nothing of a stream it refuses (it
                    // buffers); gzip writes what it decoded, compared.
                    continue;
                }
                assert_eq!(
                    child.sha256,
                    sha256_hex(&theirs),
                    "{reader} on {file} ({}; {} bytes)",
                    if ok { "read whole" } else { "corrupt" },
                    theirs.len()
                );
            }
            // (A reader may also read a broken stream "whole" into other
            // bytes: ncompress -C's EICAR, which gzip turns into garbage.)
            let want = match (all_ok, as_written && *name == "eicar") {
                (false, _) => ResultCode::Failed,
                (true, true) => ResultCode::Infected,
                (true, false) => ResultCode::NoThreat,
            };
            assert_eq!(report.verdict(), want, "{file}: {:#?}", report.root);
            if as_written {
                whole += 1;
            } else {
                refused += 1;
            }
        }
    }
    // Every lzip and 10-16 bit stream read whole; ncompress's broken ones
    // refused by every reader (except one byte, which needs no table).
    assert!(
        whole >= inputs.len() * 8,
        "{whole} read whole, {refused} refused"
    );
    // An lzip stream behind junk (lzip itself refuses the file) or glued
    // after another file is found and scanned, not passed as data.
    let (packed, _) = stdout_of(d, "lzip", &["-c", "eicar"]).unwrap();
    for (what, data) in [
        ("junk before", [&b"junkjunk"[..], &packed].concat()),
        (
            "glued after",
            [&random_bytes(3000, 9)[..], &packed].concat(),
        ),
    ] {
        assert_eq!(
            scan(&data, "x.bin").verdict(),
            ResultCode::Infected,
            "{what}"
        );
    }
    // A code naming a table entry not made yet is damage: blocked, as
    // uncompress and gzip call it corrupt input.
    let damaged = [0x1f, 0x9d, 0x90, 0x61, 0xff, 0x01];
    assert_eq!(scan(&damaged, "bad.Z").verdict(), ResultCode::Failed);
}

/// Sparse files written by GNU tar in every sparse format it has (old GNU
/// `S` with extension headers, pax 0.0, 0.1 and 1.0), read back by GNU
/// tar and bsdtar: the member mdscan scans is the expanded file, holes as
/// zeros, byte for byte what both write out, under its real name. mdscan
/// used to scan the stored fragments of the pax formats (and pax 1.0's
/// map with them) as the member.
#[test]
fn sparse_tar_members_expand_as_gnu_tar_and_bsdtar_expand_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // (name, size, [(offset, bytes)]): the data runs; the rest are holes.
    let planted = planted();
    let many: Vec<(u64, Vec<u8>)> = (0..40u64)
        .map(|i| (i * 8192 + 1024, vec![b'a' + (i % 26) as u8; 700]))
        .collect();
    type Runs = Vec<(u64, Vec<u8>)>;
    let shapes: Vec<(&str, u64, Runs)> = vec![
        (
            "middle",
            600_000,
            vec![
                (100_000, planted.clone()),
                (300_000, b"EICARish".repeat(100)),
            ],
        ),
        ("leading", 70_000, vec![(65_536, b"tail".repeat(1000))]),
        ("holes", 1 << 20, vec![]),
        ("data", 5_000, vec![(0, random_bytes(5_000, 3))]),
        ("many", 40 * 8192, many),
    ];
    let formats: [(&str, &[&str]); 4] = [
        ("gnu", &["--format=gnu"]),
        ("pax0.0", &["--format=pax", "--sparse-version=0.0"]),
        ("pax0.1", &["--format=pax", "--sparse-version=0.1"]),
        ("pax1.0", &["--format=pax", "--sparse-version=1.0"]),
    ];
    for (name, size, runs) in &shapes {
        let mut want = vec![0u8; *size as usize];
        for (off, bytes) in runs {
            want[*off as usize..*off as usize + bytes.len()].copy_from_slice(bytes);
        }
        std::fs::write(d.join(name), &want).unwrap();
        for (format, args) in formats {
            let out = format!("{name}-{format}.tar");
            let Some((_, ok)) = stdout_of(
                d,
                "tar",
                &[args, &["-S", "--hole-detection=raw", "-cf", &out, name]].concat(),
            ) else {
                return;
            };
            assert!(ok, "tar {args:?} {name}");
            let tar = std::fs::read(d.join(&out)).unwrap();
            let report = scan(&tar, &out);
            assert_eq!(
                report.verdict(),
                ResultCode::NoThreat,
                "{out}: {:#?}",
                report.root
            );
            let child = &report.root.children[0];
            assert_eq!(child.name, *name, "{out}");
            assert_eq!(child.sha256, sha256_hex(&want), "{out}: not the file");
            for reader in ["tar", "bsdtar"] {
                let Some((theirs, ok)) = stdout_of(d, reader, &["-xOf", &out]) else {
                    return;
                };
                assert!(ok, "{reader} -xOf {out}");
                assert_eq!(child.sha256, sha256_hex(&theirs), "{reader} on {out}");
            }
        }
    }

    // By hand: EICAR and a hole behind it (pax 1.0, 0.1 and 0.0). The
    // stored bytes alone (with 1.0's map before them) are not EICAR; the
    // expanded file is. GNU tar's maps end with an empty fragment at the
    // real size; without it GNU tar ends the file at the last fragment
    // (EICAR alone) and bsdtar pads it to the real size: both readings
    // are scanned.
    let sparse_eicar = |terminated: bool| {
        let map_1 = if terminated {
            "2\n0\n68\n100\n0\n"
        } else {
            "1\n0\n68\n"
        };
        let map_01 = if terminated { "0,68,100,0" } else { "0,68" };
        let mut stored = map_1.as_bytes().to_vec();
        stored.resize(512, 0);
        stored.extend_from_slice(EICAR);
        let v1 = pax_tar(
            &[
                pax_record("GNU.sparse.major", "1"),
                pax_record("GNU.sparse.minor", "0"),
                pax_record("GNU.sparse.name", "eicar.com"),
                pax_record("GNU.sparse.realsize", "100"),
            ]
            .concat(),
            "GNUSparseFile.0/eicar.com",
            &stored,
        );
        let v01 = pax_tar(
            &[
                pax_record("GNU.sparse.size", "100"),
                pax_record("GNU.sparse.numblocks", if terminated { "2" } else { "1" }),
                pax_record("GNU.sparse.name", "eicar.com"),
                pax_record("GNU.sparse.map", map_01),
            ]
            .concat(),
            "GNUSparseFile.0/eicar.com",
            EICAR,
        );
        let mut records00 = vec![
            pax_record("GNU.sparse.size", "100"),
            pax_record("GNU.sparse.numblocks", if terminated { "2" } else { "1" }),
            pax_record("GNU.sparse.offset", "0"),
            pax_record("GNU.sparse.numbytes", "68"),
        ];
        if terminated {
            records00.push(pax_record("GNU.sparse.offset", "100"));
            records00.push(pax_record("GNU.sparse.numbytes", "0"));
        }
        let v00 = pax_tar(&records00.concat(), "eicar.com", EICAR);
        [("1.0", v1), ("0.1", v01), ("0.0", v00)]
    };
    let mut expanded = EICAR.to_vec();
    expanded.resize(100, 0);
    for terminated in [true, false] {
        for (what, tar) in sparse_eicar(terminated) {
            let file = format!("eicar{what}-{terminated}.tar");
            std::fs::write(d.join(&file), &tar).unwrap();
            let (gnu, ok) = stdout_of(d, "tar", &["-xOf", &file]).unwrap();
            assert!(ok, "tar on {file}");
            let (bsd, ok) = stdout_of(d, "bsdtar", &["-xOf", &file]).unwrap();
            assert!(ok, "bsdtar on {file}");
            assert_eq!(bsd, expanded, "bsdtar on {file}");
            assert_eq!(
                gnu,
                if terminated { &expanded[..] } else { EICAR },
                "tar on {file}"
            );
            let r = scan(&tar, &file);
            assert_eq!(r.verdict(), ResultCode::Infected, "{file}: {:#?}", r.root);
            let mut ours: Vec<(&str, &str)> = r
                .root
                .children
                .iter()
                .map(|c| (c.name.as_str(), c.sha256.as_str()))
                .collect();
            ours.sort();
            let mut want = vec![sha256_hex(&bsd)];
            if gnu != bsd {
                want.push(sha256_hex(&gnu));
            }
            want.sort();
            let shas: Vec<&str> = ours.iter().map(|(_, s)| *s).collect();
            assert_eq!(shas, want, "{file}");
            assert!(
                ours.iter().all(|(n, _)| *n == "eicar.com"),
                "{file}: {ours:?}"
            );
        }
    }

    // A map out of order, one past the real size, one that disagrees with
    // the stored bytes, an unknown format: blocked as damage.
    let bad = |records: &[Vec<u8>], data: &[u8]| pax_tar(&records.concat(), "x", data);
    for (what, tar) in [
        (
            "out of order",
            bad(
                &[
                    pax_record("GNU.sparse.size", "4096"),
                    pax_record("GNU.sparse.map", "2048,10,0,10"),
                ],
                &[7; 20],
            ),
        ),
        (
            "past the end",
            bad(
                &[
                    pax_record("GNU.sparse.size", "10"),
                    pax_record("GNU.sparse.map", "5,10"),
                ],
                &[7; 10],
            ),
        ),
        (
            "short",
            bad(
                &[
                    pax_record("GNU.sparse.size", "100"),
                    pax_record("GNU.sparse.map", "0,50"),
                ],
                &[7; 20],
            ),
        ),
        (
            "format 2.0",
            bad(
                &[
                    pax_record("GNU.sparse.major", "2"),
                    pax_record("GNU.sparse.minor", "0"),
                    pax_record("GNU.sparse.realsize", "10"),
                ],
                &[7; 10],
            ),
        ),
    ] {
        let r = scan(&tar, "bad.tar");
        assert_eq!(r.verdict(), ResultCode::Failed, "{what}: {:#?}", r.root);
    }

    // A terabyte of holes from one block: expanded under the limits, which
    // stop it; never allowed.
    let bomb = pax_tar(
        &[
            pax_record("GNU.sparse.size", &(1u64 << 40).to_string()),
            pax_record("GNU.sparse.map", "0,1"),
        ]
        .concat(),
        "bomb",
        b"x",
    );
    let r = scan(&bomb, "bomb.tar");
    assert_ne!(r.verdict(), ResultCode::NoThreat, "{:#?}", r.root);
}

/// Lone LZ4 and lzop streams, written by the `lz4` tool (standard frames
/// with independent and linked blocks, small blocks, block checksums,
/// content size; the legacy format; a skippable frame before a frame) and
/// by lzop 1.04 (levels 1 and 9, CRC-32 and no checksums), read back by
/// `lz4 -d` and `lzop -d`: the member mdscan scans is, byte for byte, what
/// the tool writes, and EICAR inside is found. Both used to be 23
/// (recognised, not opened). An lzop file of two parts is two members
/// under their names, as `lzop -dN` restores them; a stream cut short or
/// with a flipped byte blocks, as the tools refuse it.
#[test]
fn lone_lz4_and_lzop_streams_give_the_bytes_their_tools_give() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let inputs: Vec<(&str, Vec<u8>)> = vec![
        ("text", b"hello hello hello, compress me\n".repeat(40_000)),
        ("random", random_bytes(300_000, 7)),
        (
            "runs",
            (0..1_500_000u32).map(|i| (i / 5000) as u8).collect(),
        ),
        ("one", b"x".to_vec()),
        ("eicar", EICAR.to_vec()),
    ];
    let variants: [(&str, &[&str], &[&str]); 11] = [
        ("lz4", &["lz4", "-c", "-f"], &["lz4", "-dc"]),
        ("lz4", &["lz4", "-c", "-f", "-BD", "-B4"], &["lz4", "-dc"]),
        (
            "lz4",
            &["lz4", "-c", "-f", "-BD", "-B32768"],
            &["lz4", "-dc"],
        ),
        (
            "lz4",
            &["lz4", "-c", "-f", "-BX", "--content-size", "-9"],
            &["lz4", "-dc"],
        ),
        (
            "lz4",
            &["lz4", "-c", "-f", "--no-frame-crc"],
            &["lz4", "-dc"],
        ),
        ("lz4", &["lz4", "-c", "-f", "-l"], &["lz4", "-dc"]),
        ("lz4", &["lz4", "-c", "-f", "-l", "-12"], &["lz4", "-dc"]),
        ("lzo", &["lzop", "-c", "-1"], &["lzop", "-dc"]),
        ("lzo", &["lzop", "-c", "-9"], &["lzop", "-dc"]),
        ("lzo", &["lzop", "-c", "--crc32"], &["lzop", "-dc"]),
        ("lzo", &["lzop", "-c", "-F"], &["lzop", "-dc"]),
    ];
    for (name, data) in &inputs {
        std::fs::write(d.join(name), data).unwrap();
        for (i, (ext, writer, reader)) in variants.iter().enumerate() {
            let Some((packed, ok)) = stdout_of(d, writer[0], &[&writer[1..], &[*name]].concat())
            else {
                return;
            };
            assert!(ok && !packed.is_empty(), "{writer:?} on {name}");
            let file = format!("{name}-{i}.{ext}");
            std::fs::write(d.join(&file), &packed).unwrap();
            let (theirs, ok) =
                stdout_of(d, reader[0], &[&reader[1..], &[file.as_str()]].concat()).unwrap();
            assert!(ok && theirs == *data, "{reader:?} on {file}");
            let report = scan(&packed, &file);
            let want = if *name == "eicar" {
                ResultCode::Infected
            } else {
                ResultCode::NoThreat
            };
            assert_eq!(report.verdict(), want, "{file}: {:#?}", report.root);
            let child = &report.root.children[0];
            assert_eq!(child.sha256, sha256_hex(&theirs), "{file}");
            // lzop names the part after the file it packed.
            let want_name = if *ext == "lzo" {
                name.to_string()
            } else {
                format!("{name}-{i}")
            };
            assert_eq!(child.name, want_name, "{file}");

            // Cut short and flipped: blocked, as the tool refuses it (a
            // flip in lz4's unchecked data may still decode: then the
            // bytes must be what lz4 writes).
            let cut = &packed[..packed.len() - 1];
            std::fs::write(d.join("cut"), cut).unwrap();
            let (_, ok) = stdout_of(d, reader[0], &[&reader[1..], &["cut"]].concat()).unwrap();
            assert!(!ok, "{reader:?} took {file} cut short");
            let r = scan(cut, &file);
            // (EICAR may already be whole in what decoded before the cut.)
            let blocked = r.verdict() == ResultCode::Failed
                || (*name == "eicar" && r.verdict() == ResultCode::Infected);
            assert!(blocked, "{file} cut: {:#?}", r.root);
            if packed.len() > 40 {
                let mut flipped = packed.clone();
                let at = packed.len() / 2;
                flipped[at] ^= 0x10;
                std::fs::write(d.join("flipped"), &flipped).unwrap();
                let (theirs, ok) =
                    stdout_of(d, reader[0], &[&reader[1..], &["flipped"]].concat()).unwrap();
                let r = scan(&flipped, &file);
                if ok && r.verdict() != ResultCode::Failed {
                    // Read whole by both: the same bytes.
                    assert_eq!(
                        r.root.children[0].sha256,
                        sha256_hex(&theirs),
                        "{file} flipped at {at}"
                    );
                } else {
                    assert_ne!(r.verdict(), ResultCode::NoThreat, "{file} flipped at {at}");
                }
            }
        }
    }
    // A skippable frame before the frame (the `lz4` tool skips it).
    let (frame, _) = stdout_of(d, "lz4", &["-c", "eicar"]).unwrap();
    let mut skip = 0x184d_2a5fu32.to_le_bytes().to_vec();
    skip.extend_from_slice(&5u32.to_le_bytes());
    skip.extend_from_slice(b"hello");
    skip.extend_from_slice(&frame);
    std::fs::write(d.join("skip.lz4"), &skip).unwrap();
    let (theirs, ok) = stdout_of(d, "lz4", &["-dc", "skip.lz4"]).unwrap();
    assert!(ok && theirs == EICAR);
    assert_eq!(scan(&skip, "skip.lz4").verdict(), ResultCode::Infected);
    // An lz4 frame glued after other bytes is carved.
    let glued = [&random_bytes(3000, 9)[..], &frame].concat();
    assert_eq!(scan(&glued, "x.bin").verdict(), ResultCode::Infected);
    // Two lzop parts: two members under their names.
    let (two, _) = stdout_of(d, "lzop", &["-c", "text", "eicar"]).unwrap();
    let r = scan(&two, "two.lzo");
    let names: Vec<&str> = r.root.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["text", "eicar"]);
    assert_eq!(r.verdict(), ResultCode::Infected);
}

/// xar archives written by bsdtar (libarchive) with every compression it
/// offers (zlib, bzip2, xz, LZMA, none), members in nested directories,
/// read back member by member by bsdtar and 7-Zip (which refuses xz and
/// LZMA members as an unsupported method): every member mdscan
/// scans is, byte for byte, what both write out, under its path, and EICAR
/// inside is found. xar used to be 23 (recognised, not opened). A byte
/// changed in the heap, a cut TOC or heap blocks.
#[test]
fn xar_archives_read_as_bsdtar_and_7zip_read_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("src");
    std::fs::create_dir_all(src.join("sub/deeper")).unwrap();
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("a.txt", b"hello xar\n".repeat(1000)),
        ("sub/b.bin", random_bytes(200_000, 5)),
        ("sub/deeper/eicar.com", EICAR.to_vec()),
        ("empty", Vec::new()),
    ];
    for (name, data) in &files {
        std::fs::write(src.join(name), data).unwrap();
    }
    for compression in ["gzip", "bzip2", "xz", "lzma", "none"] {
        let file = format!("{compression}.xar");
        let Some((_, ok)) = stdout_of(
            d,
            "bsdtar",
            &[
                "--format=xar",
                "--options",
                &format!("xar:compression={compression}"),
                "-cf",
                &file,
                "-C",
                "src",
                ".",
            ],
        ) else {
            return;
        };
        assert!(ok, "bsdtar wrote {file}");
        let xar = std::fs::read(d.join(&file)).unwrap();
        let r = scan(&xar, &file);
        assert_eq!(r.verdict(), ResultCode::Infected, "{file}: {:#?}", r.root);
        for (name, data) in &files {
            let (bsd, ok) = stdout_of(d, "bsdtar", &["-xOf", &file, name]).unwrap();
            assert!(ok && bsd == *data, "bsdtar on {file}: {name}");
            // 7-Zip 26 does not decode xar's xz and LZMA members.
            let (seven, ok) = stdout_of(d, "7zz", &["e", "-so", &file, name]).unwrap();
            let seven_reads = !matches!(compression, "xz" | "lzma") || data.is_empty();
            assert!(
                !seven_reads || (ok && seven == *data),
                "7-Zip on {file}: {name}"
            );
            let ours = r
                .root
                .children
                .iter()
                .find(|c| c.name == *name)
                .unwrap_or_else(|| panic!("{file}: no {name}: {:#?}", r.root));
            assert_eq!(ours.sha256, sha256_hex(data), "{file}: {name}");
            let want = if name.ends_with("eicar.com") {
                ResultCode::Infected
            } else {
                ResultCode::NoThreat
            };
            assert_eq!(ours.scan_all_result_i, want, "{file}: {name}");
        }
        // A byte changed in the heap (member data), the TOC cut short.
        let mut changed = xar.clone();
        let last = changed.len() - 3;
        changed[last] ^= 0x55;
        let r = scan(&changed, &file);
        assert_ne!(r.verdict(), ResultCode::NoThreat, "{file} changed");
        let r = scan(&xar[..40], &file);
        assert_eq!(r.verdict(), ResultCode::Failed, "{file} cut");
    }
}

/// A WARC record of `kind` for `uri` with `extra` header lines and `block`.
fn warc_record(kind: &str, uri: &str, extra: &str, block: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "WARC/1.0\r\nWARC-Type: {kind}\r\nWARC-Target-URI: {uri}\r\nWARC-Record-ID: <urn:uuid:1>\r\n{extra}Content-Length: {}\r\n\r\n",
        block.len()
    )
    .into_bytes();
    r.extend_from_slice(block);
    r.extend_from_slice(b"\r\n\r\n");
    r
}

/// WARC archives: written by bsdtar (resource records), each member read
/// back by bsdtar (byte for byte but for the four NULs libarchive 3.6.2
/// appends to every record); the same gzip'd; and crawler-style
/// response records whose HTTP body is chunked and gzip-, deflate-,
/// brotli- or zstd-coded: the body a browser gets is a member of its own,
/// so EICAR served that way is found. WARC used to pass as text. A record
/// cut short or a broken chunked body blocks.
#[test]
fn warc_records_and_their_http_bodies_are_members() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("a.txt", b"hello warc\n".repeat(100)),
        ("b.bin", random_bytes(50_000, 11)),
        ("eicar.com", EICAR.to_vec()),
    ];
    for (name, data) in &files {
        std::fs::write(src.join(name), data).unwrap();
    }
    let Some((_, ok)) = stdout_of(
        d,
        "bsdtar",
        &[
            "--format=warc",
            "-cf",
            "x.warc",
            "-C",
            "src",
            "a.txt",
            "b.bin",
            "eicar.com",
        ],
    ) else {
        return;
    };
    assert!(ok);
    let warc = std::fs::read(d.join("x.warc")).unwrap();
    let r = scan(&warc, "x.warc");
    assert_eq!(r.root.file_type, "application/warc");
    assert_eq!(r.verdict(), ResultCode::Infected, "{:#?}", r.root);
    for (name, data) in &files {
        // libarchive 3.6.2 hands out each record's block followed by the
        // record's closing CRLF CRLF as four NUL bytes; the block itself
        // (what the WARC says the record holds) is the member.
        let (bsd, ok) = stdout_of(d, "bsdtar", &["-xOf", "x.warc", name]).unwrap();
        assert!(ok && bsd.starts_with(data), "bsdtar: {name}");
        assert!(
            bsd.len() <= data.len() + 4 && bsd[data.len()..].iter().all(|b| *b == 0),
            "bsdtar: {name}"
        );
        let ours = r
            .root
            .children
            .iter()
            .find(|c| c.name == *name)
            .unwrap_or_else(|| panic!("no {name}: {:#?}", r.root));
        assert_eq!(ours.sha256, sha256_hex(data), "{name}");
    }
    assert_eq!(
        scan(&gz(&warc), "x.warc.gz").verdict(),
        ResultCode::Infected
    );

    // Responses as crawlers store them.
    let chunked = |body: &[u8]| {
        let mut out = Vec::new();
        for part in body.chunks(7) {
            out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
            out.extend_from_slice(part);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        out
    };
    let brotli = |data: &[u8]| {
        let mut out = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
            std::io::Write::write_all(&mut w, data).unwrap();
        }
        out
    };
    let deflate_raw = |data: &[u8]| {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut e, data).unwrap();
        e.finish().unwrap()
    };
    for (coding, body) in [
        ("gzip", gz(EICAR)),
        ("deflate", zlib(EICAR)),
        ("deflate", deflate_raw(EICAR)),
        ("br", brotli(EICAR)),
        ("zstd", zst(EICAR)),
        ("identity", EICAR.to_vec()),
    ] {
        for chunk in [false, true] {
            let (te, payload) = if chunk {
                ("Transfer-Encoding: chunked\r\n", chunked(&body))
            } else {
                ("", body.clone())
            };
            let http = [
                format!("HTTP/1.1 200 OK\r\nContent-Encoding: {coding}\r\n{te}\r\n").as_bytes(),
                &payload,
            ]
            .concat();
            let warc = [
                warc_record("warcinfo", "", "", b"software: test\r\n"),
                warc_record(
                    "response",
                    "http://example.com/x/eicar.com",
                    "Content-Type: application/http; msgtype=response\r\n",
                    &http,
                ),
            ]
            .concat();
            let r = scan(&warc, "crawl.warc");
            assert_eq!(
                r.verdict(),
                ResultCode::Infected,
                "{coding}, chunked {chunk}: {:#?}",
                r.root
            );
            let body = r
                .root
                .children
                .iter()
                .find(|c| c.notes.iter().any(|n| n.contains("HTTP body")))
                .unwrap_or_else(|| panic!("{coding}: no body: {:#?}", r.root));
            assert_eq!(body.name, "example.com/x/eicar.com");
            assert_eq!(body.sha256, sha256_hex(EICAR), "{coding}, chunked {chunk}");
        }
    }

    // Cut short, a broken chunked body: blocked.
    let whole = warc_record("resource", "file://a", "", &files[0].1);
    let r = scan(&whole[..whole.len() - 50], "cut.warc");
    assert_eq!(r.verdict(), ResultCode::Failed, "{:#?}", r.root);
    let broken = warc_record(
        "response",
        "http://e.com/",
        "Content-Type: application/http\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello",
    );
    assert_eq!(scan(&broken, "b.warc").verdict(), ResultCode::Failed);
}

/// EPOC SIS installers: ClamAV's own `clam.sis` (Debian's
/// clamav-testfiles; release 6, Unicode names, its payload zlib'd) gives
/// the `clam.exe` of the same package byte for byte; hand-built release
/// 3-5 (stored) and release 6 (zlib'd, and NoCompress) packages, with a
/// conditional record and a multi-language file, give every copy; a file
/// created at install time is not looked for. `clam.sis` used to be
/// allowed as data (its UIDs in the order EPOC writes them were not
/// recognised). A package cut short blocks; an options record is 23.
#[test]
fn epoc_sis_installers_are_opened() {
    let clam = std::path::Path::new("/usr/share/clamav-testfiles");
    if clam.join("clam.sis").exists() {
        let sis = std::fs::read(clam.join("clam.sis")).unwrap();
        let exe = std::fs::read(clam.join("clam.exe")).unwrap();
        let r = scan(&sis, "clam.sis");
        assert_eq!(r.root.file_type, "application/vnd.symbian.install");
        assert_eq!(r.root.children.len(), 1, "{:#?}", r.root);
        assert_eq!(r.root.children[0].name, "clam.exe");
        assert_eq!(r.root.children[0].sha256, sha256_hex(&exe));
        assert_eq!(r.verdict(), ResultCode::NoThreat);
    } else if std::env::var_os("CI").is_some() {
        panic!("clamav-testfiles is not installed (CI installs it)");
    } else {
        crate::shared::skip("clamav-testfiles is not installed");
    }
    for (release6, options) in [(false, 0u16), (true, 0), (true, 1), (true, 8)] {
        let files = [
            SisFile {
                file_type: 0,
                dest: "!:\\system\\apps\\x\\readme.txt",
                forks: vec![b"read me"],
            },
            SisFile {
                file_type: 4,
                dest: "!:\\system\\apps\\x\\created.dat",
                forks: vec![b""],
            },
            SisFile {
                file_type: 0,
                dest: "!:\\system\\apps\\x\\eicar.com",
                forks: vec![b"quarterly figures", EICAR],
            },
        ];
        let sis = epoc_sis(release6, options, 2, true, &files);
        let what = format!("release6 {release6}, options {options}");
        let r = scan(&sis, "x.sis");
        assert_eq!(r.verdict(), ResultCode::Infected, "{what}: {:#?}", r.root);
        let names: Vec<&str> = r.root.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["readme.txt", "lang0.eicar.com", "lang1.eicar.com"],
            "{what}"
        );
        assert_eq!(r.root.children[2].sha256, sha256_hex(EICAR), "{what}");
        // Cut inside the last file: blocked.
        let r = scan(&sis[..sis.len() - 10], "x.sis");
        assert_ne!(r.verdict(), ResultCode::NoThreat, "{what} cut");
    }
    // An options record (type 2): 23, never allowed.
    let mut sis = epoc_sis(
        true,
        0,
        1,
        false,
        &[SisFile {
            file_type: 0,
            dest: "a",
            forks: vec![b"x"],
        }],
    );
    sis[100 + 2..100 + 6].copy_from_slice(&2u32.to_le_bytes());
    assert_eq!(
        scan(&sis, "x.sis").verdict(),
        ResultCode::UnsupportedFileType
    );
}

/// The files of a run of InstallShield disk records (name, path,
/// version, decimal length, bytes) from `at`, as (name, bytes).
fn disk_records(d: &[u8], mut at: usize) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    while at < d.len() {
        let mut fields = Vec::new();
        for _ in 0..4 {
            let end = at + d[at..].iter().position(|b| *b == 0).unwrap();
            fields.push(String::from_utf8_lossy(&d[at..end]).into_owned());
            at = end + 1;
        }
        let len: usize = fields[3].parse().unwrap();
        out.push((fields[0].clone(), d[at..at + len].to_vec()));
        at += len;
    }
    out
}

/// InstallShield 11-era one-file setups (ClamAV's `clam_IScab_ext.exe`
/// and `clam_IScab_int.exe`, Debian's clamav-testfiles): the overlay's
/// disk records are members under their paths, and the cabinet set they
/// carry (`data1.hdr` listing the files of `data1.cab` and `data2.cab`) is
/// read as unshield reads it: every file unshield extracts has its bytes
/// in mdscan's tree, and the packaged `clam.exe` is found by its hash.
/// Both setups used to be allowed (the payload never reached). A setup
/// cut inside a record blocks.
#[test]
fn installshield_disk_records_and_their_cabinet_sets_read_as_unshield_reads_them() {
    let clam = std::path::Path::new("/usr/share/clamav-testfiles");
    if !clam.is_dir() {
        assert!(
            std::env::var_os("CI").is_none(),
            "clamav-testfiles is not installed (CI installs it)"
        );
        crate::shared::skip("clamav-testfiles is not installed");
        return;
    }
    let exe = std::fs::read(clam.join("clam.exe")).unwrap();
    let mut hashes = mdcore::HashEngineBuilder::new();
    hashes
        .add_text(
            &format!("{}:544:Clam-Test\n", sha256_hex(&exe)),
            mdcore::ListKind::Block,
        )
        .unwrap();
    let scanner = mdcore::ScannerBuilder::new()
        .engine(std::sync::Arc::new(hashes.build()))
        .build()
        .unwrap();
    for name in ["clam_IScab_ext.exe", "clam_IScab_int.exe"] {
        let setup = std::fs::read(clam.join(name)).unwrap();
        let r = scanner.scan_bytes(&setup, &ScanOptions::new().name(name));
        assert_eq!(
            r.verdict(),
            ResultCode::Blocklisted,
            "{name}: {:#?}",
            r.root
        );
        let mut shas = Vec::new();
        fn walk(n: &mdcore::Node, out: &mut Vec<String>) {
            for c in &n.children {
                out.push(c.sha256.clone());
                walk(c, out);
            }
        }
        walk(&r.root, &mut shas);
        // The records start where the PE image ends (0x1c200 in both).
        let files = disk_records(&setup, 0x1c200);
        let dir = tempfile::tempdir().unwrap();
        for (n, bytes) in &files {
            std::fs::write(dir.path().join(n), bytes).unwrap();
            assert!(shas.contains(&sha256_hex(bytes)), "{name}: record {n}");
        }
        if files.iter().any(|(n, _)| n == "data1.hdr") {
            let Some((_, ok)) = stdout_of(dir.path(), "unshield", &["-d", "out", "x", "data1.cab"])
            else {
                return;
            };
            assert!(ok, "unshield on {name}");
            let out = dir.path().join("out");
            let mut seen = 0;
            let mut stack = vec![out];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).unwrap().flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        stack.push(p);
                    } else {
                        let bytes = std::fs::read(&p).unwrap();
                        if !bytes.is_empty() {
                            seen += 1;
                            assert!(
                                shas.contains(&sha256_hex(&bytes)),
                                "{name}: {}",
                                p.display()
                            );
                        }
                    }
                }
            }
            assert!(seen >= 5, "{name}: unshield wrote {seen} files");
        }
        let cut = &setup[..setup.len() - 1000];
        let r = scanner.scan_bytes(cut, &ScanOptions::new().name(name));
        assert_ne!(r.verdict(), ResultCode::NoThreat, "{name} cut");
    }
}

/// Every non-empty regular file under `dir`: (path below it, sha256).
fn written_files(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                stack.push(p);
            } else if meta.is_file() && meta.len() > 0 {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, sha256_hex(&std::fs::read(&p).unwrap())));
            }
        }
    }
    out.sort();
    out
}

/// Tar archives GNU tar writes in every `--format` it has (gnu, oldgnu,
/// pax, posix, ustar, v7), with long and non-ASCII names, an empty file,
/// a big file, a hard link and a symbolic link, each also compressed:
/// extracted by GNU tar and by bsdtar, every non-empty file either writes
/// is, byte for byte, an object in mdscan's tree.
#[test]
fn tar_of_every_gnu_format_reads_as_gnu_tar_and_bsdtar_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("src");
    let long = format!("{}/{}.txt", "sub".repeat(30), "n".repeat(60));
    let files: Vec<(String, Vec<u8>)> = vec![
        ("plain.txt".into(), b"plain text\n".repeat(50)),
        (
            "caf\u{e9}-\u{65e5}\u{672c}.bin".into(),
            random_bytes(5000, 21),
        ),
        ("empty".into(), Vec::new()),
        ("big.bin".into(), random_bytes(3 << 20, 22)),
        (long.clone(), b"deep and long".to_vec()),
        ("eicar.com".into(), EICAR.to_vec()),
    ];
    for (name, data) in &files {
        let p = src.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
    }
    std::fs::hard_link(src.join("plain.txt"), src.join("hard.txt")).unwrap();
    std::os::unix::fs::symlink("plain.txt", src.join("soft.txt")).unwrap();
    let mut tried = 0;
    for format in ["gnu", "oldgnu", "pax", "posix", "ustar", "v7"] {
        for (flag, ext) in [("", "tar"), ("-z", "tar.gz"), ("-J", "tar.xz")] {
            let out = format!("{format}.{ext}");
            let mut args = vec!["-c", "-f", &out, "-C", "src"];
            if !flag.is_empty() {
                args.insert(0, flag);
            }
            let fmt = format!("--format={format}");
            args.insert(0, &fmt);
            args.push(".");
            let Some((_, ok)) = stdout_of(d, "tar", &args) else {
                return;
            };
            if !ok {
                // ustar and v7 cannot hold the long name: GNU tar refuses.
                assert!(matches!(format, "ustar" | "v7"), "tar {format} failed");
                continue;
            }
            tried += 1;
            let archive = std::fs::read(d.join(&out)).unwrap();
            let r = scan(&archive, &out);
            assert_eq!(r.verdict(), ResultCode::Infected, "{out}: {:#?}", r.root);
            let mut ours = Vec::new();
            fn walk(n: &mdcore::Node, out: &mut Vec<(String, String)>) {
                for c in &n.children {
                    out.push((c.name.clone(), c.sha256.clone()));
                    walk(c, out);
                }
            }
            walk(&r.root, &mut ours);
            for (reader, xargs) in [("tar", vec!["-x", "-f"]), ("bsdtar", vec!["-x", "-f"])] {
                let into = d.join(format!("x-{reader}-{out}"));
                std::fs::create_dir_all(&into).unwrap();
                let archive_path = d.join(&out).display().to_string();
                let into_s = into.display().to_string();
                let mut a: Vec<&str> = xargs.clone();
                a.push(&archive_path);
                a.push("-C");
                a.push(&into_s);
                let Some((_, ok)) = stdout_of(d, reader, &a) else {
                    return;
                };
                assert!(ok, "{reader} on {out}");
                // (A hard link's bytes are scanned under the name that
                // carries them in the archive.)
                for (path, sha) in written_files(&into) {
                    let found = ours.iter().any(|(_, s)| *s == sha);
                    assert!(
                        found,
                        "{reader} on {out}: `{path}`'s bytes are not in mdscan's tree"
                    );
                }
            }
        }
    }
    assert!(tried >= 12, "{tried} archives");
}
