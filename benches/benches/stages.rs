//! Criterion benches per stage — detection, each extractor, each engine,
//! hashing — and end to end, on the seeded corpus of `mdscan_benches`.
//!
//! `cargo bench -p mdscan-benches` (add `-- <filter>` for one group).
// A tool run by developers on inputs of their own making, not a reader
// of hostile bytes: it stops with a message where the library may not.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mdcore::{HashEngineBuilder, Kind, Limits, ListKind, ScanOptions, ScannerBuilder, fuzzing};
use mdscan_benches::{self as corpus, SEED};

fn limits() -> Limits {
    Limits::default()
}

fn bench_detect(c: &mut Criterion) {
    let files = corpus::mixed_files(SEED, 200, 1 << 10, 64 << 10);
    let samples: Vec<(&str, Vec<u8>)> = vec![
        ("zip", corpus::zip(&files[..20])),
        ("tar.gz", corpus::tar_gz(&files[..20])),
        ("rpm", corpus::rpm(&files[..20])),
        (
            "text",
            files
                .iter()
                .find(|f| f.name.ends_with(".txt"))
                .unwrap()
                .data
                .clone(),
        ),
        (
            "binary",
            files
                .iter()
                .find(|f| f.name.ends_with(".bin"))
                .unwrap()
                .data
                .clone(),
        ),
    ];
    let mut g = c.benchmark_group("detect");
    for (name, data) in &samples {
        g.bench_with_input(BenchmarkId::from_parameter(name), data, |b, d| {
            b.iter(|| mdcore::detect(d))
        });
    }
    g.finish();
}

fn bench_extract(c: &mut Criterion) {
    let files = corpus::mixed_files(SEED, 400, 1 << 10, 64 << 10);
    let raw: u64 = files.iter().map(|f| f.data.len() as u64).sum();
    let tar = {
        let e: Vec<(&str, &[u8])> = files
            .iter()
            .map(|f| (f.name.as_str(), f.data.as_slice()))
            .collect();
        mdscan_benches_tar(&e)
    };
    let stream = corpus::stream_data(16 << 20);
    let [gz, xz, zst] = corpus::streams(&stream);
    let cases: Vec<(&str, Kind, Vec<u8>, u64)> = vec![
        ("zip", Kind::Zip, corpus::zip(&files), raw),
        ("tar", Kind::Tar, tar, raw),
        ("cab-mszip", Kind::Cab, corpus::cab(&files, 100), raw),
        ("rpm-gzip", Kind::Rpm, corpus::rpm(&files), raw),
        ("gzip", Kind::Gzip, gz.1, stream.len() as u64),
        ("xz", Kind::Xz, xz.1, stream.len() as u64),
        ("zstd", Kind::Zstd, zst.1, stream.len() as u64),
    ];
    let mut g = c.benchmark_group("extract");
    g.sample_size(10);
    for (name, kind, data, produced) in &cases {
        g.throughput(Throughput::Bytes(*produced));
        g.bench_with_input(BenchmarkId::from_parameter(name), data, |b, d| {
            b.iter(|| fuzzing::extract(*kind, d, &limits()))
        });
    }
    g.finish();
}

/// The carver alone: the search for embedded archives every leaf gets.
fn bench_carve(c: &mut Criterion) {
    let files = corpus::mixed_files(SEED, 400, 1 << 10, 64 << 10);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("random-16MiB", corpus::random_file(16 << 20)),
        ("text-16MiB", corpus::stream_data(16 << 20)),
        ("png-16MiB", corpus::big_png(16 << 20)),
        ("sfx-exe", corpus::sfx_exe(&files)),
    ];
    let mut g = c.benchmark_group("carve");
    g.sample_size(10);
    for (name, data) in &cases {
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(name), data, |b, d| {
            b.iter(|| fuzzing::carve(d, 0))
        });
    }
    g.finish();
}

fn mdscan_benches_tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (n, d) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, n, *d).unwrap();
    }
    b.into_inner().unwrap()
}

