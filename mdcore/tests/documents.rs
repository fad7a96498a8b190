//! Documents as containers: OLE2 (legacy Office, VBA macros, OLE Package
//! objects, encrypted documents, Excel 4.0 macro sheets), MSI, Outlook
//! .msg, PowerPoint embedded objects. Every case has a clean twin.

use mdcore::{Report, ResultCode, ScanOptions, Scanner, ScannerBuilder};

use crate::util::*;

const MACRO: &str = "Attribute VB_Name = \"Module1\"\r\nSub AutoOpen()\r\n    Shell \"powershell -enc bWFya2Vy-macro-marker\"\r\nEnd Sub\r\n";
const BENIGN: &str =
    "Attribute VB_Name = \"Module1\"\r\nSub Hello()\r\n    MsgBox \"hello\"\r\nEnd Sub\r\n";

/// A scanner with EICAR and a rule for the macro source above.
fn macro_scanner() -> Scanner {
    ScannerBuilder::new()
        .rules_source(
            "test.yar",
            "rule Macro_Shell { strings: $a = \"Shell \\\"powershell -enc\" condition: $a }",
        )
        .build()
        .unwrap()
}

fn scan_with(s: &Scanner, data: &[u8], name: &str) -> Report {
    s.scan_bytes(data, &ScanOptions::new().name(name))
}

fn word_with_macro(source: &str) -> Vec<u8> {
    let fib = word_fib(false);
    let project = vba_project("Macros/VBA", &[("Module1", source)]);
    let mut streams: Vec<(&str, &[u8])> = vec![("WordDocument", &fib)];
    streams.extend(project.iter().map(|(n, d)| (n.as_str(), d.as_slice())));
    ole2_of(&streams)
}

fn names(report: &Report) -> Vec<String> {
    report.root.iter().map(|n| n.display_name.clone()).collect()
}

#[test]
fn vba_module_source_is_decompressed_and_scanned() {
    let s = macro_scanner();
    let report = scan_with(&s, &word_with_macro(MACRO), "invoice.doc");
    assert_eq!(report.verdict(), ResultCode::Infected, "{:#?}", report.root);
    assert_eq!(
        threat_paths(&report),
        vec!["invoice.doc/Macros/VBA/Module1.vba"]
    );
    assert!(
        report
            .root
            .notes
            .iter()
            .any(|n| n.contains("VBA macros in `Macros/VBA`: 1 module(s) (Module1)")),
        "{:?}",
        report.root.notes
    );
    // Every stream is a child too, named by its storage path.
    let all = names(&report);
    for n in ["WordDocument", "Macros/VBA/dir", "Macros/VBA/Module1"] {
        assert!(all.contains(&format!("invoice.doc/{n}")), "{n}: {all:?}");
    }

    let clean = scan_with(&s, &word_with_macro(BENIGN), "invoice.doc");
    assert_eq!(clean.verdict(), ResultCode::NoThreat, "{:#?}", clean.root);
    let source = clean
        .root
        .iter()
        .find(|n| n.display_name.ends_with("Module1.vba"))
        .expect("the module's source is a child");
    assert_eq!(source.file_type, "text/plain");
}

#[test]
fn vba_source_is_found_without_a_usable_dir_stream() {
    // A damaged `dir` stream: the source is found by its `Attribute` line.
    let fib = word_fib(false);
    let mut project = vba_project("Macros/VBA", &[("Module1", MACRO)]);
    for (name, data) in &mut project {
        if name.ends_with("/dir") {
            *data = b"\x01garbage".to_vec();
        }
    }
    let mut streams: Vec<(&str, &[u8])> = vec![("WordDocument", &fib)];
    streams.extend(project.iter().map(|(n, d)| (n.as_str(), d.as_slice())));
    let report = scan_with(&macro_scanner(), &ole2_of(&streams), "a.doc");
    assert_eq!(threat_paths(&report), vec!["a.doc/Macros/VBA/Module1.vba"]);
    assert!(
        report.root.notes.iter().any(|n| n.contains("`dir` stream")),
        "{:?}",
        report.root.notes
    );
}

