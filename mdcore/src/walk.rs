//! The walker: the only place that recurses.
//!
//! For each object: detect its type, hash it, run the engines, and if it is
//! a container (and the limits allow), extract it — scheduling each child on
//! the rayon pool as soon as the extractor yields it, so children are scanned
//! while the container is still being decoded. Children held in memory and
//! waiting for a thread are capped ([`crate::Limits::max_in_flight`]); past
//! the cap the extracting thread scans the child itself, which throttles
//! extraction to the speed of scanning.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::detect;
use crate::detect::carve::Stopped;
use crate::digest::{Digests, Known, hex, md5_lanes, md5_many, sha256_of};
use crate::engines::{Engine, EngineKind, EngineResult, ListVerdict, ObjectView};
use crate::extract::{self, Child, Cx, Entry, Extractor, Flow, Issue};
use crate::formats::{self, Handling};
use crate::kind::{FileType, Kind};
use crate::limits::Budget;
use crate::report::{BUG_NOTE, EngineDetail, Node};
use crate::verdict::{ResultCode, roll_up};

// The hooks a scan gives the walker (set through `ScanOptions`).

/// How far a scan has got; passed to the progress callback after every
/// object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Objects finished, root and extracted ones.
    pub objects: u64,
    /// Bytes of finished objects.
    pub bytes: u64,
}

pub(crate) type ProgressFn = dyn Fn(Progress) + Send + Sync;
pub(crate) type SplitFn = dyn Fn(SplitChild<'_>) -> Option<String> + Send + Sync;

/// A child of the root offered to the [`ScanOptions::split`] hook.
#[derive(Debug)]
pub struct SplitChild<'a> {
    /// The entry's (sanitized) name inside the root.
    pub name: &'a str,
    /// Its path from the root: `outer.zip/file.exe`.
    pub display_name: &'a str,
    /// Its bytes.
    pub data: &'a [u8],
}

/// Everything shared by the whole tree of one scan.
pub(crate) struct Walker<'s> {
    pub(crate) engines: &'s [std::sync::Arc<dyn Engine>],
    pub(crate) budget: Budget,
    pub(crate) passwords: Vec<String>,
    pub(crate) type_mismatch: bool,
    pub(crate) progress: Option<&'s (dyn Fn(Progress) + Send + Sync)>,
    split: Option<&'s SplitFn>,
    /// Depth of the object the walk started at (children of it may be split).
    top: std::sync::OnceLock<u32>,
    /// Finished objects by SHA-256: identical objects are scanned once.
    cache: Mutex<HashMap<[u8; 32], Node>>,
    objects_done: AtomicU64,
    bytes_done: AtomicU64,
}

/// Where an object sits in the tree.
pub(crate) struct Place {
    pub(crate) name: String,
    pub(crate) display: String,
    pub(crate) depth: u32,
    /// SHA-256 of every ancestor: an archive that contains itself (a zip
    /// quine) is caught here instead of recursing to the depth limit.
    pub(crate) ancestors: Vec<[u8; 32]>,
    /// Set when an ancestor opened while its engines still ran (see
    /// [`SPECULATE_FROM`]) turned out to be on a list: the work below it is
    /// thrown away, so it stops.
    pub(crate) abandon: Option<Arc<Abandon>>,
}

/// Objects this big are opened while their MD5 and SHA-1 are computed and
/// their engines run, instead of after: their children are scanned on the
/// other threads meanwhile (big objects have no siblings to share hashing
/// lanes with, and one thread alone would hash them). If an engine then puts
/// the object on a list (which skips extraction), what was extracted is
/// dropped and the report is the same as if it had waited.
const SPECULATE_FROM: usize = 16 << 20;

/// The flag of one object opened ahead of its verdict, and its ancestors'.
#[derive(Debug)]
pub(crate) struct Abandon {
    flag: AtomicBool,
    up: Option<Arc<Abandon>>,
}

impl Abandon {
    fn is_set(&self) -> bool {
        self.flag.load(Ordering::Relaxed) || self.up.as_ref().is_some_and(|u| u.is_set())
    }
}

