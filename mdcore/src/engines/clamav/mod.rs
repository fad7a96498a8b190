//! ClamAV's signature databases, loaded unchanged and matched as clamscan
//! matches them.
//!
//! What loads: the containers `.cvd` (MD5 and digital signature checked),
//! `.cld` and `.cud`; hash signatures (`.hdb`, `.hsb`: MD5, SHA-1,
//! SHA-256, size or `*`); PE section hashes (`.mdb`, `.msb`); body
//! signatures (`.ndb`: the offsets `*`, `n`, `n,maxshift`, `EOF-n`,
//! `EP±n`, `Sx+n`, `SEx`, `SL+n`, and ClamAV's hex pattern grammar, see
//! [`pattern`]); logical signatures (`.ldb`, see [`logical`]);
//! false-positive lists (`.fp`, `.sfp`) and ignore lists (`.ign`,
//! `.ign2`). A directory loads as `clamscan -d DIR` loads it (its database
//! files, not its subdirectories; of a `.cvd` and a `.cld` of the same
//! name, the newer version). Matching is in [`body`]; an ASCII text object
//! is matched raw and, as clamscan does, normalized.
//!
//! What is counted and listed as skipped, never dropped silently: the
//! kinds this engine does not execute yet (container metadata `.cdb`,
//! bytecode `.cbc`, phishing `.pdb`/`.wdb`/`.gdb`, icons `.idb`,
//! certificates `.crb`, import hashes `.imp`, file-type magic `.ftm`, YARA
//! files), PUA databases (`.hdu`, `.hsu`, `.mdu`, `.msu`, `.ndu`, `.ldu`:
//! clamscan loads them only with `--detect-pua`), signatures for another
//! functionality level, and signatures using what is not matched yet
//! (normalized HTML, target 3; the boundary markers `(B)`/`(L)`/`(W)`; the
//! `VI` offset; Mach-O entry points; PCRE, byte-compare and macro
//! subsignatures; `Container` and `Intermediates` conditions).
//!
//! Loading is all-or-nothing per file: a malformed line is an error naming
//! the file and line, as clamscan's "Malformed database" is. Names are
//! clamscan's: `.UNOFFICIAL` is appended to signatures from files outside
//! signed containers.

mod body;
pub(crate) mod cvd;
mod logical;
mod offset;
mod pattern;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use md5::{Digest, Md5};

use crate::engines::{Engine, EngineInfo, EngineKind, EngineResult, ObjectView};
use crate::errors::Error;
use crate::kind::Kind;
use body::{Bodies, Matcher, NewSubsig, Object, Stop};
use logical::Mods;
use offset::Offset;
use pattern::{LineError, Pattern};

/// The functionality level this engine answers to: that of ClamAV 1.4
/// (Debian's clamscan 1.4.6 loads signatures up to level 216). Signatures
/// that need another level are skipped, as clamscan skips them.
pub const FUNCTIONALITY_LEVEL: u32 = 216;

/// Objects of this many bytes or fewer are not matched: clamscan passes
/// them over ("Small data"), whatever the signatures.
const SMALLEST: usize = 5;

/// The most a container may unpack to.
const MAX_CONTAINER: u64 = 4 << 30;

/// What one database file or container brought.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DatabaseInfo {
    /// The file's name (`main.cvd`, `local.ndb`).
    pub name: String,
    /// A container's version.
    pub version: Option<u32>,
    /// A container's build time, seconds since the epoch.
    pub build_time: Option<u64>,
    /// A container's signature count, as its header gives it.
    pub declared: Option<u64>,
    /// Signatures loaded, per kind (`hdb`, `ndb`, ...).
    pub loaded: BTreeMap<String, usize>,
    /// Signatures not executed, per reason.
    pub skipped: BTreeMap<String, usize>,
}

impl DatabaseInfo {
    /// Signatures loaded, all kinds.
    pub fn loaded_total(&self) -> usize {
        self.loaded.values().sum()
    }

    /// Signatures skipped, all reasons.
    pub fn skipped_total(&self) -> usize {
        self.skipped.values().sum()
    }
}

