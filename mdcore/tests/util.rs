//! Archive builders and helpers shared by the tests. Every fixture is built
//! here, at test time: nothing malicious is committed, only EICAR.

#![allow(dead_code)]

use std::io::{Cursor, Read, Write};

use mdcore::{Report, ResultCode, ScanOptions, Scanner, ScannerBuilder};

pub const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

pub fn scanner() -> Scanner {
    ScannerBuilder::new().build().unwrap()
}

pub fn scan(data: &[u8], name: &str) -> Report {
    scanner().scan_bytes(data, &ScanOptions::new().name(name))
}

/// Display names of every node carrying `code` as its own result.
pub fn nodes_with(report: &Report, code: ResultCode) -> Vec<String> {
    report
        .root
        .iter()
        .filter(|n| n.own_result_i == code)
        .map(|n| n.display_name.clone())
        .collect()
}

pub fn threat_paths(report: &Report) -> Vec<String> {
    report
        .threats()
        .into_iter()
        .map(|d| d.display_name)
        .collect()
}

pub fn zip_with(entries: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .large_file(false);
    for (name, data) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    zip_with(entries, zip::CompressionMethod::Deflated)
}

pub fn zip_encrypted(entries: &[(&str, &[u8])], password: &str, aes: bool) -> Vec<u8> {
    if !aes {
        return zipcrypto_zip(entries, password);
    }
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .with_aes_encryption(zip::AesMode::Aes256, password);
    for (name, data) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

pub fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        // Written raw: the builder refuses `..`, and hostile names are the point.
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn bz2(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn xz(data: &[u8]) -> Vec<u8> {
    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zst(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

/// A 7z archive; `solid` puts all files in one block.
pub fn sevenz_of(entries: &[(&str, &[u8])], password: Option<&str>, solid: bool) -> Vec<u8> {
    use sevenz_rust2::{ArchiveEntry, ArchiveWriter, SourceReader};
    let mut w = ArchiveWriter::new(Cursor::new(Vec::new())).unwrap();
    if let Some(pw) = password {
        w.set_content_methods(vec![
            sevenz_rust2::encoder_options::AesEncoderOptions::new(pw.into()).into(),
            sevenz_rust2::EncoderMethod::LZMA2.into(),
        ]);
        w.set_encrypt_header(true);
    }
    if solid {
        let files = entries
            .iter()
            .map(|(n, _)| ArchiveEntry::new_file(n))
            .collect();
        let readers = entries
            .iter()
            .map(|(_, d)| SourceReader::new(Cursor::new(d.to_vec())))
            .collect();
        w.push_archive_entries(files, readers).unwrap();
    } else {
        for (name, data) in entries {
            w.push_archive_entry(
                ArchiveEntry::new_file(name),
                Some(Cursor::new(data.to_vec())),
            )
            .unwrap();
        }
    }
    w.finish().unwrap().into_inner()
}

/// A cabinet with one folder per `folders` entry.
pub fn cab_of(folders: &[&[(&str, &[u8])]], compressed: bool) -> Vec<u8> {
    let mut b = cab::CabinetBuilder::new();
    let ctype = if compressed {
        cab::CompressionType::MsZip
    } else {
        cab::CompressionType::None
    };
    for files in folders {
        let f = b.add_folder(ctype);
        for (name, _) in *files {
            f.add_file(*name);
        }
    }
    let mut w = b.build(Cursor::new(Vec::new())).unwrap();
    let all: Vec<&[u8]> = folders
        .iter()
        .flat_map(|f| f.iter().map(|(_, d)| *d))
        .collect();
    let mut i = 0;
    while let Some(mut fw) = w.next_file().unwrap() {
        fw.write_all(all[i]).unwrap();
        i += 1;
    }
    w.finish().unwrap().into_inner()
}

pub fn newc_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut all: Vec<(&str, &[u8], u32)> =
        entries.iter().map(|(n, d)| (*n, *d, 0o100644)).collect();
    all.insert(0, ("dir", b"", 0o040755));
    all.push(("TRAILER!!!", b"", 0));
    for (name, data, mode) in all {
        let fields = [
            1,
            mode,
            0,
            0,
            1,
            0,
            data.len() as u32,
            0,
            0,
            0,
            0,
            name.len() as u32 + 1,
            0,
        ];
        out.extend_from_slice(b"070701");
        for f in fields {
            out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
        out.extend_from_slice(data);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }
    out
}

/// A minimal RPM (lead, signature and main headers) around a payload.
pub fn rpm_of(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 96];
    out[..4].copy_from_slice(&[0xed, 0xab, 0xee, 0xdb]);
    out[4] = 3;
    for (count, size, pad) in [(1u32, 16u32, true), (1, 8, false)] {
        out.extend_from_slice(&[0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0]);
        out.extend_from_slice(&count.to_be_bytes());
        out.extend_from_slice(&size.to_be_bytes());
        out.extend_from_slice(&[0; 16]);
        out.extend(std::iter::repeat_n(0, size as usize));
        while pad && !out.len().is_multiple_of(8) {
            out.push(0);
        }
    }
    out.extend_from_slice(payload);
    out
}

/// A PE executable with one section and `overlay` appended after it.
pub fn pe_with_overlay(overlay: &[u8]) -> Vec<u8> {
    let section = 0x200;
    let mut d = vec![0u8; 0x200 + section];
    d[..2].copy_from_slice(b"MZ");
    d[0x3c] = 0x80;
    d[0x80..0x84].copy_from_slice(b"PE\0\0");
    d[0x86] = 1;
    d[0x94] = 0xe0;
    let s = 0x80 + 24 + 0xe0;
    d[s + 16..s + 20].copy_from_slice(&(section as u32).to_le_bytes());
    d[s + 20..s + 24].copy_from_slice(&0x200u32.to_le_bytes());
    d.extend_from_slice(overlay);
    d
}

/// A reader that returns short reads of pseudo-random length (tar-rs's
/// RandomReader idea), to shake out code that assumes full reads.
pub struct ShortReads<'a> {
    data: &'a [u8],
    state: u64,
}

impl<'a> ShortReads<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        ShortReads {
            data,
            state: 0x9e37_79b9_7f4a_7c15,
        }
    }
}

