//! Writes the seed corpora of the fuzz targets: small valid archives of every
//! format, built with the same builders as the integration tests.
//!
//! `cargo run -p mdcore --example fuzz_seeds -- fuzz/corpus` (what
//! `fuzz/make-corpus.sh` runs).
// A tool run by developers on inputs of their own making, not a reader
// of hostile bytes: it stops with a message where the library may not.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

#[path = "../tests/util.rs"]
mod util;

use std::path::Path;

use util::*;

/// `printf 'hello hello hello lzip\n' | lzip -c`
const LZIP_HELLO: &[u8] = b"\x4c\x5a\x49\x50\x01\x0c\x00\x34\x19\x49\xee\x8d\xe9\x50\x95\xfc\x0b\xed\x5d\x6f\xb6\x56\x13\xff\xff\xf7\xb7\x80\x00\x8b\xba\xa3\xad\x17\x00\x00\x00\x00\x00\x00\x00\x31\x00\x00\x00\x00\x00\x00\x00";
/// `printf 'hello hello hello lzma\n' | xz --format=lzma -c`
const LZMA_HELLO: &[u8] = b"\x5d\x00\x00\x80\x00\xff\xff\xff\xff\xff\xff\xff\xff\x00\x34\x19\x49\xee\x8d\xe9\x50\x95\xfc\x0b\xee\xfb\x1a\xd9\x1f\xdf\xff\xff\xf6\x62\x80\x00";
/// `printf 'hello hello hello lz4\n' | lz4 -c -BD`
const LZ4_HELLO: &[u8] = b"\x04\x22\x4d\x18\x64\x40\xa7\x0f\x00\x00\x00\x67\x68\x65\x6c\x6c\x6f\x20\x06\x00\x50\x20\x6c\x7a\x34\x0a\x00\x00\x00\x00\x39\x52\xde\xef";
/// `printf 'hello hello hello lz4 legacy\n' | lz4 -c -l`
const LZ4_LEGACY: &[u8] = b"\x02\x21\x4c\x18\x15\x00\x00\x00\x68\x68\x65\x6c\x6c\x6f\x20\x06\x00\xb0\x6c\x7a\x34\x20\x6c\x65\x67\x61\x63\x79\x0a";
/// `python3 -c "print('hello lzop '*12)" | lzop -c`
const LZOP_HELLO: &[u8] = b"\x89\x4c\x5a\x4f\x00\x0d\x0a\x1a\x0a\x10\x40\x20\xa0\x09\x40\x01\x05\x03\x00\x00\x0d\x00\x00\x00\x00\x6b\x17\x13\x43\x00\x00\x00\x00\x00\x25\xee\x02\x48\x00\x00\x00\x85\x00\x00\x00\x22\x05\xa4\x31\x37\x08\x68\x65\x6c\x6c\x6f\x20\x6c\x7a\x6f\x70\x20\x20\x4b\x28\x00\x0b\x70\x20\x68\x65\x6c\x6c\x6f\x20\x6c\x7a\x6f\x70\x20\x0a\x11\x00\x00\x00\x00\x00\x00";
/// `printf 'abababababab hello hello compress\n' | compress -c`
const COMPRESS_HELLO: &[u8] = b"\x1f\x9d\x90\x61\xc4\x04\x1c\x28\xb0\x20\x08\x34\x65\xd8\xb0\x79\x73\x30\xe1\x42\x10\x63\xde\xb4\x81\x23\xa7\xcc\x9c\x39\x0a\x00";

