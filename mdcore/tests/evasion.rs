//! Issue 9: every construction that hid a payload from an earlier mdscan —
//! built with ordinary tools or by hand — is found (Infected) or blocked
//! with the right code and a note; each has a clean twin that stays clean.

use mdcore::{Kind, Limits, Report, ResultCode, ScanOptions, ScannerBuilder};

use crate::util::*;

fn infected(report: &Report) {
    assert_eq!(
        report.verdict(),
        ResultCode::Infected,
        "{}",
        serde_json::to_string_pretty(&report.root).unwrap()
    );
    assert!(report.blocked());
}

fn clean(report: &Report) {
    assert_eq!(
        report.verdict(),
        ResultCode::NoThreat,
        "{}",
        serde_json::to_string_pretty(&report.root).unwrap()
    );
    assert!(!report.blocked());
}

fn notes(report: &Report) -> String {
    report
        .root
        .iter()
        .flat_map(|n| n.notes.iter().cloned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A JPEG image (16x16 gradient) from a real encoder.
pub fn jpeg_image() -> Vec<u8> {
    let mut out = Vec::new();
    let pixels: Vec<u8> = (0..16u8)
        .flat_map(|y| (0..16u8).flat_map(move |x| [x * 16, y * 16, 128]))
        .collect();
    jpeg_encoder::Encoder::new(&mut out, 80)
        .encode(&pixels, 16, 16, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

const CLEAN: &[u8] = b"quarterly figures, nothing to see\n";

fn junk(n: usize) -> Vec<u8> {
    b"This is not an archive; it is a prefix of junk. ".repeat(n)
}

// ---- 3. Find containers wherever they are ----------------------------------

#[test]
fn zip_behind_a_junk_prefix_with_and_without_adjusted_offsets() {
    let bad = zip_of(&[("readme.txt", CLEAN), ("eicar.com", EICAR)]);
    let good = zip_of(&[("readme.txt", CLEAN)]);
    let prefix = junk(40);
    for (adjusted, data, twin) in [
        (
            false,
            [&prefix[..], &bad].concat(),
            [&prefix[..], &good].concat(),
        ),
        (
            true,
            prefixed_adjusted(&prefix, &bad),
            prefixed_adjusted(&prefix, &good),
        ),
    ] {
        let r = scan(&data, "mail.bin");
        infected(&r);
        assert_eq!(
            threat_paths(&r),
            vec![format!(
                "mail.bin/[embedded@{}].zip/eicar.com",
                prefix.len()
            )],
            "adjusted={adjusted}"
        );
        clean(&scan(&twin, "mail.bin"));
    }
}

#[test]
fn zip_behind_images_and_7z_behind_an_image() {
    let bad = zip_of(&[("eicar.com", EICAR)]);
    for (image, ext) in [
        (png_image(), "png"),
        (gif_image(), "gif"),
        (jpeg_image(), "jpg"),
    ] {
        let name = format!("photo.{ext}");
        infected(&scan(&[&image[..], &bad].concat(), &name));
        // The clean twin: the image alone, and with a clean zip.
        clean(&scan(&image, &name));
        clean(&scan(
            &[&image[..], &zip_of(&[("a.txt", CLEAN)])].concat(),
            &name,
        ));
    }
    let png = png_image();
    let sz = sevenz_of(&[("eicar.com", EICAR)], None, false);
    let r = scan(&[&png[..], &sz].concat(), "photo.png");
    infected(&r);
    assert_eq!(
        threat_paths(&r),
        vec![format!("photo.png/[embedded@{}].7z/eicar.com", png.len())]
    );
    let twin = sevenz_of(&[("a.txt", CLEAN)], None, false);
    clean(&scan(&[&png[..], &twin].concat(), "photo.png"));
}

#[test]
fn zip_behind_an_mz_stub_that_is_no_valid_pe() {
    let mut stub = b"MZ".to_vec();
    stub.extend_from_slice(&[0x90; 126]); // e_lfanew points nowhere
    let bad = zip_of(&[("eicar.com", EICAR)]);
    for data in [[&stub[..], &bad].concat(), prefixed_adjusted(&stub, &bad)] {
        let r = scan(&data, "setup.exe");
        assert_eq!(r.root.file_type_description, "MS-DOS executable");
        infected(&r);
    }
    clean(&scan(&stub, "setup.exe"));
}

#[test]
fn self_extractor_built_with_cat_and_zip_adjust() {
    // `cat stub.exe a.zip > sfx.exe; zip -A sfx.exe`: offsets adjusted.
    let bad = zip_of(&[("docs/readme.txt", CLEAN), ("bin/eicar.com", EICAR)]);
    let stub = pe_with_overlay(b"");
    let r = scan(&prefixed_adjusted(&stub, &bad), "sfx.exe");
    infected(&r);
    assert_eq!(r.root.file_type_description, "PE32 executable");
    clean(&scan(
        &prefixed_adjusted(&stub, &zip_of(&[("a", CLEAN)])),
        "sfx.exe",
    ));
    clean(&scan(&stub, "plain.exe"));
}

#[test]
fn self_extractor_built_with_the_real_zip_tool() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("eicar.com"), EICAR).unwrap();
    std::fs::write(dir.path().join("a.txt"), CLEAN).unwrap();
    std::fs::write(dir.path().join("stub.exe"), pe_with_overlay(b"")).unwrap();
    if tool(dir.path(), "zip", &["-q", "a.zip", "eicar.com", "a.txt"]).is_none() {
        return;
    }
    tool(dir.path(), "zip", &["-q", "clean.zip", "a.txt"]);
    for (zip, verdict) in [
        ("a.zip", ResultCode::Infected),
        ("clean.zip", ResultCode::NoThreat),
    ] {
        let stub = std::fs::read(dir.path().join("stub.exe")).unwrap();
        let archive = std::fs::read(dir.path().join(zip)).unwrap();
        let sfx = dir.path().join(format!("{zip}.exe"));
        std::fs::write(&sfx, [&stub[..], &archive].concat()).unwrap();
        // Unadjusted first, then `zip -A` as the Info-ZIP manual says.
        assert_eq!(
            scan(&std::fs::read(&sfx).unwrap(), "s.exe").verdict(),
            verdict
        );
        tool(dir.path(), "zip", &["-q", "-A", sfx.to_str().unwrap()]);
        let adjusted = std::fs::read(&sfx).unwrap();
        assert_ne!(
            adjusted,
            [&stub[..], &archive].concat(),
            "zip -A changed nothing"
        );
        assert_eq!(scan(&adjusted, "s.exe").verdict(), verdict);
    }
}

#[test]
fn tar_and_zip_glued_together() {
    let tar = tar_of(&[("a.txt", CLEAN)]);
    let bad = zip_of(&[("eicar.com", EICAR)]);
    let r = scan(&[&tar[..], &bad].concat(), "x.tar");
    infected(&r);
    assert_eq!(
        threat_paths(&r),
        vec![format!("x.tar/[embedded@{}].zip/eicar.com", tar.len())]
    );
    clean(&scan(
        &[&tar[..], &zip_of(&[("b", CLEAN)])].concat(),
        "x.tar",
    ));
}

#[test]
fn two_zips_concatenated_in_either_order() {
    let bad = zip_of(&[("invoice.pdf.exe", EICAR)]);
    let good = zip_of(&[("invoice.pdf", CLEAN)]);
    for data in [[&bad[..], &good].concat(), [&good[..], &bad].concat()] {
        let r = scan(&data, "invoice.zip");
        infected(&r);
        assert!(
            notes(&r).contains("missing from the central directory"),
            "{}",
            notes(&r)
        );
    }
    clean(&scan(&[&good[..], &good].concat(), "invoice.zip"));
}

#[test]
fn entry_only_in_local_headers() {
    let data = raw_zip(
        &[
            Raw::new("a.txt", CLEAN),
            Raw {
                in_central: false,
                ..Raw::new("hidden.com", EICAR)
            },
            Raw::new("b.txt", CLEAN),
        ],
        0,
    );
    let r = scan(&data, "x.zip");
    infected(&r);
    assert_eq!(threat_paths(&r), vec!["x.zip/hidden.com".to_string()]);
    assert!(notes(&r).contains("missing from the central directory"));
    // A data-descriptor entry only in local headers is found too.
    let data = raw_zip(
        &[
            Raw::new("a.txt", CLEAN),
            Raw {
                in_central: false,
                descriptor: true,
                ..Raw::new("hidden.com", EICAR)
            },
        ],
        0,
    );
    infected(&scan(&data, "x.zip"));
    clean(&scan(
        &raw_zip(&[Raw::new("a.txt", CLEAN), Raw::new("b.txt", CLEAN)], 0),
        "x.zip",
    ));
}

#[test]
fn duplicate_names_are_all_scanned() {
    let data = raw_zip(&[Raw::new("a.txt", CLEAN), Raw::new("a.txt", EICAR)], 0);
    let r = scan(&data, "dup.zip");
    infected(&r);
    assert_eq!(r.root.children.len(), 2);
    assert!(notes(&r).contains("repeat a name"), "{}", notes(&r));
    let data = raw_zip(&[Raw::new("a.txt", EICAR), Raw::new("a.txt", CLEAN)], 0);
    infected(&scan(&data, "dup.zip"));
    clean(&scan(
        &raw_zip(&[Raw::new("a.txt", CLEAN), Raw::new("a.txt", b"other")], 0),
        "dup.zip",
    ));
}

#[test]
fn central_and_local_headers_that_disagree() {
    // Method: the central directory says stored, the local header deflate.
    let lying_method = Raw {
        central_method: Some(0),
        ..Raw::new("a.com", EICAR)
    };
    // Name: the local header's name differs.
    let lying_name = Raw {
        central_name: Some("a.txt"),
        ..Raw::new("a.com", EICAR)
    };
    // Size: the central directory cuts the data short.
    let lying_size = Raw {
        central_size: Some(5),
        method: 0,
        ..Raw::new("a.com", EICAR)
    };
    for raw in [lying_method, lying_name, lying_size] {
        let r = scan(&raw_zip(&[raw], 0), "x.zip");
        assert!(
            r.verdict() == ResultCode::Infected || r.blocked(),
            "{}",
            serde_json::to_string_pretty(&r.root).unwrap()
        );
        assert!(
            notes(&r).contains("central directory and the local header disagree"),
            "{}",
            notes(&r)
        );
        assert!(!threat_paths(&r).is_empty(), "{}", notes(&r));
    }
    clean(&scan(
        &raw_zip(
            &[Raw {
                central_name: Some("b.txt"),
                ..Raw::new("a.txt", CLEAN)
            }],
            0,
        ),
        "x.zip",
    ));
}

#[test]
fn directory_entry_with_data() {
    let r = scan(&raw_zip(&[Raw::new("docs/", EICAR)], 0), "x.zip");
    infected(&r);
    assert!(
        notes(&r).contains("directory entry that carries"),
        "{}",
        notes(&r)
    );
    // An ordinary directory entry is not an object.
    let r = scan(
        &raw_zip(&[Raw::new("docs/", b""), Raw::new("docs/a", CLEAN)], 0),
        "x.zip",
    );
    clean(&r);
    assert_eq!(r.root.children.len(), 1);
}

#[test]
fn end_record_naming_another_disk_and_bytes_after_it() {
    let r = scan(&raw_zip(&[Raw::new("e.com", EICAR)], 3), "x.zip");
    infected(&r);
    assert!(notes(&r).contains("multi-disk"), "{}", notes(&r));
    let mut data = zip_of(&[("e.com", EICAR)]);
    data.extend_from_slice(b"trailing bytes that are not an archive");
    let r = scan(&data, "x.zip");
    infected(&r);
    assert!(notes(&r).contains("follow the end of the"), "{}", notes(&r));
    let mut twin = zip_of(&[("a", CLEAN)]);
    twin.extend_from_slice(b"trailing bytes that are not an archive");
    clean(&scan(&twin, "x.zip"));
}

/// Shrink (method 1) with only 9-bit literal codes: a valid stream that any
/// unshrink decoder reads.
fn shrink_literals(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in data {
        acc |= u32::from(*b) << bits;
        bits += 9;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push(acc as u8);
    }
    out
}

/// Reduce (methods 2-5) with empty follower sets: 256 six-bit zero counts,
/// then every byte as 8 bits (the escape byte 144 doubled as 144, 0).
fn reduce_literals(data: &[u8]) -> Vec<u8> {
    let mut bitsv: Vec<bool> = vec![false; 256 * 6];
    for b in data {
        let mut push = |v: u8| (0..8).for_each(|i| bitsv.push(v >> i & 1 == 1));
        push(*b);
        if *b == 144 {
            push(0);
        }
    }
    bitsv
        .chunks(8)
        .map(|c| {
            c.iter()
                .enumerate()
                .fold(0u8, |a, (i, b)| a | (u8::from(*b) << i))
        })
        .collect()
}

/// Implode (method 6) with two trees (no literal tree): the length and
/// distance trees as 64 codes of 6 bits each, then every byte as a 1 bit
/// and 8 literal bits.
fn implode_literals(data: &[u8]) -> Vec<u8> {
    let mut out = vec![3, 0xf5, 0xf5, 0xf5, 0xf5, 3, 0xf5, 0xf5, 0xf5, 0xf5];
    let mut bitsv: Vec<bool> = Vec::new();
    for b in data {
        bitsv.push(true);
        (0..8).for_each(|i| bitsv.push(b >> i & 1 == 1));
    }
    out.extend(bitsv.chunks(8).map(|c| {
        c.iter()
            .enumerate()
            .fold(0u8, |a, (i, b)| a | (u8::from(*b) << i))
    }));
    out
}

#[test]
fn legacy_zip_methods_are_decoded() {
    for (method, packed) in [
        (1u16, shrink_literals(EICAR)),
        (2, reduce_literals(EICAR)),
        (5, reduce_literals(EICAR)),
        (6, implode_literals(EICAR)),
    ] {
        let data = raw_zip(
            &[Raw {
                method,
                packed: Some(packed),
                ..Raw::new("old.com", EICAR)
            }],
            0,
        );
        let r = scan(&data, "old.zip");
        assert_eq!(
            r.verdict(),
            ResultCode::Infected,
            "method {method}: {}",
            notes(&r)
        );
    }
}

#[test]
fn ppmd_zip_from_7zip() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("eicar.com"), EICAR).unwrap();
    std::fs::write(dir.path().join("a.txt"), CLEAN.repeat(50)).unwrap();
    if tool(
        dir.path(),
        "7zz",
        &[
            "a",
            "-bd",
            "-tzip",
            "-mm=PPMd",
            "p.zip",
            "eicar.com",
            "a.txt",
        ],
    )
    .is_none()
    {
        return;
    }
    let data = std::fs::read(dir.path().join("p.zip")).unwrap();
    assert_eq!(&data[8..10], &98u16.to_le_bytes(), "not PPMd");
    infected(&scan(&data, "p.zip"));
    tool(
        dir.path(),
        "7zz",
        &["a", "-bd", "-tzip", "-mm=PPMd", "c.zip", "a.txt"],
    );
    clean(&scan(
        &std::fs::read(dir.path().join("c.zip")).unwrap(),
        "c.zip",
    ));
}