fn abandoned(a: &Option<Arc<Abandon>>) -> bool {
    a.as_ref().is_some_and(|a| a.is_set())
}

impl<'s> Walker<'s> {
    pub(crate) fn new(
        engines: &'s [std::sync::Arc<dyn Engine>],
        budget: Budget,
        passwords: Vec<String>,
        type_mismatch: bool,
        progress: Option<&'s (dyn Fn(Progress) + Send + Sync)>,
        split: Option<&'s SplitFn>,
    ) -> Self {
        Walker {
            engines,
            budget,
            passwords,
            type_mismatch,
            progress,
            split,
            top: std::sync::OnceLock::new(),
            cache: Mutex::new(HashMap::new()),
            objects_done: AtomicU64::new(0),
            bytes_done: AtomicU64::new(0),
        }
    }

    /// Examines one object and everything inside it; `known` holds digests
    /// of `data` computed elsewhere.
    pub(crate) fn walk(
        &self,
        data: Option<&[u8]>,
        place: Place,
        issue: Option<Issue>,
        known: Known,
    ) -> Node {
        let top = *self.top.get_or_init(|| place.depth);
        if abandoned(&place.abandon) {
            // Thrown away by an ancestor: nothing is examined.
            let mut node = Node::new(place.name, place.display, place.depth);
            node.own_result_i = ResultCode::NotScanned;
            return node;
        }
        if place.depth == top + 1
            && issue.is_none()
            && let (Some(split), Some(data)) = (self.split, data)
            && let Some(token) = split(SplitChild {
                name: &place.name,
                display_name: &place.display,
                data,
            })
        {
            let mut node = Node::new(place.name, place.display, place.depth);
            node.file_size = data.len() as u64;
            node.own_result_i = ResultCode::InProgress;
            node.remote = Some(token);
            node.roll_up();
            return node;
        }
        let mut node = Node::new(place.name.clone(), place.display.clone(), place.depth);
        let mut own = Vec::new();
        if let Some(issue) = issue {
            own.push(issue.code);
            node.notes.push(issue.note);
        }
        if let Some(data) = data {
            self.examine(data, known, &place, &mut node, &mut own);
        } else if own.is_empty() {
            own.push(ResultCode::NotScanned);
        }
        node.own_result_i = roll_up(own.iter().copied());
        node.roll_up();
        self.objects_done.fetch_add(1, Ordering::Relaxed);
        let bytes = self
            .bytes_done
            .fetch_add(node.file_size, Ordering::Relaxed)
            .saturating_add(node.file_size);
        if let Some(cb) = self.progress {
            cb(Progress {
                objects: self.objects_done.load(Ordering::Relaxed),
                bytes,
            });
        }
        node
    }

