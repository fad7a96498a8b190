//! PDF, read the way Acrobat's repair mode reads it: every `N G obj` in the
//! file is an object, whatever the cross-reference table says (objects an
//! xref leaves out, or that an incremental update replaced, are examined
//! too), and objects inside object streams are parsed as well.
//!
//! Children:
//! - embedded files (streams a file specification's `/EF` points at, and
//!   `/Type /EmbeddedFile` streams), named by the specification's `/UF` or
//!   `/F`;
//! - JavaScript — every `/JS` in any dictionary (document names, open
//!   actions, annotations, form fields, outlines), a string or a stream —
//!   as `.js` text;
//! - every other stream, decoded (`stream-N.bin`), except images, which stay
//!   in their codec (DCT, JPX, JBIG2, CCITT).
//!
//! Filters: FlateDecode (with PNG and TIFF predictors), LZWDecode,
//! ASCIIHexDecode, ASCII85Decode, RunLengthDecode, in chains. A stream's
//! extent is its `/Length` when `endstream` follows there, else the search
//! for `endstream` (as Acrobat does).
//!
//! Encryption (the Standard security handler): with an empty user password
//! (RC4 40–128, AES-128, AES-256) the file is decrypted and examined; with a
//! real password, or another handler, it is 15.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use memchr::memmem;

use super::{Cx, Extractor, Flow, Issue, Sink, hand_over, sanitize_name};
use crate::verdict::ResultCode;

pub(crate) struct Pdf;

mod crypt;
mod filters;
pub(crate) mod syntax;

use syntax::{Obj, parse_at};

/// One `N G obj … endobj`.
struct Object<'d> {
    num: u32,
    gen_: u16,
    value: Obj,
    /// The raw stream data, if the object is a stream.
    stream: Option<&'d [u8]>,
    /// Inside an object stream (never encrypted on its own).
    compressed: bool,
}

/// Objects in one object stream at most (its `/N` is the attacker's).
const MAX_IN_OBJSTM: usize = 100_000;
/// Intermediate buffers of a filter chain are capped here.
const MAX_INTERMEDIATE: u64 = 256 << 20;

impl Extractor for Pdf {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let mut objects = scan_objects(data, &|| cx.budget.check().is_err());
        if objects.is_empty() {
            return Err(Issue::corrupt("no PDF objects found"));
        }
        // Bytes after the last `%%EOF` (or, without one, after the last
        // object) are searched for archives by the walker.
        cx.consumed(document_end(data));
        let cap = cx.budget.limits.max_object_size.min(MAX_INTERMEDIATE);
        let security = match crypt::Security::of(data, &objects) {
            Ok(s) => s,
            Err(why) => {
                return Err(Issue::new(
                    ResultCode::PasswordProtectedDocument,
                    format!("password-protected PDF ({why}); its content was not examined"),
                ));
            }
        };
        if let Some(s) = &security {
            cx.note(format!(
                "encrypted PDF ({}) with an empty user password: decrypted and examined",
                s.describe()
            ));
        }
        add_objstm_members(&mut objects, security.as_ref(), cap);
        let latest: HashMap<u32, usize> = objects
            .iter()
            .enumerate()
            .map(|(i, o)| (o.num, i))
            .collect();
        let resolve = |obj: &Obj| -> Option<usize> {
            match obj {
                Obj::Ref(n, _) => latest.get(n).copied(),
                _ => None,
            }
        };

        // What each stream is: an embedded file (and its name), or script.
        let mut names: HashMap<usize, String> = HashMap::new();
        let mut scripts: HashSet<usize> = HashSet::new();
        let mut inline_js: Vec<(u32, Vec<u8>)> = Vec::new();
        for o in &objects {
            o.value.visit(&mut |d: &Obj| {
                if let Some(ef) = d.get(b"EF") {
                    let name = d
                        .get(b"UF")
                        .or_else(|| d.get(b"F"))
                        .and_then(|n| n.string())
                        .map(|n| text_string(&decrypt_string(security.as_ref(), o, n)));
                    for key in [&b"F"[..], b"UF", b"DOS", b"Mac", b"Unix"] {
                        if let Some(i) = ef.get(key).and_then(&resolve) {
                            names
                                .entry(i)
                                .or_insert_with(|| name.clone().unwrap_or_default());
                        }
                    }
                }
                if let Some(js) = d.get(b"JS") {
                    match js {
                        Obj::Str(s) => {
                            inline_js.push((o.num, decrypt_string(security.as_ref(), o, s)))
                        }
                        r => {
                            if let Some(i) = resolve(r) {
                                scripts.insert(i);
                            }
                        }
                    }
                }
            });
        }