#[derive(Clone, Debug)]
struct HashSig {
    size: Option<u64>,
    name: Arc<str>,
}

/// Hashes of one algorithm, by digest.
#[derive(Debug, Default)]
struct HashTable {
    md5: HashMap<[u8; 16], Vec<HashSig>>,
    sha1: HashMap<[u8; 20], Vec<HashSig>>,
    sha256: HashMap<[u8; 32], Vec<HashSig>>,
}

impl HashTable {
    fn insert(&mut self, digest: &[u8], sig: HashSig) -> Result<(), String> {
        if let Ok(d) = <[u8; 16]>::try_from(digest) {
            self.md5.entry(d).or_default().push(sig);
        } else if let Ok(d) = <[u8; 20]>::try_from(digest) {
            self.sha1.entry(d).or_default().push(sig);
        } else if let Ok(d) = <[u8; 32]>::try_from(digest) {
            self.sha256.entry(d).or_default().push(sig);
        } else {
            return Err("a hash that is not MD5, SHA-1 or SHA-256".into());
        }
        Ok(())
    }

    fn len(&self) -> usize {
        self.md5.values().map(Vec::len).sum::<usize>()
            + self.sha1.values().map(Vec::len).sum::<usize>()
            + self.sha256.values().map(Vec::len).sum::<usize>()
    }

    fn retain(&mut self, keep: impl Fn(&HashSig) -> bool) {
        for v in self.md5.values_mut() {
            v.retain(&keep);
        }
        for v in self.sha1.values_mut() {
            v.retain(&keep);
        }
        for v in self.sha256.values_mut() {
            v.retain(&keep);
        }
    }

