//! VBA projects ([MS-OVBA]): the `dir` stream that lists a project's
//! modules, and the compression every module's source is stored in.
//!
//! A module stream holds compiled p-code followed, at the offset the `dir`
//! stream gives, by the compressed source. Office runs the p-code when its
//! version matches and the source otherwise; tools that "stomp" a document
//! blank the source and keep the p-code, so the module stream itself is also
//! scanned whole by the caller.

use crate::bytes::{le_u16, le_u32};

/// One module of a project, as the `dir` stream lists it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Module {
    /// The module's name (MODULENAME, 2.3.4.2.3.2.1).
    pub(crate) name: String,
    /// The stream in the VBA storage holding it (MODULESTREAMNAME).
    pub(crate) stream: String,
    /// Where its compressed source starts in that stream (MODULEOFFSET).
    pub(crate) offset: u32,
}

/// Why the source of a project or module could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Error {
    /// The compressed container is damaged (the output so far is kept).
    Corrupt(&'static str),
    /// The output would exceed the cap the caller gave.
    TooLarge,
}

/// Decompresses a CompressedContainer (2.4.1), producing at most `cap`
/// bytes. On damage the bytes produced before it are returned with the error.
pub(crate) fn decompress(data: &[u8], cap: usize) -> (Vec<u8>, Option<Error>) {
    let mut out = Vec::new();
    let Some((&1, mut rest)) = data.split_first() else {
        return (
            out,
            Some(Error::Corrupt("no compressed container signature")),
        );
    };
    while let Some(header) = le_u16(rest, 0) {
        // CompressedChunkSize is the 12 low bits + 3, header included.
        let size = usize::from(header & 0x0fff) + 3;
        let compressed = header & 0x8000 != 0;
        let chunk_start = out.len();
        let body = rest.get(2..size.min(rest.len())).unwrap_or_default();
        rest = rest.get(size..).unwrap_or_default();
        if !compressed {
            // A raw chunk is always 4096 bytes.
            if out.len().saturating_add(body.len()) > cap {
                return (out, Some(Error::TooLarge));
            }
            out.extend_from_slice(body);
            continue;
        }
        let mut i = 0usize;
        while let Some(&flags) = body.get(i) {
            i += 1;
            for bit in 0..8 {
                if i >= body.len() {
                    break;
                }
                if flags & (1 << bit) == 0 {
                    if out.len() >= cap {
                        return (out, Some(Error::TooLarge));
                    }
                    if let Some(&b) = body.get(i) {
                        out.push(b);
                    }
                    i += 1;
                    continue;
                }
                let Some(token) = le_u16(body, i) else {
                    return (out, Some(Error::Corrupt("truncated copy token")));
                };
                i += 2;
                // CopyToken help (2.4.1.3.19.1): the split between offset
                // and length depends on how far into the chunk we are.
                let done = out.len() - chunk_start;
                let bits = (usize::BITS - done.saturating_sub(1).leading_zeros()).max(4);
                let length_mask = 0xffffu16 >> bits;
                let length = usize::from(token & length_mask) + 3;
                let offset = usize::from(token >> (16 - bits)) + 1;
                if offset > done {
                    return (
                        out,
                        Some(Error::Corrupt("copy token reaches before its chunk")),
                    );
                }
                if out.len().saturating_add(length) > cap {
                    return (out, Some(Error::TooLarge));
                }
                for _ in 0..length {
                    let Some(&b) = out.get(out.len() - offset) else {
                        return (out, Some(Error::Corrupt("bad copy token")));
                    };
                    out.push(b);
                }
            }
        }
    }
    (out, None)
}

/// The modules a decompressed `dir` stream lists (2.3.4.2). Reads records
/// until the end marker or the end of the data; a record cut short ends the
/// list without an error, as Office itself is lenient here.
pub(crate) fn modules(dir: &[u8]) -> Vec<Module> {
    let mut out = Vec::new();
    let mut current: Option<Module> = None;
    let mut at = 0usize;
    while let (Some(id), Some(size)) = (le_u16(dir, at), le_u32(dir, at + 2)) {
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        // PROJECTVERSION says 4 but carries 6 bytes (2.3.4.2.1.11).
        let size = if id == 0x0009 { 6 } else { size };
        let body = at
            .checked_add(6)
            .and_then(|s| dir.get(s..s.checked_add(size)?));
        let Some(body) = body else { break };
        match id {
            // MODULENAME: a new module starts.
            0x0019 => {
                if let Some(m) = current.take() {
                    out.push(m);
                }
                current = Some(Module {
                    name: String::from_utf8_lossy(body).into_owned(),
                    ..Module::default()
                });
            }
            // MODULESTREAMNAME (MBCS); its Unicode form follows as 0x0032.
            0x001a => {
                if let Some(m) = current.as_mut() {
                    m.stream = String::from_utf8_lossy(body).into_owned();
                }
            }
            0x0032 => {
                if let Some(m) = current.as_mut() {
                    let units: Vec<u16> = crate::bytes::utf16le(body).collect();
                    if let Ok(s) = String::from_utf16(&units)
                        && !s.is_empty()
                    {
                        m.stream = s;
                    }
                }
            }
            0x0031 => {
                if let (Some(m), Some(off)) = (current.as_mut(), le_u32(body, 0)) {
                    m.offset = off;
                }
            }
            // The module's terminator, and the end of the module list.
            0x002b => {
                if let Some(m) = current.take() {
                    out.push(m);
                }
            }
            0x0010 => break,
            _ => {}
        }
        at = at.saturating_add(6).saturating_add(size);
    }
    out.extend(current);
    for m in &mut out {
        if m.stream.is_empty() {
            m.stream.clone_from(&m.name);
        }
    }
    out
}