    fn examine(
        &self,
        data: &[u8],
        known: Known,
        place: &Place,
        node: &mut Node,
        own: &mut Vec<ResultCode>,
    ) {
        node.file_size = data.len() as u64;
        // A big mapped object is read several times over (digests, engines,
        // its reader, its members'); its pages are dropped as it goes.
        let _trim = crate::blob::Trim::during(data);
        let ft = detect::detect(data);
        node.file_type = ft.mime.to_string();
        node.file_type_description = ft.description.to_string();
        if let Err(stop) = self.budget.check() {
            own.push(stop.code());
            node.notes.push(
                Issue::stopped(stop)
                    .note
                    .replace("extraction stopped", "not examined"),
            );
            return;
        }
        if self.type_mismatch && detect::extension_mismatch(&place.name, &ft) {
            own.push(ResultCode::FileTypeMismatch);
            node.notes.push(format!(
                "the name's extension does not match the content ({})",
                ft.description
            ));
        }
        // A big object that the cluster does not take children of is opened
        // while its engines run; its SHA-256 comes first, as duplicates and
        // recursion are decided by it.
        let split_here = self.split.is_some() && self.top.get() == Some(&place.depth);
        if data.len() >= SPECULATE_FROM && !split_here {
            let sha256 = known.sha256.unwrap_or_else(|| sha256_of(data));
            let known = Known {
                sha256: Some(sha256),
                ..known
            };
            if self.seen_before(sha256, place, node, own) {
                set_digests(node, &Digests::complete(data, known));
                return;
            }
            let abandon = Arc::new(Abandon {
                flag: AtomicBool::new(false),
                up: place.abandon.clone(),
            });
            let ahead = Place {
                name: place.name.clone(),
                display: place.display.clone(),
                depth: place.depth,
                ancestors: place.ancestors.clone(),
                abandon: Some(abandon.clone()),
            };
            let mut opened = Node::new(String::new(), String::new(), node.depth);
            let mut opened_own = Vec::new();
            let (digests, ()) = rayon::join(
                || {
                    let digests = Digests::complete(data, known);
                    if self
                        .run_engines(data, &digests, &ft, place, node, own)
                        .is_some()
                    {
                        abandon.flag.store(true, Ordering::Relaxed);
                    }
                    digests
                },
                || self.open(data, &ft, &ahead, sha256, &mut opened, &mut opened_own),
            );
            set_digests(node, &digests);
            if !abandon.flag.load(Ordering::Relaxed) {
                node.notes.append(&mut opened.notes);
                node.children.append(&mut opened.children);
                own.append(&mut opened_own);
            }
            self.remember(sha256, node, own);
            return;
        }

        let digests = Digests::complete(data, known);
        set_digests(node, &digests);
        if self.seen_before(digests.sha256, place, node, own) {
            return;
        }
        let listed = self.run_engines(data, &digests, &ft, place, node, own);
        if listed.is_none() {
            self.open(data, &ft, place, digests.sha256, node, own);
        }
        self.remember(digests.sha256, node, own);
    }

    /// Whether the object is one of its ancestors (a recursive archive) or
    /// was scanned already in this walk; if so, says so in `node`.
    fn seen_before(
        &self,
        sha256: [u8; 32],
        place: &Place,
        node: &mut Node,
        own: &mut Vec<ResultCode>,
    ) -> bool {
        if place.ancestors.contains(&sha256) {
            own.push(ResultCode::ExceededArchiveDepth);
            node.notes.push(
                "identical to one of its ancestors (a recursive archive); not extracted again"
                    .into(),
            );
            return true;
        }
        let cached = self.cache.lock().ok().and_then(|c| c.get(&sha256).cloned());
        if let Some(prev) = cached {
            node.scan_details = prev.scan_details;
            node.vulnerabilities = prev.vulnerabilities;
            own.push(prev.scan_all_result_i);
            node.notes.push(format!(
                "identical to `{}`, scanned once; its result is repeated here",
                prev.display_name
            ));
            return true;
        }
        false
    }

    /// Keeps the result of a finished object for its duplicates.
    fn remember(&self, sha256: [u8; 32], node: &Node, own: &[ResultCode]) {
        if let Ok(mut cache) = self.cache.lock() {
            let mut summary = Node::new(String::new(), node.display_name.clone(), node.depth);
            summary.scan_details = node.scan_details.clone();
            summary.vulnerabilities = node.vulnerabilities.clone();
            let children = node.children.iter().map(|c| c.scan_all_result_i);
            summary.set_overall(roll_up(own.iter().copied().chain(children)));
            cache.insert(sha256, summary);
        }
    }