    /// Names of the entries for `digest` whose size fits.
    fn find<'a>(&'a self, digest: &[u8], size: u64, out: &mut Vec<&'a str>) {
        let hits = match digest.len() {
            16 => <[u8; 16]>::try_from(digest)
                .ok()
                .and_then(|d| self.md5.get(&d)),
            20 => <[u8; 20]>::try_from(digest)
                .ok()
                .and_then(|d| self.sha1.get(&d)),
            32 => <[u8; 32]>::try_from(digest)
                .ok()
                .and_then(|d| self.sha256.get(&d)),
            _ => None,
        };
        for s in hits.into_iter().flatten() {
            if s.size.is_none_or(|n| n == size) {
                out.push(&s.name);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.md5.is_empty() && self.sha1.is_empty() && self.sha256.is_empty()
    }
}

/// Builds a [`ClamAvEngine`] from database files and directories.
#[derive(Debug, Default)]
pub struct ClamAvBuilder {
    files: HashTable,
    sections: HashTable,
    allow: HashTable,
    bodies: Bodies,
    ignored: HashSet<String>,
    databases: Vec<DatabaseInfo>,
    newest: Option<SystemTime>,
}

/// A malformed database: file, 1-based line (0 for the file as a whole),
/// message.
fn db_error(path: &Path, line: usize, message: impl Into<String>) -> Error {
    Error::Database {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

/// The database kinds clamscan reads by extension (others in a directory
/// are not databases and are passed over, as clamscan passes them over).
const EXTENSIONS: &[&str] = &[
    "cvd", "cld", "cud", "hdb", "hsb", "hdu", "hsu", "mdb", "msb", "mdu", "msu", "ndb", "ndu",
    "ldb", "ldu", "cdb", "cbc", "pdb", "gdb", "wdb", "idb", "crb", "imp", "ftm", "fp", "sfp",
    "ign", "ign2", "yar", "yara", "info", "cfg", "cat", "pwdb", "hwp",
];

fn extension(name: &str) -> Option<String> {
    let ext = Path::new(name).extension()?.to_str()?.to_ascii_lowercase();
    EXTENSIONS.contains(&ext.as_str()).then_some(ext)
}

impl ClamAvBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads a database file, or every database file in a directory (as
    /// `clamscan -d`).
    pub fn add_path(&mut self, path: &Path) -> Result<&mut Self, Error> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        if std::fs::metadata(path).map_err(io)?.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(io)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .and_then(extension)
                        .is_some()
                })
                .collect();
            files.sort();
            for p in newest_containers(files) {
                self.add_file(&p)?;
            }
        } else {
            self.add_file(path)?;
        }
        Ok(self)
    }

    fn add_file(&mut self, path: &Path) -> Result<(), Error> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(ext) = extension(&name) else {
            return Err(db_error(
                path,
                0,
                "not a ClamAV database (unknown extension)",
            ));
        };
        let data = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        self.newest = self.newest.max(modified);
        let flavour = match ext.as_str() {
            "cvd" => Some(cvd::Flavour::Cvd),
            "cld" => Some(cvd::Flavour::Cld),
            "cud" => Some(cvd::Flavour::Cud),
            _ => None,
        };
        let Some(flavour) = flavour else {
            let mut info = DatabaseInfo {
                name: name.clone(),
                ..DatabaseInfo::default()
            };
            self.add_bytes(path, &ext, &data, false, &mut info)?;
            self.databases.push(info);
            return Ok(());
        };
        let (h, members) =
            cvd::open(&data, flavour, MAX_CONTAINER).map_err(|m| db_error(path, 0, m))?;
        let mut info = DatabaseInfo {
            name,
            version: Some(h.version),
            build_time: h.stime,
            declared: Some(h.signatures),
            ..DatabaseInfo::default()
        };
        if let Some(t) = h.stime {
            let t = SystemTime::UNIX_EPOCH + Duration::from_secs(t);
            self.newest = self.newest.max(Some(t));
        }
        // Ignore lists first, so they apply to the container's own files.
        let mut members = members;
        members.sort_by_key(|(n, _)| !n.ends_with(".ign") && !n.ends_with(".ign2"));
        for (member, bytes) in members {
            let Some(ext) = extension(&member) else {
                continue;
            };
            let inner = path.join(&member);
            self.add_bytes(
                &inner,
                &ext,
                &bytes,
                flavour != cvd::Flavour::Cud,
                &mut info,
            )?;
        }
        self.databases.push(info);
        Ok(())
    }

    /// Loads one database file's bytes by its kind.
    fn add_bytes(
        &mut self,
        path: &Path,
        ext: &str,
        data: &[u8],
        official: bool,
        info: &mut DatabaseInfo,
    ) -> Result<(), Error> {
        let text = String::from_utf8_lossy(data);
        let lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
            .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
        let name_of = |n: &str| -> Arc<str> {
            if official {
                n.into()
            } else {
                format!("{n}.UNOFFICIAL").into()
            }
        };
        let count = |info: &mut DatabaseInfo, key: &str| {
            *info.loaded.entry(key.to_string()).or_default() += 1;
        };
        match ext {
            "hdb" | "hsb" | "fp" | "sfp" => {
                for (n, line) in lines {
                    let (digest, size, name, levels) =
                        hash_line(line, false).map_err(|m| db_error(path, n, m))?;
                    if !level_ok(levels) {
                        skip(info, "functionality level");
                        continue;
                    }
                    let sig = HashSig {
                        size,
                        name: name_of(name),
                    };
                    let table = if matches!(ext, "fp" | "sfp") {
                        &mut self.allow
                    } else {
                        &mut self.files
                    };
                    table
                        .insert(&digest, sig)
                        .map_err(|m| db_error(path, n, m))?;
                    count(info, ext);
                }
            }
            "mdb" | "msb" => {
                for (n, line) in lines {
                    let (digest, size, name, levels) =
                        hash_line(line, true).map_err(|m| db_error(path, n, m))?;
                    if !level_ok(levels) {
                        skip(info, "functionality level");
                        continue;
                    }
                    self.sections
                        .insert(
                            &digest,
                            HashSig {
                                size,
                                name: name_of(name),
                            },
                        )
                        .map_err(|m| db_error(path, n, m))?;
                    count(info, ext);
                }
            }
            "ndb" => {
                for (n, line) in lines {
                    match body_line(line) {
                        Ok(Some((name, target, offset, pattern))) => {
                            self.bodies.add_body(name_of(name), target, offset, pattern);
                            count(info, ext);
                        }
                        Ok(None) => skip(info, "functionality level"),
                        Err(LineError::Malformed(m)) => return Err(db_error(path, n, m)),
                        Err(LineError::Unsupported(why)) => skip(info, &why),
                    }
                }
            }
            "ldb" => {
                for (n, line) in lines {
                    match logical_line(line) {
                        Ok(Some((name, target, expr, subs))) => {
                            self.bodies.add_logical(name_of(name), target, expr, subs);
                            count(info, ext);
                        }
                        Ok(None) => skip(info, "functionality level"),
                        Err(LineError::Malformed(m)) => return Err(db_error(path, n, m)),
                        Err(LineError::Unsupported(why)) => skip(info, &why),
                    }
                }
            }
            "ign" | "ign2" => {
                for (_, line) in lines {
                    // `.ign2`: `Name` or `Name:md5`; `.ign`: `db:line:Name`.
                    let fields: Vec<&str> = line.split(':').collect();
                    let name = match fields.as_slice() {
                        [_, _, name, ..] if ext == "ign" => *name,
                        [name, ..] => *name,
                        [] => continue,
                    };
                    self.ignored.insert(name.trim().to_string());
                    count(info, ext);
                }
            }
            "info" | "cfg" | "cat" => {}
            other => {
                let n = lines.count();
                let why = if matches!(other, "hdu" | "hsu" | "mdu" | "msu" | "ndu" | "ldu") {
                    format!("{other}: PUA signatures (clamscan loads them only with --detect-pua)")
                } else {
                    format!("{other}: not executed by this engine yet")
                };
                if n > 0 {
                    *info.skipped.entry(why).or_default() += n;
                }
            }
        }
        Ok(())
    }

    /// Loads a database from memory; `name` gives its kind by extension
    /// (`local.ndb`). Such signatures are unofficial, as clamscan names
    /// signatures from loose files.
    pub fn add_source(&mut self, name: &str, text: &str) -> Result<&mut Self, Error> {
        let path = Path::new(name);
        let Some(ext) = extension(name) else {
            return Err(db_error(
                path,
                0,
                "not a ClamAV database (unknown extension)",
            ));
        };
        let mut info = DatabaseInfo {
            name: name.to_string(),
            ..DatabaseInfo::default()
        };
        self.add_bytes(path, &ext, text.as_bytes(), false, &mut info)?;
        self.databases.push(info);
        Ok(self)
    }

    /// Whether nothing was loaded.
    pub fn is_empty(&self) -> bool {
        self.databases.is_empty()
    }

    /// The engine. Fails only when the body signatures are too many for
    /// the prefilter.
    pub fn build(mut self) -> Result<ClamAvEngine, Error> {
        if !self.ignored.is_empty() {
            let ignored = &self.ignored;
            let base = |n: &str| n.strip_suffix(".UNOFFICIAL").unwrap_or(n).to_string();
            let keep = |s: &HashSig| !ignored.contains(&base(&s.name));
            self.files.retain(keep);
            self.sections.retain(keep);
            self.bodies.ignore(&|n: &str| ignored.contains(&base(n)));
        }
        let (ndb, ldb) = self.bodies.counts();
        let matcher = self.bodies.build().map_err(Error::Config)?;
        let def_time = self.newest.unwrap_or_else(SystemTime::now);
        let sigs = self.files.len() + self.sections.len() + ndb + ldb;
        Ok(ClamAvEngine {
            info: EngineInfo {
                id: "clamav".into(),
                name: "ClamAV".into(),
                version: format!(
                    "{} (ClamAV databases, level {FUNCTIONALITY_LEVEL}, {sigs} signatures)",
                    env!("CARGO_PKG_VERSION")
                ),
                def_time: crate::time::iso8601(def_time),
                kind: EngineKind::Av,
            },
            files: self.files,
            sections: self.sections,
            allow: self.allow,
            matcher,
            databases: self.databases,
        })
    }
}

