//! Disk images built by the real tools: FAT12/16/32 volumes by mkfs.fat and
//! mtools (dosfstools, mtools), MBR and GPT partition tables by sfdisk
//! (fdisk), fixed and dynamic VHDs by `qemu-img convert -O vpc`. Each with
//! a clean twin; truncated and damaged copies block.

use std::path::Path;

use mdcore::{Kind, ResultCode, ScanOptions};

use crate::util::*;

fn sh(dir: &Path, program: &str, args: &[&str]) -> Option<()> {
    tool(dir, program, args)
}

/// Copies `files` into the FAT volume at `image@@offset` with mtools.
fn fill(dir: &Path, image: &str, files: &[(&str, Vec<u8>)]) -> Option<()> {
    for (name, data) in files {
        let local = dir.join("staging.bin");
        std::fs::write(&local, data).unwrap();
        // Parent directories first.
        let parts: Vec<&str> = name.split('/').collect();
        for i in 1..parts.len() {
            let d = format!("::/{}", parts[..i].join("/"));
            let _ = std::process::Command::new("mmd")
                .args(["-D", "s", "-i", image, &d])
                .current_dir(dir)
                .output();
        }
        sh(
            dir,
            "mcopy",
            &["-o", "-i", image, "staging.bin", &format!("::/{name}")],
        )?;
    }
    Some(())
}

/// A FAT floppy image ("superfloppy": no partition table) of `kb` KiB.
fn fat_volume(files: &[(&str, Vec<u8>)], kb: &str, bits: &str) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    sh(dir.path(), "mkfs.fat", &["-C", "-F", bits, "vol.img", kb])?;
    fill(dir.path(), "vol.img", files)?;
    Some(std::fs::read(dir.path().join("vol.img")).unwrap())
}

/// A disk of `mb` MiB with one FAT partition from sector 2048, under an
/// MBR (`dos`) or GPT (`gpt`) label.
fn partitioned(label: &str, mb: u64, bits: &str, files: &[(&str, Vec<u8>)]) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = std::fs::File::create(d.join("disk.img")).unwrap();
    f.set_len(mb << 20).unwrap();
    drop(f);
    let sectors = (mb << 11) - 2048 - 64;
    let kind = if label == "gpt" {
        "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
    } else {
        "c"
    };
    let script = format!("label: {label}\nstart=2048, size={sectors}, type={kind}\n");
    std::fs::write(d.join("table"), script).unwrap();
    let ok = std::process::Command::new("sh")
        .args(["-c", "sfdisk -q disk.img < table"])
        .current_dir(d)
        .status();
    match ok {
        Ok(s) if s.success() => {}
        _ => {
            crate::shared::skip("sfdisk did not run (fdisk is not installed)");
            return None;
        }
    }
    let blocks = (sectors / 2).to_string();
    sh(
        d,
        "mkfs.fat",
        &["-F", bits, "--offset", "2048", "disk.img", &blocks],
    )?;
    fill(d, "disk.img@@1M", files)?;
    Some(std::fs::read(d.join("disk.img")).unwrap())
}

/// The disk as a VHD (`dynamic` or `fixed`).
fn vhd(disk: &[u8], subformat: &str) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("disk.img"), disk).unwrap();
    let sub = format!("subformat={subformat}");
    sh(
        dir.path(),
        "qemu-img",
        &[
            "convert", "-f", "raw", "-O", "vpc", "-o", &sub, "disk.img", "out.vhd",
        ],
    )?;
    Some(std::fs::read(dir.path().join("out.vhd")).unwrap())
}

fn files(bad: bool) -> Vec<(&'static str, Vec<u8>)> {
    let mut f = vec![
        ("readme.txt", b"hello, world\n".to_vec()),
        (
            "A Long File Name.txt",
            b"long names live in LFN entries\n".to_vec(),
        ),
    ];
    if bad {
        f.push(("docs/deep/invoice.com", EICAR.to_vec()));
    }
    f
}

