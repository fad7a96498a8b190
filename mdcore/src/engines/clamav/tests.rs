use super::*;
use crate::digest::Digests;

fn engine(files: &[(&str, &str)]) -> ClamAvEngine {
    let mut b = ClamAvBuilder::new();
    for (name, text) in files {
        b.add_source(name, text).unwrap();
    }
    b.build().unwrap()
}

fn scan(e: &ClamAvEngine, data: &[u8]) -> Vec<String> {
    let digests = Digests::of(data);
    let file_type = crate::detect::detect(data);
    let view = ObjectView {
        data,
        digests: &digests,
        file_type: &file_type,
        display_name: "x",
    };
    e.scan(&view, Duration::from_secs(60)).threats
}

fn md5_hex(d: &[u8]) -> String {
    Md5::digest(d).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn hash_signatures_match_size_and_digest() {
    let data = b"some bytes of a file";
    let sha256: String = <sha2::Sha256 as sha2::Digest>::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let e = engine(&[
        (
            "a.hdb",
            &format!("{}:{}:Md5.Sig\n", md5_hex(data), data.len()),
        ),
        ("b.hsb", &format!("{sha256}:*:Sha.Sig:73\n")),
        (
            "c.hdb",
            &format!("{}:{}:Wrong.Size\n", md5_hex(data), data.len() + 1),
        ),
    ]);
    assert_eq!(scan(&e, data), ["Md5.Sig.UNOFFICIAL", "Sha.Sig.UNOFFICIAL"]);
    assert!(scan(&e, b"other").is_empty());
    // The false-positive list wins.
    let e = engine(&[
        (
            "a.hdb",
            &format!("{}:{}:Md5.Sig\n", md5_hex(data), data.len()),
        ),
        (
            "a.fp",
            &format!("{}:{}:Known.Good\n", md5_hex(data), data.len()),
        ),
    ]);
    assert!(scan(&e, data).is_empty());
}

#[test]
fn body_signatures_with_offsets() {
    let e = engine(&[(
        "t.ndb",
        "Any:0:*:414243444546\nAt12:0:12:4142434445\nAt13:0:13:4142434445\nEof:0:EOF-9:41424344\nShift:0:10,2:41424344\nGap:0:*:6c6c6f{-10}4142\n",
    )]);
    let hits = scan(&e, b"hello world ABCDEFGH\n");
    assert_eq!(
        hits,
        [
            "Any.UNOFFICIAL",
            "At12.UNOFFICIAL",
            "Eof.UNOFFICIAL",
            "Shift.UNOFFICIAL",
            "Gap.UNOFFICIAL"
        ]
    );
}

#[test]
fn targets_levels_ignores_and_skips_are_kept_apart() {
    let mut b = ClamAvBuilder::new();
    b.add_source(
        "t.ndb",
        "Pe:1:*:41424344\nHtml:3:*:41424344\nFuture:0:*:41424344:999\nOld:0:*:41424344:1:10\nB:0:*:4142(B)4344\nAll:0:*:41424344\nGone:0:*:41424344\n",
    )
    .unwrap();
    b.add_source("x.ign2", "Gone\n").unwrap();
    b.add_source("x.ldb", "Sig;Target:0;0;41424344\n").unwrap();
    let info = b.databases.clone();
    assert_eq!(info[0].loaded["ndb"], 3);
    assert_eq!(info[0].skipped["functionality level"], 2);
    assert_eq!(info[0].skipped["ndb: target 3 (normalized HTML)"], 1);
    assert_eq!(info[0].skipped["ndb: the boundary marker `(B)`"], 1);
    assert_eq!(info[2].loaded["ldb"], 1);
    let e = b.build().unwrap();
    // Not a PE: the target-0 body signature and the logical one; the
    // ignored one is gone.
    assert_eq!(scan(&e, b"xxABCDxx"), ["All.UNOFFICIAL", "Sig.UNOFFICIAL"]);
}

#[test]
fn malformed_lines_name_file_and_line() {
    let mut b = ClamAvBuilder::new();
    let err = b
        .add_source("bad.ndb", "Ok:0:*:41424344\nBad:0:*:4142\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.ndb") && err.contains("line 2"), "{err}");
    for line in [
        "X:0:EP+0:41424344",
        "X:0:*,2:41424344",
        "X:z:*:41424344",
        "X:0:*",
        "X:0:VI:41424344",
    ] {
        assert!(
            ClamAvBuilder::new().add_source("b.ndb", line).is_err(),
            "{line}"
        );
    }
    assert!(ClamAvBuilder::new().add_source("b.hdb", "zz:1:X").is_err());
    assert!(ClamAvBuilder::new().add_source("b.txt", "").is_err());
}

