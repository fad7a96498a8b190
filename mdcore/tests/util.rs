//! Archive builders and helpers shared by the tests. Every fixture is built
//! here, at test time: nothing malicious is committed, only EICAR.

#![allow(dead_code)]

use std::io::{Cursor, Read, Write};

use mdcore::{Report, ResultCode, ScanOptions, Scanner, ScannerBuilder};

// Shared with mdserver's tests (included there by path).
#[path = "support/shared.rs"]
pub mod shared;
#[allow(unused_imports)]
pub use shared::{ole2_of, ovba_compress, tool, vba_project};

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

/// The MD5 of `data` in hex, as the report gives it.
pub fn md5_hex(data: &[u8]) -> String {
    scan(data, "x").root.md5
}

pub fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
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
    let mut all: Vec<(&str, &[u8], u32)> =
        entries.iter().map(|(n, d)| (*n, *d, 0o100644)).collect();
    all.insert(0, ("dir", b"", 0o040755));
    newc_raw(&all)
}

/// A newc cpio of (name, data, mode) entries as given, plus the trailer.
pub fn newc_raw(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut all = entries.to_vec();
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

/// Raw deflate (no zlib or gzip wrapper), as zip stores it.
pub fn deflate_raw(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// One member of a hand-built zip, with control over what each header says.
#[derive(Clone)]
pub struct Raw<'a> {
    pub name: &'a str,
    pub data: &'a [u8],
    /// 0 stored, 8 deflated; any other method needs `packed`.
    pub method: u16,
    /// Already-compressed bytes for `method` (the CRC is still of `data`).
    pub packed: Option<Vec<u8>>,
    /// Whether the central directory lists it.
    pub in_central: bool,
    /// What the central directory says instead of the local header.
    pub central_name: Option<&'a str>,
    pub central_method: Option<u16>,
    pub central_size: Option<u32>,
    /// Sizes and CRC after the data (flag bit 3), zeros in the local header.
    pub descriptor: bool,
}

impl<'a> Raw<'a> {
    pub fn new(name: &'a str, data: &'a [u8]) -> Self {
        Raw {
            name,
            data,
            method: 8,
            packed: None,
            in_central: true,
            central_name: None,
            central_method: None,
            central_size: None,
            descriptor: false,
        }
    }
}

/// A zip built byte by byte, so headers can lie; `disk` goes into the end
/// record's "number of this disk".
pub fn raw_zip(entries: &[Raw<'_>], disk: u16) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    let mut count = 0u16;
    for e in entries {
        let packed = match (&e.packed, e.method) {
            (Some(p), _) => p.clone(),
            (None, 0) => e.data.to_vec(),
            (None, 8) => deflate_raw(e.data),
            (None, m) => panic!("method {m} needs packed bytes"),
        };
        let crc = crc32(e.data);
        let at = out.len() as u32;
        let flags: u16 = if e.descriptor { 8 } else { 0 };
        let (lcrc, lcsize, lusize) = if e.descriptor {
            (0, 0, 0)
        } else {
            (crc, packed.len() as u32, e.data.len() as u32)
        };
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&e.method.to_le_bytes());
        out.extend_from_slice(&[0; 4]); // time, date
        out.extend_from_slice(&lcrc.to_le_bytes());
        out.extend_from_slice(&lcsize.to_le_bytes());
        out.extend_from_slice(&lusize.to_le_bytes());
        out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(e.name.as_bytes());
        out.extend_from_slice(&packed);
        if e.descriptor {
            out.extend_from_slice(b"PK\x07\x08");
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&(packed.len() as u32).to_le_bytes());
            out.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
        }
        if !e.in_central {
            continue;
        }
        count += 1;
        let name = e.central_name.unwrap_or(e.name);
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&flags.to_le_bytes());
        central.extend_from_slice(&e.central_method.unwrap_or(e.method).to_le_bytes());
        central.extend_from_slice(&[0; 4]);
        central.extend_from_slice(&crc.to_le_bytes());
        let csize = e.central_size.unwrap_or(packed.len() as u32);
        central.extend_from_slice(&csize.to_le_bytes());
        central.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
        central.extend_from_slice(&(name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attrs
        central.extend_from_slice(&0u32.to_le_bytes());
        central.extend_from_slice(&at.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_at = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&disk.to_le_bytes());
    out.extend_from_slice(&disk.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_at.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// `prefix` + `zip` with every offset in the zip moved by the prefix's
/// length, as `zip -A` does to a self-extractor.
pub fn prefixed_adjusted(prefix: &[u8], zip: &[u8]) -> Vec<u8> {
    let shift = prefix.len() as u32;
    let mut z = zip.to_vec();
    let eocd = z.windows(4).rposition(|w| w == b"PK\x05\x06").unwrap();
    let cd_size = u32::from_le_bytes(z[eocd + 12..eocd + 16].try_into().unwrap()) as usize;
    let cd_at = u32::from_le_bytes(z[eocd + 16..eocd + 20].try_into().unwrap());
    z[eocd + 16..eocd + 20].copy_from_slice(&(cd_at + shift).to_le_bytes());
    let mut pos = cd_at as usize;
    while pos < cd_at as usize + cd_size {
        assert_eq!(&z[pos..pos + 4], b"PK\x01\x02");
        let off = u32::from_le_bytes(z[pos + 42..pos + 46].try_into().unwrap());
        z[pos + 42..pos + 46].copy_from_slice(&(off + shift).to_le_bytes());
        let n = u16::from_le_bytes([z[pos + 28], z[pos + 29]]) as usize;
        let m = u16::from_le_bytes([z[pos + 30], z[pos + 31]]) as usize;
        let k = u16::from_le_bytes([z[pos + 32], z[pos + 33]]) as usize;
        pos += 46 + n + m + k;
    }
    let mut out = prefix.to_vec();
    out.extend_from_slice(&z);
    out
}

/// A PNG image (8x8, grey gradient), valid for any decoder.
pub fn png_image() -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], body: &[u8]) {
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        let mut c = kind.to_vec();
        c.extend_from_slice(body);
        out.extend_from_slice(&c);
        out.extend_from_slice(&crc32(&c).to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&8u32.to_be_bytes());
    ihdr.extend_from_slice(&8u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit greyscale
    chunk(&mut out, b"IHDR", &ihdr);
    let raw: Vec<u8> = (0..8u8)
        .flat_map(|y| std::iter::once(0).chain((0..8u8).map(move |x| x * 16 + y * 2)))
        .collect();
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw).unwrap();
    chunk(&mut out, b"IDAT", &z.finish().unwrap());
    chunk(&mut out, b"IEND", b"");
    out
}

/// A GIF image (2x2, two colours), valid for any decoder.
pub fn gif_image() -> Vec<u8> {
    let mut g = b"GIF89a".to_vec();
    g.extend_from_slice(&[2, 0, 2, 0, 0x80, 0, 0]); // 2x2, global table of 2
    g.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
    g.extend_from_slice(&[0x2c, 0, 0, 0, 0, 2, 0, 2, 0, 0]);
    // LZW min code size 2; codes: clear, 0, 1, 1, 0, end.
    g.extend_from_slice(&[2, 2, 0x44, 0x01, 0]);
    g.push(0x3b);
    g
}

/// A one-page PDF with text and a deflated content stream.
pub fn pdf_document() -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(b"BT /F1 12 Tf 72 720 Td (Quarterly report) Tj ET")
        .unwrap();
    let content = z.finish().unwrap();
    pdf_of(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
        pdf_stream("/Filter /FlateDecode", &content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
    ])
}

/// A PDF of these objects (numbered from 1; the first is the catalog), with
/// a correct xref table.
pub fn pdf_of(objs: &[Vec<u8>]) -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objs.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        pdf.extend_from_slice(body);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1).as_bytes());
    for o in offsets {
        pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objs.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// A PDF stream object: the dictionary entries, then the data.
pub fn pdf_stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut s = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    s.extend_from_slice(data);
    s.extend_from_slice(b"\nendstream");
    s
}

