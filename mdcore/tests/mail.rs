//! Mail: MIME messages and mbox files made by Python's `email` and
//! `mailbox` modules, and hand-written ones in the shapes attackers use
//! against scanners (ambiguous boundaries, odd headers, encodings mail
//! clients forgive). Every case has a clean twin.

use mdcore::{Node, ResultCode};

use crate::util::*;

fn eicar_b64() -> String {
    b64(EICAR)
}

/// A multipart/mixed message with one attachment, given its raw headers
/// block (after the message headers) and the body of the attachment part.
fn message(top: &str, body: &str) -> Vec<u8> {
    format!(
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\nMIME-Version: 1.0\r\n{top}\r\n\r\n{body}"
    )
    .into_bytes()
}

fn found(data: &[u8]) -> Vec<String> {
    threat_paths(&scan(data, "m.eml"))
}

fn clean(data: &[u8]) {
    let r = scan(data, "m.eml");
    assert_eq!(r.verdict(), ResultCode::NoThreat, "{:#?}", r.root);
}

/// The same message with the EICAR replaced by harmless bytes.
fn twin(data: &[u8]) -> Vec<u8> {
    let s = String::from_utf8(data.to_vec()).unwrap();
    s.replace(
        &eicar_b64(),
        &b64(b"just a harmless attachment, nothing to see"),
    )
    .replace(
        std::str::from_utf8(EICAR).unwrap(),
        "a harmless line of text",
    )
    .into_bytes()
}

fn attachment_part(boundary: &str, name_params: &str) -> String {
    format!(
        "--{boundary}\r\nContent-Type: text/plain\r\n\r\nPlease see the attachment.\r\n--{boundary}\r\nContent-Type: application/octet-stream{name_params}\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--{boundary}--\r\n",
        eicar_b64()
    )
}

#[test]
fn a_plain_attachment_is_found_by_its_file_name() {
    let m = message(
        "Content-Type: multipart/mixed; boundary=\"XX\"",
        &attachment_part("XX", "; name=\"invoice.com\""),
    );
    let r = scan(&m, "m.eml");
    assert_eq!(r.root.file_type, "message/rfc822");
    assert_eq!(threat_paths(&r), vec!["m.eml/part-2/invoice.com"]);
    let names: Vec<&str> = r.root.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["part-1.txt", "part-2/invoice.com"]);
    clean(&twin(&m));
}

#[test]
fn every_boundary_of_every_content_type_is_tried() {
    // Two Content-Type headers: a client that takes the first sees a text
    // message; one that takes the last sees the attachment.
    let m = message(
        "Content-Type: text/plain\r\nContent-Type: multipart/mixed; boundary=\"real\"",
        &attachment_part("real", ""),
    );
    assert_eq!(found(&m).len(), 1, "{:?}", found(&m));
    clean(&twin(&m));
    // Two boundary parameters, the body split by the second.
    let m = message(
        "Content-Type: multipart/mixed; boundary=\"decoy\"; boundary=\"real\"",
        &attachment_part("real", ""),
    );
    assert_eq!(found(&m).len(), 1);
    clean(&twin(&m));
    // Both boundaries split the body: the parts of each are examined.
    let body = format!(
        "--a\r\nContent-Type: text/plain\r\n\r\nfirst reading\r\n--a--\r\n{}",
        attachment_part("b", "")
    );
    let m = message(
        "Content-Type: multipart/mixed; boundary=a; boundary=b",
        &body,
    );
    let r = scan(&m, "m.eml");
    assert_eq!(threat_paths(&r).len(), 1, "{:#?}", r.root);
    assert!(
        r.root
            .notes
            .iter()
            .any(|n| n.contains("several boundaries")),
        "{:?}",
        r.root.notes
    );
}

#[test]
fn odd_headers_that_clients_forgive() {
    let cases = [
        // A comment and a space in the header name, folded value.
        "Content-Type (sneaky) :\r\n multipart/mixed;\r\n\tboundary=\"XX\"",
        // Backslash-escaped quoted boundary (the body uses the unescaped form).
        "Content-Type: multipart/mixed; boundary=\"X\\X\"",
        // Semicolons and spaces in odd places; no quotes.
        "Content-Type: multipart/mixed ;; boundary = XX ;",
        // An unclosed quote.
        "Content-Type: multipart/mixed; boundary=\"XX",
        // Upper case type and parameter name.
        "CONTENT-TYPE: MULTIPART/MIXED; BOUNDARY=XX",
    ];
    for top in cases {
        let m = message(top, &attachment_part("XX", ""));
        assert_eq!(found(&m).len(), 1, "{top}: {:#?}", scan(&m, "m.eml").root);
        clean(&twin(&m));
    }
}

