//! The scanner in force, replaced whole when its definitions are reloaded
//! (`POST /admin/engine/reload`): the YARA rules and hash lists are read
//! again from the configured paths and compiled off the async threads. A
//! reload that fails (a rule that does not compile, a missing file) leaves
//! the scanner in force untouched. Scans already running finish with the
//! scanner they started with (each holds a clone).

use std::sync::RwLock;

use mdcore::{EngineInfo, Scanner};

use super::config::Config;

pub(crate) struct LiveScanner {
    cfg: Config,
    threads: usize,
    current: RwLock<Scanner>,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
}

impl LiveScanner {
    /// Builds the first scanner from `cfg` with `threads` scan threads.
    pub(crate) fn new(cfg: &Config, threads: usize) -> Result<LiveScanner, String> {
        Ok(LiveScanner {
            current: RwLock::new(cfg.scanner(threads)?),
            cfg: cfg.clone(),
            threads,
            reloading: tokio::sync::Mutex::new(()),
        })
    }

    /// The scanner in force (a cheap clone).
    pub(crate) fn get(&self) -> Scanner {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The engines in force, the vulnerability feed last (when loaded).
    pub(crate) fn engines(&self) -> Vec<EngineInfo> {
        listed(&self.get())
    }

    /// Reads and compiles the definitions again; on success they are in
    /// force for every scan that starts from now on.
    pub(crate) async fn reload(&self) -> Result<Vec<EngineInfo>, String> {
        let _one = self.reloading.lock().await;
        let cfg = self.cfg.clone();
        let threads = self.threads;
        let fresh = tokio::task::spawn_blocking(move || cfg.scanner(threads))
            .await
            .map_err(|e| format!("the reload crashed: {e}"))??;
        let engines = listed(&fresh);
        match self.current.write() {
            Ok(mut g) => *g = fresh,
            Err(p) => *p.into_inner() = fresh,
        }
        Ok(engines)
    }
}

/// What `/stat/engines` lists for a scanner: its engines, the
/// vulnerability assessment last.
pub(crate) fn listed(s: &Scanner) -> Vec<EngineInfo> {
    s.engines().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "rule unrelated { strings: $a = \"nothing-like-it\" condition: $a }";
    const RULE: &str = "rule planted { strings: $a = \"reload-me-now\" condition: $a }";

    #[tokio::test]
    async fn a_reload_takes_new_rules_and_a_broken_one_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules");
        std::fs::create_dir(&rules).unwrap();
        // An empty rule directory is refused at start.
        std::fs::write(rules.join("base.yar"), BASE).unwrap();
        let cfg: Config = toml::from_str(&format!("rules = [\"{}\"]\n", rules.display())).unwrap();
        let cfg = cfg.finish().unwrap();
        let live = LiveScanner::new(&cfg, 1).unwrap();
        let scan = |s: &Scanner| {
            s.scan_bytes(b"xx reload-me-now xx", &mdcore::ScanOptions::new())
                .verdict()
        };
        let before = live.get();
        assert_eq!(scan(&before), mdcore::ResultCode::NoThreat);

        std::fs::write(rules.join("new.yar"), RULE).unwrap();
        // Nothing changes until asked.
        assert_eq!(scan(&live.get()), mdcore::ResultCode::NoThreat);
        let engines = live.reload().await.unwrap();
        assert!(engines.iter().any(|e| e.id == "yara"), "{engines:?}");
        assert_eq!(scan(&live.get()), mdcore::ResultCode::Infected);
        // A scanner taken before the reload keeps its rules.
        assert_eq!(scan(&before), mdcore::ResultCode::NoThreat);

        std::fs::write(rules.join("broken.yar"), "rule broken { condition: }").unwrap();
        let err = live.reload().await.unwrap_err();
        assert!(err.contains("broken"), "{err}");
        assert_eq!(scan(&live.get()), mdcore::ResultCode::Infected);
    }
}