/// Of `.cvd`/`.cld` files with the same stem, only the one of the higher
/// version (clamscan loads one of `daily.cvd` and `daily.cld`).
fn newest_containers(files: Vec<PathBuf>) -> Vec<PathBuf> {
    let version = |p: &Path| -> u32 {
        std::fs::File::open(p)
            .ok()
            .and_then(|f| {
                use std::io::Read as _;
                let mut head = vec![0u8; 512];
                f.take(512).read_exact(&mut head).ok()?;
                cvd::header(&head).ok()
            })
            .map_or(0, |h| h.version)
    };
    let is_container =
        |p: &Path| matches!(p.extension().and_then(|e| e.to_str()), Some("cvd" | "cld"));
    let mut best: HashMap<String, (u32, PathBuf)> = HashMap::new();
    let mut out = Vec::new();
    for p in files {
        if !is_container(&p) {
            out.push(p);
            continue;
        }
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let v = version(&p);
        match best.get(&stem) {
            Some((old, _)) if *old >= v => {}
            _ => {
                best.insert(stem, (v, p));
            }
        }
    }
    let mut containers: Vec<PathBuf> = best.into_values().map(|(_, p)| p).collect();
    containers.sort();
    containers.extend(out);
    containers
}

fn skip(info: &mut DatabaseInfo, why: &str) {
    *info.skipped.entry(why.to_string()).or_default() += 1;
}

