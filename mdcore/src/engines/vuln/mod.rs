//! File-based vulnerability assessment: software identified inside a file
//! ([`identify`]) is matched against a local feed, and an object carrying
//! known-vulnerable software gets code 18 (Potentially Vulnerable File)
//! with what was found ([`Finding`]).
//!
//! The feed is read from files and directories at scanner build time (and
//! again at every reload):
//! - **OSV** records (<https://ossf.github.io/osv-schema/>), one per JSON
//!   file, JSON arrays of them, or the per-ecosystem `all.zip` OSV
//!   publishes; matched by ecosystem, package name and version (the
//!   `versions` list, `ECOSYSTEM` and `SEMVER` ranges).
//! - **Products** for Windows binaries and Java archives without Maven
//!   coordinates: a JSON file `{"cpe_matches": [...]}` whose entries follow
//!   NVD's CPE match (`cpe`, `versionStartIncluding`,
//!   `versionStartExcluding`, `versionEndIncluding`, `versionEndExcluding`)
//!   with the advisory (`cve`, `severity`, `description`, `url`) and
//!   optional `product_names` / `vendor_names` as the file's version
//!   resource spells them.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::engines::{Engine, EngineInfo, EngineKind, EngineResult, ObjectView};
use crate::errors::FeedError;

mod cvss;
mod dotnet;
mod identify;
mod version;

pub use identify::{Software, identify};
pub(crate) use version::compare;

/// One advisory as the feed gives it.
#[derive(Clone, Debug, PartialEq)]
struct Advisory {
    id: String,
    /// CVE ids (the id itself when it is one, and its CVE aliases).
    cves: Vec<String>,
    severity: String,
    /// The CVSS vector the score comes from, and the score in tenths.
    cvss: Option<(String, u16)>,
    description: String,
    url: String,
    ranges: Vec<Vec<Event>>,
    versions: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
enum Event {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
}

/// A product rule of the CPE-style feed.
#[derive(Clone, Debug)]
struct ProductRule {
    /// The CPE's vendor.
    vendor: String,
    /// Normalized names the rule matches (the CPE product and
    /// `product_names`).
    names: Vec<String>,
    vendors: Vec<String>,
    start: Option<(String, bool)>,
    end: Option<(String, bool)>,
    advisory: Arc<Advisory>,
}

/// A vulnerability found, in the terms of MetaDefender's
/// `vulnerability_info`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundVulnerability {
    /// The advisory's id (`CVE-…`, `GHSA-…`, `PYSEC-…`).
    pub id: String,
    /// Its CVE ids.
    pub cves: Vec<String>,
    /// `CRITICAL`, `HIGH`, `MODERATE`/`MEDIUM`, `LOW`, or `UNKNOWN`: the
    /// record's word, else the rating of its CVSS score.
    pub severity: String,
    /// The CVSS base vector the record gives (version 3.x, else 2).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cvss_vector: String,
    /// Its base score (`9.8`), computed from the vector.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cvss_score: String,
    /// What the record says of it (its summary or details).
    pub description: String,
    /// Where to read about it and how to remediate.
    pub url: String,
}

/// Vulnerable software found in one object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Product (package) name.
    pub product: String,
    /// Vendor, when known (the PE's CompanyName, the Maven group).
    pub vendor: String,
    /// The version found.
    pub version: String,
    /// `Maven`, `PyPI`, `npm`, `Debian`, ... or `product` for the product
    /// feed.
    pub ecosystem: String,
    /// What identified it (`pom.properties`, `PE version resource`, ...).
    pub source: String,
    /// What the feeds list against this version.
    pub vulnerabilities: Vec<FoundVulnerability>,
}

/// The loaded feed: immutable, shared by every scan of a scanner.
#[derive(Debug, Default)]
pub struct Feed {
    /// OSV advisories by (ecosystem, package name), both normalized.
    packages: HashMap<(String, String), Vec<Arc<Advisory>>>,
    products: Vec<ProductRule>,
    advisories: usize,
    /// The newest `modified` (or `published`) date among the records.
    newest: String,
    sources: Vec<PathBuf>,
}

