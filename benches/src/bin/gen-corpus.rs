//! Writes the benchmark corpus (deterministic: same bytes on every run).
//!
//! `cargo run --release -p mdscan-benches --bin gen-corpus -- --out bench-corpus`
// A tool run by developers on inputs of their own making, not a reader
// of hostile bytes: it stops with a message where the library may not.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use clap::Parser;
use mdscan_benches::{self as corpus, File, Layout, SEED};

/// Generates the benchmark corpus.
#[derive(Debug, Parser)]
struct Args {
    /// Output directory.
    #[arg(long, default_value = "bench-corpus")]
    out: std::path::PathBuf,
    /// Sets to write: small, medium, big, stream, leaf, docs, archivers,
    /// seed (the inputs of `seed_scenarios.py`; not in the default list).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "small,medium,big,stream,leaf,docs,archivers"
    )]
    sets: Vec<String>,
    /// Files in the big cabinet (8 MiB each).
    #[arg(long, default_value_t = 512)]
    big_files: usize,
    /// Size of the single stream, MiB.
    #[arg(long, default_value_t = 200)]
    stream_mib: usize,
}

fn put(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
    println!("{:>12} bytes  {}", data.len(), path.display());
}

fn threats(files: &[File]) -> BTreeSet<String> {
    files.iter().filter_map(|f| f.threat.clone()).collect()
}

