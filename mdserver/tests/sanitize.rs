//! Sanitization through `mdscan serve`, the issue's "done means": a docm
//! with an AutoOpen macro, a PDF with an OpenAction JavaScript and an
//! embedded EXE, an RTF with an OLE object, and a zip of all three, POSTed
//! to `/file`, come back with a copy at `/file/converted/{id}` that
//! oletools, pdfid, qpdf and LibreOffice call clean and readable.

use std::io::{Cursor, Read};
use std::path::Path;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::cdr::*;
use crate::cli::zip_of;
use crate::server::{Server, client, upload, wait};

const CONFIG: &str = r#"
[[workflows]]
name = "File scan"
[workflows.sanitize]
enabled = true

[[workflows]]
name = "Lenient"
[workflows.sanitize]
enabled = true
block_on_failure = false
"#;

fn converted(s: &Server, id: &str, range: Option<&str>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = client().get(s.url(&format!("/file/converted/{id}")));
    if let Some(r) = range {
        req = req.header("range", r);
    }
    let r = req.send().unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    (status, headers, r.bytes().unwrap().to_vec())
}

/// Uploads and waits for the result document.
fn scan(s: &Server, name: &str, data: &[u8], headers: &[(&str, &str)]) -> (String, Value) {
    let (st, v) = upload(s, name, data, headers);
    assert_eq!(st, StatusCode::OK, "{v}");
    let id = v["data_id"].as_str().unwrap().to_string();
    let doc = wait(s, &id, None);
    (id, doc)
}

/// The verifiers' judgement of one sanitized file, by type.
fn judge(dir: &Path, name: &str, data: &[u8]) {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    let p = path.to_str().unwrap();
    match name.rsplit('.').next().unwrap() {
        "docx" => {
            let (out, _) = verifier("olevba", &[p]);
            assert!(out.contains("No VBA or XLM macros found"), "{name}: {out}");
            let (_, code) = verifier("mraptor", &[p]);
            assert_eq!(code, 0, "mraptor on {name}");
            let text = text_of_document(dir, name, data);
            assert!(text.contains("marker 4711"), "{name}: {text}");
        }
        "pdf" => {
            let counts = pdfid_counts(&path);
            assert!(counts.iter().all(|(_, n)| *n == 0), "{name}: {counts:?}");
            qpdf_check(dir, name);
            let text = pdftotext(dir, name);
            assert!(text.contains("marker 4711"), "{name}: {text}");
        }
        "rtf" => {
            let (out, _) = verifier("rtfobj", &[p]);
            assert!(!out.contains("Package"), "{name}: {out}");
            let text = text_of_document(dir, name, data);
            assert!(text.contains("marker 4711"), "{name}: {text}");
        }
        other => panic!("{name}: no verifier for {other}"),
    }
}