/// Whether a signature's `min[:max]` functionality levels admit this
/// engine.
fn level_ok((min, max): (Option<u32>, Option<u32>)) -> bool {
    min.is_none_or(|m| m <= FUNCTIONALITY_LEVEL) && max.is_none_or(|m| m >= FUNCTIONALITY_LEVEL)
}

fn levels(fields: &[&str]) -> Result<(Option<u32>, Option<u32>), String> {
    let lv = |s: Option<&&str>| -> Result<Option<u32>, String> {
        match s {
            None | Some(&"") => Ok(None),
            Some(s) => s
                .parse()
                .map(Some)
                .map_err(|_| format!("functionality level `{s}` is not a number")),
        }
    };
    Ok((lv(fields.first())?, lv(fields.get(1))?))
}

type Levels = (Option<u32>, Option<u32>);

/// A hash line: `hash:size:name[:min[:max]]`, or `size:hash:name[...]` for
/// section hashes.
/// A hash line's digest, size, name and levels.
type HashLine<'a> = (Vec<u8>, Option<u64>, &'a str, Levels);

fn hash_line(line: &str, section: bool) -> Result<HashLine<'_>, String> {
    let f: Vec<&str> = line.split(':').collect();
    let (first, second, name, rest) = match f.as_slice() {
        [a, b, name, rest @ ..] if rest.len() <= 2 => (*a, *b, *name, rest),
        _ => return Err("a hash signature is hash:size:name[:min_level[:max_level]]".into()),
    };
    let (hash, size) = if section {
        (second, first)
    } else {
        (first, second)
    };
    let digest = crate::digest::unhex(hash)
        .filter(|d| matches!(d.len(), 16 | 20 | 32))
        .ok_or_else(|| format!("`{hash}` is not an MD5, SHA-1 or SHA-256 in hex"))?;
    let size = if size == "*" {
        None
    } else {
        Some(
            size.parse::<u64>()
                .map_err(|_| format!("size `{size}` is not a number or `*`"))?,
        )
    };
    if name.is_empty() {
        return Err("a signature without a name".into());
    }
    Ok((digest, size, name, levels(rest)?))
}

