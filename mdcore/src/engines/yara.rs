//! The YARA-X engine.
//!
//! Rules are compiled once into a [`yara_x::Rules`] shared by every thread.
//! A `yara_x::Scanner` is not `Send`, so each thread keeps its own, created on
//! first use and reused for every later object: the per-object cost is one
//! scan, not one scanner construction. A match is a
//! detection named after the rule (prefixed by its namespace unless that is
//! `default`). Loading is all-or-nothing: one rule file that does not compile
//! is an error naming the file and line, never a smaller rule set.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::engines::{Engine, EngineCode, EngineInfo, EngineKind, EngineResult, ObjectView};
use crate::errors::Error;

/// The built-in rule set (EICAR test file).
pub const DEFAULT_RULES: &str = include_str!("../../rules/default.yar");

/// The external variables every rule may use, set for each object as
/// LOKI and THOR set them (the rule sets written for those scanners, such
/// as Neo23x0's signature-base, use them): `filename` (the object's name),
/// `filepath` (its path inside the root, as `display_name`), `extension`
/// (of the name, lower case, with its dot: `.exe`), `filetype` (the
/// detected type, upper case: `EXE`, `ZIP`, `PDF`…) and `owner` (empty).
pub const EXTERNALS: [&str; 5] = ["filename", "filepath", "extension", "filetype", "owner"];

/// Defines a user-defined external variable, its value read as YARA's
/// `-d` reads it: `true`/`false` a boolean, a decimal an integer,
/// anything else text.
fn define_external(
    compiler: &mut yara_x::Compiler<'_>,
    name: &str,
    value: &str,
) -> Result<(), yara_x::errors::VariableError> {
    match value {
        "true" => compiler.define_global(name, true),
        "false" => compiler.define_global(name, false),
        v => match v.parse::<i64>() {
            Ok(n) => compiler.define_global(name, n),
            Err(_) => compiler.define_global(name, v),
        },
    }
    .map(|_| ())
}

/// Collects rule sources and compiles them into a [`YaraEngine`].
#[derive(Debug, Default)]
pub struct YaraEngineBuilder {
    sources: Vec<(String, String)>,
    newest: Option<SystemTime>,
    timeout: Option<Duration>,
    defines: Vec<(String, String)>,
}

impl YaraEngineBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the built-in rule set.
    pub fn add_default_rules(&mut self) -> &mut Self {
        self.sources
            .push(("<built-in default.yar>".into(), DEFAULT_RULES.into()));
        self
    }

    /// Adds one rule file, or every `.yar` / `.yara` file under a directory
    /// (recursively, in name order).
    pub fn add_path(&mut self, path: &Path) -> Result<&mut Self, Error> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        if path.is_dir() {
            let mut files = Vec::new();
            collect_rule_files(path, &mut files).map_err(io)?;
            files.sort();
            if files.is_empty() {
                return Err(Error::Config(format!(
                    "no `.yar` or `.yara` file under `{}`",
                    path.display()
                )));
            }
            for f in files {
                self.add_path(&f)?;
            }
            return Ok(self);
        }
        let bytes = std::fs::read(path).map_err(io)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::Rules(format!("`{}` is not UTF-8 text", path.display())))?;
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        self.newest = self.newest.max(modified);
        self.sources.push((path.display().to_string(), text));
        Ok(self)
    }

    /// Adds rules from memory; `origin` names them in error messages.
    pub fn add_source(&mut self, origin: &str, source: &str) -> &mut Self {
        self.sources.push((origin.into(), source.into()));
        self
    }

    /// Defines an external variable `name` for every rule (YARA's `-d`):
    /// `true`/`false` is a boolean, a decimal an integer, anything else a
    /// string. One of [`EXTERNALS`] defined here keeps its per-object value
    /// (this sets only what a rule sees before it is set).
    pub fn define(&mut self, name: &str, value: &str) -> &mut Self {
        self.defines.push((name.into(), value.into()));
        self
    }

    /// Longest a single object's scan may take; the scan's own deadline
    /// applies too, whichever is sooner. Default: 60 s.
    pub fn timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = Some(timeout);
        self
    }

    /// Whether no source was added.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Compiles every source. Any error (syntax, unknown identifier, a rule
    /// defined twice) fails the whole build with the file and line.
    pub fn build(&self) -> Result<YaraEngine, Error> {
        let mut compiler = yara_x::Compiler::new();
        let mut digest = Sha256::new();
        for name in EXTERNALS {
            compiler
                .define_global(name, "")
                .map_err(|e| Error::Rules(format!("external `{name}`: {e}")))?;
        }
        for (name, value) in &self.defines {
            if EXTERNALS.contains(&name.as_str()) {
                continue;
            }
            define_external(&mut compiler, name, value)
                .map_err(|e| Error::Rules(format!("external `{name}`: {e}")))?;
            digest.update(name.as_bytes());
            digest.update([1]);
            digest.update(value.as_bytes());
            digest.update([0]);
        }
        for (origin, text) in &self.sources {
            digest.update(origin.as_bytes());
            digest.update([0]);
            digest.update(text.as_bytes());
            let src = yara_x::SourceCode::from(text.as_str()).with_origin(origin.as_str());
            compiler
                .add_source(src)
                .map_err(|e| Error::Rules(e.to_string()))?;
        }
        let rules = compiler.build();
        let digest = crate::digest::hex(&digest.finalize());
        let count = rules.iter().len();
        // Rule files date from their newest modification time; a set made only
        // of built-in or in-memory rules from when it was compiled.
        let def_time = self.newest.unwrap_or_else(SystemTime::now);
        Ok(YaraEngine {
            info: EngineInfo {
                id: "yara".into(),
                name: "YARA-X".into(),
                version: format!("{} ({count} rules)", env!("CARGO_PKG_VERSION")),
                def_time: crate::time::iso8601(def_time),
                kind: EngineKind::Av,
            },
            rules_digest: digest,
            rule_count: count,
            timeout: self.timeout.unwrap_or(Duration::from_secs(60)),
            shared: Arc::new(rules),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            alive: Arc::new(()),
        })
    }
}

