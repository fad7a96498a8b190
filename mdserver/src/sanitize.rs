//! `mdscan sanitize IN OUT`, and the sanitized copies of `mdscan scan
//! --sanitize DIR`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use mdcore::sanitize::{Blocked, Record, SanitizeError, SanitizeOptions, Sanitized, sanitize};
use serde_json::Value;

/// Arguments of `mdscan sanitize`.
#[derive(Debug, Args)]
pub(crate) struct SanitizeArgs {
    /// The file to sanitize.
    input: PathBuf,
    /// Where to write the sanitized copy (not written when sanitization
    /// fails).
    output: PathBuf,
    /// Print MetaDefender's `post_processing` object instead of a summary.
    #[arg(long)]
    json: bool,
}

/// Exit 0 with the copy written, 2 when it could not be made.
pub(crate) fn run(args: SanitizeArgs) -> ExitCode {
    let data = match std::fs::read(&args.input) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("mdscan: {}: {e}", args.input.display());
            return ExitCode::from(2);
        }
    };
    let name = args.input.display().to_string();
    match sanitize(&data, &name, &SanitizeOptions::new()) {
        Ok(s) => {
            if let Err(e) = write_new(&args.output, &s.data) {
                eprintln!("mdscan: {}: {e}", args.output.display());
                return ExitCode::from(2);
            }
            if args.json {
                println!("{}", post_processing(&Ok(s), Some(&args.output)));
            } else {
                println!(
                    "{name} -> {} ({}): {}",
                    args.output.display(),
                    s.converted_to,
                    summary(&s)
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            if args.json {
                println!("{}", post_processing(&Err(e), None));
            } else {
                eprintln!("mdscan: {name}: not sanitized: {e}");
            }
            ExitCode::from(2)
        }
    }
}

/// What was removed, in words (`removed 1 macro, 2 DDE`).
pub(crate) fn summary(s: &Sanitized) -> String {
    if s.details.is_empty() {
        return "nothing active found; rebuilt".into();
    }
    let parts: Vec<String> = s
        .details
        .iter()
        .map(|d| format!("{} {} {}", d.action, d.count, d.object_name))
        .collect();
    parts.join(", ")
}

/// MetaDefender's `post_processing` object for one sanitization.
pub(crate) fn post_processing(r: &Result<Sanitized, SanitizeError>, dest: Option<&Path>) -> Value {
    let dest = dest.map(|d| d.display().to_string()).unwrap_or_default();
    match r {
        Ok(s) => mdcore::sanitize::post_processing(Some(&Record::of(s)), &dest),
        Err(SanitizeError::Unsupported(_)) => mdcore::sanitize::post_processing(None, ""),
        Err(e) => mdcore::sanitize::post_processing(Some(&Record::failed(e.to_string())), ""),
    }
}

/// Writes a file that must not exist yet, so a copy never replaces
/// another (or its own input).
fn write_new(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

/// Sanitizes `input` for `mdscan scan --sanitize DIR`: the copy goes to
/// `dir` as `<stem>.<converted_to>` (`<stem> (2).<ext>`, ... when taken).
/// Returns the `post_processing` object; `None` when the type has no
/// sanitizer.
pub(crate) fn into_dir(input: &Path, dir: &Path, blocked: &Blocked) -> Option<Value> {
    let data = match std::fs::read(input) {
        Ok(d) => d,
        Err(e) => {
            return Some(post_processing(
                &Err(SanitizeError::Failed(format!("can not read the file: {e}"))),
                None,
            ));
        }
    };
    let opts = SanitizeOptions::new().blocked(blocked.clone());
    let r = sanitize(&data, &input.display().to_string(), &opts);
    let s = match r {
        Err(SanitizeError::Unsupported(_)) => return None,
        Err(e) => return Some(post_processing(&Err(e), None)),
        Ok(s) => s,
    };
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sanitized".into());
    for n in 1..1000 {
        let name = if n == 1 {
            format!("{stem}.{}", s.converted_to)
        } else {
            format!("{stem} ({n}).{}", s.converted_to)
        };
        let dest = dir.join(name);
        match write_new(&dest, &s.data) {
            Ok(()) => return Some(post_processing(&Ok(s), Some(&dest))),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                let e = SanitizeError::Failed(format!("can not write {}: {e}", dest.display()));
                return Some(post_processing(&Err(e), None));
            }
        }
    }
    Some(post_processing(
        &Err(SanitizeError::Failed(format!(
            "no free name for the copy of {stem} in {}",
            dir.display()
        ))),
        None,
    ))
}
