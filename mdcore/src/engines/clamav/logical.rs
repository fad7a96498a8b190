//! ClamAV's logical signatures (`.ldb`): `Name;TargetDescription;
//! Expression;Subsig0;Subsig1;...`.
//!
//! The target description's `Engine`, `Target`, `FileSize`, `EntryPoint`
//! and `NumberOfSections` are read and applied; the expression's `&`, `|`,
//! parentheses and the counts `=X`, `=X,Y`, `>X`, `>X,Y`, `<X`, `<X,Y` are
//! evaluated over how many times each subsignature matched; subsignatures
//! are body patterns with an optional offset and the modifiers `::i`
//! (case-insensitive), `::w` (wide), `::a` (ASCII, with `w` both) and
//! `::f` (full word). What is not evaluated yet makes the signature
//! skipped and counted: PCRE, byte-compare and macro subsignatures,
//! `Container`, `Intermediates`, icon groups and handler types.

use super::pattern::LineError;

/// A subsignature's modifiers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Mods {
    pub(crate) nocase: bool,
    pub(crate) wide: bool,
    pub(crate) ascii: bool,
    pub(crate) fullword: bool,
}

/// One body subsignature as written: its offset field (or `*`), pattern
/// text and modifiers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SubsigText<'a> {
    pub(crate) offset: &'a str,
    pub(crate) hex: &'a str,
    pub(crate) mods: Mods,
}

fn malformed<T>(why: impl Into<String>) -> Result<T, LineError> {
    Err(LineError::Malformed(why.into()))
}

/// An inclusive range of the target description.
type Range = (u64, u64);

/// The target description block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) target: u32,
    pub(crate) engine: Option<(u32, u32)>,
    pub(crate) file_size: Option<Range>,
    pub(crate) entry_point: Option<Range>,
    pub(crate) sections: Option<Range>,
}

fn number(s: &str) -> Result<u64, LineError> {
    s.trim()
        .parse()
        .map_err(|_| LineError::Malformed(format!("`{s}` is not a number")))
}

fn range(s: &str) -> Result<Range, LineError> {
    match s.split_once('-') {
        Some((a, b)) => Ok((number(a)?, number(b)?)),
        None => {
            let n = number(s)?;
            Ok((n, n))
        }
    }
}

impl Target {
    fn parse(block: &str) -> Result<Target, LineError> {
        let mut t = Target::default();
        let mut has_target = false;
        for item in block.split(',') {
            let Some((key, value)) = item.split_once(':') else {
                return malformed(format!(
                    "`{item}` in the target description is not Key:Value"
                ));
            };
            match key {
                "Target" => {
                    t.target = u32::try_from(number(value)?)
                        .map_err(|_| LineError::Malformed("target too large".into()))?;
                    has_target = true;
                }
                "Engine" => {
                    let (a, b) = range(value)?;
                    let level = |n: u64| {
                        u32::try_from(n).map_err(|_| LineError::Malformed("level too large".into()))
                    };
                    t.engine = Some((level(a)?, level(b)?));
                }
                "FileSize" => t.file_size = Some(range(value)?),
                "EntryPoint" => t.entry_point = Some(range(value)?),
                "NumberOfSections" => t.sections = Some(range(value)?),
                "Container" | "Intermediates" | "IconGroup1" | "IconGroup2" | "HandlerType" => {
                    return Err(LineError::Unsupported(format!("ldb: the {key} condition")));
                }
                other => return malformed(format!("unknown target description key `{other}`")),
            }
        }
        if !has_target {
            return malformed("the target description has no Target");
        }
        let newer = t.file_size.is_some() || t.entry_point.is_some() || t.sections.is_some();
        if newer && t.engine.is_none_or(|(min, _)| min < 51) {
            // clamscan: "all signatures using new attributes must have the
            // Engine attribute present and set to min_level of at least 51".
            return malformed("FileSize, EntryPoint and NumberOfSections need Engine:51 or higher");
        }
        Ok(t)
    }
}