/// An `.ndb` line: `name:target:offset:hex[:min[:max]]`; `None` when it is
/// for another functionality level.
fn body_line(line: &str) -> Result<Option<(&str, u32, Offset, Pattern)>, LineError> {
    let f: Vec<&str> = line.split(':').collect();
    let (name, target, off, hex, rest) = match f.as_slice() {
        [name, target, off, hex, rest @ ..] if rest.len() <= 2 => {
            (*name, *target, *off, *hex, rest)
        }
        _ => {
            return Err(LineError::Malformed(
                "a body signature is name:target:offset:hex[:min_level[:max_level]]".into(),
            ));
        }
    };
    // The level is read first: a signature for another level is passed
    // over unparsed (ClamAV's own end-of-life notice is plain text).
    let lv = levels(rest).map_err(LineError::Malformed)?;
    if !level_ok(lv) {
        return Ok(None);
    }
    let target: u32 = target
        .parse()
        .map_err(|_| LineError::Malformed(format!("target type `{target}` is not a number")))?;
    if Offset::is_version_info(off) {
        if target != 1 {
            return Err(LineError::Malformed(
                "`VI` is an offset for PE targets".into(),
            ));
        }
        return Err(LineError::Unsupported("ndb: the VI offset".into()));
    }
    let offset =
        Offset::parse(off).map_err(|e| LineError::Malformed(format!("offset: {}", e.0)))?;
    if offset.is_executable_relative() && !matches!(target, 1 | 6 | 9) {
        return Err(LineError::Malformed(
            "EP and section offsets are for PE, ELF and Mach-O targets".into(),
        ));
    }
    let pattern = Pattern::parse(hex).map_err(|e| e.in_kind("ndb"))?;
    match target {
        3 => {
            return Err(LineError::Unsupported(
                "ndb: target 3 (normalized HTML)".into(),
            ));
        }
        9 if offset.is_executable_relative() => {
            return Err(LineError::Unsupported(
                "ndb: Mach-O entry point and section offsets".into(),
            ));
        }
        8 | 13.. => {
            return Err(LineError::Unsupported(format!("ndb: target {target}")));
        }
        _ => {}
    }
    Ok(Some((name, target, offset, pattern)))
}

/// A logical signature: its name, target description, expression and
/// subsignatures; `None` when it is for another functionality level.
type LogicalLine<'a> = (&'a str, logical::Target, logical::Expr, Vec<NewSubsig>);

fn logical_line(line: &str) -> Result<Option<LogicalLine<'_>>, LineError> {
    let l = logical::line(line)?;
    if let Some((min, max)) = l.target.engine
        && !(min <= FUNCTIONALITY_LEVEL && FUNCTIONALITY_LEVEL <= max)
    {
        return Ok(None);
    }
    let target = l.target.target;
    match target {
        3 => {
            return Err(LineError::Unsupported(
                "ldb: target 3 (normalized HTML)".into(),
            ));
        }
        8 | 13.. => return Err(LineError::Unsupported(format!("ldb: target {target}"))),
        _ => {}
    }
    let mut subs = Vec::with_capacity(l.subsigs.len());
    for text in &l.subsigs {
        let sub = logical::subsig(text)?;
        if Offset::is_version_info(sub.offset) {
            return Err(LineError::Unsupported("ldb: the VI offset".into()));
        }
        let offset = Offset::parse(sub.offset)
            .map_err(|e| LineError::Malformed(format!("offset: {}", e.0)))?;
        if offset.is_executable_relative() {
            if !matches!(target, 1 | 6 | 9) {
                return Err(LineError::Malformed(
                    "EP and section offsets are for PE, ELF and Mach-O targets".into(),
                ));
            }
            if target == 9 {
                return Err(LineError::Unsupported(
                    "ldb: Mach-O entry point and section offsets".into(),
                ));
            }
        }
        let m = sub.mods;
        // Measured with clamscan 1.4: `::i` alone (or `::ia`) matches the
        // ASCII and the wide reading, `::iw` the wide one only.
        let readings: &[bool] = match (m.wide, m.ascii, m.nocase) {
            (true, true, _) | (false, _, true) => &[false, true],
            (true, false, _) => &[true],
            _ => &[false],
        };
        let mut patterns = Vec::new();
        for &wide in readings {
            patterns.push(
                Pattern::parse_with(sub.hex, 2, wide, m.nocase, m != Mods::default(), true)
                    .map_err(|e| e.in_kind("ldb"))?,
            );
        }
        subs.push(NewSubsig {
            offset,
            patterns,
            fullword: m.fullword,
        });
    }
    Ok(Some((l.name, l.target, l.expr, subs)))
}

