//! The scan history and the executive report, read from the backend's
//! time index: `GET /stat/history` (search by name, hash, verdict, user and
//! period; paged) and `GET /stat/report` (counts by verdict, top threats,
//! throughput and latency percentiles for a period; JSON or CSV).
//!
//! Callers without the right to read every scan see their own only.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::Mutex;

use hyper::header::HeaderValue;
use hyper::{Request, Response};
use serde_json::{Value, json};

use super::{Api, ApiError, Reply, full, iso, ok, paging, query};
use crate::serve::backend::{Backend, HistoryQuery, Scan, now_ms};
use crate::serve::doc;
use crate::serve::identity::Identity;
use crate::serve::roles::Perm;

/// Scans one history request looks at, at most.
const MAX_EXAMINED: usize = 100_000;
/// Scans one report counts, at most.
const MAX_REPORTED: usize = 200_000;

fn decoded(q: &HashMap<String, String>, k: &str) -> Option<String> {
    q.get(k)
        .map(|v| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .trim()
                .to_string()
        })
        .filter(|v| !v.is_empty())
}

fn millis(q: &HashMap<String, String>, k: &str) -> Result<Option<u64>, ApiError> {
    q.get(k)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| ApiError::BadRequest(format!("`{k}` must be milliseconds")))
        })
        .transpose()
}

/// The period asked for: `from`/`to` in ms since the epoch (default: the
/// last `default_ms` until now).
fn period(q: &HashMap<String, String>, default_ms: u64) -> Result<(u64, u64), ApiError> {
    let to = millis(q, "to")?.unwrap_or_else(now_ms);
    let from = millis(q, "from")?.unwrap_or_else(|| to.saturating_sub(default_ms));
    if from > to {
        return Err(ApiError::BadRequest("`from` is after `to`".into()));
    }
    Ok((from, to))
}

/// The filters of a history search.
struct Filter {
    /// Only this owner's scans (a caller who may not read every scan).
    owner: Option<Option<String>>,
    user: Option<String>,
    /// A name fragment (any case) or an exact digest or data_id.
    text: Option<String>,
    result: Option<String>,
    code: Option<u8>,
    /// The workflows in force (a verdict depends on its workflow).
    workflows: std::sync::Arc<Vec<crate::serve::config::Workflow>>,
}

impl Filter {
    fn from_query<B: Backend>(
        api: &Api<B>,
        q: &HashMap<String, String>,
        who: &Identity,
    ) -> Result<Filter, ApiError> {
        let code = q
            .get("code")
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<u8>()
                    .map_err(|_| ApiError::BadRequest("`code` must be a result code".into()))
            })
            .transpose()?;
        let result = decoded(q, "result").map(|r| r.to_ascii_lowercase());
        if let Some(r) = &result
            && !matches!(r.as_str(), "blocked" | "allowed" | "processing")
        {
            return Err(ApiError::BadRequest(
                "`result` is blocked, allowed or processing".into(),
            ));
        }
        Ok(Filter {
            owner: (!who.can(Perm::ReadAll)).then(|| who.name.clone()),
            user: decoded(q, "user"),
            text: decoded(q, "q").map(|t| t.to_lowercase()),
            result,
            code,
            workflows: api.cfg.current_workflows(),
        })
    }

    fn outcome(&self, s: &Scan) -> (u8, &'static str) {
        doc::outcome(s, crate::serve::config::pick(&self.workflows, &s.workflow))
    }

    fn keeps(&self, s: &Scan) -> bool {
        if let Some(owner) = &self.owner
            && (owner.is_none() || s.owner != *owner)
        {
            return false;
        }
        if let Some(u) = &self.user
            && s.owner.as_deref() != Some(u.as_str())
        {
            return false;
        }
        if let Some(t) = &self.text {
            let hit = s.display_name.to_lowercase().contains(t.as_str())
                || [&s.md5, &s.sha1, &s.sha256, &s.data_id]
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case(t));
            if !hit {
                return false;
            }
        }
        if self.result.is_some() || self.code.is_some() {
            let (code, verdict) = self.outcome(s);
            if self.code.is_some_and(|c| c != code) {
                return false;
            }
            if self
                .result
                .as_ref()
                .is_some_and(|r| !verdict.eq_ignore_ascii_case(r))
            {
                return false;
            }
        }
        true
    }
}