/// A parsed logical expression, shaped as ClamAV reads it: an expression
/// splits at its first operator outside parentheses (so `0&1|2` is
/// `0&(1|2)`: no precedence), a parenthesized block that ends the
/// expression may carry a count (`(..)>X,Y`), an index may carry a count
/// (`0=X`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Expr {
    Sub {
        id: usize,
        count: Option<(u8, u64)>,
    },
    Op {
        and: bool,
        left: Box<Expr>,
        right: Box<Expr>,
        /// `(op, X, Y)`; Y = 0 when not given.
        count: Option<(u8, u64, u64)>,
    },
}

/// Reads a decimal number at the start of `s` (as C's `%u`).
fn leading_number(s: &[u8]) -> Option<(u64, usize)> {
    let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
    let text = std::str::from_utf8(s.get(..digits)?).ok()?;
    Some((text.parse().ok()?, digits))
}

fn parse_expr(e: &[u8], depth: usize) -> Result<Expr, LineError> {
    if depth > 64 {
        return malformed("the expression nests too deep");
    }
    let len = e.len();
    let (mut pth, mut op, mut opoff, mut op1, mut op1off) = (0usize, 0u8, 0usize, 0u8, 0usize);
    let (mut modch, mut modoff, mut blkend, mut blkmod) = (0u8, 0usize, 0usize, 0u8);
    let (mut val1, mut val2) = (0u64, 0u64);
    let mut i = 0;
    while i < len {
        let c = e.get(i).copied().unwrap_or(0);
        match c {
            b'(' => pth += 1,
            b')' => {
                if pth == 0 {
                    return malformed("a `)` without its `(` in the expression");
                }
                pth -= 1;
                (modch, modoff) = (c, i);
            }
            b'>' | b'<' | b'=' => (modch, modoff) = (c, i),
            b'&' | b'|' => {
                if pth == 0 {
                    (op, opoff) = (c, i);
                } else if pth == 1 {
                    (op1, op1off) = (c, i);
                }
            }
            _ => {}
        }
        if op != 0 {
            break;
        }
        if op1 != 0 && pth == 0 {
            blkend = i;
            if let Some(&m @ (b'>' | b'<' | b'=')) = e.get(i + 1) {
                blkmod = m;
                let rest = e.get(i + 2..).unwrap_or_default();
                let Some((x, n)) = leading_number(rest) else {
                    return malformed("a count without its number");
                };
                val1 = x;
                if rest.get(n) == Some(&b',')
                    && let Some((y, _)) = leading_number(rest.get(n + 1..).unwrap_or_default())
                {
                    val2 = y;
                }
                i += 2;
                while i + 1 < len
                    && e.get(i + 1)
                        .is_some_and(|c| c.is_ascii_digit() || *c == b',')
                {
                    i += 1;
                }
            }
            if i + 1 == len {
                break;
            }
            blkmod = 0;
        }
        i += 1;
    }
    if pth != 0 {
        return malformed("a `(` without its `)` in the expression");
    }
    if op == 0 && op1 == 0 {
        if e.first() == Some(&b'(') {
            return parse_expr(
                e.get(1..len.saturating_sub(1)).unwrap_or_default(),
                depth + 1,
            );
        }
        let Some((id, _)) = leading_number(e) else {
            return malformed(format!("`{}` is not an index", String::from_utf8_lossy(e)));
        };
        let id = usize::try_from(id).map_err(|_| LineError::Malformed("index too large".into()))?;
        let count = if modch != 0 {
            let Some((x, _)) = leading_number(e.get(modoff + 1..).unwrap_or_default()) else {
                return malformed("a count without its number");
            };
            Some((modch, x))
        } else {
            None
        };
        return Ok(Expr::Sub { id, count });
    }
    let (mut lstart, mut rend) = (0, len);
    if op == 0 {
        (op, opoff, lstart, rend) = (op1, op1off, 1, blkend);
    }
    if opoff == 0 {
        return malformed("an operator without its left side");
    }
    if opoff + 1 == len {
        return malformed("an operator without its right side");
    }
    let left = e.get(lstart..opoff).unwrap_or_default();
    let right = e.get(opoff + 1..rend).unwrap_or_default();
    Ok(Expr::Op {
        and: op == b'&',
        left: Box::new(parse_expr(left, depth + 1)?),
        right: Box::new(parse_expr(right, depth + 1)?),
        count: (blkmod != 0).then_some((blkmod, val1, val2)),
    })
}