fn main() {
    let root = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/corpus".into());
    let root = Path::new(&root);
    let text: &[u8] = b"hello, fuzzer\nsome text to compress, some text to compress\n";
    let files: &[(&str, &[u8])] = &[("a.txt", text), ("dir/eicar.com", EICAR)];
    let zip = zip_of(files);
    let tar = tar_of(files);
    let cpio = newc_of(files);
    let seeds: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "extract_zip",
            "stored",
            zip_with(files, zip::CompressionMethod::Stored),
        ),
        ("extract_zip", "deflate", zip.clone()),
        (
            "extract_zip",
            "bzip2",
            zip_with(files, zip::CompressionMethod::Bzip2),
        ),
        (
            "extract_zip",
            "zstd",
            zip_with(files, zip::CompressionMethod::Zstd),
        ),
        ("extract_zip", "aes", zip_encrypted(files, "infected", true)),
        ("extract_zip", "zipcrypto", zipcrypto_zip(files, "infected")),
        ("extract_tar", "gnu", tar.clone()),
        ("extract_gzip", "text", gz(text)),
        ("extract_gzip", "multi", [gz(text), gz(EICAR)].concat()),
        ("extract_bzip2", "text", bz2(text)),
        ("extract_xz", "text", xz(text)),
        ("extract_zstd", "text", zst(text)),
        // Written by lzip 1.23, ncompress 4.2.4 and xz 5.4 (no encoder for
        // the first two in the tree).
        ("extract_lzip", "hello", LZIP_HELLO.to_vec()),
        ("extract_compress", "hello", COMPRESS_HELLO.to_vec()),
        ("extract_lzma", "hello", LZMA_HELLO.to_vec()),
        // Written by lz4 1.9.4 and lzop 1.04.
        ("extract_lz4", "hello", LZ4_HELLO.to_vec()),
        ("extract_lz4", "legacy", LZ4_LEGACY.to_vec()),
        ("extract_lzop", "hello", LZOP_HELLO.to_vec()),
        ("extract_xar", "zlib", xar_of(files)),
        // ClamAV signatures: database lines of each kind, a container
        // header, and a body signature with what it is matched against.
        (
            "clamav_parse",
            "lines",
            b"Sig-1:0:*:4142{2-4}43(44|4546)!(41|42)4?:51\nSig-2:1:EP+2,4:41424344*4546\n\
              44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test\n"
                .to_vec(),
        ),
        (
            "clamav_parse",
            "header",
            {
                let mut h = b"ClamAV-VDB:22 Jun 2021 14-58 -0400:1:0:81:a4ab60ae1c1c4e8f787459102dcfd90b:x:b:1".to_vec();
                h.resize(512, b' ');
                h.extend(gz(&tar));
                h
            },
        ),
        (
            "clamav_match",
            "gaps",
            b"0:*:4142{1-3}4344*4546[0-2]47(48|4950)!(41|42)\nxxAB..CDxxxxEF.GHIJxx".to_vec(),
        ),
        (
            "clamav_match",
            "offset",
            b"0:EOF-12,3:41??43?4\nxxxxxxxxABCDxxxxxxxx".to_vec(),
        ),
        // InstallShield disk records (name, path, version, length, bytes).
        (
            "extract_installshield",
            "records",
            [
                &b"a.txt\0Disk1\\a.txt\0"[..],
                b"0.0.0.0\0",
                b"5\0hello",
                b"data1.hdr\0Disk1\\data1.hdr\0",
                b"1.0\0",
                b"4\0ISc(",
            ]
            .concat(),
        ),
        (
            "extract_sis",
            "er6",
            epoc_sis(
                true,
                1,
                2,
                true,
                &[SisFile {
                    file_type: 0,
                    dest: "!:\\a.txt",
                    forks: vec![text, EICAR],
                }],
            ),
        ),
        (
            "extract_warc",
            "response",
            [
                &b"WARC/1.0\r\nWARC-Type: resource\r\nWARC-Target-URI: file://a.txt\r\nContent-Length: 5\r\n\r\nhello\r\n\r\n"[..],
                b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: http://e.com/x\r\n",
                b"Content-Type: application/http; msgtype=response\r\nContent-Length: 73\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                b"\r\n\r\n",
            ]
            .concat(),
        ),
        (
            "extract_tar",
            "pax-sparse-1.0",
            pax_tar(
                &[
                    pax_record("GNU.sparse.major", "1"),
                    pax_record("GNU.sparse.minor", "0"),
                    pax_record("GNU.sparse.name", "a.txt"),
                    pax_record("GNU.sparse.realsize", "2000"),
                ]
                .concat(),
                "GNUSparseFile.0/a.txt",
                &[&b"2\n1000\n5\n2000\n0\n"[..], &[0; 496], b"hello"].concat(),
            ),
        ),
        ("extract_sevenz", "plain", sevenz_of(files, None, false)),
        ("extract_sevenz", "solid", sevenz_of(files, None, true)),
        (
            "extract_sevenz",
            "encrypted",
            sevenz_of(files, Some("infected"), true),
        ),
        ("extract_cab", "stored", cab_of(&[files], false)),
        (
            "extract_cab",
            "mszip",
            cab_of(&[files, &[("b.txt", text)]], true),
        ),
        ("extract_cab", "lzx", cab_lzx(files)),
        (
            "extract_cab",
            "lzx-e8",
            cab_lzx_e8(
                &[(
                    "a.exe",
                    b"\xe8\0\0\0\0 call zero, \xe8\x10\0\0\0 and padding.....",
                )],
                Some(12_000_000),
            ),
        ),
        ("extract_cpio", "newc", cpio.clone()),
        ("extract_rpm", "gzip", rpm_of(&gz(&cpio))),
        ("extract_rpm", "xz", rpm_of(&xz(&cpio))),
        ("carve", "sfx-zip", pe_with_overlay(&zip)),
        ("carve", "sfx-cab", pe_with_overlay(&cab_of(&[files], true))),
        (
            "carve",
            "png-7z",
            [png_image(), sevenz_of(files, None, false)].concat(),
        ),
        (
            "carve",
            "junk-zips",
            [b"junk".repeat(20), zip.clone(), zip_of(&[("b", text)])].concat(),
        ),
        (
            "carve",
            "streams",
            [gz(text), bz2(text), xz(text), zst(text)].concat(),
        ),
        (
            "extract_zip",
            "local-only",
            raw_zip(
                &[
                    Raw::new("a.txt", text),
                    Raw {
                        in_central: false,
                        descriptor: true,
                        ..Raw::new("b.com", EICAR)
                    },
                ],
                0,
            ),
        ),
    ];
    let project = vba_project(
        "Macros/VBA",
        &[(
            "Module1",
            "Attribute VB_Name = \"Module1\"\r\nSub AutoOpen()\r\nEnd Sub\r\n",
        )],
    );
    let mut doc: Vec<(&str, &[u8])> = project
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let fib = word_fib(false);
    let package = ole10native("a.txt", text);
    doc.push(("WordDocument", &fib));
    doc.push(("ObjectPool/_1/\u{1}Ole10Native", &package));
    let wide: Vec<u8> = "a.txt".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let ppt = {
        let mut z = (text.len() as u32).to_le_bytes().to_vec();
        z.extend_from_slice(&zlib(text));
        let mut r = vec![0x10, 0x00, 0x11, 0x10];
        r.extend_from_slice(&(z.len() as u32).to_le_bytes());
        r.extend_from_slice(&z);
        r
    };
    let ole: Vec<(&str, &str, Vec<u8>)> = vec![
        ("extract_ole2", "doc-vba-package", ole2_of(&doc)),
        (
            "extract_ole2",
            "msg",
            ole2_of(&[
                ("__substg1.0_1000001F", &wide),
                ("__attach_version1.0_#00000000/__substg1.0_3707001F", &wide),
                ("__attach_version1.0_#00000000/__substg1.0_37010102", text),
            ]),
        ),
        (
            "extract_ole2",
            "ppt",
            ole2_of(&[("PowerPoint Document", &ppt)]),
        ),
    ];
    let mail = format!(
        "From: a@b\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=\"b\"; boundary*0*=utf-8''c\r\n\r\npre\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nhi=3D=\r\nthere\r\nbegin 644 a.txt\r\n#0V%T\r\n`\r\nend\r\n=ybegin line=128 size=3 name=y\r\nabc\r\n=yend\r\n--b\r\nContent-Type: application/octet-stream; name=\"=?utf-8?B?YS5iaW4=?=\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@d\r\nSubject: inner\r\n\r\ninner body\r\n--b--\r\nepilogue\r\n",
        b64(text)
    );
    let ole = ole.into_iter().chain([
        ("extract_mail", "multipart", mail.into_bytes()),
        (
            "extract_pdf",
            "attachment-js",
            pdf_with_attachment("a.txt", text, "app.alert\\(1\\)"),
        ),
        ("extract_pdf", "document", pdf_document()),
        (
            "extract_rtf",
            "objdata-bin",
            "{\\rtf1{\\object{\\*\\objdata 0105000002000000080000005061636b61676500000000000000000004000000414243}}{\\pict\\bin3 abc}}"
                .as_bytes()
                .to_vec(),
        ),
        (
            "extract_text",
            "blocks",
            format!(
                "begin 644 cat.txt\n#0V%T\n`\nend\n<a href=\"data:text/plain;base64,{}\">\n{}\n",
                b64(text),
                b64(&zip)
            )
            .into_bytes(),
        ),
        ("extract_onenote", "two-files", {
            let mut one = vec![
                0xe4, 0x52, 0x5c, 0x7b, 0x8c, 0xd8, 0xa7, 0x4d, 0xae, 0xb1, 0x53, 0x78, 0xd0, 0x29,
                0x96, 0xd3,
            ];
            one.extend_from_slice(&[0u8; 256]);
            for payload in [text, EICAR] {
                one.extend_from_slice(&[
                    0xe7, 0x16, 0xe3, 0xbd, 0x65, 0x26, 0x11, 0x45, 0xa4, 0xc4, 0x8d, 0x4d, 0x0b,
                    0x7a, 0x9e, 0xac,
                ]);
                one.extend_from_slice(&(payload.len() as u64).to_le_bytes());
                one.extend_from_slice(&[0u8; 12]);
                one.extend_from_slice(payload);
                one.extend_from_slice(&[0u8; 4]);
            }
            one
        }),
        ("extract_onenote", "packaged", {
            use fsshttpb::*;
            section(&[storage_index(1), object_group(2, 3), blob_element(3, &zip)])
        }),
        ("extract_onenote", "fragmented", {
            use fsshttpb::*;
            let mut elements = vec![storage_index(1)];
            elements.extend(fragments(20, &blob_element(9, text), 32, None));
            section(&elements)
        }),
        ("extract_tnef", "attachment", {
            let mut t = 0x223e_9f78u32.to_le_bytes().to_vec();
            t.extend_from_slice(&[1, 0]);
            for (id, v) in [
                (0x0006_9002u32, &[0u8; 14][..]),
                (0x0001_8010, b"a.txt\0"),
                (0x0006_800f, text),
            ] {
                t.push(2);
                t.extend_from_slice(&id.to_le_bytes());
                t.extend_from_slice(&(v.len() as u32).to_le_bytes());
                t.extend_from_slice(v);
                t.extend_from_slice(&[0, 0]);
            }
            t
        }),
    ]);
    let seeds: Vec<_> = seeds
        .into_iter()
        .chain(ole)
        .chain(rar_seeds(files))
        .chain(iso_seeds(files))
        .chain(archiver_seeds(files))
        .chain(disk_seeds(files))
        .chain(szdd_seeds(text))
        .chain(nsis_seeds(text))
        .chain(chm_seeds(files))
        .chain(autoit_vhdx_seeds(files))
        .collect();
    let nested = zip_of(&[
        ("inner.tar.gz", &gz(&tar)),
        ("x.7z", &sevenz_of(files, None, true)),
    ]);
    for (target, name, data) in &seeds {
        write(root, target, name, data);
        // Every seed is also a seed for detection and for the whole scan.
        write(root, "detect", &format!("{target}-{name}"), data);
        write(root, "scan", &format!("{target}-{name}"), data);
    }
    write(root, "scan", "nested", &nested);
    // Sanitization: a macro-enabled Word package and an RTF with an object
    // and a DDE field (the first byte picks how the target names the input).
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
    write(root, "sanitize", "docm", &docm);
    write(root, "sanitize", "pdf", SANITIZE_PDF);
    // Identification: package metadata and a .deb-shaped ar archive.
    write(
        root,
        "identify",
        "pom",
        b"groupId=org.example\nartifactId=demo\nversion=1.0\n",
    );
    write(
        root,
        "identify",
        "deb",
        b"!<arch>\ndebian-binary   0           0     0     100644  4         `\n2.0\ncontrol.tar     0           0     0     100644  0         `\n",
    );
    write(root, "sanitize", "doc", &sanitize_doc());
    // Archives rebuilt in their own format (tar, 7z, gzip) and as zip (cab).
    let members: &[(&str, &[u8])] = &[
        ("a.rtf", br"{\rtf1 {\object\objdata 01}}"),
        ("b.docm", &docm),
    ];
    write(root, "sanitize", "tar", &tar_of(members));
    write(root, "sanitize", "tgz", &gz(&tar_of(members)));
    write(root, "sanitize", "7z", &sevenz_of(members, None, false));
    write(root, "sanitize", "cab", &cab_of(&[members], true));
    // ar: GNU long names (the `//` table) and a BSD `#1/` name.
    write(
        root,
        "extract_ar",
        "gnu",
        b"!<arch>\n//                                              28        `\na_long_member_name_here.o/\n\n/0              0           0     0     644     5         `\nhello\nb.txt/          0           0     0     644     4         `\nbee\n",
    );
    write(
        root,
        "extract_ar",
        "bsd",
        b"!<arch>\n#1/8            0           0     0     644     11        `\nname.txtabc\n",
    );
    write(
        root,
        "sanitize",
        "zip",
        &zip_of(&[("a.pdf", SANITIZE_PDF), ("b.docm", &docm)]),
    );
    write(
        root,
        "sanitize",
        "rtf",
        br"{\rtf1 Hi {\object\objemb{\*\objdata 0105}{\result {\pict 00}}}{\field{\*\fldinst DDEAUTO x}{\fldrslt y}}}",
    );
    write(root, "detect", "pdf", b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n");
    write(
        root,
        "detect",
        "elf",
        b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0",
    );
    write(
        root,
        "detect",
        "ole2",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\0\0\0\0",
    );
    println!("seeds written under {}", root.display());
}

