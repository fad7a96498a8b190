//! `ScannerBuilder` -> `Scanner`: configuration once, then any number of
//! scans, concurrently, from any thread.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::blob::{self, Blob};
use crate::digest::{Digests, Known};
use crate::engines::clamav::ClamAvBuilder;
use crate::engines::hash::{HashEngineBuilder, ListKind};
#[cfg(feature = "yara")]
use crate::engines::yara::YaraEngineBuilder;
use crate::engines::{Engine, EngineInfo};
use crate::errors::Error;
use crate::limits::{Budget, CancelToken, Limits};
use crate::report::Report;
use crate::walk::{Place, Progress, ProgressFn, SplitChild, SplitFn, Walker};

/// Where a scanned object sits when it is not a root of its own: a child
/// extracted elsewhere (by another process of a cluster) and scanned here.
/// Its report then reads exactly as that subtree would inside the whole scan.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Origin {
    /// `display_name` of the parent object.
    pub parent_display: String,
    /// Nesting level of this object (the parent's plus one).
    pub depth: u32,
    /// Hex SHA-256 of every ancestor, root first (recursive-archive check).
    pub ancestors: Vec<String>,
    /// Size of the original root, which the expansion-ratio limit divides by.
    pub root_size: u64,
}

/// Per-scan options: name, cancel token, progress callback, extra
/// passwords, limits that override the scanner's.
#[derive(Clone, Default)]
pub struct ScanOptions {
    name: Option<String>,
    cancel: Option<CancelToken>,
    progress: Option<Arc<ProgressFn>>,
    passwords: Vec<String>,
    limits: Option<Limits>,
    split: Option<Arc<SplitFn>>,
    origin: Option<Origin>,
    digests: Option<Digests>,
}

impl std::fmt::Debug for ScanOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanOptions")
            .field("name", &self.name)
            .field("cancel", &self.cancel)
            .field("progress", &self.progress.is_some())
            .field("passwords", &self.passwords.len())
            .field("limits", &self.limits)
            .field("split", &self.split.is_some())
            .field("origin", &self.origin)
            .field("digests", &self.digests.is_some())
            .finish()
    }
}