#[test]
fn a_missing_closing_boundary_and_damaged_base64() {
    let m = |payload: &[u8]| {
        let body = format!(
            "--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
            // Garbage characters and no padding.
            b64(payload).trim_end_matches('=').replace("Q", "Q!*")
        );
        message("Content-Type: multipart/mixed; boundary=XX", &body)
    };
    let r = scan(&m(EICAR), "m.eml");
    assert_eq!(threat_paths(&r).len(), 1, "{:#?}", r.root);
    assert!(
        r.root
            .notes
            .iter()
            .any(|n| n.contains("no closing boundary"))
    );
    clean(&m(b"harmless bytes of an attachment"));
}

#[test]
fn rfc2231_and_rfc2047_file_names() {
    let m = message(
        "Content-Type: multipart/mixed; boundary=XX",
        &attachment_part("XX", ";\r\n name*0*=utf-8''in%76oice; name*1=\".com\""),
    );
    assert_eq!(found(&m), vec!["m.eml/part-2/invoice.com"]);
    let m = message(
        "Content-Type: multipart/mixed; boundary=XX",
        &attachment_part("XX", "; name=\"=?utf-8?B?cmVwb3J0LmNvbQ==?=\""),
    );
    assert_eq!(found(&m), vec!["m.eml/part-2/report.com"]);
}

#[test]
fn preamble_and_epilogue_are_examined() {
    let body = format!(
        "{}\r\n--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XX--\r\n",
        std::str::from_utf8(EICAR).unwrap()
    );
    let m = message("Content-Type: multipart/mixed; boundary=XX", &body);
    assert_eq!(found(&m), vec!["m.eml/[preamble]"]);
    clean(&twin(&m));
}

#[test]
fn several_transfer_encodings_give_one_reading_each() {
    let body = format!(
        "--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: 7bit\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--XX--\r\n",
        eicar_b64()
    );
    let m = message("Content-Type: multipart/mixed; boundary=XX", &body);
    let r = scan(&m, "m.eml");
    assert_eq!(
        threat_paths(&r),
        vec!["m.eml/part-1.bin [base64]"],
        "{:#?}",
        r.root
    );
    clean(&twin(&m));
}

#[test]
fn uuencode_yenc_and_binhex_in_bodies() {
    // uuencode of EICAR, as `uuencode` writes it.
    let mut uu = String::from("begin 644 eicar.com\n");
    for chunk in EICAR.chunks(45) {
        uu.push((b' ' + chunk.len() as u8) as char);
        for g in chunk.chunks(3) {
            let v = (u32::from(g[0]) << 16)
                | (u32::from(*g.get(1).unwrap_or(&0)) << 8)
                | u32::from(*g.get(2).unwrap_or(&0));
            for k in 0..4 {
                let c = ((v >> (18 - 6 * k)) & 0x3f) as u8;
                uu.push(if c == 0 { '`' } else { (c + b' ') as char });
            }
        }
        uu.push('\n');
    }
    uu.push_str("`\nend\n");
    let m = message(
        "Content-Type: text/plain",
        &format!("See below.\n{uu}\nBye\n"),
    );
    assert_eq!(found(&m), vec!["m.eml/body.txt/eicar.com"]);
    clean(&message(
        "Content-Type: text/plain",
        "begin the meeting at ten\nend\n",
    ));

    let mut y = b"From: a@b\r\nSubject: y\r\nContent-Type: text/plain\r\n\r\n=ybegin line=128 size=68 name=y.com\n".to_vec();
    for &b in EICAR {
        let c = b.wrapping_add(42);
        if matches!(c, 0 | b'\n' | b'\r' | b'=') {
            y.extend_from_slice(&[b'=', c.wrapping_add(64)]);
        } else {
            y.push(c);
        }
    }
    y.extend_from_slice(b"\n=yend size=68\n");
    let m = y;
    // yEnc bytes are not UTF-8: the body is not text to the walker, so the
    // mail reader finds the block itself.
    assert_eq!(found(&m), vec!["m.eml/y.com"]);
}