/// A PDF whose EmbeddedFiles name tree holds `name` with these bytes
/// (FlateDecode), and whose open action runs `js`.
pub fn pdf_with_attachment(name: &str, data: &[u8], js: &str) -> Vec<u8> {
    pdf_of(&[
        format!("<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles 4 0 R >> /OpenAction << /S /JavaScript /JS ({js}) >> >>").into_bytes(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>".to_vec(),
        format!("<< /Names [({name}) 5 0 R] >>").into_bytes(),
        format!("<< /Type /Filespec /F ({name}) /UF ({name}) /EF << /F 6 0 R >> >>").into_bytes(),
        pdf_stream("/Type /EmbeddedFile /Filter /FlateDecode", &zlib(data)),
    ])
}

/// A minimal Word document (OOXML) without macros.
pub fn docx_document() -> Vec<u8> {
    zip_of(&[
        (
            "[Content_Types].xml",
            br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#,
        ),
        (
            "_rels/.rels",
            br#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#,
        ),
        (
            "word/document.xml",
            br#"<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Hello</w:t></w:r></w:p></w:body></w:document>"#,
        ),
    ])
}

/// Deterministic pseudo-random bytes.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A Word 97 FIB header (the start of a `WordDocument` stream), with the
/// fEncrypted flag set or not.
pub fn word_fib(encrypted: bool) -> Vec<u8> {
    let mut fib = vec![0u8; 64];
    fib[0..2].copy_from_slice(&0xa5ecu16.to_le_bytes());
    fib[2..4].copy_from_slice(&0x00c1u16.to_le_bytes());
    if encrypted {
        fib[0x0a..0x0c].copy_from_slice(&0x0100u16.to_le_bytes());
    }
    fib
}

/// An OLE Package object stream (`\x01Ole10Native`) carrying `data`.
pub fn ole10native(label: &str, data: &[u8]) -> Vec<u8> {
    let mut p = vec![2u8, 0];
    p.extend_from_slice(label.as_bytes());
    p.push(0);
    p.extend_from_slice(format!("C:\\Users\\x\\{label}\0").as_bytes());
    p.extend_from_slice(&[0, 0, 3, 0]);
    let tmp = format!("C:\\Temp\\{label}\0");
    p.extend_from_slice(&(tmp.len() as u32).to_le_bytes());
    p.extend_from_slice(tmp.as_bytes());
    p.extend_from_slice(&(data.len() as u32).to_le_bytes());
    p.extend_from_slice(data);
    let mut out = (p.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&p);
    out
}

/// Standard base64 with padding, in lines of 76 characters.
pub fn b64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (i, c) in data.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            out.push_str("\r\n");
        }
        let v = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                out.push(A[((v >> (18 - 6 * k)) & 0x3f) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A writer for OneNote's alternative packaging ([MS-ONESTORE] 2.8), an
/// FSSHTTPB data element package ([MS-FSSHTTPB] 2.2.1), written from the
/// specifications: no tool on Debian writes one. Stream objects take the
/// 16-bit header when type and length fit, else the 32-bit one (with a
/// compact length from 0x7fff bytes up), as the specification asks.
pub mod fsshttpb {
    /// A compact unsigned 64-bit integer in its smallest form.
    pub fn compact(v: u64) -> Vec<u8> {
        if v == 0 {
            return vec![0];
        }
        for width in 1..=7u32 {
            if v < 1u64 << (7 * width) {
                let raw = (v << width) | (1 << (width - 1));
                return raw.to_le_bytes()[..width as usize].to_vec();
            }
        }
        let mut out = vec![0x80];
        out.extend_from_slice(&v.to_le_bytes());
        out
    }

    /// An extended GUID with a 5-bit value.
    pub fn exguid(guid: [u8; 16], value: u8) -> Vec<u8> {
        assert!(value < 32);
        let mut out = vec![(value << 3) | 4];
        out.extend_from_slice(&guid);
        out
    }

    fn start(ty: u16, compound: bool, len: usize) -> Vec<u8> {
        let c = u32::from(compound) << 2;
        if ty <= 0x3f && len <= 127 {
            let v = (u32::from(ty) << 3) | c | ((len as u32) << 9);
            return (v as u16).to_le_bytes().to_vec();
        }
        let short = len.min(0x7fff) as u32;
        let mut out = (2 | c | (u32::from(ty) << 3) | (short << 17))
            .to_le_bytes()
            .to_vec();
        if len >= 0x7fff {
            out.extend(compact(len as u64));
        }
        out
    }

    fn end(ty: u16) -> Vec<u8> {
        if ty <= 0x3f {
            vec![((ty as u8) << 2) | 1]
        } else {
            ((ty << 2) | 3).to_le_bytes().to_vec()
        }
    }

    /// A stream object without children.
    pub fn leaf(ty: u16, own: &[u8]) -> Vec<u8> {
        let mut out = start(ty, false, own.len());
        out.extend_from_slice(own);
        out
    }

    /// A compound stream object: own fields, children, end marker.
    pub fn compound(ty: u16, own: &[u8], children: &[Vec<u8>]) -> Vec<u8> {
        let mut out = start(ty, true, own.len());
        out.extend_from_slice(own);
        for c in children {
            out.extend_from_slice(c);
        }
        out.extend(end(ty));
        out
    }

    /// A data element of `kind` (1 storage index, 5 object group, 6
    /// fragment, 0x0a object data BLOB, ...) with a null serial number.
    pub fn element(id: u8, kind: u64, children: &[Vec<u8>]) -> Vec<u8> {
        let mut own = exguid([id; 16], id % 32);
        own.push(0);
        own.extend(compact(kind));
        compound(0x01, &own, children)
    }

    fn binary(data: &[u8]) -> Vec<u8> {
        let mut out = compact(data.len() as u64);
        out.extend_from_slice(data);
        out
    }

    /// An object data BLOB data element holding `data`.
    pub fn blob_element(id: u8, data: &[u8]) -> Vec<u8> {
        element(id, 0x0a, &[leaf(0x02, &binary(data))])
    }

    /// An object group data element: one object declared and stored
    /// inline (a property set, in OneNote) and one BLOB reference.
    pub fn object_group(id: u8, blob_id: u8) -> Vec<u8> {
        let mut decl = exguid([0x31; 16], 1);
        decl.extend(compact(1)); // partition
        decl.extend(compact(12)); // data size
        decl.extend(compact(0));
        decl.extend(compact(0));
        let mut blob_decl = exguid([0x32; 16], 2);
        blob_decl.extend(exguid([blob_id; 16], blob_id % 32));
        blob_decl.extend(compact(1));
        blob_decl.extend(compact(0));
        blob_decl.extend(compact(0));
        let declarations = compound(0x1d, &[], &[leaf(0x18, &decl), leaf(0x05, &blob_decl)]);
        let mut object = compact(0); // no referenced objects
        object.extend(compact(0)); // no referenced cells
        object.extend(binary(b"property set"));
        let mut reference = compact(0);
        reference.extend(compact(0));
        reference.extend(exguid([blob_id; 16], blob_id % 32));
        let data = compound(0x1e, &[], &[leaf(0x16, &object), leaf(0x1c, &reference)]);
        element(id, 0x05, &[declarations, data])
    }

    /// A storage index data element with one cell mapping.
    pub fn storage_index(id: u8) -> Vec<u8> {
        let mut mapping = vec![0]; // a null cell ID: two null ExGUIDs
        mapping.push(0);
        mapping.extend(exguid([0x41; 16], 3));
        mapping.push(0); // null serial number
        element(id, 0x01, &[leaf(0x0e, &mapping)])
    }

    /// `whole` (a serialized data element) as fragment data elements of
    /// at most `piece` bytes each; `skip` leaves one fragment out.
    pub fn fragments(
        first_id: u8,
        whole: &[u8],
        piece: usize,
        skip: Option<usize>,
    ) -> Vec<Vec<u8>> {
        whole
            .chunks(piece)
            .enumerate()
            .filter(|(i, _)| Some(*i) != skip)
            .map(|(i, chunk)| {
                let mut own = exguid([0x77; 16], 7);
                own.extend(compact(whole.len() as u64));
                own.extend(compact((i * piece) as u64));
                own.extend(compact(chunk.len() as u64));
                own.extend_from_slice(chunk);
                element(first_id + i as u8, 0x06, &[leaf(0x6a, &own)])
            })
            .collect()
    }

    /// A whole packaged section: the four header GUIDs (OneNote section,
    /// file, null legacy version, packaging format), padding, then the
    /// packaging object around the data element package.
    pub fn section(elements: &[Vec<u8>]) -> Vec<u8> {
        let mut out = vec![
            0xe4, 0x52, 0x5c, 0x7b, 0x8c, 0xd8, 0xa7, 0x4d, 0xae, 0xb1, 0x53, 0x78, 0xd0, 0x29,
            0x96, 0xd3,
        ];
        out.extend_from_slice(&[0x5a; 16]);
        out.extend_from_slice(&[0; 16]);
        out.extend_from_slice(&[
            0x2f, 0xe9, 0x8d, 0x63, 0xd4, 0xa6, 0xc1, 0x4b, 0x9a, 0x36, 0xb3, 0xfc, 0x25, 0x11,
            0xa5, 0xb7,
        ]);
        out.extend_from_slice(&[0; 4]);
        let mut own = exguid([0x51; 16], 1);
        own.extend_from_slice(&[0x52; 16]); // cell schema GUID
        let package = compound(0x15, &[0], elements);
        out.extend(compound(0x7a, &own, &[package]));
        out
    }
}

/// A stored (method 0) RAR 4 (RAR 2.9 format) archive.
pub fn rar4_stored(files: &[(&str, &[u8])]) -> Vec<u8> {
    fn block(kind: u8, flags: u16, body: &[u8]) -> Vec<u8> {
        let mut h = vec![kind];
        h.extend_from_slice(&flags.to_le_bytes());
        h.extend_from_slice(&((7 + body.len()) as u16).to_le_bytes());
        h.extend_from_slice(body);
        let mut out = ((crc32(&h) & 0xffff) as u16).to_le_bytes().to_vec();
        out.extend_from_slice(&h);
        out
    }
    let mut out = b"Rar!\x1a\x07\x00".to_vec();
    out.extend(block(0x73, 0, &[0; 6]));
    for (name, data) in files {
        let mut b = Vec::new();
        b.extend_from_slice(&(data.len() as u32).to_le_bytes()); // packed
        b.extend_from_slice(&(data.len() as u32).to_le_bytes()); // unpacked
        b.push(3); // Unix
        b.extend_from_slice(&crc32(data).to_le_bytes());
        b.extend_from_slice(&0x5a8e_3100u32.to_le_bytes()); // DOS time
        b.push(20); // version to unpack
        b.push(0x30); // store
        b.extend_from_slice(&(name.len() as u16).to_le_bytes());
        b.extend_from_slice(&0o100644u32.to_le_bytes());
        b.extend_from_slice(name.as_bytes());
        out.extend(block(0x74, 0x8000, &b));
        out.extend_from_slice(data);
    }
    out.extend(block(0x7b, 0x4000, &[]));
    out
}

pub fn rar_vint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

/// A stored (method 0) RAR 5 archive.
pub fn rar5_stored(files: &[(&str, &[u8])]) -> Vec<u8> {
    rar5_with(files, 0)
}

/// A RAR 5 archive whose file headers carry `compression` as their
/// compression information (method, dictionary), the data left as given.
pub fn rar5_with(files: &[(&str, &[u8])], compression: u64) -> Vec<u8> {
    fn block(fields: &[u8]) -> Vec<u8> {
        let mut h = rar_vint(fields.len() as u64);
        h.extend_from_slice(fields);
        let mut out = crc32(&h).to_le_bytes().to_vec();
        out.extend_from_slice(&h);
        out
    }
    let mut out = b"Rar!\x1a\x07\x01\x00".to_vec();
    out.extend(block(&[1, 0, 0])); // main header, no flags
    for (name, data) in files {
        let mut f = vec![2, 2]; // file header, with a data area
        f.extend(rar_vint(data.len() as u64));
        f.push(4); // file flags: CRC32 present
        f.extend(rar_vint(data.len() as u64));
        f.extend(rar_vint(0o100644));
        f.extend_from_slice(&crc32(data).to_le_bytes());
        f.extend(rar_vint(compression));
        f.push(1); // Unix
        f.extend(rar_vint(name.len() as u64));
        f.extend_from_slice(name.as_bytes());
        out.extend(block(&f));
        out.extend_from_slice(data);
    }
    out.extend(block(&[5, 0, 0])); // end of archive
    out
}

/// Every node of a report: its path, own code and notes (for assertion
/// messages).
pub fn summary(r: &mdcore::Report) -> Vec<(String, mdcore::ResultCode, Vec<String>)> {
    r.root
        .iter()
        .map(|n| (n.display_name.clone(), n.own_result_i, n.notes.clone()))
        .collect()
}

/// A scanner whose hash list (and no other engine change) names `payload`
/// as `Test.Planted`.
pub fn hash_listed(payload: &[u8]) -> Scanner {
    // No tempfile crate here: this file is also compiled into the benches
    // library, which does not depend on it.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let hdb = std::env::temp_dir().join(format!("mdscan-planted-{}-{n}.hdb", std::process::id()));
    std::fs::write(
        &hdb,
        format!("{}:{}:Test.Planted\n", md5_hex(payload), payload.len()),
    )
    .unwrap();
    let scanner = mdcore::ScannerBuilder::new().hash_list(&hdb).build();
    let _ = std::fs::remove_file(&hdb);
    scanner.unwrap()
}

/// Big-endian base-128 (CHM's ENCINT).
fn chm_encint(mut v: u64) -> Vec<u8> {
    let mut out = vec![(v & 0x7f) as u8];
    v >>= 7;
    while v > 0 {
        out.insert(0, 0x80 | (v & 0x7f) as u8);
        v >>= 7;
    }
    out
}

/// Bits written MSB-first into 16-bit little-endian words (LZX's order).
struct LzxBits {
    out: Vec<u8>,
    word: u16,
    n: u32,
}

impl LzxBits {
    fn put(&mut self, value: u32, bits: u32) {
        for i in (0..bits).rev() {
            self.word = (self.word << 1) | ((value >> i) & 1) as u16;
            self.n += 1;
            if self.n == 16 {
                self.out.extend_from_slice(&self.word.to_le_bytes());
                (self.word, self.n) = (0, 0);
            }
        }
    }

    /// Pads to the next 16-bit boundary (the end of a frame).
    fn align(&mut self) {
        if self.n > 0 {
            self.put(0, 16 - self.n);
        }
    }
}

/// An LZX stream (64 KiB window) of verbatim blocks holding literals only,
/// one block per 32 KiB frame (the last padded), the decoder reset (and the E8 header bit,
/// off, written again) every `reset_frames` frames: what a compressor
/// that finds no matches writes. Every literal has an 8-bit code (its own
/// value); the match symbols none; the length tree two unused 1-bit codes.
/// Tree lengths go through a pretree of three codes ('0': the length
/// unchanged or 0 from 0, '10': 0 -> 8, '11': 0 -> 1). Returns the stream
/// and each frame's offset.
pub fn lzx_literals(data: &[u8], reset_frames: usize) -> (Vec<u8>, Vec<u64>) {
    lzx_literal_frames(data, reset_frames, true, None)
}

/// [`lzx_literals`], the last frame padded to 32 KiB (CHM) or not (CAB,
/// whose data blocks say how much each frame holds).
/// With `e8` set, the stream's header turns E8 call translation on with
/// that translation size: `data` is then what the compressor stores (the
/// decoder translates its E8 operands back).
fn lzx_literal_frames(
    data: &[u8],
    reset_frames: usize,
    whole: bool,
    e8: Option<u32>,
) -> (Vec<u8>, Vec<u64>) {
    const MATCH_SYMBOLS: usize = 8 * 32; // 32 position slots for a 64 KiB window
    let mut w = LzxBits {
        out: Vec::new(),
        word: 0,
        n: 0,
    };
    let mut offsets = Vec::new();
    let pretree = |w: &mut LzxBits| {
        for sym in 0..20 {
            let len = match sym {
                0 => 1,
                9 | 16 => 2,
                _ => 0,
            };
            w.put(len, 4);
        }
    };
    // Every frame is a whole 32 KiB, the last one padded with zeros, as
    // HTML Help Workshop and halibut write it (chmlib and 7-Zip decode
    // whole frames and fail on a short one).
    let mut padded = data.to_vec();
    if whole {
        padded.resize(data.len().div_ceil(0x8000) * 0x8000, 0);
    }
    for (k, frame) in padded.chunks(0x8000).enumerate() {
        offsets.push(w.out.len() as u64);
        let fresh = k % reset_frames == 0;
        if fresh {
            match e8 {
                None => w.put(0, 1), // no E8 translation
                Some(size) => {
                    w.put(1, 1);
                    w.put(size >> 16, 16);
                    w.put(size & 0xffff, 16);
                }
            }
        }
        w.put(1, 3); // verbatim block
        w.put(frame.len() as u32, 24);
        // Main tree, literals: 8 bits each (from 0: pretree symbol 9,
        // '10'; unchanged: symbol 0, '0').
        pretree(&mut w);
        for _ in 0..256 {
            if fresh { w.put(0b10, 2) } else { w.put(0, 1) }
        }
        // Main tree, match symbols: none.
        pretree(&mut w);
        for _ in 0..MATCH_SYMBOLS {
            w.put(0, 1);
        }
        // Length tree: symbols 0 and 1 at 1 bit (from 0: symbol 16, '11').
        pretree(&mut w);
        for i in 0..249 {
            if i < 2 && fresh {
                w.put(0b11, 2)
            } else {
                w.put(0, 1)
            }
        }
        for &b in frame {
            w.put(u32::from(b), 8);
        }
        w.align();
    }
    (w.out, offsets)
}

/// A CHM (ITSF version 3) written by hand from the published layout, the
/// way HTML Help Workshop lays it out: `stored` files in content section 0,
/// `compressed` ones in section 1, an LZX stream ([`lzx_literals`],
/// decoder reset every `reset_frames` frames) located by a reset table. Hand-built because no Debian tool writes a CHM holding
/// chosen bytes (halibut writes only its own pages).
pub fn chm(stored: &[(&str, &[u8])], compressed: &[(&str, &[u8])], reset_frames: usize) -> Vec<u8> {
    let mut section1 = Vec::new();
    let mut entries: Vec<(String, u64, u64, u64)> = vec![("/".into(), 0, 0, 0)];
    for (name, data) in compressed {
        entries.push((
            format!("/{name}"),
            1,
            section1.len() as u64,
            data.len() as u64,
        ));
        section1.extend_from_slice(data);
    }
    let (stream, frames) = lzx_literals(&section1, reset_frames);
    let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    let mut name_list = Vec::new();
    name_list.extend_from_slice(&2u16.to_le_bytes());
    for n in ["Uncompressed", "MSCompressed"] {
        name_list.extend_from_slice(&(n.len() as u16).to_le_bytes());
        name_list.extend(utf16(n));
        name_list.extend_from_slice(&[0, 0]);
    }
    let mut name_list_full = ((name_list.len() as u16 + 2) / 2).to_le_bytes().to_vec();
    name_list_full.extend(name_list);
    let mut control = Vec::new();
    for v in [
        6u32,
        u32::from_le_bytes(*b"LZXC"),
        2,
        reset_frames as u32,
        2,
        1,
        0,
    ] {
        control.extend_from_slice(&v.to_le_bytes());
    }
    let mut table = Vec::new();
    for v in [2u32, frames.len() as u32, 8, 0x28] {
        table.extend_from_slice(&v.to_le_bytes());
    }
    for v in [section1.len() as u64, stream.len() as u64, 0x8000] {
        table.extend_from_slice(&v.to_le_bytes());
    }
    for f in &frames {
        table.extend_from_slice(&f.to_le_bytes());
    }
    let mut files: Vec<(String, Vec<u8>)> = stored
        .iter()
        .map(|(n, d)| (format!("/{n}"), d.to_vec()))
        .collect();
    files.push(("::DataSpace/NameList".into(), name_list_full));
    files.push(("::DataSpace/Storage/MSCompressed/Content".into(), stream));
    files.push((
        "::DataSpace/Storage/MSCompressed/ControlData".into(),
        control,
    ));
    files.push((
        "::DataSpace/Storage/MSCompressed/SpanInfo".into(),
        (section1.len() as u64).to_le_bytes().to_vec(),
    ));
    files.push((
        "::DataSpace/Storage/MSCompressed/Transform/List".into(),
        utf16("{7FC28940-9D31-11D0-9B27-00A0C91E9C7C}"),
    ));
    files.push((
        "::DataSpace/Storage/MSCompressed/Transform/{7FC28940-9D31-11D0-9B27-00A0C91E9C7C}/InstanceData/ResetTable".into(),
        table,
    ));
    let mut section0 = Vec::new();
    for (name, data) in &files {
        entries.push((name.clone(), 0, section0.len() as u64, data.len() as u64));
        section0.extend_from_slice(data);
    }
    entries.sort_by_key(|e| e.0.to_lowercase());

    const CHUNK: usize = 0x1000;
    let mut chunk = b"PMGL".to_vec();
    chunk.extend_from_slice(&[0; 4]); // free space, set below
    chunk.extend_from_slice(&0u32.to_le_bytes());
    chunk.extend_from_slice(&(-1i32).to_le_bytes());
    chunk.extend_from_slice(&(-1i32).to_le_bytes());
    for (name, section, offset, length) in &entries {
        chunk.extend(chm_encint(name.len() as u64));
        chunk.extend_from_slice(name.as_bytes());
        chunk.extend(chm_encint(*section));
        chunk.extend(chm_encint(*offset));
        chunk.extend(chm_encint(*length));
    }
    assert!(chunk.len() + 2 <= CHUNK, "directory does not fit one chunk");
    let free = (CHUNK - chunk.len()) as u32;
    chunk[4..8].copy_from_slice(&free.to_le_bytes());
    chunk.resize(CHUNK - 2, 0);
    chunk.extend_from_slice(&(entries.len() as u16).to_le_bytes());

    let mut itsp = b"ITSP".to_vec();
    for v in [1u32, 0x54, 0x0a, CHUNK as u32, 2, 1] {
        itsp.extend_from_slice(&v.to_le_bytes());
    }
    for v in [-1i32, 0, 0, -1, 1] {
        itsp.extend_from_slice(&v.to_le_bytes());
    }
    itsp.extend_from_slice(&0x409u32.to_le_bytes());
    itsp.extend_from_slice(&[
        0x6a, 0x92, 0x02, 0x5d, 0x2e, 0x21, 0xd0, 0x11, 0x9d, 0xf9, 0x00, 0xa0, 0xc9, 0x22, 0xe6,
        0xec,
    ]);
    itsp.extend_from_slice(&0x54u32.to_le_bytes());
    for _ in 0..3 {
        itsp.extend_from_slice(&(-1i32).to_le_bytes());
    }
    assert_eq!(itsp.len(), 0x54);

    let dir_len = (itsp.len() + CHUNK) as u64;
    let content = 0x78 + dir_len;
    let total = content + section0.len() as u64;
    let mut out = b"ITSF".to_vec();
    for v in [3u32, 0x60, 1, 0x7856_3412, 0x409] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&[
        0x10, 0xfd, 0x01, 0x7c, 0xaa, 0x7b, 0xd0, 0x11, 0x9e, 0x0c, 0x00, 0xa0, 0xc9, 0x22, 0xe6,
        0xec,
    ]);
    out.extend_from_slice(&[
        0x11, 0xfd, 0x01, 0x7c, 0xaa, 0x7b, 0xd0, 0x11, 0x9e, 0x0c, 0x00, 0xa0, 0xc9, 0x22, 0xe6,
        0xec,
    ]);
    for v in [0x60u64, 0x18, 0x78, dir_len, content] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    // Header section 0: the file's length.
    out.extend_from_slice(&0x1feu32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    assert_eq!(out.len(), 0x78);
    out.extend(itsp);
    out.extend(chunk);
    out.extend(section0);
    out
}

/// A cabinet of one LZX folder (64 KiB window) holding `files`, one data
/// block per 32 KiB frame, written by hand ([`lzx_literals`]' frames):
/// neither the `cab` crate nor gcab writes LZX.
pub fn cab_lzx(files: &[(&str, &[u8])]) -> Vec<u8> {
    cab_lzx_e8(files, None)
}

/// [`cab_lzx`], E8 call translation on with this translation size when
/// `e8` is set (the files' bytes are then the compressor's, translated).
pub fn cab_lzx_e8(files: &[(&str, &[u8])], e8: Option<u32>) -> Vec<u8> {
    let all: Vec<u8> = files.iter().flat_map(|(_, d)| d.iter().copied()).collect();
    let (stream, offsets) = lzx_literal_frames(&all, usize::MAX, false, e8);
    let mut ends = offsets[1..].to_vec();
    ends.push(stream.len() as u64);
    let names_len: usize = files.iter().map(|(n, _)| 16 + n.len() + 1).sum();
    let first_file = 36 + 8;
    let first_data = first_file + names_len;
    let mut blocks = Vec::new();
    for (k, (&start, &end)) in offsets.iter().zip(&ends).enumerate() {
        let chunk = &stream[start as usize..end as usize];
        let unpacked = (all.len() - k * 0x8000).min(0x8000);
        blocks.extend_from_slice(&0u32.to_le_bytes()); // no checksum
        blocks.extend_from_slice(&(chunk.len() as u16).to_le_bytes());
        blocks.extend_from_slice(&(unpacked as u16).to_le_bytes());
        blocks.extend_from_slice(chunk);
    }
    let total = first_data + blocks.len();
    let mut out = b"MSCF".to_vec();
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(first_file as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&[3, 1]); // version 1.3
    out.extend_from_slice(&1u16.to_le_bytes()); // folders
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&[0; 6]); // flags, set id, cabinet index
    out.extend_from_slice(&(first_data as u32).to_le_bytes());
    out.extend_from_slice(&(offsets.len() as u16).to_le_bytes());
    out.extend_from_slice(&(3u16 | (16 << 8)).to_le_bytes()); // LZX, 2^16 window
    let mut at = 0u32;
    for (name, data) in files {
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&at.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // folder 0
        out.extend_from_slice(&0x5a21u16.to_le_bytes()); // 2025-01-01
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&0x20u16.to_le_bytes()); // archive bit
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        at += data.len() as u32;
    }
    assert_eq!(out.len(), first_data);
    out.extend(blocks);
    out
}

