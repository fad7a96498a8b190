//! Compiles the C test program and the example against the built library
//! (through the pkg-config file), runs them, under valgrind when available
//! (always in CI), and checks the committed header is what cbindgen makes.
// Tests assert by panicking: unwrap, expect, panic and indexing are
// how they fail (the workspace denies them in library code).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

include!("../../mdcore/tests/support/skip.rs");

const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Where cargo put the C library: the library is a dependency of this
/// test, so the build that made this test made `libmdc.so` and `libmdc.a`
/// (every crate type the library declares) beside it in `deps/`, with
/// the features and flags of this very build. Nothing is built again here
/// (a nested `cargo build -p` resolves features anew and rebuilt yara-x).
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().to_path_buf()
}

/// Fails with a clear message when the C library is not beside the test.
fn require_c_library() {
    let dir = lib_dir();
    assert!(
        dir.join("libmdc.so").exists() && dir.join("libmdc.a").exists(),
        "libmdc.so and libmdc.a are not in {}: cargo builds them with this test",
        dir.display()
    );
}

fn ffi_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Writes mdc.pc for the build tree and returns `pkg-config --cflags --libs mdc`.
fn pkg_config(dir: &Path) -> Vec<String> {
    let pc = std::fs::read_to_string(ffi_dir().join("mdc.pc.in"))
        .unwrap()
        .replace("@LIBDIR@", lib_dir().to_str().unwrap())
        .replace("@INCLUDEDIR@", ffi_dir().join("include").to_str().unwrap())
        .replace("@VERSION@", env!("CARGO_PKG_VERSION"));
    std::fs::write(dir.join("mdc.pc"), pc).unwrap();
    let out = Command::new("pkg-config")
        .args(["--cflags", "--libs", "mdc"])
        .env("PKG_CONFIG_PATH", dir)
        .output()
        .expect("pkg-config is installed");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn compile(source: &Path, exe: &Path, dir: &Path) {
    require_c_library();
    let out = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pthread", "-g"])
        .arg(source)
        .args(pkg_config(dir))
        .arg(format!("-Wl,-rpath,{}", lib_dir().display()))
        .arg("-o")
        .arg(exe)
        .output()
        .expect("a C compiler (cc) is installed");
    assert!(
        out.status.success(),
        "cc failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `exe args` under valgrind's leak checker when it is installed (it
/// must be in CI), plainly otherwise.
fn run(exe: &Path, args: &[&Path]) -> std::process::Output {
    let have_valgrind = Command::new("valgrind").arg("--version").output().is_ok();
    if !have_valgrind {
        // The program still runs; only the leak check is skipped.
        skip("valgrind is not installed: the C program runs without the leak check");
    }
    let mut cmd = if have_valgrind {
        let mut c = Command::new("valgrind");
        c.args([
            "--quiet",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect",
            "--error-exitcode=97",
        ])
        .arg(exe);
        c
    } else {
        Command::new(exe)
    };
    cmd.args(args).output().unwrap()
}

#[test]
fn the_c_test_program_passes_without_leaks() {
    let dir = tempfile::tempdir().unwrap();
    let deep = zip_of(&[("eicar.com", EICAR)]);
    let inner = zip_of(&[("deep.zip", &deep)]);
    let nested = zip_of(&[("inner.zip", &inner), ("readme.txt", b"nothing here")]);
    let nested_path = dir.path().join("nested.zip");
    std::fs::write(&nested_path, nested).unwrap();
    // ~400 MB of text in ~1 MB of gzip: a scan long enough to cancel.
    let line = b"lorem ipsum dolor sit amet, consectetur adipiscing elit\n".repeat(1 << 14);
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for _ in 0..400 {
        e.write_all(&line).unwrap();
    }
    let slow_path = dir.path().join("slow.gz");
    std::fs::write(&slow_path, e.finish().unwrap()).unwrap();
    let bad_rules = dir.path().join("bad.yar");
    std::fs::write(
        &bad_rules,
        "rule broken {\n  condition: nonexistent_identifier\n}\n",
    )
    .unwrap();

    let exe = dir.path().join("test_mdc");
    compile(&ffi_dir().join("tests/c/test_mdc.c"), &exe, dir.path());
    let out = run(&exe, &[&nested_path, &slow_path, &bad_rules]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "C test failed ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("all C API checks passed"), "{stdout}");
}

#[test]
fn the_static_library_links_and_scans() {
    let dir = tempfile::tempdir().unwrap();
    require_c_library();
    let exe = dir.path().join("mdc-scan-static");
    // The system libraries `cargo rustc -- --print native-static-libs` names.
    let out = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Werror", "-pthread"])
        .arg(ffi_dir().join("examples/scan.c"))
        .arg("-I")
        .arg(ffi_dir().join("include"))
        .arg(lib_dir().join("libmdc.a"))
        .args([
            "-lgcc_s",
            "-lutil",
            "-lrt",
            "-lpthread",
            "-lm",
            "-ldl",
            "-lc",
            // RARLAB's UnRAR (the `rar` feature) is C++.
            "-lstdc++",
        ])
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "static link failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let infected = dir.path().join("b.zip");
    std::fs::write(&infected, zip_of(&[("eicar.com", EICAR)])).unwrap();
    let out = Command::new(&exe).arg(&infected).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("EICAR_Test_File in b.zip/eicar.com"));
}

#[test]
fn the_example_scans_files() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("mdc-scan");
    compile(&ffi_dir().join("examples/scan.c"), &exe, dir.path());
    let infected = dir.path().join("a.zip");
    std::fs::write(&infected, zip_of(&[("x/eicar.com", EICAR)])).unwrap();
    let clean = dir.path().join("clean.txt");
    std::fs::write(&clean, "hello").unwrap();
    let out = Command::new(&exe).arg(&infected).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("Infected"), "{text}");
    assert!(
        text.contains("EICAR_Test_File in a.zip/x/eicar.com"),
        "{text}"
    );
    let out = Command::new(&exe).arg(&clean).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("No Threat Detected"));
    let out = Command::new(&exe)
        .arg(dir.path().join("missing"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