impl ScanOptions {
    /// Default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// The root object's name (shown as `display_name`; its extension is
    /// what the type-mismatch check compares). Default: the file name for
    /// `scan_path`, `"input"` otherwise.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// A token that cancels the scan when fired. Default: none.
    pub fn cancel(mut self, token: CancelToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Called after every object, from pool threads. Default: none.
    pub fn progress(mut self, f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Passwords tried on encrypted archives, before the scanner's own.
    /// Default: none.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.passwords.push(password.into());
        self
    }

    /// Limits for this scan instead of the scanner's. Default: the scanner's.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Offers every child extracted from the root (whole, with its bytes) to
    /// `f` before scanning it. When `f` returns a token, the child is not
    /// scanned here: the report holds a placeholder with that token
    /// ([`Node::remote`](crate::Node::remote), code 255) that
    /// [`Report::graft`](crate::Report::graft) later replaces with the
    /// child's own report. `None` scans the child as usual. This is how a
    /// cluster spreads one archive over many machines. Default: none.
    pub fn split(
        mut self,
        f: impl Fn(SplitChild<'_>) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.split = Some(Arc::new(f));
        self
    }

    /// Scans the input as the object at `origin` inside a larger tree
    /// (names, depth, ancestors and ratio as in that tree). Default: the
    /// input is a root.
    pub fn origin(mut self, origin: Origin) -> Self {
        self.origin = Some(origin);
        self
    }

    /// The root's MD5, SHA-1 and SHA-256, when the caller already computed
    /// them (a server hashes an upload as it arrives): the root is then not
    /// hashed again. The report and the hash lists trust them as given, so
    /// they must be the digests of exactly the bytes scanned. Default: the
    /// scanner computes them.
    pub fn digests(mut self, digests: Digests) -> Self {
        self.digests = Some(digests);
        self
    }
}

/// Configures a [`Scanner`].
#[derive(Debug)]
pub struct ScannerBuilder {
    limits: Limits,
    default_rules: bool,
    rule_paths: Vec<PathBuf>,
    rule_sources: Vec<(String, String)>,
    yara_defines: Vec<(String, String)>,
    hash_files: Vec<(PathBuf, ListKind)>,
    clamav_paths: Vec<PathBuf>,
    passwords: Vec<String>,
    threads: usize,
    type_mismatch: bool,
    engines: Vec<Arc<dyn Engine>>,
    vuln_paths: Vec<PathBuf>,
}

impl Default for ScannerBuilder {
    fn default() -> Self {
        ScannerBuilder {
            limits: Limits::default(),
            default_rules: true,
            rule_paths: Vec::new(),
            rule_sources: Vec::new(),
            yara_defines: Vec::new(),
            hash_files: Vec::new(),
            clamav_paths: Vec::new(),
            passwords: Vec::new(),
            threads: 0,
            type_mismatch: false,
            engines: Vec::new(),
            vuln_paths: Vec::new(),
        }
    }
}

impl ScannerBuilder {
    /// A builder with the defaults: built-in rules, default limits, one
    /// thread per core.
    pub fn new() -> Self {
        Self::default()
    }

    /// The per-root limits. Default: [`Limits::default`].
    pub fn limits(&mut self, limits: Limits) -> &mut Self {
        self.limits = limits;
        self
    }

    /// Whether the built-in rule set (EICAR test file) is loaded. Default: true.
    pub fn default_rules(&mut self, yes: bool) -> &mut Self {
        self.default_rules = yes;
        self
    }

    /// A YARA rule file, or a directory searched recursively for `.yar` and
    /// `.yara` files. Default: none.
    pub fn rules_path(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.rule_paths.push(path.into());
        self
    }

    /// Defines a YARA external variable for every rule (YARA's `-d`;
    /// `true`/`false` a boolean, a decimal an integer, else a string).
    /// LOKI's and THOR's `filename`, `filepath`, `extension`, `filetype`
    /// and `owner` are always defined, per object. Default: none.
    pub fn yara_define(&mut self, name: &str, value: &str) -> &mut Self {
        self.yara_defines.push((name.into(), value.into()));
        self
    }

    /// YARA rules from memory; `origin` names them in errors. Default: none.
    pub fn rules_source(&mut self, origin: &str, source: &str) -> &mut Self {
        self.rule_sources.push((origin.into(), source.into()));
        self
    }

    /// A ClamAV signature database: a file (`.cvd`, `.cld`, `.cud`,
    /// `.hdb`, `.hsb`, `.mdb`, `.msb`, `.ndb`, `.fp`, `.ign2`, ...) or a
    /// directory of them, as `clamscan -d` takes (see
    /// [`crate::engines::clamav`]). Repeatable. Default: none.
    pub fn clamav_database(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.clamav_paths.push(path.into());
        self
    }

    /// A hash list (`.hdb`, `.hsb`, plain). `.fp` and `.sfp` files are allow
    /// lists, anything else a block list. Default: none.
    pub fn hash_list(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        let path = path.into();
        let kind = ListKind::for_path(&path);
        self.hash_files.push((path, kind));
        self
    }

    /// A hash list used as an allow list whatever its extension. Default: none.
    pub fn allow_list(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.hash_files.push((path.into(), ListKind::Allow));
        self
    }

    /// A password tried on every encrypted archive. Default: none.
    pub fn password(&mut self, password: impl Into<String>) -> &mut Self {
        self.passwords.push(password.into());
        self
    }

    /// Worker threads; 0 means one per core. Default: 0.
    pub fn threads(&mut self, n: usize) -> &mut Self {
        self.threads = n;
        self
    }

    /// Whether an extension that contradicts the content yields code 17.
    /// Default: false.
    pub fn type_mismatch(&mut self, yes: bool) -> &mut Self {
        self.type_mismatch = yes;
        self
    }

    /// An engine of your own, run after the built-in ones. Default: none.
    pub fn engine(&mut self, engine: Arc<dyn Engine>) -> &mut Self {
        self.engines.push(engine);
        self
    }

    /// A vulnerability feed: OSV records (files, directories, OSV's zips)
    /// or a product feed (see [`crate::engines::vuln`]). Objects with vulnerable
    /// software get code 18. Default: none.
    pub fn vulnerability_feed(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.vuln_paths.push(path.into());
        self
    }

    /// Loads every rule file and hash list and starts the thread pool.
    /// All-or-nothing: any file that does not load is an error.
    pub fn build(&self) -> Result<Scanner, Error> {
        let mut engines: Vec<Arc<dyn Engine>> = Vec::new();
        if !self.hash_files.is_empty() {
            let mut hashes = HashEngineBuilder::new();
            for (path, kind) in &self.hash_files {
                hashes.add_file(path, *kind)?;
            }
            engines.push(Arc::new(hashes.build()));
        }
        if !self.clamav_paths.is_empty() {
            let mut clamav = ClamAvBuilder::new();
            for path in &self.clamav_paths {
                clamav.add_path(path)?;
            }
            engines.push(Arc::new(clamav.build()?));
        }
        #[cfg(feature = "yara")]
        {
            let mut yara = YaraEngineBuilder::new();
            if self.default_rules {
                yara.add_default_rules();
            }
            for path in &self.rule_paths {
                yara.add_path(path)?;
            }
            for (origin, src) in &self.rule_sources {
                yara.add_source(origin, src);
            }
            for (name, value) in &self.yara_defines {
                yara.define(name, value);
            }
            if !yara.is_empty() {
                engines.push(Arc::new(yara.build()?));
            }
        }
        #[cfg(not(feature = "yara"))]
        if !self.rule_paths.is_empty() || !self.rule_sources.is_empty() {
            return Err(Error::Config(
                "YARA rules given, but mdcore was built without its `yara` feature".into(),
            ));
        }
        engines.extend(self.engines.iter().cloned());
        let threads = match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            // Nested archives nest scopes, and a thread waiting in a scope
            // runs other tasks on its own stack.
            .stack_size(16 << 20)
            .thread_name(|i| format!("mdscan-{i}"))
            .build()
            .map_err(|e| Error::Config(format!("can not start {threads} threads: {e}")))?;
        let mut infos: Vec<EngineInfo> = engines.iter().map(|e| e.info().clone()).collect();
        let vulns = if self.vuln_paths.is_empty() {
            None
        } else {
            Some(Arc::new(crate::engines::vuln::Feed::load(
                &self.vuln_paths,
            )?))
        };
        if let Some(feed) = &vulns {
            // Run first (an allow-listed object is assessed too), listed
            // last.
            let assessment = crate::engines::vuln::Assessment::new(feed.clone());
            infos.push(assessment.info().clone());
            engines.insert(0, Arc::new(assessment));
        }
        Ok(Scanner {
            inner: Arc::new(Inner {
                engines,
                infos,
                vulns,
                limits: self.limits.clone(),
                passwords: self.passwords.clone(),
                type_mismatch: self.type_mismatch,
                threads,
                pool,
            }),
        })
    }
}

struct Inner {
    engines: Vec<Arc<dyn Engine>>,
    infos: Vec<EngineInfo>,
    vulns: Option<Arc<crate::engines::vuln::Feed>>,
    limits: Limits,
    passwords: Vec<String>,
    type_mismatch: bool,
    threads: usize,
    pool: rayon::ThreadPool,
}

/// A configured scanner: immutable, `Send + Sync`, cheap to clone (clones
/// share engines and the thread pool).
#[derive(Clone)]
pub struct Scanner {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("engines", &self.inner.infos)
            .field("limits", &self.inner.limits)
            .field("threads", &self.inner.threads)
            .finish()
    }
}

impl Scanner {
    /// The engines: the detection engines in the order they run, then the
    /// vulnerability assessment when a feed is loaded (it runs first).
    pub fn engines(&self) -> &[EngineInfo] {
        &self.inner.infos
    }

