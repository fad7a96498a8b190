//! Excel 97-2003 (BIFF8) workbook streams: Excel 4.0 (XLM) macro sheets
//! and Excel 5 VBA module sheets emptied into blank worksheets.
//!
//! A workbook stream is the globals substream followed by one substream per
//! sheet, each found through the absolute stream position its BOUNDSHEET
//! record gives. A sheet is code when its BOUNDSHEET says macro sheet or
//! VBA module, or when its own BOF says macro sheet (an attacker may make
//! the two disagree). Each such substream is replaced by a minimal empty
//! worksheet (BOF, DIMENSIONS, WINDOW2, EOF) under the same name and
//! visibility, so sheet indexes — and with them every reference into the
//! workbook — stay as they were; the sheets after it move, so their
//! BOUNDSHEET positions and the absolute DBCELL positions of their INDEX
//! records are written again. Defined names lose their macro flags (a
//! command or function macro). Bytes outside the substreams do not reach
//! the copy.

use super::SanitizeError;

const BOF: u16 = 0x0809;
const EOF: u16 = 0x000a;
const BOUNDSHEET: u16 = 0x0085;
const INDEX: u16 = 0x020b;
const NAME: u16 = 0x0018;
const FILEPASS: u16 = 0x002f;
const DIMENSIONS: u16 = 0x0200;
const WINDOW2: u16 = 0x023e;
/// BOF `dt` of a macro sheet.
const BOF_MACRO: u16 = 0x0040;
/// Records read from one stream.
const MAX_RECORDS: usize = 4 << 20;

fn fail(m: impl Into<String>) -> SanitizeError {
    SanitizeError::Failed(m.into())
}

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(d.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

/// One record: where it starts in the stream, its type and body.
#[derive(Clone, Copy)]
struct Record<'a> {
    at: usize,
    id: u16,
    body: &'a [u8],
}

fn records(d: &[u8]) -> Result<Vec<Record<'_>>, SanitizeError> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < d.len() {
        if out.len() >= MAX_RECORDS {
            return Err(fail("the workbook stream has too many records"));
        }
        let (Some(id), Some(len)) = (u16_at(d, at), u16_at(d, at + 2)) else {
            // A stream's last sector may be padded past its last record.
            break;
        };
        let Some(body) = d.get(at + 4..at + 4 + usize::from(len)) else {
            break;
        };
        out.push(Record { at, id, body });
        at += 4 + usize::from(len);
    }
    Ok(out)
}

/// A sheet as the globals declare it.
struct Sheet {
    /// Where its BOUNDSHEET record starts in the stream.
    record: usize,
    /// Where its substream starts in the original stream.
    start: usize,
    /// BOUNDSHEET `dt`: 0 worksheet or dialog, 1 macro sheet, 2 chart,
    /// 6 VBA module.
    dt: u8,
    name: String,
    /// Where its substream ends (the next one's start).
    end: usize,
    /// A macro sheet or VBA module: emptied.
    code: bool,
}

/// What the rewrite did.
pub(super) struct Rewritten {
    pub(super) stream: Vec<u8>,
    /// The sheets emptied, by name.
    pub(super) sheets: Vec<String>,
    /// Defined names that lost their macro flags.
    pub(super) names: Vec<String>,
}