#[test]
fn seven_zip_bcj2_and_filters_from_7zip() {
    let dir = tempfile::tempdir().unwrap();
    // An x86-looking executable body, so the filters have calls to convert.
    let mut exe = pe_with_overlay(b"");
    for i in 0..4000u32 {
        exe.push(0xe8);
        exe.extend_from_slice(&(i * 17).to_le_bytes());
    }
    std::fs::write(dir.path().join("tool.exe"), &exe).unwrap();
    std::fs::write(dir.path().join("eicar.com"), EICAR).unwrap();
    let clean_exe = pe_with_overlay(&[0xe8; 4000]);
    std::fs::write(dir.path().join("clean.exe"), &clean_exe).unwrap();
    for (i, method) in ["-mf=BCJ2", "-mf=BCJ", "-mf=ARM64", "-mf=Delta:4"]
        .iter()
        .enumerate()
    {
        let bad = format!("b{i}.7z");
        if tool(
            dir.path(),
            "7zz",
            &["a", "-bd", method, &bad, "tool.exe", "eicar.com"],
        )
        .is_none()
        {
            return;
        }
        let r = scan(&std::fs::read(dir.path().join(&bad)).unwrap(), &bad);
        infected(&r);
        let good = format!("c{i}.7z");
        tool(dir.path(), "7zz", &["a", "-bd", method, &good, "clean.exe"]);
        clean(&scan(
            &std::fs::read(dir.path().join(&good)).unwrap(),
            &good,
        ));
    }
}

