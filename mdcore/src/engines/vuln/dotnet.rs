//! The assembly identity of a .NET PE (ECMA-335 II.22.2): the name and
//! four-part version of its `Assembly` metadata row, read from the `#~`
//! (or uncompressed `#-`) table stream that goblin locates.
//!
//! The `Assembly` table (0x20) comes after 32 others, whose row sizes
//! depend on the heap index widths and on the row counts of the tables
//! their coded indexes point into; every width is computed here from the
//! stream header, as the runtime does.

/// Index widths of one table stream.
struct Widths {
    rows: [u32; 64],
    strings: usize,
    guid: usize,
    blob: usize,
}

impl Widths {
    /// Rows of table `t` (0 for a table the stream does not have).
    fn rows(&self, t: usize) -> u32 {
        self.rows.get(t).copied().unwrap_or(0)
    }

    /// A simple index into table `t`.
    fn table(&self, t: usize) -> usize {
        if self.rows(t) < 1 << 16 { 2 } else { 4 }
    }

    /// A coded index over `tables` (ECMA-335 II.24.2.6).
    fn coded(&self, tables: &[usize]) -> usize {
        let bits = usize::BITS - (tables.len().saturating_sub(1)).leading_zeros();
        let max = tables.iter().map(|&t| self.rows(t)).max().unwrap_or(0);
        if u64::from(max) < 1u64 << (16 - bits) {
            2
        } else {
            4
        }
    }
}

// Table numbers (ECMA-335 II.22).
const MODULE: usize = 0x00;
const TYPE_REF: usize = 0x01;
const TYPE_DEF: usize = 0x02;
const FIELD: usize = 0x04;
const METHOD_DEF: usize = 0x06;
const PARAM: usize = 0x08;
const INTERFACE_IMPL: usize = 0x09;
const MEMBER_REF: usize = 0x0a;
const DECL_SECURITY: usize = 0x0e;
const STAND_ALONE_SIG: usize = 0x11;
const EVENT: usize = 0x14;
const PROPERTY: usize = 0x17;
const MODULE_REF: usize = 0x1a;
const TYPE_SPEC: usize = 0x1b;
const ASSEMBLY: usize = 0x20;
const ASSEMBLY_REF: usize = 0x23;
const FILE: usize = 0x26;
const EXPORTED_TYPE: usize = 0x27;
const MANIFEST_RESOURCE: usize = 0x28;
const GENERIC_PARAM: usize = 0x2a;
const METHOD_SPEC: usize = 0x2b;
const GENERIC_PARAM_CONSTRAINT: usize = 0x2c;

/// Row sizes of tables 0x00-0x1f, the ones before `Assembly`.
fn row_size(t: usize, w: &Widths) -> Option<usize> {
    let (s, g, b) = (w.strings, w.guid, w.blob);
    let type_def_or_ref = w.coded(&[TYPE_DEF, TYPE_REF, TYPE_SPEC]);
    let method_def_or_ref = w.coded(&[METHOD_DEF, MEMBER_REF]);
    Some(match t {
        0x00 => 2 + s + 3 * g,
        0x01 => w.coded(&[MODULE, MODULE_REF, ASSEMBLY_REF, TYPE_REF]) + 2 * s,
        0x02 => 4 + 2 * s + type_def_or_ref + w.table(FIELD) + w.table(METHOD_DEF),
        0x03 => w.table(FIELD),
        0x04 => 2 + s + b,
        0x05 => w.table(METHOD_DEF),
        0x06 => 4 + 2 + 2 + s + b + w.table(PARAM),
        0x07 => w.table(PARAM),
        0x08 => 2 + 2 + s,
        0x09 => w.table(TYPE_DEF) + type_def_or_ref,
        0x0a => w.coded(&[TYPE_DEF, TYPE_REF, MODULE_REF, METHOD_DEF, TYPE_SPEC]) + s + b,
        0x0b => 2 + w.coded(&[FIELD, PARAM, PROPERTY]) + b,
        0x0c => {
            let parent = w.coded(&[
                METHOD_DEF,
                FIELD,
                TYPE_REF,
                TYPE_DEF,
                PARAM,
                INTERFACE_IMPL,
                MEMBER_REF,
                MODULE,
                DECL_SECURITY,
                PROPERTY,
                EVENT,
                STAND_ALONE_SIG,
                MODULE_REF,
                TYPE_SPEC,
                ASSEMBLY,
                ASSEMBLY_REF,
                FILE,
                EXPORTED_TYPE,
                MANIFEST_RESOURCE,
                GENERIC_PARAM,
                GENERIC_PARAM_CONSTRAINT,
                METHOD_SPEC,
            ]);
            // CustomAttributeType: five tags, two of them used.
            parent + w.coded(&[0, 0, METHOD_DEF, MEMBER_REF, 0]) + b
        }
        0x0d => w.coded(&[FIELD, PARAM]) + b,
        0x0e => 2 + w.coded(&[TYPE_DEF, METHOD_DEF, ASSEMBLY]) + b,
        0x0f => 2 + 4 + w.table(TYPE_DEF),
        0x10 => 4 + w.table(FIELD),
        0x11 => b,
        0x12 => w.table(TYPE_DEF) + w.table(EVENT),
        0x13 => w.table(EVENT),
        0x14 => 2 + s + type_def_or_ref,
        0x15 => w.table(TYPE_DEF) + w.table(PROPERTY),
        0x16 => w.table(PROPERTY),
        0x17 => 2 + s + b,
        0x18 => 2 + w.table(METHOD_DEF) + w.coded(&[EVENT, PROPERTY]),
        0x19 => w.table(TYPE_DEF) + 2 * method_def_or_ref,
        0x1a => s,
        0x1b => b,
        0x1c => 2 + w.coded(&[FIELD, METHOD_DEF]) + s + w.table(MODULE_REF),
        0x1d => 4 + w.table(FIELD),
        0x1e => 8,
        0x1f => 4,
        _ => return None,
    })
}

