#![no_main]
//! Structured: builds a nested archive (zip, tar, gzip, bzip2, xz, zstd
//! layers with junk siblings) around the EICAR test file, scans it, and
//! checks that EICAR is found — or, past the depth limit, that the verdict
//! carries a limit code. Never "No Threat Detected".

use std::io::Write;

use arbitrary::Arbitrary;
use mdcore::ResultCode;
use mdscan_fuzz::{EICAR, scan_and_check};

#[derive(Arbitrary, Debug)]
enum Layer {
    Zip {
        method: u8,
        before: Vec<Sibling>,
        after: Vec<Sibling>,
    },
    Tar {
        before: Vec<Sibling>,
        after: Vec<Sibling>,
    },
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

#[derive(Arbitrary, Debug)]
struct Sibling {
    name: String,
    data: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    layers: Vec<Layer>,
    leaf_name: String,
}

fn clean(name: &str, fallback: &str) -> String {
    let n: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .take(40)
        .collect();
    if n.is_empty() {
        fallback.to_string()
    } else {
        n
    }
}

fn siblings(list: &[Sibling]) -> impl Iterator<Item = (String, &[u8])> {
    list.iter().take(4).enumerate().map(|(i, s)| {
        (
            format!("s{i}-{}", clean(&s.name, "x")),
            &s.data[..s.data.len().min(4096)],
        )
    })
}

fn wrap(layer: &Layer, name: &str, inner: Vec<u8>) -> Vec<u8> {
    match layer {
        Layer::Zip {
            method,
            before,
            after,
        } => {
            let method = match method % 4 {
                0 => zip::CompressionMethod::Stored,
                1 => zip::CompressionMethod::Deflated,
                2 => zip::CompressionMethod::Bzip2,
                _ => zip::CompressionMethod::Zstd,
            };
            let opts = zip::write::SimpleFileOptions::default().compression_method(method);
            let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            for (n, d) in siblings(before) {
                w.start_file(format!("b/{n}"), opts).unwrap();
                w.write_all(d).unwrap();
            }
            w.start_file(name, opts).unwrap();
            w.write_all(&inner).unwrap();
            for (n, d) in siblings(after) {
                w.start_file(format!("a/{n}"), opts).unwrap();
                w.write_all(d).unwrap();
            }
            w.finish().unwrap().into_inner()
        }
        Layer::Tar { before, after } => {
            let mut b = tar::Builder::new(Vec::new());
            let mut add = |n: &str, d: &[u8]| {
                let mut h = tar::Header::new_gnu();
                h.set_size(d.len() as u64);
                h.set_mode(0o644);
                h.set_cksum();
                b.append_data(&mut h, n, d).unwrap();
            };
            for (n, d) in siblings(before) {
                add(&format!("b/{n}"), d);
            }
            add(name, &inner);
            for (n, d) in siblings(after) {
                add(&format!("a/{n}"), d);
            }
            b.into_inner().unwrap()
        }
        Layer::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&inner).unwrap();
            e.finish().unwrap()
        }
        Layer::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(&inner).unwrap();
            e.finish().unwrap()
        }
        Layer::Xz => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 0);
            e.write_all(&inner).unwrap();
            e.finish().unwrap()
        }
        Layer::Zstd => zstd::encode_all(&inner[..], 1).unwrap(),
    }
}

libfuzzer_sys::fuzz_target!(|input: Input| {
    let layers = &input.layers[..input.layers.len().min(12)];
    let mut data = EICAR.to_vec();
    let mut name = format!("{}.com", clean(&input.leaf_name, "eicar"));
    for (i, layer) in layers.iter().enumerate() {
        data = wrap(layer, &name, data);
        name = format!("layer{i}.bin");
    }
    let report = scan_and_check(&data);
    let verdict = report.verdict();
    assert_ne!(
        verdict,
        ResultCode::NoThreat,
        "a planted EICAR reported clean: {layers:?}"
    );
    let depth_limit = mdcore::fuzzing::tight_limits().max_depth as usize;
    if layers.len() <= depth_limit {
        assert!(
            report
                .threats()
                .iter()
                .any(|t| t.threat == "EICAR-Test-File"),
            "EICAR under {} layers not found (verdict {verdict:?}): {layers:?}\n{}",
            layers.len(),
            report.to_json()
        );
    } else {
        assert!(
            verdict == ResultCode::ExceededArchiveDepth || !report.threats().is_empty(),
            "past the depth limit: verdict {verdict:?}"
        );
    }
});
