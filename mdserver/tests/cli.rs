//! `mdscan scan` end to end: the real binary, real files, exit codes.

use std::io::Write;
use std::path::Path;
use std::process::Command;

pub const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

pub fn mdscan(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mdscan"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn exit_codes_follow_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("clean.txt"), "hello\n").unwrap();
    std::fs::create_dir_all(d.join("tree/deeper")).unwrap();
    let nested = zip_of(&[("inner.zip", &zip_of(&[("eicar.com", EICAR)]))]);
    std::fs::write(d.join("tree/deeper/bundle.zip"), &nested).unwrap();

    let (code, _, err) = mdscan(&["scan", "clean.txt"], d);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("scanned 1 files"), "{err}");

    // A directory is searched recursively; a threat anywhere exits 1 and is
    // named with its full path inside the archive.
    let (code, out, err) = mdscan(&["scan", "clean.txt", "tree"], d);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("tree/deeper/bundle.zip/inner.zip/eicar.com"),
        "{out}"
    );
    assert!(out.contains("EICAR_Test_File"), "{out}");

    // A limit hit blocks too.
    let (code, out, _) = mdscan(&["scan", "--max-depth", "1", "tree"], d);
    assert_eq!(code, 1);
    assert!(out.contains("Exceeded Archive Depth"), "{out}");

    // A missing file is an error: 2.
    let (code, _, err) = mdscan(&["scan", "clean.txt", "missing.bin"], d);
    assert_eq!(code, 2);
    assert!(err.contains("missing.bin"), "{err}");
}

#[test]
fn json_is_one_report_per_input_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.txt"), "a").unwrap();
    std::fs::write(d.join("e.zip"), zip_of(&[("eicar.com", EICAR)])).unwrap();
    let (code, out, _) = mdscan(&["scan", "--json", "a.txt", "e.zip"], d);
    assert_eq!(code, 1);
    let mut lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines.sort_by_key(|v| v["root"]["display_name"].as_str().unwrap().to_string());
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["root"]["scan_all_result_a"], "No Threat Detected");
    assert_eq!(lines[1]["root"]["scan_all_result_i"], 1);
    assert_eq!(
        lines[1]["root"]["children"][0]["scan_details"]["YARA-X"]["threat_found"],
        "EICAR_Test_File"
    );
}

#[test]
fn rules_hashes_and_passwords_from_flags() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("mine.yar"),
        "rule Custom_Marker { strings: $m = \"custom-marker\" condition: $m }",
    )
    .unwrap();
    std::fs::write(d.join("sample.txt"), "has a custom-marker inside").unwrap();
    let (code, out, err) = mdscan(
        &[
            "scan",
            "--rules",
            "mine.yar",
            "--no-default-rules",
            "sample.txt",
        ],
        d,
    );
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("Custom_Marker"), "{out}");

    // A ClamAV .hdb entry (md5:size:name) for the file blocks it.
    std::fs::write(d.join("bad.bin"), "bad bytes").unwrap();
    let md5 = {
        let (_, out, _) = mdscan(&["scan", "--json", "bad.bin"], d);
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        v["root"]["md5"].as_str().unwrap().to_string()
    };
    std::fs::write(d.join("feed.hdb"), format!("{md5}:9:Test.Bad.Bytes\n")).unwrap();
    let (code, out, _) = mdscan(&["scan", "--hashes", "feed.hdb", "bad.bin"], d);
    assert_eq!(code, 1);
    assert!(out.contains("Blocklisted"), "{out}");

    // A rule file that does not compile is a start-up error naming it.
    std::fs::write(d.join("broken.yar"), "rule x {").unwrap();
    let (code, _, err) = mdscan(&["scan", "--rules", "broken.yar", "sample.txt"], d);
    assert_eq!(code, 2);
    assert!(err.contains("broken.yar"), "{err}");
}