#[test]
fn fat12_16_32_volumes_are_opened_with_long_names() {
    for (bits, kb) in [("12", "1440"), ("16", "20480"), ("32", "40960")] {
        let Some(bad) = fat_volume(&files(true), kb, bits) else {
            return;
        };
        assert_eq!(mdcore::detect(&bad).kind, Kind::Fat, "FAT{bits}");
        let r = scan(&bad, "vol.img");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Infected,
            "FAT{bits}: {:?}",
            summary(&r)
        );
        assert_eq!(
            threat_paths(&r),
            vec!["vol.img/docs/deep/invoice.com"],
            "FAT{bits}"
        );
        assert!(
            r.root
                .iter()
                .any(|n| n.display_name == "vol.img/A Long File Name.txt"),
            "FAT{bits}: {:?}",
            summary(&r)
        );
        let good = fat_volume(&files(false), kb, bits).unwrap();
        let r = scan(&good, "vol.img");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::NoThreat,
            "FAT{bits}: {:?}",
            summary(&r)
        );
        assert_eq!(r.root.children.len(), 2, "FAT{bits}: {:?}", summary(&r));
    }
}

#[test]
fn mbr_and_gpt_disks_open_their_partitions() {
    for (label, mb, bits) in [("dos", 16, "16"), ("gpt", 48, "32")] {
        let Some(bad) = partitioned(label, mb, bits, &files(true)) else {
            return;
        };
        assert_eq!(mdcore::detect(&bad).kind, Kind::Partitioned, "{label}");
        let r = scan(&bad, "disk.img");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Infected,
            "{label}: {:?}",
            summary(&r)
        );
        assert_eq!(
            threat_paths(&r),
            vec!["disk.img/[partition-1].img/docs/deep/invoice.com"],
            "{label}"
        );
        let good = partitioned(label, mb, bits, &files(false)).unwrap();
        let r = scan(&good, "disk.img");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::NoThreat,
            "{label}: {:?}",
            summary(&r)
        );
    }
}

#[test]
fn data_hidden_outside_the_partitions_is_examined() {
    let Some(mut disk) = partitioned("dos", 16, "16", &files(false)) else {
        return;
    };
    // A zip in the gap between the partition table and the partition.
    let zip = zip_of(&[("e.com", EICAR)]);
    disk[100 * 512..100 * 512 + zip.len()].copy_from_slice(&zip);
    let r = scan(&disk, "disk.img");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Infected,
        "{:?}",
        summary(&r)
    );
    assert_eq!(
        threat_paths(&r),
        vec!["disk.img/[unpartitioned@51200].bin/e.com"]
    );
}

#[test]
fn fixed_and_dynamic_vhds_are_opened_and_a_listed_binary_is_found() {
    let payload = random_bytes(5000, 11);
    let Some(disk) = partitioned("dos", 16, "16", &[("x/payload.bin", payload.clone())]) else {
        return;
    };
    let s = hash_listed(&payload);
    let Some(dynamic) = vhd(&disk, "dynamic") else {
        return;
    };
    assert_eq!(mdcore::detect(&dynamic).kind, Kind::Vhd);
    let fixed = vhd(&disk, "fixed").unwrap();
    for (name, data) in [
        ("dyn.vhd", dynamic.clone()),
        ("fixed.vhd", fixed),
        ("o.zip", zip_of(&[("in.vhd", &dynamic)])),
    ] {
        let r = s.scan_bytes(&data, &ScanOptions::new().name(name));
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Blocklisted,
            "{name}: {:?}",
            summary(&r)
        );
    }
    // EICAR in a dynamic VHD, and its clean twin.
    let bad = vhd(
        &partitioned("dos", 16, "16", &files(true)).unwrap(),
        "dynamic",
    )
    .unwrap();
    let r = scan(&bad, "a.vhd");
    assert_eq!(
        threat_paths(&r),
        vec!["a.vhd/[partition-1].img/docs/deep/invoice.com"],
        "{:?}",
        summary(&r)
    );
    let good = vhd(
        &partitioned("dos", 16, "16", &files(false)).unwrap(),
        "dynamic",
    )
    .unwrap();
    let r = scan(&good, "a.vhd");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::NoThreat,
        "{:?}",
        summary(&r)
    );
}

#[test]
fn truncated_and_damaged_disks_block() {
    let Some(disk) = partitioned("dos", 16, "16", &files(false)) else {
        return;
    };
    // Cut inside the partition: it runs past the end.
    let r = scan(&disk[..4 << 20], "cut.img");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Failed,
        "{:?}",
        summary(&r)
    );
    // A FAT volume whose boot sector is wiped after detection bytes: its
    // BPB says zero sectors per cluster.
    let mut vol = fat_volume(&files(false), "1440", "12").unwrap();
    vol[17..19].copy_from_slice(&[0, 0]); // no root directory entries
    let r = scan(&vol, "bad.img");
    assert_ne!(
        r.root.scan_all_result_i,
        ResultCode::NoThreat,
        "{:?}",
        summary(&r)
    );
    // A dynamic VHD cut inside its blocks.
    let dynamic = vhd(&disk, "dynamic").unwrap();
    let r = scan(&dynamic[..dynamic.len() / 2], "cut.vhd");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Failed,
        "{:?}",
        summary(&r)
    );
}

