//! Office Open XML packages (ECMA-376 Part 2, OPC): the package is read
//! member by member and written again without its active parts.
//!
//! - Parts removed by name: VBA projects and their signatures and data,
//!   Excel 4.0 macro sheets, ActiveX controls, embedded objects and
//!   packages, custom UI (ribbon callbacks), external workbook links (DDE
//!   links live there).
//! - Relationships removed: those to removed parts, those whose type loads
//!   code or content (`vbaProject`, `control`, `oleObject`, `package`,
//!   `attachedTemplate`, `xlMacrosheet`, `ui/extensibility`, ...), and
//!   every external one but hyperlinks (remote templates, linked images,
//!   frames). Internal parts such a relationship points at go too.
//! - In the XML parts, an element that points at a removed relationship is
//!   removed with its content (`w:attachedTemplate`, `o:OLEObject`,
//!   `w:control`, a sheet of a macro sheet, ...), except a picture's
//!   external link (`a:blip r:link`), where only the attribute goes. An
//!   embedded object's picture (`v:shape`) stays, so the page looks the same.
//! - Word fields whose command is `DDE`/`DDEAUTO`, or is computed by a
//!   nested field (`{ {QUOTE 68 68 69 ...} ...}`), lose their instruction
//!   (their last displayed result stays); `w:fldSimple` ones are unwrapped
//!   to their result. Spreadsheet formulas in DDE form (`cmd|'...'!A0`)
//!   lose the formula and keep the cached value.
//! - `[Content_Types].xml` loses the removed parts, and a macro-enabled
//!   main part becomes its macro-free type: a `.docm` comes out a valid
//!   `.docx`.
//!
//! Fails closed: a package that is encrypted, has two parts of one name,
//! an XML part that does not parse, a binary workbook (its parts can not be
//! rewritten) or no known main part is an error, not a copy.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Cursor, Read, Write};

use quick_xml::Writer;
use quick_xml::events::{BytesStart, Event};

use crate::xml::text_of;

use super::xml::{Xml, attr, utf8, xml_err};
use super::{SanitizeError, Sanitized, Tally};

/// Bytes a package may expand to for it to be sanitized.
const MAX_EXPANDED: u64 = 512 << 20;

fn fail(m: impl Into<String>) -> SanitizeError {
    SanitizeError::Failed(m.into())
}

/// Whether `data` is a zip holding `[Content_Types].xml`.
pub(super) fn is_package(data: &[u8]) -> bool {
    data.starts_with(b"PK")
        && crate::extract::zip::central_names(data)
            .is_some_and(|names| names.iter().any(|n| part_key(n) == "[content_types].xml"))
}

/// One part: its name as written back, its key (lower case, no leading
/// slash: part names compare case-insensitively) and its bytes.
struct Part {
    name: String,
    key: String,
    data: Vec<u8>,
}

fn part_key(name: &str) -> String {
    name.replace('\\', "/")
        .trim_start_matches('/')
        .to_ascii_lowercase()
}

