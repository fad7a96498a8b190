//! The audit log: who signed in (or failed to), downloaded, cancelled,
//! drained a node, and from where; `GET /admin/audit` reads it (admins and auditors), as JSON or CSV.

use std::net::SocketAddr;

use hyper::header::HeaderValue;
use hyper::{Request, Response};
use serde_json::json;

use super::{Api, ApiError, Reply, full, ok, query};
use crate::serve::backend::{AuditEvent, AuditQuery, Backend, now_ms};
use crate::serve::identity::Identity;

/// Most entries one read returns.
const MAX_LIMIT: usize = 10_000;

/// The client's address, as the server loop recorded it.
pub(crate) fn address<T>(req: &Request<T>) -> Option<String> {
    req.extensions()
        .get::<SocketAddr>()
        .map(|a| a.ip().to_string())
}

/// Appends one entry.
pub(crate) async fn record<B: Backend>(
    api: &Api<B>,
    user: Option<String>,
    address: Option<String>,
    action: &str,
    target: Option<String>,
    outcome: &str,
) {
    api.backend
        .audit(&AuditEvent {
            time_ms: now_ms(),
            user,
            address,
            action: action.to_string(),
            target,
            outcome: outcome.to_string(),
        })
        .await;
}

/// `GET /admin/audit?from=&to=&user=&action=&limit=&format=csv`: times in
/// milliseconds since the epoch; newest first.
pub(crate) async fn list<B: Backend, T>(api: &Api<B>, req: &Request<T>, who: &Identity) -> Reply {
    if !who.can(crate::serve::roles::Perm::Audit) {
        return Err(ApiError::Forbidden("Access denied"));
    }
    let q = query(req);
    let num = |k: &str| -> Result<Option<u64>, ApiError> {
        q.get(k)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| ApiError::BadRequest(format!("`{k}` must be milliseconds")))
            })
            .transpose()
    };
    let text = |k: &str| {
        q.get(k).map(|v| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
    };
    let aq = AuditQuery {
        from_ms: num("from")?.unwrap_or(0),
        to_ms: num("to")?.unwrap_or(u64::MAX / 2),
        user: text("user"),
        action: text("action"),
        limit: usize::try_from(num("limit")?.unwrap_or(1000))
            .unwrap_or(MAX_LIMIT)
            .clamp(1, MAX_LIMIT),
    };
    let events = api.backend.audit_log(&aq).await?;
    if text("format").as_deref() == Some("csv") {
        let mut out = String::from("time_ms,user,address,action,target,outcome\n");
        for e in &events {
            let row = [
                e.time_ms.to_string(),
                e.user.clone().unwrap_or_default(),
                e.address.clone().unwrap_or_default(),
                e.action.clone(),
                e.target.clone().unwrap_or_default(),
                e.outcome.clone(),
            ];
            let cells: Vec<String> = row.iter().map(|c| csv_cell(c)).collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        let mut r = Response::new(full(out));
        r.headers_mut().insert(
            "content-type",
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        return Ok(r);
    }
    Ok(ok(&json!({ "events": events })))
}

/// One CSV cell: quoted when needed, and never read as a formula by a
/// spreadsheet (a user name is attacker-chosen).
pub(crate) fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(super::csv_cell("alice"), "alice");
        assert_eq!(super::csv_cell("a,b"), "\"a,b\"");
        assert_eq!(super::csv_cell("=cmd()"), "'=cmd()");
        assert_eq!(super::csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
