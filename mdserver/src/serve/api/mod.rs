//! The MetaDefender Core v4 compatible HTTP API: routing, authentication,
//! headers, bodies and status codes — nothing else. Everything it knows
//! about scans it asks of a [`Backend`]; result documents come from
//! `serve::doc`.
//!
//! [`handle`] takes a request with any body type, so tests drive it in
//! process (no socket) over a fake backend.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use super::backend::Backend;
use super::config::Config;
pub(crate) use super::http::{Body, full, json_resp};
use super::metrics::Metrics;
use routes::Ep;

mod audit;
mod auth;
mod batch;
mod download;
mod history;
mod openapi;
mod results;
mod routes;
mod stat;
mod upload;
mod users;
mod workflows;

pub(crate) use auth::hash_password;

/// Errors a body may carry (what multer and hyper accept).
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body the API can read: hyper's `Incoming` on a socket, or
/// anything else in tests.
pub(crate) trait ReqBody:
    hyper::body::Body<Data = Bytes, Error: Into<BoxError> + Send> + Send + Unpin + 'static
{
}

impl<T> ReqBody for T where
    T: hyper::body::Body<Data = Bytes, Error: Into<BoxError> + Send> + Send + Unpin + 'static
{
}

/// What the HTTP layer holds: the configuration, the backend below it and
/// the metrics.
pub(crate) struct Api<B> {
    pub(crate) cfg: Arc<Config>,
    pub(crate) backend: Arc<B>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) started: Instant,
}

impl<B: Backend> Api<B> {
    pub(crate) fn new(cfg: Arc<Config>, backend: Arc<B>, metrics: Arc<Metrics>) -> Arc<Api<B>> {
        Arc::new(Api {
            cfg,
            backend,
            metrics,
            started: Instant::now(),
        })
    }
}

/// Every way a request can fail, each with its status and body.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// 400 with a message.
    BadRequest(String),
    /// 403 with a message.
    Forbidden(&'static str),
    /// 409 with a message.
    Conflict(&'static str),
    /// 404: no such endpoint.
    NoEndpoint,
    /// 404: no such file (downloads).
    FileNotFound,
    /// 200 `{"<id>": "Not Found"}` — what MetaDefender clients test for.
    IdNotFound(String),
    /// 408: the client stopped sending.
    Timeout,
    /// 411.
    LengthRequired,
    /// 413.
    TooLarge,
    /// 416, with the length for `Content-Range`.
    BadRange(u64),
    /// 422: an empty upload.
    Empty,
    /// 429: too many failed logins.
    TooMany,
    /// 503 with `Retry-After`: the queue is full or a service is down.
    Busy,
    /// 500 with a message.
    Internal(String),
}

impl ApiError {
    /// The status this error answers with.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::NoEndpoint | ApiError::FileNotFound => StatusCode::NOT_FOUND,
            ApiError::IdNotFound(_) => StatusCode::OK,
            ApiError::Timeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::LengthRequired => StatusCode::LENGTH_REQUIRED,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BadRange(_) => StatusCode::RANGE_NOT_SATISFIABLE,
            ApiError::Empty => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooMany => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub(crate) fn response(self) -> Response<Body> {
        match self {
            ApiError::BadRequest(m) => err(StatusCode::BAD_REQUEST, &m),
            ApiError::Forbidden(m) => err(StatusCode::FORBIDDEN, m),
            ApiError::Conflict(m) => err(StatusCode::CONFLICT, m),
            ApiError::NoEndpoint => err(StatusCode::NOT_FOUND, "Endpoint not found"),
            ApiError::FileNotFound => err(StatusCode::NOT_FOUND, "File could not be found"),
            ApiError::IdNotFound(id) => {
                let mut m = serde_json::Map::new();
                m.insert(id, json!("Not Found"));
                ok(&Value::Object(m))
            }
            ApiError::Timeout => err(StatusCode::REQUEST_TIMEOUT, "Upload timed out"),
            ApiError::LengthRequired => {
                err(StatusCode::LENGTH_REQUIRED, "Content-Length is required")
            }
            ApiError::TooLarge => err(StatusCode::PAYLOAD_TOO_LARGE, "File is too large"),
            ApiError::BadRange(len) => {
                let mut r = err(StatusCode::RANGE_NOT_SATISFIABLE, "Range not satisfiable");
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    r.headers_mut().insert("content-range", v);
                }
                r
            }
            ApiError::Empty => err(StatusCode::UNPROCESSABLE_ENTITY, "File is empty."),
            ApiError::TooMany => {
                let mut r = err(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many failed logins. Try again later.",
                );
                r.headers_mut()
                    .insert("retry-after", HeaderValue::from_static("60"));
                r
            }
            ApiError::Busy => {
                let mut r = err(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Server is too busy. Try again later.",
                );
                r.headers_mut()
                    .insert("retry-after", HeaderValue::from_static("5"));
                r
            }
            ApiError::Internal(m) => err(StatusCode::INTERNAL_SERVER_ERROR, &m),
        }
    }
}