/// An ALZip archive written by hand from its layout (no Debian tool writes
/// ALZ; unalz reads it): `(name, data, method)` entries, 0 stored or 2 raw
/// deflate, 4-byte size fields, encrypted with PKWARE's cipher when a
/// password is given (12-byte header, check byte = CRC's high byte).
pub fn alz_of(entries: &[(&str, &[u8], u8)], password: Option<&str>) -> Vec<u8> {
    let t = crc_table();
    let upd = |c: u32, b: u8| t[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    let mut out = b"ALZ\x01\x0a\0\0\0".to_vec();
    for (name, data, method) in entries {
        let crc = crc32(data);
        let mut packed = match method {
            0 => data.to_vec(),
            2 => deflate_raw(data),
            m => panic!("method {m}"),
        };
        if let Some(pw) = password {
            let mut k = [0x1234_5678u32, 0x2345_6789, 0x3456_7890];
            let update = |k: &mut [u32; 3], b: u8| {
                k[0] = upd(k[0], b);
                k[1] = (k[1].wrapping_add(k[0] & 0xff))
                    .wrapping_mul(134_775_813)
                    .wrapping_add(1);
                k[2] = upd(k[2], (k[1] >> 24) as u8);
            };
            for b in pw.bytes() {
                update(&mut k, b);
            }
            let mut header = [0x5au8; 12];
            header[11] = (crc >> 24) as u8;
            let mut enc = Vec::new();
            for &b in header.iter().chain(packed.iter()) {
                let temp = (k[2] | 2) & 0xffff;
                let ks = ((temp * (temp ^ 1)) >> 8) as u8;
                update(&mut k, b);
                enc.push(b ^ ks);
            }
            packed = enc;
        }
        let extra = if password.is_some() { 12 } else { 0 };
        out.extend_from_slice(b"BLZ\x01");
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.push(0x20); // archive attribute
        out.extend_from_slice(&0x5a21_0000u32.to_le_bytes());
        out.push(0x40 | u8::from(password.is_some())); // 4-byte sizes, encrypted
        out.push(0);
        out.push(*method);
        out.push(0);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&((packed.len() - extra) as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&packed);
    }
    out.extend_from_slice(b"CLZ\x01");
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(b"CLZ\x02");
    out
}

/// MT19937's 32-bit outputs (the reference generator; EA05's keystream
/// takes bits 1..9 of each).
fn mt19937(seed: u32, n: usize) -> Vec<u32> {
    let mut s = vec![0u32; 624];
    s[0] = seed;
    for i in 1..624 {
        s[i] = 1_812_433_253u32
            .wrapping_mul(s[i - 1] ^ (s[i - 1] >> 30))
            .wrapping_add(i as u32);
    }
    let mut out = Vec::with_capacity(n);
    let mut i = 624;
    while out.len() < n {
        if i == 624 {
            for k in 0..624 {
                let y = (s[k] & 0x8000_0000) | (s[(k + 1) % 624] & 0x7fff_ffff);
                s[k] = s[(k + 397) % 624] ^ (y >> 1) ^ if y & 1 == 1 { 0x9908_b0df } else { 0 };
            }
            i = 0;
        }
        let mut y = s[i];
        i += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        out.push(y);
    }
    out
}

/// AutoIt's keystreams: MT19937 (EA05) or "LAME" (EA06), XORed in.
fn au3_crypt(version: u8, seed: u32, data: &[u8]) -> Vec<u8> {
    if version == 5 {
        let k = mt19937(seed, data.len());
        return data
            .iter()
            .zip(k)
            .map(|(b, k)| b ^ (k >> 1) as u8)
            .collect();
    }
    let mut s = [0u32; 17];
    let mut x = seed;
    for w in &mut s {
        x = 1u32.wrapping_sub(x.wrapping_mul(0x53A9_B4FB));
        *w = x;
    }
    let (mut a, mut b) = (0usize, 10usize);
    let mut step = |s: &mut [u32; 17]| {
        let r = s[a].rotate_left(9).wrapping_add(s[b].rotate_left(13));
        s[a] = r;
        a = (a + 16) % 17;
        b = (b + 16) % 17;
        r
    };
    for _ in 0..9 {
        step(&mut s);
    }
    data.iter()
        .map(|d| {
            step(&mut s);
            d ^ (step(&mut s) >> 24) as u8
        })
        .collect()
}

pub fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for d in data {
        a = (a + u32::from(*d)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

/// AutoIt's LZSS as its compiler writes it (`EA05`/`EA06` marker, size,
/// MSB-first bits): a greedy matcher over the last 4 KiB, lengths 3..=298.
pub fn au3_compress(version: u8, data: &[u8]) -> Vec<u8> {
    let literal = u32::from(version != 5);
    let mut out = format!("EA0{version}").into_bytes();
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut bits: Vec<bool> = Vec::new();
    let put = |v: u32, n: u32, bits: &mut Vec<bool>| {
        for i in (0..n).rev() {
            bits.push((v >> i) & 1 == 1);
        }
    };
    let mut i = 0;
    while i < data.len() {
        let mut best = (0usize, 0usize);
        for d in 1..=i.min(4096) {
            let mut l = 0;
            while i + l < data.len() && l < 298 && data[i + l - d] == data[i + l] {
                l += 1;
            }
            if l > best.1 {
                best = (d, l);
            }
        }
        if best.1 < 3 {
            put(literal, 1, &mut bits);
            put(u32::from(data[i]), 8, &mut bits);
            i += 1;
            continue;
        }
        let (d, l) = best;
        put(literal ^ 1, 1, &mut bits);
        put(d as u32, 15, &mut bits);
        let mut rest = l as u32 - 3;
        for (span, n, all) in [(3u32, 2u32, 3u32), (7, 3, 7), (31, 5, 31), (255, 8, 255)] {
            if rest < span {
                put(rest, n, &mut bits);
                break;
            }
            put(all, n, &mut bits);
            rest -= span;
        }
        i += l;
    }
    for chunk in bits.chunks(8) {
        let mut byte = 0u8;
        for (k, bit) in chunk.iter().enumerate() {
            byte |= u8::from(*bit) << (7 - k);
        }
        out.push(byte);
    }
    out
}

/// One entry of a compiled AutoIt script: its type string (the script's
/// marker, or a `FileInstall` source path), name, data, and whether the
/// data is compressed.
pub struct Au3Entry<'a> {
    pub kind: &'a str,
    pub name: &'a str,
    pub data: &'a [u8],
    pub compress: bool,
}

/// A compiled AutoIt script (EA05 or EA06) as the compiler stores it in
/// the executable: GUID, `AU3!EA0x`, 16 key bytes, then the entries.
pub fn autoit_of(version: u8, entries: &[Au3Entry<'_>]) -> Vec<u8> {
    // EA05's and EA06's keys.
    let (file, kind, name, size, crc, content) = if version == 5 {
        (
            0x16FA,
            (0x29BC, 0xA25E),
            (0x29AC, 0xF25E),
            0x45AA,
            0xC3D2,
            0x22AF,
        )
    } else {
        (
            0x18EE,
            (0xADBC, 0xB33F),
            (0xF820, 0xF479),
            0x87BC,
            0xA685,
            0x2477,
        )
    };
    let mut out = vec![
        0xa3, 0x48, 0x4b, 0xbe, 0x98, 0x6c, 0x4a, 0xa9, 0x99, 0x4c, 0x53, 0x0a, 0x86, 0xd6, 0x48,
        0x7d,
    ];
    out.extend_from_slice(format!("AU3!EA0{version}").as_bytes());
    let key_bytes = [0x11u8; 16];
    out.extend_from_slice(&key_bytes);
    let checksum: u32 = if version == 5 { 16 * 0x11 } else { 0 };
    let string = |s: &str, keys: (u32, u32), out: &mut Vec<u8>| {
        let (len, raw) = if version == 5 {
            (s.len() as u32, s.as_bytes().to_vec())
        } else {
            let units: Vec<u8> = s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
            (s.encode_utf16().count() as u32, units)
        };
        out.extend_from_slice(&(len ^ keys.0).to_le_bytes());
        out.extend(au3_crypt(version, len.wrapping_add(keys.1), &raw));
    };
    for e in entries {
        out.extend(au3_crypt(version, file, b"FILE"));
        string(e.kind, kind, &mut out);
        string(e.name, name, &mut out);
        let stored = if e.compress {
            au3_compress(version, e.data)
        } else {
            e.data.to_vec()
        };
        out.push(u8::from(e.compress));
        out.extend_from_slice(&(stored.len() as u32 ^ size).to_le_bytes());
        out.extend_from_slice(&(e.data.len() as u32 ^ size).to_le_bytes());
        out.extend_from_slice(&(adler32(&stored) ^ crc).to_le_bytes());
        out.extend_from_slice(&[0x01, 0xd9, 0x5a, 0x10, 0x3c, 0x2b, 0x1f, 0x00].repeat(2));
        out.extend(au3_crypt(version, checksum.wrapping_add(content), &stored));
    }
    out
}

/// EA06 script tokens: each line a list of tokens, as `(opcode, text)`
/// for the masked-string opcodes (0x30–0x37) and `(opcode, "")` for
/// operators; lines end with 0x7F.
pub fn au3_tokens(lines: &[&[(u8, &str)]]) -> Vec<u8> {
    let mut out = (lines.len() as u32).to_le_bytes().to_vec();
    for line in lines {
        for (op, text) in *line {
            out.push(*op);
            if (0x30..=0x37).contains(op) {
                let units: Vec<u16> = text.encode_utf16().collect();
                let len = units.len() as u32;
                out.extend_from_slice(&len.to_le_bytes());
                for u in units {
                    out.extend_from_slice(&(u ^ len as u16).to_le_bytes());
                }
            } else if *op == 0x05 {
                out.extend_from_slice(&text.parse::<u32>().unwrap().to_le_bytes());
            }
        }
        out.push(0x7f);
    }
    out
}

/// One file of an InstallShield launcher: name, bytes, flags (2: whole-file
/// key, 4 or 6: key restarting every KiB, 0: plain) and whether it is
/// stored as a zlib stream (the "Unicode launcher" word).
pub struct IsFile<'a> {
    pub name: &'a str,
    pub data: &'a [u8],
    pub flags: u32,
    pub deflate: bool,
}

/// The files an InstallShield `setup.exe` carries after its PE image,
/// hand-built from the layout ISx documents (no tool in Debian writes or
/// reads them): the classic `InstallShield` header with 312-byte
/// attributes, or `ISSetupStream` (type 4: 48-byte attributes and a UTF-16
/// name).
pub fn installshield_of(stream: bool, files: &[IsFile<'_>]) -> Vec<u8> {
    let mut out = if stream {
        b"ISSetupStream\0".to_vec()
    } else {
        b"InstallShield\0".to_vec()
    };
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(if stream { 4u32 } else { 0 }).to_le_bytes());
    out.resize(46, 0);
    for f in files {
        let stored = if f.deflate {
            zlib(f.data)
        } else {
            f.data.to_vec()
        };
        let seed: Vec<u8> = f.name.as_bytes().to_vec();
        let key: Vec<u8> = seed
            .iter()
            .zip([0x13u8, 0x35, 0x86, 0x07].iter().cycle())
            .map(|(s, m)| s ^ m)
            .collect();
        let per_kib = f.flags & 4 != 0;
        let whole = f.flags & 2 != 0 && !stream;
        let body: Vec<u8> = if per_kib || whole {
            stored
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    let k = key[if per_kib { i % 1024 } else { i } % key.len()];
                    (k ^ !b).rotate_left(4)
                })
                .collect()
        } else {
            stored.clone()
        };
        if stream {
            let mut name: Vec<u8> = f.name.encode_utf16().flat_map(u16::to_le_bytes).collect();
            name.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&(name.len() as u32).to_le_bytes());
            out.extend_from_slice(&f.flags.to_le_bytes());
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(&[0; 8]);
            out.extend_from_slice(&u16::from(f.deflate).to_le_bytes());
            out.extend_from_slice(&[0; 24]);
            out.extend_from_slice(&name);
        } else {
            let mut a = vec![0u8; 312];
            a[..f.name.len()].copy_from_slice(f.name.as_bytes());
            a[260..264].copy_from_slice(&f.flags.to_le_bytes());
            a[268..272].copy_from_slice(&(body.len() as u32).to_le_bytes());
            a[280..282].copy_from_slice(&u16::from(f.deflate).to_le_bytes());
            out.extend_from_slice(&a);
        }
        out.extend_from_slice(&body);
    }
    out
}