#[test]
fn sanitized_copies_of_the_issue_samples_come_back_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let make = |sub: &str| {
        let d = dir.path().join(sub);
        std::fs::create_dir_all(&d).unwrap();
        d
    };
    let Some(docm) = docm_sample(&make("docm")) else {
        return;
    };
    let pdf = pdf_sample(&make("pdf")).expect("LibreOffice made the docm");
    let rtf = rtf_sample(&make("rtf")).expect("LibreOffice made the docm");
    let zip = zip_of(&[
        ("bad.docm", &docm),
        ("bad.pdf", &pdf),
        ("bad.rtf", rtf.as_bytes()),
    ]);
    let s = Server::start(dir.path(), Some(CONFIG));
    let out = make("out");
    for (name, data, ext) in [
        ("bad.docm", docm.as_slice(), "docx"),
        ("bad.pdf", pdf.as_slice(), "pdf"),
        ("bad.rtf", rtf.as_bytes(), "rtf"),
        ("bad.zip", zip.as_slice(), "zip"),
    ] {
        let (id, doc) = scan(&s, name, data, &[]);
        let pp = &doc["process_info"]["post_processing"];
        assert_eq!(pp["actions_ran"], "Sanitized", "{name}: {doc}");
        assert_eq!(pp["actions_failed"], "", "{name}");
        assert_eq!(pp["converted_to"], ext, "{name}");
        assert_eq!(pp["converted_destination"], format!("bad.{ext}"), "{name}");
        let details = pp["sanitization_details"]["details"].as_array().unwrap();
        assert!(
            !details.is_empty(),
            "{name}: nothing reported removed: {pp}"
        );
        for d in details {
            assert!(
                d["count"].as_u64().unwrap() > 0 && d["action"] == "removed",
                "{d}"
            );
        }
        let (st, headers, copy) = converted(&s, &id, None);
        assert_eq!(
            st,
            StatusCode::OK,
            "{name}: {}",
            String::from_utf8_lossy(&copy)
        );
        let disposition = headers["content-disposition"].to_str().unwrap();
        assert!(disposition.contains(&format!("bad.{ext}")), "{disposition}");
        if ext == "zip" {
            let mut z = zip::ZipArchive::new(Cursor::new(&copy)).unwrap();
            let mut names: Vec<String> = z.file_names().map(|n| n.unwrap().to_string()).collect();
            names.sort();
            assert_eq!(names, ["bad.docx", "bad.pdf", "bad.rtf"]);
            for n in names {
                let mut member = Vec::new();
                z.by_name(&n).unwrap().read_to_end(&mut member).unwrap();
                let sub = make(&format!("zip-{n}"));
                judge(&sub, &n, &member);
            }
        } else {
            judge(&make(&format!("copy-{ext}")), &format!("bad.{ext}"), &copy);
        }
        // One range of the copy.
        let (st, headers, part) = converted(&s, &id, Some("bytes=0-9"));
        assert_eq!(st, StatusCode::PARTIAL_CONTENT);
        assert_eq!(part, copy[..10]);
        assert_eq!(
            headers["content-range"].to_str().unwrap(),
            format!("bytes 0-9/{}", copy.len())
        );
    }
    drop(out);

    // A type without a sanitizer: nothing ran, and no copy (404 with the
    // documented error).
    let (id, doc) = scan(&s, "notes.txt", b"just words\n", &[]);
    assert_eq!(doc["process_info"]["post_processing"]["actions_ran"], "");
    assert_eq!(doc["process_info"]["result"], "Allowed", "{doc}");
    let (st, _, body) = converted(&s, &id, None);
    assert_eq!(st, StatusCode::NOT_FOUND);
    let err: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(err["err"], "File could not be found", "{err}");

    // A document of a sanitized type that can not be rebuilt blocks ...
    let (id, doc) = scan(&s, "broken.docx", b"hello, only text\n", &[]);
    let pi = &doc["process_info"];
    assert_eq!(
        pi["post_processing"]["actions_failed"],
        "Sanitization Failed"
    );
    assert_eq!(pi["result"], "Blocked", "{doc}");
    assert_eq!(pi["blocked_reason"], "Sanitization failed", "{doc}");
    assert_eq!(converted(&s, &id, None).0, StatusCode::NOT_FOUND);
    // ... or passes with a note where the workflow says so.
    let (_, doc) = scan(
        &s,
        "broken.docx",
        b"hello, only text\n",
        &[("rule", "Lenient")],
    );
    assert_eq!(
        doc["process_info"]["post_processing"]["actions_failed"],
        "Sanitization Failed"
    );
    let notes = doc["mdscan"]["notes"].to_string();
    assert!(notes.contains("not sanitized"), "{doc}");
    assert_ne!(doc["process_info"]["blocked_reason"], "Sanitization failed");
}

#[test]
fn the_built_in_sanitize_workflow_works_with_no_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), None);
    let rules = crate::server::get(&s, "/file/rules", None).1;
    let names: Vec<&str> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["File scan", "Sanitize"]);
    let page: &[u8] = b"<html><body><p>kept text</p><script>alert(1)</script></body></html>";
    // The default workflow does not sanitize; "Sanitize", picked with the
    // rule header as MetaDefender's clients pick it, does.
    let (id, _) = scan(&s, "page.html", page, &[]);
    assert_eq!(converted(&s, &id, None).0, StatusCode::NOT_FOUND);
    let (id, doc) = scan(&s, "page.html", page, &[("rule", "Sanitize")]);
    assert_eq!(doc["process_info"]["profile"], "Sanitize", "{doc}");
    let (status, _, copy) = converted(&s, &id, None);
    assert_eq!(status, StatusCode::OK);
    let copy = String::from_utf8(copy).unwrap();
    assert!(
        copy.contains("kept text") && !copy.contains("<script"),
        "{copy}"
    );
}