    /// Runs every engine; returns the list verdict if an engine had one (the
    /// remaining engines are then skipped).
    fn run_engines(
        &self,
        data: &[u8],
        digests: &Digests,
        ft: &FileType,
        place: &Place,
        node: &mut Node,
        own: &mut Vec<ResultCode>,
    ) -> Option<ListVerdict> {
        let view = ObjectView {
            data,
            digests,
            file_type: ft,
            display_name: &place.display,
        };
        for engine in self.engines {
            let info = engine.info();
            let started = Instant::now();
            let timeout = self.budget.remaining();
            let r = catch_unwind(AssertUnwindSafe(|| engine.scan(&view, timeout))).unwrap_or_else(
                |_| EngineResult::failed(format!("the engine crashed on this object {BUG_NOTE}")),
            );
            if info.kind == EngineKind::Vulnerability {
                // Not a verdict: what it found is the object's own list.
                if let Some(e) = &r.error {
                    own.push(ResultCode::Failed);
                    node.notes.push(format!("{}: {e}", info.name));
                }
                if !r.vulnerabilities.is_empty() {
                    own.push(ResultCode::PotentiallyVulnerableFile);
                    node.vulnerabilities.extend(r.vulnerabilities);
                }
                continue;
            }
            let code = match r.list {
                Some(ListVerdict::Allow) => ResultCode::Allowlisted,
                Some(ListVerdict::Block) => ResultCode::Blocklisted,
                None if r.timed_out => ResultCode::ExceededArchiveTimeout,
                None => r.code.to_result(),
            };
            own.push(code);
            if let Some(e) = &r.error {
                node.notes.push(format!("{}: {e}", info.name));
            }
            node.scan_details.insert(
                info.name.clone(),
                EngineDetail {
                    scan_result_i: r.code,
                    threat_found: r.threats.join(", "),
                    scan_time: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    def_time: info.def_time.clone(),
                    eng_id: info.id.clone(),
                },
            );
            if let Some(list) = r.list {
                let which = match list {
                    ListVerdict::Allow => "allow",
                    ListVerdict::Block => "block",
                };
                node.notes.push(format!(
                    "on the {which} list of {}; other engines and extraction skipped",
                    info.name
                ));
                return Some(list);
            }
        }
        if self
            .engines
            .iter()
            .all(|e| e.info().kind == EngineKind::Vulnerability)
        {
            own.push(ResultCode::NotScanned);
            node.notes.push("no detection engine is configured".into());
        }
        None
    }

    /// Opens what can be opened: the object's own format (when mdscan has
    /// a reader for it), then whatever is embedded in the bytes that reader
    /// did not consume — or in the whole object, for leaves.
    fn open(
        &self,
        data: &[u8],
        ft: &FileType,
        place: &Place,
        sha256: [u8; 32],
        node: &mut Node,
        own: &mut Vec<ResultCode>,
    ) {
        let deep = place.depth >= self.budget.limits.depth();
        // Where the search for embedded archives starts.
        // Text is a container only when it carries encoded objects: at the
        // depth limit, plain text stays a leaf instead of a depth stop.
        let handling = match formats::handling(ft.kind) {
            Handling::Extract(_)
                if deep
                    && ft.kind == Kind::Text
                    && !extract::text::anything_inside(data, detect::identify) =>
            {
                Handling::Leaf
            }
            h => h,
        };
        let carve_from = match handling {
            Handling::Extract(_) if deep => {
                own.push(ResultCode::ExceededArchiveDepth);
                node.notes.push(format!(
                    "not extracted: the nesting depth limit of {} was reached",
                    self.budget.limits.depth()
                ));
                return;
            }
            Handling::Extract(ex) => {
                let (end, ok) = self.extract(ex, data, place, sha256, node, own);
                match (end, ok) {
                    // A reader that consumed nothing (text, RTF) leaves the
                    // whole object to the carver.
                    (Some(end), _) => {
                        if end > 0
                            && end < data.len()
                            && data.get(end..).is_some_and(|t| t.iter().any(|b| *b != 0))
                        {
                            node.notes.push(format!(
                                "{} bytes follow the end of the {} at offset {end}; searched for embedded archives",
                                data.len() - end,
                                ft.description
                            ));
                        }
                        end
                    }
                    // The reader did not say where it stopped: everything
                    // it read is accounted for, nothing after it is known.
                    (None, true) => data.len(),
                    // It failed: search everything but its own header.
                    (None, false) => 1,
                }
            }
            Handling::Unsupported => {
                own.push(ResultCode::UnsupportedFileType);
                node.notes.push(format!(
                    "{}: mdscan recognises this format but does not open it yet; its content was not examined",
                    ft.description
                ));
                1
            }
            Handling::Leaf => {
                if ft.kind == Kind::Pe
                    && let Some(packer) = detect::packer::packer(data)
                {
                    node.notes.push(format!(
                        "packed with {packer} (a runtime packer): examined as it is, not unpacked"
                    ));
                }
                0
            }
        };
        if carve_from >= data.len() {
            return;
        }
        let carving = detect::carve::carve(data, carve_from, &|| self.budget.check().is_ok());
        match carving.stopped {
            Some(Stopped::TooManyCandidates) => {
                own.push(ResultCode::ExceededArchiveFileNumber);
                node.notes.push(format!(
                    "the search for embedded archives stopped after {} candidates that did not parse (or {} that did); the rest of the object was not searched",
                    detect::carve::MAX_REJECTED,
                    detect::carve::MAX_HITS
                ));
            }
            Some(Stopped::Budget) => {
                if let Err(stop) = self.budget.check() {
                    let issue = Issue::stopped(stop);
                    own.push(issue.code);
                    node.notes.push(issue.note);
                }
            }
            None => {}
        }
        if carving.hits.is_empty() {
            return;
        }
        if deep {
            own.push(ResultCode::ExceededArchiveDepth);
            for hit in &carving.hits {
                node.notes.push(format!(
                    "embedded {} not extracted: the nesting depth limit of {} was reached",
                    extract::carved::name(hit),
                    self.budget.limits.depth()
                ));
            }
            return;
        }
        let carved = extract::carved::Carved {
            hits: &carving.hits,
        };
        self.extract(&carved, data, place, sha256, node, own);
    }