#[test]
fn pe_entry_point_and_sections() {
    // A minimal PE32: headers in 0x200 bytes, one section at 0x200 of
    // 0x200 bytes mapped at RVA 0x1000, entry point at RVA 0x1010.
    let mut pe = vec![0u8; 0x400];
    pe[..2].copy_from_slice(b"MZ");
    pe[0x3C..0x40].copy_from_slice(&0x80u32.to_le_bytes());
    pe[0x80..0x84].copy_from_slice(b"PE\0\0");
    let coff = 0x84;
    pe[coff..coff + 2].copy_from_slice(&0x14Cu16.to_le_bytes());
    pe[coff + 2..coff + 4].copy_from_slice(&1u16.to_le_bytes());
    pe[coff + 16..coff + 18].copy_from_slice(&0xE0u16.to_le_bytes());
    let opt = coff + 20;
    pe[opt..opt + 2].copy_from_slice(&0x10Bu16.to_le_bytes());
    pe[opt + 16..opt + 20].copy_from_slice(&0x1010u32.to_le_bytes());
    pe[opt + 32..opt + 36].copy_from_slice(&0x1000u32.to_le_bytes());
    pe[opt + 36..opt + 40].copy_from_slice(&0x200u32.to_le_bytes());
    pe[opt + 60..opt + 64].copy_from_slice(&0x200u32.to_le_bytes());
    let sec = opt + 0xE0;
    pe[sec..sec + 5].copy_from_slice(b".text");
    pe[sec + 8..sec + 12].copy_from_slice(&0x200u32.to_le_bytes());
    pe[sec + 12..sec + 16].copy_from_slice(&0x1000u32.to_le_bytes());
    pe[sec + 16..sec + 20].copy_from_slice(&0x200u32.to_le_bytes());
    pe[sec + 20..sec + 24].copy_from_slice(&0x200u32.to_le_bytes());
    pe[0x210..0x216].copy_from_slice(b"ENTRY!");
    let info = offset::pe(&pe).unwrap();
    assert_eq!(info.entry, Some(0x210));
    assert_eq!(
        info.sections,
        [offset::Section {
            raw: 0x200,
            size: 0x200
        }]
    );
    let section = &pe[0x200..0x400];
    let e = engine(&[
        (
            "t.ndb",
            "Ep:1:EP+0:454e545259\nEpOff:1:EP+1:454e545259\nS0:1:S0+16:454e545259\nSE:1:SE0:454e545259\nAny:0:*:454e545259\n",
        ),
        ("s.mdb", &format!("512:{}:Section.Md5\n", md5_hex(section))),
    ]);
    assert_eq!(crate::detect::detect(&pe).kind, Kind::Pe);
    assert_eq!(
        scan(&e, &pe),
        [
            "Section.Md5.UNOFFICIAL",
            "Ep.UNOFFICIAL",
            "S0.UNOFFICIAL",
            "SE.UNOFFICIAL",
            "Any.UNOFFICIAL"
        ]
    );
}

#[test]
fn logical_signatures_count_modifiers_and_targets() {
    let e = engine(&[(
        "t.ldb",
        "Both;Engine:81-255,Target:0;0&1;41424344;45464748\n\
         Either;Target:0;0|1;41424344;7a7a7a7a\n\
         NoCase;Target:0;0;616263646566::i\n\
         Wide;Target:0;0;6a6b6c6d::w\n\
         Word;Target:0;0;68656c6c6f::f\n\
         Three;Target:0;0=3;6c6f6c\n\
         Never;Target:0;0=0;41424344\n\
         Sized;Engine:51-255,Target:0,FileSize:10-20;0;41424344\n\
         Future;Engine:300-400,Target:0;0;41424344\n\
         Pcre;Target:0;0&1;41424344;0/abc/\n\
         InPe;Target:1;0;41424344\n",
    )]);
    let names = |d: &[u8]| {
        let mut v = scan(&e, d);
        v.sort();
        v
    };
    assert_eq!(
        names(b"..ABCD..EFGH.. ABCDEF a hello lolololo xx"),
        [
            "Both.UNOFFICIAL",
            "Either.UNOFFICIAL",
            // Holds with nothing matched: clamscan reports it always.
            "Never.UNOFFICIAL",
            "NoCase.UNOFFICIAL",
            "Three.UNOFFICIAL",
            "Word.UNOFFICIAL"
        ]
    );
    // Nothing of the patterns: only the negation holds; the wide string,
    // a word inside a word, the size range.
    assert_eq!(
        names(b"j\0k\0l\0m\0 xhellox"),
        ["Never.UNOFFICIAL", "Wide.UNOFFICIAL"]
    );
    assert_eq!(
        names(b"..ABCD...."),
        ["Either.UNOFFICIAL", "Never.UNOFFICIAL", "Sized.UNOFFICIAL"]
    );
    let mut b = ClamAvBuilder::new();
    b.add_source(
        "t.ldb",
        "Pcre;Target:0;0&1;41424344;0/abc/\nFuture;Engine:300-400,Target:0;0;41424344\n",
    )
    .unwrap();
    let info = &b.databases[0];
    assert_eq!(info.skipped["ldb: PCRE subsignatures"], 1);
    assert_eq!(info.skipped["functionality level"], 1);
    for bad in [
        "X;Target:0;0&1;41424344",
        "X;Target:0;0;41",
        "X;Target:0;0;41424344::z",
        "X;Target:0;(0;41424344",
        "X;Target:0;0;EP+0:41424344",
    ] {
        assert!(
            ClamAvBuilder::new().add_source("b.ldb", bad).is_err(),
            "{bad}"
        );
    }
}