/// An NTFS volume of 8 MiB by mkntfs (ntfs-3g), with `files` copied to its
/// root by ntfscp; `(file, stream, data)` become alternate data streams.
fn ntfs_volume(files: &[(&str, Vec<u8>)], streams: &[(&str, &str, Vec<u8>)]) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = std::fs::File::create(d.join("vol.img")).unwrap();
    f.set_len(8 << 20).unwrap();
    drop(f);
    sh(d, "mkntfs", &["-F", "-Q", "-q", "vol.img"])?;
    for (name, data) in files {
        std::fs::write(d.join("staging.bin"), data).unwrap();
        sh(d, "ntfscp", &["-f", "vol.img", "staging.bin", name])?;
    }
    for (name, stream, data) in streams {
        std::fs::write(d.join("staging.bin"), data).unwrap();
        sh(
            d,
            "ntfscp",
            &["-f", "-N", stream, "vol.img", "staging.bin", name],
        )?;
    }
    Some(std::fs::read(d.join("vol.img")).unwrap())
}

/// `volume` as the one partition (type 7) of an MBR disk.
fn disk_of(volume: &[u8]) -> Vec<u8> {
    let mut disk = vec![0u8; (1 << 20) + volume.len()];
    disk[1 << 20..].copy_from_slice(volume);
    let e = 446;
    disk[e + 4] = 7;
    disk[e + 8..e + 12].copy_from_slice(&2048u32.to_le_bytes());
    disk[e + 12..e + 16].copy_from_slice(&((volume.len() / 512) as u32).to_le_bytes());
    disk[510] = 0x55;
    disk[511] = 0xaa;
    disk
}

#[test]
fn ntfs_volumes_are_opened_with_their_alternate_data_streams() {
    let clean = vec![
        ("readme.txt", b"hello, world\n".to_vec()),
        ("notes.txt", b"nothing to see\n".to_vec()),
    ];
    let Some(good) = ntfs_volume(&clean, &[]) else {
        return;
    };
    assert_eq!(mdcore::detect(&good).kind, Kind::Ntfs);
    let r = scan(&good, "vol.img");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::NoThreat,
        "{:?}",
        summary(&r)
    );
    assert!(
        r.root
            .iter()
            .any(|n| n.display_name == "vol.img/readme.txt"),
        "{:?}",
        summary(&r)
    );

    let mut bad = clean.clone();
    bad.push(("invoice.com", EICAR.to_vec()));
    let r = scan(&ntfs_volume(&bad, &[]).unwrap(), "vol.img");
    assert_eq!(
        threat_paths(&r),
        vec!["vol.img/invoice.com"],
        "{:?}",
        summary(&r)
    );

    // EICAR in an alternate data stream of a clean file.
    let hidden = ntfs_volume(&clean, &[("readme.txt", "zone", EICAR.to_vec())]).unwrap();
    let r = scan(&hidden, "vol.img");
    assert_eq!(
        threat_paths(&r),
        vec!["vol.img/readme.txt:zone"],
        "{:?}",
        summary(&r)
    );

    // In a partition, in a dynamic VHD, nested in a zip.
    let disk = disk_of(&ntfs_volume(&bad, &[]).unwrap());
    let r = scan(&disk, "disk.img");
    assert_eq!(
        threat_paths(&r),
        vec!["disk.img/[partition-1].img/invoice.com"],
        "{:?}",
        summary(&r)
    );
    let dynamic = vhd(&disk, "dynamic").unwrap();
    let r = scan(&zip_of(&[("d.vhd", &dynamic)]), "o.zip");
    assert_eq!(
        threat_paths(&r),
        vec!["o.zip/d.vhd/[partition-1].img/invoice.com"],
        "{:?}",
        summary(&r)
    );
    let r = scan(&vhd(&disk_of(&good), "dynamic").unwrap(), "c.vhd");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::NoThreat,
        "{:?}",
        summary(&r)
    );

    // Cut inside what the file system uses: blocks. (Cut after all of it,
    // a volume loses only free space: its files are whole.)
    let r = scan(&good[..64 << 10], "cut.img");
    assert_ne!(
        r.root.scan_all_result_i,
        ResultCode::NoThreat,
        "{:?}",
        summary(&r)
    );
    let mut big = clean.clone();
    big.push(("big.bin", random_bytes(5 << 20, 5)));
    let vol = ntfs_volume(&big, &[]).unwrap();
    let r = scan(&vol[..4 << 20], "cut.img");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::Failed,
        "{:?}",
        summary(&r)
    );
    let r = scan(&vol, "whole.img");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::NoThreat,
        "{:?}",
        summary(&r)
    );
}