#[test]
fn a_macro_enabled_ooxml_opens_its_vba_project() {
    let project = vba_project("VBA", &[("Module1", MACRO)]);
    let streams: Vec<(&str, &[u8])> = project
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let bin = ole2_of(&streams);
    let docm = zip_of(&[
        ("[Content_Types].xml", b"<Types/>"),
        ("word/document.xml", b"<w:document/>"),
        ("word/vbaProject.bin", &bin),
    ]);
    let report = scan_with(&macro_scanner(), &docm, "report.docm");
    assert_eq!(
        threat_paths(&report),
        vec!["report.docm/word/vbaProject.bin/VBA/Module1.vba"]
    );
}

#[test]
fn ole_package_objects_yield_their_file() {
    let fib = word_fib(false);
    let doc = |payload: &[u8], label: &str| {
        ole2_of(&[
            ("WordDocument", &fib),
            (
                "ObjectPool/_1234/\u{1}Ole10Native",
                &ole10native(label, payload),
            ),
        ])
    };
    let report = scan(&doc(EICAR, "eicar.com"), "lure.doc");
    assert_eq!(
        threat_paths(&report),
        vec!["lure.doc/ObjectPool/_1234/eicar.com"]
    );
    let clean = scan(&doc(b"just a note\n", "note.txt"), "lure.doc");
    assert_eq!(clean.verdict(), ResultCode::NoThreat, "{:#?}", clean.root);
    assert!(names(&clean).contains(&"lure.doc/ObjectPool/_1234/note.txt".to_string()));

    // A hash-list hit on the planted binary.
    let dir = tempfile::tempdir().unwrap();
    let payload = b"MZ\x90\x00 a planted binary for the hash list";
    let hdb = dir.path().join("feed.hdb");
    std::fs::write(
        &hdb,
        format!("{}:{}:Test.Planted\n", md5_hex(payload), payload.len()),
    )
    .unwrap();
    let s = ScannerBuilder::new().hash_list(&hdb).build().unwrap();
    let report = scan_with(&s, &doc(payload, "setup.exe"), "lure.doc");
    assert_eq!(report.verdict(), ResultCode::Blocklisted);
}

#[test]
fn encrypted_office_documents_are_15_and_their_clear_twins_are_not() {
    let plain_word = ole2_of(&[("WordDocument", &word_fib(false)), ("1Table", b"table")]);
    let enc_word = ole2_of(&[("WordDocument", &word_fib(true)), ("1Table", b"table")]);
    // BIFF8: BOF, FILEPASS (RC4), EOF.
    let biff = |filepass: bool| {
        let mut w = vec![0x09, 0x08, 0x04, 0x00, 0x00, 0x06, 0x05, 0x00];
        if filepass {
            w.extend_from_slice(&[0x2f, 0x00, 0x02, 0x00, 0x01, 0x00]);
        }
        w.extend_from_slice(&[0x0a, 0x00, 0x00, 0x00]);
        w
    };
    let plain_xls = ole2_of(&[("Workbook", &biff(false))]);
    let enc_xls = ole2_of(&[("Workbook", &biff(true))]);
    let enc_ooxml = ole2_of(&[
        ("EncryptionInfo", b"\x04\x00\x04\x00\x40\x00\x00\x00"),
        ("EncryptedPackage", &random_bytes(4096, 7)),
    ]);
    // CurrentUserAtom: record header, size, then the header token.
    let user = |token: u32| {
        let mut u = vec![0, 0, 0xf6, 0x0f, 0x14, 0, 0, 0, 0x14, 0, 0, 0];
        u.extend_from_slice(&token.to_le_bytes());
        u.extend_from_slice(&[0u8; 16]);
        ole2_of(&[("PowerPoint Document", b"records"), ("Current User", &u)])
    };
    let (plain_ppt, enc_ppt) = (user(0xe391_c05f), user(0xf3d1_c4df));
    for (name, data) in [
        ("a.doc", &enc_word),
        ("a.xls", &enc_xls),
        ("a.ppt", &enc_ppt),
        ("a.docx", &enc_ooxml),
    ] {
        let r = scan(data, name);
        assert_eq!(
            r.root.own_result_i,
            ResultCode::PasswordProtectedDocument,
            "{name}"
        );
        assert!(r.blocked(), "{name}");
        assert!(
            r.root
                .notes
                .iter()
                .any(|n| n.contains("password-protected document")),
            "{name}: {:?}",
            r.root.notes
        );
    }
    for (name, data) in [
        ("a.doc", &plain_word),
        ("a.xls", &plain_xls),
        ("a.ppt", &plain_ppt),
    ] {
        let r = scan(data, name);
        assert_eq!(r.verdict(), ResultCode::NoThreat, "{name}: {:#?}", r.root);
    }
}

