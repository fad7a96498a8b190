//! Decompression bombs, generated here: each must end with its limit code,
//! quickly, within the limits, without panicking.

use std::io::{Cursor, Write};
use std::time::Duration;

use mdcore::{Limits, ResultCode, ScanOptions, ScannerBuilder};

use crate::util::*;

#[test]
fn nesting_120_levels_stops_at_the_depth_limit() {
    let mut data = EICAR.to_vec();
    let mut name = "eicar.com".to_string();
    for i in 0..120 {
        data = zip_with(&[(&name, &data)], zip::CompressionMethod::Stored);
        name = format!("level{i}.zip");
    }
    let report = scan(&data, &name);
    assert_eq!(report.verdict(), ResultCode::ExceededArchiveDepth);
    let deepest = nodes_with(&report, ResultCode::ExceededArchiveDepth);
    assert_eq!(deepest.len(), 1);
    // Default depth 16: the container at level 16 is not opened.
    assert_eq!(deepest[0].matches('/').count(), 16, "{}", deepest[0]);
}

#[test]
fn nesting_within_the_limit_is_found() {
    let mut data = EICAR.to_vec();
    let mut name = "eicar.com".to_string();
    for i in 0..10 {
        data = zip_of(&[(&name, &data)]);
        name = format!("level{i}.zip");
    }
    assert_eq!(scan(&data, &name).verdict(), ResultCode::Infected);
}

/// A zip whose central directory lists `n` entries that all point at one
/// deflated member of `size` zero bytes (the overlapping-entries bomb).
fn overlapping_zip(n: usize, size: usize) -> Vec<u8> {
    let member = {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&vec![0u8; size]).unwrap();
        e.finish().unwrap()
    };
    let crc = crc32(&vec![0u8; size]);
    let mut out = Vec::new();
    let name = b"zeros";
    // Local header.
    out.extend_from_slice(b"PK\x03\x04");
    out.extend_from_slice(&20u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&8u16.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&(member.len() as u32).to_le_bytes());
    out.extend_from_slice(&(size as u32).to_le_bytes());
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(name);
    out.extend_from_slice(&member);
    let cd_start = out.len();
    for i in 0..n {
        let name = format!("z{i:05}");
        out.extend_from_slice(b"PK\x01\x02");
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&8u16.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&(member.len() as u32).to_le_bytes());
        out.extend_from_slice(&(size as u32).to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0; 12]);
        out.extend_from_slice(&0u32.to_le_bytes()); // every entry -> offset 0
        out.extend_from_slice(name.as_bytes());
    }
    let cd_len = out.len() - cd_start;
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(n as u16).to_le_bytes());
    out.extend_from_slice(&(n as u16).to_le_bytes());
    out.extend_from_slice(&(cd_len as u32).to_le_bytes());
    out.extend_from_slice(&(cd_start as u32).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[test]
fn overlapping_entries_bomb_stops_at_the_size_limit() {
    // 5000 entries x 4 MiB = 20 GiB if every entry were inflated.
    let data = overlapping_zip(5000, 4 << 20);
    assert!(data.len() < 400_000, "{}", data.len());
    let started = std::time::Instant::now();
    let report = scan(&data, "overlap.zip");
    assert_eq!(
        report.verdict(),
        ResultCode::ExceededArchiveSize,
        "{:?}",
        report.root.notes
    );
    // Ratio 200 on a ~300 KB input: stops at about 64 MiB, far below 20 GiB.
    assert!(
        report.bytes_extracted < 256 << 20,
        "{}",
        report.bytes_extracted
    );
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn zeros_expanding_1000x_stop_at_the_ratio_limit() {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .large_file(true);
    w.start_file("zeros.bin", opts).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..256 {
        w.write_all(&chunk).unwrap();
    }
    w.write_all(EICAR).unwrap();
    let data = w.finish().unwrap().into_inner();
    assert!(
        256 * (1 << 20) / data.len() > 1000,
        "ratio {}",
        256 * (1 << 20) / data.len()
    );
    let report = scan(&data, "zeros.zip");
    assert_eq!(report.verdict(), ResultCode::ExceededArchiveSize);
    let member = &report.root.children[0];
    assert_eq!(member.own_result_i, ResultCode::ExceededArchiveSize);
    assert!(member.file_size < 128 << 20, "{}", member.file_size);
}

#[test]
fn bzip2_of_a_gigabyte_of_zeros_stops_early() {
    // bzip2 packs 1 GiB of zeros into ~800 bytes: a 1,000,000x bomb.
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        e.write_all(&chunk).unwrap();
    }
    let data = e.finish().unwrap();
    let report = scan(&data, "zeros.bz2");
    assert_eq!(report.verdict(), ResultCode::ExceededArchiveSize);
    assert!(
        report.bytes_extracted <= (64 << 20) + (1 << 20),
        "{}",
        report.bytes_extracted
    );
}

#[test]
fn a_million_tiny_entries_stop_at_the_file_count_limit() {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..1_000_000u32 {
        w.start_file(format!("{i:x}"), opts).unwrap();
        w.write_all(b"x").unwrap();
    }
    let data = w.finish().unwrap().into_inner();
    let report = scan(&data, "million.zip");
    assert_eq!(report.verdict(), ResultCode::ExceededArchiveFileNumber);
    assert_eq!(
        report.root.own_result_i,
        ResultCode::ExceededArchiveFileNumber
    );
    assert!(report.objects <= 100_001, "{}", report.objects);
}

#[test]
fn total_size_limit_is_counted_on_produced_bytes() {
    let big = vec![b'a'; 3 << 20];
    let data = zip_of(&[("a", &big), ("b", &big), ("eicar.com", EICAR)]);
    let mut b = ScannerBuilder::new();
    b.limits(Limits {
        max_total_bytes: 4 << 20,
        ..Limits::default()
    })
    .threads(1);
    let report = b.build().unwrap().scan_bytes(&data, &ScanOptions::new());
    assert!(report.bytes_extracted <= (4 << 20) + (128 << 10));
    assert!(
        [ResultCode::ExceededArchiveSize, ResultCode::Infected].contains(&report.verdict()),
        "{:?}",
        report.verdict()
    );
    assert!(!nodes_with(&report, ResultCode::ExceededArchiveSize).is_empty());
}