fn tar_with(entries: &[(Vec<u8>, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (h, data) in entries {
        out.extend_from_slice(h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0; 1024]);
    out
}

#[test]
fn tar_entry_with_an_unknown_typeflag() {
    for flag in [b'Q', b'7', b'1', b'3'] {
        let data = tar_with(&[
            (tar_header(b"a.txt", b'0', CLEAN.len(), true, false), CLEAN),
            (
                tar_header(b"odd.com", flag, EICAR.len(), true, false),
                EICAR,
            ),
        ]);
        let r = scan(&data, "x.tar");
        infected(&r);
        // '7' (contiguous) is a regular file; the others are not.
        if flag != b'7' {
            assert!(notes(&r).contains("carries data"), "{}", notes(&r));
        }
    }
    let twin = tar_with(&[(tar_header(b"odd", b'Q', CLEAN.len(), true, false), CLEAN)]);
    clean(&scan(&twin, "x.tar"));
}

#[test]
fn tar_header_with_a_signed_checksum() {
    let name = "caf\u{e9}-r\u{e9}sum\u{e9}.com".as_bytes();
    let data = tar_with(&[(tar_header(name, b'0', EICAR.len(), true, true), EICAR)]);
    let r = scan(&data, "x.tar");
    assert_eq!(r.root.file_type, "application/x-tar");
    infected(&r);
    let twin = tar_with(&[(tar_header(name, b'0', CLEAN.len(), true, true), CLEAN)]);
    clean(&scan(&twin, "x.tar"));
}

#[test]
fn v7_tar_whose_name_starts_with_another_magic() {
    for name in [
        &b"BZh91AY&SY.com"[..],
        b"PK\x03\x04.com",
        b"070707payload",
        b"\x1f\x8b\x08name",
        b"MZpayload",
        b"7z\xbc\xaf\x27\x1c.com",
    ] {
        let data = tar_with(&[(tar_header(name, b'0', EICAR.len(), false, false), EICAR)]);
        let r = scan(&data, "x.tar");
        assert_eq!(r.root.file_type, "application/x-tar", "{name:?}");
        infected(&r);
    }
}

#[test]
fn cpio_entry_without_the_regular_file_bit() {
    let data = newc_raw(&[("dev.com", EICAR, 0o020644)]);
    let r = scan(&data, "x.cpio");
    infected(&r);
    assert!(notes(&r).contains("carries data"));
}

#[test]
fn zstd_opening_with_a_skippable_frame() {
    let mut data = vec![0x5a, 0x2a, 0x4d, 0x18];
    data.extend_from_slice(&16u32.to_le_bytes());
    data.extend_from_slice(b"metadata: ignore");
    data.extend_from_slice(&zst(EICAR));
    let r = scan(&data, "x.zst");
    assert_eq!(r.root.file_type, "application/zstd");
    infected(&r);
    let mut twin = data[..24].to_vec();
    twin.extend_from_slice(&zst(CLEAN));
    clean(&scan(&twin, "x.zst"));
}

#[test]
fn cab_with_a_non_zero_reserved_field() {
    for (payload, verdict) in [(EICAR, ResultCode::Infected), (CLEAN, ResultCode::NoThreat)] {
        let mut data = cab_of(&[&[("f.com", payload)]], true);
        data[4..8].copy_from_slice(b"\x12\x34\x56\x78");
        let r = scan(&data, "x.cab");
        assert_eq!(r.root.file_type, "application/vnd.ms-cab-compressed");
        assert_eq!(r.verdict(), verdict);
    }
}

#[test]
fn cab_from_gcab_behind_junk() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("eicar.com"), EICAR).unwrap();
    if tool(dir.path(), "gcab", &["-c", "-z", "x.cab", "eicar.com"]).is_none() {
        return;
    }
    let cab = std::fs::read(dir.path().join("x.cab")).unwrap();
    let r = scan(&[&junk(3)[..], &cab].concat(), "x.bin");
    infected(&r);
}