#[test]
fn excel_4_macro_sheets_are_named_in_a_note() {
    let biff = |dt: u8| {
        let mut w = vec![0x09, 0x08, 0x04, 0x00, 0x00, 0x06, 0x05, 0x00];
        // BOUNDSHEET: lbPlyPos, hsState = very hidden, dt, name "Auto_Open".
        let mut body = vec![0, 0, 0, 0, 2, dt, 9, 0];
        body.extend_from_slice(b"Auto_Open");
        w.extend_from_slice(&[0x85, 0x00]);
        w.extend_from_slice(&(body.len() as u16).to_le_bytes());
        w.extend_from_slice(&body);
        w.extend_from_slice(&[0x0a, 0x00, 0x00, 0x00]);
        w
    };
    let r = scan(&ole2_of(&[("Workbook", &biff(1))]), "a.xls");
    assert!(
        r.root
            .notes
            .iter()
            .any(|n| n.contains("Excel 4.0 (XLM) macro sheets: `Auto_Open` (very hidden)")),
        "{:?}",
        r.root.notes
    );
    let r = scan(&ole2_of(&[("Workbook", &biff(0))]), "a.xls");
    assert!(!r.root.notes.iter().any(|n| n.contains("XLM")));
}

#[test]
fn outlook_messages_name_attachments_and_decode_bodies() {
    let wide = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    let msg = |payload: &[u8]| {
        ole2_of(&[
            ("__substg1.0_0037001F", &wide("Your invoice")),
            ("__substg1.0_1000001F", &wide("Please open the attachment.")),
            (
                "__attach_version1.0_#00000000/__substg1.0_3707001F",
                &wide("invoice.com"),
            ),
            (
                "__attach_version1.0_#00000000/__substg1.0_37010102",
                payload,
            ),
        ])
    };
    let report = scan(&msg(EICAR), "mail.msg");
    assert_eq!(
        threat_paths(&report),
        vec!["mail.msg/__attach_version1.0_#00000000/invoice.com"]
    );
    let clean = scan(&msg(b"an ordinary attachment"), "mail.msg");
    assert_eq!(clean.verdict(), ResultCode::NoThreat, "{:#?}", clean.root);
    let body = clean
        .root
        .iter()
        .find(|n| n.display_name == "mail.msg/__substg1.0_1000001F.txt")
        .expect("the body is a text child");
    assert_eq!(body.file_size, "Please open the attachment.".len() as u64);
}

