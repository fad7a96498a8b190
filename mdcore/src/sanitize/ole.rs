//! Legacy Office (Word 97-2003 `.doc`/`.dot`, Excel 97-2003 `.xls`/`.xlt`
//! compound files): the file is rebuilt stream by stream into a new
//! compound file, without the storages that hold VBA projects (`Macros` in
//! Word, `_VBA_PROJECT_CUR` in Excel, and any storage with a VBA `dir`
//! stream). What the file does not say with its streams (unallocated
//! sectors, bytes after the last sector) does not reach the copy.
//!
//! Excel 4.0 (XLM) macro sheets live inside the workbook stream itself:
//! they are emptied into blank worksheets by rewriting the BIFF8 records
//! ([`super::xls`]); an Excel 5/95 workbook with macro sheets fails (it is
//! never passed through). PowerPoint and other compound files have no
//! sanitizer.

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use super::{SanitizeError, Sanitized, Tally};
use crate::extract::ole2::{vba_storages, xlm_sheets};

const MAGIC: [u8; 8] = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];
/// Bytes of streams one file may hold for it to be rebuilt.
const MAX_STREAMS: u64 = 512 << 20;
/// Storages that hold macro projects, by name.
const MACRO_STORAGES: &[&str] = &["macros", "_vba_project_cur"];

fn fail(m: impl Into<String>) -> SanitizeError {
    SanitizeError::Failed(m.into())
}

type Cfb<'a> = cfb::CompoundFile<Cursor<&'a [u8]>>;

