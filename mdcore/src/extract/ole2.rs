//! OLE2 compound files ([MS-CFB]) through the `cfb` crate: legacy Office
//! documents (`.doc`, `.xls`, `.ppt`), Windows Installer packages, Outlook
//! `.msg` messages, and the `vbaProject.bin` inside macro-enabled OOXML.
//!
//! Every stream is a child, named by its storage path (MSI's packed stream
//! names decoded, control characters dropped). On top of the raw streams:
//! - VBA projects: each module's source decompressed ([MS-OVBA]) as a text
//!   child `<storage>/<module>.vba`, so rules match macro source; the module
//!   streams themselves stay children too (p-code survives "VBA stomping");
//! - `\x01Ole10Native` (OLE Package) objects: the embedded file as a child
//!   named by its label;
//! - PowerPoint's embedded objects (ExOleObjStg, zlib-compressed or not);
//! - Outlook `.msg`: attachment data named by the attachment's file name,
//!   Unicode properties (bodies, subjects) as UTF-8 text;
//! - Excel 4.0 macro sheets are named in a note on the workbook;
//! - an encrypted document (Word/Excel RC4 or CryptoAPI, PowerPoint, an
//!   encrypted OOXML package) is 15: its streams are still children, but
//!   their content is ciphertext.
//!
//! Where the file's allocated sectors end is computed from its FAT, so
//! bytes appended after the compound file are searched for archives.

use std::io::{self, Cursor, Read};
use std::path::{Component, Path, PathBuf};

use super::{Child, Cx, Entry, Extractor, Flow, Issue, Sink, read_child, sanitize_name, vba};
use crate::bytes::{le_u16, le_u32};
use crate::verdict::ResultCode;

pub(crate) struct Ole2;

type File<'a> = cfb::CompoundFile<Cursor<&'a [u8]>>;

impl Extractor for Ole2 {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let end = allocated_end(data);
        if let Some(end) = end {
            cx.consumed(end.min(data.len()));
        }
        let mut file = cfb::CompoundFile::open(Cursor::new(data))
            .map_err(|e| Issue::corrupt(format!("not a readable OLE2 compound file: {e}")))?;
        let streams: Vec<PathBuf> = file
            .walk()
            .filter(|e| e.is_stream())
            .map(|e| e.path().to_path_buf())
            .collect();
        let mut survey = Survey::default();
        for path in &streams {
            let mut extra = Vec::new();
            let child = stream_child(&mut file, path, cx, &mut survey, &mut extra);
            let stop = child.1;
            if sink(Entry::Ready(child.0)) == Flow::Stop {
                return Ok(());
            }
            for c in extra {
                if sink(Entry::Ready(c)) == Flow::Stop {
                    return Ok(());
                }
            }
            if let Some(s) = stop {
                return Err(Issue::stopped(s));
            }
        }
        for storage in vba_storages(&streams) {
            for child in vba_sources(&mut file, &storage, &streams, cx) {
                if sink(Entry::Ready(child)) == Flow::Stop {
                    return Ok(());
                }
            }
        }
        if !survey.macro_sheets.is_empty() {
            cx.note(format!(
                "Excel 4.0 (XLM) macro sheets: {}",
                survey.macro_sheets.join(", ")
            ));
        }
        if let Some(how) = survey.encrypted {
            return Err(Issue::new(
                ResultCode::PasswordProtectedDocument,
                format!("password-protected document ({how}); its content was not examined"),
            ));
        }
        match end {
            Some(end) if end > data.len() => Err(Issue::corrupt(format!(
                "the compound file is cut short: its FAT allocates sectors up to offset {end}, the file ends at {}",
                data.len()
            ))),
            _ => Ok(()),
        }
    }
}

/// What the streams told about the document as a whole.
#[derive(Default)]
struct Survey {
    encrypted: Option<&'static str>,
    macro_sheets: Vec<String>,
}