#[test]
fn gzip_bzip2_xz_zstd_streams_are_carved() {
    let prefix = png_image();
    for (stream, ext) in [
        (gz(EICAR), "gz"),
        (bz2(EICAR), "bz2"),
        (xz(EICAR), "xz"),
        (zst(EICAR), "zst"),
    ] {
        let r = scan(&[&prefix[..], &stream].concat(), "x.png");
        infected(&r);
        let path = &threat_paths(&r)[0];
        assert!(
            path.starts_with(&format!("x.png/[embedded@{}].{ext}/", prefix.len())),
            "{path}"
        );
        clean(&scan(&[&prefix[..], &gz(CLEAN)].concat(), "x.png"));
    }
}

#[test]
fn trailing_data_after_a_compressed_stream_is_searched() {
    // gzip + zip: gzip decodes its member, the zip after it is carved.
    let data = [&gz(CLEAN)[..], &zip_of(&[("e.com", EICAR)])].concat();
    let r = scan(&data, "x.gz");
    infected(&r);
    assert!(
        notes(&r).contains("follow the end of the gzip"),
        "{}",
        notes(&r)
    );
    // Multi-member gzip is still one stream (EICAR, then a newline member).
    let data = [&gz(EICAR)[..], &gz(b"\n")].concat();
    infected(&scan(&data, "x.gz"));
    clean(&scan(&[&gz(CLEAN)[..], &gz(CLEAN)].concat(), "x.gz"));
}

