//! PDF: the document read as the scanner reads it (every object, those in
//! object streams too, decrypted when the user password is empty), its
//! active content removed, and everything still reachable from the
//! catalog written out as a new, unencrypted PDF with a fresh
//! cross-reference table. Objects nothing points at any more — the
//! scripts of removed actions, embedded files, old revisions, whatever an
//! attacker parked outside the document — are not written.
//!
//! Removed: `/JS` and the `/JavaScript` name tree, `/OpenAction`, `/AA`
//! (additional actions of the document, pages, annotations and fields),
//! actions that run or fetch something (JavaScript, Launch, SubmitForm,
//! ImportData, GoToR, GoToE, RichMediaExecute, Rendition, Movie, Sound,
//! GoTo3DView) wherever they are (`/A`, `/Next` chains, outlines),
//! multimedia annotations (RichMedia, Screen, Movie, Sound, 3D), XFA forms,
//! and, unless kept by the options, embedded files (the `/EmbeddedFiles`
//! name tree, `/EF` of file specifications, FileAttachment annotations).

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use super::{SanitizeError, SanitizeOptions, Sanitized, Tally};
use crate::extract::pdf::syntax::Obj;
use crate::extract::pdf::{PlainObject, read_document};

/// Actions that run code, open or fetch something, or play media.
const ACTIONS: &[&[u8]] = &[
    b"JavaScript",
    b"Launch",
    b"SubmitForm",
    b"ImportData",
    b"GoToR",
    b"GoToE",
    b"RichMediaExecute",
    b"Rendition",
    b"Movie",
    b"Sound",
    b"GoTo3DView",
];

/// Annotations that play media or run their own content.
const MEDIA_ANNOTATIONS: &[&[u8]] = &[b"RichMedia", b"Screen", b"Movie", b"Sound", b"3D"];

/// Stream data decoded to at most this much while reading object streams.
const MAX_DECODED: u64 = 256 << 20;

/// Whether `data` is a PDF: `%PDF-` in its first 1024 bytes (where
/// Acrobat looks for it).
pub(super) fn is_pdf(data: &[u8]) -> bool {
    memchr::memmem::find(data.get(..1024).unwrap_or(data), b"%PDF-").is_some()
}

/// What happens to one object or value.
enum Fate {
    Keep,
    /// Removed, counted as this kind of object.
    Remove(String),
}

struct Cleaner<'a> {
    opts: &'a SanitizeOptions,
    /// Indirect objects replaced by nothing (references to them are
    /// dropped where they stand).
    removed: HashSet<u32>,
    tally: Tally,
}

impl Cleaner<'_> {
    /// Whether a dictionary is active content as a whole.
    fn fate(&self, o: &Obj) -> Fate {
        let name = |k: &[u8]| o.get(k).and_then(Obj::name);
        let action = matches!(name(b"Type"), None | Some(b"Action"));
        if let Some(s) = name(b"S")
            && action
            && ACTIONS.contains(&s)
        {
            return Fate::Remove(if s == b"JavaScript" {
                "JavaScript".into()
            } else {
                format!("{} action", String::from_utf8_lossy(s))
            });
        }
        match name(b"Subtype") {
            Some(s) if MEDIA_ANNOTATIONS.contains(&s) && o.get(b"Rect").is_some() => {
                return Fate::Remove(format!("{} annotation", String::from_utf8_lossy(s)));
            }
            Some(b"FileAttachment") if self.opts.remove_embedded_files => {
                return Fate::Remove("FileAttachment annotation".into());
            }
            _ => {}
        }
        Fate::Keep
    }

    /// The kind of object a dictionary key holds that is always removed.
    fn key_fate(&self, key: &[u8]) -> Option<Option<&'static str>> {
        Some(match key {
            b"JS" | b"JavaScript" => Some("JavaScript"),
            b"OpenAction" => Some("OpenAction"),
            b"AA" => Some("Additional actions"),
            b"XFA" => Some("XFA form"),
            b"RichMediaContent" | b"RichMediaSettings" => Some("RichMedia"),
            b"NeedsRendering" => None,
            // The files themselves are counted as objects (see `sanitize`).
            b"EF" | b"EmbeddedFiles" if self.opts.remove_embedded_files => None,
            _ => return None,
        })
    }

    /// Removes active content inside `o`; `false` when `o` itself goes.
    fn clean(&mut self, o: &mut Obj, what: &str) -> bool {
        match o {
            Obj::Ref(n, _) => !self.removed.contains(n),
            Obj::Dict(_) => {
                if let Fate::Remove(kind) = self.fate(o) {
                    if !kind.is_empty() {
                        self.tally.add("removed", &kind, what);
                    }
                    return false;
                }
                let Obj::Dict(entries) = o else { return true };
                let mut kept = Vec::with_capacity(entries.len());
                for (k, mut v) in std::mem::take(entries) {
                    if let Some(kind) = self.key_fate(&k) {
                        // An open action that is only a destination (a
                        // page to open at) goes too, but is not active
                        // content worth reporting.
                        let destination = k == b"OpenAction" && matches!(v, Obj::Array(_));
                        if let Some(kind) = kind.filter(|_| !destination) {
                            self.tally.add("removed", kind, what);
                        }
                        continue;
                    }
                    let annots = k == b"Annots";
                    if self.clean(&mut v, what) {
                        if annots && let Obj::Array(items) = &mut v {
                            items.retain(|i| !matches!(i, Obj::Null));
                        }
                        kept.push((k, v));
                    }
                }
                *entries = kept;
                true
            }
            Obj::Array(items) => {
                // Positions matter in arrays (name trees pair names with
                // values): what goes becomes null.
                for i in items.iter_mut() {
                    if !self.clean(i, what) {
                        *i = Obj::Null;
                    }
                }
                true
            }
            _ => true,
        }
    }
}