/// Reads one stream into a child (and any objects embedded in it into
/// `extra`); the second value is a tree-wide limit that stopped the read.
fn stream_child(
    file: &mut File<'_>,
    path: &Path,
    cx: &Cx<'_>,
    survey: &mut Survey,
    extra: &mut Vec<Child>,
) -> (Child, Option<crate::limits::Stop>) {
    let name = display(path);
    let leaf = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let mut stream = match file.open_stream(path) {
        Ok(s) => s,
        Err(e) => {
            let issue = Issue::corrupt(format!("the stream can not be read: {e}"));
            return (Child::failed(name, issue), None);
        }
    };
    let produced = read_child(&mut stream, cx.budget);
    let stop = produced.stop;
    let bytes: &[u8] = &produced.blob;
    match leaf.as_str() {
        // FibBase.fEncrypted (0x0100): [MS-DOC] 2.5.2.
        "WordDocument"
            if le_u16(bytes, 0) == Some(0xa5ec)
                && le_u16(bytes, 0x0a).is_some_and(|f| f & 0x0100 != 0) =>
        {
            survey.encrypted = Some("Word document encryption");
        }
        "Workbook" | "Book" => excel_globals(bytes, survey),
        // CurrentUserAtom.headerToken: [MS-PPT] 2.3.2.
        "Current User" if le_u32(bytes, 12) == Some(0xf3d1_c4df) => {
            survey.encrypted = Some("PowerPoint encryption");
        }
        "EncryptedPackage" => survey.encrypted = Some("encrypted OOXML package"),
        "PowerPoint Document" => ppt_objects(bytes, &name, cx, extra),
        "\u{1}Ole10Native" => {
            if let Some(c) = ole10native(bytes, &name, cx) {
                extra.push(c);
            }
        }
        _ => {}
    }
    // Outlook .msg ([MS-OXMSG]): Unicode string properties as UTF-8 text,
    // attachment data under the attachment's own file name.
    if leaf.starts_with("__substg1.0_") && leaf.ends_with("001F") {
        let text = crate::bytes::utf16le_lossy(bytes);
        let p = read_child(&mut text.as_bytes(), cx.budget);
        let mut child = p.into_child(format!("{name}.txt"));
        child.note = Some("an Outlook message property, decoded from UTF-16".into());
        return (child, stop);
    }
    let mut child = produced.into_child(name);
    if leaf == "__substg1.0_37010102"
        && let Some(parent) = path.parent()
        && let Some(file_name) = attachment_name(file, parent)
    {
        child.note = Some(format!("Outlook attachment stream `{}`", child.name));
        child.name = format!("{}/{}", display(parent), sanitize_name(&file_name));
    }
    (child, stop)
}

/// The display name of a stream: its storage path, MSI-packed names
/// decoded, control characters (`\x05SummaryInformation`) dropped.
fn display(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => n.to_str().map(msi_name),
            _ => None,
        })
        .collect();
    sanitize_name(&parts.join("/"))
}

/// Decodes an MSI stream name: characters U+3800–U+47FF pack two characters
/// of a 64-letter alphabet, U+4800–U+483F one, and U+4840 marks a table
/// (shown as `!`), as msitools and 7-Zip decode them.
pub(crate) fn msi_name(raw: &str) -> String {
    const ALPHABET: &[u8; 64] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._";
    let letter = |i: u32| {
        ALPHABET
            .get((i & 0x3f) as usize)
            .map_or('_', |b| char::from(*b))
    };
    let mut out = String::new();
    for c in raw.chars() {
        let u = u32::from(c);
        match u {
            0x3800..0x4800 => {
                out.push(letter(u - 0x3800));
                out.push(letter((u - 0x3800) >> 6));
            }
            0x4800..0x4840 => out.push(letter(u - 0x4800)),
            0x4840 => out.push('!'),
            _ => out.push(c),
        }
    }
    out
}

