//! PDF: embedded files, JavaScript, filters, objects outside the xref,
//! object streams and encryption — files made by qpdf and by hand, each
//! with a clean twin.

use mdcore::{ResultCode, ScanOptions, ScannerBuilder};

use crate::util::*;

const CLEAN: &[u8] = b"an ordinary attachment, nothing to see";

#[test]
fn embedded_files_and_javascript_are_children() {
    let r = scan(
        &pdf_with_attachment("eicar.com", EICAR, "app.alert\\(1\\)"),
        "a.pdf",
    );
    assert_eq!(r.root.file_type, "application/pdf");
    assert_eq!(threat_paths(&r), vec!["a.pdf/eicar.com"], "{:#?}", r.root);
    let js = r
        .root
        .iter()
        .find(|n| n.name == "javascript-1.js")
        .expect("the open action's script is a child");
    assert_eq!(js.file_size, "app.alert(1)".len() as u64);
    let clean = scan(
        &pdf_with_attachment("note.txt", CLEAN, "app.alert\\(1\\)"),
        "a.pdf",
    );
    assert_eq!(clean.verdict(), ResultCode::NoThreat, "{:#?}", clean.root);
}

#[test]
fn javascript_in_streams_and_names_is_scanned_by_rules() {
    let s = ScannerBuilder::new()
        .rules_source(
            "pdf.yar",
            "rule Pdf_Launch { strings: $a = \"app.launchURL\" condition: $a }",
        )
        .build()
        .unwrap();
    let pdf = |js: &[u8]| {
        pdf_of(&[
            b"<< /Type /Catalog /Pages 2 0 R /Names << /JavaScript 4 0 R >> >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            // An annotation's action whose script is a compressed stream.
            b"<< /Type /Page /Parent 2 0 R /Annots [<< /Subtype /Link /A << /S /JavaScript /JS 5 0 R >> >>] >>".to_vec(),
            b"<< /Names [(x) << /S /JavaScript /JS (var a = 1;) >>] >>".to_vec(),
            pdf_stream("/Filter /FlateDecode", &zlib(js)),
        ])
    };
    let r = s.scan_bytes(
        &pdf(b"app.launchURL('http://x')"),
        &ScanOptions::new().name("a.pdf"),
    );
    assert_eq!(
        threat_paths(&r),
        vec!["a.pdf/javascript-2.js"],
        "{:#?}",
        r.root
    );
    let r = s.scan_bytes(&pdf(b"app.alert('hi')"), &ScanOptions::new().name("a.pdf"));
    assert_eq!(r.verdict(), ResultCode::NoThreat, "{:#?}", r.root);
}

#[test]
fn objects_outside_the_xref_and_wrong_lengths_are_read() {
    // Appended after %%EOF, listed in no xref: Acrobat's repair finds it.
    let hidden = |payload: &[u8]| {
        let mut pdf = pdf_document();
        pdf.extend_from_slice(b"99 0 obj\n");
        // A /Length that is wrong: the data runs to `endstream`.
        pdf.extend_from_slice(b"<< /Type /EmbeddedFile /Filter [/AHx /Fl] /Length 5 >>\nstream\n");
        let hex: String = zlib(payload).iter().map(|b| format!("{b:02X} ")).collect();
        pdf.extend_from_slice(hex.as_bytes());
        pdf.extend_from_slice(b">\nendstream\nendobj\n");
        pdf
    };
    let r = scan(&hidden(EICAR), "a.pdf");
    assert_eq!(
        threat_paths(&r),
        vec!["a.pdf/embedded-1.bin"],
        "{:#?}",
        r.root
    );
    assert_eq!(
        scan(&hidden(CLEAN), "a.pdf").verdict(),
        ResultCode::NoThreat
    );
}

#[test]
fn a_zip_hidden_in_a_content_stream_is_found() {
    let pdf = |payload: &[u8]| {
        pdf_of(&[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>".to_vec(),
            pdf_stream(
                "/Filter /FlateDecode",
                &zlib(&zip_of(&[("x.com", payload)])),
            ),
        ])
    };
    assert_eq!(
        threat_paths(&scan(&pdf(EICAR), "a.pdf")),
        vec!["a.pdf/stream-4.bin/x.com"]
    );
    assert_eq!(scan(&pdf(CLEAN), "a.pdf").verdict(), ResultCode::NoThreat);
}