fn collect_rule_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_rule_files(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yar") || e.eq_ignore_ascii_case("yara"))
        {
            out.push(path);
        }
    }
    Ok(())
}

self_cell::self_cell!(
    /// A scanner together with the rules it borrows, so it can live in a pool.
    struct PooledScanner {
        owner: Arc<yara_x::Rules>,
        #[not_covariant]
        dependent: YrScanner,
    }
);

type YrScanner<'a> = yara_x::Scanner<'a>;

impl std::fmt::Debug for PooledScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PooledScanner")
    }
}

/// The YARA-X engine. Build with [`YaraEngineBuilder`].
#[derive(Debug)]
pub struct YaraEngine {
    info: EngineInfo,
    rules_digest: String,
    rule_count: usize,
    timeout: Duration,
    shared: Arc<yara_x::Rules>,
    /// Distinguishes this engine's per-thread scanners from other engines'.
    id: u64,
    /// Dropped with the engine: threads then discard their scanners for it.
    alive: Arc<()>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

struct ThreadScanner {
    engine: u64,
    alive: Weak<()>,
    scanner: PooledScanner,
}

thread_local! {
    static SCANNERS: RefCell<Vec<ThreadScanner>> = const { RefCell::new(Vec::new()) };
}

impl YaraEngine {
    /// SHA-256 over the rule sources, for result caches keyed by rule set.
    pub fn rules_digest(&self) -> &str {
        &self.rules_digest
    }

    /// Number of compiled rules.
    pub fn rule_count(&self) -> usize {
        self.rule_count
    }

    fn take(&self) -> PooledScanner {
        let mine = SCANNERS.with(|cell| {
            let mut list = cell.try_borrow_mut().ok()?;
            // Scanners of engines that no longer exist are freed here.
            list.retain(|t| t.alive.strong_count() > 0);
            let at = list.iter().position(|t| t.engine == self.id)?;
            Some(list.swap_remove(at).scanner)
        });
        mine.unwrap_or_else(|| {
            PooledScanner::new(self.shared.clone(), |rules| yara_x::Scanner::new(rules))
        })
    }

    fn give_back(&self, scanner: PooledScanner) {
        SCANNERS.with(|cell| {
            if let Ok(mut list) = cell.try_borrow_mut() {
                list.push(ThreadScanner {
                    engine: self.id,
                    alive: Arc::downgrade(&self.alive),
                    scanner,
                });
            }
        });
    }
}

impl Engine for YaraEngine {
    fn info(&self) -> &EngineInfo {
        &self.info
    }