/// An MSI package by wixl (msitools) installing one file, `name`, held in
/// the cabinet embedded in the package. `None` when wixl is not installed
/// (outside CI).
pub fn wixl_msi(name: &str, data: &[u8]) -> Option<Vec<u8>> {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("mdscan-wixl-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wxs = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="Test" Language="1033" Version="1.0.0" Manufacturer="mdscan" UpgradeCode="12345678-1234-1234-1234-123456789012">
    <Package InstallerVersion="200" Compressed="yes" Comments="test"/>
    <Media Id="1" Cabinet="payload.cab" EmbedCab="yes"/>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFilesFolder">
        <Directory Id="INSTALLDIR" Name="Test">
          <Component Id="Main" Guid="12345678-1234-1234-1234-123456789013">
            <File Id="F1" Name="{name}" Source="{name}" KeyPath="yes"/>
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="All" Level="1"><ComponentRef Id="Main"/></Feature>
  </Product>
</Wix>"#
    );
    std::fs::write(dir.join(name), data).unwrap();
    std::fs::write(dir.join("p.wxs"), wxs).unwrap();
    let made = tool(&dir, "wixl", &["-o", "p.msi", "p.wxs"]);
    let msi = made.map(|()| std::fs::read(dir.join("p.msi")).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    msi
}

/// One file of a hand-built InstallShield cabinet.
pub struct IsCabFile<'a> {
    /// Its directory (`\`-separated, may be empty).
    pub dir: &'a str,
    pub name: &'a str,
    pub data: &'a [u8],
    /// Chunks of raw deflate (flag 4) rather than stored.
    pub compressed: bool,
    /// Every stored byte obfuscated (flag 2).
    pub obfuscated: bool,
}