    /// Runs one extractor over the object whose digest is `sha256` and
    /// appends the children it yields to `node`. Returns where the
    /// container's bytes end (if its reader said) and whether extraction
    /// finished without a container-level issue.
    fn extract(
        &self,
        ex: &dyn Extractor,
        data: &[u8],
        place: &Place,
        sha256: [u8; 32],
        node: &mut Node,
        own: &mut Vec<ResultCode>,
    ) -> (Option<usize>, bool) {
        // Its children's ancestors: built only for objects that have
        // children, not for every leaf.
        let mut ancestors = place.ancestors.clone();
        ancestors.push(sha256);
        let budget = &self.budget;
        let cx = Cx::new(budget, &self.passwords, &place.name, detect::identify);
        let depth = place.depth + 1;
        let lanes = md5_lanes();
        // Children handed to a cluster are not hashed here.
        let split_here = self.split.is_some() && self.top.get().is_some_and(|t| depth == t + 1);
        let state = Extraction {
            walker: self,
            parent: &place.display,
            depth,
            ancestors,
            abandon: place.abandon.clone(),
            results: Mutex::new(Vec::new()),
            limit_hit: Mutex::new(None),
            batch: Mutex::new(Batch::default()),
            producers: std::sync::atomic::AtomicUsize::new(1),
            batch_len: if lanes > 1 && !split_here {
                lanes * BATCH_ROUNDS
            } else {
                0
            },
        };
        let outcome = run_extractor(ex, data, &cx, &state);
        let ok = outcome.is_ok();
        node.notes.extend(cx.take_notes());
        if let Err(issue) = outcome {
            own.push(issue.code);
            node.notes.push(issue.note);
        }
        let state_limit = state.limit_hit.lock().ok().and_then(|mut l| l.take());
        if let Some(issue) = state_limit {
            own.push(issue.code);
            node.notes.push(issue.note);
        }
        let mut children = state
            .results
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default();
        children.sort_by_key(|(k, _)| *k);
        node.children.extend(children.into_iter().map(|(_, n)| n));
        (cx.end(), ok)
    }
}

/// Writes the digests into the report node.
fn set_digests(node: &mut Node, d: &Digests) {
    node.md5 = hex(&d.md5);
    node.sha1 = hex(&d.sha1);
    node.sha256 = hex(&d.sha256);
}