#[test]
fn clamav_databases_with_d_as_clamscan_takes_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("db")).unwrap();
    // A body signature (hex of "mdscan-clamav-cli") and a loose file:
    // the name is clamscan's, `.UNOFFICIAL` appended.
    std::fs::write(
        d.join("db/local.ndb"),
        "Local.Cli-1:0:*:6d647363616e2d636c616d61762d636c69\n",
    )
    .unwrap();
    std::fs::write(d.join("db/notes.txt"), "not a database, passed over").unwrap();
    std::fs::write(d.join("sample.txt"), "xx mdscan-clamav-cli xx").unwrap();
    let (code, out, err) = mdscan(&["scan", "-d", "db", "sample.txt"], d);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("Local.Cli-1.UNOFFICIAL"), "{out}");
    let (code, out, _) = mdscan(
        &["scan", "--database", "db/local.ndb", "--json", "sample.txt"],
        d,
    );
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        v["root"]["scan_details"]["ClamAV"]["threat_found"],
        "Local.Cli-1.UNOFFICIAL"
    );
    // A malformed line stops the start, naming file and line.
    std::fs::write(d.join("bad.ndb"), "Ok:0:*:41424344\nBad:0:*:4142\n").unwrap();
    let (code, _, err) = mdscan(&["scan", "-d", "bad.ndb", "sample.txt"], d);
    assert_eq!(code, 2);
    assert!(err.contains("bad.ndb") && err.contains("line 2"), "{err}");
}

#[test]
fn limit_and_password_flags_reach_the_scanner() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let many: Vec<(String, Vec<u8>)> = (0..20)
        .map(|i| (format!("f{i}.txt"), format!("file {i}").into_bytes()))
        .collect();
    let entries: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    std::fs::write(d.join("many.zip"), zip_of(&entries)).unwrap();
    let (code, out, _) = mdscan(
        &["scan", "--threads", "1", "--max-files", "5", "many.zip"],
        d,
    );
    assert_eq!(code, 1);
    assert!(out.contains("Exceeded Archive File Number"), "{out}");
    let (code, out, _) = mdscan(&["scan", "--timeout", "0", "many.zip"], d);
    assert_eq!(code, 1);
    assert!(out.contains("Exceeded Archive Timeout"), "{out}");
    let (code, out, _) = mdscan(&["scan", "--max-size", "50", "many.zip"], d);
    assert_eq!(code, 1);
    assert!(out.contains("Exceeded Archive Size"), "{out}");
    let (code, _, _) = mdscan(&["scan", "--max-size", "1K", "many.zip"], d);
    assert_eq!(code, 0, "20 files of 7 bytes fit in 1 KiB");

    // AES-encrypted zip: blocked (12) without the password, infected with it.
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().with_aes_encryption(zip::AesMode::Aes256, "pw");
    w.start_file("eicar.com", opts).unwrap();
    w.write_all(EICAR).unwrap();
    std::fs::write(d.join("enc.zip"), w.finish().unwrap().into_inner()).unwrap();
    let (code, out, _) = mdscan(&["scan", "enc.zip"], d);
    assert_eq!(code, 1);
    assert!(out.contains("Encrypted Archive"), "{out}");
    let (code, out, _) = mdscan(
        &["scan", "--password", "x", "--password", "pw", "enc.zip"],
        d,
    );
    assert_eq!(code, 1);
    assert!(out.contains("EICAR_Test_File"), "{out}");
}

#[test]
fn what_was_not_examined_blocks_and_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // An ACE archive (recognised, not opened): 23, exit 1, "not examined".
    let mut ace = b"\x12\x34\x56\x00\x00\x00\x00**ACE**".to_vec();
    ace.extend_from_slice(&[0; 64]);
    std::fs::write(d.join("a.ace"), &ace).unwrap();
    let (code, out, err) = mdscan(&["scan", "a.ace"], d);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("Unsupported file type"), "{out}");
    assert!(err.contains("1 blocked (1 not examined)"), "{err}");
    // A truncated zip: Failed (3) blocks too.
    let zip = zip_of(&[("a.txt", b"hello world, hello world, hello world")]);
    std::fs::write(d.join("cut.zip"), &zip[..zip.len() / 2]).unwrap();
    let (code, out, err) = mdscan(&["scan", "cut.zip"], d);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("(1 not examined)"), "{err}");
    // A zip behind a junk prefix is found.
    let mut hidden = b"junk junk junk junk\n".repeat(10);
    hidden.extend_from_slice(&zip_of(&[("eicar.com", EICAR)]));
    std::fs::write(d.join("note.txt"), &hidden).unwrap();
    let (code, out, _) = mdscan(&["scan", "note.txt"], d);
    assert_eq!(code, 1);
    assert!(
        out.contains("note.txt/[embedded@200].zip/eicar.com"),
        "{out}"
    );
}