fn le16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        d.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn le32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        d.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn index(d: &[u8], at: usize, width: usize) -> Option<usize> {
    if width == 2 {
        le16(d, at).map(usize::from)
    } else {
        le32(d, at).and_then(|v| usize::try_from(v).ok())
    }
}

/// The assembly name and version of the .NET PE `pe` (parsed from
/// `data`), when it has a CLI header and an `Assembly` row.
pub(super) fn identity(pe: &goblin::pe::PE<'_>, data: &[u8]) -> Option<(String, String)> {
    let header = pe.header.optional_header?;
    let dd = *header.data_directories.get_clr_runtime_header()?;
    // A file offset for an RVA, through the section table.
    let offset = |rva: u32| -> Option<usize> {
        pe.sections.iter().find_map(|s| {
            let start = s.virtual_address;
            let len = s.virtual_size.max(s.size_of_raw_data);
            (rva >= start && rva - start < len)
                .then(|| usize::try_from(s.pointer_to_raw_data.checked_add(rva - start)?).ok())
                .flatten()
        })
    };
    let cor20 = offset(dd.virtual_address)?;
    let meta_rva = le32(data, cor20.checked_add(8)?)?;
    let meta_size = usize::try_from(le32(data, cor20.checked_add(12)?)?).ok()?;
    let root_at = offset(meta_rva)?;
    let root = data.get(root_at..root_at.checked_add(meta_size)?.min(data.len()))?;
    // "BSJB", versions, reserved, the version string's length and text.
    if le32(root, 0)? != 0x424a_5342 {
        return None;
    }
    let vlen = usize::try_from(le32(root, 12)?).ok()?;
    let streams = le16(root, 16usize.checked_add(vlen)?.checked_add(2)?)?;
    let mut at = 16 + vlen + 4;
    let (mut tables, mut strings) = (None, None);
    for _ in 0..streams.min(16) {
        let off = usize::try_from(le32(root, at)?).ok()?;
        let size = usize::try_from(le32(root, at + 4)?).ok()?;
        let name_at = at + 8;
        let name_len = root.get(name_at..)?.iter().take(32).position(|b| *b == 0)?;
        let name = root.get(name_at..name_at + name_len)?;
        let body = root.get(off..off.checked_add(size)?.min(root.len()));
        match name {
            b"#~" | b"#-" => tables = body,
            b"#Strings" => strings = body,
            _ => {}
        }
        // The name and its terminator, padded to four bytes.
        at = name_at + (name_len + 4) / 4 * 4;
    }
    assembly(tables?, strings?)
}