/// Runs an extractor inside a rayon scope, dispatching what it yields.
fn run_extractor<'a>(
    ex: &dyn Extractor,
    data: &'a [u8],
    cx: &'a Cx<'a>,
    state: &'a Extraction<'a, '_>,
) -> Result<(), Issue> {
    let budget = cx.budget;
    rayon::scope(|s| {
        let mut next = 0u64;
        let mut sink = |entry: Entry<'a>| -> Flow {
            let key = next;
            next += 1;
            if abandoned(&state.abandon) {
                return Flow::Stop;
            }
            match entry {
                Entry::Ready(child) => {
                    if let Err(stop) = budget.admit() {
                        state.note_limit(stop);
                        return Flow::Stop;
                    }
                    state.dispatch(s, (key, 0), child);
                    Flow::Continue
                }
                Entry::Deferred { members, job } => {
                    if let Err(stop) = budget.admit_n(members) {
                        state.note_limit(stop);
                        return Flow::Stop;
                    }
                    state.producers.fetch_add(1, Ordering::AcqRel);
                    s.spawn(move |s| state.run_job(s, key, job));
                    Flow::Continue
                }
            }
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| ex.extract(data, cx, &mut sink)))
            .unwrap_or_else(|_| {
                Err(Issue::corrupt(format!(
                    "the extractor crashed on this object {BUG_NOTE}"
                )))
            });
        state.producer_done(s);
        outcome
    })
}

/// Children at most this big wait for siblings to have their MD5s computed
/// together ([`md5_many`]); bigger ones go to the pool at once.
const BATCH_MAX_CHILD: u64 = 1 << 20;
/// A batch is sent when it holds this many children per SIMD lane (the
/// lanes refill from the batch, longest first, so they stay busy)…
const BATCH_ROUNDS: usize = 4;
/// … or this many bytes.
const BATCH_MAX_BYTES: u64 = 4 << 20;

/// Small children waiting for their siblings (see [`BATCH_MAX_CHILD`]).
#[derive(Default)]
struct Batch {
    children: Vec<((u64, u64), Child, u64)>,
    bytes: u64,
}

/// The shared state of one container's extraction.
struct Extraction<'w, 's> {
    walker: &'w Walker<'s>,
    parent: &'w str,
    depth: u32,
    ancestors: Vec<[u8; 32]>,
    /// The flag of the speculative ancestor, if any ([`Abandon`]).
    abandon: Option<Arc<Abandon>>,
    /// Child nodes keyed by (entry ordinal, index within a deferred job), so
    /// they can be put back in archive order.
    results: Mutex<Vec<((u64, u64), Node)>>,
    limit_hit: Mutex<Option<Issue>>,
    batch: Mutex<Batch>,
    /// The extractor and its deferred jobs still running: the last one to
    /// end sends the children still waiting in `batch`.
    producers: std::sync::atomic::AtomicUsize,
    /// Children per batch; 0 when the CPU has no SIMD lanes for MD5 (or
    /// the children go to a cluster), and every child goes alone.
    batch_len: usize,
}

impl<'w, 's> Extraction<'w, 's> {
    fn note_limit(&self, stop: crate::limits::Stop) {
        if let Ok(mut l) = self.limit_hit.lock() {
            l.get_or_insert_with(|| Issue::stopped(stop));
        }
    }

    fn file(&self, key: (u64, u64), node: Node) {
        if let Ok(mut r) = self.results.lock() {
            r.push((key, node));
        }
    }

    /// Scans one child and files its node.
    fn scan_child(&self, key: (u64, u64), child: Child, known: Known) {
        let place = Place {
            display: format!("{}/{}", self.parent, child.name),
            name: child.name,
            depth: self.depth,
            ancestors: self.ancestors.clone(),
            abandon: self.abandon.clone(),
        };
        let mut node = self
            .walker
            .walk(child.data.as_deref(), place, child.issue, known);
        if let Some(note) = child.note {
            node.notes.insert(0, note);
        }
        self.file(key, node);
    }