// ---- 1. Fail closed ---------------------------------------------------------

#[test]
fn recognised_but_unopened_formats_block_with_23() {
    for (data, name, what) in [
        (b"MSWIM\0\0\0rest".to_vec(), "a.wim", "WIM"),
        (b"\x12\x34\x56\0\0\0\0**ACE**rest".to_vec(), "a.ace", "ACE"),
        (
            b"\x12\x3a\x00\x10\x19\x04\x00\x10\x01\x02\x03\x04rest".to_vec(),
            "app.sis",
            "Symbian",
        ),
        (
            b"\x7a\x1a\x20\x10\x00\x00\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08".to_vec(),
            "app.sisx",
            "Symbian",
        ),
        // lrzip and GRZipII headers: they passed as data (0).
        (b"LRZI\x00\x06rest-of-header".to_vec(), "a.lrz", "LRZIP"),
        (
            b"GRZipII\x00\x02\x04:)rest-of-a-stream".to_vec(),
            "a.grz",
            "GRZipII",
        ),
    ] {
        let r = scan(&data, name);
        assert_eq!(r.verdict(), ResultCode::UnsupportedFileType, "{name}");
        assert!(r.blocked(), "{name}");
        assert!(notes(&r).contains(what), "{name}: {}", notes(&r));
    }
    // LZ4 (a frame, the legacy format, a frame behind a skippable frame,
    // which the lz4 tool skips) and lzop are opened now: broken ones block
    // as damage, none passes as data.
    for (data, name) in [
        (b"\x04\x22\x4d\x18\x64\x40\xa7rest".to_vec(), "a.lz4"),
        (
            b"\x02\x21\x4c\x18\x10\0\0\0rest-of-a-block".to_vec(),
            "a.lz4",
        ),
        (
            b"\x5a\x2a\x4d\x18\x04\0\0\0skip\x04\x22\x4d\x18\x64\x40\xa7rest".to_vec(),
            "a.lz4",
        ),
        (
            b"\x89LZO\x00\r\n\x1a\n\x10\x30\x20\xa0rest".to_vec(),
            "a.lzo",
        ),
    ] {
        let r = scan(&data, name);
        assert_eq!(r.verdict(), ResultCode::Failed, "{name}: {:#?}", r.root);
    }
    // LZMA-alone has no magic: text and random bytes are not taken for it.
    for seed in 0..200 {
        let data = random_bytes(64, seed);
        assert_ne!(mdcore::detect(&data).kind, Kind::LzmaAlone, "{data:?}");
    }
    assert_eq!(scan(CLEAN, "a.lzma").verdict(), ResultCode::NoThreat);
    // LZMA-alone as xz --format=lzma writes it is opened (it passed as
    // data), with or without its extension.
    infected(&scan(&lzma_alone(EICAR, 6), "a.lzma"));
    infected(&scan(&lzma_alone(EICAR, 0), "noext"));
    clean(&scan(&lzma_alone(&random_bytes(5000, 3), 9), "a.lzma"));
    // Cut short: damage (3), never clean.
    let whole = lzma_alone(&random_bytes(5000, 4), 6);
    assert_eq!(
        scan(&whole[..whole.len() / 2], "cut.lzma").verdict(),
        ResultCode::Failed
    );
}