/// Hand-built stored RAR 4 and 5, and the third-party samples of the tests
/// (compressed, solid, encrypted; see `tests/data/rar`).
fn rar_seeds(files: &[(&str, &[u8])]) -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let mut seeds = vec![
        ("extract_rar", "stored4", rar4_stored(files)),
        ("extract_rar", "stored5", rar5_stored(files)),
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rar");
    for name in [
        "rar3-solid.rar",
        "rar5-solid.rar",
        "rar5-psw.rar",
        "rar5-hpsw.rar",
        "rar3-comment-hpsw.rar",
        "rar202-comment-nopsw.rar",
        "rar15-comment.rar",
        "rar5-blake.rar",
        "rar5-vols.part3.rar",
    ] {
        if let Ok(data) = std::fs::read(dir.join(name)) {
            seeds.push(("extract_rar", name, data));
        }
    }
    seeds
}

/// Disc images from genisoimage (when installed), cut to the first 64 KiB
/// (descriptors, path tables, directories and the first files; the fuzz
/// runs take at most 64 KiB).
fn iso_seeds(files: &[(&str, &[u8])]) -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let mut seeds = Vec::new();
    for (name, args) in [
        ("plain", &[][..]),
        ("joliet-rr", &["-J", "-R"][..]),
        ("udf", &["-udf"][..]),
    ] {
        let Ok(dir) = tempfile::tempdir() else {
            continue;
        };
        for (f, data) in files {
            let p = dir.path().join("src").join(f);
            let _ = std::fs::create_dir_all(p.parent().unwrap_or(dir.path()));
            let _ = std::fs::write(p, data);
        }
        let ok = std::process::Command::new("genisoimage")
            .args(["-quiet", "-o", "out.iso"])
            .args(args)
            .arg("src")
            .current_dir(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if let Ok(mut iso) = std::fs::read(dir.path().join("out.iso"))
            && ok
        {
            iso.truncate(64 << 10);
            seeds.push(("extract_iso", name, iso));
        }
    }
    seeds
}