/// A macro-enabled Word document built by hand: a VBA project part, its
/// relationship and the macro-enabled main type.
fn docm() -> Vec<u8> {
    zip_of(&[
        (
            "[Content_Types].xml",
            br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/><Override PartName="/word/document.xml" ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/></Types>"#,
        ),
        (
            "_rels/.rels",
            br#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#,
        ),
        (
            "word/_rels/document.xml.rels",
            br#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId9" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/></Relationships>"#,
        ),
        (
            "word/document.xml",
            br#"<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Hello</w:t></w:r></w:p></w:body></w:document>"#,
        ),
        ("word/vbaProject.bin", b"\xd0\xcf\x11\xe0 not really a project"),
    ])
}

fn zip_names(data: &[u8]) -> Vec<String> {
    let z = zip::ZipArchive::new(std::io::Cursor::new(data)).unwrap();
    z.file_names().map(|n| n.unwrap().to_string()).collect()
}

#[test]
fn sanitize_writes_a_clean_copy_and_refuses_what_it_can_not_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("in.docm"), docm()).unwrap();
    let (code, out, err) = mdscan(&["sanitize", "in.docm", "out.docx"], d);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("(docx): removed 1 macro"), "{out}");
    let copy = std::fs::read(d.join("out.docx")).unwrap();
    let names = zip_names(&copy);
    assert!(!names.iter().any(|n| n.contains("vbaProject")), "{names:?}");
    assert!(names.contains(&"word/document.xml".to_string()));

    // JSON: MetaDefender's post_processing.
    let (code, out, _) = mdscan(&["sanitize", "--json", "in.docm", "out2.docx"], d);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["actions_ran"], "Sanitized");
    assert_eq!(v["converted_to"], "docx");
    assert_eq!(
        v["sanitization_details"]["details"][0]["object_name"],
        "macro"
    );

    // An existing output is never replaced; a type without a sanitizer,
    // or a package that can not be rebuilt, writes nothing.
    let (code, _, _) = mdscan(&["sanitize", "in.docm", "out.docx"], d);
    assert_eq!(code, 2);
    assert_eq!(std::fs::read(d.join("out.docx")).unwrap(), copy);
    std::fs::write(d.join("a.txt"), b"plain").unwrap();
    let (code, _, err) = mdscan(&["sanitize", "a.txt", "a.out"], d);
    assert_eq!(code, 2);
    assert!(err.contains("no sanitizer"), "{err}");
    assert!(!d.join("a.out").exists());
    let mut broken = docm();
    broken.truncate(broken.len() - 30);
    std::fs::write(d.join("cut.docm"), broken).unwrap();
    let (code, out, _) = mdscan(&["sanitize", "--json", "cut.docm", "cut.docx"], d);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["actions_failed"], "Sanitization Failed");
    assert!(!d.join("cut.docx").exists());
}

#[test]
fn scan_with_sanitize_adds_post_processing_and_writes_copies() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("in")).unwrap();
    std::fs::write(d.join("in/report.docm"), docm()).unwrap();
    std::fs::write(d.join("in/notes.txt"), b"nothing to sanitize").unwrap();
    let (code, out, err) = mdscan(&["scan", "--json", "--sanitize", "cdr", "in"], d);
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let docm = lines
        .iter()
        .find(|v| {
            v["root"]["display_name"]
                .as_str()
                .unwrap()
                .ends_with("report.docm")
        })
        .unwrap();
    assert_eq!(docm["post_processing"]["actions_ran"], "Sanitized");
    let dest = docm["post_processing"]["converted_destination"]
        .as_str()
        .unwrap();
    assert!(dest.ends_with("cdr/report.docx"), "{dest}");
    assert!(
        !zip_names(&std::fs::read(d.join("cdr/report.docx")).unwrap())
            .iter()
            .any(|n| n.contains("vbaProject"))
    );
    let txt = lines
        .iter()
        .find(|v| {
            v["root"]["display_name"]
                .as_str()
                .unwrap()
                .ends_with("notes.txt")
        })
        .unwrap();
    assert!(txt.get("post_processing").is_none());
}