/// `data` as LZMA-alone (`xz --format=lzma -PRESET`), by liblzma.
fn lzma_alone(data: &[u8], preset: u32) -> Vec<u8> {
    let opts = liblzma::stream::LzmaOptions::new_preset(preset).unwrap();
    let stream = liblzma::stream::Stream::new_lzma_encoder(&opts).unwrap();
    let mut w = liblzma::write::XzEncoder::new_stream(Vec::new(), stream);
    std::io::Write::write_all(&mut w, data).unwrap();
    w.finish().unwrap()
}

#[test]
fn damaged_nsis_installer_data_in_an_executable_blocks() {
    let mut overlay = vec![0u8, 0, 0, 0];
    overlay.extend_from_slice(b"\xef\xbe\xad\xdeNullsoftInst");
    overlay.extend_from_slice(&[0x55; 64]);
    let r = scan(&pe_with_overlay(&overlay), "setup.exe");
    assert_eq!(r.verdict(), ResultCode::Failed, "{}", notes(&r));
    assert!(notes(&r).contains("NSIS"), "{}", notes(&r));
}

#[test]
fn decoder_memory_caps_are_size_limits() {
    // An xz stream whose LZMA2 dictionary is 4 GiB (above the 256 MiB cap):
    // patch the filter property and the block header's CRC32.
    let mut data = xz(EICAR);
    let header = 12;
    let size = (usize::from(data[header]) + 1) * 4;
    let props = data[header..header + size - 4]
        .windows(3)
        .position(|w| w[0] == 0x21 && w[1] == 1)
        .unwrap()
        + header
        + 2;
    data[props] = 40;
    let crc = crc32(&data[header..header + size - 4]);
    data[header + size - 4..header + size].copy_from_slice(&crc.to_le_bytes());
    let r = scan(&data, "big.xz");
    assert_eq!(
        r.verdict(),
        ResultCode::ExceededArchiveSize,
        "{}",
        notes(&r)
    );
    assert!(r.blocked());
    assert!(notes(&r).contains("memory"), "{}", notes(&r));
}

#[test]
fn zstd_window_above_the_cap_is_a_size_limit() {
    // One frame that is not single-segment, with a 2 GiB window (window log
    // 31, above the decoder's 27), holding EICAR as a raw block.
    let mut data = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa8];
    let header = (EICAR.len() as u32) << 3 | 1;
    data.extend_from_slice(&header.to_le_bytes()[..3]);
    data.extend_from_slice(EICAR);
    let r = scan(&data, "big.zst");
    assert_eq!(
        r.verdict(),
        ResultCode::ExceededArchiveSize,
        "{}",
        notes(&r)
    );
    assert!(notes(&r).contains("memory"), "{}", notes(&r));
    // The same frame with a 1 MiB window decodes.
    data[5] = 0x50;
    infected(&scan(&data, "ok.zst"));
}

