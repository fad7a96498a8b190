//! RTF: the document is tokenized (groups, control words, `\bin` data) and
//! written back without the groups that carry active content.
//!
//! - `{\object ...}` (embedded and linked OLE objects) is replaced by its
//!   `{\result ...}` group, the picture Word shows in its place.
//! - `\objdata`, `\objclass`, `{\*\datastore}` and `{\*\objalias}` groups
//!   found anywhere else are removed.
//! - `{\field ...}` whose instruction (`\fldinst`) is `DDE`/`DDEAUTO`, or
//!   `INCLUDETEXT`/`INCLUDEPICTURE`/`IMPORT` (which fetch from outside),
//!   is replaced by its `{\fldrslt ...}`.
//! - Only the first top-level group is kept: bytes after it, which Word
//!   ignores and other readers may not, are dropped.
//!
//! Word reads a file as RTF when it starts with `{\rt`, not only `{\rtf1`,
//! so that is what is accepted here. An unterminated document is closed;
//! nesting deeper than [`MAX_DEPTH`] fails.

use super::{SanitizeError, Sanitized, Tally};

const MAX_DEPTH: usize = 1024;

fn fail(m: impl Into<String>) -> SanitizeError {
    SanitizeError::Failed(m.into())
}

/// Whether Word would read `data` as RTF.
pub(super) fn is_rtf(data: &[u8]) -> bool {
    data.starts_with(b"{\\rt")
}

/// One token: a span of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    Open,
    Close,
    /// A control word's name (without the backslash), and its whole span.
    Word(usize, usize),
    /// Anything else (text, control symbols, `\bin` data, whitespace).
    Other,
}

struct Lexer<'a> {
    d: &'a [u8],
    i: usize,
}

impl<'a> Lexer<'a> {
    /// The next token and its span.
    fn next(&mut self) -> Option<(Tok, usize, usize)> {
        let start = self.i;
        let c = *self.d.get(self.i)?;
        match c {
            b'{' => {
                self.i += 1;
                Some((Tok::Open, start, self.i))
            }
            b'}' => {
                self.i += 1;
                Some((Tok::Close, start, self.i))
            }
            b'\\' => {
                let letters = self.d.get(self.i + 1..).unwrap_or_default();
                let n = letters
                    .iter()
                    .take_while(|b| b.is_ascii_alphabetic())
                    .count();
                if n == 0 {
                    // A control symbol: `\'hh` takes two more bytes.
                    let len = if letters.first() == Some(&b'\'') {
                        4
                    } else {
                        2
                    };
                    self.i = (self.i + len).min(self.d.len());
                    return Some((Tok::Other, start, self.i));
                }
                let name = (self.i + 1, self.i + 1 + n);
                self.i = name.1;
                let rest = self.d.get(self.i..).unwrap_or_default();
                let neg = usize::from(rest.first() == Some(&b'-'));
                let digits = rest
                    .get(neg..)
                    .unwrap_or_default()
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                let param = rest.get(neg..neg + digits).unwrap_or_default();
                self.i += if digits > 0 { neg + digits } else { 0 };
                if self.d.get(self.i) == Some(&b' ') {
                    self.i += 1;
                }
                if self.d.get(name.0..name.1) == Some(b"bin") {
                    // `\binN`: N raw bytes follow, whatever they are.
                    let n = std::str::from_utf8(param)
                        .ok()
                        .and_then(|p| p.parse::<usize>().ok())
                        .unwrap_or(0);
                    self.i = self.i.saturating_add(n).min(self.d.len());
                }
                Some((Tok::Word(name.0, name.1), start, self.i))
            }
            _ => {
                let n = self
                    .d
                    .get(self.i..)
                    .unwrap_or_default()
                    .iter()
                    .take_while(|b| !matches!(b, b'{' | b'}' | b'\\'))
                    .count();
                self.i += n.max(1);
                Some((Tok::Other, start, self.i))
            }
        }
    }
}

/// A group being read: where its bytes start in the output, its first
/// control word, and what to do with it.
struct Group {
    out_at: usize,
    first: Option<String>,
    /// The group goes; only what it keeps (its `\result`/`\fldrslt`) stays.
    drop: Option<&'static str>,
    /// For a `\result`/`\fldrslt` group: where its content starts.
    content_at: Option<usize>,
    /// What a dropped group keeps: the content of its result.
    kept: Vec<u8>,
    /// Text of a `\fldinst` group, collected to judge its field.
    instr: Option<String>,
}

/// The kind of active content a group is, by its first control word.
fn active_group(word: &str) -> Option<&'static str> {
    Some(match word {
        "object" => "OLE",
        "objdata" | "objclass" | "objalias" | "objsect" => "OLE",
        "datastore" => "OLE",
        _ => return None,
    })
}

fn bad_instruction(instr: &str) -> Option<&'static str> {
    let cmd = instr
        .trim_start()
        .split(|c: char| c.is_whitespace() || c == '\\' || c == '"')
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    match cmd.as_str() {
        "DDE" | "DDEAUTO" => Some("DDE"),
        "INCLUDETEXT" | "INCLUDEPICTURE" | "IMPORT" => Some("external reference"),
        _ => None,
    }
}

