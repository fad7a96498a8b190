//! ClamAV's hex body patterns: parsed into parts, matched by a search
//! anchored on the pattern's longest run of fixed bytes.
//!
//! The grammar is ClamAV's body-signature format: hex byte pairs, `??`,
//! nibble wildcards `a?`/`?a`, `*`, `{n}`, `{-n}`, `{n-}`, `{n-m}`, the
//! anchored range `[n-m]`, alternatives `(aa|bb|cc)` (single bytes or
//! strings, which may differ in length), negated alternatives `!(aa|bb)`.
//! The boundary markers `(B)`, `(L)` and `(W)` are recognised and refused
//! as [`LineError::Unsupported`]: the signature is counted as skipped, not
//! matched wrongly.
//!
//! Matching is a depth-first search over the parts with a memo of the
//! (part, position) states that failed, so a pattern with many gaps costs
//! at most parts × positions steps per object, never exponential time; a
//! work cap beyond that makes the engine report a failure (never a silent
//! miss).

use std::collections::HashSet;

/// One byte of a pattern: `value` under `mask` (0xFF exact, 0xF0/0x0F a
/// nibble, 0x00 any).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Atom {
    mask: u8,
    value: u8,
}

impl Atom {
    #[inline]
    fn matches(self, b: u8) -> bool {
        b & self.mask == self.value
    }