#[test]
fn sevenz_dictionary_above_the_cap_is_a_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("eicar.com"), EICAR).unwrap();
    if tool(
        dir.path(),
        "7zz",
        &[
            "a",
            "-bd",
            "-mhc=off",
            "-m0=LZMA2:d=1m",
            "x.7z",
            "eicar.com",
        ],
    )
    .is_none()
    {
        return;
    }
    let mut data = std::fs::read(dir.path().join("x.7z")).unwrap();
    // The header is plain (-mhc=off): find the LZMA2 coder (id 0x21, one
    // property byte) and ask for a 3 GiB dictionary, then fix both CRCs.
    let next_off = u64::from_le_bytes(data[12..20].try_into().unwrap()) as usize + 32;
    let next_len = u64::from_le_bytes(data[20..28].try_into().unwrap()) as usize;
    let at = data[next_off..next_off + next_len]
        .windows(3)
        .position(|w| w == [0x21, 0x01, 0x10] || (w[0] == 0x21 && w[1] == 0x01 && w[2] < 40))
        .unwrap()
        + next_off
        + 2;
    data[at] = 39;
    let crc = crc32(&data[next_off..next_off + next_len]);
    data[28..32].copy_from_slice(&crc.to_le_bytes());
    let crc = crc32(&data[12..32]);
    data[8..12].copy_from_slice(&crc.to_le_bytes());
    let r = scan(&data, "big.7z");
    assert_eq!(
        r.verdict(),
        ResultCode::ExceededArchiveSize,
        "{}",
        notes(&r)
    );
}

#[test]
fn cab_folder_skip_is_charged_and_stopped() {
    // One MSZIP folder of many blocks that each inflate 32 KiB of zeros from
    // a few bytes, and one file that starts 2 GiB into it: skipping to it
    // decodes 2 GiB. The budget must stop that, not the clock.
    let block = {
        let mut d = b"CK".to_vec();
        d.extend_from_slice(&deflate_raw(&[0u8; 32 << 10]));
        d
    };
    let blocks = 65_535u32;
    let mut cab = Vec::new();
    let header_len = 36 + 8 + 16 + 2;
    let data_at = header_len as u32;
    let total = header_len + blocks as usize * (8 + block.len());
    cab.extend_from_slice(b"MSCF\0\0\0\0");
    cab.extend_from_slice(&(total as u32).to_le_bytes());
    cab.extend_from_slice(&[0; 4]);
    cab.extend_from_slice(&44u32.to_le_bytes()); // file table
    cab.extend_from_slice(&[0; 4]);
    cab.extend_from_slice(&[3, 1, 1, 0, 1, 0, 0, 0]); // version, 1 folder, 1 file, flags
    cab.extend_from_slice(&[0; 4]); // set id, index
    cab.extend_from_slice(&data_at.to_le_bytes());
    cab.extend_from_slice(&(blocks as u16).to_le_bytes());
    cab.extend_from_slice(&1u16.to_le_bytes()); // MSZIP
    cab.extend_from_slice(&68u32.to_le_bytes()); // file size
    cab.extend_from_slice(&(blocks * (32 << 10) - 100).to_le_bytes()); // offset in folder
    cab.extend_from_slice(&[0; 8]);
    cab.extend_from_slice(b"f\0");
    assert_eq!(cab.len(), header_len);
    for _ in 0..blocks {
        cab.extend_from_slice(&[0; 4]);
        cab.extend_from_slice(&(block.len() as u16).to_le_bytes());
        cab.extend_from_slice(&(32u16 << 10).to_le_bytes());
        cab.extend_from_slice(&block);
    }
    let r = scan(&cab, "skip.cab");
    assert_eq!(
        r.verdict(),
        ResultCode::ExceededArchiveSize,
        "{}",
        notes(&r)
    );
    assert!(r.bytes_extracted < 1 << 30, "{}", r.bytes_extracted);
}

#[test]
fn cab_folders_that_overlap_are_refused() {
    let mut data = cab_of(&[&[("a.txt", CLEAN)], &[("b.txt", CLEAN)]], false);
    // Point the second folder at the first folder's data.
    let first = u32::from_le_bytes(data[36..40].try_into().unwrap());
    data[44..48].copy_from_slice(&first.to_le_bytes());
    let r = scan(&data, "x.cab");
    assert_eq!(r.verdict(), ResultCode::Failed, "{}", notes(&r));
    assert!(r.blocked());
}

// ---- clean twins: no phantom children from carving -------------------------

#[test]
fn ordinary_files_have_no_embedded_children() {
    let elf = std::fs::read("/bin/true").unwrap_or_else(|_| b"\x7fELF\x02\x01\x01".to_vec());
    for (data, name) in [
        (png_image(), "a.png"),
        (gif_image(), "a.gif"),
        (jpeg_image(), "a.jpg"),
        (pdf_document(), "a.pdf"),
        (pe_with_overlay(b""), "a.exe"),
        (elf, "true"),
        (docx_document(), "a.docx"),
        (random_bytes(4 << 20, 7), "random.bin"),
    ] {
        let r = scan(&data, name);
        clean(&r);
        let carved: Vec<_> = r
            .root
            .iter()
            .filter(|n| n.display_name.contains("[embedded@"))
            .map(|n| n.display_name.clone())
            .collect();
        assert!(carved.is_empty(), "{name}: {carved:?}");
    }
}

#[test]
fn a_100_mb_random_file_stays_clean() {
    let data = random_bytes(100 << 20, 0x5eed);
    let r = scan(&data, "random.bin");
    clean(&r);
    assert!(r.root.children.is_empty());
}