#[test]
fn powerpoint_embedded_objects_are_inflated() {
    let record = |payload: &[u8]| {
        // ExOleObjStg, instance 1: the decompressed size, then zlib.
        let mut z = (payload.len() as u32).to_le_bytes().to_vec();
        z.extend_from_slice(&zlib(payload));
        let mut r = vec![0x10, 0x00, 0x11, 0x10];
        r.extend_from_slice(&(z.len() as u32).to_le_bytes());
        r.extend_from_slice(&z);
        // Inside a container record (version 0xF), as PowerPoint nests it.
        let mut c = vec![0x0f, 0x00, 0xe8, 0x03];
        c.extend_from_slice(&(r.len() as u32).to_le_bytes());
        c.extend_from_slice(&r);
        ole2_of(&[("PowerPoint Document", &c), ("Current User", b"user")])
    };
    let report = scan(&record(EICAR), "deck.ppt");
    assert_eq!(
        threat_paths(&report),
        vec!["deck.ppt/PowerPoint Document/ExOleObjStg1"]
    );
    let clean = scan(&record(b"a harmless object"), "deck.ppt");
    assert_eq!(clean.verdict(), ResultCode::NoThreat, "{:#?}", clean.root);
}

#[test]
fn an_archive_appended_to_a_compound_file_is_found() {
    let doc = ole2_of(&[("WordDocument", &word_fib(false))]);
    let mut glued = doc.clone();
    glued.extend_from_slice(&zip_of(&[("eicar.com", EICAR)]));
    let report = scan(&glued, "a.doc");
    assert_eq!(report.verdict(), ResultCode::Infected, "{:#?}", report.root);
    assert!(
        report
            .root
            .notes
            .iter()
            .any(|n| n.contains("bytes follow the end")),
        "{:?}",
        report.root.notes
    );
    let clean = scan(&doc, "a.doc");
    assert_eq!(clean.verdict(), ResultCode::NoThreat);
    assert!(!clean.root.notes.iter().any(|n| n.contains("bytes follow")));
}

#[test]
fn a_damaged_compound_file_blocks() {
    let doc = ole2_of(&[("WordDocument", &word_fib(false)), ("Data", &[7u8; 9000])]);
    // Every cut through its header, FAT, directory or stream data keeps it
    // from being called clean.
    let data_at = doc.windows(512).position(|w| w == [7u8; 512]).unwrap();
    for cut in [
        600,
        1024,
        2048,
        data_at + 100,
        data_at + 8000,
        doc.len() - 512,
    ] {
        let r = scan(&doc[..cut], "a.doc");
        assert!(r.blocked(), "cut at {cut}: {:#?}", r.root);
    }
}

#[test]
fn msi_packages_built_by_wixl_open_their_cabinet() {
    let Some(bad) = wixl_msi("eicar.com", EICAR) else {
        return;
    };
    let report = scan(&bad, "bad.msi");
    assert_eq!(report.root.file_type, "application/x-msi");
    let threats = threat_paths(&report);
    assert_eq!(threats.len(), 1, "{:#?}", report.root);
    assert!(
        threats[0].ends_with(".cab/F1") || threats[0].contains("payload.cab"),
        "{threats:?}"
    );
    // Stream names are decoded: the tables show as `!Name`.
    assert!(
        names(&report).iter().any(|n| n == "bad.msi/!File"),
        "{:?}",
        names(&report)
    );
    let good = wixl_msi("readme.txt", b"hello\n").unwrap();
    assert_eq!(scan(&good, "good.msi").verdict(), ResultCode::NoThreat);
}

/// A OneNote section: the file-format GUID, some structure, and a
/// FileDataStoreObject (header GUID, length, reserved fields, data, footer).
fn onenote_with(payload: &[u8], declared: Option<u64>) -> Vec<u8> {
    let mut one = vec![
        0xe4, 0x52, 0x5c, 0x7b, 0x8c, 0xd8, 0xa7, 0x4d, 0xae, 0xb1, 0x53, 0x78, 0xd0, 0x29, 0x96,
        0xd3,
    ];
    one.extend_from_slice(&[0u8; 1024]);
    one.extend_from_slice(&[
        0xe7, 0x16, 0xe3, 0xbd, 0x65, 0x26, 0x11, 0x45, 0xa4, 0xc4, 0x8d, 0x4d, 0x0b, 0x7a, 0x9e,
        0xac,
    ]);
    one.extend_from_slice(&declared.unwrap_or(payload.len() as u64).to_le_bytes());
    one.extend_from_slice(&[0u8; 12]);
    one.extend_from_slice(payload);
    one.extend_from_slice(&[0u8; 4]);
    one.extend_from_slice(&[
        0x22, 0xa7, 0xfb, 0x71, 0x79, 0x0f, 0x0b, 0x4a, 0xbb, 0x13, 0x89, 0x92, 0x56, 0x42, 0x6b,
        0x24,
    ]);
    one
}