/// An InstallShield cabinet with its file table inside (one `data1.cab`),
/// hand-built from the layout unshield reads (no tool in Debian writes
/// one): InstallShield `major` 5 (its descriptor and volume layouts), 6–16
/// (ANSI names) or 17 and later (UTF-16 names); one file group lists every
/// file, as unshield needs to extract them.
pub fn iscab_of(major: u32, files: &[IsCabFile<'_>]) -> Vec<u8> {
    use md5::Digest;
    let v5 = major <= 5;
    let unicode = major >= 17;
    let version = if v5 {
        0x0100_5000u32
    } else {
        0x0400_0000 | (major * 100)
    };
    let put32 = |b: &mut Vec<u8>, at: usize, v: u32| {
        b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    };
    let text = |s: &str| -> Vec<u8> {
        if unicode {
            s.encode_utf16()
                .chain([0])
                .flat_map(|u| u.to_le_bytes())
                .collect()
        } else {
            s.bytes().chain([0]).collect()
        }
    };
    // The data.
    let volume_header = if v5 { 40 } else { 64 };
    let mut out = vec![0u8; 20 + volume_header];
    let mut placed = Vec::new();
    for f in files {
        let mut stored = if f.compressed {
            let mut s = Vec::new();
            for piece in f.data.chunks(32 << 10) {
                let chunk = deflate_raw(piece);
                s.extend_from_slice(&(chunk.len() as u16).to_le_bytes());
                s.extend_from_slice(&chunk);
            }
            s
        } else {
            f.data.to_vec()
        };
        if f.obfuscated {
            for (i, b) in stored.iter_mut().enumerate() {
                *b = b.wrapping_add((i % 0x47) as u8).rotate_left(2) ^ 0xd5;
            }
        }
        placed.push((out.len() as u32, stored.len() as u32));
        out.extend_from_slice(&stored);
    }
    // The file table: directory slots (IS 5: then file slots), the file
    // descriptors, the strings.
    let mut dirs: Vec<&str> = Vec::new();
    for f in files {
        if !dirs.contains(&f.dir) {
            dirs.push(f.dir);
        }
    }
    let slots = 4 * (dirs.len() + if v5 { files.len() } else { 0 });
    let record = if v5 { 0x3a } else { 0x57 };
    let descriptors = slots.next_multiple_of(4);
    let mut table = vec![0u8; descriptors + record * files.len()];
    let mut strings = Vec::new();
    let strings_at = table.len();
    let add = |s: &str, strings: &mut Vec<u8>| -> u32 {
        let at = (strings_at + strings.len()) as u32;
        strings.extend(text(s));
        at
    };
    for (i, d) in dirs.iter().enumerate() {
        let at = add(d, &mut strings);
        put32(&mut table, 4 * i, at);
    }
    for (i, f) in files.iter().enumerate() {
        let name = add(f.name, &mut strings);
        let dir = dirs.iter().position(|d| *d == f.dir).unwrap() as u32;
        let flags = u16::from(f.compressed) * 4 + u16::from(f.obfuscated) * 2;
        let (data, stored) = placed[i];
        let expanded = f.data.len() as u32;
        let md5: [u8; 16] = md5::Md5::digest(f.data).into();
        let at = descriptors + record * i;
        let r = &mut table[at..at + record];
        if v5 {
            r[0..4].copy_from_slice(&name.to_le_bytes());
            r[4..8].copy_from_slice(&dir.to_le_bytes());
            r[8..10].copy_from_slice(&flags.to_le_bytes());
            r[10..14].copy_from_slice(&expanded.to_le_bytes());
            r[14..18].copy_from_slice(&stored.to_le_bytes());
            r[0x26..0x2a].copy_from_slice(&data.to_le_bytes());
            r[0x2a..0x3a].copy_from_slice(&md5);
            put32(&mut table, 4 * (dirs.len() + i), at as u32);
        } else {
            r[0..2].copy_from_slice(&flags.to_le_bytes());
            r[2..10].copy_from_slice(&u64::from(expanded).to_le_bytes());
            r[0x0a..0x12].copy_from_slice(&u64::from(stored).to_le_bytes());
            r[0x12..0x1a].copy_from_slice(&u64::from(data).to_le_bytes());
            r[0x1a..0x2a].copy_from_slice(&md5);
            r[0x3a..0x3e].copy_from_slice(&name.to_le_bytes());
            r[0x3e..0x40].copy_from_slice(&(dir as u16).to_le_bytes());
            r[0x55..0x57].copy_from_slice(&1u16.to_le_bytes());
        }
    }
    table.extend_from_slice(&strings);
    while !table.len().is_multiple_of(4) {
        table.push(0);
    }
    // The cabinet descriptor, the file table, then one file group.
    const DESCRIPTOR: usize = 0x276;
    let mut desc = vec![0u8; DESCRIPTOR];
    put32(&mut desc, 0x0c, DESCRIPTOR as u32);
    put32(&mut desc, 0x14, table.len() as u32);
    put32(&mut desc, 0x18, table.len() as u32);
    put32(&mut desc, 0x1c, dirs.len() as u32);
    put32(&mut desc, 0x28, files.len() as u32);
    put32(&mut desc, 0x2c, descriptors as u32);
    desc.extend_from_slice(&table);
    let group = desc.len();
    let skip = if v5 { 0x48 } else { 0x12 };
    let group_name = group + 12 + 4 + skip + 8;
    put32(&mut desc, 0x3e, group as u32);
    desc.resize(group_name, 0);
    put32(&mut desc, group, group_name as u32);
    put32(&mut desc, group + 4, (group + 12) as u32);
    put32(&mut desc, group + 12, group_name as u32);
    put32(&mut desc, group + 16 + skip, 0);
    put32(&mut desc, group + 20 + skip, files.len() as u32 - 1);
    desc.extend(text("Program Files"));
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
    let desc_at = out.len() as u32;
    out.extend_from_slice(&desc);
    // The headers.
    out[0..4].copy_from_slice(b"ISc(");
    put32(&mut out, 4, version);
    put32(&mut out, 12, desc_at);
    put32(&mut out, 16, desc.len() as u32);
    let last = files.len() - 1;
    let v = |i: usize| (placed[i].0, files[i].data.len() as u32, placed[i].1);
    let (fo, fe, fs) = v(0);
    let (lo, le, ls) = v(last);
    let vol: Vec<u32> = if v5 {
        vec![20 + 40, 0, 0, last as u32, fo, fe, fs, lo, le, ls]
    } else {
        vec![
            20 + 64,
            0,
            0,
            last as u32,
            fo,
            0,
            fe,
            0,
            fs,
            0,
            lo,
            0,
            le,
            0,
            ls,
            0,
        ]
    };
    for (i, x) in vol.iter().enumerate() {
        put32(&mut out, 20 + 4 * i, *x);
    }
    out
}

/// A PDF with an OpenAction script, a launching page action and an
/// embedded file (a seed of the `sanitize` fuzz target, checked in the sanitize tests).
pub const SANITIZE_PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<</Type/Catalog/Pages 2 0 R/OpenAction 4 0 R/Names <</EmbeddedFiles <</Names [(a.exe) 5 0 R]>>>>>>\nendobj\n2 0 obj\n<</Type/Pages/Kids [3 0 R]/Count 1>>\nendobj\n3 0 obj\n<</Type/Page/Parent 2 0 R/MediaBox [0 0 10 10]/AA <</O <</S/Launch/F (cmd)>>>>>>\nendobj\n4 0 obj\n<</S/JavaScript/JS (app.alert\\(1\\))>>\nendobj\n5 0 obj\n<</Type/Filespec/F (a.exe)/EF <</F 6 0 R>>>>\nendobj\n6 0 obj\n<</Type/EmbeddedFile/Length 2>>\nstream\nMZ\nendstream\nendobj\ntrailer\n<</Root 1 0 R>>\n%%EOF\n";

/// A Word 97 compound file with a VBA project storage.
pub fn sanitize_doc() -> Vec<u8> {
    let fib = word_fib(false);
    ole2_of(&[
        ("WordDocument", fib.as_slice()),
        ("Macros/VBA/dir", b"\x01\x00"),
        ("Macros/PROJECT", b"ID=\"{0}\"\r\n"),
    ])
}

/// One pax record, `"<len> <key>=<value>\n"` with `len` counting itself.
pub fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while format!("{len}{body}").len() != len {
        len += 1;
    }
    format!("{len}{body}").into_bytes()
}

