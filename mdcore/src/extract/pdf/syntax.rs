//! PDF object syntax (ISO 32000-1 7.2–7.3): a lexer and a parser with a
//! nesting limit, lenient where Acrobat is (names with `#xx` escapes, odd
//! whitespace, unbalanced literal strings ending at the end of the data).

/// A PDF object.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Obj {
    Null,
    Bool(bool),
    Int(i64),
    Real(f64),
    /// A name, `#xx` escapes decoded, without the slash.
    Name(Vec<u8>),
    /// A literal or hexadecimal string, decoded.
    Str(Vec<u8>),
    Array(Vec<Obj>),
    Dict(Vec<(Vec<u8>, Obj)>),
    Ref(u32, u16),
}

impl Obj {
    /// A dictionary's value for `key` (the last one, as readers take it).
    pub(crate) fn get(&self, key: &[u8]) -> Option<&Obj> {
        match self {
            Obj::Dict(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub(crate) fn name(&self) -> Option<&[u8]> {
        match self {
            Obj::Name(n) => Some(n),
            _ => None,
        }
    }

    pub(crate) fn string(&self) -> Option<&[u8]> {
        match self {
            Obj::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn int(&self) -> Option<i64> {
        match self {
            Obj::Int(i) => Some(*i),
            Obj::Real(r) if r.fract() == 0.0 && r.abs() < 1e15 => Some(*r as i64),
            _ => None,
        }
    }

    /// Calls `f` on this object and every dictionary nested in it.
    pub(crate) fn visit(&self, f: &mut dyn FnMut(&Obj)) {
        let mut stack = vec![self];
        while let Some(o) = stack.pop() {
            match o {
                Obj::Dict(entries) => {
                    f(o);
                    stack.extend(entries.iter().map(|(_, v)| v));
                }
                Obj::Array(items) => stack.extend(items.iter()),
                _ => {}
            }
        }
    }
}

/// Nesting deeper than this (arrays and dictionaries) ends the object.
const MAX_DEPTH: usize = 64;
/// Items in one array or dictionary at most.
const MAX_ITEMS: usize = 1 << 20;

pub(crate) fn is_space(c: u8) -> bool {
    matches!(c, 0 | b'\t' | b'\n' | 0x0c | b'\r' | b' ')
}

pub(crate) fn is_delimiter(c: u8) -> bool {
    is_space(c)
        || matches!(
            c,
            b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
        )
}

pub(crate) struct Lexer<'d> {
    d: &'d [u8],
    pub(crate) pos: usize,
    /// Set when an object keyword (`obj`, `endobj`, `stream`…) was met:
    /// every open array and dictionary ends there, so one object's parse
    /// never runs on through the objects after it.
    ended: bool,
}

/// Parses the object at `at` (after leading whitespace); returns it and
/// where it ends.
pub(crate) fn parse_at(d: &[u8], at: usize) -> Option<(Obj, usize)> {
    let mut lex = Lexer::new(d, at);
    let o = lex.object(0)?;
    Some((o, lex.pos))
}

impl<'d> Lexer<'d> {
    pub(crate) fn new(d: &'d [u8], pos: usize) -> Self {
        Lexer {
            d,
            pos,
            ended: false,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.d.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while let Some(c) = self.peek() {
            if is_space(c) {
                self.pos += 1;
            } else if c == b'%' {
                while self.peek().is_some_and(|c| c != b'\n' && c != b'\r') {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// A number (for the object stream header).
    pub(crate) fn number(&mut self) -> Option<Obj> {
        self.skip_space();
        self.numeric()
    }

    fn numeric(&mut self) -> Option<Obj> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.'))
        {
            self.pos += 1;
        }
        let text = std::str::from_utf8(self.d.get(start..self.pos)?).ok()?;
        if text.is_empty() {
            return None;
        }
        if let Ok(i) = text.parse::<i64>() {
            return Some(Obj::Int(i));
        }
        // Acrobat reads "--5" or "5." leniently; so do we, else 0. The
        // first sign is the number's.
        let magnitude = text
            .trim_start_matches(['+', '-'])
            .parse::<f64>()
            .unwrap_or(0.0);
        Some(Obj::Real(if text.starts_with('-') {
            -magnitude
        } else {
            magnitude
        }))
    }

    pub(crate) fn object(&mut self, depth: usize) -> Option<Obj> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_space();
        let c = self.peek()?;
        match c {
            b'<' if self.d.get(self.pos + 1) == Some(&b'<') => {
                self.pos += 2;
                let mut entries = Vec::new();
                while !self.ended {
                    self.skip_space();
                    match self.peek() {
                        None => break,
                        Some(b'>') => {
                            self.pos += 1;
                            if self.peek() == Some(b'>') {
                                self.pos += 1;
                            }
                            break;
                        }
                        Some(b'/') => {
                            let Some(Obj::Name(key)) = self.object(depth + 1) else {
                                break;
                            };
                            let value = self.object(depth + 1).unwrap_or(Obj::Null);
                            if entries.len() < MAX_ITEMS {
                                entries.push((key, value));
                            }
                        }
                        // Junk inside a dictionary: skip a byte.
                        Some(_) => {
                            if self.object(depth + 1).is_none() && !self.ended {
                                self.pos += 1;
                            }
                        }
                    }
                }
                Some(Obj::Dict(entries))
            }
            // A hexadecimal string reads as the ASCIIHexDecode filter does.
            b'<' => {
                let rest = self.d.get(self.pos + 1..).unwrap_or_default();
                let len = memchr::memchr(b'>', rest).map_or(rest.len(), |i| i + 1);
                self.pos += 1 + len;
                Some(Obj::Str(ascii_hex(rest.get(..len).unwrap_or(rest))))
            }
            b'(' => {
                self.pos += 1;
                Some(Obj::Str(self.literal()))
            }
            b'/' => {
                self.pos += 1;
                let mut out = Vec::new();
                while let Some(c) = self.peek() {
                    if is_delimiter(c) {
                        break;
                    }
                    self.pos += 1;
                    let hex = |i: usize| self.d.get(i).and_then(|c| (*c as char).to_digit(16));
                    match (c, hex(self.pos), hex(self.pos + 1)) {
                        (b'#', Some(h), Some(l)) => {
                            out.push((h * 16 + l) as u8);
                            self.pos += 2;
                        }
                        _ => out.push(c),
                    }
                }
                Some(Obj::Name(out))
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                while !self.ended {
                    self.skip_space();
                    match self.peek() {
                        None => break,
                        Some(b']') => {
                            self.pos += 1;
                            break;
                        }
                        Some(_) => match self.object(depth + 1) {
                            Some(o) if items.len() < MAX_ITEMS => items.push(o),
                            Some(_) => {}
                            None if self.ended => {}
                            None => self.pos += 1,
                        },
                    }
                }
                Some(Obj::Array(items))
            }
            b'0'..=b'9' | b'+' | b'-' | b'.' => {
                let n = self.numeric()?;
                // `N G R` is a reference.
                if let Obj::Int(num) = n {
                    let save = self.pos;
                    self.skip_space();
                    if let Some(Obj::Int(gen_)) = self
                        .peek()
                        .filter(u8::is_ascii_digit)
                        .and_then(|_| self.numeric())
                    {
                        self.skip_space();
                        if self.peek() == Some(b'R')
                            && self.d.get(self.pos + 1).is_none_or(|c| is_delimiter(*c))
                            && let (Ok(num), Ok(gen_)) = (u32::try_from(num), u16::try_from(gen_))
                        {
                            self.pos += 1;
                            return Some(Obj::Ref(num, gen_));
                        }
                    }
                    self.pos = save;
                }
                Some(n)
            }
            _ => {
                let start = self.pos;
                while self.peek().is_some_and(|c| !is_delimiter(c)) {
                    self.pos += 1;
                }
                match self.d.get(start..self.pos)? {
                    b"true" => Some(Obj::Bool(true)),
                    b"false" => Some(Obj::Bool(false)),
                    b"null" => Some(Obj::Null),
                    b"obj" | b"endobj" | b"stream" | b"endstream" | b"xref" | b"trailer"
                    | b"startxref" => {
                        self.pos = start;
                        self.ended = true;
                        None
                    }
                    _ => None,
                }
            }
        }
    }

    /// A literal string after its `(`: balanced parentheses, escapes.
    fn literal(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut depth = 1usize;
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                b'(' => {
                    depth += 1;
                    out.push(c);
                }
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                    out.push(c);
                }
                b'\\' => {
                    let Some(e) = self.peek() else { break };
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'\r' => {
                            if self.peek() == Some(b'\n') {
                                self.pos += 1;
                            }
                        }
                        b'\n' => {}
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push((v & 0xff) as u8);
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(c),
            }
        }
        out
    }
}

/// ASCIIHexDecode, as hexadecimal strings are read too: pairs of hex
/// digits, anything else skipped, `>` ends it, an odd last digit padded.
pub(super) fn ascii_hex(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2);
    let mut hi: Option<u8> = None;
    for &c in data {
        if c == b'>' {
            break;
        }
        let Some(v) = (c as char).to_digit(16) else {
            continue;
        };
        match hi.take() {
            Some(h) => out.push(h << 4 | v as u8),
            None => hi = Some(v as u8),
        }
    }
    if let Some(h) = hi {
        out.push(h << 4);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dictionaries_references_and_strings() {
        let d = b"<< /Type /Catalog /Names 3 0 R /JS (app.alert\\(1\\)) /J#61 <41 42> /A [1 2.5 -3] /B true >>";
        let (o, end) = parse_at(d, 0).unwrap();
        assert_eq!(end, d.len());
        assert_eq!(o.get(b"Type"), Some(&Obj::Name(b"Catalog".to_vec())));
        assert_eq!(o.get(b"Names"), Some(&Obj::Ref(3, 0)));
        assert_eq!(
            o.get(b"JS").and_then(Obj::string),
            Some(&b"app.alert(1)"[..])
        );
        assert_eq!(o.get(b"Ja").and_then(Obj::string), Some(&b"AB"[..]));
        assert_eq!(
            o.get(b"A"),
            Some(&Obj::Array(vec![Obj::Int(1), Obj::Real(2.5), Obj::Int(-3)]))
        );
    }

    #[test]
    fn hostile_syntax_ends_without_panicking() {
        // Nesting past the limit is cut, not recursed into (no stack overflow).
        let deep = "[".repeat(100_000);
        assert!(matches!(
            parse_at(deep.as_bytes(), 0),
            Some((Obj::Array(_), _))
        ));
        for s in [
            &b"<<"[..],
            b"<< /A",
            b"(unterminated",
            b"<abc",
            b"/",
            b"<< /A << /B [ ( >>",
        ] {
            let _ = parse_at(s, 0);
        }
    }
}

#[cfg(test)]
mod keyword_tests {
    use super::*;

    #[test]
    fn an_unclosed_array_ends_at_the_next_object_keyword() {
        let d = b"[1 2 endobj 3 0 obj << /A 1 >>";
        let (o, end) = parse_at(d, 0).unwrap();
        assert_eq!(o, Obj::Array(vec![Obj::Int(1), Obj::Int(2)]));
        assert_eq!(&d[end..end + 6], b"endobj");
    }
}