        let mut js_count = 0usize;
        for (num, js) in inline_js {
            js_count += 1;
            let name = format!("javascript-{js_count}.js");
            let note = Some(format!("JavaScript in object {num}"));
            if hand_over(sink, cx, name, &js, note, None)? == Flow::Stop {
                return Ok(());
            }
        }
        let mut embedded = 0usize;
        for (i, o) in objects.iter().enumerate() {
            let Some(raw) = o.stream else { continue };
            let kind = o.value.get(b"Type").and_then(Obj::name);
            if matches!(kind, Some(b"XRef" | b"ObjStm")) {
                continue;
            }
            let is_file = names.contains_key(&i) || kind == Some(b"EmbeddedFile");
            let is_js = scripts.contains(&i);
            if !is_file && !is_js && filters::is_image(&o.value, raw) {
                continue;
            }
            let raw = decrypt_stream(security.as_ref(), o, raw);
            let (decoded, damage) = filters::decode(&o.value, &raw, cap);
            let name = if is_file {
                embedded += 1;
                match names
                    .get(&i)
                    .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).trim())
                {
                    Some(n) if !n.is_empty() => sanitize_name(n),
                    _ => format!("embedded-{embedded}.bin"),
                }
            } else if is_js {
                js_count += 1;
                format!("javascript-{js_count}.js")
            } else {
                format!("stream-{}.bin", o.num)
            };
            let note = Some(match (is_file, is_js) {
                (true, _) => format!("an embedded file (object {} {})", o.num, o.gen_),
                (_, true) => format!("JavaScript (object {} {})", o.num, o.gen_),
                _ => format!("stream of object {} {}, decoded", o.num, o.gen_),
            });
            if hand_over(sink, cx, name, &decoded, note, damage)? == Flow::Stop {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// One object of a document as [`read_document`] gives it: the latest
/// definition of its number, strings and stream data decrypted (the stream
/// still in its filters).
pub(crate) struct PlainObject {
    pub(crate) num: u32,
    pub(crate) gen_: u16,
    pub(crate) value: Obj,
    pub(crate) stream: Option<Vec<u8>>,
}

/// A PDF read the way the extractor reads it, for a rewrite (the
/// sanitizer): every object — those in object streams too, the last
/// definition of a number winning, object and cross-reference streams left
/// out — and the trailer, all decrypted.
pub(crate) struct PlainDocument {
    pub(crate) objects: std::collections::BTreeMap<u32, PlainObject>,
    /// The last trailer (or cross-reference stream dictionary) naming a
    /// `/Root`; without one, a trailer made of the last `/Catalog`.
    pub(crate) trailer: Obj,
    /// How it was encrypted, when it was.
    pub(crate) encryption: Option<String>,
}

/// Reads a whole PDF for a rewrite; `Err` when it holds no objects, can
/// not be decrypted without a password, or has no catalog.
pub(crate) fn read_document(data: &[u8], cap: u64) -> Result<PlainDocument, String> {
    let mut objects = scan_objects(data, &|| false);
    if objects.is_empty() {
        return Err("no PDF objects found".into());
    }
    let security = crypt::Security::of(data, &objects)
        .map_err(|why| format!("password-protected PDF ({why})"))?;
    add_objstm_members(&mut objects, security.as_ref(), cap);
    // Trailers by position; cross-reference stream dictionaries count too.
    let mut trailers: Vec<(usize, Obj)> = memmem::find_iter(data, b"trailer")
        .filter_map(|at| parse_at(data, at + 7).map(|(o, _)| (at, o)))
        .collect();
    let mut out = std::collections::BTreeMap::new();
    for o in objects {
        let kind = o.value.get(b"Type").and_then(Obj::name);
        if kind == Some(b"XRef") {
            // Its position is not kept; the last one read is the latest.
            trailers.push((usize::MAX, o.value.clone()));
        }
        if matches!(kind, Some(b"XRef" | b"ObjStm")) {
            continue;
        }
        let mut value = o.value.clone();
        if let Some(s) = &security
            && !o.compressed
        {
            decrypt_strings(&mut value, &|raw| s.decrypt(o.num, o.gen_, raw, false));
        }
        let stream = o
            .stream
            .map(|raw| decrypt_stream(security.as_ref(), &o, raw));
        out.insert(
            o.num,
            PlainObject {
                num: o.num,
                gen_: o.gen_,
                value,
                stream,
            },
        );
    }
    trailers.sort_by_key(|(at, _)| *at);
    let trailer = match trailers
        .into_iter()
        .rev()
        .find(|(_, t)| t.get(b"Root").is_some())
    {
        Some((_, t)) => t,
        None => {
            let catalog = out
                .values()
                .rev()
                .find(|o| o.value.get(b"Type").and_then(Obj::name) == Some(b"Catalog"))
                .ok_or("no document catalog")?;
            Obj::Dict(vec![(
                b"Root".to_vec(),
                Obj::Ref(catalog.num, catalog.gen_),
            )])
        }
    };
    Ok(PlainDocument {
        objects: out,
        trailer,
        encryption: security.map(|s| s.describe()),
    })
}

/// Appends the objects inside the object streams among `objects`.
fn add_objstm_members(objects: &mut Vec<Object<'_>>, security: Option<&crypt::Security>, cap: u64) {
    let mut extra = Vec::new();
    for o in objects.iter() {
        if o.value.get(b"Type").and_then(Obj::name) == Some(b"ObjStm")
            && let Some(raw) = o.stream
        {
            let raw = decrypt_stream(security, o, raw);
            let (decoded, _) = filters::decode(&o.value, &raw, cap);
            extra.extend(objstm(&o.value, &decoded));
        }
    }
    objects.extend(extra);
}

/// Replaces every string in `o` by `f` of it.
fn decrypt_strings(o: &mut Obj, f: &dyn Fn(&[u8]) -> Vec<u8>) {
    match o {
        Obj::Str(s) => *s = f(s),
        Obj::Array(items) => items.iter_mut().for_each(|i| decrypt_strings(i, f)),
        Obj::Dict(entries) => entries.iter_mut().for_each(|(_, v)| decrypt_strings(v, f)),
        _ => {}
    }
}

/// Where the document ends: after its last `%%EOF` and the whitespace
/// after it, else after its last `endobj`.
fn document_end(d: &[u8]) -> usize {
    let end = memmem::rfind(d, b"%%EOF")
        .map(|at| at + 5)
        .or_else(|| memmem::rfind(d, b"endobj").map(|at| at + 6))
        .unwrap_or(1);
    let ws = d
        .get(end..)
        .unwrap_or_default()
        .iter()
        .take_while(|c| syntax::is_space(**c))
        .count();
    end + ws
}

fn decrypt_stream(s: Option<&crypt::Security>, o: &Object<'_>, raw: &[u8]) -> Vec<u8> {
    match s {
        Some(s) if !o.compressed => s.decrypt(o.num, o.gen_, raw, true),
        _ => raw.to_vec(),
    }
}

fn decrypt_string(s: Option<&crypt::Security>, o: &Object<'_>, raw: &[u8]) -> Vec<u8> {
    match s {
        Some(s) if !o.compressed => s.decrypt(o.num, o.gen_, raw, false),
        _ => raw.to_vec(),
    }
}

/// A PDF text string: UTF-16BE with a byte-order mark, UTF-8 with one, or
/// PDFDocEncoding (taken as Latin-1).
fn text_string(b: &[u8]) -> String {
    if let Some(rest) = b.strip_prefix(&[0xfe, 0xff]) {
        return crate::bytes::utf16be_lossy(rest);
    }
    if let Some(rest) = b.strip_prefix(&[0xef, 0xbb, 0xbf]) {
        return String::from_utf8_lossy(rest).into_owned();
    }
    b.iter().map(|c| char::from(*c)).collect()
}

/// Every `N G obj` in the file, with its value and stream; `stop` is asked
/// every 1024 objects whether to give up (the scan's budget).
fn scan_objects<'d>(d: &'d [u8], stop: &dyn Fn() -> bool) -> Vec<Object<'d>> {
    let mut out = Vec::new();
    // Every `endstream`, found once: a stream's end is the first after it.
    let ends: Vec<usize> = memmem::find_iter(d, b"endstream").collect();
    for at in memmem::find_iter(d, b"obj") {
        if out.len() % 1024 == 1023 && stop() {
            break;
        }
        // The keyword, not `endobj` or `objstm`: whitespace before it and a
        // delimiter after it.
        if !d.get(at + 3).is_none_or(|c| syntax::is_delimiter(*c)) {
            continue;
        }
        let Some((num, gen_)) = header_before(d, at) else {
            continue;
        };
        let Some((value, end)) = parse_at(d, at + 3) else {
            continue;
        };
        let stream = stream_after(d, end, &value, &ends);
        out.push(Object {
            num,
            gen_,
            value,
            stream,
            compressed: false,
        });
    }
    out
}