/// Empties the code sheets of a BIFF8 workbook stream. `None` when there is
/// nothing to remove (the stream is then kept as it is).
pub(super) fn disarm(d: &[u8]) -> Result<Option<Rewritten>, SanitizeError> {
    let recs = records(d)?;
    let first = recs
        .first()
        .ok_or_else(|| fail("the workbook stream is empty"))?;
    if first.id != BOF || first.at != 0 {
        return Err(fail("the workbook stream does not start with a BOF record"));
    }
    if u16_at(first.body, 0) != Some(0x0600) {
        return Err(fail(
            "the workbook is not BIFF8 (Excel 97-2003); older workbooks are not rebuilt",
        ));
    }
    let globals_end = recs
        .iter()
        .position(|r| r.id == EOF)
        .ok_or_else(|| fail("the workbook globals have no EOF record"))?;
    let mut sheets = Vec::new();
    let mut macro_names = Vec::new();
    for r in recs.iter().take(globals_end) {
        match r.id {
            FILEPASS => return Err(fail("the workbook is encrypted")),
            BOUNDSHEET => {
                let start =
                    u32_at(r.body, 0).ok_or_else(|| fail("a BOUNDSHEET record is cut short"))?;
                sheets.push(Sheet {
                    record: r.at,
                    start: start as usize,
                    dt: r.body.get(5).copied().unwrap_or(0),
                    name: crate::extract::ole2::sheet_name(r.body.get(6..)),
                    end: 0,
                    code: false,
                });
            }
            // NAME: grbit bit 1 fFunc, bit 2 fOB, bit 3 fProc.
            NAME if u16_at(r.body, 0).is_some_and(|g| g & 0x000e != 0) => macro_names.push(*r),
            _ => {}
        }
    }
    // The substreams, in stream order; each runs to the next one (or the
    // end of what was read).
    let starts: Vec<usize> = recs.iter().map(|r| r.at).collect();
    let data_end = recs.last().map_or(0, |r| r.at + 4 + r.body.len());
    sheets.sort_by_key(|s| s.start);
    let globals_len = recs.get(globals_end + 1).map_or(data_end, |r| r.at);
    let next_starts: Vec<usize> = sheets
        .iter()
        .skip(1)
        .map(|s| s.start)
        .chain(std::iter::once(data_end))
        .collect();
    let mut previous = None;
    for (sheet, end) in sheets.iter_mut().zip(next_starts) {
        if sheet.start < globals_len || starts.binary_search(&sheet.start).is_err() {
            return Err(fail(format!(
                "sheet `{}` does not start at a record after the globals",
                sheet.name
            )));
        }
        if previous == Some(sheet.start) {
            return Err(fail("two sheets share one substream"));
        }
        previous = Some(sheet.start);
        sheet.end = end;
        let bof_dt = u16_at(d, sheet.start + 4 + 2);
        sheet.code = sheet.dt == 1 || sheet.dt == 6 || bof_dt == Some(BOF_MACRO);
    }
    if !sheets.iter().any(|s| s.code) && macro_names.is_empty() {
        return Ok(None);
    }

    // Globals first (same length: only fields are changed), then each
    // substream in its original order.
    let mut out = d.get(..globals_len).unwrap_or_default().to_vec();
    let mut names = Vec::new();
    for r in &macro_names {
        let grbit = u16_at(r.body, 0).unwrap_or(0) & !0x000e;
        set(&mut out, r.at + 4, &grbit.to_le_bytes());
        names.push(defined_name(r.body));
    }
    let mut emptied = Vec::new();
    for sheet in &sheets {
        let new_start = out.len();
        let pos = u32::try_from(new_start).map_err(|_| fail("the workbook stream is too large"))?;
        let b = sheet.record + 4;
        set(&mut out, b, &pos.to_le_bytes());
        if sheet.code {
            set(&mut out, b + 5, &[0]); // a worksheet now
            let bof = recs
                .iter()
                .find(|r| r.at == sheet.start)
                .map(|r| r.body)
                .unwrap_or_default();
            empty_worksheet(&mut out, bof);
            emptied.push(sheet.name.clone());
            continue;
        }
        let delta = new_start as i64 - sheet.start as i64;
        let first = starts.partition_point(|&s| s < sheet.start);
        for r in recs.iter().skip(first).take_while(|r| r.at < sheet.end) {
            let at = out.len();
            out.extend_from_slice(d.get(r.at..r.at + 4 + r.body.len()).unwrap_or_default());
            if r.id == INDEX && delta != 0 {
                // rgibRw: absolute positions of the DBCELL records, after
                // 16 bytes of row range and reserved fields.
                let mut p = at + 4 + 16;
                while p + 4 <= at + 4 + r.body.len() {
                    let old = u32_at(&out, p).unwrap_or(0);
                    let new = u32::try_from(i64::from(old) + delta).unwrap_or(0);
                    set(&mut out, p, &new.to_le_bytes());
                    p += 4;
                }
            }
        }
    }
    Ok(Some(Rewritten {
        stream: out,
        sheets: emptied,
        names,
    }))
}

/// Overwrites bytes of `out` at `at` (within what it holds).
fn set(out: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = out.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

/// Appends an empty worksheet substream, its BOF made from `bof` (the
/// replaced sheet's) with the worksheet type.
fn empty_worksheet(out: &mut Vec<u8>, bof: &[u8]) {
    let mut b = [0u8; 16];
    for (dst, src) in b.iter_mut().zip(bof) {
        *dst = *src;
    }
    set(&mut b, 0, &0x0600u16.to_le_bytes());
    set(&mut b, 2, &0x0010u16.to_le_bytes());
    put(out, BOF, &b);
    // DIMENSIONS: no rows, no columns.
    put(out, DIMENSIONS, &[0u8; 14]);
    // WINDOW2: Excel's defaults for a worksheet (gridlines, headers, zero
    // values, outline symbols), top left cell A1, header colour 64.
    let mut w = [0u8; 18];
    set(&mut w, 0, &0x06b6u16.to_le_bytes());
    set(&mut w, 6, &64u16.to_le_bytes());
    put(out, WINDOW2, &w);
    put(out, EOF, &[]);
}

fn put(out: &mut Vec<u8>, id: u16, body: &[u8]) {
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&(body.len() as u16).to_le_bytes());
    out.extend_from_slice(body);
}

/// The name of a NAME record: a built-in name's code (`Auto_Open`), or
/// its characters.
fn defined_name(body: &[u8]) -> String {
    let builtin = u16_at(body, 0).is_some_and(|g| g & 0x0020 != 0);
    let count = usize::from(body.get(3).copied().unwrap_or(0));
    let wide = body.get(14).is_some_and(|f| f & 1 != 0);
    let chars = body.get(15..).unwrap_or_default();
    if builtin {
        return match chars.first() {
            Some(1) => "Auto_Open".into(),
            Some(2) => "Auto_Close".into(),
            Some(3) => "Extract".into(),
            Some(4) => "Database".into(),
            Some(c) => format!("built-in name {c}"),
            None => "built-in name".into(),
        };
    }
    text(chars, count, wide)
}