    fn is_exact(self) -> bool {
        self.mask == 0xFF
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    /// A run of bytes of fixed length.
    Atoms(Vec<Atom>),
    /// One of several strings (lengths may differ).
    Alt(Vec<Vec<Atom>>),
    /// Any string of the alternatives' common length that is none of them.
    NotAlt(Vec<Vec<Atom>>),
    /// Between `min` and `max` (unbounded when `None`) bytes of anything.
    Gap { min: usize, max: Option<usize> },
}

/// A parsed pattern, split at its anchor.
#[derive(Clone, Debug)]
pub(crate) struct Pattern {
    /// The parts before the anchor, reversed (each part's bytes too), for
    /// the backward search from the anchor's start.
    left: Vec<Part>,
    /// The fixed bytes the prefilter finds.
    anchor: Vec<u8>,
    /// The parts after the anchor.
    right: Vec<Part>,
    /// The shortest input the whole pattern can match.
    min_len: usize,
    /// Where, in `left`, the offset is checked: ClamAV places a pattern
    /// that opens with `aa[n-m]` by what follows the range (the single
    /// byte is a side condition), so the check comes before the last two
    /// left parts. `None`: at the very start.
    mark: Option<usize>,
    /// Letters match in either case (`::i`).
    nocase: bool,
}

/// Why a signature line is not taken: malformed (clamscan refuses the
/// database), or using what mdscan does not match yet (the signature is
/// skipped and counted, never matched differently from clamscan).
#[derive(Debug)]
pub(crate) enum LineError {
    Malformed(String),
    Unsupported(String),
}

impl LineError {
    /// The same error with an unsupported feature named for its kind of
    /// database (`ndb: ...`).
    pub(crate) fn in_kind(self, kind: &str) -> LineError {
        match self {
            LineError::Unsupported(why) => LineError::Unsupported(format!("{kind}: {why}")),
            malformed => malformed,
        }
    }
}

fn bad<T>(why: impl Into<String>) -> Result<T, LineError> {
    Err(LineError::Malformed(why.into()))
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// One byte of hex at `s[i..i+2]`, with `?` nibbles.
fn atom_at(s: &[u8], i: usize) -> Result<Atom, LineError> {
    let (Some(&h), Some(&l)) = (s.get(i), s.get(i + 1)) else {
        return bad("odd number of hex digits");
    };
    let nibble = |c: u8| -> Result<Option<u8>, LineError> {
        if c == b'?' {
            Ok(None)
        } else {
            hex_digit(c)
                .map(Some)
                .ok_or_else(|| LineError::Malformed(format!("`{}` is not hex", c as char)))
        }
    };
    let (h, l) = (nibble(h)?, nibble(l)?);
    let (mut mask, mut value) = (0u8, 0u8);
    if let Some(h) = h {
        mask |= 0xF0;
        value |= h << 4;
    }
    if let Some(l) = l {
        mask |= 0x0F;
        value |= l;
    }
    Ok(Atom { mask, value })
}

fn number(s: &str) -> Result<usize, LineError> {
    s.parse::<usize>()
        .map_err(|_| LineError::Malformed(format!("`{s}` is not a number")))
}

/// Parses the inside of `{...}` or `[...]`.
fn gap(inner: &str) -> Result<Part, LineError> {
    let part = if let Some(n) = inner.strip_prefix('-') {
        Part::Gap {
            min: 0,
            max: Some(number(n)?),
        }
    } else if let Some(n) = inner.strip_suffix('-') {
        Part::Gap {
            min: number(n)?,
            max: None,
        }
    } else if let Some((a, b)) = inner.split_once('-') {
        let (min, max) = (number(a)?, number(b)?);
        if max < min {
            return bad(format!("range {{{inner}}} ends before it starts"));
        }
        Part::Gap {
            min,
            max: Some(max),
        }
    } else {
        let n = number(inner)?;
        Part::Gap {
            min: n,
            max: Some(n),
        }
    };
    Ok(part)
}

/// Parses an alternative's strings.
fn alternatives(inner: &[u8]) -> Result<Vec<Vec<Atom>>, LineError> {
    let mut out = Vec::new();
    for alt in inner.split(|&c| c == b'|') {
        if alt.is_empty() {
            return bad("an empty alternative");
        }
        let mut atoms = Vec::new();
        let mut i = 0;
        while i < alt.len() {
            atoms.push(atom_at(alt, i)?);
            i += 2;
        }
        out.push(atoms);
    }
    Ok(out)
}

impl Pattern {
    /// Parses a hex pattern.
    pub(crate) fn parse(text: &str) -> Result<Pattern, LineError> {
        Pattern::parse_with(text, 3, false, false, false, false)
    }

    /// Parses a hex pattern that must be at least `min_total` bytes (3 for
    /// an `.ndb` signature, 2 for a logical subsignature, as clamscan
    /// checks), widened (`::w`: every fixed byte followed by a zero) and
    /// matched without regard to ASCII case (`::i`) when asked;
    /// `modified` says the subsignature has modifiers at all;
    /// `last_part_anchor` anchors it in its last part (for counting).
    pub(crate) fn parse_with(
        text: &str,
        min_total: usize,
        wide: bool,
        nocase: bool,
        modified: bool,
        last_part_anchor: bool,
    ) -> Result<Pattern, LineError> {
        let s = text.as_bytes();
        let mut parts: Vec<Part> = Vec::new();
        let mut run: Vec<Atom> = Vec::new();
        // Indexes of the parts written `[n-m]`.
        let mut brackets: Vec<usize> = Vec::new();
        let flush = |run: &mut Vec<Atom>, parts: &mut Vec<Part>| {
            if !run.is_empty() {
                parts.push(Part::Atoms(std::mem::take(run)));
            }
        };
        // The text between `i` and the first `close` after it.
        let closed = |from: usize, close: u8| -> Option<&[u8]> {
            let rest = s.get(from..)?;
            rest.get(..rest.iter().position(|&c| c == close)?)
        };
        let mut i = 0;
        while let Some(&c) = s.get(i) {
            match c {
                b'*' => {
                    flush(&mut run, &mut parts);
                    parts.push(Part::Gap { min: 0, max: None });
                    i += 1;
                }
                open @ (b'{' | b'[') => {
                    let close = if open == b'{' { b'}' } else { b']' };
                    let Some(inner) = closed(i + 1, close) else {
                        return bad(format!("`{}` is not closed", open as char));
                    };
                    let len = inner.len();
                    let inner = std::str::from_utf8(inner)
                        .map_err(|_| LineError::Malformed("not ASCII".into()))?;
                    flush(&mut run, &mut parts);
                    let g = gap(inner)?;
                    if open == b'[' {
                        brackets.push(parts.len());
                    }
                    parts.push(g);
                    i += len + 2;
                }
                b'!' | b'(' => {
                    let negated = c == b'!';
                    let open = if negated { i + 1 } else { i };
                    if s.get(open) != Some(&b'(') {
                        return bad("`!` not followed by `(`");
                    }
                    let Some(inner) = closed(open + 1, b')') else {
                        return bad("`(` is not closed");
                    };
                    if let [m @ (b'B' | b'L' | b'W')] = inner {
                        return Err(LineError::Unsupported(format!(
                            "the boundary marker `{}({})`",
                            if negated { "!" } else { "" },
                            *m as char
                        )));
                    }
                    let alts = alternatives(inner)?;
                    flush(&mut run, &mut parts);
                    match alts.as_slice() {
                        [first, ..] if negated => {
                            if alts.iter().any(|a| a.len() != first.len()) {
                                return bad("negated alternatives of different lengths");
                            }
                            parts.push(Part::NotAlt(alts));
                        }
                        [only] => run.extend_from_slice(only),
                        _ => parts.push(Part::Alt(alts)),
                    }
                    i = open + inner.len() + 2;
                }
                _ => {
                    run.push(atom_at(s, i)?);
                    i += 2;
                }
            }
        }
        flush(&mut run, &mut parts);
        if parts.is_empty() {
            return bad("an empty pattern");
        }
        check_shape(&parts, &brackets, min_total)?;
        // ClamAV reads a `{...}` whose maximum is 0 (`{0}`, `{0-0}`,
        // `{-0}`) as no maximum at all: measured with clamscan 1.4.
        for (i, p) in parts.iter_mut().enumerate() {
            if let Part::Gap { max, .. } = p
                && *max == Some(0)
                && !brackets.contains(&i)
            {
                *max = None;
            }
        }
        if (wide || nocase || modified) && parts.iter().any(|p| matches!(p, Part::NotAlt(_))) {
            // clamscan refuses a negation in a subsignature with any
            // modifier ("Can't apply negation operation to generic
            // alternate strings").
            return bad("a negated alternative in a subsignature with modifiers");
        }
        let leading_single = brackets.first() == Some(&1) && parts.first().map(min_len) == Some(1);
        if wide {
            parts = parts.into_iter().map(widened).collect();
        }
        // A logical subsignature counts one match per place its last part
        // (after the last `*` or `{n-m}`) matches, as clamscan counts:
        // anchored there, each verified hit is one such place.
        let from = if last_part_anchor {
            parts
                .iter()
                .enumerate()
                .filter(|(i, p)| {
                    matches!(p, Part::Gap { min, max } if *max != Some(*min))
                        && !brackets.contains(i)
                })
                .map(|(i, _)| i + 1)
                .next_back()
                .unwrap_or(0)
        } else {
            0
        };
        let mut p = Pattern::split(parts, leading_single, from)?;
        p.nocase = nocase;
        Ok(p)
    }

    /// Splits `parts` at the longest run of exact bytes.
    /// When `from` is given, only parts from that index on are candidates
    /// (if one of them holds a fixed byte).
    fn split(
        mut parts: Vec<Part>,
        leading_bracket: bool,
        from: usize,
    ) -> Result<Pattern, LineError> {
        let mut best: Option<(usize, usize, usize)> = None; // (part, start, len)
        let has_fixed = |p: &Part| matches!(p, Part::Atoms(a) if a.iter().any(|a| a.is_exact()));
        let from = if parts.iter().skip(from).any(has_fixed) {
            from
        } else {
            0
        };
        for (p, part) in parts.iter().enumerate().skip(from) {
            let Part::Atoms(atoms) = part else { continue };
            let mut start = 0;
            for run in atoms.split(|a| !a.is_exact()) {
                if !run.is_empty() && best.is_none_or(|(_, _, len)| run.len() > len) {
                    best = Some((p, start, run.len()));
                }
                start += run.len() + 1;
            }
        }
        let Some((p, start, len)) = best else {
            return Err(LineError::Unsupported(
                "a pattern without a fixed byte".into(),
            ));
        };
        let min_len = parts.iter().map(min_len).sum();
        let right_parts = parts.split_off(p + 1);
        let Some(Part::Atoms(mut atoms)) = parts.pop() else {
            return Err(LineError::Malformed("no anchor".into()));
        };
        let tail = atoms.split_off((start + len).min(atoms.len()));
        let fixed = atoms.split_off(start.min(atoms.len()));
        let anchor = fixed.iter().map(|a| a.value).collect();
        let mut right = Vec::new();
        if !tail.is_empty() {
            right.push(Part::Atoms(tail));
        }
        right.extend(right_parts);
        if !atoms.is_empty() {
            parts.push(Part::Atoms(atoms));
        }
        let left: Vec<Part> = parts.into_iter().rev().map(reversed).collect();
        let mark = leading_bracket.then(|| left.len().saturating_sub(2));
        Ok(Pattern {
            nocase: false,
            mark,
            left,
            anchor,
            right,
            min_len,
        })
    }

    /// Whether letters match in either case.
    pub(crate) fn nocase(&self) -> bool {
        self.nocase
    }

    /// The fixed bytes a prefilter looks for.
    pub(crate) fn anchor(&self) -> &[u8] {
        &self.anchor
    }

    /// The shortest input the pattern can match.
    pub(crate) fn min_len(&self) -> usize {
        self.min_len
    }
}

/// The shape rules clamscan enforces (its "Malformed database"): the bytes
/// between two `*`/`{}` gaps are at least 2 long; `[n-m]` has one single
/// byte on one side and at least two on the other, with n <= m <= 32; the
/// pattern is at least 3 bytes and holds 2 fixed bytes in a row.
fn check_shape(parts: &[Part], brackets: &[usize], min_total: usize) -> Result<(), LineError> {
    // Byte lengths of the pieces between gaps of either kind, each with
    // whether the gap before it is a bracket one.
    let mut pieces: Vec<(usize, bool)> = vec![(0, false)];
    for (i, p) in parts.iter().enumerate() {
        match (p, pieces.last_mut()) {
            (Part::Gap { .. }, _) => pieces.push((0, brackets.contains(&i))),
            (_, Some(last)) => last.0 += min_len(p),
            (_, None) => {}
        }
    }
    for w in pieces.windows(2) {
        let [(left, _), (right, bracket)] = w else {
            continue;
        };
        let (left, right) = (*left, *right);
        if *bracket {
            if !((left == 1 && right >= 2) || (left >= 2 && right == 1)) {
                return bad("`[n-m]` needs a single byte on one side and two or more on the other");
            }
        } else if left < 2 || right < 2 {
            return bad("a wildcard gap needs at least two bytes on each side");
        }
    }
    if let [(only, _)] = pieces.as_slice()
        && *only < 2
    {
        return bad("a pattern of fewer than two bytes");
    }
    for &b in brackets {
        if let Some(Part::Gap { min, max }) = parts.get(b)
            && max.is_none_or(|m| m > 32 || m < *min)
        {
            return bad("`[n-m]` allows at most 32");
        }
    }
    let total: usize = parts.iter().map(min_len).sum();
    let fixed_pair = parts.iter().any(|p| match p {
        Part::Atoms(a) => a
            .windows(2)
            .any(|w| matches!(w, [x, y] if x.is_exact() && y.is_exact())),
        _ => false,
    });
    if total < min_total || !fixed_pair {
        return bad(format!(
            "a pattern needs at least {min_total} bytes, two of them fixed and in a row"
        ));
    }
    Ok(())
}

fn min_len(p: &Part) -> usize {
    match p {
        Part::Atoms(a) => a.len(),
        Part::Alt(alts) => alts.iter().map(Vec::len).min().unwrap_or(0),
        Part::NotAlt(alts) => alts.first().map_or(0, Vec::len),
        Part::Gap { min, .. } => *min,
    }
}

/// A part as `::w` reads it: every byte of the pattern, `??` and nibbles
/// included, followed by a zero byte; gaps are not doubled (measured with
/// clamscan 1.4: `41??42::w` matches `A\0x\0B\0`, `41{2}42::w` two bytes
/// between `A\0` and `B\0`).
fn widened(p: Part) -> Part {
    let zero = Atom {
        mask: 0xFF,
        value: 0,
    };
    let widen = |v: Vec<Atom>| -> Vec<Atom> { v.into_iter().flat_map(|a| [a, zero]).collect() };
    match p {
        Part::Atoms(a) => Part::Atoms(widen(a)),
        Part::Alt(alts) => Part::Alt(alts.into_iter().map(widen).collect()),
        Part::NotAlt(alts) => Part::NotAlt(alts.into_iter().map(widen).collect()),
        g @ Part::Gap { .. } => g,
    }
}

fn reversed(p: Part) -> Part {
    let rev = |mut v: Vec<Atom>| {
        v.reverse();
        v
    };
    match p {
        Part::Atoms(a) => Part::Atoms(rev(a)),
        Part::Alt(alts) => Part::Alt(alts.into_iter().map(rev).collect()),
        Part::NotAlt(alts) => Part::NotAlt(alts.into_iter().map(rev).collect()),
        g @ Part::Gap { .. } => g,
    }
}

/// The work cap: search steps per pattern per object.
const MAX_STEPS: u64 = 50_000_000;

/// The search ran past [`MAX_STEPS`].
#[derive(Debug)]
pub(crate) struct TooMuchWork;

/// The bytes seen forwards or backwards.
#[derive(Clone, Copy)]
struct View<'a> {
    data: &'a [u8],
    back: bool,
    nocase: bool,
}

impl View<'_> {
    #[inline]
    fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether `atoms` match the bytes from `pos` on (in this view's
    /// direction).
    fn run_matches(&self, atoms: &[Atom], pos: usize) -> bool {
        let Some(end) = pos.checked_add(atoms.len()).filter(|&e| e <= self.len()) else {
            return false;
        };
        if self.back {
            let (from, to) = (self.data.len() - end, self.data.len() - pos);
            self.data.get(from..to).is_some_and(|bytes| {
                bytes
                    .iter()
                    .rev()
                    .zip(atoms)
                    .all(|(&b, a)| self.atom_matches(*a, b))
            })
        } else {
            self.data.get(pos..end).is_some_and(|bytes| {
                bytes
                    .iter()
                    .zip(atoms)
                    .all(|(&b, a)| self.atom_matches(*a, b))
            })
        }
    }

    #[inline]
    fn atom_matches(&self, a: Atom, b: u8) -> bool {
        a.matches(b) || (self.nocase && b.is_ascii_alphabetic() && a.matches(b ^ 0x20))
    }
}

/// One side's search: the failed states it has seen, kept across the
/// anchor hits of one object (a state's outcome does not depend on the hit).
pub(crate) struct Side<'p> {
    parts: &'p [Part],
    /// The part index at which `done` is asked (default: past the last).
    mark: usize,
    failed: HashSet<(usize, usize)>,
}