/// Where compressed module source most likely starts in a module stream
/// whose offset is unknown (no or damaged `dir` stream): every module's
/// source begins with `Attribute VB_Name`, whose first chunk opens with a
/// literal-only flag byte and "Attribut".
pub(crate) fn find_source(stream: &[u8]) -> Option<usize> {
    memchr::memmem::find(stream, b"\x00Attribut")?.checked_sub(3)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Compresses `data` the simple way [MS-OVBA] allows: full chunks raw,
    /// the last one as literal tokens.
    pub(crate) fn compress(data: &[u8]) -> Vec<u8> {
        let mut out = vec![1u8];
        for chunk in data.chunks(4096) {
            if chunk.len() == 4096 {
                // A raw chunk: exactly 4096 bytes, the flag bit clear.
                out.extend_from_slice(&0x3fffu16.to_le_bytes());
                out.extend_from_slice(chunk);
                continue;
            }
            // The last, shorter chunk: literal tokens only, a flag byte of 0
            // before every eight (fits while the chunk is at most 3640 bytes).
            assert!(chunk.len() <= 3640);
            let mut body = Vec::new();
            for group in chunk.chunks(8) {
                body.push(0);
                body.extend_from_slice(group);
            }
            let header = 0xb000u16 | u16::try_from(body.len() + 2 - 3).unwrap();
            out.extend_from_slice(&header.to_le_bytes());
            out.extend_from_slice(&body);
        }
        out
    }

    #[test]
    fn decodes_the_spec_example_with_copy_tokens() {
        // [MS-OVBA] 3.2.3 "Example: Copy Token, Compressed".
        let compressed: &[u8] = &[
            0x01, 0x2f, 0xb0, 0x00, 0x23, 0x61, 0x61, 0x61, 0x62, 0x63, 0x64, 0x65, 0x82, 0x66,
            0x00, 0x70, 0x61, 0x67, 0x68, 0x69, 0x6a, 0x01, 0x38, 0x08, 0x61, 0x6b, 0x6c, 0x00,
            0x30, 0x6d, 0x6e, 0x6f, 0x70, 0x06, 0x71, 0x02, 0x70, 0x04, 0x10, 0x72, 0x73, 0x74,
            0x75, 0x76, 0x10, 0x77, 0x78, 0x79, 0x7a, 0x00, 0x3c,
        ];
        let (out, err) = decompress(compressed, 1 << 20);
        assert_eq!(err, None);
        assert_eq!(
            out,
            b"#aaabcdefaaaaghijaaaaaklaaamnopqaaaaaaaaaaaarstuvwxyzaaa".to_vec()
        );
    }

    #[test]
    fn round_trips_literal_chunks_and_caps_output() {
        let text: Vec<u8> = (0..11_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let (out, err) = decompress(&compress(&text), 1 << 20);
        assert_eq!(err, None);
        assert_eq!(out, text);
        let (out, err) = decompress(&compress(&text), 5000);
        assert_eq!(err, Some(Error::TooLarge));
        assert!(out.len() <= 5000);
    }

    #[test]
    fn damage_is_an_error_not_a_panic() {
        assert!(decompress(b"", 10).1.is_some());
        assert!(decompress(b"\x02abc", 10).1.is_some());
        // A copy token at the very start of a chunk points before it.
        let (_, err) = decompress(&[1, 0x02, 0xb0, 0x01, 0x00, 0x00], 100);
        assert!(matches!(err, Some(Error::Corrupt(_))), "{err:?}");
        for n in 0..300u32 {
            let junk: Vec<u8> = (0..n).map(|i| (i * 97 + n) as u8).collect();
            let mut d = vec![1u8];
            d.extend_from_slice(&junk);
            let _ = decompress(&d, 1 << 16);
        }
    }

    #[test]
    fn reads_modules_from_a_dir_stream() {
        let mut dir = Vec::new();
        // PROJECTVERSION: its size field says 4 but six bytes follow.
        dir.extend_from_slice(&[
            0x09, 0x00, 0x04, 0, 0, 0, 0x5c, 0x9a, 0x1c, 0x3d, 0x06, 0x00,
        ]);
        let mut rec = |id: u16, body: &[u8]| {
            dir.extend_from_slice(&id.to_le_bytes());
            dir.extend_from_slice(&(body.len() as u32).to_le_bytes());
            dir.extend_from_slice(body);
        };
        rec(0x0001, &1u32.to_le_bytes());
        rec(0x0019, b"Module1");
        rec(0x001a, b"Module1");
        rec(0x0032, &utf16("Module1"));
        rec(0x0031, &1234u32.to_le_bytes());
        rec(0x002b, &[]);
        rec(0x0019, b"ThisDocument");
        rec(0x0031, &77u32.to_le_bytes());
        rec(0x002b, &[]);
        rec(0x0010, &[]);
        let m = modules(&dir);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].name, "Module1");
        assert_eq!(m[0].stream, "Module1");
        assert_eq!(m[0].offset, 1234);
        assert_eq!(m[1].stream, "ThisDocument");
        assert_eq!(m[1].offset, 77);
        // Cut anywhere: no panic, a prefix of the list.
        for n in 0..dir.len() {
            assert!(modules(&dir[..n]).len() <= 2);
        }
    }

    pub(crate) fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }
}