/// `N G ` before `obj` at `at`.
fn header_before(d: &[u8], at: usize) -> Option<(u32, u16)> {
    let mut i = at;
    let ws = |i: usize| d.get(i).is_some_and(|c| syntax::is_space(*c));
    let digit = |i: usize| d.get(i).is_some_and(u8::is_ascii_digit);
    if i == 0 || !ws(i - 1) {
        return None;
    }
    while i > 0 && ws(i - 1) {
        i -= 1;
    }
    let gen_end = i;
    while i > 0 && digit(i - 1) {
        i -= 1;
    }
    let gen_ = std::str::from_utf8(d.get(i..gen_end)?).ok()?.parse().ok()?;
    if i == 0 || !ws(i - 1) {
        return None;
    }
    while i > 0 && ws(i - 1) {
        i -= 1;
    }
    let num_end = i;
    while i > 0 && digit(i - 1) {
        i -= 1;
    }
    let num = std::str::from_utf8(d.get(i..num_end)?).ok()?.parse().ok()?;
    Some((num, gen_))
}

/// The data of a stream whose dictionary ends at `end`.
fn stream_after<'d>(d: &'d [u8], end: usize, value: &Obj, ends: &[usize]) -> Option<&'d [u8]> {
    if !matches!(value, Obj::Dict(_)) {
        return None;
    }
    let mut i = end;
    while d.get(i).is_some_and(|c| syntax::is_space(*c)) {
        i += 1;
    }
    let rest = d.get(i..)?;
    let after = rest.strip_prefix(b"stream")?;
    let skip = if after.starts_with(b"\r\n") {
        2
    } else if after.starts_with(b"\n") || after.starts_with(b"\r") {
        1
    } else {
        0
    };
    let start = i + 6 + skip;
    let body = d.get(start..)?;
    // `/Length` when `endstream` follows it; else search.
    if let Some(len) = value.get(b"Length").and_then(Obj::int)
        && let Ok(len) = usize::try_from(len)
        && let Some(tail) = body.get(len..)
    {
        let ws = tail.iter().take_while(|c| syntax::is_space(**c)).count();
        if tail.get(ws..).is_some_and(|t| t.starts_with(b"endstream")) {
            return body.get(..len);
        }
    }
    let next = ends.get(ends.partition_point(|e| *e < start)).copied();
    let stop = next.map_or(body.len(), |e| e - start);
    let mut data = body.get(..stop)?;
    // The end-of-line before `endstream` is not data.
    if let Some(x) = data.strip_suffix(b"\n") {
        data = x.strip_suffix(b"\r").unwrap_or(x);
    } else if let Some(x) = data.strip_suffix(b"\r") {
        data = x;
    }
    Some(data)
}