/// LZH from jLHA and ARJ from arj (when installed), of every method.
fn archiver_seeds(files: &[(&str, &[u8])]) -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let runs: &[(&str, &str, &[&str], &str)] = &[
        ("extract_lzh", "lh5", &["jlha", "ao5"], "out.lzh"),
        ("extract_lzh", "lh6", &["jlha", "ao6"], "out.lzh"),
        ("extract_lzh", "lh7", &["jlha", "ao7"], "out.lzh"),
        ("extract_lzh", "level0", &["jlha", "a0"], "out.lzh"),
        ("extract_lzh", "level1", &["jlha", "a1"], "out.lzh"),
        ("extract_arj", "m0", &["arj", "a", "-y", "-m0"], "out.arj"),
        ("extract_arj", "m1", &["arj", "a", "-y", "-m1"], "out.arj"),
        ("extract_arj", "m4", &["arj", "a", "-y", "-m4"], "out.arj"),
        (
            "extract_arj",
            "garbled",
            &["arj", "a", "-y", "-m1", "-ginfected"],
            "out.arj",
        ),
    ];
    let mut seeds = Vec::new();
    for (target, name, command, out) in runs {
        let Ok(dir) = tempfile::tempdir() else {
            continue;
        };
        for (f, data) in files {
            let p = dir.path().join(f);
            let _ = std::fs::create_dir_all(p.parent().unwrap_or(dir.path()));
            let _ = std::fs::write(p, data);
        }
        let Some((program, args)) = command.split_first() else {
            continue;
        };
        let ok = std::process::Command::new(program)
            .args(args)
            .arg(out)
            .args(files.iter().map(|(f, _)| *f))
            .current_dir(dir.path())
            .output()
            .is_ok_and(|o| o.status.success());
        if let Ok(data) = std::fs::read(dir.path().join(out))
            && ok
        {
            seeds.push((*target, *name, data));
        }
    }
    seeds
}

