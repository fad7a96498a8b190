//! Generates `include/mdc.h` from `src/lib.rs` with cbindgen. The header is
//! committed; CI rebuilds it and fails when the committed copy differs.
// A tool run by developers on inputs of their own making, not a reader
// of hostile bytes: it stops with a message where the library may not.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("ffi/cbindgen.toml is valid");
    let bindings = match cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
    {
        Ok(b) => b,
        Err(e) => panic!("cbindgen could not generate mdc.h: {e}"),
    };
    let mut header = Vec::new();
    bindings.write(&mut header);
    let path = dir.join("include").join("mdc.h");
    // Only touch the file when its content changes, so builds stay fresh.
    if std::fs::read(&path).ok().as_deref() != Some(header.as_slice()) {
        std::fs::create_dir_all(dir.join("include")).expect("can create ffi/include");
        std::fs::write(&path, &header).expect("can write ffi/include/mdc.h");
    }
    // Let dependants (and the tests) find the header.
    println!("cargo:include={}", dir.join("include").display());
}