    fn scan(&self, object: &ObjectView<'_>, timeout: Duration) -> EngineResult {
        let mut pooled = self.take();
        let timeout = timeout.min(self.timeout).max(Duration::from_millis(1));
        let name = object
            .display_name
            .rsplit('/')
            .next()
            .unwrap_or(object.display_name);
        let extension = name
            .rfind('.')
            .filter(|at| *at > 0)
            .and_then(|at| name.get(at..))
            .unwrap_or("")
            .to_ascii_lowercase();
        let filetype = thor_type(object.file_type, &extension);
        let result = pooled.with_dependent_mut(|_, scanner| {
            scanner.set_timeout(timeout);
            // Defined at compile time, so setting them cannot fail on the
            // name; a rule set compiled without them ignores them.
            let _ = scanner.set_global("filename", name);
            let _ = scanner.set_global("filepath", object.display_name);
            let _ = scanner.set_global("extension", extension.as_str());
            let _ = scanner.set_global("filetype", filetype.as_str());
            match scanner.scan(object.data) {
                Ok(results) => {
                    let threats: Vec<String> = results
                        .matching_rules()
                        .map(|r| match r.namespace() {
                            "default" => r.identifier().to_string(),
                            ns => format!("{ns}.{}", r.identifier()),
                        })
                        .collect();
                    if threats.is_empty() {
                        EngineResult::clean()
                    } else {
                        EngineResult {
                            code: EngineCode::Infected,
                            threats,
                            ..EngineResult::clean()
                        }
                    }
                }
                Err(yara_x::errors::ScanError::Timeout) => {
                    EngineResult::timed_out(format!("YARA scan timed out after {timeout:?}"))
                }
                Err(e) => EngineResult::failed(format!("YARA scan failed: {e}")),
            }
        });
        self.give_back(pooled);
        result
    }
}

/// The type name LOKI and THOR give a file, from what mdscan detected:
/// `EXE` for executables, the format's name for containers and documents,
/// and for text the extension (`VBS`, `PS1`…), upper case.
fn thor_type(t: &crate::FileType, extension: &str) -> String {
    use crate::Kind;
    let by_extension = || extension.trim_start_matches('.').to_ascii_uppercase();
    match t.kind {
        Kind::Pe => "EXE".into(),
        Kind::Text | Kind::Unknown | Kind::Other => by_extension(),
        k => format!("{k:?}").to_ascii_uppercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Digests, detect};

    fn scan(engine: &YaraEngine, data: &[u8]) -> EngineResult {
        scan_as(engine, data, "x")
    }

    /// `data` scanned as the object at `path` inside the root.
    pub(super) fn scan_as(engine: &YaraEngine, data: &[u8], path: &str) -> EngineResult {
        let d = Digests::of(data);
        let ft = detect(data);
        let view = ObjectView {
            data,
            digests: &d,
            file_type: &ft,
            display_name: path,
        };
        engine.scan(&view, Duration::from_secs(5))
    }

    #[test]
    fn default_rules_find_eicar_only() {
        let mut b = YaraEngineBuilder::new();
        b.add_default_rules();
        let e = b.build().unwrap();
        let eicar = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
        let r = scan(&e, eicar);
        assert_eq!(r.code, EngineCode::Infected);
        assert_eq!(r.threats, vec!["EICAR_Test_File".to_string()]);
        assert_eq!(scan(&e, b"hello").code, EngineCode::NoThreat);
        // Embedded in a larger file it is not the test file.
        let mut big = vec![b'a'; 200];
        big.extend_from_slice(eicar);
        assert_eq!(scan(&e, &big).code, EngineCode::NoThreat);
    }

    #[test]
    fn compile_errors_name_origin_and_line() {
        let mut b = YaraEngineBuilder::new();
        b.add_source(
            "broken.yar",
            "rule ok { condition: true }\nrule bad { condition: nope }",
        );
        let err = b.build().unwrap_err().to_string();
        assert!(err.contains("broken.yar:2"), "{err}");
    }

    #[test]
    fn namespaced_and_multiple_matches() {
        let mut b = YaraEngineBuilder::new();
        b.add_source("a.yar", "rule A { strings: $a = \"needle\" condition: $a }");
        b.add_source("b.yar", "rule B { condition: filesize > 3 }");
        let e = b.build().unwrap();
        assert_eq!(e.rule_count(), 2);
        let r = scan(&e, b"a needle");
        assert_eq!(r.threats, vec!["A".to_string(), "B".to_string()]);
    }
}

#[cfg(test)]
mod externals {
    use super::tests::scan_as;
    use super::*;

    fn scan_named(engine: &YaraEngine, data: &[u8], path: &str) -> Vec<String> {
        scan_as(engine, data, path).threats
    }

    #[test]
    fn loki_externals_are_set_for_each_object() {
        let mut b = YaraEngineBuilder::new();
        b.add_source(
            "x.yar",
            r#"
            rule by_name { condition: filename matches /^setup\.exe$/i }
            rule by_path { condition: filepath == "outer.zip/dir/setup.EXE" }
            rule by_ext { condition: extension == ".exe" }
            rule by_type { condition: filetype == "EXE" }
            rule text_type { condition: filetype == "VBS" }
            rule owner_empty { condition: owner == "" }
            "#,
        );
        let e = b.build().unwrap();
        let mut pe = b"MZ".to_vec();
        pe.resize(64, 0);
        let hits = scan_named(&e, &pe, "outer.zip/dir/setup.EXE");
        // (The bytes are not a whole PE, so detection may not call it EXE.)
        for want in ["by_name", "by_path", "by_ext", "owner_empty"] {
            assert!(hits.contains(&want.to_string()), "{want}: {hits:?}");
        }
        let hits = scan_named(&e, b"WScript.Echo 1\n", "a/b/run.VBS");
        assert!(hits.contains(&"text_type".to_string()), "{hits:?}");
        assert!(!hits.contains(&"by_ext".to_string()), "{hits:?}");
    }

    #[test]
    fn user_defines_are_typed_as_yara_reads_them() {
        let mut b = YaraEngineBuilder::new();
        b.define("site", "lab")
            .define("level", "3")
            .define("strict", "true")
            .add_source(
                "d.yar",
                r#"rule d { condition: site == "lab" and level == 3 and strict }"#,
            );
        let e = b.build().unwrap();
        assert_eq!(scan_named(&e, b"x", "x"), vec!["d".to_string()]);
        // Undefined, the rule does not compile.
        let mut b = YaraEngineBuilder::new();
        b.add_source("d.yar", r#"rule d { condition: site == "lab" }"#);
        assert!(b.build().is_err());
    }
}
