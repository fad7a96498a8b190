//! Batches: `POST /file/batch`, `GET /file/batch/{id}`, `.../close`,
//! `.../cancel`. Files join with `POST /file` and the `batch` header.

use hyper::Request;
use serde_json::{Value, json};

use super::{Api, ApiError, Reply, header, iso, ok, paging, query};
use crate::serve::backend::{Backend, Batch, BatchEnd, Scan, new_id, now_ms};
use crate::serve::config::Workflow;
use crate::serve::doc;
use crate::serve::identity::Identity;

pub(crate) async fn open<B: Backend, T>(api: &Api<B>, req: &Request<T>, who: &Identity) -> Reply {
    if !who.can(crate::serve::roles::Perm::Submit) {
        return Err(ApiError::Forbidden("Access denied"));
    }
    let h = req.headers();
    let workflow = header(h, "rule")
        .or_else(|| header(h, "workflow"))
        .unwrap_or_default();
    let wf = api
        .cfg
        .workflow(&workflow)
        .ok_or_else(|| ApiError::BadRequest(format!("Unknown rule `{workflow}`")))?;
    let now = now_ms();
    let b = Batch {
        batch_id: new_id(),
        owner: who.name.clone(),
        workflow: wf.name.clone(),
        user_agent: header(h, "user_agent").unwrap_or_default(),
        user_data: header(h, "user-data").unwrap_or_default(),
        is_closed: false,
        cancelled: false,
        start_time: iso(now),
        start_ms: now,
        files: Vec::new(),
    };
    api.backend.open_batch(&b).await?;
    Ok(ok(&json!({"batch_id": b.batch_id})))
}

/// The batch report. A member whose record cannot be read counts as a
/// failed scan (code 3), never as a clean one.
async fn document<B: Backend>(api: &Api<B>, b: &Batch, first: usize, size: usize) -> Value {
    let workflows = api.cfg.current_workflows();
    let mut files: Vec<(Scan, Option<&Workflow>)> = Vec::new();
    for id in &b.files {
        let s = match api.backend.scan(id).await {
            Ok(Some(s)) => s,
            _ => doc::unreadable(id, b),
        };
        let wf = crate::serve::config::pick(&workflows, &s.workflow);
        files.push((s, wf));
    }
    doc::batch(b, &files, first, size)
}

async fn visible<B: Backend>(api: &Api<B>, who: &Identity, id: &str) -> Result<Batch, ApiError> {
    match api.backend.batch(&id.to_ascii_lowercase()).await? {
        Some(b) if who.can_see(&b.owner) => Ok(b),
        _ => Err(ApiError::IdNotFound(id.to_string())),
    }
}

/// A batch the caller may close or cancel.
async fn managed<B: Backend>(api: &Api<B>, who: &Identity, id: &str) -> Result<Batch, ApiError> {
    let b = visible(api, who, id).await?;
    if who.can_manage(&b.owner) {
        Ok(b)
    } else {
        Err(ApiError::Forbidden("Access denied"))
    }
}

pub(crate) async fn report<B: Backend, T>(
    api: &Api<B>,
    req: &Request<T>,
    who: &Identity,
    id: &str,
) -> Reply {
    let (first, size) = paging(&query(req), 50);
    let b = visible(api, who, id).await?;
    Ok(ok(&document(api, &b, first, size).await))
}

pub(crate) async fn close<B: Backend, T>(
    api: &Api<B>,
    req: &Request<T>,
    who: &Identity,
    id: &str,
) -> Reply {
    let (first, size) = paging(&query(req), 50);
    let b = managed(api, who, id).await?;
    let b = api
        .backend
        .batch_end(&b.batch_id, BatchEnd::Close)
        .await?
        .ok_or_else(|| ApiError::IdNotFound(id.to_string()))?;
    Ok(ok(&document(api, &b, first, size).await))
}

pub(crate) async fn cancel<B: Backend>(api: &Api<B>, who: &Identity, id: &str) -> Reply {
    let b = managed(api, who, id).await?;
    let b = api
        .backend
        .batch_end(&b.batch_id, BatchEnd::Cancel)
        .await?
        .ok_or_else(|| ApiError::IdNotFound(id.to_string()))?;
    for f in &b.files {
        api.backend.cancel(f).await;
    }
    let mut m = serde_json::Map::new();
    m.insert(b.batch_id.clone(), json!("cancelled"));
    Ok(ok(&Value::Object(m)))
}
