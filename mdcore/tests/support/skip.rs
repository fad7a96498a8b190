// Visible, counted skips for tests that need a tool or a service this
// machine lacks. Included (`include!`) by the test support of mdcore,
// mdserver, mdcluster and ffi, so every test binary counts the same way.
//
// Under `CI` a skip is a failure: CI installs every tool and starts every
// service (`.ci/run`). Elsewhere the test returns early, and the run shows
// it twice: a `SKIPPED` line when it happens (written to the process's
// standard error directly, which libtest does not capture), and, when the
// test binary exits, how many of its tests skipped and why — so a green
// run on a newcomer's machine says what it did not check.

/// Marks the calling test as skipped for `why` (see above). The caller
/// returns right after.
#[allow(dead_code)]
pub fn skip(why: impl std::fmt::Display) {
    use std::io::Write as _;
    assert!(
        std::env::var_os("CI").is_none(),
        "{why} (CI must have it: .ci/run installs the tools and starts the services)"
    );
    let test = std::thread::current()
        .name()
        .unwrap_or("(unnamed thread)")
        .to_string();
    let line = format!("SKIPPED {test}: {why}");
    // Not `eprintln!`: libtest captures that for passing tests.
    let _ = writeln!(std::io::stderr(), "{line}");
    let mut skips = skips::SKIPPED.lock().unwrap_or_else(|e| e.into_inner());
    if skips.is_empty() {
        skips::at_exit();
    }
    skips.push(line);
}

mod skips {
    pub static SKIPPED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

    /// Prints the skips after libtest's own summary: libtest returns from
    /// `main` when every test passed, and the C runtime then runs the
    /// functions given to `atexit`.
    #[allow(unsafe_code)]
    pub fn at_exit() {
        unsafe extern "C" {
            fn atexit(f: extern "C" fn()) -> std::ffi::c_int;
        }
        extern "C" fn summary() {
            use std::io::Write as _;
            let skips = SKIPPED.lock().unwrap_or_else(|e| e.into_inner());
            let mut err = std::io::stderr();
            let _ = writeln!(
                err,
                "\n{} test(s) of this binary SKIPPED (a tool or service is missing; CI runs them all):",
                skips.len()
            );
            for line in skips.iter() {
                let _ = writeln!(err, "  {line}");
            }
        }
        // SAFETY: `atexit` only stores the pointer to a function that takes
        // no argument and lives as long as the program.
        unsafe {
            atexit(summary);
        }
    }
}