fn read_parts(data: &[u8]) -> Result<Vec<Part>, SanitizeError> {
    let mut z = zip::ZipArchive::new(Cursor::new(data))
        .map_err(|e| fail(format!("the package is not a readable zip: {e}")))?;
    let mut parts: Vec<Part> = Vec::new();
    let mut seen = HashSet::new();
    let mut total = 0u64;
    for i in 0..z.len() {
        let f = z
            .by_index(i)
            .map_err(|e| fail(format!("member {i} can not be read: {e}")))?;
        if f.is_dir() {
            continue;
        }
        let name = f
            .name()
            .map_err(|e| fail(format!("member {i} has an unreadable name: {e}")))?
            .replace('\\', "/")
            .trim_start_matches('/')
            .to_string();
        let key = part_key(&name);
        if !seen.insert(key.clone()) {
            return Err(fail(format!("two parts are named {name}")));
        }
        let mut buf = Vec::new();
        f.take(MAX_EXPANDED.saturating_sub(total).saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(|e| fail(format!("part {name} can not be read: {e}")))?;
        total = total.saturating_add(buf.len() as u64);
        if total > MAX_EXPANDED {
            return Err(fail(format!(
                "the package expands past {} MiB",
                MAX_EXPANDED >> 20
            )));
        }
        parts.push(Part {
            name,
            key,
            data: buf,
        });
    }
    Ok(parts)
}

/// The kind of active content a part is, by its name.
fn part_kind(key: &str) -> Option<&'static str> {
    let base = key.rsplit('/').next().unwrap_or(key);
    if matches!(
        base,
        "vbaproject.bin"
            | "vbadata.xml"
            | "vbaprojectsignature.bin"
            | "vbaprojectsignatureagile.bin"
            | "vbaprojectsignaturev3.bin"
    ) {
        return Some("macro");
    }
    let under = |dir: &str| key.starts_with(dir) || key.contains(&format!("/{dir}"));
    if key.starts_with("xl/macrosheets/") {
        Some("macro sheet")
    } else if under("activex/") {
        Some("ActiveX")
    } else if under("embeddings/") {
        Some("OLE")
    } else if key.starts_with("customui/") {
        Some("custom UI")
    } else if key.starts_with("xl/externallinks/") {
        Some("external link")
    } else {
        None
    }
}

/// The kind of active content a relationship type loads, by its last
/// segment.
fn rel_kind(typ: &str) -> Option<&'static str> {
    let last = typ.rsplit('/').next().unwrap_or(typ).to_ascii_lowercase();
    Some(match last.as_str() {
        "vbaproject"
        | "wordvbadata"
        | "vbaprojectsignature"
        | "vbaprojectsignatureagile"
        | "vbaprojectsignaturev3"
        | "keymapcustomizations" => "macro",
        "xlmacrosheet" | "xlintlmacrosheet" => "macro sheet",
        "control" | "activexcontrolbinary" => "ActiveX",
        "oleobject" | "package" => "OLE",
        "extensibility" => "custom UI",
        "attachedtemplate" => "template",
        "externallink" | "externallinkpath" => "external link",
        _ => return None,
    })
}

struct Rel {
    id: String,
    typ: String,
    target: String,
    external: bool,
}