/// Small FAT volumes from mkfs.fat and mtools, and an MBR disk holding
/// one (when the tools are installed), cut to 64 KiB.
fn disk_seeds(files: &[(&str, &[u8])]) -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let mut seeds = Vec::new();
    for (name, bits) in [("fat12", "12"), ("fat16", "16")] {
        let Ok(dir) = tempfile::tempdir() else {
            continue;
        };
        let d = dir.path();
        let kb = if bits == "12" { "160" } else { "8192" };
        let run = |program: &str, args: &[&str]| {
            std::process::Command::new(program)
                .args(args)
                .current_dir(d)
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !run("mkfs.fat", &["-C", "-F", bits, "-s", "1", "vol.img", kb]) {
            continue;
        }
        for (f, data) in files {
            let _ = std::fs::write(d.join("staging.bin"), data);
            let target = format!("::/{}", f.replace('/', "_"));
            run("mcopy", &["-o", "-i", "vol.img", "staging.bin", &target]);
        }
        if let Ok(mut vol) = std::fs::read(d.join("vol.img")) {
            vol.truncate(64 << 10);
            // The same volume behind an MBR at sector 1.
            let mut disk = vec![0u8; 512];
            disk[446 + 4] = 6;
            disk[446 + 8..446 + 12].copy_from_slice(&1u32.to_le_bytes());
            let sectors = u32::try_from(vol.len() / 512).unwrap_or(0);
            disk[446 + 12..446 + 16].copy_from_slice(&sectors.to_le_bytes());
            disk[510] = 0x55;
            disk[511] = 0xaa;
            disk.extend_from_slice(&vol);
            disk.truncate(64 << 10);
            seeds.push(("extract_disk", name, vol));
            seeds.push((
                "extract_disk",
                if bits == "12" {
                    "mbr-fat12"
                } else {
                    "mbr-fat16"
                },
                disk,
            ));
        }
    }
    seeds
}

