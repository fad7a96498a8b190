//! Runtime packers of Windows executables, recognised by the names their
//! sections carry and the markers their stubs leave. mdscan does not
//! unpack them yet: the executable is examined as it is (its packed code
//! is compressed or encrypted), and the node says which packer it is, so
//! an unpacker has a place to go and a reader knows why engines may see
//! less than in the unpacked program.

use crate::bytes::le_u16;

/// Section names (the first 8 bytes, NUL-padded) each packer writes.
const SECTIONS: &[(&[u8], &str)] = &[
    (b"UPX0", "UPX"),
    (b"UPX1", "UPX"),
    (b"UPX2", "UPX"),
    (b".aspack", "ASPack"),
    (b".adata", "ASPack"),
    (b"PEC2", "PECompact"),
    (b"PEC2TO", "PECompact"),
    (b"PEC2MO", "PECompact"),
    (b"pec1", "PECompact"),
    (b"pec2", "PECompact"),
    (b"MEW", "MEW"),
    (b".petite", "Petite"),
    (b".Upack", "Upack"),
    (b".ByDwing", "Upack"),
    (b".WWP32", "WWPack32"),
    (b".WWPACK", "WWPack32"),
    (b"yC", "yoda's Crypter"),
    (b".yP", "yoda's Protector"),
    (b".MPRESS1", "MPRESS"),
    (b".MPRESS2", "MPRESS"),
    (b".nsp0", "NsPack"),
    (b".nsp1", "NsPack"),
    (b"nsp0", "NsPack"),
    (b".themida", "Themida"),
    (b".vmp0", "VMProtect"),
    (b".vmp1", "VMProtect"),
    (b".enigma1", "Enigma Protector"),
    (b"kkrunchy", "kkrunchy"),
];

/// Sections read from one header.
const MAX_SECTIONS: usize = 96;

/// The packer of the PE executable `d`, if a known one left its marks.
pub(crate) fn packer(d: &[u8]) -> Option<&'static str> {
    let pe = usize::try_from(crate::bytes::le_u32(d, 0x3c)?).ok()?;
    if d.get(pe..pe + 4) != Some(b"PE\0\0") {
        return None;
    }
    let count = usize::from(le_u16(d, pe + 6)?).min(MAX_SECTIONS);
    let optional = usize::from(le_u16(d, pe + 20)?);
    let table = pe + 24 + optional;
    for i in 0..count {
        let name = d.get(table + 40 * i..table + 40 * i + 8)?;
        let len = name.iter().position(|b| *b == 0).unwrap_or(8);
        let name = name.get(..len)?;
        if let Some((_, p)) = SECTIONS.iter().find(|(n, _)| *n == name) {
            return Some(p);
        }
    }
    // UPX writes "UPX!" and its header after the section table even when
    // the sections were renamed.
    let head = d.get(table..d.len().min(table + 1024))?;
    memchr::memmem::find(head, b"UPX!").map(|_| "UPX")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pe(sections: &[&[u8]]) -> Vec<u8> {
        let mut d = vec![0u8; 0x400];
        d[..2].copy_from_slice(b"MZ");
        d[0x3c] = 0x80;
        d[0x80..0x84].copy_from_slice(b"PE\0\0");
        d[0x86] = sections.len() as u8;
        d[0x94] = 0xe0;
        let table = 0x80 + 24 + 0xe0;
        for (i, s) in sections.iter().enumerate() {
            d[table + 40 * i..table + 40 * i + s.len()].copy_from_slice(s);
        }
        d
    }

    #[test]
    fn packers_by_section_name_and_marker() {
        assert_eq!(packer(&pe(&[b"UPX0", b"UPX1", b".rsrc"])), Some("UPX"));
        assert_eq!(
            packer(&pe(&[b".text", b".aspack", b".adata"])),
            Some("ASPack")
        );
        assert_eq!(packer(&pe(&[b".text", b"PEC2TO"])), Some("PECompact"));
        assert_eq!(packer(&pe(&[b".text", b".data", b".rsrc"])), None);
        let mut renamed = pe(&[b"abc", b"def"]);
        let at = 0x80 + 24 + 0xe0 + 80 + 16;
        renamed[at..at + 4].copy_from_slice(b"UPX!");
        assert_eq!(packer(&renamed), Some("UPX"));
        assert_eq!(packer(b"MZ not a pe"), None);
    }
}