/// The assembly's name and version (`major.minor.build.revision`) from
/// its table stream and `#Strings` heap.
pub(super) fn assembly(tables: &[u8], strings: &[u8]) -> Option<(String, String)> {
    let heap = *tables.get(6)?;
    let valid = u64::from_le_bytes(tables.get(8..16)?.try_into().ok()?);
    let mut w = Widths {
        rows: [0; 64],
        strings: if heap & 1 != 0 { 4 } else { 2 },
        guid: if heap & 2 != 0 { 4 } else { 2 },
        blob: if heap & 4 != 0 { 4 } else { 2 },
    };
    let mut at = 24usize;
    for (t, rows) in w.rows.iter_mut().enumerate() {
        if valid & (1u64 << t) != 0 {
            *rows = le32(tables, at)?;
            at += 4;
        }
    }
    if w.rows(ASSEMBLY) == 0 {
        return None;
    }
    // Extra data after the row counts (an EnC-era flag some writers set).
    if heap & 0x40 != 0 {
        at += 4;
    }
    for t in 0..ASSEMBLY {
        let rows = usize::try_from(w.rows(t)).ok()?;
        at = at.checked_add(rows.checked_mul(row_size(t, &w)?)?)?;
    }
    let row = tables.get(at..)?;
    let version = format!(
        "{}.{}.{}.{}",
        le16(row, 4)?,
        le16(row, 6)?,
        le16(row, 8)?,
        le16(row, 10)?
    );
    // HashAlgId 4, four versions 8, Flags 4, PublicKey (blob), then Name.
    let name_at = 16 + w.blob;
    let name = index(row, name_at, w.strings)?;
    let rest = strings.get(name..)?;
    let end = rest
        .iter()
        .position(|b| *b == 0)
        .unwrap_or(rest.len())
        .min(1024);
    let (name, _) = rest.split_at(end);
    let name = String::from_utf8_lossy(name).trim().to_string();
    (!name.is_empty()).then_some((name, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table stream with only Module (1 row) and Assembly (1 row), small
    /// heaps.
    fn stream(name_index: u16) -> Vec<u8> {
        let mut t = vec![0u8; 24];
        t[4] = 2; // major version
        let valid: u64 = (1 << MODULE) | (1 << ASSEMBLY);
        t[8..16].copy_from_slice(&valid.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
        // Module: generation, name, mvid, encid, encbaseid.
        t.extend_from_slice(&[0u8; 2 + 2 + 6]);
        // Assembly: hash alg, 1.2.3.4, flags, public key, name, culture.
        t.extend_from_slice(&0x8004u32.to_le_bytes());
        for v in [1u16, 2, 3, 4] {
            t.extend_from_slice(&v.to_le_bytes());
        }
        t.extend_from_slice(&0u32.to_le_bytes());
        t.extend_from_slice(&0u16.to_le_bytes());
        t.extend_from_slice(&name_index.to_le_bytes());
        t.extend_from_slice(&0u16.to_le_bytes());
        t
    }

    #[test]
    fn the_assembly_row_after_other_tables() {
        let strings = b"\0Demo.Library\0";
        assert_eq!(
            assembly(&stream(1), strings),
            Some(("Demo.Library".into(), "1.2.3.4".into()))
        );
        // Damaged: cut short, an index past the heap, no Assembly row.
        let s = stream(1);
        assert_eq!(assembly(&s[..s.len() - 4], strings), None);
        assert_eq!(assembly(&stream(400), strings), None);
        assert_eq!(assembly(&s[..24], strings), None);
    }

    #[test]
    fn coded_index_widths_follow_the_row_counts() {
        let mut w = Widths {
            rows: [0; 64],
            strings: 2,
            guid: 2,
            blob: 2,
        };
        // Three tables: two tag bits, 2 bytes up to 2^14 rows.
        w.rows[TYPE_DEF] = (1 << 14) - 1;
        assert_eq!(w.coded(&[TYPE_DEF, TYPE_REF, TYPE_SPEC]), 2);
        w.rows[TYPE_DEF] = 1 << 14;
        assert_eq!(w.coded(&[TYPE_DEF, TYPE_REF, TYPE_SPEC]), 4);
        // 22 tables: five tag bits.
        w.rows[METHOD_DEF] = 1 << 11;
        assert_eq!(w.coded(&[METHOD_DEF; 22]), 4);
        w.rows[METHOD_DEF] = (1 << 11) - 1;
        assert_eq!(w.coded(&[METHOD_DEF; 22]), 2);
    }
}