fn compare(op: u8, n: u64, x: u64) -> bool {
    match op {
        b'=' => n == x,
        b'<' => n < x,
        b'>' => n > x,
        _ => false,
    }
}

impl Expr {
    pub(crate) fn parse(text: &str) -> Result<Expr, LineError> {
        parse_expr(text.as_bytes(), 0)
    }

    /// Marks the subsignature indexes used.
    fn uses(&self, used: &mut Vec<bool>) {
        match self {
            Expr::Sub { id, .. } => {
                if used.len() <= *id {
                    used.resize(*id + 1, false);
                }
                if let Some(u) = used.get_mut(*id) {
                    *u = true;
                }
            }
            Expr::Op { left, right, .. } => {
                left.uses(used);
                right.uses(used);
            }
        }
    }

    /// (holds, matches counted, subsignatures counted) as ClamAV
    /// evaluates a block: a block's matches are those of its true parts,
    /// and only when the block itself is true.
    fn eval(&self, counts: &[u64]) -> (bool, u64, u64) {
        match self {
            Expr::Sub { id, count } => {
                let n = counts.get(*id).copied().unwrap_or(0);
                let bit = 1u64
                    .checked_shl(u32::try_from(*id).unwrap_or(64))
                    .unwrap_or(0);
                let holds = match count {
                    Some((op, x)) => compare(*op, n, *x),
                    None => n > 0,
                };
                if holds { (true, n, bit) } else { (false, 0, 0) }
            }
            Expr::Op {
                and,
                left,
                right,
                count,
            } => {
                let (lv, lc, li) = left.eval(counts);
                let (rv, rc, ri) = right.eval(counts);
                let holds = if *and { lv && rv } else { lv || rv };
                let (n, ids) = if holds {
                    (lc.saturating_add(rc), li | ri)
                } else {
                    (0, 0)
                };
                match count {
                    None => {
                        if holds {
                            (true, n, ids)
                        } else {
                            (false, 0, 0)
                        }
                    }
                    Some((op, x, y)) => {
                        let distinct = u64::from(ids.count_ones());
                        if compare(*op, n, *x) && (*y == 0 || distinct >= *y) {
                            // ClamAV passes the count up, not the ids.
                            (true, n, 0)
                        } else {
                            (false, 0, 0)
                        }
                    }
                }
            }
        }
    }

    /// Whether the expression holds under `counts`.
    pub(crate) fn holds(&self, counts: &[u64]) -> bool {
        self.eval(counts).0
    }
}

/// Splits a subsignature into offset, pattern and modifiers; PCRE,
/// byte-compare and macro subsignatures are unsupported.
pub(crate) fn subsig(text: &str) -> Result<SubsigText<'_>, LineError> {
    let (body, mods_text) = match text.split_once("::") {
        Some((b, m)) => (b, Some(m)),
        None => (text, None),
    };
    if body.contains('/') {
        return Err(LineError::Unsupported("ldb: PCRE subsignatures".into()));
    }
    if body.contains('#') {
        return Err(LineError::Unsupported(
            "ldb: byte-compare subsignatures".into(),
        ));
    }
    if body.starts_with('$') || body.contains("}$") || body.ends_with('$') {
        return Err(LineError::Unsupported("ldb: macro subsignatures".into()));
    }
    let mut mods = Mods::default();
    for c in mods_text.unwrap_or_default().chars() {
        match c {
            'i' => mods.nocase = true,
            'w' => mods.wide = true,
            'a' => mods.ascii = true,
            'f' => mods.fullword = true,
            other => return malformed(format!("unknown subsignature modifier `{other}`")),
        }
    }
    let (offset, hex) = match body.rsplit_once(':') {
        Some((o, h)) => (o, h),
        None => ("*", body),
    };
    Ok(SubsigText { offset, hex, mods })
}