fn bench_engines(c: &mut Criterion) {
    let data = corpus::stream_data(8 << 20);
    let files = corpus::mixed_files(SEED, 2000, 1 << 10, 64 << 10);
    let hdb = corpus::hdb(&[&files], 1000);
    let yara_only = ScannerBuilder::new()
        .threads(1)
        .default_rules(false)
        .rules_source("bench.yar", &corpus::rules())
        .build()
        .unwrap();
    let mut hashes = HashEngineBuilder::new();
    hashes.add_text(&hdb, ListKind::Block).unwrap();
    let hash_only = ScannerBuilder::new()
        .threads(1)
        .default_rules(false)
        .engine(Arc::new(hashes.build()))
        .build()
        .unwrap();
    let none = ScannerBuilder::new()
        .threads(1)
        .default_rules(false)
        .build()
        .unwrap();
    let mut g = c.benchmark_group("engines");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(20);
    let opts = ScanOptions::new().name("data.txt");
    // `none` is detection + md5/sha1/sha256: the hashing cost alone.
    g.bench_function("hashing-only", |b| b.iter(|| none.scan_bytes(&data, &opts)));
    g.bench_function("yara-10-rules", |b| {
        b.iter(|| yara_only.scan_bytes(&data, &opts))
    });
    g.bench_function("hash-list-1000", |b| {
        b.iter(|| hash_only.scan_bytes(&data, &opts))
    });
    g.finish();
}

/// The three digests of 256 objects of 1–64 KiB: one object after another
/// (as a leaf is hashed) and all together (`Digests::of_many`, the MD5s in
/// SIMD lanes, as the walker hashes siblings). Set `MDSCAN_NO_AVX512=1` to
/// measure the AVX2 lanes on a machine that has AVX-512.
fn bench_digests(c: &mut Criterion) {
    let files = corpus::mixed_files(SEED, 256, 1 << 10, 64 << 10);
    let objects: Vec<&[u8]> = files.iter().map(|f| f.data.as_slice()).collect();
    let raw: u64 = objects.iter().map(|o| o.len() as u64).sum();
    let mut g = c.benchmark_group("digests");
    g.throughput(Throughput::Bytes(raw));
    g.bench_function("one-by-one", |b| {
        b.iter(|| {
            objects
                .iter()
                .map(|o| mdcore::Digests::of(o))
                .collect::<Vec<_>>()
        })
    });
    g.bench_function("of-many", |b| b.iter(|| mdcore::Digests::of_many(&objects)));
    g.finish();
}

fn bench_end_to_end(c: &mut Criterion) {
    let files = corpus::mixed_files(SEED, 2000, 1 << 10, 64 << 10);
    let raw: u64 = files.iter().map(|f| f.data.len() as u64).sum();
    let hdb = corpus::hdb(&[&files], 1000);
    let mut hashes = HashEngineBuilder::new();
    hashes.add_text(&hdb, ListKind::Block).unwrap();
    let hashes = Arc::new(hashes.build());
    let mut g = c.benchmark_group("end-to-end");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(raw));
    for (name, data) in [
        ("small.zip", corpus::zip(&files)),
        ("small.tar.gz", corpus::tar_gz(&files)),
        ("nested.zip", corpus::nested_zip(&files)),
    ] {
        for threads in [1usize, 2] {
            let scanner = ScannerBuilder::new()
                .threads(threads)
                .rules_source("bench.yar", &corpus::rules())
                .engine(hashes.clone())
                .build()
                .unwrap();
            let opts = ScanOptions::new().name(name);
            g.bench_with_input(
                BenchmarkId::new(name, format!("{threads}t")),
                &data,
                |b, d| b.iter(|| scanner.scan_bytes(d, &opts)),
            );
        }
    }
    g.finish();
}

criterion_group!(
    benches,
    bench_detect,
    bench_carve,
    bench_extract,
    bench_engines,
    bench_digests,
    bench_end_to_end
);
criterion_main!(benches);
