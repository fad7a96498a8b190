//! Test helpers shared by mdcore's and mdserver's integration tests
//! (mdserver includes this file by path): running third-party tools, and
//! the OLE2 and VBA structures the Office samples need.

#![allow(dead_code)]

use std::io::{Cursor, Write};

include!("skip.rs");

/// Runs an external tool (zip, 7zz, gcab …) in `dir`. `None` when it is not
/// installed, after a visible [`skip`] — unless `CI` is set, where a missing
/// tool fails the test: CI installs them (`.ci/run`).
pub fn tool(dir: &std::path::Path, program: &str, args: &[&str]) -> Option<()> {
    match std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{program} {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            skip(format_args!("{program} is not installed"));
            None
        }
        Err(e) => panic!("{program}: {e}"),
    }
}

/// An OLE2 compound file holding these streams (a `/` in a path makes
/// storages), written by the `cfb` crate.
pub fn ole2_of(streams: &[(&str, &[u8])]) -> Vec<u8> {
    let mut cf = cfb::CompoundFile::create(Cursor::new(Vec::new())).unwrap();
    for (path, data) in streams {
        let p = std::path::Path::new("/").join(path);
        if let Some(parent) = p.parent() {
            cf.create_storage_all(parent).unwrap();
        }
        cf.create_stream(&p).unwrap().write_all(data).unwrap();
    }
    cf.flush().unwrap();
    cf.into_inner().into_inner()
}

/// [MS-OVBA] 2.4.1 compression, literal tokens only (valid, if not small).
pub fn ovba_compress(data: &[u8]) -> Vec<u8> {
    let mut out = vec![1u8];
    for chunk in data.chunks(4096) {
        if chunk.len() == 4096 {
            // A raw chunk: exactly 4096 bytes, the flag bit clear.
            out.extend_from_slice(&0x3fffu16.to_le_bytes());
            out.extend_from_slice(chunk);
            continue;
        }
        // The last, shorter chunk: literal tokens only, a flag byte of 0
        // before every eight. That fits 3640 bytes; a longer tail is split
        // (chunks shorter than 4096 mid-stream: our reader takes them,
        // Office might not).
        for piece in chunk.chunks(3640) {
            let mut body = Vec::new();
            for group in piece.chunks(8) {
                body.push(0);
                body.extend_from_slice(group);
            }
            let header = 0xb000u16 | u16::try_from(body.len() + 2 - 3).unwrap();
            out.extend_from_slice(&header.to_le_bytes());
            out.extend_from_slice(&body);
        }
    }
    out
}

/// The streams of a VBA project storage at `storage` (e.g. `Macros/VBA`)
/// holding these modules (name, source): a `dir` stream listing them, a
/// `_VBA_PROJECT` stream, and per module a stream of fake p-code followed by
/// the compressed source at the offset `dir` gives.
pub fn vba_project(storage: &str, modules: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    let mut dir = Vec::new();
    let mut rec = |id: u16, body: &[u8]| {
        dir.extend_from_slice(&id.to_le_bytes());
        dir.extend_from_slice(&(body.len() as u32).to_le_bytes());
        dir.extend_from_slice(body);
    };
    rec(0x0001, &3u32.to_le_bytes()); // PROJECTSYSKIND: 64-bit Windows
    rec(0x0003, &1252u16.to_le_bytes()); // PROJECTCODEPAGE
    rec(0x0004, b"Project"); // PROJECTNAME
    rec(0x000f, &(modules.len() as u16).to_le_bytes()); // PROJECTMODULES
    let mut out = Vec::new();
    let pcode = b"\x01\x16\x03\x00fake p-code of the module....";
    for (name, source) in modules {
        rec(0x0019, name.as_bytes());
        rec(0x001a, name.as_bytes());
        let wide: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
        rec(0x0032, &wide);
        rec(0x0031, &(pcode.len() as u32).to_le_bytes());
        rec(0x002b, &[]);
        let mut stream = pcode.to_vec();
        stream.extend_from_slice(&ovba_compress(source.as_bytes()));
        out.push((format!("{storage}/{name}"), stream));
    }
    rec(0x0010, &[]);
    out.push((format!("{storage}/dir"), ovba_compress(&dir)));
    out.push((
        format!("{storage}/_VBA_PROJECT"),
        vec![0xcc, 0x61, 0xff, 0xff, 0, 0, 0],
    ));
    out
}