/// The disk as a VHDX by `qemu-img convert -O vhdx` with extra options
/// (`subformat=fixed`, `block_size=1M`).
fn vhdx(disk: &[u8], options: &str) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("disk.img"), disk).unwrap();
    let mut args = vec!["convert", "-f", "raw", "-O", "vhdx"];
    if !options.is_empty() {
        args.extend(["-o", options]);
    }
    args.extend(["disk.img", "out.vhdx"]);
    sh(dir.path(), "qemu-img", &args)?;
    Some(std::fs::read(dir.path().join("out.vhdx")).unwrap())
}

/// Where a VHDX's block allocation table starts (from its first region
/// table, at 192 KiB: entries of 32 bytes after a 16-byte header).
fn vhdx_bat(v: &[u8]) -> usize {
    let bat_guid = [
        0x66, 0x77, 0xC2, 0x2D, 0x23, 0xF6, 0x00, 0x42, 0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A,
        0x08,
    ];
    let table = 192 << 10;
    let count = u32::from_le_bytes(v[table + 8..table + 12].try_into().unwrap()) as usize;
    (0..count)
        .map(|i| table + 16 + 32 * i)
        .find(|e| v[*e..*e + 16] == bat_guid)
        .map(|e| u64::from_le_bytes(v[e + 16..e + 24].try_into().unwrap()) as usize)
        .expect("no BAT region")
}

/// Rewrites the CRC-32C of the 4 KiB header at `at`.
fn vhdx_reseal_header(v: &mut [u8], at: usize) {
    v[at + 4..at + 8].fill(0);
    let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, &v[at..at + 4096]) as u32;
    v[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn dynamic_and_fixed_vhdx_are_opened_and_a_listed_binary_is_found() {
    let payload = random_bytes(5000, 12);
    let Some(disk) = partitioned("gpt", 16, "16", &[("x/payload.bin", payload.clone())]) else {
        return;
    };
    let s = hash_listed(&payload);
    let Some(dynamic) = vhdx(&disk, "") else {
        return;
    };
    assert_eq!(mdcore::detect(&dynamic).kind, Kind::Vhdx);
    let fixed = vhdx(&disk, "subformat=fixed").unwrap();
    let small_blocks = vhdx(&disk, "block_size=1M").unwrap();
    for (name, data) in [
        ("dyn.vhdx", dynamic.clone()),
        ("fixed.vhdx", fixed),
        ("small.vhdx", small_blocks),
        ("o.zip", zip_of(&[("in.vhdx", &dynamic)])),
        ("o.tar", tar_of(&[("in.vhdx", &dynamic)])),
    ] {
        let r = s.scan_bytes(&data, &ScanOptions::new().name(name));
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Blocklisted,
            "{name}: {:?}",
            summary(&r)
        );
    }
    // EICAR on a superfloppy and on a partitioned disk, with clean twins.
    for (label, bad, good) in [
        (
            "volume",
            fat_volume(&files(true), "1440", "12").unwrap(),
            fat_volume(&files(false), "1440", "12").unwrap(),
        ),
        (
            "disk",
            partitioned("dos", 16, "16", &files(true)).unwrap(),
            partitioned("dos", 16, "16", &files(false)).unwrap(),
        ),
    ] {
        let inner = if label == "volume" {
            "[disk].img"
        } else {
            "[partition-1].img"
        };
        let r = scan(&vhdx(&bad, "block_size=1M").unwrap(), "a.vhdx");
        assert_eq!(
            threat_paths(&r),
            vec![format!("a.vhdx/{inner}/docs/deep/invoice.com")],
            "{label}: {:?}",
            summary(&r)
        );
        let r = scan(&vhdx(&good, "block_size=1M").unwrap(), "a.vhdx");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::NoThreat,
            "{label}: {:?}",
            summary(&r)
        );
    }
}

