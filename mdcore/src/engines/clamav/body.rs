//! Body signatures (`.ndb`) and logical signatures (`.ldb`) over one
//! object: every pattern's fixed anchor goes into an Aho-Corasick
//! prefilter (one case-sensitive, one for `::i` subsignatures); each hit
//! is verified by the pattern's search; `.ndb` signatures need one match,
//! logical signatures count them and evaluate their expression.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use aho_corasick::AhoCorasick;

use super::logical::{Expr, Target};
use super::offset::{ExecInfo, Offset};
use super::pattern::{Pattern, Search};
use crate::kind::Kind;

/// A pattern and where it may start, owned by an `.ndb` signature or by a
/// logical signature's subsignature.
#[derive(Debug)]
struct Subsig {
    pattern: Pattern,
    offset: Offset,
    fullword: bool,
    owner: Owner,
}

#[derive(Clone, Copy, Debug)]
enum Owner {
    Body(usize),
    Logical { sig: usize, index: usize },
}

#[derive(Debug)]
struct BodySig {
    name: Arc<str>,
    target: u32,
    enabled: bool,
}

#[derive(Debug)]
struct LogicalSig {
    name: Arc<str>,
    target: Target,
    expr: Expr,
    subsigs: usize,
    enabled: bool,
    /// The expression holds with nothing matched: clamscan then reports
    /// the signature on every object of its target, whatever matches
    /// (measured: `(0|1)=0` is reported on a file holding both).
    when_empty: bool,
}

/// One logical subsignature to add: where it starts, its pattern(s) (two
/// for `::wa`: the wide and the ASCII reading count as one), full word.
pub(crate) struct NewSubsig {
    pub(crate) offset: Offset,
    pub(crate) patterns: Vec<Pattern>,
    pub(crate) fullword: bool,
}

/// The body and logical signatures being loaded.
#[derive(Debug, Default)]
pub(crate) struct Bodies {
    subsigs: Vec<Subsig>,
    bodies: Vec<BodySig>,
    logicals: Vec<LogicalSig>,
}

/// Why a scan stopped before its end: the engine reports a failure (code
/// 3), or a timeout (the object gets 16), never a silent miss.
#[derive(Debug)]
pub(crate) enum Stop {
    OutOfTime,
    TooMuchWork(usize),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::OutOfTime => f.write_str("the ClamAV engine ran out of time"),
            Stop::TooMuchWork(id) => write!(f, "a ClamAV signature needed too much work ({id})"),
        }
    }
}

/// The most matches of one subsignature counted in one object.
const MAX_COUNT: u64 = 100_000;

impl Bodies {
    pub(crate) fn add_body(
        &mut self,
        name: Arc<str>,
        target: u32,
        offset: Offset,
        pattern: Pattern,
    ) {
        let owner = Owner::Body(self.bodies.len());
        self.bodies.push(BodySig {
            name,
            target,
            enabled: true,
        });
        self.subsigs.push(Subsig {
            pattern,
            offset,
            fullword: false,
            owner,
        });
    }

    pub(crate) fn add_logical(
        &mut self,
        name: Arc<str>,
        target: Target,
        expr: Expr,
        subs: Vec<NewSubsig>,
    ) {
        let sig = self.logicals.len();
        self.logicals.push(LogicalSig {
            name,
            target,
            expr,
            subsigs: subs.len(),
            enabled: true,
            when_empty: false,
        });
        for (index, s) in subs.into_iter().enumerate() {
            for pattern in s.patterns {
                self.subsigs.push(Subsig {
                    pattern,
                    offset: s.offset,
                    fullword: s.fullword,
                    owner: Owner::Logical { sig, index },
                });
            }
        }
    }

    /// Signatures loaded (`.ndb`, `.ldb`).
    pub(crate) fn counts(&self) -> (usize, usize) {
        (self.bodies.len(), self.logicals.len())
    }

    /// Turns off the signatures whose base name `ignored` says.
    pub(crate) fn ignore(&mut self, ignored: &dyn Fn(&str) -> bool) {
        for b in &mut self.bodies {
            b.enabled &= !ignored(&b.name);
        }
        for l in &mut self.logicals {
            l.enabled &= !ignored(&l.name);
        }
    }

