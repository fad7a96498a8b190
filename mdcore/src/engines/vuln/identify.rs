//! What software an object is or describes, from its own bytes: package
//! metadata files (which the walker meets as members of the archives that
//! carry them: a JAR's `pom.properties`, a wheel's `METADATA`, an npm
//! tarball's `package.json`, a NuGet package's `.nuspec`), package headers
//! (RPM, and a Debian package's control archive), PE version resources
//! and .NET assembly metadata.

use crate::extract::{Cx, Flow};
use crate::kind::Kind;
use crate::limits::{Budget, Limits};

/// One piece of software found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Software {
    /// The OSV ecosystem (`Maven`, `PyPI`, `npm`, `Debian`, `RPM` for any
    /// RPM distribution); `None` for a product matched by name and vendor
    /// (PE version resources, JAR manifests).
    pub ecosystem: Option<String>,
    /// Package or product name.
    pub name: String,
    /// Vendor or group, when known; empty otherwise.
    pub vendor: String,
    /// The version as the file states it.
    pub version: String,
    /// What it was read from.
    pub source: String,
}

/// Metadata files and headers read at most this far.
const MAX_METADATA: usize = 1 << 20;
/// A Debian package's control archive decompressed at most this far.
const MAX_CONTROL: u64 = 16 << 20;

/// The software `data` (named `name`, of type `kind`) identifies.
pub fn identify(data: &[u8], kind: Kind, name: &str) -> Vec<Software> {
    let base = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(name)
        .to_ascii_lowercase();
    let text = || {
        let d = data.get(..MAX_METADATA).unwrap_or(data);
        String::from_utf8_lossy(d).into_owned()
    };
    let found = match base.as_str() {
        "pom.properties" => maven(&text()),
        "manifest.mf" => manifest(&text()),
        "metadata" | "pkg-info" => python(&text()),
        "package.json" => npm(data),
        _ if base.ends_with(".nuspec") => nuspec(data),
        _ => match kind {
            Kind::Pe => return pe(data),
            Kind::Rpm => rpm(data),
            Kind::Ar => deb(data),
            _ => None,
        },
    };
    found.into_iter().collect()
}

/// A NuGet package's manifest (`<id>.nuspec` at the root of a `.nupkg`):
/// `<metadata>`'s `id`, `version` and `authors`.
fn nuspec(data: &[u8]) -> Option<Software> {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_reader(data.get(..MAX_METADATA).unwrap_or(data));
    let mut path: Vec<Vec<u8>> = Vec::new();
    let (mut id, mut version, mut authors) = (None, None, None);
    let mut buf = Vec::new();
    loop {
        match r.read_event_into(&mut buf).ok()? {
            Event::Start(e) => path.push(e.local_name().as_ref().to_vec()),
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) if path.len() == 3 && path.get(1).is_some_and(|p| p == b"metadata") => {
                let text = t.decode().ok()?.trim().to_string();
                match path.get(2).map(Vec::as_slice).unwrap_or_default() {
                    b"id" => id = Some(text),
                    b"version" => version = Some(text),
                    b"authors" => authors = Some(text),
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Some(Software {
        ecosystem: Some("NuGet".into()),
        name: id.filter(|i| !i.is_empty())?,
        vendor: authors.unwrap_or_default(),
        version: version.filter(|v| !v.is_empty())?,
        source: "NuGet package manifest".into(),
    })
}

/// `key=value` and `Key: value` lines.
fn field<'a>(text: &'a str, key: &str, sep: char) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(sep)?;
        (k.trim().eq_ignore_ascii_case(key) && !v.trim().is_empty()).then(|| v.trim())
    })
}

fn maven(text: &str) -> Option<Software> {
    let (g, a, v) = (
        field(text, "groupId", '=')?,
        field(text, "artifactId", '=')?,
        field(text, "version", '=')?,
    );
    Some(Software {
        ecosystem: Some("Maven".into()),
        name: format!("{g}:{a}"),
        vendor: g.into(),
        version: v.into(),
        source: "pom.properties".into(),
    })
}