/// Largest feed file or zip member read.
const MAX_FEED_FILE: u64 = 1 << 30;

impl Feed {
    /// Reads every feed file at `paths` (files, directories of them, zips
    /// of OSV records). A file that does not parse is an error naming it.
    pub fn load(paths: &[PathBuf]) -> Result<Feed, FeedError> {
        let mut feed = Feed {
            sources: paths.to_vec(),
            ..Feed::default()
        };
        let mut files = Vec::new();
        for p in paths {
            collect(p, &mut files)?;
        }
        for f in files {
            let lower = f.to_string_lossy().to_ascii_lowercase();
            if lower.ends_with(".zip") {
                feed.add_zip(&f)?;
            } else if lower.ends_with(".json") {
                let data = read_capped(std::fs::File::open(&f), &f)?;
                feed.add_document(&data, || f.display().to_string())?;
            }
        }
        if feed.advisories == 0 {
            return Err(FeedError::Empty {
                paths: paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Ok(feed)
    }

    fn add_zip(&mut self, path: &Path) -> Result<(), FeedError> {
        let file = std::fs::File::open(path).map_err(|source| FeedError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let archive = |e: zip::result::ZipError| FeedError::Archive {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let mut z = zip::ZipArchive::new(file).map_err(archive)?;
        for i in 0..z.len() {
            let mut f = z.by_index(i).map_err(archive)?;
            let name = f.name().unwrap_or_default().to_ascii_lowercase();
            if !name.ends_with(".json") {
                continue;
            }
            let mut data = Vec::new();
            (&mut f)
                .take(MAX_FEED_FILE)
                .read_to_end(&mut data)
                .map_err(|e| FeedError::Archive {
                    path: path.to_path_buf(),
                    message: format!("{name}: {e}"),
                })?;
            self.add_document(&data, || format!("{}: {name}", path.display()))?;
        }
        Ok(())
    }

    /// Adds one JSON document: an OSV record, an array of them, or a
    /// product feed.
    pub fn add_json(&mut self, data: &[u8]) -> Result<(), FeedError> {
        self.add_document(data, String::new)
    }

    /// [`Feed::add_json`], its errors naming where the document came from.
    fn add_document(
        &mut self,
        data: &[u8],
        location: impl Fn() -> String,
    ) -> Result<(), FeedError> {
        self.parse_json(data).map_err(|message| FeedError::Invalid {
            location: location(),
            message,
        })
    }

    fn parse_json(&mut self, data: &[u8]) -> Result<(), String> {
        let v: serde_json::Value = serde_json::from_slice(data).map_err(|e| e.to_string())?;
        match &v {
            serde_json::Value::Array(items) => {
                for item in items {
                    self.add_osv(item)?;
                }
                Ok(())
            }
            serde_json::Value::Object(m) if m.contains_key("cpe_matches") => self.add_products(&v),
            serde_json::Value::Object(_) => self.add_osv(&v),
            _ => Err("neither an OSV record nor a product feed".into()),
        }
    }

    fn note_date(&mut self, v: &serde_json::Value) {
        for key in ["modified", "published", "date"] {
            if let Some(d) = v.get(key).and_then(|d| d.as_str())
                && d > self.newest.as_str()
            {
                self.newest = d.to_string();
            }
        }
    }

    fn add_osv(&mut self, v: &serde_json::Value) -> Result<(), String> {
        let id = str_of(v, "id");
        if id.is_empty() {
            return Err("an OSV record without an id".into());
        }
        if v.get("withdrawn").and_then(|w| w.as_str()).is_some() {
            return Ok(());
        }
        self.note_date(v);
        let mut cves: Vec<String> = std::iter::once(id.clone())
            .chain(
                v.get("aliases")
                    .and_then(|a| a.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a.as_str().map(str::to_string)),
            )
            .filter(|a| a.starts_with("CVE-"))
            .collect();
        cves.dedup();
        let description = match str_of(v, "summary") {
            s if s.is_empty() => str_of(v, "details").chars().take(500).collect(),
            s => s,
        };
        let url = v
            .get("references")
            .and_then(|r| r.as_array())
            .and_then(|refs| {
                let pick = |kind: &str| {
                    refs.iter()
                        .find(|r| r.get("type").and_then(|t| t.as_str()) == Some(kind))
                        .map(|r| str_of(r, "url"))
                };
                pick("ADVISORY")
                    .or_else(|| pick("FIX"))
                    .or_else(|| pick("WEB"))
            })
            .unwrap_or_else(|| format!("https://osv.dev/vulnerability/{id}"));
        let top_cvss = cvss_of(v);
        let top_severity = severity_of(v, top_cvss.as_ref());
        let Some(affected) = v.get("affected").and_then(|a| a.as_array()) else {
            return Ok(());
        };
        for a in affected {
            let Some(pkg) = a.get("package") else {
                continue;
            };
            let (eco, name) = (str_of(pkg, "ecosystem"), str_of(pkg, "name"));
            if eco.is_empty() || name.is_empty() {
                continue;
            }
            let mut ranges = Vec::new();
            for r in a
                .get("ranges")
                .and_then(|r| r.as_array())
                .into_iter()
                .flatten()
            {
                if !matches!(
                    r.get("type").and_then(|t| t.as_str()),
                    Some("ECOSYSTEM" | "SEMVER")
                ) {
                    continue;
                }
                let events: Vec<Event> = r
                    .get("events")
                    .and_then(|e| e.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|e| {
                        let s = |k: &str| e.get(k).and_then(|x| x.as_str()).map(str::to_string);
                        s("introduced")
                            .map(Event::Introduced)
                            .or_else(|| s("fixed").map(Event::Fixed))
                            .or_else(|| s("last_affected").map(Event::LastAffected))
                    })
                    .collect();
                ranges.push(events);
            }
            let versions: Vec<String> = a
                .get("versions")
                .and_then(|x| x.as_array())
                .into_iter()
                .flatten()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect();
            // An affected entry's own severity, else the record's.
            let cvss = cvss_of(a).or_else(|| top_cvss.clone());
            let severity = a
                .get("database_specific")
                .and_then(|d| d.get("severity"))
                .and_then(|s| s.as_str())
                .map(str::to_ascii_uppercase)
                .or_else(|| cvss_of(a).map(|(_, score)| cvss::rating(score).to_string()))
                .unwrap_or_else(|| top_severity.clone());
            let adv = Arc::new(Advisory {
                id: id.clone(),
                cves: cves.clone(),
                severity,
                cvss,
                description: description.clone(),
                url: url.clone(),
                ranges,
                versions,
            });
            self.packages
                .entry((eco.to_ascii_lowercase(), package_key(&eco, &name)))
                .or_default()
                .push(adv);
        }
        self.advisories += 1;
        Ok(())
    }

    fn add_products(&mut self, v: &serde_json::Value) -> Result<(), String> {
        self.note_date(v);
        let list = v
            .get("cpe_matches")
            .and_then(|m| m.as_array())
            .ok_or("`cpe_matches` is not a list")?;
        for m in list {
            let cpe = str_of(m, "cpe");
            let parts: Vec<&str> = cpe.split(':').collect();
            let (Some(vendor), Some(product)) = (parts.get(3), parts.get(4)) else {
                return Err(format!("`{cpe}` is not a CPE 2.3 name"));
            };
            let id = match str_of(m, "cve") {
                s if s.is_empty() => str_of(m, "id"),
                s => s,
            };
            if id.is_empty() {
                return Err(format!("the entry for {cpe} has no `cve` or `id`"));
            }
            let strings = |k: &str| -> Vec<String> {
                m.get(k)
                    .and_then(|x| x.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_str().map(normalize))
                    .collect()
            };
            let mut names = strings("product_names");
            names.push(normalize(product));
            let bound = |incl: &str, excl: &str| match (str_of(m, incl), str_of(m, excl)) {
                (i, _) if !i.is_empty() => Some((i, true)),
                (_, e) if !e.is_empty() => Some((e, false)),
                _ => None,
            };
            let url = match str_of(m, "url") {
                s if s.is_empty() => format!("https://nvd.nist.gov/vuln/detail/{id}"),
                s => s,
            };
            // `cvss`: a base vector (3.x or 2), scored here.
            let cvss = Some(str_of(m, "cvss"))
                .filter(|v| !v.is_empty())
                .and_then(|v| {
                    cvss::v3(&v)
                        .or_else(|| cvss::v2(&v))
                        .map(|score| (v, score))
                });
            // A CPE with a fixed version matches that version only.
            let exact = parts
                .get(5)
                .filter(|v| !matches!(**v, "*" | "-" | ""))
                .map(|v| v.to_string());
            let (start, end) = match exact {
                Some(v) => (Some((v.clone(), true)), Some((v, true))),
                None => (
                    bound("versionStartIncluding", "versionStartExcluding"),
                    bound("versionEndIncluding", "versionEndExcluding"),
                ),
            };
            self.products.push(ProductRule {
                vendor: vendor.to_string(),
                names,
                vendors: strings("vendor_names"),
                start,
                end,
                advisory: Arc::new(Advisory {
                    cves: if id.starts_with("CVE-") {
                        vec![id.clone()]
                    } else {
                        Vec::new()
                    },
                    id,
                    severity: match (str_of(m, "severity"), &cvss) {
                        (s, Some((_, score))) if s.is_empty() => cvss::rating(*score).into(),
                        (s, _) => s.to_ascii_uppercase(),
                    },
                    cvss,
                    description: str_of(m, "description"),
                    url,
                    ranges: Vec::new(),
                    versions: Vec::new(),
                }),
            });
            self.advisories += 1;
        }
        Ok(())
    }

    /// The advisories that apply to `sw`.
    pub fn assess(&self, sw: &Software) -> Option<Finding> {
        let mut found: Vec<FoundVulnerability> = Vec::new();
        let mut push = |a: &Advisory| {
            if !found.iter().any(|f| f.id == a.id) {
                found.push(FoundVulnerability {
                    id: a.id.clone(),
                    cves: a.cves.clone(),
                    severity: if a.severity.is_empty() {
                        "UNKNOWN".into()
                    } else {
                        a.severity.clone()
                    },
                    cvss_vector: a.cvss.as_ref().map(|c| c.0.clone()).unwrap_or_default(),
                    cvss_score: a
                        .cvss
                        .as_ref()
                        .map(|c| format!("{}.{}", c.1 / 10, c.1 % 10))
                        .unwrap_or_default(),
                    description: a.description.clone(),
                    url: a.url.clone(),
                });
            }
        };
        if let Some(eco) = &sw.ecosystem {
            let ecos: Vec<String> = match eco.as_str() {
                // An RPM says nothing of its distribution: every RPM
                // ecosystem OSV knows is asked.
                "RPM" => [
                    "red hat",
                    "rocky linux",
                    "almalinux",
                    "opensuse",
                    "suse",
                    "mageia",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
                e => vec![e.to_ascii_lowercase()],
            };
            for e in ecos {
                let key = (e.clone(), package_key(&e, &sw.name));
                for a in self.packages.get(&key).into_iter().flatten() {
                    if affects(a, &sw.version) {
                        push(a);
                    }
                }
            }
        } else {
            let name = normalize(&sw.name);
            let vendor = normalize(&sw.vendor);
            for r in &self.products {
                let vendor_ok = r.vendors.is_empty() || r.vendors.contains(&vendor);
                if !r.names.contains(&name) || !vendor_ok {
                    continue;
                }
                let above = r.start.as_ref().is_none_or(|(v, incl)| {
                    let c = compare(&sw.version, v);
                    c.is_gt() || (*incl && c.is_eq())
                });
                let below = r.end.as_ref().is_none_or(|(v, incl)| {
                    let c = compare(&sw.version, v);
                    c.is_lt() || (*incl && c.is_eq())
                });
                if above && below {
                    push(&r.advisory);
                }
            }
        }
        if found.is_empty() {
            return None;
        }
        let (vendor, product) = match &sw.ecosystem {
            None => self
                .products
                .iter()
                .find(|r| found.iter().any(|f| f.id == r.advisory.id))
                .map(|r| {
                    let vendor = if sw.vendor.is_empty() {
                        r.vendor.clone()
                    } else {
                        sw.vendor.clone()
                    };
                    (vendor, sw.name.clone())
                })
                .unwrap_or_else(|| (sw.vendor.clone(), sw.name.clone())),
            Some(_) => (sw.vendor.clone(), sw.name.clone()),
        };
        Some(Finding {
            product,
            vendor,
            version: sw.version.clone(),
            ecosystem: sw.ecosystem.clone().unwrap_or_else(|| "product".into()),
            source: sw.source.clone(),
            vulnerabilities: found,
        })
    }

    /// How `/stat/engines` lists the feed.
    pub fn info(&self) -> EngineInfo {
        EngineInfo {
            id: "vulnerability".into(),
            name: "Vulnerability Assessment".into(),
            version: format!("{} advisories", self.advisories),
            def_time: self.newest.clone(),
            kind: EngineKind::Vulnerability,
        }
    }

    /// Advisories loaded.
    pub fn len(&self) -> usize {
        self.advisories
    }

    /// Whether no advisory was loaded.
    pub fn is_empty(&self) -> bool {
        self.advisories == 0
    }

    /// The paths it was read from.
    pub fn sources(&self) -> &[PathBuf] {
        &self.sources
    }
}

/// The assessment as an engine: the walker hands it every object, as it
/// hands them to the detection engines, and puts what it finds in the
/// object's `vulnerabilities` (code 18). The scanner builds it from the
/// feed it loaded and runs it first, so an allow-listed object is assessed
/// too.
#[derive(Debug)]
pub(crate) struct Assessment {
    feed: Arc<Feed>,
    info: EngineInfo,
}

impl Assessment {
    pub(crate) fn new(feed: Arc<Feed>) -> Assessment {
        let info = feed.info();
        Assessment { feed, info }
    }
}

impl Engine for Assessment {
    fn info(&self) -> &EngineInfo {
        &self.info
    }

    fn scan(&self, object: &ObjectView<'_>, _timeout: std::time::Duration) -> EngineResult {
        EngineResult {
            vulnerabilities: assess(
                &self.feed,
                object.data,
                object.file_type.kind,
                object.display_name,
            ),
            ..EngineResult::clean()
        }
    }
}

/// Identifies the software in one object and matches it.
pub(crate) fn assess(
    feed: &Feed,
    data: &[u8],
    kind: crate::kind::Kind,
    name: &str,
) -> Vec<Finding> {
    identify(data, kind, name)
        .iter()
        .filter_map(|sw| feed.assess(sw))
        .collect()
}

/// Whether an OSV advisory covers `version`.
fn affects(a: &Advisory, version: &str) -> bool {
    if a.versions.iter().any(|v| compare(v, version).is_eq()) {
        return true;
    }
    a.ranges.iter().any(|events| in_range(events, version))
}

/// OSV's range evaluation: affected from each `introduced` up to the next
/// `fixed` (exclusive) or `last_affected` (inclusive).
fn in_range(events: &[Event], v: &str) -> bool {
    let at_least = |x: &str| x == "0" || compare(v, x).is_ge();
    for (i, e) in events.iter().enumerate() {
        let Event::Introduced(start) = e else {
            continue;
        };
        if !at_least(start) {
            continue;
        }
        // The closest end at or after this start.
        let end = events
            .iter()
            .skip(i + 1)
            .chain(events.iter().take(i))
            .filter(|e| match e {
                Event::Fixed(x) | Event::LastAffected(x) => {
                    start == "0" || compare(x, start).is_ge()
                }
                Event::Introduced(_) => false,
            })
            .min_by(|a, b| {
                let (Event::Fixed(x) | Event::LastAffected(x) | Event::Introduced(x)) = a;
                let (Event::Fixed(y) | Event::LastAffected(y) | Event::Introduced(y)) = b;
                compare(x, y)
            });
        let inside = match end {
            None => true,
            Some(Event::Fixed(x)) => compare(v, x).is_lt(),
            Some(Event::LastAffected(x)) => compare(v, x).is_le(),
            Some(Event::Introduced(_)) => true,
        };
        if inside {
            return true;
        }
    }
    false
}

fn str_of(v: &serde_json::Value, key: &str) -> String {
    v.get(key)
        .and_then(|x| x.as_str())
        .unwrap_or_default()
        .to_string()
}

/// The record's severity: its `database_specific.severity` (GitHub's and
/// most databases' word), else the rating of its CVSS score, else
/// `UNKNOWN`.
fn severity_of(v: &serde_json::Value, cvss: Option<&(String, u16)>) -> String {
    if let Some(s) = v
        .get("database_specific")
        .and_then(|d| d.get("severity"))
        .and_then(|s| s.as_str())
    {
        return s.to_ascii_uppercase();
    }
    match cvss {
        Some((_, score)) => cvss::rating(*score).into(),
        None => "UNKNOWN".into(),
    }
}

/// The CVSS vector of an OSV record or affected entry (`severity: [{"type":
/// "CVSS_V3", "score": "CVSS:3.1/..."}]`; version 3 before 2) and its base
/// score in tenths.
fn cvss_of(v: &serde_json::Value) -> Option<(String, u16)> {
    let list = v.get("severity")?.as_array()?;
    let vector = |kind: &str| {
        list.iter()
            .find(|s| s.get("type").and_then(|t| t.as_str()) == Some(kind))
            .map(|s| str_of(s, "score"))
    };
    if let Some(vec) = vector("CVSS_V3")
        && let Some(score) = cvss::v3(&vec)
    {
        return Some((vec, score));
    }
    let vec = vector("CVSS_V2")?;
    cvss::v2(&vec).map(|score| (vec, score))
}

/// How a package name compares within its ecosystem: PyPI folds case and
/// runs of `-_.` (PEP 503); npm, Maven and the distributions compare
/// exactly except for case.
fn package_key(ecosystem: &str, name: &str) -> String {
    if ecosystem.eq_ignore_ascii_case("pypi") {
        let mut out = String::new();
        let mut sep = false;
        for c in name.trim().chars() {
            if matches!(c, '-' | '_' | '.') {
                sep = true;
            } else {
                if sep && !out.is_empty() {
                    out.push('-');
                }
                sep = false;
                out.extend(c.to_lowercase());
            }
        }
        out
    } else {
        name.trim().to_ascii_lowercase()
    }
}

/// Product and vendor names compared: letters and digits only, lower case
/// (`7-Zip` and `7_zip` are one product).
fn normalize(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn collect(p: &Path, out: &mut Vec<PathBuf>) -> Result<(), FeedError> {
    let io = |source| FeedError::Io {
        path: p.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(p).map_err(io)?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            if e.is_dir() {
                collect(&e, out)?;
            } else {
                out.push(e);
            }
        }
    } else {
        out.push(p.to_path_buf());
    }
    Ok(())
}

fn read_capped(f: std::io::Result<std::fs::File>, path: &Path) -> Result<Vec<u8>, FeedError> {
    let io = |source| FeedError::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = f.map_err(io)?;
    let mut data = Vec::new();
    f.take(MAX_FEED_FILE).read_to_end(&mut data).map_err(io)?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn osv(eco: &str, name: &str, events: &str) -> String {
        format!(
            r#"{{"id": "GHSA-test-0001", "aliases": ["CVE-2099-0001"], "summary": "bad", "modified": "2026-11-30T00:00:00Z",
               "affected": [{{"package": {{"ecosystem": "{eco}", "name": "{name}"}},
                 "ranges": [{{"type": "ECOSYSTEM", "events": {events}}}],
                 "database_specific": {{"severity": "HIGH"}}}}],
               "references": [{{"type": "ADVISORY", "url": "https://example.org/a"}}]}}"#
        )
    }

    fn pkg(eco: &str, name: &str, version: &str) -> Software {
        Software {
            ecosystem: Some(eco.into()),
            name: name.into(),
            vendor: String::new(),
            version: version.into(),
            source: "test".into(),
        }
    }

    #[test]
    fn osv_ranges_and_names() {
        let mut f = Feed::default();
        f.add_json(
            osv(
                "PyPI",
                "Demo_Pkg",
                r#"[{"introduced": "0"}, {"fixed": "1.4.2"}, {"introduced": "2.0"}, {"last_affected": "2.1"}]"#,
            )
            .as_bytes(),
        )
        .unwrap();
        let hit = |v: &str| f.assess(&pkg("PyPI", "demo-pkg", v)).is_some();
        assert!(hit("1.0") && hit("1.4.1") && hit("1.4.2rc1"));
        assert!(!hit("1.4.2") && !hit("1.10"));
        assert!(hit("2.0") && hit("2.1") && !hit("2.1.1"));
        let found = f.assess(&pkg("pypi", "demo.pkg", "1.0")).unwrap();
        assert_eq!(found.vulnerabilities[0].cves, ["CVE-2099-0001"]);
        assert_eq!(found.vulnerabilities[0].severity, "HIGH");
        assert_eq!(found.vulnerabilities[0].url, "https://example.org/a");
        assert!(f.assess(&pkg("npm", "demo-pkg", "1.0")).is_none());
        assert_eq!(f.info().def_time, "2026-11-30T00:00:00Z");
        assert!(f.add_json(b"[1]").is_err());
    }

    #[test]
    fn a_record_with_only_a_cvss_vector_is_rated_from_its_score() {
        let mut f = Feed::default();
        f.add_json(
            br#"{"id": "OSV-2099-7", "modified": "2026-11-30T00:00:00Z",
                 "severity": [{"type": "CVSS_V2", "score": "AV:N/AC:M/Au:N/C:N/I:P/A:N"},
                              {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
                 "affected": [{"package": {"ecosystem": "npm", "name": "a"}, "versions": ["1.0"]},
                              {"package": {"ecosystem": "npm", "name": "b"}, "versions": ["1.0"],
                               "severity": [{"type": "CVSS_V2", "score": "AV:N/AC:M/Au:N/C:N/I:P/A:N"}]}]}"#,
        )
        .unwrap();
        let a = f.assess(&pkg("npm", "a", "1.0")).unwrap();
        let v = &a.vulnerabilities[0];
        assert_eq!(
            (v.severity.as_str(), v.cvss_score.as_str()),
            ("CRITICAL", "9.8")
        );
        assert!(v.cvss_vector.starts_with("CVSS:3.1/"));
        // An affected entry's own vector wins over the record's.
        let b = f.assess(&pkg("npm", "b", "1.0")).unwrap();
        let v = &b.vulnerabilities[0];
        assert_eq!(
            (v.severity.as_str(), v.cvss_score.as_str()),
            ("MEDIUM", "4.3")
        );
    }

    #[test]
    fn products_by_cpe_bounds() {
        let mut f = Feed::default();
        f.add_json(
            br#"{"cpe_matches": [{"cpe": "cpe:2.3:a:acme:widget_tool:*:*:*:*:*:*:*:*",
            "product_names": ["Widget Tool"], "versionEndExcluding": "3.2",
            "cve": "CVE-2099-0002", "severity": "critical"}]}"#,
        )
        .unwrap();
        let sw = |v: &str| Software {
            ecosystem: None,
            name: "Widget-Tool".into(),
            vendor: "ACME Corp".into(),
            version: v.into(),
            source: "PE version resource".into(),
        };
        let found = f.assess(&sw("3.1.9.0")).unwrap();
        assert_eq!(found.vulnerabilities[0].id, "CVE-2099-0002");
        assert_eq!(found.vulnerabilities[0].severity, "CRITICAL");
        assert!(f.assess(&sw("3.2")).is_none());
    }
}