pub(super) fn sanitize(data: &[u8]) -> Result<Sanitized, SanitizeError> {
    if !is_rtf(data) {
        return Err(fail("not RTF"));
    }
    let mut lx = Lexer { d: data, i: 0 };
    let mut out: Vec<u8> = Vec::with_capacity(data.len());
    let mut stack: Vec<Group> = Vec::new();
    let mut tally = Tally::default();
    let mut done = false;
    while let Some((tok, a, b)) = lx.next() {
        let bytes = data.get(a..b).unwrap_or_default();
        match tok {
            Tok::Open => {
                if stack.len() >= MAX_DEPTH {
                    return Err(fail(format!("groups nest deeper than {MAX_DEPTH}")));
                }
                stack.push(Group {
                    out_at: out.len(),
                    first: None,
                    drop: None,
                    content_at: None,
                    kept: Vec::new(),
                    instr: None,
                });
                out.extend_from_slice(bytes);
            }
            Tok::Close => {
                let Some(g) = stack.pop() else { break };
                out.extend_from_slice(bytes);
                if let Some(instr) = &g.instr
                    && let Some(kind) = bad_instruction(instr)
                    && let Some(field) = stack
                        .iter_mut()
                        .rev()
                        .find(|p| p.first.as_deref() == Some("field"))
                    && field.drop.is_none()
                {
                    field.drop = Some(kind);
                    tally.add("removed", kind, instr.trim().to_string());
                }
                if let Some(at) = g.content_at
                    && let Some(owner) = stack.iter_mut().rev().find(|p| p.drop.is_some())
                {
                    // What a dropped object or field shows stays: the
                    // result's content, without its own braces.
                    let end = out.len().saturating_sub(1);
                    owner
                        .kept
                        .extend_from_slice(out.get(at..end).unwrap_or_default());
                }
                if g.drop.is_some() {
                    out.truncate(g.out_at);
                    let outer = stack.iter_mut().rev().find(|p| p.drop.is_some());
                    match outer {
                        Some(o) => o.kept.extend_from_slice(&g.kept),
                        None => out.extend_from_slice(&g.kept),
                    }
                }
                if stack.is_empty() {
                    done = true;
                    break;
                }
            }
            Tok::Word(n0, n1) => {
                let word =
                    String::from_utf8_lossy(data.get(n0..n1).unwrap_or_default()).into_owned();
                out.extend_from_slice(bytes);
                let inside_dropped = stack.iter().rev().skip(1).any(|p| p.drop.is_some());
                if let Some(g) = stack.last_mut()
                    && g.first.is_none()
                {
                    g.first = Some(word.clone());
                    if let Some(kind) = active_group(&word) {
                        g.drop = Some(kind);
                        if !inside_dropped {
                            tally.add("removed", kind, String::new());
                        }
                    }
                    if word == "fldinst" {
                        g.instr = Some(String::new());
                    }
                    if matches!(word.as_str(), "result" | "fldrslt") {
                        g.content_at = Some(out.len());
                    }
                }
            }
            Tok::Other => {
                if let Some(g) = stack.iter_mut().rev().find(|g| g.instr.is_some())
                    && let Some(instr) = g.instr.as_mut()
                    && !bytes.starts_with(b"\\")
                {
                    instr.push_str(&String::from_utf8_lossy(bytes));
                }
                out.extend_from_slice(bytes);
            }
        }
    }
    if !done {
        // Unterminated: close what is open, dropping what was being dropped.
        while let Some(g) = stack.pop() {
            if g.drop.is_some() {
                out.truncate(g.out_at);
            } else {
                out.push(b'}');
            }
        }
    }
    Ok(Sanitized {
        data: out,
        converted_to: "rtf".into(),
        details: tally.into_details(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(s: &str) -> (String, Vec<(String, u32)>) {
        let r = sanitize(s.as_bytes()).unwrap();
        (
            String::from_utf8(r.data).unwrap(),
            r.details
                .into_iter()
                .map(|d| (d.object_name, d.count))
                .collect(),
        )
    }

    #[test]
    fn objects_leave_their_result_and_dde_fields_their_shown_text() {
        let (out, d) = clean(
            r"{\rtf1\ansi Hello {\object\objemb{\*\objclass Package}{\*\objdata 0105000002}{\result {\pict\pngblip 89504e47}}} world{\field{\*\fldinst DDEAUTO c:\\x.exe }{\fldrslt shown}} end}",
        );
        assert_eq!(
            out,
            r"{\rtf1\ansi Hello {\pict\pngblip 89504e47} worldshown end}"
        );
        assert_eq!(d, vec![("OLE".to_string(), 1), ("DDE".to_string(), 1)]);
    }

    #[test]
    fn hidden_objdata_bin_data_and_trailing_bytes_go() {
        // `\bin` data holding braces does not end the group early.
        let (out, d) = clean("{\\rt Hi {\\*\\objdata \\bin4 }}}{ x} there}{\\rtf1 second}");
        assert_eq!(out, "{\\rt Hi  there}");
        assert_eq!(d, vec![("OLE".to_string(), 1)]);
        // Unterminated: closed, the open object dropped.
        let (out, _) = clean("{\\rtf1 text {\\object\\objemb {\\*\\objdata 01");
        assert_eq!(out, "{\\rtf1 text }");
        // Harmless fields and groups stay as they were.
        let src = r"{\rtf1{\field{\*\fldinst PAGE }{\fldrslt 1}}{\b bold}}";
        assert_eq!(clean(src), (src.to_string(), vec![]));
    }
}