/// `GET /stat/history?q=&result=&code=&user=&from=&to=&first=&size=`.
pub(crate) async fn history<B: Backend, T>(
    api: &Api<B>,
    req: &Request<T>,
    who: &Identity,
) -> Reply {
    let q = query(req);
    let (from, to) = period(&q, u64::MAX / 4)?;
    let (first, size) = paging(&q, 50);
    let size = size.min(500);
    let filter = Filter::from_query(api, &q, who)?;
    let hq = HistoryQuery {
        from_ms: from,
        to_ms: to,
        first,
        size,
        max_examined: MAX_EXAMINED,
    };
    let keep = |s: &Scan| filter.keeps(s);
    let page = api.backend.history(&hq, &keep).await?;
    let rows: Vec<Value> = page
        .scans
        .iter()
        .map(|s| {
            let wf = crate::serve::config::pick(&filter.workflows, &s.workflow);
            doc::summary(s, wf)
        })
        .collect();
    Ok(ok(&json!({
        "scans": rows,
        "first": first,
        "size": size,
        "more": page.more,
        "truncated": page.truncated,
    })))
}

/// What the report counts.
#[derive(Default)]
struct Tally {
    total: u64,
    blocked: u64,
    allowed: u64,
    processing: u64,
    bytes: u64,
    objects: u64,
    by_verdict: BTreeMap<String, u64>,
    threats: HashMap<String, u64>,
    /// Upload to result, in ms, of finished scans.
    latency: Vec<u64>,
    /// Bucket start -> (files, blocked, allowed).
    buckets: BTreeMap<u64, (u64, u64, u64)>,
}

fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// `GET /stat/report?from=&to=&bucket=&format=csv`: the executive report
/// of a period (default: the last 24 hours; `bucket` in ms, default an
/// hour up to two days and a day beyond).
pub(crate) async fn report<B: Backend, T>(api: &Api<B>, req: &Request<T>, who: &Identity) -> Reply {
    let q = query(req);
    let (from, to) = period(&q, 86_400_000)?;
    let span = to - from;
    let bucket = millis(&q, "bucket")?
        .unwrap_or(if span <= 2 * 86_400_000 {
            3_600_000
        } else {
            86_400_000
        })
        .max(60_000);
    if span / bucket > 10_000 {
        return Err(ApiError::BadRequest(
            "`bucket` is too small for the period".into(),
        ));
    }
    let filter = Filter::from_query(api, &q, who)?;
    let tally = Mutex::new(Tally::default());
    let keep = |s: &Scan| {
        if !filter.keeps(s) {
            return false;
        }
        let (code, verdict) = filter.outcome(s);
        let Ok(mut t) = tally.lock() else {
            return false;
        };
        t.total += 1;
        t.bytes += s.file_size;
        let b = t.buckets.entry(s.upload_ms / bucket * bucket).or_default();
        b.0 += 1;
        match verdict {
            "Blocked" => {
                b.1 += 1;
                t.blocked += 1;
            }
            "Allowed" => {
                b.2 += 1;
                t.allowed += 1;
            }
            _ => t.processing += 1,
        }
        let name = mdcore::ResultCode::from_i(code).map_or("In Progress", |c| c.as_str());
        *t.by_verdict.entry(name.to_string()).or_default() += 1;
        if let Some(r) = s.report.as_ref().filter(|_| verdict != "Processing") {
            t.objects += r.objects;
            let mut seen = Vec::new();
            for d in r.threats() {
                if !seen.contains(&d.threat) {
                    seen.push(d.threat);
                }
            }
            for th in seen {
                *t.threats.entry(th).or_default() += 1;
            }
            if let Some(f) = s.finished_ms {
                t.latency.push(f.saturating_sub(s.upload_ms));
            }
        }
        // Counted, never kept: the page stays empty.
        false
    };
    let hq = HistoryQuery {
        from_ms: from,
        to_ms: to,
        first: 0,
        size: 1,
        max_examined: MAX_REPORTED,
    };
    let page = api.backend.history(&hq, &keep).await?;
    let mut t = tally
        .into_inner()
        .map_err(|_| ApiError::Internal("report tally".into()))?;
    t.latency.sort_unstable();
    let mut threats: Vec<(String, u64)> = t.threats.into_iter().collect();
    threats.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    threats.truncate(10);
    let hours = (span as f64 / 3_600_000.0).max(1.0 / 60.0);
    let mut series = Vec::new();
    let mut at = from / bucket * bucket;
    while at <= to {
        let (files, blocked, allowed) = t.buckets.get(&at).copied().unwrap_or_default();
        series.push(json!({"time": iso(at), "time_ms": at, "files": files,
                           "blocked": blocked, "allowed": allowed}));
        at += bucket;
    }
    let v = json!({
        "from": iso(from),
        "to": iso(to),
        "from_ms": from,
        "to_ms": to,
        "total": t.total,
        "blocked": t.blocked,
        "allowed": t.allowed,
        "processing": t.processing,
        "bytes": t.bytes,
        "objects": t.objects,
        "files_per_hour": (t.total as f64 / hours * 10.0).round() / 10.0,
        "by_verdict": t.by_verdict,
        "top_threats": threats.iter().map(|(n, c)| json!({"threat": n, "count": c})).collect::<Vec<_>>(),
        "latency_ms": {
            "p50": percentile(&t.latency, 50.0),
            "p90": percentile(&t.latency, 90.0),
            "p99": percentile(&t.latency, 99.0),
            "max": t.latency.last(),
        },
        "bucket_ms": bucket,
        "throughput": series,
        "truncated": page.truncated,
    });
    if q.get("format").map(String::as_str) == Some("csv") {
        return Ok(csv(&v));
    }
    Ok(ok(&v))
}

/// `v` at `path`, or null.
fn pick<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    static NULL: Value = Value::Null;
    path.iter().try_fold(v, |v, k| v.get(k)).unwrap_or(&NULL)
}

/// The report as `section,name,value` rows.
fn csv(v: &Value) -> Response<super::Body> {
    let cell = super::audit::csv_cell;
    let mut out = String::from("section,name,value\n");
    let mut row = |s: &str, n: &str, val: String| {
        out.push_str(&format!("{},{},{}\n", cell(s), cell(n), cell(&val)));
    };
    for k in [
        "from",
        "to",
        "total",
        "blocked",
        "allowed",
        "processing",
        "bytes",
        "objects",
        "files_per_hour",
    ] {
        row(
            "summary",
            k,
            pick(v, &[k]).to_string().trim_matches('"').to_string(),
        );
    }
    if let Some(m) = pick(v, &["by_verdict"]).as_object() {
        for (k, n) in m {
            row("verdict", k, n.to_string());
        }
    }
    for t in pick(v, &["top_threats"]).as_array().into_iter().flatten() {
        let name = pick(t, &["threat"]).as_str().unwrap_or_default();
        row("threat", name, pick(t, &["count"]).to_string());
    }
    for p in ["p50", "p90", "p99", "max"] {
        row("latency_ms", p, pick(v, &["latency_ms", p]).to_string());
    }
    for b in pick(v, &["throughput"]).as_array().into_iter().flatten() {
        let at = pick(b, &["time"]).as_str().unwrap_or_default();
        row("files", at, pick(b, &["files"]).to_string());
    }
    let mut r = Response::new(full(out));
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    r.headers_mut().insert(
        "content-disposition",
        HeaderValue::from_static("attachment; filename=\"mdscan-report.csv\""),
    );
    r
}