/// A tar header block: `name`, `typeflag`, `size`, the ustar magic when
/// `ustar`, checksummed by the signed byte sum when `signed` (old tars).
pub fn tar_header(name: &[u8], typeflag: u8, size: usize, ustar: bool, signed: bool) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    h[..name.len()].copy_from_slice(name);
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = typeflag;
    if ustar {
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
    }
    let sum: i64 = h
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else if signed {
                i64::from(*b as i8)
            } else {
                i64::from(*b)
            }
        })
        .sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// A ustar header block (`typeflag`, `size`), checksummed.
pub fn ustar_header(name: &str, typeflag: u8, size: usize) -> Vec<u8> {
    tar_header(name.as_bytes(), typeflag, size, true, false)
}

/// A pax tar of one member: the `records` in its extended header, then
/// the member `name` storing `data`.
pub fn pax_tar(records: &[u8], name: &str, data: &[u8]) -> Vec<u8> {
    let mut out = ustar_header("PaxHeaders/x", b'x', records.len());
    out.extend_from_slice(records);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out.extend(ustar_header(name, b'0', data.len()));
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512 + 1024, 0);
    out
}

/// A xar archive of `files` (zlib'd TOC, members zlib'd, no checksums),
/// as xar's layout describes it; for the fuzz seeds.
pub fn xar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut heap = Vec::new();
    let mut toc = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xar><toc>");
    for (i, (name, data)) in files.iter().enumerate() {
        let packed = zlib(data);
        toc.push_str(&format!(
            "<file id=\"{}\"><name>{name}</name><type>file</type><data><length>{}</length><offset>{}</offset><size>{}</size><encoding style=\"application/x-gzip\"/></data></file>",
            i + 1,
            packed.len(),
            heap.len(),
            data.len()
        ));
        heap.extend_from_slice(&packed);
    }
    toc.push_str("</toc></xar>");
    let packed_toc = zlib(toc.as_bytes());
    let mut out = b"xar!".to_vec();
    out.extend_from_slice(&28u16.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(packed_toc.len() as u64).to_be_bytes());
    out.extend_from_slice(&(toc.len() as u64).to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&packed_toc);
    out.extend_from_slice(&heap);
    out
}