    /// The vulnerability feed in force, if one was loaded.
    pub fn vulnerability_feed(&self) -> Option<&crate::engines::vuln::Feed> {
        self.inner.vulns.as_deref()
    }

    /// The default per-root limits.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Threads in the pool.
    pub fn threads(&self) -> usize {
        self.inner.threads
    }

    /// Scans bytes in memory.
    pub fn scan_bytes(&self, data: &[u8], opts: &ScanOptions) -> Report {
        let name = opts.name.clone().unwrap_or_else(|| "input".into());
        self.scan_root(data, name, opts)
    }

    /// Scans a file. Files above the spill threshold are memory-mapped, so
    /// they must not be modified while the scan runs.
    pub fn scan_path(&self, path: impl AsRef<Path>, opts: &ScanOptions) -> Result<Report, Error> {
        let path = path.as_ref();
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let limits = opts.limits.as_ref().unwrap_or(&self.inner.limits);
        let blob = if len > limits.spill_threshold {
            Blob::map_file(file).map_err(io)?
        } else {
            let mut v = Vec::new();
            file.read_to_end(&mut v).map_err(io)?;
            Blob::from_vec(v)
        };
        let name = opts.name.clone().unwrap_or_else(|| {
            path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        });
        Ok(self.scan_root(&blob, name, opts))
    }