fn main() {
    let args = Args::parse();
    let lay = Layout {
        root: args.out.clone(),
    };
    let want = |s: &str| args.sets.iter().any(|x| x == s);
    let small = corpus::mixed_files(SEED, 2000, 1 << 10, 64 << 10);
    let medium = corpus::mixed_files(SEED + 1, 4000, 1 << 10, 24 << 10);
    // The published cluster benchmark's "medium archives": thousands of
    // files of about 36 KB.
    let seed = corpus::mixed_files(SEED + 2, 3000, 24 << 10, 48 << 10);
    // What every scanner must report, for all sets (written whichever sets
    // are generated, so partial runs keep a complete list).
    let mut expected = Vec::new();
    for f in &small {
        if let Some(th) = &f.threat {
            let base = f.name.rsplit('/').next().unwrap();
            expected.push(format!("small/loose\t{base}\t{th}"));
        }
    }
    for name in ["small.zip", "small.tar.gz", "nested.zip"] {
        for th in threats(&small) {
            expected.push(format!("small/{name}\t{name}\t{th}"));
        }
    }
    for name in ["app.rpm", "app.cab", "setup.exe"] {
        for th in threats(&medium) {
            expected.push(format!("medium/{name}\t{name}\t{th}"));
        }
    }
    expected.push("big/big.cab\tbig.cab\tbench_marker_00".into());
    expected.push("big/big.tar.zst\tbig.tar.zst\tbench_marker_00".into());
    for name in ["stream.gz", "stream.xz", "stream.zst"] {
        expected.push(format!("stream/{name}\t{name}\tbench_marker_01"));
    }
    // docs: 400 of the small files (with their markers) in each document.
    let docs: Vec<File> = small.iter().take(400).cloned().collect();
    for name in ["mail.eml", "mail.mbox", "report.pdf"] {
        for th in threats(&docs) {
            expected.push(format!("docs/{name}\t{name}\t{th}"));
        }
    }
    for th in threats(&docs) {
        expected.push(format!("docs/macro.doc\tmacro.doc\t{th}"));
    }
    for name in ["app.rpm", "app.cab", "setup.exe"] {
        for th in threats(&seed) {
            expected.push(format!("seed/{name}\t{name}\t{th}"));
        }
    }
    // archivers: 100 of the small files (a CHM directory chunk holds that
    // many names) in each of the formats issue 11 added.
    let few: Vec<File> = small.iter().take(100).cloned().collect();
    // The formats built by a tool are listed once they exist (below).
    for name in [
        "help.chm",
        "lzx.cab",
        "files.alz",
        "script.a3x",
        "setup-is.exe",
        "data1.cab",
    ] {
        for th in threats(&few) {
            expected.push(format!("archivers/{name}\t{name}\t{th}"));
        }
    }
    put(&lay.rules(), corpus::rules().as_bytes());
    put(
        &lay.hdb(),
        corpus::hdb(&[&small, &medium, &seed], 1000).as_bytes(),
    );

    if want("small") {
        let t = Instant::now();
        for f in &small {
            put(&lay.root.join("small/loose").join(&f.name), &f.data);
        }
        for (name, data) in [
            ("small.zip", corpus::zip(&small)),
            ("small.tar.gz", corpus::tar_gz(&small)),
            ("nested.zip", corpus::nested_zip(&small)),
        ] {
            put(&lay.root.join("small").join(name), &data);
        }
        println!("small: {:.1?}", t.elapsed());
    }
    if want("medium") {
        let t = Instant::now();
        for (name, data) in [
            ("app.rpm", corpus::rpm(&medium)),
            ("app.cab", corpus::cab(&medium, 500)),
            ("setup.exe", corpus::sfx_exe(&medium)),
        ] {
            put(&lay.root.join("medium").join(name), &data);
        }
        println!("medium: {:.1?}", t.elapsed());
    }
    if want("big") {
        let t = Instant::now();
        let path = lay.root.join("big/big.cab");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let expanded = corpus::write_big_cab(&path, args.big_files, 8 << 20, 32, 0);
        let size = std::fs::metadata(&path).unwrap().len();
        println!(
            "{size:>12} bytes  {} (expands to {expanded} bytes, {:.1}x) in {:.1?}",
            path.display(),
            expanded as f64 / size as f64,
            t.elapsed()
        );
        let t = Instant::now();
        let path = lay.root.join("big/big.tar.zst");
        let expanded = corpus::write_big_tar_zst(&path, args.big_files, 8 << 20);
        let size = std::fs::metadata(&path).unwrap().len();
        println!(
            "{size:>12} bytes  {} (expands to {expanded} bytes, {:.1}x) in {:.1?}",
            path.display(),
            expanded as f64 / size as f64,
            t.elapsed()
        );
    }
    if want("seed") {
        let t = Instant::now();
        for (name, data) in [
            ("app.rpm", corpus::rpm(&seed)),
            ("app.cab", corpus::cab(&seed, 400)),
            ("setup.exe", corpus::sfx_exe(&seed)),
        ] {
            put(&lay.root.join("seed").join(name), &data);
        }
        // Four big cabinets of the same shape and different bytes: 64
        // files of 8 MiB each (512 MiB expanded), for OneToOne/FourToOne.
        for k in 1..=4u64 {
            let path = lay.root.join(format!("seed/big{k}.cab"));
            let expanded = corpus::write_big_cab(&path, 64, 8 << 20, 8, k);
            let size = std::fs::metadata(&path).unwrap().len();
            println!(
                "{size:>12} bytes  {} (expands to {expanded})",
                path.display()
            );
        }
        println!("seed: {:.1?}", t.elapsed());
    }
    if want("stream") {
        let t = Instant::now();
        let data = corpus::stream_data(args.stream_mib << 20);
        for (name, bytes) in corpus::streams(&data) {
            put(&lay.root.join("stream").join(name), &bytes);
        }
        println!("stream: {:.1?}", t.elapsed());
    }
    if want("leaf") {
        let t = Instant::now();
        put(
            &lay.root.join("leaf/random.bin"),
            &corpus::random_file(100 << 20),
        );
        put(
            &lay.root.join("leaf/photo.png"),
            &corpus::big_png(100 << 20),
        );
        println!("leaf: {:.1?}", t.elapsed());
    }
    if want("docs") {
        let t = Instant::now();
        for (name, data) in [
            ("mail.eml", corpus::mail(&docs)),
            ("mail.mbox", corpus::mbox(&docs, 20)),
            ("report.pdf", corpus::pdf(&docs)),
            ("macro.doc", corpus::vba_doc(&docs)),
        ] {
            put(&lay.root.join("docs").join(name), &data);
        }
        println!("docs: {:.1?}", t.elapsed());
    }
    if want("archivers") {
        let t = Instant::now();
        for (name, data) in [
            ("help.chm", corpus::chm(&few)),
            ("lzx.cab", corpus::lzx_cab(&few)),
            ("files.alz", corpus::alz(&few)),
            ("script.a3x", corpus::autoit(&few)),
            ("setup-is.exe", corpus::installshield(&few)),
            ("data1.cab", corpus::iscab(&few)),
        ] {
            put(&lay.root.join("archivers").join(name), &data);
        }
        // Built by the real tools, when installed.
        for (name, data) in [
            ("files.iso", corpus::iso(&few)),
            ("udf.img", corpus::udf(&few)),
            ("files.arj", corpus::arj(&few)),
            ("files.lzh", corpus::lzh(&few)),
            ("setup-nsis.exe", corpus::nsis(&few)),
            ("all.sz_", corpus::szdd(&few)),
            ("disk.vhdx", corpus::vhdx(&few)),
        ] {
            let Some(data) = data else { continue };
            put(&lay.root.join("archivers").join(name), &data);
            for th in threats(&few) {
                // The SZDD holds the files glued together: YARA markers
                // are found, no file's hash is.
                if name != "all.sz_" || th.starts_with("bench_marker") {
                    expected.push(format!("archivers/{name}\t{name}\t{th}"));
                }
            }
        }
        println!("archivers: {:.1?}", t.elapsed());
    }
    std::fs::write(lay.expected(), expected.join("\n") + "\n").unwrap();
    println!("expected detections: {}", lay.expected().display());
}
