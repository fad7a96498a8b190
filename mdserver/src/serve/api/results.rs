//! `GET /file/{data_id}`, `GET /hash/{hash}`, `POST /file/{data_id}/cancel`.

use hyper::Request;
use serde_json::{Value, json};

use super::{Api, ApiError, Reply, ok, paging, query};
use crate::serve::backend::{Backend, Entry, State};
use crate::serve::doc::{self, View};
use crate::serve::identity::Identity;

/// Renders the document of any data_id the caller may see.
async fn render<B: Backend>(
    api: &Api<B>,
    who: &Identity,
    id: &str,
    first: usize,
    size: usize,
) -> Result<Option<Value>, ApiError> {
    let Some(entry) = api.backend.entry(id).await? else {
        return Ok(None);
    };
    let (scan, path) = match entry {
        Entry::Root(s) => (*s, Vec::new()),
        Entry::Child { root_id, path } => match api.backend.scan(&root_id).await? {
            Some(s) => (s, path),
            None => return Ok(None),
        },
    };
    if !who.can_see(&scan.owner) {
        return Ok(None);
    }
    let node = scan
        .report
        .as_ref()
        .and_then(|r| doc::node_at(&r.root, &path));
    if !path.is_empty() && node.is_none() {
        return Ok(None);
    }
    let workflow = api.cfg.workflow(&scan.workflow);
    let view = View {
        scan: &scan,
        node,
        data_id: id,
        path: &path,
        workflow: workflow.as_ref(),
        progress: api.backend.progress(&scan.data_id).await,
    };
    Ok(Some(doc::result(&view, first, size)))
}

pub(crate) async fn result<B: Backend, T>(
    api: &Api<B>,
    req: &Request<T>,
    who: &Identity,
    id: &str,
) -> Reply {
    let (first, size) = paging(&query(req), 20);
    match render(api, who, &id.to_ascii_lowercase(), first, size).await? {
        Some(v) => Ok(ok(&v)),
        None => Err(ApiError::IdNotFound(id.to_string())),
    }
}

pub(crate) async fn by_hash<B: Backend, T>(
    api: &Api<B>,
    req: &Request<T>,
    who: &Identity,
    hash: &str,
) -> Reply {
    let (first, size) = paging(&query(req), 20);
    let found = match api.backend.by_hash(&hash.to_ascii_lowercase()).await? {
        Some(id) => render(api, who, &id, first, size).await?,
        None => None,
    };
    found
        .map(|v| ok(&v))
        .ok_or_else(|| ApiError::IdNotFound(hash.to_string()))
}

/// Cancels a scan, or a batch (MetaDefender serves both on this path).
pub(crate) async fn cancel<B: Backend>(api: &Api<B>, who: &Identity, id: &str) -> Reply {
    let id = id.to_ascii_lowercase();
    if let Some(b) = api.backend.batch(&id).await? {
        if !who.can_see(&b.owner) {
            return Err(ApiError::IdNotFound(id));
        }
        if !who.can_manage(&b.owner) {
            return Err(ApiError::Forbidden("Access denied"));
        }
        return super::batch::cancel(api, who, &id).await;
    }
    match api.backend.scan(&id).await? {
        Some(s) if who.can_see(&s.owner) => {
            if !who.can_manage(&s.owner) {
                return Err(ApiError::Forbidden("Access denied"));
            }
            if s.state == State::Done || !api.backend.cancel(&id).await {
                return Err(ApiError::BadRequest("The scan has already finished".into()));
            }
            let mut m = serde_json::Map::new();
            m.insert(id, json!("cancelled"));
            Ok(ok(&Value::Object(m)))
        }
        _ => Err(ApiError::IdNotFound(id)),
    }
}
