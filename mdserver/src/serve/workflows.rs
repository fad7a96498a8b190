//! Workflows edited at run time: kept as records of the backend (redb for
//! `serve`, Redis for a cluster), laid over the config file's by name, and
//! put in force without a restart — at once on the node that saved them,
//! and within [`REFRESH`] on every other gateway of a cluster.
//!
//! A scan keeps the workflow it was submitted under by name; the limits in
//! force when it starts are the ones it runs with.

use std::time::Duration;

use super::backend::{Backend, BackendError, RecordKind};
use super::config::{Config, Workflow};

/// How often a node reads the workflows again.
pub(crate) const REFRESH: Duration = Duration::from_secs(5);

/// The stored (edited) workflows.
async fn stored<B: Backend>(backend: &B) -> Result<Vec<Workflow>, BackendError> {
    let mut out = Vec::new();
    for (key, bytes) in backend.records(RecordKind::Workflow).await? {
        match serde_json::from_slice::<Workflow>(&bytes) {
            Ok(w) => out.push(w),
            Err(e) => eprintln!("mdscan: stored workflow `{key}` does not parse: {e}"),
        }
    }
    Ok(out)
}

/// The config file's workflows with the stored ones laid over them (same
/// name: replaced in place; new names: appended).
fn merged(cfg: &Config, edited: Vec<Workflow>) -> Vec<Workflow> {
    let mut list = cfg.workflows.clone();
    for w in edited {
        match list
            .iter_mut()
            .find(|c| c.name.eq_ignore_ascii_case(&w.name))
        {
            Some(slot) => *slot = w,
            None => list.push(w),
        }
    }
    list
}

/// Reads the stored workflows and puts them in force; `Ok(names edited)`.
pub(crate) async fn refresh<B: Backend>(
    cfg: &Config,
    backend: &B,
) -> Result<Vec<String>, BackendError> {
    let edited = stored(backend).await?;
    let names = edited.iter().map(|w| w.name.clone()).collect();
    let list = merged(cfg, edited);
    if *cfg.current_workflows() != list {
        cfg.set_workflows(list);
    }
    Ok(names)
}

/// Stores a workflow (new, or replacing the one of that name) and puts it
/// in force here.
pub(crate) async fn save<B: Backend>(
    cfg: &Config,
    backend: &B,
    w: &Workflow,
) -> Result<(), BackendError> {
    let bytes = serde_json::to_vec(w).map_err(BackendError::failed)?;
    backend
        .put_record(RecordKind::Workflow, &w.name.to_lowercase(), &bytes, false)
        .await?;
    refresh(cfg, backend).await.map(|_| ())
}

/// Forgets the edit of `name` (the config file's workflow of that name, if
/// any, is in force again): `false` when it was not edited.
pub(crate) async fn revert<B: Backend>(
    cfg: &Config,
    backend: &B,
    name: &str,
) -> Result<bool, BackendError> {
    let was = backend
        .delete_record(RecordKind::Workflow, &name.to_lowercase())
        .await?;
    refresh(cfg, backend).await?;
    Ok(was)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_replace_by_name_and_append_new_ones() {
        let cfg: Config = toml::from_str(
            "[[workflows]]\nname = \"File scan\"\n[[workflows]]\nname = \"Strict\"\nmax_depth = 2\n",
        )
        .unwrap();
        let cfg = cfg.finish().unwrap();
        let strict = Workflow {
            name: "strict".into(),
            max_depth: 7,
            ..Workflow::default()
        };
        let extra = Workflow {
            name: "Mail".into(),
            ..Workflow::default()
        };
        let list = merged(&cfg, vec![strict, extra]);
        let names: Vec<&str> = list.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["File scan", "strict", "Mail"]);
        cfg.set_workflows(list);
        assert_eq!(cfg.workflow("STRICT").unwrap().max_depth, 7);
        assert_eq!(cfg.workflow("").unwrap().name, "File scan");
        // Clones share what is in force.
        let other = cfg.clone();
        cfg.set_workflows(vec![Workflow::default()]);
        assert!(other.workflow("mail").is_none());
    }
}
