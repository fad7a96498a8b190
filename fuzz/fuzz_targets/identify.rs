#![no_main]
//! Software identification of hostile bytes (the vulnerability
//! assessment's readers: goblin's PE version resources, RPM headers, a
//! .deb's control archive, package metadata files): never panics.
use mdcore::Kind;
use mdcore::vuln::identify;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for (kind, name) in [
        (Kind::Pe, "a.exe"),
        (Kind::Rpm, "a.rpm"),
        (Kind::Ar, "a.deb"),
        (Kind::Text, "pom.properties"),
        (Kind::Text, "META-INF/MANIFEST.MF"),
        (Kind::Text, "a.dist-info/METADATA"),
        (Kind::Text, "package/package.json"),
    ] {
        let _ = identify(data, kind, name);
    }
});