pub(super) fn sanitize(data: &[u8], opts: &SanitizeOptions) -> Result<Sanitized, SanitizeError> {
    let doc = read_document(data, MAX_DECODED).map_err(SanitizeError::Failed)?;
    let mut objects = doc.objects;
    let mut c = Cleaner {
        opts,
        removed: HashSet::new(),
        tally: Tally::default(),
    };
    if let Some(how) = doc.encryption {
        // The copy is written unencrypted (its empty user password opened
        // it for anyone anyway).
        c.tally.add("removed", "encryption", how);
    }
    // Embedded files: streams a file specification's `/EF` names, and
    // streams typed so.
    let mut files: HashSet<u32> = HashSet::new();
    if opts.remove_embedded_files {
        for o in objects.values() {
            if o.value.get(b"Type").and_then(Obj::name) == Some(b"EmbeddedFile") {
                files.insert(o.num);
            }
            o.value.visit(&mut |d: &Obj| {
                if let Some(Obj::Dict(ef)) = d.get(b"EF") {
                    files.extend(ef.iter().filter_map(|(_, v)| match v {
                        Obj::Ref(n, _) => Some(*n),
                        _ => None,
                    }));
                }
            });
        }
    }
    // Whole objects first, so references to them can go wherever they are.
    for o in objects.values() {
        if files.contains(&o.num) && o.stream.is_some() {
            c.tally
                .add("removed", "Embedded file", format!("object {}", o.num));
            c.removed.insert(o.num);
        } else if let Fate::Remove(kind) = c.fate(&o.value) {
            if !kind.is_empty() {
                c.tally.add("removed", &kind, format!("object {}", o.num));
            }
            c.removed.insert(o.num);
        }
        if let Some(f) = o.value.get(b"Filter")
            && (f.name() == Some(b"Crypt")
                || matches!(f, Obj::Array(a) if a.iter().any(|x| x.name() == Some(b"Crypt"))))
        {
            return Err(SanitizeError::Failed(format!(
                "object {} uses a Crypt filter of its own",
                o.num
            )));
        }
    }
    objects.retain(|n, _| !c.removed.contains(n));
    for o in objects.values_mut() {
        let what = format!("object {}", o.num);
        if !c.clean(&mut o.value, &what) {
            o.value = Obj::Null;
        }
    }
    let mut trailer = doc.trailer;
    c.clean(&mut trailer, "trailer");
    let root = match trailer.get(b"Root") {
        Some(Obj::Ref(n, _)) if objects.contains_key(n) => *n,
        _ => {
            return Err(SanitizeError::Failed(
                "the document catalog is missing".into(),
            ));
        }
    };
    let info = match trailer.get(b"Info") {
        Some(Obj::Ref(n, _)) if objects.contains_key(n) => Some(*n),
        _ => None,
    };
    let id = trailer.get(b"ID").cloned();
    // A stream's length is written as a number: an indirect `/Length`
    // would keep an object alive that the copy does not need.
    for o in objects.values_mut() {
        if let (Some(data), Obj::Dict(entries)) = (&o.stream, &mut o.value) {
            entries.retain(|(k, _)| k != b"Length");
            entries.push((b"Length".to_vec(), Obj::Int(data.len() as i64)));
        }
    }
    let keep = reachable(&objects, root, info);
    objects.retain(|n, _| keep.contains(n));
    let data = write(&objects, root, info, id.as_ref());
    Ok(Sanitized {
        data,
        converted_to: "pdf".into(),
        details: c.tally.into_details(),
    })
}

/// The objects reachable from the catalog and the document information.
fn reachable(objects: &BTreeMap<u32, PlainObject>, root: u32, info: Option<u32>) -> HashSet<u32> {
    let mut seen = HashSet::new();
    let mut todo: Vec<u32> = std::iter::once(root).chain(info).collect();
    while let Some(n) = todo.pop() {
        if !seen.insert(n) {
            continue;
        }
        let Some(o) = objects.get(&n) else { continue };
        let mut stack = vec![&o.value];
        while let Some(v) = stack.pop() {
            match v {
                Obj::Ref(r, _) if objects.contains_key(r) && !seen.contains(r) => todo.push(*r),
                Obj::Array(items) => stack.extend(items),
                Obj::Dict(entries) => stack.extend(entries.iter().map(|(_, v)| v)),
                _ => {}
            }
        }
    }
    seen
}

