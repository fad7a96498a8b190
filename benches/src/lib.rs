//! The benchmark corpus: deterministic (seeded) files and archives, the rule
//! set both scanners get (ten YARA string rules, a ClamAV `.hdb` of 1,000
//! hashes), and the detections every scanner must report on it.
//!
//! Sets (see `benches/README.md`):
//! - `small`: 2,000 mixed files of 1–64 KiB, loose, as one zip, as one
//!   tar.gz, and nested zip-in-zip three levels deep;
//! - `medium`: RPM, CAB and self-extracting EXE of tens of MB, each holding
//!   thousands of small files (modelled on MetaDefender's published
//!   archive benchmark);
//! - `big`: a CAB of hundreds of MB expanding more than 30x, and a tar.zst
//!   of the same files (4 GiB expanded);
//! - `seed`: the inputs of the cluster scenarios (`seed_scenarios.py`): RPM,
//!   CAB and EXE of 3,000 files of 24–48 KiB, and four big cabinets;
//! - `stream`: one 200 MB stream as gzip, xz and zstd;
//! - `leaf`: a 100 MiB random file and a 100 MiB PNG (random pixels), which
//!   mdscan examines whole and searches for embedded archives (carving);
//! - `docs`: a MIME message with hundreds of attachments, an mbox, a PDF
//!   with hundreds of embedded files, and a Word document whose VBA project
//!   has dozens of modules.
// A tool run by developers on inputs of their own making, not a reader
// of hostile bytes: it stops with a message where the library may not.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::io::Write;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "../../mdcore/tests/util.rs"]
#[allow(unreachable_pub, missing_debug_implementations)]
mod util;

/// The seed of everything; change it and every figure changes.
pub const SEED: u64 = 0x6d64_7363_616e_0001;
/// How many YARA string rules the corpus uses.
pub const MARKERS: usize = 10;

/// The string YARA rule `bench_marker_NN` looks for.
pub fn marker(i: usize) -> String {
    format!("MDSCAN-BENCH-MARKER-{i:02}-4f1c9a")
}

/// The YARA rule file.
pub fn rules() -> String {
    (0..MARKERS)
        .map(|i| format!("rule bench_marker_{i:02} {{\n  strings:\n    $m = \"{}\"\n  condition:\n    $m\n}}\n", marker(i)))
        .collect()
}

/// A file of the corpus.
#[derive(Clone, Debug)]
pub struct File {
    /// Relative name.
    pub name: String,
    /// Contents.
    pub data: Vec<u8>,
    /// The threat a scanner must report for it, if any.
    pub threat: Option<String>,
}

const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "archive",
    "scanner",
    "file",
    "security",
    "nested",
    "object",
    "engine",
    "rule",
    "verdict",
    "limit",
    "cabinet",
    "folder",
    "stream",
    "block",
    "header",
    "entry",
    "member",
    "size",
    "ratio",
    "depth",
    "timeout",
    "report",
    "threat",
    "clean",
    "infected",
    "hash",
    "digest",
    "queue",
    "worker",
    "gateway",
    "cluster",
    "result",
    "upload",
    "download",
    "parallel",
    "thread",
    "memory",
    "budget",
    "extract",
    "compress",
    "inflate",
    "deflate",
    "window",
    "symbol",
    "literal",
    "match",
    "offset",
    "length",
    "table",
    "index",
    "record",
    "payload",
    "signature",
    "vendor",
    "release",
    "package",
    "binary",
    "text",
    "config",
    "service",
    "policy",
];

fn text(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        let w = WORDS[rng.random_range(0..WORDS.len())];
        out.extend_from_slice(w.as_bytes());
        out.push(if rng.random_ratio(1, 12) { b'\n' } else { b' ' });
    }
    out.truncate(len);
    out
}

/// Binary-looking data: random runs mixed with structured, compressible
/// records (like executables and databases).
fn binary(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 64);
    while out.len() < len {
        if rng.random_bool(0.4) {
            let n = rng.random_range(16..256);
            out.extend((0..n).map(|_| rng.random::<u8>()));
        } else {
            let rec: u32 = rng.random_range(0..1 << 16);
            for k in 0..rng.random_range(4..32u32) {
                out.extend_from_slice(&(rec + k).to_le_bytes());
                out.extend_from_slice(&[0, 0, 0x40, 0x00]);
            }
        }
    }
    out.truncate(len);
    out
}

