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
            assert!(std::env::var_os("CI").is_none(), "sfdisk failed");
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