/// The BIFF8 workbook globals ([MS-XLS] 2.1.4): a FILEPASS record means the
/// workbook is encrypted; BOUNDSHEET records of type 1 are XLM macro sheets.
fn excel_globals(d: &[u8], survey: &mut Survey) {
    let mut at = 0usize;
    // The globals substream ends at the first EOF record.
    for _ in 0..100_000 {
        let (Some(id), Some(len)) = (le_u16(d, at), le_u16(d, at + 2)) else {
            return;
        };
        let body = d.get(at + 4..at + 4 + usize::from(len)).unwrap_or_default();
        match id {
            0x002f => survey.encrypted = Some("Excel workbook encryption"),
            // BOUNDSHEET: lbPlyPos (4), hsState (1), dt (1), then the name.
            0x0085 if body.get(5) == Some(&1) => {
                let state = match body.get(4).map(|s| s & 3) {
                    Some(1) => " (hidden)",
                    Some(2) => " (very hidden)",
                    _ => "",
                };
                survey
                    .macro_sheets
                    .push(format!("`{}`{state}", sheet_name(body.get(6..))));
            }
            0x000a => return,
            _ => {}
        }
        at += 4 + usize::from(len);
    }
}

/// A ShortXLUnicodeString: a count, a flag byte, then 8- or 16-bit chars.
pub(crate) fn sheet_name(d: Option<&[u8]>) -> String {
    let d = d.unwrap_or_default();
    let count = usize::from(d.first().copied().unwrap_or(0));
    let wide = d.get(1).is_some_and(|f| f & 1 != 0);
    let chars = d.get(2..).unwrap_or_default();
    let name = if wide {
        crate::bytes::utf16le_lossy(chars.get(..count * 2).unwrap_or(chars))
    } else {
        chars
            .get(..count)
            .unwrap_or(chars)
            .iter()
            .map(|b| char::from(*b))
            .collect()
    };
    name.chars().filter(|c| !c.is_control()).collect()
}

/// ExOleObjStg records ([MS-PPT] 2.10.34) in a PowerPoint document stream:
/// instance 1 holds a 4-byte size and a zlib stream, instance 0 the raw
/// compound file of the embedded object.
fn ppt_objects(d: &[u8], parent: &str, cx: &Cx<'_>, extra: &mut Vec<Child>) {
    let mut at = 0usize;
    let mut n = 0u32;
    while let (Some(ver_inst), Some(kind), Some(len)) =
        (le_u16(d, at), le_u16(d, at + 2), le_u32(d, at + 4))
    {
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if ver_inst & 0x000f == 0x000f {
            // A container: its children follow its header.
            at += 8;
            continue;
        }
        let Some(body) = (at + 8).checked_add(len).and_then(|end| d.get(at + 8..end)) else {
            return;
        };
        if kind == 0x1011 {
            n += 1;
            let name = format!("{parent}/ExOleObjStg{n}");
            let produced = if ver_inst >> 4 == 1 {
                let z = body.get(4..).unwrap_or_default();
                read_child(&mut flate2::read::ZlibDecoder::new(z), cx.budget)
            } else {
                read_child(&mut &body[..], cx.budget)
            };
            let mut child = produced.into_child(name);
            child.note = Some("a PowerPoint embedded object".into());
            extra.push(child);
        }
        at += 8 + len;
    }
}

/// The file inside an OLE Package object (`\x01Ole10Native`): a size, a
/// type, the label, the source path, the temporary path and the data.
/// Anything else is native data of another class, kept whole.
fn ole10native(d: &[u8], parent: &str, cx: &Cx<'_>) -> Option<Child> {
    let total = usize::try_from(le_u32(d, 0)?).ok()?;
    let body = d.get(4..)?;
    let body = body.get(..total).unwrap_or(body);
    let (label, payload) = package(body).unwrap_or((String::new(), body));
    let label = label
        .rsplit(['/', '\\'])
        .find(|s| !s.is_empty())
        .map(sanitize_name)
        .unwrap_or_else(|| "embedded.bin".into());
    let produced = read_child(&mut &payload[..], cx.budget);
    let name = match parent_of(parent) {
        "" => label,
        dir => format!("{dir}/{label}"),
    };
    let mut child = produced.into_child(name);
    child.note = Some("the file inside an OLE Package object (Ole10Native)".into());
    Some(child)
}

