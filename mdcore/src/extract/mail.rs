//! Internet mail (RFC 5322, MIME RFC 2045–2049) and mbox files, read the
//! way permissive mail clients read them — attackers write messages for
//! Outlook and Thunderbird, not for the RFCs:
//! - header names may carry comments and spaces before the colon; folded
//!   lines are unfolded; a line that is not a header ends the header block;
//! - parameters: quoted or not, backslash escapes, stray spaces and
//!   semicolons, RFC 2231 continuations and charsets, RFC 2047 words;
//! - every `boundary=` of every `Content-Type` header is tried (quoted,
//!   unescaped and raw), and the parts of every boundary that splits the
//!   body are examined — a part is never dropped because of an ambiguity;
//! - a missing closing boundary ends the last part at the end of the body;
//! - transfer encodings: base64 (garbage skipped, padding optional),
//!   quoted-printable, uuencode, 7bit/8bit/binary; several different
//!   `Content-Transfer-Encoding` headers give one reading each;
//! - uuencode, yEnc and BinHex blocks inside text parts are children too;
//! - a non-empty preamble or epilogue is a child: a reader that misses a
//!   boundary shows it.
//!
//! Every part is a child named by its file name (or `part-1.2.txt` by its
//! position); `message/rfc822` parts are children the walker opens in turn.

use super::encoded::{self, decode_charset};
use super::{Cx, Extractor, Flow, Issue, Sink, hand_over, sanitize_name};
use crate::verdict::ResultCode;

pub(crate) struct Mail;
pub(crate) struct Mbox;

/// Boundaries tried on one multipart body at most (each is a pass over it).
const MAX_BOUNDARIES: usize = 16;

/// Multipart nesting deeper than this inside one message is not followed.
const MAX_NESTING: usize = 64;

impl Extractor for Mail {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        let mut walk = Walk {
            cx,
            sink,
            issue: None,
        };
        // On `Halt` the walker has noted the limit, or `issue` holds it.
        let _ = walk.entity(data, "", 0);
        walk.issue.map_or(Ok(()), Err)
    }
}

