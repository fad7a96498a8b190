//! Hash block and allow lists (MD5, SHA-1, SHA-256).
//!
//! Reads ClamAV's hash signature files unchanged — `.hdb` (`md5:size:name`),
//! `.hsb` (`hash:size:name[:flevel]`, the size may be `*`) and their
//! false-positive counterparts `.fp` / `.sfp`, which are allow lists — as
//! well as plain lists with one hash per line, optionally followed by
//! whitespace and a name (the output of `sha256sum`).
//!
//! A block-listed object reports code 1 from this engine and code 8 overall;
//! an allow-listed one reports 0 from this engine and 7 overall. Either way
//! the walker skips the other engines and does not extract it. When an object
//! is on both lists, the allow list wins: it is the operator's exception.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::engines::{Engine, EngineInfo, EngineKind, EngineResult, ListVerdict, ObjectView};
use crate::errors::Error;

/// Which list a hash file feeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKind {
    /// Known bad (code 8).
    Block,
    /// Known good (code 7).
    Allow,
}

impl ListKind {
    /// The list a file belongs to by its extension: `.fp` and `.sfp` (ClamAV's
    /// false-positive lists) are allow lists, everything else a block list.
    pub fn for_path(path: &Path) -> ListKind {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("fp") || e.eq_ignore_ascii_case("sfp") => {
                ListKind::Allow
            }
            _ => ListKind::Block,
        }
    }
}

#[derive(Clone, Debug)]
struct Entry {
    /// `None` for `*` or when the list gives no size.
    size: Option<u64>,
    name: String,
    list: ListKind,
}

/// Builds a [`HashEngine`].
#[derive(Debug, Default)]
pub struct HashEngineBuilder {
    md5: HashMap<[u8; 16], Vec<Entry>>,
    sha1: HashMap<[u8; 20], Vec<Entry>>,
    sha256: HashMap<[u8; 32], Vec<Entry>>,
    newest: Option<SystemTime>,
    sources: Vec<PathBuf>,
}

impl HashEngineBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads a list file into `list`. Every line must parse; a bad line is an
    /// error naming the file and line (all-or-nothing loading).
    pub fn add_file(&mut self, path: &Path, list: ListKind) -> Result<&mut Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        self.newest = self.newest.max(modified);
        self.add_text(&text, list)
            .map_err(|(line, message)| Error::HashList {
                path: path.to_path_buf(),
                line,
                message,
            })?;
        self.sources.push(path.to_path_buf());
        Ok(self)
    }

    /// Adds the lines of an in-memory list. On error returns the 1-based line
    /// number and what is wrong with it.
    pub fn add_text(&mut self, text: &str, list: ListKind) -> Result<&mut Self, (usize, String)> {
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (hash, entry) = parse_line(line, list).map_err(|m| (i + 1, m))?;
            self.insert(&hash, entry).map_err(|m| (i + 1, m))?;
        }
        Ok(self)
    }

    fn insert(&mut self, hash: &[u8], entry: Entry) -> Result<(), String> {
        match hash.len() {
            16 => push(&mut self.md5, hash, entry),
            20 => push(&mut self.sha1, hash, entry),
            32 => push(&mut self.sha256, hash, entry),
            n => {
                return Err(format!(
                    "a hash of {n} bytes is neither MD5, SHA-1 nor SHA-256"
                ));
            }
        }
        Ok(())
    }

    /// Number of hashes loaded.
    pub fn len(&self) -> usize {
        self.md5.len() + self.sha1.len() + self.sha256.len()
    }

    /// Whether no hash is loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The engine.
    pub fn build(self) -> HashEngine {
        let def_time = self.newest.unwrap_or_else(SystemTime::now);
        HashEngine {
            info: EngineInfo {
                id: "hash".into(),
                name: "Hash Lists".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                def_time: crate::time::iso8601(def_time),
                kind: EngineKind::Av,
            },
            md5: self.md5,
            sha1: self.sha1,
            sha256: self.sha256,
        }
    }
}

fn push<const N: usize>(map: &mut HashMap<[u8; N], Vec<Entry>>, hash: &[u8], entry: Entry) {
    if let Ok(key) = <[u8; N]>::try_from(hash) {
        map.entry(key).or_default().push(entry);
    }
}

/// One line: `hash:size:name[:...]`, `hash name` or `hash`.
fn parse_line(line: &str, list: ListKind) -> Result<(Vec<u8>, Entry), String> {
    let (hash, size, name) = if line.contains(':') {
        let mut parts = line.splitn(4, ':');
        let hash = parts.next().unwrap_or_default();
        let size = parts
            .next()
            .ok_or_else(|| "expected `hash:size:name`".to_string())?;
        let name = parts
            .next()
            .ok_or_else(|| "expected `hash:size:name`".to_string())?;
        let size = match size.trim() {
            "*" => None,
            s => Some(
                s.parse::<u64>()
                    .map_err(|_| format!("size `{s}` is neither a number nor `*`"))?,
            ),
        };
        (hash.trim(), size, name.trim().to_string())
    } else {
        let mut parts = line.splitn(2, char::is_whitespace);
        let hash = parts.next().unwrap_or_default();
        let name = parts
            .next()
            .map(|n| n.trim().trim_start_matches('*').to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("Hash.{}", hash.to_ascii_lowercase()));
        (hash, None, name)
    };
    let bytes = crate::digest::unhex(hash).ok_or_else(|| format!("`{hash}` is not a hex hash"))?;
    if !matches!(bytes.len(), 16 | 20 | 32) {
        return Err(format!(
            "`{hash}` has {} hex digits; MD5, SHA-1 and SHA-256 have 32, 40 and 64",
            hash.len()
        ));
    }
    Ok((bytes, Entry { size, name, list }))
}