#[test]
fn nested_messages_and_deep_nesting() {
    let inner = message(
        "Content-Type: multipart/mixed; boundary=IN",
        &attachment_part("IN", "; name=\"x.com\""),
    );
    let body = format!(
        "--OUT\r\nContent-Type: message/rfc822\r\n\r\n{}\r\n--OUT--\r\n",
        String::from_utf8(inner).unwrap()
    );
    let m = message("Content-Type: multipart/mixed; boundary=OUT", &body);
    assert_eq!(found(&m), vec!["m.eml/part-1.eml/part-2/x.com"]);
    clean(&twin(&m));

    // 100 levels of multipart: the walk stops at its limit and says so.
    let mut deep = format!(
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        eicar_b64()
    );
    for i in 0..100 {
        deep = format!(
            "Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n{deep}--b{i}--\r\n"
        );
    }
    let m = format!("From: a@b\r\nSubject: deep\r\n{deep}").into_bytes();
    let r = scan(&m, "m.eml");
    assert!(r.blocked(), "{:?}", r.verdict());
    assert!(
        r.root
            .iter()
            .any(|n: &Node| n.own_result_i == ResultCode::ExceededArchiveDepth),
        "{:?}",
        r.root.notes
    );
}

/// Messages and a mailbox written by Python's `email` and `mailbox`.
#[test]
fn messages_written_by_python_email() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("eicar.bin"), EICAR).unwrap();
    std::fs::write(dir.path().join("clean.bin"), b"harmless bytes").unwrap();
    let script = r#"
import email.message, email.policy, mailbox, sys
def msg(payload, name):
    m = email.message.EmailMessage()
    m["From"] = "a@example.com"; m["To"] = "b@example.com"; m["Subject"] = "report"
    m.set_content("See the attached report.\n")
    m.add_attachment(payload, maintype="application", subtype="octet-stream", filename=name)
    inner = email.message.EmailMessage()
    inner["From"] = "c@example.com"; inner["Subject"] = "fwd"
    inner.set_content("forwarded")
    inner.add_attachment(payload, maintype="application", subtype="zip", filename="inner.bin")
    m.add_attachment(inner)
    return m
for tag in ("eicar", "clean"):
    data = open(tag + ".bin", "rb").read()
    # A non-ASCII name: Python writes it with RFC 2231.
    m = msg(data, "r\u00e9sum\u00e9.com")
    open(tag + ".eml", "wb").write(m.as_bytes(policy=email.policy.SMTP))
    box = mailbox.mbox(tag + ".mbox")
    box.add(msg(b"nothing here", "a.txt")); box.add(m); box.flush()
    m2 = email.message.EmailMessage()
    m2["From"] = "a@example.com"; m2["Subject"] = "qp"
    m2.set_content(data.decode() + "\n", cte="quoted-printable")
    open(tag + "-qp.eml", "wb").write(m2.as_bytes())
"#;
    std::fs::write(dir.path().join("gen.py"), script).unwrap();
    if tool(dir.path(), "python3", &["gen.py"]).is_none() {
        return;
    }
    let read = |n: &str| std::fs::read(dir.path().join(n)).unwrap();
    let r = scan(&read("eicar.eml"), "eicar.eml");
    let mut t = threat_paths(&r);
    t.sort();
    assert_eq!(
        t,
        vec![
            "eicar.eml/part-2/résumé.com",
            "eicar.eml/part-3.eml/part-2/inner.bin"
        ],
        "{:#?}",
        r.root
    );
    let r = scan(&read("eicar.mbox"), "eicar.mbox");
    assert_eq!(r.root.file_type, "application/mbox");
    assert_eq!(threat_paths(&r).len(), 2, "{:#?}", r.root);
    assert!(threat_paths(&r)[0].starts_with("eicar.mbox/message-2.eml/"));
    assert_eq!(
        threat_paths(&scan(&read("eicar-qp.eml"), "q.eml")),
        vec!["q.eml/body.txt"]
    );
    for n in ["clean.eml", "clean.mbox", "clean-qp.eml"] {
        let r = scan(&read(n), n);
        assert_eq!(r.verdict(), ResultCode::NoThreat, "{n}: {:#?}", r.root);
    }
}
