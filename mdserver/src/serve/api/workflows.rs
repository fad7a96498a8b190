//! Workflows through the API: `GET /admin/config/rule` (every workflow in
//! force with its limits), `PUT /admin/config/rule/{name}` (edit one, or
//! make a new one) and `DELETE /admin/config/rule/{name}` (drop the edit).
//! Saved durably by the backend and in force without a restart
//! (`serve::workflows`).

use hyper::Request;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Api, ApiError, Reply, ReqBody, ok};
use crate::serve::backend::Backend;
use crate::serve::config::{Workflow, pick};
use crate::serve::identity::Identity;
use crate::serve::roles::Perm;
use crate::serve::workflows;

fn doc(w: &Workflow, edited: bool) -> Value {
    json!({"name": w.name, "max_file_size": w.max_file_size, "user_agents": w.user_agents,
           "extract": w.extract, "max_depth": w.max_depth, "max_files": w.max_files,
           "max_size": w.max_size, "max_object_size": w.max_object_size,
           "max_ratio": w.max_ratio, "timeout_secs": w.timeout_secs,
           "block_codes": w.block_codes, "passwords": w.passwords.len(),
           "edited": edited})
}

/// Whether `w` differs from (or is missing in) the config file.
fn edited<B: Backend>(api: &Api<B>, w: &Workflow) -> bool {
    pick(&api.cfg.workflows, &w.name).is_none_or(|c| c != w)
}

/// `GET /admin/config/rule`: every workflow in force, archive passwords
/// counted, never shown.
pub(crate) fn list<B: Backend>(api: &Api<B>) -> Reply {
    let list: Vec<Value> = api
        .cfg
        .current_workflows()
        .iter()
        .map(|w| doc(w, edited(api, w)))
        .collect();
    Ok(ok(&Value::Array(list)))
}

/// The fields an edit may set; the rest stay as they are.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Patch {
    max_file_size: Option<u64>,
    user_agents: Option<Vec<String>>,
    extract: Option<bool>,
    max_depth: Option<u32>,
    max_files: Option<u64>,
    max_size: Option<u64>,
    max_object_size: Option<u64>,
    max_ratio: Option<u64>,
    timeout_secs: Option<u64>,
    block_codes: Option<Vec<u8>>,
    /// Replaces the archive passwords (they are never shown back).
    passwords: Option<Vec<String>>,
}

/// `PUT /admin/config/rule/{name}`: edits the workflow of that name, or
/// makes a new one from the defaults.
pub(crate) async fn put<B: Backend, T: ReqBody>(
    api: &Api<B>,
    req: Request<T>,
    who: &Identity,
    name: &str,
) -> Reply {
    if !who.can(Perm::Workflows) {
        return Err(ApiError::Forbidden("Access denied"));
    }
    let bytes = super::upload::small_body(api, req, 64 << 10).await?;
    let patch: Patch = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("Invalid workflow: {e}")))?;
    let mut w = api.cfg.workflow(name).unwrap_or_else(|| Workflow {
        name: name.trim().to_string(),
        ..Workflow::default()
    });
    if name.is_empty() || !w.name.eq_ignore_ascii_case(name.trim()) {
        // An empty name would pick the default workflow.
        return Err(ApiError::BadRequest("Name the workflow".into()));
    }
    macro_rules! set {
        ($($f:ident),*) => { $( if let Some(v) = patch.$f { w.$f = v; } )* };
    }
    set!(
        max_file_size,
        user_agents,
        extract,
        max_depth,
        max_files,
        max_size,
        max_object_size,
        max_ratio,
        timeout_secs,
        block_codes,
        passwords
    );
    if let Some(p) = w.problem() {
        return Err(ApiError::BadRequest(p));
    }
    workflows::save(&api.cfg, api.backend.as_ref(), &w).await?;
    let e = edited(api, &w);
    Ok(ok(&doc(&w, e)))
}

/// `DELETE /admin/config/rule/{name}`: drops the edit (the config file's
/// workflow of that name is in force again; one made through the API is
/// gone).
pub(crate) async fn delete<B: Backend>(api: &Api<B>, who: &Identity, name: &str) -> Reply {
    if !who.can(Perm::Workflows) {
        return Err(ApiError::Forbidden("Access denied"));
    }
    if workflows::revert(&api.cfg, api.backend.as_ref(), name).await? {
        Ok(ok(
            &json!({"response": "Workflow edit removed", "name": name}),
        ))
    } else {
        Err(ApiError::IdNotFound(name.to_string()))
    }
}