impl From<super::backend::BackendError> for ApiError {
    fn from(e: super::backend::BackendError) -> ApiError {
        match e {
            super::backend::BackendError::Busy(m) => {
                eprintln!("mdscan: {m}");
                ApiError::Busy
            }
            super::backend::BackendError::Failed(m) => ApiError::Internal(m),
        }
    }
}

/// A handler's result.
pub(crate) type Reply = Result<Response<Body>, ApiError>;

pub(crate) fn ok(v: &Value) -> Response<Body> {
    json_resp(StatusCode::OK, v)
}

fn err(status: StatusCode, msg: &str) -> Response<Body> {
    json_resp(status, &json!({ "err": msg }))
}

/// A header's value, URL-decoded (clients such as the C++ SDK encode every
/// header); empty counts as absent.
pub(crate) fn header(h: &HeaderMap, name: &str) -> Option<String> {
    let raw = h.get(name)?.to_str().ok()?;
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned();
    let decoded = decoded.trim().to_string();
    (!decoded.is_empty()).then_some(decoded)
}

pub(crate) fn query<T>(req: &Request<T>) -> HashMap<String, String> {
    req.uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `first` and `size` of a paged document.
pub(crate) fn paging(q: &HashMap<String, String>, default: usize) -> (usize, usize) {
    let first = q.get("first").and_then(|v| v.parse().ok()).unwrap_or(0);
    let size = q
        .get("size")
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .clamp(1, 10_000);
    (first, size)
}

pub(crate) use crate::serve::backend::iso;

/// The router: one entry point for every request.
pub(crate) async fn handle<B: Backend, T: ReqBody>(
    api: Arc<Api<B>>,
    req: Request<T>,
) -> Response<Body> {
    let upload = matches!(
        (req.method(), req.uri().path().trim_matches('/')),
        (&Method::POST, "file" | "file/sync") | (&Method::PUT, _)
    );
    let r = route(&api, req).await.unwrap_or_else(ApiError::response);
    if upload {
        match r.status() {
            StatusCode::OK => api.metrics.accepted(),
            s if s == StatusCode::PAYLOAD_TOO_LARGE || s == StatusCode::SERVICE_UNAVAILABLE => {
                api.metrics.refused(s.as_u16());
            }
            _ => {}
        }
    }
    r
}

async fn route<B: Backend, T: ReqBody>(api: &Arc<Api<B>>, req: Request<T>) -> Reply {
    // Tolerate `//` and a trailing `/` in paths.
    let path: Vec<String> = req
        .uri()
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let parts: Vec<&str> = path.iter().map(String::as_str).collect();
    let method = req.method().clone();

    // The web console's static assets (its data comes from the API).
    if method == Method::GET
        && let Some(r) = crate::serve::console::serve(&parts)
    {
        return Ok(r);
    }
    let found = routes::find(method.as_str(), &parts);
    // Unauthenticated endpoints.
    if let Some((route, _)) = &found
        && route.public
    {
        return match route.ep {
            Ep::ReadyZ => stat::readyz(api, &req).await,
            Ep::OpenApi => Ok(ok(&openapi::document())),
            Ep::Login => auth::login(api, req).await,
            _ => Err(ApiError::NoEndpoint),
        };
    }
    let who = auth::authorize(api, req.headers()).await?;
    // What the audit log records of it (routes say), the target being the
    // first path parameter.
    let audited = found.as_ref().and_then(|(r, params)| {
        let target = params.first().map(|p| p.to_string()).unwrap_or_default();
        r.audit.map(|action| (action, target))
    });
    let address = audit::address(&req);
    let reply = match found {
        Some((route, params)) => dispatch(api, req, route.ep, &params, &who).await,
        None => Err(ApiError::NoEndpoint),
    };
    if let Some((action, target)) = audited {
        let outcome = match &reply {
            Ok(r) if r.status().is_success() => "ok".to_string(),
            Ok(r) => r.status().as_u16().to_string(),
            Err(ApiError::IdNotFound(_)) => "not found".to_string(),
            Err(e) => e.status().as_u16().to_string(),
        };
        // A handler may name the target itself (a new user or key).
        let target = match &reply {
            Ok(r) => r
                .extensions()
                .get::<users::AuditTarget>()
                .map(|t| t.0.clone()),
            Err(_) => None,
        }
        .unwrap_or(target);
        let target = (!target.is_empty()).then_some(target);
        audit::record(api, who.name.clone(), address, action, target, &outcome).await;
    }
    reply
}

/// Runs the endpoint a route reached (`params`: its path parameters, in
/// order), for an authenticated caller.
async fn dispatch<B: Backend, T: ReqBody>(
    api: &Arc<Api<B>>,
    req: Request<T>,
    ep: Ep,
    params: &[&str],
    who: &crate::serve::identity::Identity,
) -> Reply {
    let who = who.clone();
    let arg = params.first().copied().unwrap_or_default();
    match ep {
        // Answered before authentication (`route`).
        Ep::ReadyZ | Ep::OpenApi | Ep::Login => Err(ApiError::NoEndpoint),
        Ep::Submit => upload::submit(api, req, who, false, None).await,
        Ep::SubmitSync => upload::submit(api, req, who, true, None).await,
        Ep::SubmitNamed => upload::submit(api, req, who, false, Some(arg.to_string())).await,
        Ep::BatchOpen => batch::open(api, &req, &who).await,
        Ep::Rules => Ok(stat::rules(api, &req)),
        Ep::WorkflowList => workflows::list(api),
        Ep::WorkflowPut => workflows::put(api, req, &who, arg).await,
        Ep::WorkflowDelete => workflows::delete(api, &who, arg).await,
        Ep::BatchReport => batch::report(api, &req, &who, arg).await,
        Ep::BatchClose => batch::close(api, &req, &who, arg).await,
        Ep::BatchCancel => batch::cancel(api, &who, arg).await,
        Ep::Converted => download::converted(api, &req, &who, arg).await,
        Ep::Download => download::original(api, &req, &who, arg).await,
        Ep::Cancel => results::cancel(api, &who, arg).await,
        Ep::Result => results::result(api, &req, &who, arg).await,
        Ep::ByHash => results::by_hash(api, &req, &who, arg).await,
        Ep::Engines => Ok(stat::engines(api)),
        Ep::Nodes => Ok(stat::nodes(api).await),
        Ep::History => history::history(api, &req, &who).await,
        Ep::Report => history::report(api, &req, &who).await,
        Ep::Metrics => Ok(stat::metrics(api, &req).await),
        Ep::Audit => audit::list(api, &req, &who).await,
        Ep::Drain => stat::drain(api, &who, arg).await,
        Ep::Reload => stat::reload_engines(api, &who).await,
        Ep::Logout => Ok(auth::logout(api, &req).await),
        Ep::Me => users::me(api, &who).await,
        Ep::ChangePassword => users::change_password(api, req, &who).await,
        Ep::MyKeys => users::my_keys(api, &who).await,
        Ep::CreateMyKey => users::create_my_key(api, req, &who).await,
        Ep::RevokeMyKey => users::revoke_key(api, &who, arg).await,
        Ep::ListKeys => users::list_keys(api, &who).await,
        Ep::RevokeAnyKey => users::revoke_any_key(api, &who, arg).await,
        Ep::ListUsers => users::list(api, &who).await,
        Ep::CreateUser => users::create(api, req, &who).await,
        Ep::GetUser => users::get(api, &who, arg).await,
        Ep::UpdateUser => users::update(api, req, &who, arg).await,
        Ep::DeleteUser => users::delete(api, &who, arg).await,
        Ep::CreateUserKey => users::create_user_key(api, req, &who, arg).await,
        Ep::Roles => users::roles(&who),
        Ep::Role => users::role(&who, arg),
        Ep::Version => Ok(ok(&json!({
            "product_id": "mdscan", "version": env!("CARGO_PKG_VERSION")
        }))),
        Ep::ApiVersion => Ok(ok(&json!({"version": "4"}))),
    }
}

#[cfg(test)]
mod tests;