/// SZDD and KWAJ (method 0 and the LZSS of method 2) of `text`, written
/// as literals only.
fn szdd_seeds(text: &[u8]) -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let mut lzss = Vec::new();
    for chunk in text.chunks(8) {
        lzss.push(0xff);
        lzss.extend_from_slice(chunk);
    }
    let size = u32::try_from(text.len()).unwrap_or(0).to_le_bytes();
    let mut szdd = b"SZDD\x88\xf0\x27\x33A_".to_vec();
    szdd.extend_from_slice(&size);
    szdd.extend_from_slice(&lzss);
    let kwaj = |method: u16, body: &[u8]| {
        let mut k = b"KWAJ\x88\xf0\x27\xd1".to_vec();
        k.extend_from_slice(&method.to_le_bytes());
        k.extend_from_slice(&18u16.to_le_bytes());
        k.extend_from_slice(&1u16.to_le_bytes());
        k.extend_from_slice(&size);
        k.extend_from_slice(body);
        k
    };
    vec![
        ("extract_szdd", "szdd", szdd),
        ("extract_szdd", "kwaj-stored", kwaj(0, text)),
        ("extract_szdd", "kwaj-lzss", kwaj(2, &lzss)),
    ]
}

/// CHM: hand-built (files in both sections, decoder reset every frame),
/// and halibut's manual (real LZX with matches) when halibut is installed;
/// ALZ, hand-built (stored, deflated, encrypted).
fn chm_seeds(files: &[(&str, &[u8])]) -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let mut seeds = vec![
        ("extract_chm", "both-sections", chm(files, files, 1)),
        (
            "extract_alz",
            "stored-deflate",
            alz_of(&[("a.txt", files[0].1, 0), ("b.bin", files[1].1, 2)], None),
        ),
        (
            "extract_alz",
            "encrypted",
            alz_of(&[("a.txt", files[0].1, 2)], Some("password")),
        ),
    ];
    let dir = std::env::temp_dir().join(format!("mdscan-seed-chm-{}", std::process::id()));
    let made = std::fs::create_dir_all(&dir).is_ok()
        && std::fs::write(
            dir.join("d.but"),
            "\\title Seed\n\n\\C{a} A\n\nSome help text, some help text.\n",
        )
        .is_ok()
        && std::process::Command::new("halibut")
            .args(["--chm=s.chm", "d.but"])
            .current_dir(&dir)
            .output()
            .is_ok_and(|o| o.status.success());
    if made && let Ok(data) = std::fs::read(dir.join("s.chm")) {
        seeds.push(("extract_chm", "halibut", data));
    }
    let _ = std::fs::remove_dir_all(&dir);
    seeds
}

