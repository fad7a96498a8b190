//! Shared helpers of the fuzz targets.

use std::sync::{Arc, OnceLock};

use mdcore::{
    HashEngineBuilder, Limits, ListKind, Report, ScanOptions, Scanner, ScannerBuilder, fuzzing,
};

/// The EICAR test file, planted by the structured target.
pub const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
const EICAR_SHA256: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

/// Runs the extractor for `kind` on `data` under tight limits; the
/// invariants are checked inside `mdcore::fuzzing::extract`.
pub fn extract(kind: mdcore::Kind, data: &[u8]) {
    let _ = fuzzing::extract(kind, data, &fuzzing::tight_limits());
}

/// One scanner for the whole run: two threads, tight limits, EICAR on the
/// hash block list (this build has no YARA).
pub fn scanner() -> &'static Scanner {
    static S: OnceLock<Scanner> = OnceLock::new();
    S.get_or_init(|| {
        let mut hashes = HashEngineBuilder::new();
        hashes
            .add_text(
                &format!("{EICAR_SHA256}:68:EICAR-Test-File\n"),
                ListKind::Block,
            )
            .expect("valid list line");
        ScannerBuilder::new()
            .threads(2)
            .limits(fuzzing::tight_limits())
            .password("infected")
            .engine(Arc::new(hashes.build()))
            .build()
            .expect("the scanner builds")
    })
}

/// Scans `data` and checks the report against the limits: object count,
/// depth and produced bytes within bounds.
pub fn scan_and_check(data: &[u8]) -> Report {
    let report = scanner().scan_bytes(data, &ScanOptions::new().name("fuzz.bin"));
    let limits: Limits = fuzzing::tight_limits();
    assert!(
        report.objects <= limits.max_objects + 1,
        "{} objects past max_objects {}",
        report.objects,
        limits.max_objects
    );
    // Each of the two threads may decode one chunk past the limit before it
    // learns the limit was reached.
    let slack = 2 * (128u64 << 10);
    assert!(
        report.bytes_extracted <= limits.max_total_bytes + slack,
        "{} bytes extracted past max_total_bytes {}",
        report.bytes_extracted,
        limits.max_total_bytes
    );
    for n in report.root.iter() {
        assert!(
            n.depth <= limits.max_depth,
            "node at depth {} past max_depth",
            n.depth
        );
    }
    // The walker contains panics (a scan must survive a decoder bug), which
    // would hide them from the fuzzer: a contained crash is a finding.
    if let Some(crash) = fuzzing::contained_crash(&report) {
        panic!("contained crash: {crash}");
    }
    report
}

/// Parses `data` as each kind of ClamAV database file and as a container.
pub fn clamav_parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for name in ["f.ndb", "f.hdb", "f.hsb", "f.mdb", "f.msb", "f.fp", "f.ign2"] {
        let mut b = mdcore::ClamAvBuilder::new();
        if b.add_source(name, &text).is_ok() {
            let _ = b.build();
        }
    }
    fuzzing::clamav_container(data);
}

/// Matches the signature on the first line of `data` against the rest.
pub fn clamav_match(data: &[u8]) {
    let (head, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(head) = std::str::from_utf8(head) else {
        return;
    };
    let mut b = mdcore::ClamAvBuilder::new();
    if b.add_source("f.ndb", &format!("Fuzz:{head}")).is_err() {
        return;
    }
    let Ok(engine) = b.build() else {
        return;
    };
    let digests = mdcore::Digests::of(body);
    let file_type = mdcore::detect(body);
    let view = mdcore::ObjectView {
        data: body,
        digests: &digests,
        file_type: &file_type,
        display_name: "fuzz",
    };
    let _ = mdcore::Engine::scan(&engine, &view, std::time::Duration::from_secs(5));
}