/// A file record of a hand-built EPOC SIS: `forks` copies (one per
/// language when more than one), file type `file_type`, destination
/// `dest`.
pub struct SisFile<'a> {
    pub file_type: u32,
    pub dest: &'a str,
    pub forks: Vec<&'a [u8]>,
}

/// An EPOC SIS package (release 6 when `release6`, else 3-5) with
/// `nlangs` languages, an *if* record first when `conditional`, and
/// `files`; the file data zlib'd as release 6 does unless `options` has
/// NoCompress (8). Built from the layout Deark documents (no tool in
/// Debian writes SIS).
pub fn epoc_sis(
    release6: bool,
    options: u16,
    nlangs: u16,
    conditional: bool,
    files: &[SisFile<'_>],
) -> Vec<u8> {
    let header = 100usize;
    let records_at = header + 2 * nlangs as usize;
    let record_len = |f: &SisFile<'_>| {
        let n = f.forks.len();
        4 + 4 + 4 + 16 + 8 * n + if release6 { 4 * n + 8 } else { 0 }
    };
    let mut at = records_at + if conditional { 12 } else { 0 };
    at += files.iter().map(record_len).sum::<usize>();
    let mut out = vec![0u8; at];
    let put =
        |out: &mut Vec<u8>, pos: usize, v: u32| out[pos..pos + 4].copy_from_slice(&v.to_le_bytes());
    put(&mut out, 0, 0x1000_0001);
    put(
        &mut out,
        4,
        if release6 { 0x1000_3a12 } else { 0x1000_006d },
    );
    put(&mut out, 8, 0x1000_0419);
    out[18..20].copy_from_slice(&nlangs.to_le_bytes());
    let nrecords = files.len() as u16 + if conditional { 2 } else { 0 };
    out[20..22].copy_from_slice(&nrecords.to_le_bytes());
    out[32..36].copy_from_slice(&(if release6 { 200u32 } else { 68 }).to_le_bytes());
    out[36..38].copy_from_slice(&options.to_le_bytes());
    put(&mut out, 48, header as u32);
    put(&mut out, 52, records_at as u32);
    let mut pos = records_at;
    if conditional {
        put(&mut out, pos, 3);
        put(&mut out, pos + 4, 4);
        put(&mut out, pos + 8, 0xdead_beef);
        pos += 12;
    }
    let mut ends = Vec::new();
    for f in files {
        put(&mut out, pos, if f.forks.len() > 1 { 1 } else { 0 });
        put(&mut out, pos + 4, f.file_type);
        let dest: Vec<u8> = if options & 1 != 0 {
            f.dest.encode_utf16().flat_map(u16::to_le_bytes).collect()
        } else {
            f.dest.as_bytes().to_vec()
        };
        let dest_at = out.len();
        out.extend_from_slice(&dest);
        put(&mut out, pos + 12, 0);
        put(&mut out, pos + 16, 0);
        put(&mut out, pos + 20, dest.len() as u32);
        put(&mut out, pos + 24, dest_at as u32);
        let n = f.forks.len();
        for (k, data) in f.forks.iter().enumerate() {
            let stored = if release6 && options & 8 == 0 {
                zlib(data)
            } else {
                data.to_vec()
            };
            let data_at = out.len();
            out.extend_from_slice(&stored);
            put(&mut out, pos + 28 + 4 * k, stored.len() as u32);
            put(&mut out, pos + 28 + 4 * n + 4 * k, data_at as u32);
            if release6 {
                put(&mut out, pos + 28 + 8 * n + 4 * k, data.len() as u32);
            }
        }
        pos += record_len(f);
        ends.push(pos);
    }
    if conditional {
        put(&mut out, pos, 6);
    }
    out
}

/// SHA-256 of `d` in hex, as the report's `sha256` gives it.
pub fn sha256_hex(d: &[u8]) -> String {
    mdcore::hex(&mdcore::Digests::of(d).sha256)
}

/// Where the shared fixtures holding `sub` are: `MDSCAN_FIXTURES`, else
/// `../shared/fixtures` beside the repository, else the workplace's copy.
pub fn fixtures_with(sub: &str) -> Option<std::path::PathBuf> {
    use std::path::{Path, PathBuf};
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    [
        std::env::var_os("MDSCAN_FIXTURES").map(PathBuf::from),
        Some(repo.join("../shared/fixtures")),
        Some(PathBuf::from("/work/shared/fixtures")),
    ]
    .into_iter()
    .flatten()
    .find(|p| p.join(sub).is_dir())
}
