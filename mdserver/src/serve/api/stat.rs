//! `GET /readyz`, `/file/rules`, `/stat/engines`, `/stat/nodes`, `/metrics`, node drain.

use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};

use super::{Api, Body, Reply, header, json_resp, ok, query};
use crate::serve::backend::Backend;

pub(crate) async fn readyz<B: Backend, T>(api: &Api<B>, req: &Request<T>) -> Reply {
    let verbose = query(req).get("verbose").is_some_and(|v| v == "true");
    let ready = api.backend.healthy().await;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = json!({"status": if ready { "ready" } else { "not ready" }});
    if verbose {
        let details = json!({
            "store": ready, "engines": api.backend.engines().len(),
            "queued": api.backend.queued(), "queue_size": api.cfg.queue_size,
            "uptime_s": api.started.elapsed().as_secs(),
        });
        if let Some(m) = body.as_object_mut() {
            m.insert("details".into(), details);
        }
    }
    Ok(json_resp(status, &body))
}

pub(crate) fn rules<B: Backend, T>(api: &Api<B>, req: &Request<T>) -> Response<Body> {
    let ua = header(req.headers(), "user_agent")
        .or_else(|| header(req.headers(), "user-agent"))
        .unwrap_or_default();
    let list: Vec<Value> = api
        .cfg
        .current_workflows()
        .iter()
        .filter(|w| w.allows(&ua) || w.user_agents.is_empty())
        // `block_codes` is ours (MetaDefender has no such field): which
        // result codes make `process_info.result` "Blocked" in this workflow.
        .map(|w| json!({"name": w.name, "max_file_size": w.max_file_size, "block_codes": w.block_codes}))
        .collect();
    ok(&Value::Array(list))
}

/// One engine as MetaDefender's `/stat/engines` lists it.
fn engine_json(e: &mdcore::EngineInfo) -> Value {
    json!({"active": true, "def_time": e.def_time, "download_progress": 100,
           "download_time": e.def_time, "eng_id": e.id, "eng_name": e.name,
           "eng_type": "Bundled engine", "eng_ver": e.version,
           "engine_type": e.kind, "state": "production", "type": "engine"})
}

pub(crate) fn engines<B: Backend>(api: &Api<B>) -> Response<Body> {
    let list: Vec<Value> = api.backend.engines().iter().map(engine_json).collect();
    ok(&Value::Array(list))
}

/// `POST /admin/engine/reload`: the YARA rules and hash lists read again
/// from the configured paths; in a cluster the workers follow within a
/// heartbeat (their `engines_reload` in `/stat/nodes` says when).
pub(crate) async fn reload_engines<B: Backend>(
    api: &Api<B>,
    who: &crate::serve::identity::Identity,
) -> Reply {
    if !who.can(crate::serve::roles::Perm::Engines) {
        return Err(super::ApiError::Forbidden("Access denied"));
    }
    match api.backend.reload_engines().await {
        Ok((n, engines)) => Ok(ok(&json!({
            "reload": n,
            "engines": engines.iter().map(engine_json).collect::<Vec<_>>(),
        }))),
        Err(crate::serve::backend::BackendError::Busy(_)) => Err(super::ApiError::Busy),
        Err(e) => Err(super::ApiError::BadRequest(format!(
            "the definitions were not reloaded: {e}"
        ))),
    }
}

/// `GET /metrics`: OpenMetrics text when the scraper asks for it, else the
/// classic Prometheus text format.
pub(crate) async fn metrics<B: Backend, T>(api: &Api<B>, req: &Request<T>) -> Response<Body> {
    let openmetrics = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    let workers = api.backend.nodes().await.len();
    let text = api
        .metrics
        .render(api.backend.queued(), workers, openmetrics);
    let mut r = Response::new(super::full(text));
    let ct = if openmetrics {
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    } else {
        "text/plain; version=0.0.4; charset=utf-8"
    };
    r.headers_mut()
        .insert("content-type", hyper::header::HeaderValue::from_static(ct));
    r
}

/// `POST /admin/node/{id}/drain` (admins and operators): the worker stops taking tasks,
/// finishes those it holds and leaves — a rolling upgrade is "start new
/// workers, drain the old ones".
pub(crate) async fn drain<B: Backend>(
    api: &Api<B>,
    who: &crate::serve::identity::Identity,
    node: &str,
) -> Reply {
    if !who.can(crate::serve::roles::Perm::Nodes) {
        return Err(super::ApiError::Forbidden("Access denied"));
    }
    match api.backend.drain(node).await {
        Ok(true) => Ok(ok(&json!({ "node": node, "draining": true }))),
        Ok(false) => Err(super::ApiError::BadRequest(format!(
            "no live node is called `{node}`"
        ))),
        Err(e) => Err(super::ApiError::BadRequest(e.to_string())),
    }
}

pub(crate) async fn nodes<B: Backend>(api: &Api<B>) -> Response<Body> {
    ok(&json!({ "statuses": api.backend.nodes().await }))
}