/// The part a relationships part describes (`word/_rels/document.xml.rels`
/// -> `word/document.xml`; the package's own `_rels/.rels` -> ``).
fn source_of(rels_key: &str) -> Option<String> {
    let (dir, file) = rels_key.rsplit_once('/')?;
    let base = file.strip_suffix(".rels")?;
    let parent = if dir == "_rels" {
        ""
    } else {
        dir.strip_suffix("/_rels")?
    };
    Some(if parent.is_empty() {
        base.to_string()
    } else {
        format!("{parent}/{base}")
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%'
            && let Some(h) = b.get(i + 1..i + 3)
            && let Ok(h) = std::str::from_utf8(h)
            && let Ok(v) = u8::from_str_radix(h, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(c);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The key of the part an internal target names, relative to `source`.
fn resolve(source: &str, target: &str) -> String {
    let target = percent_decode(target).replace('\\', "/");
    let target = target.split('#').next().unwrap_or("");
    let mut segs: Vec<&str> = Vec::new();
    let joined;
    let path = if let Some(abs) = target.strip_prefix('/') {
        abs
    } else {
        let dir = source.rsplit_once('/').map_or("", |(d, _)| d);
        joined = format!("{dir}/{target}");
        &joined
    };
    for s in path.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    segs.join("/").to_ascii_lowercase()
}

fn parse_rels(name: &str, data: &[u8]) -> Result<Vec<Rel>, SanitizeError> {
    let mut r = Xml::new(name, data)?;
    let mut rels = Vec::new();
    loop {
        match r.next()? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"Relationship" => {
                rels.push(Rel {
                    id: attr(&e, b"Id").unwrap_or_default(),
                    typ: attr(&e, b"Type").unwrap_or_default(),
                    target: attr(&e, b"Target").unwrap_or_default(),
                    external: attr(&e, b"TargetMode")
                        .is_some_and(|m| m.eq_ignore_ascii_case("External")),
                });
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(rels)
}

/// Macro-enabled main part types and the macro-free type and extension
/// they become; then the macro-free ones, which stay.
const MAIN_TYPES: &[(&str, &str, &str)] = &[
    (
        "application/vnd.ms-word.document.macroenabled.main+xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        "docx",
    ),
    (
        "application/vnd.ms-word.template.macroenabledtemplate.main+xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
        "dotx",
    ),
    (
        "application/vnd.ms-excel.sheet.macroenabled.main+xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        "xlsx",
    ),
    (
        "application/vnd.ms-excel.template.macroenabled.main+xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
        "xltx",
    ),
    (
        "application/vnd.ms-excel.addin.macroenabled.main+xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        "xlsx",
    ),
    (
        "application/vnd.ms-powerpoint.presentation.macroenabled.main+xml",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
        "pptx",
    ),
    (
        "application/vnd.ms-powerpoint.slideshow.macroenabled.main+xml",
        "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml",
        "ppsx",
    ),
    (
        "application/vnd.ms-powerpoint.template.macroenabled.main+xml",
        "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml",
        "potx",
    ),
    (
        "application/vnd.ms-powerpoint.addin.macroenabled.main+xml",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
        "pptx",
    ),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        "",
        "docx",
    ),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
        "",
        "dotx",
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        "",
        "xlsx",
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
        "",
        "xltx",
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
        "",
        "pptx",
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml",
        "",
        "ppsx",
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml",
        "",
        "potx",
    ),
];

/// Content types no sanitized package may still declare.
fn active_type(ct: &str) -> bool {
    let ct = ct.to_ascii_lowercase();
    [
        "macroenabled",
        "vbaproject",
        "activex",
        "oleobject",
        "vbadata",
    ]
    .iter()
    .any(|w| ct.contains(w))
}

pub(super) fn sanitize(data: &[u8]) -> Result<Sanitized, SanitizeError> {
    let mut parts = read_parts(data)?;
    let mut tally = Tally::default();
    let keys: HashSet<String> = parts.iter().map(|p| p.key.clone()).collect();

    // Relationships of every part, by the key of the relationships part.
    let mut rels: BTreeMap<String, (String, Vec<Rel>)> = BTreeMap::new();
    for p in &parts {
        if let Some(source) = p
            .key
            .ends_with(".rels")
            .then(|| source_of(&p.key))
            .flatten()
        {
            rels.insert(p.key.clone(), (source, parse_rels(&p.name, &p.data)?));
        }
    }

    // Parts removed: by name, then whatever a removed part's relationships
    // part is, and the internal targets of relationships that load active
    // content, until nothing changes.
    let mut dropped: HashMap<String, &'static str> = HashMap::new();
    for p in &parts {
        if let Some(k) = part_kind(&p.key) {
            dropped.insert(p.key.clone(), k);
        }
    }
    loop {
        let mut more: Vec<(String, &'static str)> = Vec::new();
        for (rk, (source, list)) in &rels {
            if let Some(&k) = dropped.get(source)
                && !dropped.contains_key(rk)
            {
                more.push((rk.clone(), k));
            }
            if dropped.contains_key(rk) {
                continue;
            }
            for r in list.iter().filter(|r| !r.external) {
                let t = resolve(source, &r.target);
                if let Some(k) = rel_kind(&r.typ)
                    && keys.contains(&t)
                    && !dropped.contains_key(&t)
                {
                    more.push((t, k));
                }
            }
        }
        if more.is_empty() {
            break;
        }
        dropped.extend(more);
    }

    // Relationship ids removed, by source part.
    let mut dead: HashMap<String, HashSet<String>> = HashMap::new();
    for (rk, (source, list)) in &rels {
        if dropped.contains_key(rk) {
            continue;
        }
        for r in list {
            let gone = if r.external {
                let hyperlink = r.typ.to_ascii_lowercase().ends_with("/hyperlink");
                if hyperlink && rel_kind(&r.typ).is_none() {
                    false
                } else {
                    let what = rel_kind(&r.typ).unwrap_or("external reference");
                    tally.add("removed", what, r.target.clone());
                    true
                }
            } else {
                rel_kind(&r.typ).is_some() || dropped.contains_key(&resolve(source, &r.target))
            };
            if gone {
                dead.entry(source.clone()).or_default().insert(r.id.clone());
            }
        }
    }
    for p in &parts {
        if let Some(k) = dropped.get(&p.key)
            && !p.key.ends_with(".rels")
        {
            tally.add("removed", k, p.name.clone());
        }
    }

    // The parts written back, rewritten where needed.
    let no_ids = HashSet::new();
    let mut converted_to = None;
    parts.retain(|p| !dropped.contains_key(&p.key));
    let remaining: HashSet<String> = parts.iter().map(|p| p.key.clone()).collect();
    for p in &mut parts {
        let new = if p.key == "[content_types].xml" {
            let (xml, ext) = content_types(&p.name, &p.data, &remaining)?;
            converted_to = ext;
            Some(xml)
        } else if let Some(source) = rels.get(&p.key).map(|(s, _)| s) {
            let ids = dead.get(source).unwrap_or(&no_ids);
            if ids.is_empty() {
                None
            } else {
                Some(filter_rels(&p.name, &p.data, ids)?)
            }
        } else if p.key.ends_with(".xml") || p.key.ends_with(".vml") {
            let ids = dead.get(&p.key).unwrap_or(&no_ids);
            let rw = Rewrite {
                dead: ids,
                fields: p.key.starts_with("word/"),
                formulas: p.key.starts_with("xl/"),
            };
            rewrite(&p.name, &p.data, &rw, &mut tally)?
        } else if p.key.ends_with(".bin") && p.key.starts_with("xl/") {
            return Err(fail(format!(
                "part {} is a binary workbook part, which can not be rewritten",
                p.name
            )));
        } else {
            None
        };
        if let Some(new) = new {
            p.data = new;
        }
    }
    let converted_to = converted_to.ok_or_else(|| {
        fail("the package has no main document part of a known type (docx, xlsx, pptx)")
    })?;

    // Nothing active may remain; checked on what is written, not assumed.
    for p in &parts {
        if let Some(k) = part_kind(&p.key) {
            return Err(fail(format!("part {} ({k}) is still in the copy", p.name)));
        }
    }

    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    parts.sort_by_key(|p| p.key != "[content_types].xml");
    for p in &parts {
        w.start_file(p.name.as_str(), opts)
            .and_then(|()| w.write_all(&p.data).map_err(Into::into))
            .map_err(|e| fail(format!("can not write part {}: {e}", p.name)))?;
    }
    let data = w
        .finish()
        .map_err(|e| fail(format!("can not finish the package: {e}")))?
        .into_inner();
    Ok(Sanitized {
        data,
        converted_to: converted_to.into(),
        details: tally.into_details(),
    })
}

/// `[Content_Types].xml` without the removed parts' overrides and with
/// macro-free main types; also the copy's extension.
fn content_types(
    name: &str,
    data: &[u8],
    remaining: &HashSet<String>,
) -> Result<(Vec<u8>, Option<&'static str>), SanitizeError> {
    let mut r = Xml::new(name, data)?;
    let mut w = Writer::new(Vec::with_capacity(data.len()));
    let mut ext = None;
    let exts: HashSet<&str> = remaining
        .iter()
        .filter_map(|k| k.rsplit_once('.').map(|(_, e)| e))
        .collect();
    loop {
        let ev = match r.next()? {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"Override" => {
                let part = resolve("", &attr(&e, b"PartName").unwrap_or_default());
                if !remaining.contains(&part) {
                    continue;
                }
                let ct = attr(&e, b"ContentType").unwrap_or_default();
                let lower = ct.to_ascii_lowercase();
                let Some(&(_, plain, e_ext)) = MAIN_TYPES.iter().find(|(t, _, _)| *t == lower)
                else {
                    if active_type(&ct) {
                        return Err(fail(format!(
                            "part {part} keeps the active content type {ct}"
                        )));
                    }
                    w.write_event(Event::Empty(e.into_owned()))
                        .map_err(|e| xml_err(name, e))?;
                    continue;
                };
                ext = Some(e_ext);
                if plain.is_empty() {
                    Event::Empty(e.into_owned())
                } else {
                    let mut o = BytesStart::new("Override");
                    for a in e.attributes().flatten() {
                        if a.key.local_name().as_ref() != b"ContentType" {
                            o.push_attribute(a);
                        }
                    }
                    o.push_attribute(("ContentType", plain));
                    Event::Empty(o)
                }
            }
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"Default" => {
                let ct = attr(&e, b"ContentType").unwrap_or_default();
                let x = attr(&e, b"Extension")
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                if active_type(&ct) {
                    if exts.contains(x.as_str()) {
                        return Err(fail(format!("parts of extension {x} remain, typed {ct}")));
                    }
                    continue;
                }
                Event::Empty(e.into_owned())
            }
            Event::End(e) if matches!(e.local_name().as_ref(), b"Override" | b"Default") => {
                continue;
            }
            ev => ev,
        };
        w.write_event(ev).map_err(|e| xml_err(name, e))?;
    }
    Ok((w.into_inner(), ext))
}

/// A relationships part without the relationships `ids`.
fn filter_rels(name: &str, data: &[u8], ids: &HashSet<String>) -> Result<Vec<u8>, SanitizeError> {
    let mut r = Xml::new(name, data)?;
    let mut w = Writer::new(Vec::with_capacity(data.len()));
    let mut skip = 0usize;
    loop {
        let ev = r.next()?;
        match &ev {
            Event::Eof => break,
            Event::Start(_) if skip > 0 => skip += 1,
            Event::End(_) if skip > 0 => skip -= 1,
            _ if skip > 0 => {}
            Event::Start(e) | Event::Empty(e)
                if e.local_name().as_ref() == b"Relationship"
                    && attr(e, b"Id").is_some_and(|id| ids.contains(&id)) =>
            {
                if matches!(ev, Event::Start(_)) {
                    skip = 1;
                }
            }
            _ => w.write_event(ev).map_err(|e| xml_err(name, e))?,
        }
    }
    Ok(w.into_inner())
}

/// What to change in one XML part.
struct Rewrite<'a> {
    /// Relationship ids of this part that were removed.
    dead: &'a HashSet<String>,
    /// Word fields (DDE, computed commands).
    fields: bool,
    /// Spreadsheet formulas in DDE form.
    formulas: bool,
}

/// Whether `e` points at a removed relationship: through any prefixed
/// attribute (`r:id`, `r:embed`, `r:link`, ...) whose value is a removed id.
fn dead_refs(e: &BytesStart<'_>, dead: &HashSet<String>) -> Vec<Vec<u8>> {
    if dead.is_empty() {
        return Vec::new();
    }
    e.attributes()
        .flatten()
        .filter(|a| {
            a.key.prefix().is_some_and(|p| p.as_ref() != b"xmlns")
                && a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .is_ok_and(|v| dead.contains(v.as_ref()))
        })
        .map(|a| a.key.as_ref().to_vec())
        .collect()
}

/// A Word field being read: its own instruction text (not its nested
/// fields'), the `w:instrText` elements holding it, and whether its
/// command is computed by a nested field.
#[derive(Default)]
struct Field {
    instr: String,
    texts: Vec<usize>,
    computed: bool,
    in_result: bool,
}

/// The field's kind if it must lose its instruction.
fn bad_field(instr: &str, computed: bool) -> Option<&'static str> {
    if computed {
        return Some("field with a computed command");
    }
    let cmd = instr
        .trim_start_matches(|c: char| c.is_whitespace() || c == '"')
        .split(|c: char| c.is_whitespace() || c == '\\' || c == '"')
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    (cmd == "DDE" || cmd == "DDEAUTO").then_some("DDE")
}

/// Elements of bad fields, by their ordinal in the part: the field's kind
/// and its instruction.
type BadFields = HashMap<usize, (&'static str, String)>;

/// The Word fields of a part that must lose their instruction: the
/// ordinals of their `w:instrText` elements and of the `w:fldSimple` ones
/// to unwrap, with a kind and instruction each.
fn bad_fields(name: &str, xml: &str) -> Result<(BadFields, BadFields), SanitizeError> {
    let mut r = Xml::new(name, xml.as_bytes())?;
    let mut open: Vec<Field> = Vec::new();
    let mut texts = HashMap::new();
    let mut simple = HashMap::new();
    let (mut n_text, mut n_simple) = (0usize, 0usize);
    let mut in_text = false;
    let close = |f: Field, texts: &mut BadFields| {
        if let Some(kind) = bad_field(&f.instr, f.computed) {
            for t in f.texts {
                texts.insert(t, (kind, f.instr.trim().to_string()));
            }
        }
    };
    loop {
        let ev = r.next()?;
        match &ev {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                b"fldChar" => match attr(e, b"fldCharType").as_deref() {
                    Some("begin") => {
                        if let Some(p) = open.last_mut()
                            && !p.in_result
                            && p.instr.trim().is_empty()
                        {
                            p.computed = true;
                        }
                        open.push(Field::default());
                    }
                    Some("separate") => {
                        if let Some(f) = open.last_mut() {
                            f.in_result = true;
                        }
                    }
                    Some("end") => {
                        if let Some(f) = open.pop() {
                            close(f, &mut texts);
                        }
                    }
                    _ => {}
                },
                b"instrText" => {
                    if let Some(f) = open.last_mut()
                        && !f.in_result
                    {
                        f.texts.push(n_text);
                    }
                    n_text += 1;
                    in_text = matches!(ev, Event::Start(_));
                }
                b"fldSimple" => {
                    let instr = attr(e, b"instr").unwrap_or_default();
                    if let Some(kind) = bad_field(&instr, false) {
                        simple.insert(n_simple, (kind, instr.trim().to_string()));
                    }
                    n_simple += 1;
                }
                _ => {}
            },
            Event::End(e) if e.local_name().as_ref() == b"instrText" => in_text = false,
            Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) if in_text => {
                if let Some(f) = open.last_mut()
                    && !f.in_result
                {
                    f.instr.push_str(&text_of(&ev));
                }
            }
            _ => {}
        }
    }
    // Fields never ended are judged on what they have.
    while let Some(f) = open.pop() {
        close(f, &mut texts);
    }
    Ok((texts, simple))
}

/// Whether a spreadsheet formula is a DDE call (`app|'topic'!item`).
fn dde_formula(f: &str) -> bool {
    f.contains('|') && f.contains('!')
}

/// Rewrites one XML part; `None` when nothing in it changes.
fn rewrite(
    name: &str,
    data: &[u8],
    rw: &Rewrite<'_>,
    tally: &mut Tally,
) -> Result<Option<Vec<u8>>, SanitizeError> {
    if rw.dead.is_empty() && !rw.fields && !rw.formulas {
        return Ok(None);
    }
    let xml = utf8(name, data)?;
    let (bad_texts, bad_simple) = if rw.fields {
        bad_fields(name, xml)?
    } else {
        Default::default()
    };
    let mut r = Xml::new(name, data)?;
    let mut w = Writer::new(Vec::with_capacity(data.len()));
    let mut changed = false;
    // Depth inside an element being removed.
    let mut skip = 0usize;
    let (mut n_text, mut n_simple) = (0usize, 0usize);
    // Inside a `w:instrText` whose text goes.
    let mut blank = false;
    // Open `w:fldSimple`s: whether each is unwrapped.
    let mut simples: Vec<bool> = Vec::new();
    // A formula being held until its end decides it.
    let mut formula: Option<(Vec<Event<'static>>, String)> = None;
    loop {
        let ev = r.next()?;
        if matches!(ev, Event::Eof) {
            break;
        }
        if skip > 0 {
            match ev {
                Event::Start(_) => skip += 1,
                Event::End(_) => skip -= 1,
                _ => {}
            }
            continue;
        }
        if let Some((held, text)) = formula.as_mut() {
            let end = matches!(&ev, Event::End(e) if e.local_name().as_ref() == b"f");
            text.push_str(&text_of(&ev));
            held.push(ev.into_owned());
            if !end {
                continue;
            }
            if dde_formula(text) {
                tally.add("removed", "DDE", text.clone());
                changed = true;
            } else {
                for e in held.drain(..) {
                    w.write_event(e).map_err(|e| xml_err(name, e))?;
                }
            }
            formula = None;
            continue;
        }
        if let Event::Start(e) | Event::Empty(e) = &ev {
            let refs = dead_refs(e, rw.dead);
            if !refs.is_empty() {
                changed = true;
                let start = matches!(ev, Event::Start(_));
                if e.local_name().as_ref() == b"blip" {
                    // A picture linked from outside: the link goes, the
                    // picture (if also embedded) stays.
                    let mut b =
                        BytesStart::new(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                    for a in e.attributes().flatten() {
                        if !refs.iter().any(|k| k.as_slice() == a.key.as_ref()) {
                            b.push_attribute(a);
                        }
                    }
                    let b = if start {
                        Event::Start(b)
                    } else {
                        Event::Empty(b)
                    };
                    w.write_event(b).map_err(|e| xml_err(name, e))?;
                } else if start {
                    skip = 1;
                }
                continue;
            }
        }
        let out = match ev {
            Event::Start(e) if rw.formulas && e.local_name().as_ref() == b"f" => {
                formula = Some((vec![Event::Start(e.into_owned())], String::new()));
                continue;
            }
            Event::Start(e) if rw.fields && e.local_name().as_ref() == b"instrText" => {
                if let Some((kind, instr)) = bad_texts.get(&n_text) {
                    blank = true;
                    changed = true;
                    tally.add("removed", kind, instr.clone());
                }
                n_text += 1;
                Event::Start(e)
            }
            Event::Empty(e) if rw.fields && e.local_name().as_ref() == b"instrText" => {
                n_text += 1;
                Event::Empty(e)
            }
            Event::End(e) if blank && e.local_name().as_ref() == b"instrText" => {
                blank = false;
                Event::End(e)
            }
            Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) if blank => continue,
            Event::Start(ref e) | Event::Empty(ref e)
                if rw.fields && e.local_name().as_ref() == b"fldSimple" =>
            {
                let bad = bad_simple.get(&n_simple);
                n_simple += 1;
                if matches!(ev, Event::Start(_)) {
                    // Its end tag goes with it when it is unwrapped.
                    simples.push(bad.is_some());
                }
                if let Some((kind, instr)) = bad {
                    tally.add("removed", kind, instr.clone());
                    changed = true;
                    continue;
                }
                ev
            }
            Event::End(e) if rw.fields && e.local_name().as_ref() == b"fldSimple" => {
                if simples.pop().unwrap_or(false) {
                    continue;
                }
                Event::End(e)
            }
            ev => ev,
        };
        w.write_event(out).map_err(|e| xml_err(name, e))?;
    }
    Ok(changed.then(|| w.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relationship_targets_resolve_against_their_source() {
        assert_eq!(
            source_of("word/_rels/document.xml.rels").unwrap(),
            "word/document.xml"
        );
        assert_eq!(source_of("_rels/.rels").unwrap(), "");
        assert_eq!(
            resolve("word/document.xml", "vbaProject.bin"),
            "word/vbaproject.bin"
        );
        assert_eq!(
            resolve("word/document.xml", "../customUI/x.xml"),
            "customui/x.xml"
        );
        assert_eq!(
            resolve("word/document.xml", "/word/media/a%20b.png"),
            "word/media/a b.png"
        );
        assert_eq!(resolve("", "word/document.xml"), "word/document.xml");
    }

    #[test]
    fn dde_and_computed_fields_are_found_split_or_escaped() {
        let xml = r#"<w:document xmlns:w="w"><w:body>
<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>DD</w:instrText></w:r><w:r><w:instrText>E&#65;UTO c:\\cmd.exe</w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>shown</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r>
<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> PAGE </w:instrText></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r>
<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>QUOTE 68 68 69</w:instrText></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r><w:r><w:instrText> c:\\x.exe</w:instrText></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r>
<w:fldSimple w:instr=" ddeauto x y"><w:r><w:t>kept</w:t></w:r></w:fldSimple>
</w:body></w:document>"#;
        let (texts, simple) = bad_fields("d", xml).unwrap();
        let mut t: Vec<_> = texts.keys().copied().collect();
        t.sort();
        // 0, 1: the split DDEAUTO; 4: the outer field whose command QUOTE
        // computes (the QUOTE field itself, 3, is harmless); 2: PAGE stays.
        assert_eq!(t, vec![0, 1, 4]);
        assert_eq!(texts[&0].0, "DDE");
        assert_eq!(texts[&4].0, "field with a computed command");
        assert_eq!(simple.keys().copied().collect::<Vec<_>>(), vec![0]);

        let none = HashSet::new();
        let rw = Rewrite {
            dead: &none,
            fields: true,
            formulas: false,
        };
        let mut tally = Tally::default();
        let out = rewrite("d", xml.as_bytes(), &rw, &mut tally)
            .unwrap()
            .unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(!out.to_ascii_uppercase().contains("DDE"), "{out}");
        assert!(!out.contains("&#65;"));
        assert!(out.contains("shown") && out.contains("kept") && out.contains(" PAGE "));
        assert!(!out.contains("fldSimple"));
        assert!(out.contains("QUOTE 68 68 69"));
    }

    #[test]
    fn elements_pointing_at_removed_relationships_go_and_a_linked_picture_keeps_its_embed() {
        let xml = r#"<w:settings xmlns:w="w" xmlns:r="r" xmlns:a="a"><w:attachedTemplate r:id="rId1"/><w:zoom w:percent="100"/><w:object><v:shape><v:imagedata r:id="rId3"/></v:shape><o:OLEObject r:id="rId2"><x/></o:OLEObject></w:object><a:blip r:embed="rId3" r:link="rId4"/></w:settings>"#;
        let dead: HashSet<String> = ["rId1", "rId2", "rId4"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let rw = Rewrite {
            dead: &dead,
            fields: false,
            formulas: false,
        };
        let out = rewrite("s", xml.as_bytes(), &rw, &mut Tally::default())
            .unwrap()
            .unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out,
            r#"<w:settings xmlns:w="w" xmlns:r="r" xmlns:a="a"><w:zoom w:percent="100"/><w:object><v:shape><v:imagedata r:id="rId3"/></v:shape></w:object><a:blip r:embed="rId3"/></w:settings>"#
        );
    }

    #[test]
    fn dde_formulas_lose_the_formula_and_keep_the_value() {
        let xml = r#"<worksheet><sheetData><row><c r="A1"><f>cmd|' /c calc'!A0</f><v>0</v></c><c r="A2"><f>SUM(B1:B2)</f><v>3</v></c></row></sheetData></worksheet>"#;
        let none = HashSet::new();
        let rw = Rewrite {
            dead: &none,
            fields: false,
            formulas: true,
        };
        let mut tally = Tally::default();
        let out = rewrite("x", xml.as_bytes(), &rw, &mut tally)
            .unwrap()
            .unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out,
            r#"<worksheet><sheetData><row><c r="A1"><v>0</v></c><c r="A2"><f>SUM(B1:B2)</f><v>3</v></c></row></sheetData></worksheet>"#
        );
        assert_eq!(tally.into_details()[0].object_name, "DDE");
    }
}