impl Extractor for Mbox {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        // A message starts at a "From " line at the start of the file or
        // after an empty line (mboxo/mboxrd); the envelope line is dropped.
        let mut starts = Vec::new();
        let mut at = 0usize;
        let mut blank_before = true;
        for line in data.split_inclusive(|b| *b == b'\n') {
            if blank_before && line.starts_with(b"From ") {
                starts.push(at);
            }
            blank_before = trim_eol(line).is_empty();
            at += line.len();
        }
        if starts.is_empty() {
            starts.push(0);
        }
        let ends = starts.iter().skip(1).copied().chain([data.len()]);
        for (n, (start, end)) in starts.iter().zip(ends).enumerate() {
            let msg = data.get(*start..end).unwrap_or_default();
            // Drop the envelope line.
            let body = match msg.starts_with(b"From ") {
                true => memchr::memchr(b'\n', msg)
                    .map_or(&[][..], |i| msg.get(i + 1..).unwrap_or_default()),
                false => msg,
            };
            let name = format!("message-{}.eml", n + 1);
            if hand_over(sink, cx, name, body, None, None)? == Flow::Stop {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// The sink said stop (a tree-wide limit, already noted by the walker).
struct Halt;

struct Walk<'w, 's, 'a> {
    cx: &'w Cx<'a>,
    sink: &'w mut Sink<'s, 'a>,
    /// The first problem with the message as a whole.
    issue: Option<Issue>,
}

/// One header field: its name lowercased, its value unfolded.
struct Field {
    name: String,
    value: String,
}

impl Walk<'_, '_, '_> {
    /// Hands a decoded part to the walker (a tree-wide limit it reached is
    /// kept in `issue`).
    fn produce(
        &mut self,
        name: String,
        bytes: &[u8],
        note: Option<String>,
        damage: Option<Issue>,
    ) -> Result<(), Halt> {
        match hand_over(self.sink, self.cx, name, bytes, note, damage) {
            Ok(Flow::Continue) => Ok(()),
            Ok(Flow::Stop) => Err(Halt),
            Err(issue) => {
                self.issue = Some(issue);
                Err(Halt)
            }
        }
    }

    /// One MIME entity (the message itself or one part): its headers, then
    /// its body as parts, a nested message or a leaf.
    fn entity(&mut self, data: &[u8], label: &str, depth: usize) -> Result<(), Halt> {
        let (fields, body) = headers(data);
        // Every Content-Type header, parsed once.
        let types: Vec<_> = fields
            .iter()
            .filter(|f| f.name == "content-type")
            .map(|f| params(&f.value))
            .collect();
        let mime = types
            .first()
            .map_or_else(|| "text/plain".into(), |(main, _)| main.clone());
        let mut boundaries: Vec<String> = Vec::new();
        for (k, v) in types.iter().flat_map(|(_, p)| p) {
            if k == "boundary" {
                for b in v {
                    if !b.is_empty() && !boundaries.contains(b) {
                        boundaries.push(b.clone());
                    }
                }
            }
        }
        let multipart = types.iter().any(|(main, _)| main.starts_with("multipart/"));
        if multipart || !boundaries.is_empty() {
            if depth >= MAX_NESTING {
                self.issue.get_or_insert_with(|| {
                    Issue::new(
                        ResultCode::ExceededArchiveDepth,
                        format!(
                            "multipart nesting deeper than {MAX_NESTING} levels was not followed"
                        ),
                    )
                });
                return Ok(());
            }
            if self.multipart(body, &boundaries, label, depth)? {
                return Ok(());
            }
            self.cx.note(format!(
                "{}: a multipart body that no boundary splits; examined whole",
                if label.is_empty() {
                    "the message"
                } else {
                    label
                }
            ));
        }
        self.leaf(&fields, &mime, body, label)
    }

    /// Splits a multipart body by every boundary; false when none splits it.
    fn multipart(
        &mut self,
        body: &[u8],
        boundaries: &[String],
        label: &str,
        depth: usize,
    ) -> Result<bool, Halt> {
        if boundaries.len() > MAX_BOUNDARIES {
            // The rest may hold the real one: not fully examined, so it blocks.
            let n = boundaries.len();
            self.issue.get_or_insert_with(|| {
                Issue::corrupt(format!(
                    "{n} different boundary parameters; only the first {MAX_BOUNDARIES} were tried, so the message was not fully examined"
                ))
            });
        }
        let splits: Vec<(&String, Split<'_>)> = boundaries
            .iter()
            .take(MAX_BOUNDARIES)
            .filter_map(|b| split(body, b.as_bytes()).map(|s| (b, s)))
            .collect();
        if splits.is_empty() {
            return Ok(false);
        }
        if splits.len() > 1 {
            let list: Vec<String> = splits.iter().map(|(b, _)| format!("`{b}`")).collect();
            self.cx.note(format!(
                "{}: several boundaries split the body ({}); the parts of each were examined",
                if label.is_empty() {
                    "the message"
                } else {
                    label
                },
                list.join(", ")
            ));
        }
        let mut seen: std::collections::HashSet<(usize, usize)> = std::collections::HashSet::new();
        let mut n = 0usize;
        for (boundary, s) in &splits {
            if !s.closed {
                self.cx.note(format!(
                    "the multipart with boundary `{boundary}` has no closing boundary; its last part runs to the end"
                ));
            }
            for extra in [(s.preamble, "preamble"), (s.epilogue, "epilogue")] {
                if !extra.0.iter().all(u8::is_ascii_whitespace) {
                    let name = format!("{}[{}]", prefix(label), extra.1);
                    let note = format!(
                        "the {} of a multipart (outside its parts); mail clients do not show it",
                        extra.1
                    );
                    self.produce(name, extra.0, Some(note), None)?;
                }
            }
            for part in &s.parts {
                let key = (part.as_ptr() as usize, part.len());
                if !seen.insert(key) {
                    continue;
                }
                n += 1;
                let part_label = if label.is_empty() {
                    n.to_string()
                } else {
                    format!("{label}.{n}")
                };
                self.entity(part, &part_label, depth + 1)?;
            }
        }
        Ok(true)
    }

    /// A part that is not multipart: decoded and emitted (with any encoded
    /// blocks inside it).
    fn leaf(&mut self, fields: &[Field], mime: &str, body: &[u8], label: &str) -> Result<(), Halt> {
        let name = part_name(fields, mime, label);
        let mut encodings: Vec<String> = Vec::new();
        for f in fields
            .iter()
            .filter(|f| f.name == "content-transfer-encoding")
        {
            let e = params(&f.value).0;
            if !encodings.contains(&e) {
                encodings.push(e);
            }
        }
        if encodings.is_empty() {
            encodings.push("7bit".into());
        }
        let cap = usize::try_from(self.cx.budget.limits.max_object_size.saturating_add(1))
            .unwrap_or(usize::MAX);
        let several = encodings.len() > 1;
        for (i, enc) in encodings.iter().enumerate() {
            let (decoded, note) = match enc.as_str() {
                "base64" => (encoded::base64(body, cap), None),
                "quoted-printable" => (encoded::quoted_printable(body, cap), None),
                "x-uuencode" | "uuencode" | "x-uue" => {
                    let blocks = encoded::blocks(body, cap);
                    match blocks.into_iter().next() {
                        Some(b) => (b.data, None),
                        None => (
                            body.to_vec(),
                            Some(
                                "a uuencoded part without a `begin` line; examined as it stands"
                                    .to_string(),
                            ),
                        ),
                    }
                }
                "7bit" | "8bit" | "binary" | "" => (body.to_vec(), None),
                other => (
                    body.to_vec(),
                    Some(format!(
                        "unknown transfer encoding `{other}`; examined as it stands"
                    )),
                ),
            };
            let child_name = if several && i > 0 {
                format!("{name} [{enc}]")
            } else {
                name.clone()
            };
            let note = match (several, note) {
                (true, n) => Some(format!(
                    "several Content-Transfer-Encoding headers; this is the `{enc}` reading{}",
                    n.map(|n| format!("; {n}")).unwrap_or_default()
                )),
                (false, n) => n,
            };
            // Text the walker opens as text gets its blocks found there;
            // other text (Latin-1, stray NULs) gets them found here.
            if (mime.starts_with("text/") || mime.is_empty())
                && self.cx.identify(&decoded).0 != crate::kind::Kind::Text
            {
                for b in encoded::blocks(&decoded, cap) {
                    let name = format!("{}{}", prefix(label), sanitize_name(&b.name));
                    let note = Some(format!("a {} block in `{child_name}`", b.encoding));
                    self.produce(name, &b.data, note, b.damaged.map(Issue::corrupt))?;
                }
            }
            self.produce(child_name, &decoded, note, None)?;
        }
        Ok(())
    }
}

fn prefix(label: &str) -> String {
    if label.is_empty() {
        String::new()
    } else {
        format!("part-{label}/")
    }
}

/// A part's name: its file name (Content-Disposition `filename`, else
/// Content-Type `name`), else its position and a type-derived extension.
fn part_name(fields: &[Field], mime: &str, label: &str) -> String {
    let from = |header: &str, key: &str| {
        fields
            .iter()
            .filter(|f| f.name == header)
            .flat_map(|f| params(&f.value).1)
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.into_iter().next())
    };
    let file = from("content-disposition", "filename").or_else(|| from("content-type", "name"));
    if let Some(f) = file {
        let f = encoded::encoded_words(&f);
        let base = f.rsplit(['/', '\\']).find(|s| !s.is_empty()).unwrap_or(&f);
        if !base.trim().is_empty() {
            let dir = if label.is_empty() {
                String::new()
            } else {
                format!("part-{label}/")
            };
            return format!("{dir}{}", sanitize_name(base));
        }
    }
    let ext = match mime {
        "text/plain" => "txt",
        "text/html" => "html",
        "message/rfc822" | "message/global" => "eml",
        m if m.starts_with("text/") => "txt",
        _ => "bin",
    };
    if label.is_empty() {
        format!("body.{ext}")
    } else {
        format!("part-{label}.{ext}")
    }
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The header block of an entity and the body after it. A header name may
/// have spaces and comments before its colon; a continuation line starts
/// with a space or tab; an envelope `From ` line is skipped; any other line
/// without a colon ends the headers (the body starts there).
fn headers(data: &[u8]) -> (Vec<Field>, &[u8]) {
    let mut fields: Vec<Field> = Vec::new();
    let mut at = 0usize;
    for raw in data.split_inclusive(|b| *b == b'\n') {
        let line = trim_eol(raw);
        if line.is_empty() {
            return (fields, data.get(at + raw.len()..).unwrap_or_default());
        }
        if matches!(line.first(), Some(b' ' | b'\t'))
            && let Some(last) = fields.last_mut()
        {
            last.value.push(' ');
            last.value.push_str(String::from_utf8_lossy(line).trim());
        } else if at == 0 && line.starts_with(b"From ") {
            // mbox envelope
        } else if let Some((name, value)) = header_line(line) {
            fields.push(Field { name, value });
        } else {
            return (fields, data.get(at..).unwrap_or_default());
        }
        at += raw.len();
    }
    (fields, &[])
}

/// `Name (comment) : value` -> ("name", "value").
pub(crate) fn header_line(line: &[u8]) -> Option<(String, String)> {
    let colon = memchr::memchr(b':', line)?;
    let raw_name = String::from_utf8_lossy(line.get(..colon)?);
    let name = strip_comments(&raw_name).trim().to_ascii_lowercase();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let value = String::from_utf8_lossy(line.get(colon + 1..)?)
        .trim()
        .to_string();
    Some((name, value))
}

fn strip_comments(s: &str) -> String {
    let mut out = String::new();
    let mut depth = 0u32;
    let mut quoted = false;
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push('\\');
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// A structured header value: its main value lowercased, and its parameters
/// (name lowercased; every reading of a value: unescaped, and raw when that
/// differs). RFC 2231 continuations (`name*0`, `name*1*`) are joined and
/// `name*=charset''…` decoded.
pub(crate) fn params(value: &str) -> (String, Vec<(String, Vec<String>)>) {
    let value = strip_comments(value);
    let mut pieces = split_outside_quotes(&value);
    let main = if pieces.is_empty() {
        String::new()
    } else {
        pieces.remove(0).trim().to_ascii_lowercase()
    };
    let mut plain: Vec<(String, Vec<String>)> = Vec::new();
    // (base name, section, extended, value)
    let mut sections: Vec<(String, u32, bool, String)> = Vec::new();
    for p in pieces {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        let key = k.trim().to_ascii_lowercase();
        let v = v.trim();
        let readings = unquote(v);
        if let Some((base, rest)) = key.split_once('*') {
            let extended = rest.ends_with('*') || rest.is_empty();
            let section = rest.trim_end_matches('*').parse().unwrap_or(0);
            let first = readings.first().cloned().unwrap_or_default();
            sections.push((base.to_string(), section, extended, first));
        } else {
            plain.push((key, readings));
        }
    }
    sections.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let mut joined: Vec<(String, Vec<String>)> = Vec::new();
    let mut i = 0;
    while let Some((base, _, _, _)) = sections.get(i) {
        let base = base.clone();
        let group: Vec<&(String, u32, bool, String)> = sections
            .iter()
            .skip(i)
            .take_while(|s| s.0 == base)
            .collect();
        i += group.len();
        let mut charset = None;
        let mut bytes = Vec::new();
        for (n, (_, _, extended, v)) in group.iter().enumerate() {
            if *extended {
                let mut v = v.as_str();
                if n == 0 {
                    let mut it = v.splitn(3, '\'');
                    if let (Some(cs), Some(_lang), Some(rest)) = (it.next(), it.next(), it.next()) {
                        charset = Some(cs.to_string());
                        v = rest;
                    }
                }
                bytes.extend(percent_decode(v));
            } else {
                bytes.extend_from_slice(v.as_bytes());
            }
        }
        let text = decode_charset(charset.as_deref().unwrap_or("utf-8"), &bytes);
        joined.push((base, vec![text]));
    }
    // An RFC 2231 value wins over a plain one of the same name, but both
    // stay (as other readings).
    for (k, mut v) in joined {
        if let Some(pos) = plain.iter().position(|(pk, _)| *pk == k) {
            let (_, old) = plain.remove(pos);
            v.extend(old);
        }
        plain.insert(0, (k, v));
    }
    (main, plain)
}

fn percent_decode(v: &str) -> Vec<u8> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
        match (c, hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn split_outside_quotes(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                cur.push(c);
            }
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ';' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.retain(|p| !p.trim().is_empty());
    out
}

/// A parameter value's readings: quotes removed and escapes resolved, and
/// the raw text between the quotes when it differs (some clients do not
/// unescape). An unclosed quote runs to the end.
fn unquote(v: &str) -> Vec<String> {
    let Some(inner) = v.strip_prefix('"') else {
        return vec![v.to_string()];
    };
    let raw = inner.strip_suffix('"').unwrap_or(inner);
    let mut out = String::new();
    let mut escaped = false;
    for c in raw.chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else {
            out.push(c);
        }
    }
    if out == raw {
        vec![out]
    } else {
        vec![out, raw.to_string()]
    }
}

/// A multipart body split at one boundary.
struct Split<'b> {
    preamble: &'b [u8],
    parts: Vec<&'b [u8]>,
    epilogue: &'b [u8],
    closed: bool,
}

/// Splits at lines `--boundary` (trailing whitespace allowed) up to the
/// line `--boundary--`; `None` when the boundary never appears.
fn split<'b>(body: &'b [u8], boundary: &[u8]) -> Option<Split<'b>> {
    let mut delim = b"--".to_vec();
    delim.extend_from_slice(boundary);
    let mut preamble = None;
    let mut parts = Vec::new();
    let mut part_start: Option<usize> = None;
    let mut at = 0usize;
    let mut prev_eol = 0usize;
    for raw in body.split_inclusive(|b| *b == b'\n') {
        let line = trim_eol(raw);
        if let Some(rest) = line.strip_prefix(delim.as_slice()) {
            let close = rest.starts_with(b"--");
            let rest = if close {
                rest.get(2..).unwrap_or_default()
            } else {
                rest
            };
            if rest.iter().all(|b| *b == b' ' || *b == b'\t') {
                // The line break before a delimiter belongs to it.
                let end = at.saturating_sub(prev_eol);
                match part_start {
                    Some(s) => parts.push(body.get(s..end.max(s)).unwrap_or_default()),
                    None => preamble = Some(body.get(..end).unwrap_or_default()),
                }
                if close {
                    return Some(Split {
                        preamble: preamble.unwrap_or_default(),
                        parts,
                        epilogue: body.get(at + raw.len()..).unwrap_or_default(),
                        closed: true,
                    });
                }
                part_start = Some(at + raw.len());
            }
        }
        prev_eol = raw.len() - line.len();
        at += raw.len();
    }
    let start = part_start?;
    parts.push(body.get(start..).unwrap_or_default());
    Some(Split {
        preamble: preamble.unwrap_or_default(),
        parts,
        epilogue: &[],
        closed: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_with_comments_and_spaces() {
        assert_eq!(
            header_line(b"Content-Type (x) : text/plain"),
            Some(("content-type".into(), "text/plain".into()))
        );
        assert_eq!(header_line(b"not a header"), None);
        let (fields, body) = headers(b"Subject: a\r\n  folded\r\nX: 1\r\n\r\nbody");
        assert_eq!(fields[0].value, "a folded");
        assert_eq!(body, b"body");
    }

    #[test]
    fn parameters_as_clients_read_them() {
        let (main, p) = params("Multipart/Mixed ; boundary=\"a\\\"b\";; charset = utf-8 ;");
        assert_eq!(main, "multipart/mixed");
        assert_eq!(p[0].0, "boundary");
        assert_eq!(p[0].1, vec!["a\"b".to_string(), "a\\\"b".to_string()]);
        assert_eq!(p[1], ("charset".into(), vec!["utf-8".into()]));
        // RFC 2231 continuations with a charset.
        let (_, p) = params("attachment; filename*0*=utf-8''inv%C3%B6; filename*1=ice.exe");
        assert_eq!(p[0], ("filename".into(), vec!["invöice.exe".into()]));
    }

    #[test]
    fn split_with_and_without_a_closing_boundary() {
        let body = b"pre\r\n--b\r\nA: 1\r\n\r\none\r\n--b \r\n\r\ntwo\r\n--b--\r\nepi";
        let s = split(body, b"b").unwrap();
        assert_eq!(s.preamble, b"pre");
        assert_eq!(s.parts, vec![&b"A: 1\r\n\r\none"[..], &b"\r\ntwo"[..]]);
        assert_eq!(s.epilogue, b"epi");
        assert!(s.closed);
        let s = split(b"--b\nx\n--b\ny\n", b"b").unwrap();
        assert_eq!(s.parts, vec![&b"x"[..], &b"y\n"[..]]);
        assert!(!s.closed);
        assert!(split(b"no boundary here", b"b").is_none());
    }
}