fn text(chars: &[u8], count: usize, wide: bool) -> String {
    let s: String = if wide {
        let units: Vec<u16> = crate::bytes::utf16le(chars).take(count).collect();
        String::from_utf16_lossy(&units)
    } else {
        chars.iter().take(count).map(|b| char::from(*b)).collect()
    };
    s.chars().filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: u16, body: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        put(&mut v, id, body);
        v
    }

    fn bof(dt: u16) -> Vec<u8> {
        let mut b = vec![0u8; 16];
        b[0..2].copy_from_slice(&0x0600u16.to_le_bytes());
        b[2..4].copy_from_slice(&dt.to_le_bytes());
        rec(BOF, &b)
    }

    fn boundsheet(pos: u32, dt: u8, name: &str) -> Vec<u8> {
        let mut b = pos.to_le_bytes().to_vec();
        b.extend_from_slice(&[0, dt, name.len() as u8, 0]);
        b.extend_from_slice(name.as_bytes());
        rec(BOUNDSHEET, &b)
    }

    /// Globals declaring `sheets` (dt, name, body records), then the
    /// substreams; returns the stream.
    fn workbook(sheets: &[(u8, &str, Vec<u8>)]) -> Vec<u8> {
        let mut globals_len = bof(0x0005).len() + rec(EOF, &[]).len();
        for (dt, name, _) in sheets {
            globals_len += boundsheet(0, *dt, name).len();
        }
        let mut out = bof(0x0005);
        let mut pos = globals_len;
        let mut subs = Vec::new();
        for (dt, name, body) in sheets {
            out.extend(boundsheet(pos as u32, *dt, name));
            let mut s = bof(if *dt == 1 { BOF_MACRO } else { 0x0010 });
            s.extend_from_slice(body);
            s.extend(rec(EOF, &[]));
            pos += s.len();
            subs.push(s);
        }
        out.extend(rec(EOF, &[]));
        for s in subs {
            out.extend(s);
        }
        out
    }

    fn positions(d: &[u8]) -> Vec<(u32, u8)> {
        records(d)
            .unwrap()
            .iter()
            .filter(|r| r.id == BOUNDSHEET)
            .map(|r| (u32_at(r.body, 0).unwrap(), r.body[5]))
            .collect()
    }

    #[test]
    fn a_macro_sheet_becomes_an_empty_worksheet_and_later_sheets_move() {
        // A FORMULA-like record standing for the macro; an INDEX in the
        // sheet after it pointing at its own DBCELL.
        let macro_body = rec(0x0006, &[0xaa; 40]);
        let data = workbook(&[
            (0, "Data", rec(0x0204, b"xx")),
            (1, "Macro1", macro_body),
            (0, "Last", Vec::new()),
        ]);
        let before = positions(&data);
        let r = disarm(&data).unwrap().unwrap();
        assert_eq!(r.sheets, ["Macro1"]);
        let after = positions(&r.stream);
        assert_eq!(after[0], before[0]);
        assert_eq!(after[1].1, 0);
        // Every sheet position is a BOF of a worksheet.
        for (pos, _) in &after {
            let p = *pos as usize;
            assert_eq!(u16_at(&r.stream, p), Some(BOF));
            assert_eq!(u16_at(&r.stream, p + 6), Some(0x0010));
        }
        assert!(!r.stream.windows(40).any(|w| w == [0xaa; 40]));
        assert!(disarm(&r.stream).unwrap().is_none(), "idempotent");
    }

    #[test]
    fn a_bof_that_says_macro_sheet_counts_even_when_the_boundsheet_does_not() {
        let mut data = workbook(&[(0, "Sheet1", rec(0x0006, &[0xbb; 8]))]);
        // The substream's BOF dt is made a macro sheet.
        let pos = positions(&data)[0].0 as usize;
        data[pos + 6..pos + 8].copy_from_slice(&BOF_MACRO.to_le_bytes());
        let r = disarm(&data).unwrap().unwrap();
        assert_eq!(r.sheets, ["Sheet1"]);
        assert!(!r.stream.windows(8).any(|w| w == [0xbb; 8]));
    }

    #[test]
    fn damaged_layouts_fail_and_plain_workbooks_are_left_alone() {
        let plain = workbook(&[(0, "Data", Vec::new())]);
        assert!(disarm(&plain).unwrap().is_none());
        let mut bad = workbook(&[(1, "M", Vec::new())]);
        let p = records(&bad)
            .unwrap()
            .iter()
            .find(|r| r.id == BOUNDSHEET)
            .unwrap()
            .at;
        bad[p + 4..p + 8].copy_from_slice(&3u32.to_le_bytes());
        assert!(disarm(&bad).is_err());
        assert!(disarm(b"").is_err());
        assert!(disarm(&rec(EOF, &[])).is_err());
    }
}