/// A JAR manifest names a product, not Maven coordinates: matched against
/// the product feed.
fn manifest(text: &str) -> Option<Software> {
    let name =
        field(text, "Implementation-Title", ':').or_else(|| field(text, "Bundle-Name", ':'))?;
    let version = field(text, "Implementation-Version", ':')
        .or_else(|| field(text, "Bundle-Version", ':'))?;
    let vendor = field(text, "Implementation-Vendor", ':')
        .or_else(|| field(text, "Bundle-Vendor", ':'))
        .unwrap_or_default();
    Some(Software {
        ecosystem: None,
        name: name.into(),
        vendor: vendor.into(),
        version: version.into(),
        source: "JAR manifest".into(),
    })
}

/// Core metadata (a wheel's `METADATA`, an sdist's `PKG-INFO`): only the
/// header block, and only with its `Metadata-Version`.
fn python(text: &str) -> Option<Software> {
    let head = text.split("\n\n").next().unwrap_or(text);
    field(head, "Metadata-Version", ':')?;
    Some(Software {
        ecosystem: Some("PyPI".into()),
        name: field(head, "Name", ':')?.into(),
        vendor: String::new(),
        version: field(head, "Version", ':')?.into(),
        source: "Python package metadata".into(),
    })
}

fn npm(data: &[u8]) -> Option<Software> {
    let v: serde_json::Value =
        serde_json::from_slice(data.get(..MAX_METADATA).unwrap_or(data)).ok()?;
    let name = v.get("name")?.as_str()?;
    let version = v.get("version")?.as_str()?;
    Some(Software {
        ecosystem: Some("npm".into()),
        name: name.into(),
        vendor: String::new(),
        version: version.into(),
        source: "package.json".into(),
    })
}

fn debian_control(text: &str, source: &str) -> Option<Software> {
    Some(Software {
        ecosystem: Some("Debian".into()),
        name: field(text, "Package", ':')?.into(),
        vendor: field(text, "Maintainer", ':').unwrap_or_default().into(),
        version: field(text, "Version", ':')?.into(),
        source: source.into(),
    })
}

/// A `.deb`: an `ar` archive whose `control.tar[.gz|.xz|.zst]` holds
/// `./control`. The members are read by the registry's readers (ar, the
/// compressor, tar), as the walker reads them, within a budget of
/// [`MAX_CONTROL`] bytes.
fn deb(data: &[u8]) -> Option<Software> {
    let limits = Limits {
        max_total_bytes: MAX_CONTROL,
        max_objects: 10_000,
        timeout: std::time::Duration::from_secs(10),
        ..Limits::default()
    };
    let budget = Budget::new(limits, data.len() as u64, None);
    let mut tar = member(Kind::Ar, data, &budget, &|n| n.starts_with("control.tar"))?;
    // At most one compression around the tar.
    let (kind, _) = crate::detect::identify(&tar);
    if kind != Kind::Tar {
        tar = member(kind, &tar, &budget, &|_| true)?;
    }
    let control = member(Kind::Tar, &tar, &budget, &|n| {
        n.trim_start_matches("./") == "control"
    })?;
    let text = control.get(..MAX_METADATA).unwrap_or(&control);
    debian_control(&String::from_utf8_lossy(text), "Debian package")
}

/// The first member of a container of `kind` whose name `want` takes,
/// read whole by the registry's reader for it.
fn member(
    kind: Kind,
    data: &[u8],
    budget: &Budget,
    want: &dyn Fn(&str) -> bool,
) -> Option<Vec<u8>> {
    let cx = Cx::new(budget, &[], "", crate::detect::identify);
    let mut found = None;
    let _ = crate::formats::each_member(kind, data, &cx, &mut |c| {
        if !want(&c.name) {
            return Flow::Continue;
        }
        if c.issue.is_none() {
            found = c.data.map(|d| d.as_slice().to_vec());
        }
        Flow::Stop
    });
    found
}

/// An RPM: what its main header says (the RPM reader reads it).
fn rpm(data: &[u8]) -> Option<Software> {
    let p = crate::extract::rpm::package(data)?;
    Some(Software {
        ecosystem: Some("RPM".into()),
        name: p.name,
        vendor: p.vendor,
        version: p.version,
        source: "RPM header".into(),
    })
}