/// Hash block/allow list engine. Build with [`HashEngineBuilder`].
#[derive(Debug)]
pub struct HashEngine {
    info: EngineInfo,
    md5: HashMap<[u8; 16], Vec<Entry>>,
    sha1: HashMap<[u8; 20], Vec<Entry>>,
    sha256: HashMap<[u8; 32], Vec<Entry>>,
}

impl HashEngine {
    fn lookup<'a>(&'a self, object: &ObjectView<'_>) -> impl Iterator<Item = &'a Entry> + 'a {
        let size = object.data.len() as u64;
        let d = *object.digests;
        self.md5
            .get(&d.md5)
            .into_iter()
            .chain(self.sha1.get(&d.sha1))
            .chain(self.sha256.get(&d.sha256))
            .flatten()
            .filter(move |e| e.size.is_none_or(|s| s == size))
    }
}

impl Engine for HashEngine {
    fn info(&self) -> &EngineInfo {
        &self.info
    }

    fn scan(&self, object: &ObjectView<'_>, _timeout: Duration) -> EngineResult {
        let mut blocked = Vec::new();
        for e in self.lookup(object) {
            match e.list {
                ListKind::Allow => {
                    return EngineResult {
                        list: Some(ListVerdict::Allow),
                        ..EngineResult::clean()
                    };
                }
                ListKind::Block => blocked.push(e.name.clone()),
            }
        }
        if blocked.is_empty() {
            return EngineResult::clean();
        }
        blocked.dedup();
        EngineResult {
            code: crate::EngineCode::Infected,
            threats: blocked,
            list: Some(ListVerdict::Block),
            ..EngineResult::clean()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Digests, EngineCode, detect};

    fn view<'a>(data: &'a [u8], d: &'a Digests, ft: &'a crate::kind::FileType) -> ObjectView<'a> {
        ObjectView {
            data,
            digests: d,
            file_type: ft,
            display_name: "x",
        }
    }

    #[test]
    fn clamav_formats_and_plain_lists() {
        let data = b"abc";
        let d = Digests::of(data);
        let ft = detect(data);
        let md5 = crate::digest::hex(&d.md5);
        let sha256 = crate::digest::hex(&d.sha256);
        // .hdb, exact size
        let mut b = HashEngineBuilder::new();
        b.add_text(&format!("{md5}:3:Test.ABC.Hdb"), ListKind::Block)
            .unwrap();
        let r = b.build().scan(&view(data, &d, &ft), Duration::ZERO);
        assert_eq!(r.code, EngineCode::Infected);
        assert_eq!(r.threats, vec!["Test.ABC.Hdb".to_string()]);
        assert_eq!(r.list, Some(ListVerdict::Block));
        // .hsb with a wrong size does not match; `*` does
        let mut b = HashEngineBuilder::new();
        b.add_text(&format!("{sha256}:4:Wrong.Size\n"), ListKind::Block)
            .unwrap();
        assert_eq!(
            b.build().scan(&view(data, &d, &ft), Duration::ZERO).code,
            EngineCode::NoThreat
        );
        let mut b = HashEngineBuilder::new();
        b.add_text(
            &format!("# comment\n\n{sha256}:*:Any.Size:73\n"),
            ListKind::Block,
        )
        .unwrap();
        assert_eq!(
            b.build().scan(&view(data, &d, &ft), Duration::ZERO).code,
            EngineCode::Infected
        );
        // sha256sum style, allow list wins over block list
        let mut b = HashEngineBuilder::new();
        b.add_text(&format!("{sha256}  abc.txt\n"), ListKind::Allow)
            .unwrap();
        b.add_text(&format!("{md5}:3:Bad"), ListKind::Block)
            .unwrap();
        let r = b.build().scan(&view(data, &d, &ft), Duration::ZERO);
        assert_eq!(r.list, Some(ListVerdict::Allow));
        assert_eq!(r.code, EngineCode::NoThreat);
    }

    #[test]
    fn bad_lines_name_their_line() {
        let mut b = HashEngineBuilder::new();
        let err = b
            .add_text("# ok\nnothex:3:x\n", ListKind::Block)
            .unwrap_err();
        assert_eq!(err.0, 2);
        let err = b.add_text("abcd:3:x", ListKind::Block).unwrap_err();
        assert!(err.1.contains("hex digits"), "{}", err.1);
        let err = b
            .add_text("900150983cd24fb0d6963f7d28e17f72:big:x", ListKind::Block)
            .unwrap_err();
        assert!(err.1.contains("size"), "{}", err.1);
        assert_eq!(ListKind::for_path(Path::new("a.sfp")), ListKind::Allow);
        assert_eq!(ListKind::for_path(Path::new("a.hdb")), ListKind::Block);
    }
}