impl Read for ShortReads<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let want = (self.state % 37) as usize + 1;
        let n = want.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn crc_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    for (i, e) in t.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *e = c;
    }
    t
}

pub fn crc32(data: &[u8]) -> u32 {
    let t = crc_table();
    !data.iter().fold(!0u32, |c, b| {
        t[((c ^ u32::from(*b)) & 0xff) as usize] ^ (c >> 8)
    })
}

/// A zip of stored members encrypted with traditional PKWARE encryption
/// (ZipCrypto, APPNOTE 6.1), which the `zip` crate reads but no longer writes.
pub fn zipcrypto_zip(entries: &[(&str, &[u8])], password: &str) -> Vec<u8> {
    let t = crc_table();
    let upd = |c: u32, b: u8| t[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let crc = crc32(data);
        let mut k = [0x1234_5678u32, 0x2345_6789, 0x3456_7890];
        let update = |k: &mut [u32; 3], b: u8| {
            k[0] = upd(k[0], b);
            k[1] = (k[1].wrapping_add(k[0] & 0xff))
                .wrapping_mul(134_775_813)
                .wrapping_add(1);
            k[2] = upd(k[2], (k[1] >> 24) as u8);
        };
        for b in password.bytes() {
            update(&mut k, b);
        }
        let mut header = [0x5au8; 12];
        header[11] = (crc >> 24) as u8;
        let mut enc = Vec::new();
        for &b in header.iter().chain(data.iter()) {
            let temp = (k[2] | 2) & 0xffff;
            let ks = ((temp * (temp ^ 1)) >> 8) as u8;
            update(&mut k, b);
            enc.push(b ^ ks);
        }
        let offset = out.len() as u32;
        let fields = |sig: &[u8], central: bool| {
            let mut h = Vec::new();
            h.extend_from_slice(sig);
            if central {
                h.extend_from_slice(&20u16.to_le_bytes());
            }
            h.extend_from_slice(&20u16.to_le_bytes());
            h.extend_from_slice(&1u16.to_le_bytes()); // encrypted
            h.extend_from_slice(&0u16.to_le_bytes()); // stored
            h.extend_from_slice(&[0; 4]);
            h.extend_from_slice(&crc.to_le_bytes());
            h.extend_from_slice(&(enc.len() as u32).to_le_bytes());
            h.extend_from_slice(&(data.len() as u32).to_le_bytes());
            h.extend_from_slice(&(name.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes());
            if central {
                h.extend_from_slice(&[0; 10]);
                h.extend_from_slice(&offset.to_le_bytes());
            }
            h.extend_from_slice(name.as_bytes());
            h
        };
        out.extend(fields(b"PK\x03\x04", false));
        out.extend_from_slice(&enc);
        central.extend(fields(b"PK\x01\x02", true));
    }
    let cd_start = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}