    /// Runs `f`, turning a panic (a bug in a decoder or engine) into a failed
    /// node instead of tearing down the whole scan.
    fn contain(&self, key: (u64, u64), f: impl FnOnce()) {
        if catch_unwind(AssertUnwindSafe(f)).is_err() {
            let name = "[damaged member]".to_string();
            let mut node = Node::new(name.clone(), format!("{}/{name}", self.parent), self.depth);
            node.own_result_i = ResultCode::Failed;
            node.notes.push(format!(
                "a decoder or engine crashed on this member {BUG_NOTE}"
            ));
            node.roll_up();
            self.file(key, node);
        }
    }

    /// A child already in memory goes to the pool if the in-flight cap allows;
    /// otherwise the extracting thread scans it itself (back-pressure).
    fn dispatch<'scope>(&'scope self, s: &rayon::Scope<'scope>, key: (u64, u64), child: Child) {
        let budget = &self.walker.budget;
        let size = child
            .data
            .as_ref()
            .filter(|b| !b.is_spilled())
            .map_or(0, |b| b.len() as u64);
        if !budget.reserve_in_flight(size) {
            self.contain(key, || self.scan_child(key, child, Known::default()));
            return;
        }
        if self.batch_len > 0 && size > 0 && size <= BATCH_MAX_CHILD {
            let full = self.batch.lock().ok().and_then(|mut b| {
                b.children.push((key, child, size));
                b.bytes += size;
                (b.children.len() >= self.batch_len || b.bytes >= BATCH_MAX_BYTES)
                    .then(|| std::mem::take(&mut *b))
            });
            if let Some(batch) = full {
                self.spawn_batch(s, batch);
            }
            return;
        }
        self.spawn_child(s, key, child, size, Known::default());
    }

    /// Scans a child as its own task, then returns its in-flight bytes.
    fn spawn_child<'scope>(
        &'scope self,
        s: &rayon::Scope<'scope>,
        key: (u64, u64),
        child: Child,
        size: u64,
        known: Known,
    ) {
        s.spawn(move |_| {
            self.contain(key, || self.scan_child(key, child, known));
            self.walker.budget.release_in_flight(size);
        });
    }

    /// A producer of children (the extractor or one of its deferred jobs)
    /// has no more; the last one sends what waits in the batch.
    fn producer_done<'scope>(&'scope self, s: &rayon::Scope<'scope>) {
        if self.producers.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let batch = self.batch.lock().map(|mut b| std::mem::take(&mut *b));
        if let Ok(batch) = batch
            && !batch.children.is_empty()
        {
            self.spawn_batch(s, batch);
        }
    }

    /// Computes the MD5s of a batch of children together, then scans each
    /// child as its own task.
    fn spawn_batch<'scope>(&'scope self, s: &rayon::Scope<'scope>, batch: Batch) {
        s.spawn(move |s| {
            let md5s = catch_unwind(AssertUnwindSafe(|| {
                let msgs: Vec<&[u8]> = batch
                    .children
                    .iter()
                    .map(|(_, c, _)| c.data.as_deref().unwrap_or_default())
                    .collect();
                md5_many(&msgs)
            }))
            .unwrap_or_default();
            let mut md5s = md5s.into_iter();
            for (key, child, size) in batch.children {
                let known = md5s.next().map_or(Known::default(), Known::md5);
                self.spawn_child(s, key, child, size, known);
            }
        });
    }

    /// Runs a deferred job on this pool thread; its children fan out further.
    fn run_job<'scope>(&'scope self, s: &rayon::Scope<'scope>, key: u64, job: extract::Job<'_>) {
        let mut sub = 0u64;
        let budget = &self.walker.budget;
        self.contain((key, u64::MAX), || {
            job(&mut |child| {
                self.dispatch(s, (key, sub), child);
                sub += 1;
                match budget.check() {
                    Ok(()) if !abandoned(&self.abandon) => Flow::Continue,
                    _ => Flow::Stop,
                }
            })
        });
        self.producer_done(s);
    }
}