/// `count` files of `min..=max` bytes, half text, half binary; every 200th
/// carries a YARA marker, every 400th (offset) is on the hash list.
pub fn mixed_files(seed: u64, count: usize, min: usize, max: usize) -> Vec<File> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|i| {
            let len = rng.random_range(min..=max);
            let is_text = rng.random_bool(0.5);
            let mut data = if is_text {
                text(&mut rng, len)
            } else {
                binary(&mut rng, len)
            };
            let mut threat = None;
            if i % 200 == 7 {
                let m = (i / 200) % MARKERS;
                let at = rng.random_range(0..data.len());
                let tail = data.split_off(at);
                data.extend_from_slice(marker(m).as_bytes());
                data.extend_from_slice(&tail);
                threat = Some(format!("bench_marker_{m:02}"));
            } else if i % 400 == 13 {
                threat = Some(format!("Bench.Hash.{seed:x}.{i}"));
            }
            let ext = if is_text { "txt" } else { "bin" };
            File {
                name: format!("d{:02}/f{i:05}.{ext}", i / 100),
                data,
                threat,
            }
        })
        .collect()
}

fn md5_hex(data: &[u8]) -> String {
    Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The ClamAV `.hdb` (`md5:size:name`): the hash-listed files of `sets`
/// plus pseudo-random entries up to `total` lines.
pub fn hdb(sets: &[&[File]], total: usize) -> String {
    let mut lines: Vec<String> = sets
        .iter()
        .flat_map(|s| s.iter())
        .filter(|f| {
            f.threat
                .as_deref()
                .is_some_and(|t| t.starts_with("Bench.Hash."))
        })
        .map(|f| {
            format!(
                "{}:{}:{}",
                md5_hex(&f.data),
                f.data.len(),
                f.threat.as_deref().unwrap_or_default()
            )
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(SEED ^ 0xdb);
    while lines.len() < total {
        let h: [u8; 16] = rng.random();
        let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
        lines.push(format!(
            "{hex}:{}:Bench.Decoy.{}",
            rng.random_range(1..1_000_000u32),
            lines.len()
        ));
    }
    lines.join("\n") + "\n"
}

fn entries(files: &[File]) -> Vec<(&str, &[u8])> {
    files
        .iter()
        .map(|f| (f.name.as_str(), f.data.as_slice()))
        .collect()
}

/// A deflate zip of `files`.
pub fn zip(files: &[File]) -> Vec<u8> {
    util::zip_of(&entries(files))
}

/// A gzip-compressed tar of `files`.
pub fn tar_gz(files: &[File]) -> Vec<u8> {
    util::gz(&util::tar_of(&entries(files)))
}

/// Zip in zip in zip: 10 zips of 10 zips of `files.len() / 100` files.
pub fn nested_zip(files: &[File]) -> Vec<u8> {
    let per = files.len().div_ceil(100).max(1);
    let inner: Vec<(String, Vec<u8>)> = files
        .chunks(per)
        .enumerate()
        .map(|(i, c)| (format!("inner{i:03}.zip"), zip(c)))
        .collect();
    let mid: Vec<(String, Vec<u8>)> = inner
        .chunks(10)
        .enumerate()
        .map(|(i, c)| {
            let e: Vec<(&str, &[u8])> = c.iter().map(|(n, d)| (n.as_str(), d.as_slice())).collect();
            (format!("mid{i:02}.zip"), util::zip_of(&e))
        })
        .collect();
    let e: Vec<(&str, &[u8])> = mid
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    util::zip_of(&e)
}

/// An RPM with a gzip-compressed cpio (newc) payload.
pub fn rpm(files: &[File]) -> Vec<u8> {
    util::rpm_of(&util::gz(&util::newc_of(&entries(files))))
}

/// An MSZIP cabinet, `per_folder` files per folder.
pub fn cab(files: &[File], per_folder: usize) -> Vec<u8> {
    let folders: Vec<Vec<(&str, &[u8])>> = files.chunks(per_folder).map(entries).collect();
    let refs: Vec<&[(&str, &[u8])]> = folders.iter().map(Vec::as_slice).collect();
    util::cab_of(&refs, true)
}

/// A CHM holding `files` in its LZX section (decoder reset every 2
/// frames, as HTML Help Workshop writes it; literal-only blocks).
pub fn chm(files: &[File]) -> Vec<u8> {
    util::chm(&[], &entries(files), 2)
}

/// An LZX cabinet of `files` (one folder, literal-only blocks).
pub fn lzx_cab(files: &[File]) -> Vec<u8> {
    util::cab_lzx(&entries(files))
}

/// An ALZip archive of `files`, deflated.
pub fn alz(files: &[File]) -> Vec<u8> {
    let e: Vec<(&str, &[u8], u8)> = files
        .iter()
        .map(|f| (f.name.as_str(), f.data.as_slice(), 2))
        .collect();
    util::alz_of(&e, None)
}

/// A scratch directory for a tool's run, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("mdscan-bench-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    /// Writes `files` under `in/`, returning their paths from the scratch
    /// directory.
    fn files(&self, files: &[File]) -> Vec<String> {
        files
            .iter()
            .map(|f| {
                let rel = format!("in/{}", f.name);
                let p = self.0.join(&rel);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(&p, &f.data).unwrap();
                rel
            })
            .collect()
    }

    /// Runs `program` there; `false` when it is not installed.
    fn run(&self, program: &str, args: &[&str]) -> bool {
        match std::process::Command::new(program)
            .args(args)
            .current_dir(&self.0)
            .output()
        {
            Ok(o) => {
                assert!(
                    o.status.success(),
                    "{program} {args:?}: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
                true
            }
            Err(_) => {
                eprintln!("{program} is not installed: skipped");
                false
            }
        }
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.0.join(name)).unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An ISO 9660 image of `files` with Joliet and Rock Ridge names, by
/// genisoimage. `None` when it is not installed (so with the others).
pub fn iso(files: &[File]) -> Option<Vec<u8>> {
    let s = Scratch::new("iso");
    s.files(files);
    s.run(
        "genisoimage",
        &["-quiet", "-J", "-R", "-o", "out.iso", "in"],
    )
    .then(|| s.read("out.iso"))
}

/// A UDF-only image of `files`: genisoimage's ISO 9660 + UDF bridge with
/// its ISO 9660 volume descriptors zeroed, so only UDF is left (what
/// Windows mounts). `None` when genisoimage is not installed.
pub fn udf(files: &[File]) -> Option<Vec<u8>> {
    let s = Scratch::new("udf");
    s.files(files);
    if !s.run(
        "genisoimage",
        &["-quiet", "-J", "-R", "-udf", "-o", "out.iso", "in"],
    ) {
        return None;
    }
    let mut img = s.read("out.iso");
    for sector in 16..32 {
        let at = sector * 2048;
        if img.get(at + 1..at + 6) == Some(b"CD001".as_slice()) {
            img[at..at + 2048].fill(0);
        }
    }
    Some(img)
}

/// An ARJ archive of `files` (method 1), by ARJ.
pub fn arj(files: &[File]) -> Option<Vec<u8>> {
    let s = Scratch::new("arj");
    let names = s.files(files);
    let mut args = vec!["a", "-y", "-m1", "out.arj"];
    args.extend(names.iter().map(String::as_str));
    s.run("arj", &args).then(|| s.read("out.arj"))
}

/// An LZH archive of `files` (lh5), by jLHA.
pub fn lzh(files: &[File]) -> Option<Vec<u8>> {
    let s = Scratch::new("lzh");
    let names = s.files(files);
    let mut args = vec!["ao5", "out.lzh"];
    args.extend(names.iter().map(String::as_str));
    s.run("jlha", &args).then(|| s.read("out.lzh"))
}

/// An NSIS installer (zlib, not solid) installing `files`, by makensis.
pub fn nsis(files: &[File]) -> Option<Vec<u8>> {
    let s = Scratch::new("nsis");
    let names = s.files(files);
    let mut script = String::from(
        "OutFile \"out.exe\"\nSetCompressor zlib\nInstallDir \"$TEMP\\t\"\nSection\nSetOutPath $INSTDIR\n",
    );
    for (f, local) in files.iter().zip(&names) {
        script.push_str(&format!("File \"/oname={}\" \"{local}\"\n", f.name));
    }
    script.push_str("SectionEnd\n");
    std::fs::write(s.0.join("t.nsi"), script).unwrap();
    s.run("makensis", &["-V1", "t.nsi"])
        .then(|| s.read("out.exe"))
}

/// One SZDD file (MS `compress.exe`, by mscompress) of all of `files`
/// one after another.
pub fn szdd(files: &[File]) -> Option<Vec<u8>> {
    let s = Scratch::new("szdd");
    let all: Vec<u8> = files.iter().flat_map(|f| f.data.iter().copied()).collect();
    std::fs::write(s.0.join("all.bin"), all).unwrap();
    s.run("mscompress", &["all.bin"])
        .then(|| s.read("all.bin_"))
}

/// A dynamic VHDX (by qemu-img) of a 16 MiB FAT16 volume (by mkfs.fat
/// and mtools) holding `files` in its root.
pub fn vhdx(files: &[File]) -> Option<Vec<u8>> {
    let s = Scratch::new("vhdx");
    let names = s.files(files);
    if !s.run("mkfs.fat", &["-C", "-F", "16", "vol.img", "16384"]) {
        return None;
    }
    for (f, local) in files.iter().zip(&names) {
        let target = format!("::/{}", f.name.replace('/', "_"));
        if !s.run("mcopy", &["-o", "-i", "vol.img", local, &target]) {
            return None;
        }
    }
    s.run(
        "qemu-img",
        &["convert", "-f", "raw", "-O", "vhdx", "vol.img", "out.vhdx"],
    )
    .then(|| s.read("out.vhdx"))
}

/// A compiled AutoIt script (EA06) installing `files` (stored: the test
/// builder's compressor is too slow for megabytes).
pub fn autoit(files: &[File]) -> Vec<u8> {
    let paths: Vec<String> = files
        .iter()
        .map(|f| format!("C:\\src\\{}", f.name.replace('/', "\\")))
        .collect();
    let script = util::au3_tokens(&[&[(0x31, "RUN"), (0x47, ""), (0x36, "setup"), (0x48, "")]]);
    let mut entries = vec![util::Au3Entry {
        kind: ">>>AUTOIT SCRIPT<<<",
        name: "C:\\src\\main.au3",
        data: &script,
        compress: true,
    }];
    for (f, p) in files.iter().zip(&paths) {
        entries.push(util::Au3Entry {
            kind: p,
            name: p,
            data: &f.data,
            compress: false,
        });
    }
    util::autoit_of(6, &entries)
}

/// An InstallShield `setup.exe`: a PE whose overlay carries `files`
/// encrypted (key restarting every KiB), hand-built as the tests build it.
pub fn installshield(files: &[File]) -> Vec<u8> {
    let names: Vec<String> = files.iter().map(|f| f.name.replace('/', "_")).collect();
    let e: Vec<util::IsFile<'_>> = files
        .iter()
        .zip(&names)
        .map(|(f, n)| util::IsFile {
            name: n,
            data: &f.data,
            flags: 6,
            deflate: false,
        })
        .collect();
    util::pe_with_overlay(&util::installshield_of(false, &e))
}

/// An InstallShield cabinet (IS 12 layout) of `files`, deflated in chunks
/// and obfuscated, hand-built as the tests build it.
pub fn iscab(files: &[File]) -> Vec<u8> {
    let e: Vec<util::IsCabFile<'_>> = files
        .iter()
        .map(|f| {
            let (dir, name) = f.name.rsplit_once('/').unwrap_or(("", &f.name));
            util::IsCabFile {
                dir,
                name,
                data: &f.data,
                compressed: true,
                obfuscated: true,
            }
        })
        .collect();
    util::iscab_of(12, &e)
}

/// A MIME message with every file of `files` as a base64 attachment.
pub fn mail(files: &[File]) -> Vec<u8> {
    let mut m = String::from(
        "From: bench@example.com\r\nTo: you@example.com\r\nSubject: bench\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"BENCH\"\r\n\r\n--BENCH\r\nContent-Type: text/plain\r\n\r\nSee the attachments.\r\n",
    );
    for f in files {
        let name = f.name.rsplit('/').next().unwrap();
        m.push_str(&format!(
            "--BENCH\r\nContent-Type: application/octet-stream; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            util::b64(&f.data)
        ));
    }
    m.push_str("--BENCH--\r\n");
    m.into_bytes()
}

/// An mbox of messages of `per` attachments each.
pub fn mbox(files: &[File], per: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in files.chunks(per) {
        out.extend_from_slice(b"From bench@example.com Thu Jan  1 00:00:00 2026\n");
        out.extend_from_slice(&mail(chunk));
        out.extend_from_slice(b"\n");
    }
    out
}

/// A PDF whose EmbeddedFiles name tree holds every file (FlateDecode).
pub fn pdf(files: &[File]) -> Vec<u8> {
    let n = files.len();
    // 1 catalog, 2 pages, 3 page, 4 names tree, then per file a filespec
    // (5 + 2i) and its stream (6 + 2i).
    let mut names = String::from("<< /Names [");
    for (i, f) in files.iter().enumerate() {
        let name = f.name.rsplit('/').next().unwrap();
        names.push_str(&format!("({name}) {} 0 R ", 5 + 2 * i));
    }
    names.push_str("] >>");
    let mut objs = vec![
        b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles 4 0 R >> >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>".to_vec(),
        names.into_bytes(),
    ];
    for (i, f) in files.iter().enumerate() {
        let name = f.name.rsplit('/').next().unwrap();
        objs.push(
            format!(
                "<< /Type /Filespec /F ({name}) /EF << /F {} 0 R >> >>",
                6 + 2 * i
            )
            .into_bytes(),
        );
        objs.push(util::pdf_stream(
            "/Type /EmbeddedFile /Filter /FlateDecode",
            &util::zlib(&f.data),
        ));
    }
    debug_assert_eq!(objs.len(), 4 + 2 * n);
    util::pdf_of(&objs)
}

/// A Word document (OLE2) with a VBA project of one module per text file
/// of `files` (their text as the module source) and every other file as a
/// stream of its own.
pub fn vba_doc(files: &[File]) -> Vec<u8> {
    let modules: Vec<(String, String)> = files
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let text = std::str::from_utf8(&f.data).ok()?;
            let src: String = text.chars().take(3000).collect();
            Some((format!("Module{i}"), src))
        })
        .take(60)
        .collect();
    let m: Vec<(&str, &str)> = modules
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_str()))
        .collect();
    let project = util::vba_project("Macros/VBA", &m);
    let fib = util::word_fib(false);
    let mut streams: Vec<(String, &[u8])> = vec![("WordDocument".into(), &fib)];
    streams.extend(project.iter().map(|(n, d)| (n.clone(), d.as_slice())));
    for (i, f) in files.iter().enumerate() {
        streams.push((format!("Data/s{i:04}"), &f.data));
    }
    let e: Vec<(&str, &[u8])> = streams.iter().map(|(n, d)| (n.as_str(), *d)).collect();
    util::ole2_of(&e)
}