/// A logical signature line as written.
#[derive(Debug)]
pub(crate) struct LineText<'a> {
    pub(crate) name: &'a str,
    pub(crate) target: Target,
    pub(crate) expr: Expr,
    pub(crate) subsigs: Vec<&'a str>,
}

/// Splits and checks an `.ldb` line (its subsignatures are parsed by the
/// caller).
pub(crate) fn line(text: &str) -> Result<LineText<'_>, LineError> {
    let fields: Vec<&str> = text.split(';').collect();
    let [name, tdb, expr, subsigs @ ..] = fields.as_slice() else {
        return malformed("a logical signature is Name;Target...;Expression;Subsig0;...");
    };
    if subsigs.is_empty() {
        return malformed("a logical signature without subsignatures");
    }
    if subsigs.len() > 64 {
        return malformed("more than 64 subsignatures");
    }
    let target = Target::parse(tdb)?;
    let expr = Expr::parse(expr)?;
    let mut used = vec![false; subsigs.len()];
    expr.uses(&mut used);
    if used.len() > subsigs.len() {
        return malformed("the expression names a subsignature that is not there");
    }
    if used.iter().any(|u| !u) {
        // clamscan refuses a subsignature the expression never names.
        return malformed("a subsignature the expression does not use");
    }
    Ok(LineText {
        name,
        target,
        expr,
        subsigs: subsigs.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_count_as_documented() {
        let e = Expr::parse("((0|1|2)>5,2)&(3|1)").unwrap();
        assert!(e.holds(&[3, 3, 0, 1]));
        assert!(!e.holds(&[6, 0, 0, 1])); // one distinct signature only
        assert!(!e.holds(&[3, 2, 0, 0])); // 5 matches, not more
        let e = Expr::parse("0&1=0").unwrap();
        assert!(e.holds(&[1, 0]) && !e.holds(&[1, 1]));
        let e = Expr::parse("(0|1)=2,2").unwrap();
        assert!(e.holds(&[1, 1]) && !e.holds(&[2, 0]));
        // A block's count is its true parts' only, and 0 when it fails.
        let e = Expr::parse("(0&1)=1").unwrap();
        assert!(!e.holds(&[1, 0]) && !e.holds(&[1, 1]));
        assert!(Expr::parse("(0|1)=0").unwrap().holds(&[0, 0]));
        // No precedence: split at the first operator.
        let e = Expr::parse("0&1|2").unwrap();
        assert!(!e.holds(&[0, 0, 1]));
        assert!(Expr::parse("0&").is_err());
        assert!(Expr::parse("(0|1").is_err());
        assert!(Expr::parse("((0|1))=1").is_err());
        assert!(Expr::parse("((0|1)=1)&(((0|1)&1))").is_ok());
        assert!(line("Sig;Target:0;0>2;41424344;45464748").is_err());
    }

    #[test]
    fn lines_and_subsignatures() {
        let l = line("Sig;Engine:81-255,Target:1,FileSize:10-20;0&1;41424344::iw;EP+0:45464748")
            .unwrap();
        assert!(line("Sig;Target:1,FileSize:10-20;0;41424344").is_err());
        assert_eq!(l.target.target, 1);
        assert_eq!(l.target.file_size, Some((10, 20)));
        let s = subsig(l.subsigs[0]).unwrap();
        assert!(s.mods.nocase && s.mods.wide && !s.mods.fullword);
        assert_eq!(subsig(l.subsigs[1]).unwrap().offset, "EP+0");
        assert!(line("Sig;Target:0;0&1;41424344").is_err());
        assert!(line("Sig;Target:0,Foo:1;0;41424344").is_err());
        assert!(line("Sig;Engine:51-255;0;41424344").is_err());
        assert!(matches!(
            line("Sig;Target:0,Container:CL_TYPE_ZIP;0;41424344"),
            Err(LineError::Unsupported(_))
        ));
        assert!(matches!(subsig("0/abc/"), Err(LineError::Unsupported(_))));
    }
}