#[test]
fn onenote_embedded_files_are_children() {
    let r = scan(&onenote_with(EICAR, None), "lure.one");
    assert_eq!(r.root.file_type, "application/onenote");
    assert_eq!(threat_paths(&r), vec!["lure.one/embedded-1.bin"]);
    let clean = scan(&onenote_with(b"a picture, say", None), "lure.one");
    assert_eq!(clean.verdict(), ResultCode::NoThreat, "{:#?}", clean.root);
    // A length past the end: the bytes there are scanned, and it blocks.
    let r = scan(&onenote_with(b"short", Some(1 << 40)), "lure.one");
    assert!(r.blocked());
    assert_eq!(r.root.own_result_i, ResultCode::Failed);
}

/// A section in OneNote's alternative packaging (as OneDrive hands it out)
/// holding `payload` as an object data BLOB, beside the other data
/// elements a section has.
fn packaged_onenote(payload: &[u8]) -> Vec<u8> {
    use fsshttpb::*;
    section(&[
        storage_index(1),
        object_group(2, 3),
        blob_element(3, payload),
    ])
}

#[test]
fn onenote_packaged_sections_are_opened() {
    let lure = packaged_onenote(&zip_of(&[("invoice.exe", EICAR)]));
    let r = scan(&lure, "web.one");
    assert_eq!(
        r.root.file_type_description,
        "Microsoft OneNote section (FSSHTTPB packaging)"
    );
    assert_eq!(threat_paths(&r), vec!["web.one/blob-1.bin/invoice.exe"]);
    let clean = scan(&packaged_onenote(b"just a picture"), "web.one");
    assert_eq!(clean.verdict(), ResultCode::NoThreat, "{:#?}", clean.root);
    assert_eq!(names(&clean), vec!["web.one", "web.one/blob-1.bin"]);
    // A payload large enough for 32-bit headers and a compact length.
    let big = zip_with(
        &[
            ("noise.bin", &random_bytes(70_000, 7)),
            ("eicar.com", EICAR),
        ],
        zip::CompressionMethod::Stored,
    );
    let r = scan(&packaged_onenote(&big), "web.one");
    assert_eq!(threat_paths(&r), vec!["web.one/blob-1.bin/eicar.com"]);
    // A package cut short: what was read is handed over, and it blocks.
    let cut = &lure[..lure.len() - 8];
    let r = scan(cut, "web.one");
    assert!(r.blocked());
    assert_eq!(r.root.own_result_i, ResultCode::Failed, "{:#?}", r.root);
    let cut = &packaged_onenote(b"clean")[..60 + 40];
    assert!(scan(cut, "web.one").blocked());
}

#[test]
fn onenote_packaged_fragments_are_reassembled() {
    use fsshttpb::*;
    let payload = zip_of(&[("invoice.exe", EICAR)]);
    let whole = blob_element(9, &payload);
    let mut elements = vec![storage_index(1)];
    elements.extend(fragments(20, &whole, 64, None));
    let r = scan(&section(&elements), "web.one");
    assert_eq!(
        threat_paths(&r),
        vec!["web.one/blob-1.bin/invoice.exe"],
        "{:#?}",
        r.root
    );
    assert_ne!(r.root.own_result_i, ResultCode::Failed, "{:#?}", r.root);
    let clean = blob_element(9, &zip_of(&[("notes.txt", b"hello".as_slice())]));
    let mut elements = vec![storage_index(1)];
    elements.extend(fragments(20, &clean, 64, None));
    let r = scan(&section(&elements), "web.one");
    assert_eq!(r.verdict(), ResultCode::NoThreat, "{:#?}", r.root);
    // One fragment missing: the element is not whole, its bytes are
    // still examined, and the section blocks.
    let mut elements = vec![storage_index(1)];
    elements.extend(fragments(20, &clean, 64, Some(1)));
    let r = scan(&section(&elements), "web.one");
    assert!(r.blocked(), "{:#?}", r.root);
    assert_eq!(r.root.own_result_i, ResultCode::Failed);
    assert!(
        names(&r).contains(&"web.one/element-1.bin".to_string()),
        "{:?}",
        names(&r)
    );
}