/// A PE's version resource (goblin reads it).
/// A PE's version resource and, for a .NET assembly, its assembly
/// identity (name and four-part version from the metadata tables).
fn pe(data: &[u8]) -> Vec<Software> {
    let opts = goblin::pe::options::ParseOptions::default();
    let parsed = std::panic::catch_unwind(|| goblin::pe::PE::parse_with_opts(data, &opts).ok());
    let Some(pe) = parsed.ok().flatten() else {
        return Vec::new();
    };
    let resource = version_resource(&pe);
    let mut out: Vec<Software> = resource.iter().cloned().collect();
    let assembly =
        std::panic::catch_unwind(|| super::dotnet::identity(&pe, data)).unwrap_or_default();
    if let Some((name, version)) = assembly {
        out.push(Software {
            ecosystem: None,
            name,
            vendor: resource.map(|r| r.vendor).unwrap_or_default(),
            version,
            source: ".NET assembly metadata".into(),
        });
    }
    out
}

fn version_resource(pe: &goblin::pe::PE<'_>) -> Option<Software> {
    let info = pe.resource_data.as_ref()?.version_info.as_ref()?;
    let s = &info.string_info;
    let name = s
        .product_name()
        .or_else(|| s.file_description())
        .or_else(|| s.original_filename())
        .filter(|n| !n.trim().is_empty())?;
    let version = s
        .product_version()
        .or_else(|| s.file_version())
        .or_else(|| info.fixed_info.map(|f| f.product_version().to_string()))?;
    Some(Software {
        ecosystem: None,
        name: name.trim().to_string(),
        vendor: s.company_name().unwrap_or_default().trim().to_string(),
        // "24.06" or "3, 1, 9, 0" (old resource style): the version part.
        version: version
            .split_whitespace()
            .collect::<String>()
            .replace(',', "."),
        source: "PE version resource".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_metadata() {
        let id = |data: &[u8], name: &str| identify(data, Kind::Text, name);
        let m = id(
            b"#Generated by Maven\ngroupId=org.example\nartifactId=demo-lib\nversion=1.2.3\n",
            "demo.jar/META-INF/maven/org.example/demo-lib/pom.properties",
        );
        assert_eq!(m[0].name, "org.example:demo-lib");
        assert_eq!(m[0].version, "1.2.3");
        let p = id(
            b"Metadata-Version: 2.1\nName: Demo_Pkg\nVersion: 0.9\n\nName: not this\n",
            "x.whl/demo_pkg-0.9.dist-info/METADATA",
        );
        assert_eq!(
            (p[0].name.as_str(), p[0].version.as_str()),
            ("Demo_Pkg", "0.9")
        );
        assert!(id(b"Name: x\nVersion: 1\n", "METADATA").is_empty());
        let n = id(
            br#"{"name": "left-pad", "version": "1.0.0"}"#,
            "package/package.json",
        );
        assert_eq!(n[0].ecosystem.as_deref(), Some("npm"));
        assert!(id(b"{", "package.json").is_empty());
        // A Debian package is read from the .deb itself (its control
        // archive), not from a loose `control` file.
        assert!(id(b"Package: demo\nVersion: 1:2.0-1\n", "control").is_empty());
        let j = id(
            b"Manifest-Version: 1.0\r\nImplementation-Title: Demo Tool\r\nImplementation-Version: 4.1\r\n",
            "a.jar/META-INF/MANIFEST.MF",
        );
        assert_eq!(
            (j[0].name.as_str(), j[0].ecosystem.as_ref()),
            ("Demo Tool", None)
        );
    }

    #[test]
    fn hostile_headers_identify_nothing() {
        for data in [
            &b"!<arch>\ncontrol.tar.gz/ 0 0 0 644 99999999999`\n"[..],
            b"!<arch>\n",
            b"MZ\x90\0",
            &[0xed, 0xab, 0xee, 0xdb, 0, 0],
        ] {
            for kind in [Kind::Ar, Kind::Pe, Kind::Rpm] {
                assert!(identify(data, kind, "x").is_empty());
            }
        }
    }
}