/// The installer data of an NSIS setup from makensis (when installed),
/// from its first header on, as the carver hands it over.
fn nsis_seeds(text: &[u8]) -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let mut seeds = Vec::new();
    for (name, compressor) in [("zlib", "zlib"), ("solid-lzma", "/SOLID lzma")] {
        let Ok(dir) = tempfile::tempdir() else {
            continue;
        };
        let d = dir.path();
        let _ = std::fs::write(d.join("a.txt"), text);
        let script = format!(
            "OutFile \"out.exe\"\nSetCompressor {compressor}\nSection\nSetOutPath $TEMP\nFile \"a.txt\"\nSectionEnd\n"
        );
        let _ = std::fs::write(d.join("t.nsi"), script);
        let ok = std::process::Command::new("makensis")
            .args(["-V1", "t.nsi"])
            .current_dir(d)
            .output()
            .is_ok_and(|o| o.status.success());
        let Ok(exe) = std::fs::read(d.join("out.exe")) else {
            continue;
        };
        let found = memchr::memmem::find(&exe, b"\xef\xbe\xad\xdeNullsoftInst");
        if let (true, Some(at)) = (ok, found.and_then(|a| a.checked_sub(4))) {
            seeds.push((
                "extract_nsis",
                name,
                exe.get(at..).unwrap_or_default().to_vec(),
            ));
        }
    }
    seeds
}

/// Two files of an InstallShield cabinet seed: one stored, one compressed
/// and obfuscated.
fn iscab_seed<'a>(a: &'a [u8], b: &'a [u8]) -> Vec<IsCabFile<'a>> {
    vec![
        IsCabFile {
            dir: "",
            name: "setup.ini",
            data: a,
            compressed: false,
            obfuscated: false,
        },
        IsCabFile {
            dir: "bin",
            name: "app.exe",
            data: b,
            compressed: true,
            obfuscated: true,
        },
    ]
}

fn write(root: &Path, target: &str, name: &str, data: &[u8]) {
    let dir = root.join(target);
    std::fs::create_dir_all(&dir).expect("can create the corpus directory");
    std::fs::write(dir.join(name), data).expect("can write a seed");
}