impl<'p> Side<'p> {
    fn new(parts: &'p [Part], mark: Option<usize>) -> Side<'p> {
        Side {
            parts,
            mark: mark.unwrap_or(parts.len()),
            failed: HashSet::new(),
        }
    }

    /// Whether `parts[i..]` match from `pos` on and end where `done`
    /// accepts.
    fn search(
        &mut self,
        view: View<'_>,
        i: usize,
        pos: usize,
        done: &dyn Fn(usize) -> bool,
        steps: &mut u64,
    ) -> Result<bool, TooMuchWork> {
        *steps += 1;
        if *steps > MAX_STEPS {
            return Err(TooMuchWork);
        }
        if self.failed.contains(&(i, pos)) {
            return Ok(false);
        }
        if i == self.mark && !done(pos) {
            self.failed.insert((i, pos));
            return Ok(false);
        }
        let Some(part) = self.parts.get(i) else {
            return Ok(true);
        };
        let found = match part {
            Part::Atoms(atoms) => {
                view.run_matches(atoms, pos)
                    && self.search(view, i + 1, pos + atoms.len(), done, steps)?
            }
            Part::Alt(alts) => {
                let mut any = false;
                for alt in alts {
                    if view.run_matches(alt, pos)
                        && self.search(view, i + 1, pos + alt.len(), done, steps)?
                    {
                        any = true;
                        break;
                    }
                }
                any
            }
            Part::NotAlt(alts) => {
                let n = alts.first().map_or(0, Vec::len);
                pos + n <= view.len()
                    && !alts.iter().any(|a| view.run_matches(a, pos))
                    && self.search(view, i + 1, pos + n, done, steps)?
            }
            Part::Gap { min, max } => {
                let from = pos.saturating_add(*min);
                let to = max.map_or(view.len(), |m| pos.saturating_add(m).min(view.len()));
                let mut any = false;
                let mut p = from;
                while p <= to {
                    if self.search(view, i + 1, p, done, steps)? {
                        any = true;
                        break;
                    }
                    p += 1;
                }
                any
            }
        };
        if !found {
            self.failed.insert((i, pos));
        }
        Ok(found)
    }
}

/// A pattern's search over one object, reused for every anchor hit.
pub(crate) struct Search<'p> {
    pattern: &'p Pattern,
    left: Side<'p>,
    right: Side<'p>,
    right_ok: HashSet<usize>,
    steps: u64,
}

