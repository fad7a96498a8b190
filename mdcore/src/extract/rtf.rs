//! RTF: the objects it embeds. `\objdata` groups hold an OLE1 object in
//! hex ([MS-OLEDS] 2.2.4 ObjectHeader + native data): the native data is a
//! child (an OLE2 compound file for `Word.Document`, `Equation.3`…), and
//! for the `Package` class the file inside it too. `\bin N` runs are raw
//! binary children. Pictures (`\pict`) are left in the text.
//!
//! Word reads hex leniently — whitespace, control words and groups inside
//! `\objdata` are skipped, an odd digit count drops the last one — and so
//! does this reader: attackers pad `\objdata` with `{\*\junk}` to hide it.

use super::{Cx, Extractor, Flow, Issue, Sink, hand_over, ole2, sanitize_name};
use crate::bytes::le_u32;

pub(crate) struct Rtf;

impl Extractor for Rtf {
    fn extract<'a>(
        &self,
        data: &'a [u8],
        cx: &'a Cx<'a>,
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), Issue> {
        cx.consumed(0);
        let mut found: Vec<(String, Vec<u8>, String)> = Vec::new();
        let mut n = 0usize;
        for at in memchr::memmem::find_iter(data, b"\\objdata") {
            n += 1;
            let hex = group_hex(data.get(at + 8..).unwrap_or_default());
            match ole1(&hex) {
                Some((class, native)) => {
                    let cls = sanitize_name(&class);
                    if class.eq_ignore_ascii_case("Package")
                        && let Some((label, file)) = ole2::package(native)
                    {
                        let label = label
                            .rsplit(['/', '\\'])
                            .next()
                            .unwrap_or(&label)
                            .to_string();
                        found.push((
                            sanitize_name(&label),
                            file.to_vec(),
                            format!("the file inside the Package object {n}"),
                        ));
                    }
                    found.push((
                        format!("objdata-{n}.{cls}"),
                        native.to_vec(),
                        format!("the native data of embedded object {n} (class `{class}`)"),
                    ));
                }
                None => found.push((
                    format!("objdata-{n}.bin"),
                    hex,
                    format!("embedded object {n}, not an OLE1 object; its hex decoded"),
                )),
            }
        }
        let mut b = 0usize;
        let mut covered = 0usize;
        for at in memchr::memmem::find_iter(data, b"\\bin") {
            // Inside an earlier run's data these bytes are data, not RTF.
            if at < covered {
                continue;
            }
            let rest = data.get(at + 4..).unwrap_or_default();
            let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            let Some(len) = std::str::from_utf8(rest.get(..digits).unwrap_or_default())
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
            else {
                continue;
            };
            // One space after the number belongs to the control word.
            let skip = usize::from(rest.get(digits) == Some(&b' '));
            let start = digits + skip;
            let bytes = rest
                .get(start..start.saturating_add(len))
                .unwrap_or_else(|| rest.get(start..).unwrap_or_default());
            if bytes.is_empty() {
                continue;
            }
            b += 1;
            covered = at + 4 + start + bytes.len();
            found.push((
                format!("bin-{b}.bin"),
                bytes.to_vec(),
                format!("a \\bin run of {len} bytes"),
            ));
        }
        for (name, bytes, note) in found {
            if hand_over(sink, cx, name, &bytes, Some(note), None)? == Flow::Stop {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// The hex digits of the group that `\objdata` opens, to its closing brace,
/// skipping whitespace, control words and nested groups.
fn group_hex(d: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut hi: Option<u8> = None;
    let mut depth = 0usize;
    let mut i = 0usize;
    while let Some(&c) = d.get(i) {
        i += 1;
        match c {
            b'{' => depth += 1,
            b'}' => {
                if depth == 0 {
                    break;
                }
                depth -= 1;
            }
            b'\\' => {
                // A control word and its numeric parameter; `\'xx` is a
                // hex escape Word does not take as object data either.
                let word = i;
                while d.get(i).is_some_and(u8::is_ascii_alphabetic) {
                    i += 1;
                }
                // The next object starts: this one ends (and no object's
                // scan runs on through all the others).
                if d.get(word..i) == Some(&b"objdata"[..]) {
                    break;
                }
                while d.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'-') {
                    i += 1;
                }
            }
            // Text inside nested groups (`{\*\junk 1}`) is not object data.
            _ if depth > 0 => {}
            _ => {
                if let Some(v) = (c as char).to_digit(16) {
                    match hi.take() {
                        Some(h) => out.push(h << 4 | v as u8),
                        None => hi = Some(v as u8),
                    }
                }
            }
        }
    }
    out
}

/// An OLE1 ObjectHeader (version, format 2 = embedded, class, topic,
/// item) and the native data after it.
fn ole1(d: &[u8]) -> Option<(String, &[u8])> {
    if le_u32(d, 4)? != 2 {
        return None;
    }
    let mut at = 8usize;
    let mut class = String::new();
    for field in 0..3 {
        let len = usize::try_from(le_u32(d, at)?).ok()?;
        let s = d.get(at + 4..at.checked_add(4)?.checked_add(len)?)?;
        if field == 0 {
            class = s
                .iter()
                .take_while(|b| **b != 0)
                .map(|b| char::from(*b))
                .collect();
        }
        at += 4 + len;
    }
    let size = usize::try_from(le_u32(d, at)?).ok()?;
    let native = d.get(at + 4..)?;
    Some((class, native.get(..size).unwrap_or(native)))
}