/// The new file: header, objects, cross-reference table, trailer.
fn write(
    objects: &BTreeMap<u32, PlainObject>,
    root: u32,
    info: Option<u32>,
    id: Option<&Obj>,
) -> Vec<u8> {
    let mut out: Vec<u8> = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets: BTreeMap<u32, (usize, u16)> = BTreeMap::new();
    for o in objects.values() {
        offsets.insert(o.num, (out.len(), o.gen_));
        let mut text = format!("{} {} obj\n", o.num, o.gen_);
        match &o.stream {
            Some(data) => {
                serialize(&o.value, &mut text);
                text.push_str("\nstream\n");
                out.extend_from_slice(text.as_bytes());
                out.extend_from_slice(data);
                out.extend_from_slice(b"\nendstream\nendobj\n");
            }
            None => {
                serialize(&o.value, &mut text);
                text.push_str("\nendobj\n");
                out.extend_from_slice(text.as_bytes());
            }
        }
    }
    let size = objects.keys().next_back().map_or(1, |n| n + 1);
    let xref = out.len();
    let mut t = format!("xref\n0 {size}\n0000000000 65535 f\r\n");
    for n in 1..size {
        match offsets.get(&n) {
            Some((at, g)) => {
                let _ = write!(t, "{at:010} {g:05} n\r\n");
            }
            None => t.push_str("0000000000 00000 f\r\n"),
        }
    }
    let mut trailer = vec![
        (b"Size".to_vec(), Obj::Int(i64::from(size))),
        (b"Root".to_vec(), Obj::Ref(root, gen_of(&offsets, root))),
    ];
    if let Some(i) = info {
        trailer.push((b"Info".to_vec(), Obj::Ref(i, gen_of(&offsets, i))));
    }
    if let Some(id @ Obj::Array(_)) = id {
        trailer.push((b"ID".to_vec(), id.clone()));
    }
    t.push_str("trailer\n");
    serialize(&Obj::Dict(trailer), &mut t);
    let _ = write!(t, "\nstartxref\n{xref}\n%%EOF\n");
    out.extend_from_slice(t.as_bytes());
    out
}

fn gen_of(offsets: &BTreeMap<u32, (usize, u16)>, n: u32) -> u16 {
    offsets.get(&n).map_or(0, |(_, g)| *g)
}

/// PDF syntax for `o`: names with `#xx` escapes, strings in hexadecimal,
/// reals without exponents.
fn serialize(o: &Obj, out: &mut String) {
    match o {
        Obj::Null => out.push_str("null"),
        Obj::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Obj::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Obj::Real(r) => out.push_str(&real(*r)),
        Obj::Name(n) => name(n, out),
        Obj::Str(s) => {
            out.push('<');
            for b in s {
                let _ = write!(out, "{b:02x}");
            }
            out.push('>');
        }
        Obj::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                serialize(item, out);
            }
            out.push(']');
        }
        Obj::Dict(entries) => {
            out.push_str("<<");
            for (k, v) in entries {
                name(k, out);
                out.push(' ');
                serialize(v, out);
            }
            out.push_str(">>");
        }
        Obj::Ref(n, g) => {
            let _ = write!(out, "{n} {g} R");
        }
    }
}

fn name(n: &[u8], out: &mut String) {
    out.push('/');
    for &b in n {
        if (0x21..=0x7e).contains(&b) && !b"#()<>[]{}/%".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "#{b:02x}");
        }
    }
}

fn real(r: f64) -> String {
    if !r.is_finite() || r.abs() > 1e15 {
        return "0".into();
    }
    let s = format!("{r:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" || s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(o: &Obj) -> String {
        let mut s = String::new();
        serialize(o, &mut s);
        s
    }

    #[test]
    fn serializes_what_the_parser_reads_back() {
        let o = Obj::Dict(vec![
            (b"A b#".to_vec(), Obj::Real(-1.5)),
            (b"S".to_vec(), Obj::Str(b"(x)\n".to_vec())),
            (
                b"K".to_vec(),
                Obj::Array(vec![
                    Obj::Ref(3, 0),
                    Obj::Null,
                    Obj::Bool(true),
                    Obj::Int(-7),
                ]),
            ),
        ]);
        let s = text(&o);
        assert_eq!(s, "<</A#20b#23 -1.5/S <2878290a>/K [3 0 R null true -7]>>");
        let (back, _) = crate::extract::pdf::syntax::parse_at(s.as_bytes(), 0).unwrap();
        assert_eq!(back, o);
        assert_eq!(real(1e300), "0");
        assert_eq!(real(0.0000001), "0");
        assert_eq!(real(2.0), "2");
    }
}