/// The same planted binary, on a hash list, inside every document and mail
/// format: each reader hands it over byte for byte.
#[test]
fn a_hash_listed_binary_is_found_in_every_document_format() {
    let payload: &[u8] = b"MZ\x90\x00\x03 planted binary \x00\x01\x02\xff for the hash list";
    let dir = tempfile::tempdir().unwrap();
    let hdb = dir.path().join("feed.hdb");
    std::fs::write(
        &hdb,
        format!("{}:{}:Test.Planted\n", md5_hex(payload), payload.len()),
    )
    .unwrap();
    let s = ScannerBuilder::new().hash_list(&hdb).build().unwrap();
    let wide = |t: &str| -> Vec<u8> { t.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    let mail = format!(
        "From: a@b\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: application/octet-stream; name=x.exe\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--B--\r\n",
        b64(payload)
    );
    let package = ole10native("x.exe", payload);
    let rtf_hex: String = {
        let mut o = vec![1, 5, 0, 0, 2, 0, 0, 0, 8, 0, 0, 0];
        o.extend_from_slice(b"Package\0");
        o.extend_from_slice(&[0; 8]);
        o.extend_from_slice(&((package.len() - 4) as u32).to_le_bytes());
        o.extend_from_slice(&package[4..]);
        o.iter().map(|b| format!("{b:02x}")).collect()
    };
    let tnef = {
        let mut t = 0x223e_9f78u32.to_le_bytes().to_vec();
        t.extend_from_slice(&[1, 0]);
        for (id, v) in [(0x0006_9002u32, &[0u8; 14][..]), (0x0006_800f, payload)] {
            t.push(2);
            t.extend_from_slice(&id.to_le_bytes());
            t.extend_from_slice(&(v.len() as u32).to_le_bytes());
            t.extend_from_slice(v);
            t.extend_from_slice(&[0, 0]);
        }
        t
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "a.doc",
            ole2_of(&[
                ("WordDocument", &word_fib(false)),
                ("\u{1}Ole10Native", &package),
            ]),
        ),
        (
            "a.msg",
            ole2_of(&[
                (
                    "__attach_version1.0_#00000000/__substg1.0_3707001F",
                    &wide("x.exe"),
                ),
                (
                    "__attach_version1.0_#00000000/__substg1.0_37010102",
                    payload,
                ),
            ]),
        ),
        ("a.pdf", pdf_with_attachment("x.exe", payload, "")),
        ("a.eml", mail.clone().into_bytes()),
        (
            "a.mbox",
            format!("From a@b Thu Jan  1 00:00:00 2026\n{mail}").into_bytes(),
        ),
        (
            "a.rtf",
            format!("{{\\rtf1{{\\object{{\\*\\objdata {rtf_hex}}}}}}}").into_bytes(),
        ),
        ("winmail.dat", tnef),
        ("a.one", onenote_with(payload, None)),
        ("web.one", packaged_onenote(payload)),
        (
            "a.html",
            format!(
                "<img src=\"data:application/octet-stream;base64,{}\">",
                b64(payload).replace("\r\n", "")
            )
            .into_bytes(),
        ),
    ];
    for (name, data) in cases {
        let r = s.scan_bytes(&data, &ScanOptions::new().name(name));
        assert_eq!(
            r.verdict(),
            ResultCode::Blocklisted,
            "{name}: {:#?}",
            r.root
        );
    }
}