/// The main stream of a Word or Excel compound file: `doc` or `xls`.
fn office_kind(file: &Cfb<'_>) -> Option<&'static str> {
    let has = |n: &str| file.is_stream(Path::new("/").join(n));
    if has("WordDocument") {
        Some("doc")
    } else if has("Workbook") || has("Book") {
        Some("xls")
    } else {
        None
    }
}

/// Whether `data` is a Word or Excel compound file.
pub(super) fn is_legacy_office(data: &[u8]) -> bool {
    data.starts_with(&MAGIC)
        && cfb::CompoundFile::open(Cursor::new(data))
            .ok()
            .is_some_and(|f| office_kind(&f).is_some())
}

pub(super) fn sanitize(data: &[u8]) -> Result<Sanitized, SanitizeError> {
    let mut file = cfb::CompoundFile::open(Cursor::new(data))
        .map_err(|e| fail(format!("not a readable compound file: {e}")))?;
    let ext = office_kind(&file)
        .ok_or_else(|| fail("a compound file that is neither a Word document nor a workbook"))?;
    let entries: Vec<(PathBuf, bool, cfb::Entry)> = file
        .walk()
        .map(|e| (e.path().to_path_buf(), e.is_stream(), e))
        .collect();
    let streams: Vec<PathBuf> = entries
        .iter()
        .filter(|(_, s, _)| *s)
        .map(|(p, _, _)| p.clone())
        .collect();
    // The storages that go: a VBA storage's parent (the project), or the
    // VBA storage itself at the root; and the macro storages by name.
    let mut gone: Vec<PathBuf> = Vec::new();
    for vba in vba_storages(&streams) {
        let project = match vba.parent() {
            Some(p) if p != Path::new("/") => p.to_path_buf(),
            _ => vba,
        };
        gone.push(project);
    }
    for (p, is_stream, _) in &entries {
        let named = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| MACRO_STORAGES.contains(&n.to_ascii_lowercase().as_str()));
        if !is_stream && named {
            gone.push(p.clone());
        }
    }
    gone.sort();
    gone.dedup();
    let removed = |p: &Path| gone.iter().any(|g| p.starts_with(g));

    // A workbook's Excel 4.0 macro sheets and VBA module sheets are emptied
    // into blank worksheets (BIFF8); the rewritten stream replaces it.
    let mut tally = Tally::default();
    let mut workbook: Option<(PathBuf, Vec<u8>)> = None;
    if ext == "xls" {
        let book = ["/Workbook", "/Book"]
            .iter()
            .find(|n| file.is_stream(n))
            .map(PathBuf::from)
            .ok_or_else(|| fail("the workbook stream is missing"))?;
        let stream = read(&mut file, &book, MAX_STREAMS)?;
        let biff8 = book == Path::new("/Workbook");
        if !biff8 && !xlm_sheets(&stream).is_empty() {
            return Err(fail(
                "an Excel 5/95 workbook with macro sheets, which is not rebuilt",
            ));
        }
        if biff8 && let Some(rw) = super::xls::disarm(&stream)? {
            for sheet in &rw.sheets {
                tally.add("removed", "macro sheet", format!("`{sheet}`"));
            }
            for name in &rw.names {
                tally.add("sanitized", "macro name", name.clone());
            }
            workbook = Some((book, rw.stream));
        }
    }

    for g in &gone {
        tally.add("removed", "macro", g.display().to_string());
    }
    let mut out = cfb::CompoundFile::create_with_version(cfb::Version::V3, Cursor::new(Vec::new()))
        .map_err(|e| fail(format!("can not start the copy: {e}")))?;
    out.set_storage_clsid("/", *file.root_entry().clsid())
        .map_err(|e| fail(format!("can not write the root entry: {e}")))?;
    let mut total = 0u64;
    for (p, is_stream, e) in &entries {
        if p == Path::new("/") || removed(p) {
            continue;
        }
        if *is_stream {
            let data = match &workbook {
                Some((book, rewritten)) if book == p => rewritten.clone(),
                _ => read(&mut file, p, MAX_STREAMS.saturating_sub(total))?,
            };
            total = total.saturating_add(data.len() as u64);
            out.create_stream(p)
                .and_then(|mut s| s.write_all(&data))
                .map_err(|err| fail(format!("can not write stream {}: {err}", p.display())))?;
        } else {
            out.create_storage(p)
                .and_then(|()| out.set_storage_clsid(p, *e.clsid()))
                .map_err(|err| fail(format!("can not write storage {}: {err}", p.display())))?;
        }
        if e.state_bits() != 0 {
            out.set_state_bits(p, e.state_bits())
                .map_err(|err| fail(format!("can not write {}: {err}", p.display())))?;
        }
    }
    out.flush()
        .map_err(|e| fail(format!("can not finish the copy: {e}")))?;
    let data = out.into_inner().into_inner();
    // Nothing of a project may remain; checked on the copy.
    let check = cfb::CompoundFile::open(Cursor::new(data.as_slice()))
        .map_err(|e| fail(format!("the copy does not read back: {e}")))?;
    let left: Vec<PathBuf> = check
        .walk()
        .filter(|e| e.is_stream())
        .map(|e| e.path().to_path_buf())
        .collect();
    if let Some(v) = vba_storages(&left).first() {
        return Err(fail(format!(
            "a VBA project is still in the copy ({})",
            v.display()
        )));
    }
    if let Some((book, _)) = &workbook {
        let mut check = check;
        let stream = read(&mut check, book, MAX_STREAMS)?;
        let sheets = xlm_sheets(&stream);
        if !sheets.is_empty() {
            return Err(fail(format!(
                "macro sheets are still in the copy ({})",
                sheets.join(", ")
            )));
        }
    }
    Ok(Sanitized {
        data,
        converted_to: ext.into(),
        details: tally.into_details(),
    })
}

fn read(file: &mut Cfb<'_>, p: &Path, cap: u64) -> Result<Vec<u8>, SanitizeError> {
    let mut out = Vec::new();
    file.open_stream(p)
        .and_then(|s| s.take(cap.saturating_add(1)).read_to_end(&mut out))
        .map_err(|e| fail(format!("stream {} can not be read: {e}", p.display())))?;
    if out.len() as u64 > cap {
        return Err(fail(format!(
            "the streams hold more than {} MiB",
            MAX_STREAMS >> 20
        )));
    }
    Ok(out)
}