/// A PE executable with a zip of `files` in its overlay (a self-extractor).
pub fn sfx_exe(files: &[File]) -> Vec<u8> {
    util::pe_with_overlay(&zip(files))
}

/// The files of the big archives, one at a time: `files` files of
/// `file_size` bytes, repetitive (about 30x with deflate); file 100 carries
/// marker 0 (when there are that many). `salt` gives files of the same
/// shape with different bytes.
fn big_files(files: usize, file_size: usize, salt: u64, mut each: impl FnMut(usize, &[u8])) {
    let mut rng = StdRng::seed_from_u64(SEED ^ 0xcab ^ salt.rotate_left(17));
    let mut data = Vec::with_capacity(file_size);
    for i in 0..files {
        // A 4 KiB unit repeated with a changing counter (deflate finds the
        // repeats in its 32 KiB window), and fresh text every 32nd block:
        // about 32x overall.
        let unit = text(&mut rng, 4096);
        data.clear();
        let mut k = 0u64;
        while data.len() < file_size {
            let mut block = if k.is_multiple_of(32) {
                text(&mut rng, 12 << 10)
            } else {
                unit.clone()
            };
            block.extend_from_slice(format!("\n#{i}:{k}\n").as_bytes());
            if i == 100 && k == 7 {
                block.extend_from_slice(marker(0).as_bytes());
            }
            let n = block.len().min(file_size - data.len());
            data.extend_from_slice(&block[..n]);
            k += 1;
        }
        each(i, &data);
    }
}