#[test]
fn scan_dash_reads_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let run = |data: &[u8]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mdscan"))
            .args(["scan", "-"])
            .current_dir(dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        {
            let mut stdin = child.stdin.take().unwrap();
            // Past the default spill threshold (16 MiB) in pieces: read as
            // a stream, not a file.
            for chunk in data.chunks(1 << 20) {
                stdin.write_all(chunk).unwrap();
            }
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = run(EICAR);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("stdin: Infected (EICAR_Test_File in stdin)"),
        "{out}"
    );
    let mut big = vec![b'a'; 20 << 20];
    big.extend_from_slice(b"\n");
    let (code, out) = run(&big);
    assert_eq!((code, out.as_str()), (0, ""));
    let zip = zip_of(&[("in/eicar.txt", EICAR)]);
    let (code, out) = run(&zip);
    assert_eq!(code, 1, "{out}");
}

/// `--define NAME=VALUE` reaches the rules, and LOKI's externals are set
/// per object: a rule on `extension` and `filepath` matches the member of
/// a zip, not the zip. Neo23x0's signature-base (which uses LOKI's
/// externals in 13 files and was refused as a directory with E009
/// "unknown identifier filename") loads unchanged.
#[test]
fn yara_defines_and_loki_externals() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("ext.yar"),
        r#"rule Scripted { condition: extension == ".vbs" and filepath endswith "/run.vbs" and site == "lab" }"#,
    )
    .unwrap();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("dir/run.vbs", zip::write::SimpleFileOptions::default())
        .unwrap();
    std::io::Write::write_all(&mut zip, b"WScript.Echo 1\n").unwrap();
    std::fs::write(d.join("pack.zip"), zip.finish().unwrap().into_inner()).unwrap();
    let args = |site: &str| {
        vec![
            "scan".to_string(),
            "--rules".into(),
            "ext.yar".into(),
            "--no-default-rules".into(),
            "--define".into(),
            format!("site={site}"),
            "pack.zip".into(),
        ]
    };
    let a = args("lab");
    let (code, out, err) = mdscan(&a.iter().map(String::as_str).collect::<Vec<_>>(), d);
    assert_eq!(code, 1, "{out} {err}");
    assert!(out.contains("Scripted in pack.zip/dir/run.vbs"), "{out}");
    let a = args("home");
    let (code, out, err) = mdscan(&a.iter().map(String::as_str).collect::<Vec<_>>(), d);
    assert_eq!(code, 0, "{out} {err}");
    let (code, _, err) = mdscan(&["scan", "--define", "novalue", "pack.zip"], d);
    assert_eq!(code, 2, "{err}");

    let base = [
        std::env::var("MDSCAN_FIXTURES")
            .ok()
            .map(std::path::PathBuf::from),
        Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures")),
        Some("/work/shared/fixtures".into()),
    ]
    .into_iter()
    .flatten()
    .map(|f| f.join("yara-rulesets/signature-base/yara"))
    .find(|p| p.is_dir());
    let Some(base) = base else {
        assert!(
            std::env::var_os("CI").is_none(),
            "the shared fixtures (signature-base) are not found; set MDSCAN_FIXTURES"
        );
        eprintln!("SKIPPED: signature-base is not found");
        return;
    };
    let (code, out, err) = mdscan(
        &[
            "scan",
            "--no-default-rules",
            "--rules",
            base.to_str().unwrap(),
            "pack.zip",
        ],
        d,
    );
    assert!(
        code == 0 || code == 1,
        "signature-base did not load: {out} {err}"
    );
}