/// InstallShield launcher data (both layouts, plain, encrypted, deflated),
/// compiled AutoIt scripts (EA06 tokens and EA05 text, compressed and
/// stored), and a VHDX in the shape `extract_vhdx` takes (the header's
/// fields, the region entries, then the file from 1 MiB on: metadata at
/// 1 MiB, the BAT 4 KiB after, one block present).
fn autoit_vhdx_seeds(files: &[(&str, &[u8])]) -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let tokens = au3_tokens(&[
        &[
            (0x30, "LOCAL"),
            (0x33, "x"),
            (0x41, ""),
            (0x36, "text"),
            (0x4D, ""),
            (0x05, "7"),
        ],
        &[(0x31, "RUN"), (0x47, ""), (0x33, "x"), (0x48, "")],
    ]);
    let ea06 = autoit_of(
        6,
        &[
            Au3Entry {
                kind: ">>>AUTOIT SCRIPT<<<",
                name: "C:\\a.au3",
                data: &tokens,
                compress: true,
            },
            Au3Entry {
                kind: "C:\\f.bin",
                name: "C:\\f.bin",
                data: files[0].1,
                compress: false,
            },
        ],
    );
    let ea05 = autoit_of(
        5,
        &[Au3Entry {
            kind: ">AUTOIT SCRIPT<",
            name: "C:\\a.au3",
            data: files[0].1,
            compress: true,
        }],
    );
    let guid = |a: u32, b: u16, c: u16, d: [u8; 8]| {
        let mut g = a.to_le_bytes().to_vec();
        g.extend_from_slice(&b.to_le_bytes());
        g.extend_from_slice(&c.to_le_bytes());
        g.extend_from_slice(&d);
        g
    };
    let mut v = vec![0u8; 76];
    v[0] = 1; // sequence number
    v[58] = 1; // version
    v.push(2);
    let region = |g: Vec<u8>, offset: u64, len: u32| {
        let mut e = g;
        e.extend_from_slice(&offset.to_le_bytes());
        e.extend_from_slice(&len.to_le_bytes());
        e.extend_from_slice(&1u32.to_le_bytes());
        e
    };
    v.extend(region(
        guid(
            0x8B7C_A206,
            0x4790,
            0x4B9A,
            [0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E],
        ),
        1 << 20,
        4096,
    ));
    v.extend(region(
        guid(
            0x2DC2_7766,
            0xF623,
            0x4200,
            [0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08],
        ),
        (1 << 20) + 4096,
        4096,
    ));
    let mut meta = b"metadata\0\0".to_vec();
    meta.extend_from_slice(&3u16.to_le_bytes());
    meta.resize(32, 0);
    let items = [
        (
            guid(
                0xCAA1_6737,
                0xFA36,
                0x4D43,
                [0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B],
            ),
            [0u8, 0, 16, 0, 0, 0, 0, 0].to_vec(),
        ),
        (
            guid(
                0x2FA5_4224,
                0xCD1B,
                0x4876,
                [0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8],
            ),
            (1u64 << 20).to_le_bytes().to_vec(),
        ),
        (
            guid(
                0x8141_BF1D,
                0xA96F,
                0x4709,
                [0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F],
            ),
            512u32.to_le_bytes().to_vec(),
        ),
    ];
    let mut values = Vec::new();
    for (g, value) in &items {
        meta.extend_from_slice(g);
        meta.extend_from_slice(&(256 + values.len() as u32).to_le_bytes());
        meta.extend_from_slice(&(value.len() as u32).to_le_bytes());
        meta.extend_from_slice(&4u32.to_le_bytes());
        meta.extend_from_slice(&[0; 4]);
        values.extend_from_slice(value);
    }
    meta.resize(256, 0);
    meta.extend(values);
    meta.resize(4096, 0);
    let mut bat = ((1u64 << 20) | 6).to_le_bytes().to_vec();
    bat.resize(4096, 0);
    v.extend(meta);
    v.extend(bat);
    v.extend_from_slice(files[0].1);
    let is = |stream: bool, flags: u32, deflate: bool| {
        installshield_of(
            stream,
            &[
                IsFile {
                    name: "setup.ini",
                    data: files[0].1,
                    flags,
                    deflate,
                },
                IsFile {
                    name: "data1.cab",
                    data: files[1].1,
                    flags,
                    deflate,
                },
            ],
        )
    };
    vec![
        (
            "extract_installshield",
            "classic-plain",
            is(false, 0, false),
        ),
        ("extract_installshield", "classic-kib", is(false, 6, false)),
        (
            "extract_installshield",
            "stream-deflated",
            is(true, 4, true),
        ),
        (
            "extract_iscab",
            "is12-compressed-obfuscated",
            iscab_of(12, &iscab_seed(files[0].1, files[1].1)),
        ),
        (
            "extract_iscab",
            "is5",
            iscab_of(5, &iscab_seed(files[0].1, files[1].1)),
        ),
        (
            "extract_iscab",
            "is21-unicode",
            iscab_of(21, &iscab_seed(files[0].1, files[1].1)),
        ),
        ("extract_autoit", "ea06", ea06),
        ("extract_autoit", "ea05", ea05),
        ("extract_vhdx", "one-block", v),
    ]
}