#[test]
fn a_vhdx_block_marked_unmapped_is_still_examined() {
    // A block holding EICAR whose table entry is flipped to "unmapped": the
    // disk reads zeros there, but a reader may return the bytes still in
    // the file, so they are examined too. The clean twin has the same edit.
    let mut found = Vec::new();
    for bad in [true, false] {
        let Some(vol) = fat_volume(&files(bad), "4096", "12") else {
            return;
        };
        let Some(mut v) = vhdx(&vol, "block_size=1M") else {
            return;
        };
        let bat = vhdx_bat(&v);
        let needle: &[u8] = if bad { EICAR } else { b"hello, world\n" };
        let at = v.windows(needle.len()).position(|w| w == needle).unwrap() as u64;
        let mut flipped = false;
        for i in 0..8 {
            let e = bat + 8 * i;
            let entry = u64::from_le_bytes(v[e..e + 8].try_into().unwrap());
            if entry & 7 == 6 && entry >> 20 == at >> 20 {
                v[e..e + 8].copy_from_slice(&((entry & !7) | 3).to_le_bytes());
                flipped = true;
            }
        }
        assert!(flipped, "the block holding the file was not in the table");
        let r = scan(&v, "a.vhdx");
        found.push((bad, threat_paths(&r), r.root.scan_all_result_i));
    }
    assert_eq!(found[0].1.len(), 1, "{found:?}");
    assert!(found[0].1[0].starts_with("a.vhdx/[unmapped@"), "{found:?}");
    assert_eq!(found[1].2, ResultCode::NoThreat, "{found:?}");
}

#[test]
fn truncated_damaged_and_differencing_vhdx_block() {
    let Some(disk) = partitioned("dos", 16, "16", &files(false)) else {
        return;
    };
    let Some(v) = vhdx(&disk, "block_size=1M") else {
        return;
    };
    assert_eq!(
        scan(&v, "a.vhdx").root.scan_all_result_i,
        ResultCode::NoThreat
    );
    let failed = |data: &[u8], what: &str| {
        let r = scan(data, "a.vhdx");
        assert_eq!(
            r.root.scan_all_result_i,
            ResultCode::Failed,
            "{what}: {:?}",
            summary(&r)
        );
        r
    };
    // Cut inside the blocks.
    failed(&v[..v.len() / 2], "truncated");
    // Both headers damaged.
    let mut bad = v.clone();
    bad[64 * 1024 + 100] ^= 1;
    bad[128 * 1024 + 100] ^= 1;
    failed(&bad, "headers");
    // One header damaged: the other is read.
    let mut one = v.clone();
    one[64 * 1024 + 100] ^= 1;
    let r = scan(&one, "a.vhdx");
    assert_eq!(
        r.root.scan_all_result_i,
        ResultCode::NoThreat,
        "{:?}",
        summary(&r)
    );
    // A log with writes not applied (a LogGuid set in both headers).
    let mut dirty = v.clone();
    for at in [64 * 1024, 128 * 1024] {
        dirty[at + 48] = 1;
        vhdx_reseal_header(&mut dirty, at);
    }
    let r = failed(&dirty, "dirty log");
    assert!(
        summary(&r)
            .iter()
            .any(|(_, _, n)| n.iter().any(|n| n.contains("log"))),
        "{:?}",
        summary(&r)
    );
    // A differencing disk (qemu-img does not write them: the file
    // parameters' HasParent flag set by hand): its parent's blocks are not
    // here.
    let mut child = v.clone();
    let params = [
        0x37, 0x67, 0xA1, 0xCA, 0x36, 0xFA, 0x43, 0x4D, 0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7,
        0x6B,
    ];
    let entry = child.windows(16).position(|w| w == params).unwrap();
    // Regions are 1 MiB aligned; the metadata table opens its region.
    let table = entry & !((1 << 20) - 1);
    let offset = u32::from_le_bytes(child[entry + 16..entry + 20].try_into().unwrap()) as usize;
    assert_eq!(&child[table..table + 8], b"metadata");
    child[table + offset + 4] |= 2;
    let r = failed(&child, "differencing");
    assert!(
        summary(&r)
            .iter()
            .any(|(_, _, n)| n.iter().any(|n| n.contains("parent"))),
        "{:?}",
        summary(&r)
    );
}