// ---- the same through a scanner with a small depth limit -------------------

#[test]
fn carving_at_the_depth_limit_blocks_with_9() {
    let s = ScannerBuilder::new()
        .limits(Limits {
            max_depth: 0,
            ..Limits::default()
        })
        .build()
        .unwrap();
    let data = [&junk(2)[..], &zip_of(&[("e.com", EICAR)])].concat();
    let r = s.scan_bytes(&data, &ScanOptions::new().name("x.bin"));
    assert_eq!(r.verdict(), ResultCode::ExceededArchiveDepth);
    assert!(notes(&r).contains("[embedded@"), "{}", notes(&r));
}

#[test]
fn zip64_archives_are_read_both_ways() {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().large_file(true);
    for (name, data) in [("a.txt", CLEAN), ("e.com", EICAR)] {
        w.start_file(name, opts).unwrap();
        std::io::Write::write_all(&mut w, data).unwrap();
    }
    let data = w.finish().unwrap().into_inner();
    let r = scan(&data, "z64.zip");
    infected(&r);
    assert_eq!(r.root.children.len(), 2, "{}", notes(&r));
    assert!(!notes(&r).contains("disagree"), "{}", notes(&r));
    // Behind a prefix, found by its end records.
    infected(&scan(&[&junk(3)[..], &data].concat(), "z64.bin"));
}

#[test]
fn a_tar_header_with_a_wrong_checksum_is_damage_not_clean() {
    let mut data = tar_with(&[(tar_header(b"e.com", b'0', EICAR.len(), true, false), EICAR)]);
    data[148] = b'7'; // the checksum no longer holds
    let r = scan(&data, "x.tar");
    assert_eq!(r.root.file_type, "application/x-tar");
    assert_eq!(r.verdict(), ResultCode::Failed, "{}", notes(&r));
    assert!(r.blocked());
}

#[test]
fn zip_members_asking_for_a_huge_dictionary_are_size_limits() {
    // LZMA (method 14): version 9.20, 5 property bytes, a 4 GiB dictionary.
    let mut lzma = vec![9, 20, 5, 0, 0x5d, 0xff, 0xff, 0xff, 0xff];
    lzma.extend_from_slice(&[0u8; 64]);
    // XZ (method 95): a real stream whose LZMA2 dictionary is patched to 4 GiB.
    let mut x = xz(EICAR);
    let size = (usize::from(x[12]) + 1) * 4;
    let props = x[12..12 + size - 4]
        .windows(3)
        .position(|w| w[0] == 0x21 && w[1] == 1)
        .unwrap()
        + 14;
    x[props] = 40;
    let crc = crc32(&x[12..12 + size - 4]);
    x[12 + size - 4..12 + size].copy_from_slice(&crc.to_le_bytes());
    // LZMA's decoder refuses the declared dictionary: a size limit (13).
    // XZ's (lzma-rust2) grows its dictionary with the output instead of
    // allocating what the header declares, so the member decodes — bounded
    // by the budget like any output — and EICAR is found.
    for (method, packed, verdict) in [
        (14u16, lzma, ResultCode::ExceededArchiveSize),
        (95, x, ResultCode::Infected),
    ] {
        let data = raw_zip(
            &[Raw {
                method,
                packed: Some(packed),
                ..Raw::new("big.com", EICAR)
            }],
            0,
        );
        let r = scan(&data, "big.zip");
        assert_eq!(r.verdict(), verdict, "method {method}: {}", notes(&r));
    }
}

/// Found by the corrupted-bytes test: a central directory entry whose
/// comment length runs past the directory hid the entries after it, and
/// with the hidden member's local header damaged too, the zip came back
/// clean with one member. 7-Zip and unzip report an error; so do we (3),
/// and a member still reachable by its local header is scanned.
#[test]
fn a_central_entry_that_runs_past_the_directory_does_not_hide_the_rest() {
    let zip = zip_of(&[("readme.txt", b"hello, world\n"), ("eicar.com", EICAR)]);
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let cd = find(&zip, b"PK\x01\x02").unwrap();
    let mut overrun = zip.clone();
    // The first entry's comment length (offset 32 of its header).
    overrun[cd + 32..cd + 34].copy_from_slice(&0xff00u16.to_le_bytes());
    let r = scan(&overrun, "overrun.zip");
    infected(&r);
    assert!(
        notes(&r).contains("runs past the directory's end"),
        "{}",
        notes(&r)
    );
    // The hidden member's local header damaged as well: nothing reads it.
    let second = find(&zip[1..], b"PK\x03\x04").unwrap() + 1;
    overrun[second + 1] ^= 0xcd;
    let r = scan(&overrun, "overrun.zip");
    assert_eq!(r.verdict(), ResultCode::Failed, "{}", notes(&r));
    assert!(r.blocked());
}