    pub(crate) fn build(mut self) -> Result<Matcher, String> {
        for l in &mut self.logicals {
            l.when_empty = l.expr.holds(&vec![0; l.subsigs]);
        }
        let automaton = |nocase: bool| -> Result<Option<(AhoCorasick, Vec<usize>)>, String> {
            let (ids, anchors): (Vec<usize>, Vec<&[u8]>) = self
                .subsigs
                .iter()
                .enumerate()
                .filter(|(_, s)| s.pattern.nocase() == nocase)
                .map(|(i, s)| (i, s.pattern.anchor()))
                .unzip();
            if anchors.is_empty() {
                return Ok(None);
            }
            let ac = AhoCorasick::builder()
                .ascii_case_insensitive(nocase)
                .build(&anchors)
                .map_err(|e| format!("the ClamAV body signatures do not fit the matcher: {e}"))?;
            Ok(Some((ac, ids)))
        };
        let exact = automaton(false)?;
        let folded = automaton(true)?;
        // Logical signatures that hold with nothing matched (`0=0`) are
        // evaluated for every object, as ClamAV evaluates them.
        let always = self
            .logicals
            .iter()
            .enumerate()
            .filter(|(_, l)| l.when_empty)
            .map(|(i, _)| i)
            .collect();
        Ok(Matcher {
            bodies: self,
            exact,
            folded,
            always,
        })
    }
}

/// Whether an object of `kind` (and `mime`) is of ClamAV target type
/// `target`; `normalized` for the normalized reading of a text file, which
/// only targets 0 and 7 see.
pub(crate) fn target_fits(target: u32, kind: Kind, mime: &str, normalized: bool) -> bool {
    if normalized {
        return matches!(target, 0 | 7);
    }
    match target {
        0 => true,
        1 => kind == Kind::Pe,
        2 => matches!(kind, Kind::Ole2 | Kind::Msi),
        4 => matches!(kind, Kind::Mail | Kind::Mbox),
        5 => mime.starts_with("image/"),
        6 => kind == Kind::Elf,
        9 => kind == Kind::MachO,
        10 => kind == Kind::Pdf,
        11 => {
            mime == "application/x-shockwave-flash" || mime == "application/vnd.adobe.flash.movie"
        }
        12 => mime == "application/java-vm" || mime == "application/x-java-applet",
        _ => false,
    }
}

/// The object a scan looks at.
pub(crate) struct Object<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) kind: Kind,
    pub(crate) mime: &'a str,
    pub(crate) exec: Option<&'a ExecInfo>,
    /// The normalized reading of a text file.
    pub(crate) normalized: bool,
}

/// ClamAV's text normalization (`textnorm.c`): whitespace runs become one
/// space, upper case letters lower case, other control bytes and bytes
/// above 0x7F go.
pub(crate) fn normalize_text(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut space = false;
    for &c in data {
        match c {
            b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ' => {
                if !space {
                    out.push(b' ');
                }
                space = true;
            }
            0x21..=0x7E => {
                out.push(c.to_ascii_lowercase());
                space = false;
            }
            _ => {}
        }
    }
    out
}

impl Object<'_> {
    fn fits_logical(&self, t: &Target) -> bool {
        let len = self.data.len() as u64;
        let within = |r: Option<(u64, u64)>, v: Option<u64>| {
            r.is_none_or(|(lo, hi)| v.is_some_and(|v| lo <= v && v <= hi))
        };
        target_fits(t.target, self.kind, self.mime, self.normalized)
            && within(t.file_size, Some(len))
            && within(t.entry_point, self.exec.and_then(|e| e.entry))
            && within(t.sections, self.exec.map(|e| e.sections.len() as u64))
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// The prefilters and signatures, ready to scan.
#[derive(Debug)]
pub(crate) struct Matcher {
    bodies: Bodies,
    exact: Option<(AhoCorasick, Vec<usize>)>,
    folded: Option<(AhoCorasick, Vec<usize>)>,
    always: Vec<usize>,
}

/// A subsignature's state in one object.
struct State<'p> {
    search: Search<'p>,
    starts: Option<(u64, u64)>,
    eligible: bool,
    count: u64,
}

impl Matcher {
    /// Whether no body or logical signature is loaded (a scan finds
    /// nothing).
    pub(crate) fn is_empty(&self) -> bool {
        self.exact.is_none() && self.folded.is_none() && self.always.is_empty()
    }