/// The objects of an object stream: `/N` pairs of numbers and offsets
/// (relative to `/First`), then the objects.
fn objstm<'d>(dict: &Obj, decoded: &[u8]) -> Vec<Object<'d>> {
    let mut out = Vec::new();
    let n = dict
        .get(b"N")
        .and_then(Obj::int)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
        .min(MAX_IN_OBJSTM);
    let Some(first) = dict
        .get(b"First")
        .and_then(Obj::int)
        .and_then(|f| usize::try_from(f).ok())
    else {
        return out;
    };
    let mut lex = syntax::Lexer::new(decoded, 0);
    for _ in 0..n {
        let (Some(Obj::Int(num)), Some(Obj::Int(off))) = (lex.number(), lex.number()) else {
            break;
        };
        let (Ok(num), Ok(off)) = (u32::try_from(num), usize::try_from(off)) else {
            break;
        };
        let Some(at) = first.checked_add(off) else {
            break;
        };
        if let Some((value, _)) = parse_at(decoded, at) {
            out.push(Object {
                num,
                gen_: 0,
                value,
                stream: None,
                compressed: true,
            });
        }
    }
    out
}

/// Reads at most `cap` bytes of `r` into a vector; true when it was cut.
fn read_capped(r: &mut dyn Read, cap: u64, out: &mut Vec<u8>) -> std::io::Result<bool> {
    r.take(cap.saturating_add(1)).read_to_end(out)?;
    let cut = out.len() as u64 > cap;
    out.truncate(usize::try_from(cap).unwrap_or(usize::MAX));
    Ok(cut)
}