/// Attachments, object streams and every encryption qpdf writes.
#[test]
fn files_written_by_qpdf() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("eicar.com"), EICAR).unwrap();
    std::fs::write(p.join("note.txt"), CLEAN).unwrap();
    for (tag, file) in [("bad", "eicar.com"), ("good", "note.txt")] {
        let att = format!("{tag}.pdf");
        if tool(
            p,
            "qpdf",
            &["--empty", "--add-attachment", file, "--", &att],
        )
        .is_none()
        {
            return;
        }
        let runs: &[(&str, &[&str])] = &[
            ("objstm", &["--object-streams=generate"]),
            (
                "rc4-40",
                &["--allow-weak-crypto", "--encrypt", "", "owner", "40", "--"],
            ),
            (
                "rc4-128",
                &[
                    "--allow-weak-crypto",
                    "--encrypt",
                    "",
                    "owner",
                    "128",
                    "--use-aes=n",
                    "--",
                ],
            ),
            (
                "aes-128",
                &["--encrypt", "", "owner", "128", "--use-aes=y", "--"],
            ),
            ("aes-256", &["--encrypt", "", "owner", "256", "--"]),
            ("locked", &["--encrypt", "secret", "owner", "256", "--"]),
            (
                "locked-rc4",
                &[
                    "--allow-weak-crypto",
                    "--encrypt",
                    "secret",
                    "owner",
                    "128",
                    "--use-aes=n",
                    "--",
                ],
            ),
        ];
        for (name, args) in runs {
            let out = format!("{tag}-{name}.pdf");
            let mut a: Vec<&str> = args.to_vec();
            a.push(&att);
            a.push(&out);
            tool(p, "qpdf", &a).unwrap();
        }
    }
    let read = |n: &str| std::fs::read(p.join(n)).unwrap();
    for name in [
        "bad.pdf",
        "bad-objstm.pdf",
        "bad-rc4-40.pdf",
        "bad-rc4-128.pdf",
        "bad-aes-128.pdf",
        "bad-aes-256.pdf",
    ] {
        let r = scan(&read(name), name);
        assert_eq!(
            threat_paths(&r),
            vec![format!("{name}/eicar.com")],
            "{name}: {:#?}",
            r.root
        );
        let good = name.replace("bad", "good");
        let r = scan(&read(&good), &good);
        assert_eq!(r.verdict(), ResultCode::NoThreat, "{good}: {:#?}", r.root);
        assert!(r.root.iter().any(|n| n.name == "note.txt"), "{good}");
    }
    let r = scan(&read("bad-aes-256.pdf"), "x.pdf");
    assert!(
        r.root
            .notes
            .iter()
            .any(|n| n.contains("empty user password")),
        "{:?}",
        r.root.notes
    );
    for name in ["bad-locked.pdf", "good-locked.pdf", "bad-locked-rc4.pdf"] {
        let r = scan(&read(name), name);
        assert_eq!(
            r.root.own_result_i,
            ResultCode::PasswordProtectedDocument,
            "{name}"
        );
        assert!(r.blocked());
    }
}

#[test]
fn damaged_pdfs_never_pass_as_clean_containers() {
    // No objects at all behind the header.
    let r = scan(b"%PDF-1.7\ngarbage garbage\n%%EOF\n", "a.pdf");
    assert_eq!(r.verdict(), ResultCode::Failed);
    // A compressed stream that does not inflate.
    let pdf = pdf_of(&[
        b"<< /Type /Catalog >>".to_vec(),
        pdf_stream(
            "/Type /EmbeddedFile /Filter /FlateDecode",
            b"not zlib at all",
        ),
    ]);
    let r = scan(&pdf, "a.pdf");
    assert!(r.blocked(), "{:#?}", r.root);
    // An unknown filter: examined undecoded and flagged.
    let pdf = pdf_of(&[
        b"<< /Type /Catalog >>".to_vec(),
        pdf_stream("/Filter /Weird", b"data"),
    ]);
    assert!(scan(&pdf, "a.pdf").blocked());
}

#[test]
fn an_archive_after_the_end_of_the_document_is_found() {
    let mut polyglot = pdf_document();
    polyglot.extend_from_slice(&zip_of(&[("x.com", EICAR)]));
    let r = scan(&polyglot, "a.pdf");
    assert_eq!(r.verdict(), ResultCode::Infected, "{:#?}", r.root);
    assert!(
        r.root
            .notes
            .iter()
            .any(|n| n.contains("bytes follow the end"))
    );
    let r = scan(&pdf_document(), "a.pdf");
    assert!(r.root.notes.is_empty(), "{:?}", r.root.notes);
}

/// Shapes that would make a naive reader quadratic: every object an
/// unclosed array running to the end, every stream without `endstream`.
/// (No timing is asserted; a quadratic reader would not finish.)
#[test]
fn pathological_object_soup_finishes() {
    let mut soup = b"%PDF-1.7\n".to_vec();
    for i in 0..100_000 {
        soup.extend_from_slice(format!("{i} 0 obj [ 1 2 ").as_bytes());
    }
    let r = scan(&soup, "soup.pdf");
    assert!(r.root.children.is_empty());
    let mut streams = b"%PDF-1.7\n".to_vec();
    for i in 0..50_000 {
        streams
            .extend_from_slice(format!("{i} 0 obj << /Length 999999 >> stream\nxx\n").as_bytes());
    }
    let r = scan(&streams, "streams.pdf");
    assert!(r.objects > 1);
}