/// Writes a big cabinet straight to `path`: the [`big_files`] in MSZIP
/// folders of `per_folder`. Returns the expanded size.
pub fn write_big_cab(
    path: &Path,
    files: usize,
    file_size: usize,
    per_folder: usize,
    salt: u64,
) -> u64 {
    let mut b = cab::CabinetBuilder::new();
    for chunk in (0..files).collect::<Vec<_>>().chunks(per_folder) {
        let f = b.add_folder(cab::CompressionType::MsZip);
        for i in chunk {
            f.add_file(format!("payload/part{i:05}.dat"));
        }
    }
    let out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut w = b.build(out).unwrap();
    let mut total = 0u64;
    big_files(files, file_size, salt, |_, data| {
        let mut fw = w.next_file().unwrap().unwrap();
        fw.write_all(data).unwrap();
        total += data.len() as u64;
    });
    w.finish().unwrap().into_inner().unwrap();
    total
}

/// Writes the [`big_files`] as a tar compressed with zstd (level 3),
/// streamed to `path`. Returns the expanded size of the tar.
pub fn write_big_tar_zst(path: &Path, files: usize, file_size: usize) -> u64 {
    let out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let z = zstd::Encoder::new(out, 3).unwrap();
    let mut t = tar::Builder::new(CountingWriter { inner: z, count: 0 });
    big_files(files, file_size, 0, |i, data| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        t.append_data(&mut h, format!("payload/part{i:05}.dat"), data)
            .unwrap();
    });
    let w = t.into_inner().unwrap();
    let total = w.count;
    w.inner.finish().unwrap().into_inner().unwrap();
    total
}