    /// The names of the body and logical signatures that match, `.ndb`
    /// first, each in load order; an error when the search ran out of work
    /// or time.
    pub(crate) fn scan(&self, o: &Object<'_>, deadline: Instant) -> Result<Vec<String>, Stop> {
        let data = o.data;
        let len = data.len() as u64;
        let mut states: HashMap<usize, State<'_>> = HashMap::new();
        let mut eligible_logical: HashMap<usize, bool> = HashMap::new();
        let prefilters = [&self.exact, &self.folded];
        let mut n = 0u64;
        for (ac, ids) in prefilters.into_iter().flatten() {
            for hit in ac.find_overlapping_iter(data) {
                n += 1;
                if n.is_multiple_of(4096) && Instant::now() > deadline {
                    return Err(Stop::OutOfTime);
                }
                let Some(&id) = ids.get(hit.pattern().as_usize()) else {
                    continue;
                };
                let Some(sub) = self.bodies.subsigs.get(id) else {
                    continue;
                };
                let state = states.entry(id).or_insert_with(|| {
                    let eligible = (sub.pattern.min_len() as u64) <= len
                        && match sub.owner {
                            Owner::Body(b) => self.bodies.bodies.get(b).is_some_and(|b| {
                                b.enabled && target_fits(b.target, o.kind, o.mime, o.normalized)
                            }),
                            Owner::Logical { sig, .. } => {
                                *eligible_logical.entry(sig).or_insert_with(|| {
                                    self.bodies
                                        .logicals
                                        .get(sig)
                                        .is_some_and(|l| l.enabled && o.fits_logical(&l.target))
                                })
                            }
                        };
                    State {
                        search: Search::new(&sub.pattern),
                        starts: sub.offset.starts(len, o.exec),
                        eligible,
                        count: 0,
                    }
                });
                let Some((lo, hi)) = state.starts.filter(|_| state.eligible) else {
                    continue;
                };
                // One match is all an `.ndb` signature needs.
                if state.count >= MAX_COUNT
                    || (matches!(sub.owner, Owner::Body(_)) && state.count > 0)
                {
                    continue;
                }
                let fullword = sub.fullword;
                let start_ok = |s: usize| {
                    (lo..=hi).contains(&(s as u64))
                        && (!fullword || s == 0 || data.get(s - 1).is_none_or(|&b| !is_word(b)))
                };
                let end_ok = |e: usize| !fullword || data.get(e).is_none_or(|&b| !is_word(b));
                let ok = state
                    .search
                    .matches_at(data, hit.start(), &start_ok, &end_ok)
                    .map_err(|_| Stop::TooMuchWork(id))?;
                if ok {
                    state.count += 1;
                }
            }
        }
        let mut bodies: Vec<usize> = Vec::new();
        let mut counts: HashMap<usize, Vec<u64>> = HashMap::new();
        for (id, state) in &states {
            if state.count == 0 {
                continue;
            }
            match self.bodies.subsigs.get(*id).map(|s| s.owner) {
                Some(Owner::Body(b)) => bodies.push(b),
                Some(Owner::Logical { sig, index }) => {
                    let n = self.bodies.logicals.get(sig).map_or(0, |l| l.subsigs);
                    let c = counts.entry(sig).or_insert_with(|| vec![0; n]);
                    if let Some(slot) = c.get_mut(index) {
                        *slot = slot.saturating_add(state.count);
                    }
                }
                None => {}
            }
        }
        bodies.sort_unstable();
        bodies.dedup();
        let mut names: Vec<String> = bodies
            .iter()
            .filter_map(|&b| self.bodies.bodies.get(b).map(|b| b.name.to_string()))
            .collect();
        let mut logicals: Vec<usize> = counts.keys().copied().collect();
        logicals.extend(&self.always);
        logicals.sort_unstable();
        logicals.dedup();
        for sig in logicals {
            let Some(l) = self.bodies.logicals.get(sig) else {
                continue;
            };
            let zero = vec![0; l.subsigs];
            let c = counts.get(&sig).unwrap_or(&zero);
            let fits = *eligible_logical
                .entry(sig)
                .or_insert_with(|| l.enabled && o.fits_logical(&l.target));
            if fits && (l.when_empty || l.expr.holds(c)) {
                names.push(l.name.to_string());
            }
        }
        Ok(names)
    }
}
