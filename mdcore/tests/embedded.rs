//! Objects carried inside text and RTF: encoded blocks, data: URIs, HTML
//! smuggling, RTF `\objdata` and `\bin`, and TNEF (winmail.dat). Every case
//! has a clean twin.

use mdcore::ResultCode;

use crate::util::*;

fn clean(data: &[u8], name: &str) {
    let r = scan(data, name);
    assert_eq!(r.verdict(), ResultCode::NoThreat, "{name}: {:#?}", r.root);
}

#[test]
fn html_smuggling_and_data_uris() {
    // A script that assembles a zip from a base64 literal.
    let page = |payload: &[u8]| {
        format!(
            "<html><body><script>\nvar b = \"{}\";\nvar blob = new Blob([Uint8Array.from(atob(b), c => c.charCodeAt(0))]);\n</script></body></html>\n",
            b64(&zip_of(&[("invoice.com", payload)])).replace("\r\n", "")
        )
        .into_bytes()
    };
    let r = scan(&page(EICAR), "invoice.html");
    let t = threat_paths(&r);
    assert_eq!(t.len(), 1, "{:#?}", r.root);
    assert!(t[0].ends_with(".zip/invoice.com"), "{t:?}");
    clean(&page(b"harmless"), "invoice.html");

    // An SVG with a data: URI: its content is a child whatever it is.
    let svg = |payload: &[u8]| {
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><a href=\"data:application/octet-stream;base64,{}\">x</a></svg>",
            b64(payload).replace("\r\n", "")
        )
        .into_bytes()
    };
    let r = scan(&svg(EICAR), "a.svg");
    assert_eq!(threat_paths(&r).len(), 1, "{:#?}", r.root);
    assert!(threat_paths(&r)[0].starts_with("a.svg/data-uri-1@"));
    clean(&svg(b"harmless bytes"), "a.svg");
}

#[test]
fn long_base64_in_plain_text_decodes_when_it_is_a_known_type() {
    let text = |payload: &[u8]| {
        format!(
            "Dear user,\nhere is the file:\n{}\nregards\n",
            b64(&zip_of(&[("a.com", payload)]))
        )
        .into_bytes()
    };
    assert_eq!(
        scan(&text(EICAR), "mail.txt").verdict(),
        ResultCode::Infected
    );
    clean(&text(b"nothing"), "mail.txt");
    // A long run that decodes to nothing known is not a child.
    let noise = format!("key: {}\n", "Zm9v".repeat(200));
    let r = scan(noise.as_bytes(), "k.txt");
    assert!(r.root.children.is_empty(), "{:#?}", r.root);
}

/// An OLE1 object header for class `class` around `native`.
fn ole1(class: &str, native: &[u8]) -> Vec<u8> {
    let mut o = vec![1, 5, 0, 0, 2, 0, 0, 0];
    let c = format!("{class}\0");
    o.extend_from_slice(&(c.len() as u32).to_le_bytes());
    o.extend_from_slice(c.as_bytes());
    o.extend_from_slice(&[0; 8]); // empty topic and item names
    o.extend_from_slice(&(native.len() as u32).to_le_bytes());
    o.extend_from_slice(native);
    o
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn rtf_objects_and_bin_runs() {
    // A Package object holding a file; junk groups inside \objdata as
    // exploit documents use them.
    let rtf = |payload: &[u8]| {
        let package = ole10native("run.com", payload);
        let native = &package[4..]; // the package without its size
        let h = hex(&ole1("Package", native));
        let (a, b) = h.split_at(40);
        format!(
            "{{\\rtf1\\ansi{{\\object\\objemb{{\\*\\objclass Package}}{{\\*\\objdata {a}{{\\*\\junk 1}}\n{b}}}}}}}"
        )
        .into_bytes()
    };
    let r = scan(&rtf(EICAR), "a.rtf");
    assert_eq!(r.root.file_type, "text/rtf");
    assert_eq!(threat_paths(&r), vec!["a.rtf/run.com"], "{:#?}", r.root);
    clean(&rtf(b"fine"), "a.rtf");

    // A \bin run carrying raw bytes, in a file that starts `{\rtxyz`
    // (Word takes it as RTF).
    let bin = |payload: &[u8]| {
        let mut d = format!("{{\\rtxyz{{\\pict\\bin{} ", payload.len()).into_bytes();
        d.extend_from_slice(payload);
        d.extend_from_slice(b"}}");
        d
    };
    assert_eq!(
        threat_paths(&scan(&bin(EICAR), "b.rtf")),
        vec!["b.rtf/bin-1.bin"]
    );
    clean(&bin(b"harmless"), "b.rtf");
}

#[test]
fn tnef_attachments_are_named_by_their_title() {
    let attr = |level: u8, id: u32, value: &[u8]| {
        let mut a = vec![level];
        a.extend_from_slice(&id.to_le_bytes());
        a.extend_from_slice(&(value.len() as u32).to_le_bytes());
        a.extend_from_slice(value);
        let sum: u32 = value.iter().map(|b| u32::from(*b)).sum();
        a.extend_from_slice(&(sum as u16).to_le_bytes());
        a
    };
    let tnef = |payload: &[u8]| {
        let mut t = 0x223e_9f78u32.to_le_bytes().to_vec();
        t.extend_from_slice(&[0x01, 0x00]);
        t.extend(attr(1, 0x0002_800c, b"see attached"));
        t.extend(attr(2, 0x0006_9002, &[0; 14]));
        t.extend(attr(2, 0x0001_8010, b"report.com\0"));
        t.extend(attr(2, 0x0006_800f, payload));
        t
    };
    let r = scan(&tnef(EICAR), "winmail.dat");
    assert_eq!(r.root.file_type, "application/vnd.ms-tnef");
    assert_eq!(threat_paths(&r), vec!["winmail.dat/report.com"]);
    clean(&tnef(b"fine"), "winmail.dat");
    // Cut inside the attachment: what is there is scanned, and it blocks.
    let t = tnef(EICAR);
    let r = scan(&t[..t.len() - 20], "winmail.dat");
    assert!(r.blocked());
    assert_eq!(r.root.own_result_i, ResultCode::Failed);
}

#[test]
fn plain_text_at_the_depth_limit_stays_a_leaf() {
    let limits = mdcore::Limits {
        max_depth: 1,
        ..mdcore::Limits::default()
    };
    let s = mdcore::ScannerBuilder::new()
        .limits(limits)
        .build()
        .unwrap();
    let opts = mdcore::ScanOptions::new().name("a.zip");
    let plain = zip_of(&[("a.txt", b"hello, plain text\n")]);
    assert_eq!(s.scan_bytes(&plain, &opts).verdict(), ResultCode::NoThreat);
    // Text that carries an encoded object is a container: at the limit it
    // is a depth stop (9), never clean.
    let carrying = zip_of(&[("b.txt", b"begin 644 x.bin\n#0V%T\n`\nend\n")]);
    let r = s.scan_bytes(&carrying, &opts);
    assert_eq!(
        r.verdict(),
        ResultCode::ExceededArchiveDepth,
        "{:#?}",
        r.root
    );
}