    /// Scans everything a reader yields. Large inputs spill to a temporary
    /// file, so memory stays bounded.
    pub fn scan_reader(&self, reader: impl Read, opts: &ScanOptions) -> Result<Report, Error> {
        let limits = opts.limits.as_ref().unwrap_or(&self.inner.limits);
        let blob = blob::read_all(reader, limits.spill_threshold).map_err(Error::Read)?;
        let name = opts.name.clone().unwrap_or_else(|| "input".into());
        Ok(self.scan_root(&blob, name, opts))
    }

    fn scan_root(&self, data: &[u8], name: String, opts: &ScanOptions) -> Report {
        let inner = &self.inner;
        let started = Instant::now();
        let start_time = crate::time::iso8601(SystemTime::now());
        let limits = opts.limits.clone().unwrap_or_else(|| inner.limits.clone());
        let origin = opts.origin.clone().unwrap_or_default();
        let root_size = if opts.origin.is_some() {
            origin.root_size
        } else {
            data.len() as u64
        };
        let budget = Budget::new(limits, root_size, opts.cancel.clone());
        let mut passwords = opts.passwords.clone();
        passwords.extend(inner.passwords.iter().cloned());
        let walker = Walker::new(
            &inner.engines,
            budget,
            passwords,
            inner.type_mismatch,
            opts.progress.as_deref(),
            opts.split.as_deref(),
        );
        let place = Place {
            display: if opts.origin.is_some() {
                format!("{}/{name}", origin.parent_display)
            } else {
                name.clone()
            },
            name,
            depth: origin.depth,
            ancestors: origin
                .ancestors
                .iter()
                .filter_map(|h| crate::digest::unhex32(h))
                .collect(),
            abandon: None,
        };
        let known = opts.digests.map_or(Known::default(), Known::all);
        let root = inner
            .pool
            .install(|| walker.walk(Some(data), place, None, known));
        Report {
            objects: root.iter().count() as u64,
            bytes_extracted: walker.budget.produced(),
            start_time,
            total_time: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            engines: inner.infos.clone(),
            root,
            sanitization: None,
        }
    }
}

/// Compile-time proof of the thread-safety promise.
const _: fn() = || {
    fn is_send_sync<T: Send + Sync>() {}
    is_send_sync::<Scanner>();
};