impl<'p> Search<'p> {
    pub(crate) fn new(pattern: &'p Pattern) -> Search<'p> {
        Search {
            pattern,
            left: Side::new(&pattern.left, pattern.mark),
            right: Side::new(&pattern.right, None),
            right_ok: HashSet::new(),
            steps: 0,
        }
    }

    /// Whether the pattern matches with its anchor at `at`, starting where
    /// `start_ok` accepts and ending where `end_ok` accepts. The memos
    /// assume both are the same for every call on one object.
    pub(crate) fn matches_at(
        &mut self,
        data: &[u8],
        at: usize,
        start_ok: &dyn Fn(usize) -> bool,
        end_ok: &dyn Fn(usize) -> bool,
    ) -> Result<bool, TooMuchWork> {
        let nocase = self.pattern.nocase;
        let end = at + self.pattern.anchor.len();
        if !self.right_ok.contains(&end) {
            let fwd = View {
                data,
                back: false,
                nocase,
            };
            if !self.right.search(fwd, 0, end, end_ok, &mut self.steps)? {
                return Ok(false);
            }
            self.right_ok.insert(end);
        }
        let back = View {
            data,
            back: true,
            nocase,
        };
        let len = data.len();
        // Backwards, position p is data index len - p; the start of the
        // match is where the left side stops.
        self.left
            .search(back, 0, len - at, &|p| start_ok(len - p), &mut self.steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finds(pattern: &str, data: &[u8]) -> bool {
        let p = Pattern::parse(pattern).unwrap();
        let mut s = Search::new(&p);
        memchr::memmem::find_iter(data, p.anchor())
            .any(|at| s.matches_at(data, at, &|_| true, &|_| true).unwrap())
    }

    #[test]
    fn wildcards_gaps_and_alternatives() {
        assert!(finds("41424344", b"xxABCDxx"));
        assert!(!finds("41424345", b"xxABCDxx"));
        assert!(finds("4142??44", b"ABzD"));
        assert!(finds("41424?", b"ABC"));
        assert!(!finds("41424?", b"ABS"));
        assert!(finds("4142?3", b"ABS"));
        assert!(finds("4142*4344", b"ABxxxxxxCD"));
        assert!(finds("4142{2}4344", b"AB..CD"));
        assert!(!finds("4142{2}4344", b"AB...CD"));
        assert!(finds("4142{-3}4344", b"ABCD"));
        assert!(finds("4142{-3}4344", b"AB...CD"));
        assert!(!finds("4142{-3}4344", b"AB....CD"));
        assert!(finds("4142{2-}4344", b"AB.....CD"));
        assert!(!finds("4142{2-}4344", b"AB.CD"));
        assert!(finds("4142{1-2}4344", b"AB..CD"));
        assert!(finds("4142(43|44)45", b"ABDE"));
        assert!(!finds("4142(43|44)45", b"ABFE"));
        assert!(finds("4142!(43|44)45", b"ABFE"));
        assert!(!finds("4142!(43|44)45", b"ABCE"));
        assert!(finds("41(4243|44)4546", b"ADEF"));
        assert!(finds("41(4243|44)4546", b"ABCEF"));
        assert!(finds("4142[1-3]43", b"AB..C"));
        // Gaps before the anchor.
        assert!(finds("4148{1-4}42434445", b"AH..BCDE"));
        assert!(!finds("4148{1-4}42434445", b"AH.....BCDE"));
    }

    #[test]
    fn malformed_and_unsupported() {
        for bad in [
            "4",
            "4G",
            "*4142",
            "4142*",
            "41{x}42",
            "41{3-1}42",
            "41(42",
            "41!42",
        ] {
            assert!(
                matches!(Pattern::parse(bad), Err(LineError::Malformed(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            Pattern::parse("4142(B)4344"),
            Err(LineError::Unsupported(_))
        ));
    }
}