/// Counts what goes through it.
struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// `size` bytes of text with marker 1 near the end, for the stream set.
pub fn stream_data(size: usize) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(SEED ^ 0x57);
    let mut d = text(&mut rng, size);
    let m = marker(1);
    let at = size - 4096;
    d[at..at + m.len()].copy_from_slice(m.as_bytes());
    d
}

/// `size` pseudo-random bytes (the leaf set's `random.bin`).
pub fn random_file(size: usize) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(SEED ^ 0x1eaf);
    let mut d = vec![0u8; size];
    rng.fill(&mut d[..]);
    d
}

/// A valid greyscale PNG of about `size` bytes of random pixels, its image
/// data in stored deflate blocks (the leaf set's `photo.png`).
pub fn big_png(size: usize) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], body: &[u8]) {
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(body);
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
    }
    let width = 4096usize;
    let height = size / (width + 1);
    let mut rng = StdRng::seed_from_u64(SEED ^ 0x0b16);
    let mut raw = vec![0u8; height * (width + 1)];
    rng.fill(&mut raw[..]);
    for row in raw.chunks_mut(width + 1) {
        row[0] = 0; // filter: none
    }
    // zlib: header, stored blocks of up to 65,535 bytes, Adler-32.
    let mut z = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, b) in blocks.iter().enumerate() {
        z.push(u8::from(i + 1 == blocks.len()));
        let len = b.len() as u16;
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(!len).to_le_bytes());
        z.extend_from_slice(b);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for x in &raw {
        a = (a + u32::from(*x)) % 65_521;
        b = (b + a) % 65_521;
    }
    z.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = (width as u32).to_be_bytes().to_vec();
    ihdr.extend_from_slice(&(height as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    for part in z.chunks(1 << 20) {
        chunk(&mut out, b"IDAT", part);
    }
    chunk(&mut out, b"IEND", b"");
    out
}

/// gzip (level 6), xz (preset 1) and zstd (level 3) of `data`.
pub fn streams(data: &[u8]) -> [(&'static str, Vec<u8>); 3] {
    let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
    xz.write_all(data).unwrap();
    [
        ("stream.gz", util::gz(data)),
        ("stream.xz", xz.finish().unwrap()),
        ("stream.zst", zstd::encode_all(data, 3).unwrap()),
    ]
}

/// Where the generator puts things under the corpus root.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The corpus root.
    pub root: PathBuf,
}

impl Layout {
    /// The YARA rules.
    pub fn rules(&self) -> PathBuf {
        self.root.join("bench.yar")
    }
    /// The ClamAV hash list.
    pub fn hdb(&self) -> PathBuf {
        self.root.join("bench.hdb")
    }
    /// Expected detections: one `input<TAB>threat` line each.
    pub fn expected(&self) -> PathBuf {
        self.root.join("expected.tsv")
    }
}