pub(crate) fn package(d: &[u8]) -> Option<(String, &[u8])> {
    if le_u16(d, 0)? != 2 {
        return None;
    }
    let (label, rest) = cstr(d.get(2..)?)?;
    let (path, rest) = cstr(rest)?;
    let tmp_len = usize::try_from(le_u32(rest, 4)?).ok()?;
    let rest = rest.get(8usize.checked_add(tmp_len)?..)?;
    let size = usize::try_from(le_u32(rest, 0)?).ok()?;
    let data = rest.get(4..)?;
    let data = data.get(..size).unwrap_or(data);
    let name = if label.is_empty() { path } else { label };
    Some((name, data))
}

fn cstr(d: &[u8]) -> Option<(String, &[u8])> {
    let n = memchr::memchr(0, d)?;
    let s = d.get(..n)?.iter().map(|b| char::from(*b)).collect();
    Some((s, d.get(n + 1..)?))
}

fn parent_of(name: &str) -> &str {
    name.rsplit_once('/').map_or("", |(p, _)| p)
}

/// An Outlook attachment's file name: the long name, else the 8.3 one.
fn attachment_name(file: &mut File<'_>, storage: &Path) -> Option<String> {
    for prop in ["3707001F", "3707001E", "3704001F", "3704001E"] {
        let Ok(s) = file.open_stream(storage.join(format!("__substg1.0_{prop}"))) else {
            continue;
        };
        let mut raw = Vec::new();
        if s.take(1024).read_to_end(&mut raw).is_err() {
            continue;
        }
        let name = if prop.ends_with('F') {
            crate::bytes::utf16le_lossy(&raw)
        } else {
            raw.iter().map(|b| char::from(*b)).collect()
        };
        let name = name.trim_end_matches('\0').trim().to_string();
        if !name.is_empty() {
            return Some(name);
        }
    }
    None
}

/// The XLM macro sheets a BIFF8 `Workbook` stream declares (for the
/// sanitizer).
pub(crate) fn xlm_sheets(workbook: &[u8]) -> Vec<String> {
    let mut survey = Survey::default();
    excel_globals(workbook, &mut survey);
    survey.macro_sheets
}

/// Storages holding a VBA project: those with a `dir` stream.
pub(crate) fn vba_storages(streams: &[PathBuf]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = streams
        .iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.eq_ignore_ascii_case("dir"))
        })
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    out.dedup();
    out
}

/// Reads a whole stream (already charged as a child), up to `cap` bytes.
fn read_stream(file: &mut File<'_>, path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    file.open_stream(path)?.take(cap).read_to_end(&mut out)?;
    Ok(out)
}

/// The source of every module of the VBA project in `storage`.
fn vba_sources(
    file: &mut File<'_>,
    storage: &Path,
    streams: &[PathBuf],
    cx: &Cx<'_>,
) -> Vec<Child> {
    let cap = cx.budget.limits.max_object_size;
    let cap_usize = usize::try_from(cap).unwrap_or(usize::MAX);
    let mut modules = Vec::new();
    let mut dir_note = None;
    match read_stream(file, &storage.join("dir"), cap) {
        Ok(raw) => {
            let (dir, err) = vba::decompress(&raw, 16 << 20);
            modules = vba::modules(&dir);
            if let Some(e) = err {
                dir_note = Some(format!("the VBA project's `dir` stream is damaged ({e:?})"));
            }
        }
        Err(e) => {
            dir_note = Some(format!(
                "the VBA project's `dir` stream can not be read: {e}"
            ))
        }
    }
    let storage_name = display(storage);
    let mut out = Vec::new();
    if modules.is_empty() {
        dir_note.get_or_insert_with(|| "the VBA project's `dir` stream lists no modules".into());
        // No usable module list: find the source in every other stream of
        // the storage, as olevba does.
        for path in streams.iter().filter(|p| p.parent() == Some(storage)) {
            let leaf = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if leaf.eq_ignore_ascii_case("dir") || leaf.starts_with("_VBA_PROJECT") {
                continue;
            }
            let Ok(raw) = read_stream(file, path, cap) else {
                continue;
            };
            if let Some(at) = vba::find_source(&raw) {
                modules.push(vba::Module {
                    name: leaf.to_string(),
                    stream: leaf.to_string(),
                    offset: u32::try_from(at).unwrap_or(u32::MAX),
                });
            }
        }
    }
    let names: Vec<&str> = modules.iter().map(|m| m.name.as_str()).collect();
    cx.note(format!(
        "VBA macros in `{storage_name}`: {} module(s){}{}",
        modules.len(),
        if names.is_empty() {
            String::new()
        } else {
            format!(" ({})", names.join(", "))
        },
        dir_note.map(|n| format!("; {n}")).unwrap_or_default()
    ));
    for m in &modules {
        let name = format!("{storage_name}/{}.vba", sanitize_name(&m.name));
        let raw = match read_stream(file, &storage.join(&m.stream), cap) {
            Ok(r) => r,
            Err(e) => {
                out.push(Child::failed(
                    name,
                    Issue::corrupt(format!(
                        "the module stream `{}` can not be read: {e}",
                        m.stream
                    )),
                ));
                continue;
            }
        };
        let at = usize::try_from(m.offset).unwrap_or(usize::MAX);
        let (source, err) = vba::decompress(raw.get(at..).unwrap_or_default(), cap_usize);
        let produced = read_child(&mut &source[..], cx.budget);
        let mut child = produced.into_child(name);
        child.note = Some(format!("VBA source of module `{}`, decompressed", m.name));
        if child.issue.is_none() {
            child.issue = match err {
                None => None,
                Some(vba::Error::TooLarge) => Some(Issue::new(
                    ResultCode::ExceededArchiveSize,
                    format!("VBA source cut at the size limit of {cap} bytes"),
                )),
                Some(vba::Error::Corrupt(why)) => Some(Issue::corrupt(format!(
                    "the compressed VBA source is damaged ({why}); the part before it was scanned"
                ))),
            };
        }
        out.push(child);
    }
    out
}