/// ClamAV's signature databases as an engine.
#[derive(Debug)]
pub struct ClamAvEngine {
    info: EngineInfo,
    files: HashTable,
    sections: HashTable,
    allow: HashTable,
    matcher: Matcher,
    databases: Vec<DatabaseInfo>,
}

impl ClamAvEngine {
    /// What each database brought.
    pub fn databases(&self) -> &[DatabaseInfo] {
        &self.databases
    }

    /// The names of the signatures that match `object`, in database order;
    /// an error when the search ran out of work or time.
    fn matches(&self, object: &ObjectView<'_>, deadline: Instant) -> Result<Vec<String>, Stop> {
        let data = object.data;
        if data.len() <= SMALLEST {
            return Ok(Vec::new());
        }
        let size = data.len() as u64;
        let d = object.digests;
        let mut allowed = Vec::new();
        for digest in [&d.md5[..], &d.sha1[..], &d.sha256[..]] {
            self.allow.find(digest, size, &mut allowed);
        }
        if !allowed.is_empty() {
            return Ok(Vec::new());
        }
        let mut names: Vec<String> = Vec::new();
        let mut found = Vec::new();
        for digest in [&d.md5[..], &d.sha1[..], &d.sha256[..]] {
            self.files.find(digest, size, &mut found);
        }
        names.extend(found.iter().map(|s| s.to_string()));
        let kind = object.file_type.kind;
        let mime = &*object.file_type.mime;
        let exec = match kind {
            Kind::Pe => offset::pe(data),
            Kind::Elf => offset::elf(data),
            _ => None,
        };
        if kind == Kind::Pe
            && !self.sections.is_empty()
            && let Some(exec) = &exec
        {
            let mut found = Vec::new();
            for s in &exec.sections {
                let Some(bytes) = usize::try_from(s.raw)
                    .ok()
                    .and_then(|r| data.get(r..r.checked_add(usize::try_from(s.size).ok()?)?))
                else {
                    continue;
                };
                if bytes.is_empty() {
                    continue;
                }
                let md5 = Md5::digest(bytes);
                self.sections.find(&md5, s.size, &mut found);
                if !self.sections.sha1.is_empty() || !self.sections.sha256.is_empty() {
                    use sha1::Digest as _;
                    self.sections
                        .find(&sha1::Sha1::digest(bytes), s.size, &mut found);
                    self.sections
                        .find(&sha2::Sha256::digest(bytes), s.size, &mut found);
                }
            }
            names.extend(found.iter().map(|s| s.to_string()));
        }
        let object = Object {
            data,
            kind,
            mime,
            exec: exec.as_ref(),
            normalized: false,
        };
        names.extend(self.matcher.scan(&object, deadline)?);
        // clamscan scans an ASCII text file a second time, normalized, with
        // the signatures for any type (0) and for normalized text (7).
        if kind == Kind::Text && mime == "text/plain" && !self.matcher.is_empty() && data.is_ascii()
        {
            let text = body::normalize_text(data);
            let normalized = Object {
                data: &text,
                kind,
                mime,
                exec: None,
                normalized: true,
            };
            names.extend(self.matcher.scan(&normalized, deadline)?);
        }
        let mut seen = HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
        Ok(names)
    }
}

impl Engine for ClamAvEngine {
    fn info(&self) -> &EngineInfo {
        &self.info
    }

    fn scan(&self, object: &ObjectView<'_>, timeout: Duration) -> EngineResult {
        let deadline = Instant::now() + timeout;
        match self.matches(object, deadline) {
            Ok(names) if names.is_empty() => EngineResult::clean(),
            Ok(names) => EngineResult {
                code: crate::engines::EngineCode::Infected,
                threats: names,
                ..EngineResult::clean()
            },
            Err(stop @ Stop::OutOfTime) => EngineResult::timed_out(stop.to_string()),
            Err(stop @ Stop::TooMuchWork(_)) => EngineResult::failed(stop.to_string()),
        }
    }
}

#[cfg(test)]
mod tests;