/// Where the compound file's allocated sectors end: one past the highest
/// sector its FAT marks in use (or that holds the FAT or DIFAT itself). May
/// lie past the end of a truncated file.
fn allocated_end(d: &[u8]) -> Option<usize> {
    let shift = u32::from(le_u16(d, 0x1e)?);
    if !(7..=16).contains(&shift) {
        return None;
    }
    let sector = 1usize << shift;
    let count = u32::try_from((d.len() >> shift).saturating_sub(1)).unwrap_or(u32::MAX);
    let offset = |id: u32| {
        usize::try_from(id)
            .ok()?
            .checked_add(1)?
            .checked_mul(sector)
    };
    let mut fat_sectors: Vec<u32> = (0..109)
        .filter_map(|i| le_u32(d, 0x4c + 4 * i))
        .filter(|id| *id < count)
        .collect();
    let mut highest = fat_sectors.iter().copied().max();
    let mut next = le_u32(d, 0x44)?;
    let mut hops = 0;
    while next < count && hops < count {
        hops += 1;
        highest = highest.max(Some(next));
        let at = offset(next)?;
        let entries = sector / 4;
        for i in 0..entries - 1 {
            if let Some(id) = le_u32(d, at + 4 * i).filter(|id| *id < count) {
                fat_sectors.push(id);
            }
        }
        next = le_u32(d, at + 4 * (entries - 1))?;
    }
    let per = u32::try_from(sector / 4).ok()?;
    for (n, id) in (0u32..).zip(&fat_sectors) {
        let at = offset(*id)?;
        for i in 0..per {
            let index = n.checked_mul(per)?.checked_add(i)?;
            // Past the end of the file only a chain link or end-of-chain
            // counts: some writers pad the FAT with zeros (cfb issue #8).
            let used = le_u32(d, at + 4 * i as usize).is_some_and(|v| {
                v != 0xffff_ffff && (index < count || (v != 0 && v != 0xffff_fffd))
            });
            if used {
                highest = highest.max(Some(index));
            }
        }
    }
    offset(highest?.checked_add(1)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msi_names_decode() {
        // "!_Tables" and "Binary.x" as msitools stores them.
        let packed: String = [0x4840u32, 0x3f7f, 0x4164, 0x422f, 0x4836]
            .iter()
            .filter_map(|u| char::from_u32(*u))
            .collect();
        assert_eq!(msi_name(&packed), "!_Tables");
        assert_eq!(msi_name("plain"), "plain");
    }
}
