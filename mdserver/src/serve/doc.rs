//! MetaDefender Core result documents, rendered from stored scans.
//!
//! Field for field as `../shared/API.md`: every `process_info` string is
//! present, integers are integers, both progress percentages reach 100
//! together, and a running scan says 255 / "In Progress" until the end.

use mdcore::{Node, ResultCode};
use serde_json::{Value, json};

use super::backend::{Batch, Scan, State, child_id, failed_report};
use super::config::Workflow;

const IN_PROGRESS: u8 = 255;

/// Everything needed to render one object's document.
pub(crate) struct View<'a> {
    pub(crate) scan: &'a Scan,
    /// The node, when the scan is done (root or extracted object).
    pub(crate) node: Option<&'a Node>,
    /// Its data_id and child path.
    pub(crate) data_id: &'a str,
    pub(crate) path: &'a [u32],
    pub(crate) workflow: Option<&'a Workflow>,
    /// Progress of a running scan, 0..=99.
    pub(crate) progress: u8,
}

fn blocks(workflow: Option<&Workflow>, code: ResultCode) -> bool {
    code.blocks_under(workflow.map(|w| w.block_codes.as_slice()))
}

/// The root's `post_processing`: what sanitization did (extracted
/// objects are not sanitized on their own; their document says nothing).
fn post_processing(s: &Scan, root: bool) -> Value {
    match s.report.as_ref().and_then(|r| r.sanitization.as_ref()) {
        Some(rec) if root => {
            mdcore::sanitize::post_processing(Some(rec), &converted_name(&s.display_name, rec))
        }
        _ => mdcore::sanitize::post_processing(None, ""),
    }
}

/// The file name the sanitized copy is served as: the submitted name's
/// last part with the copy's extension (`report.docm` -> `report.docx`).
pub(crate) fn converted_name(display_name: &str, rec: &mdcore::sanitize::Record) -> String {
    if rec.failure.is_some() {
        return String::new();
    }
    mdcore::sanitize::copy_name(display_name, &rec.converted_to)
}

/// Why a finished root is blocked beyond its code: a sanitization that
/// failed where the workflow says that blocks.
fn sanitization_blocks(s: &Scan, workflow: Option<&Workflow>) -> bool {
    let failed = s
        .report
        .as_ref()
        .and_then(|r| r.sanitization.as_ref())
        .is_some_and(|r| r.failure.is_some());
    // Without its workflow, a failure blocks (the default).
    failed && workflow.is_none_or(|w| w.sanitize.block_on_failure)
}

/// Whether a finished root scan is blocked under its workflow: by its
/// code, or by a sanitization that failed where that blocks (what every
/// front-end answers a client with).
pub(crate) fn root_blocks(s: &Scan, workflow: Option<&Workflow>) -> bool {
    let code = s
        .report
        .as_ref()
        .map_or(ResultCode::Failed, mdcore::Report::verdict);
    blocks(workflow, code) || sanitization_blocks(s, workflow)
}

/// MetaDefender's `vulnerability_info` for an object: what was found in
/// it and, for a root (`deep`), anywhere inside it. `detected_product` is
/// the first product found (MetaDefender reports one); mdscan adds
/// `detected_products` with every one and where it was found.
fn vulnerability_info(n: &Node, deep: bool) -> Option<Value> {
    let mut found: Vec<(&str, &mdcore::vuln::Finding)> = n
        .vulnerabilities
        .iter()
        .map(|f| (n.display_name.as_str(), f))
        .collect();
    if deep {
        for (d, _) in descendants(n, &[]) {
            found.extend(
                d.vulnerabilities
                    .iter()
                    .map(|f| (d.display_name.as_str(), f)),
            );
        }
    }
    let product = |(at, f): &(&str, &mdcore::vuln::Finding)| {
        let vulns: Vec<Value> = f
            .vulnerabilities
            .iter()
            .map(|v| {
                let mut details = serde_json::Map::new();
                details.insert("cve".into(), json!(v.cves.first().unwrap_or(&v.id)));
                details.insert("cves".into(), json!(v.cves));
                details.insert("url".into(), json!(v.url));
                if !v.cvss_vector.is_empty() {
                    details.insert(
                        "cvss".into(),
                        json!({"vector": v.cvss_vector, "score": v.cvss_score}),
                    );
                }
                json!({"description": v.description, "severity": v.severity,
                       "static_id": v.id, "details": details})
            })
            .collect();
        let worst = f
            .vulnerabilities
            .iter()
            .map(|v| severity_rank(&v.severity))
            .max()
            .unwrap_or(0);
        json!({"has_vulnerability": true,
               "product": {"name": f.product}, "vendor": {"name": f.vendor},
               "version": f.version, "ecosystem": f.ecosystem, "source": f.source,
               "found_in": at,
               "severity": SEVERITIES.get(worst).copied().unwrap_or("UNKNOWN"),
               "remediation_link": f.vulnerabilities.first().map(|v| v.url.as_str()).unwrap_or(""),
               "vulnerabilities": vulns})
    };
    let first = found.first()?;
    Some(json!({"result": {
        "code": 0,
        "hash": n.sha256,
        "method": 50700,
        "detected_product": product(first),
        "detected_products": found.iter().map(product).collect::<Vec<_>>(),
    }}))
}

const SEVERITIES: &[&str] = &["UNKNOWN", "LOW", "MODERATE", "HIGH", "CRITICAL"];

fn severity_rank(s: &str) -> usize {
    match s {
        "MEDIUM" => 2,
        s => SEVERITIES.iter().position(|x| *x == s).unwrap_or(0),
    }
}

/// The blocked reason for a sanitization failure, as MetaDefender words it.
const SANITIZATION_FAILED: &str = "Sanitization failed";

/// Sets a field of a document object.
fn set(doc: &mut Value, key: &str, v: Value) {
    if let Some(m) = doc.as_object_mut() {
        m.insert(key.to_string(), v);
    }
}

/// The node at `path` under `root`.
pub(crate) fn node_at<'a>(root: &'a Node, path: &[u32]) -> Option<&'a Node> {
    let mut n = root;
    for i in path {
        n = n.children.get(usize::try_from(*i).ok()?)?;
    }
    Some(n)
}

/// Every descendant of `node` with its path, depth first.
fn descendants<'a>(node: &'a Node, base: &[u32]) -> Vec<(&'a Node, Vec<u32>)> {
    let mut out = Vec::new();
    let mut stack: Vec<(&Node, Vec<u32>)> = node
        .children
        .iter()
        .enumerate()
        .rev()
        .map(|(i, c)| (c, [base, &[i as u32]].concat()))
        .collect();
    while let Some((n, p)) = stack.pop() {
        for (i, c) in n.children.iter().enumerate().rev() {
            stack.push((c, [p.as_slice(), &[i as u32]].concat()));
        }
        out.push((n, p));
    }
    out
}

fn engine_details(node: &Node) -> Value {
    let mut m = serde_json::Map::new();
    for (name, d) in &node.scan_details {
        m.insert(
            name.clone(),
            json!({"scan_result_i": d.scan_result_i.as_i(), "threat_found": d.threat_found,
                   "def_time": d.def_time, "scan_time": d.scan_time, "wait_time": 0,
                   "location": "local", "eng_id": d.eng_id}),
        );
    }
    Value::Object(m)
}

/// What a scan's verdict is, for the history: its code (255 while
/// running) and `Processing`, `Blocked` or `Allowed`.
pub(crate) fn outcome(s: &Scan, workflow: Option<&Workflow>) -> (u8, &'static str) {
    match s.report.as_ref().filter(|_| s.state == State::Done) {
        Some(r) => {
            let code = r.root.scan_all_result_i;
            let verdict = if blocks(workflow, code) || sanitization_blocks(s, workflow) {
                "Blocked"
            } else {
                "Allowed"
            };
            (code.as_i(), verdict)
        }
        None => (IN_PROGRESS, "Processing"),
    }
}

/// One row of the scan history: the submitted file, who sent it, its
/// verdict, threats and timings.
pub(crate) fn summary(s: &Scan, workflow: Option<&Workflow>) -> Value {
    let (code, verdict) = outcome(s, workflow);
    let code_a = ResultCode::from_i(code).map_or("In Progress", |c| c.as_str());
    let mut threats: Vec<String> = Vec::new();
    if let Some(r) = s.report.as_ref().filter(|_| s.state == State::Done) {
        for d in r.threats() {
            if !threats.contains(&d.threat) && threats.len() < 5 {
                threats.push(d.threat);
            }
        }
    }
    json!({
        "data_id": s.data_id,
        "display_name": s.display_name,
        "file_size": s.file_size,
        "file_type": s.file_type,
        "md5": s.md5,
        "sha1": s.sha1,
        "sha256": s.sha256,
        "upload_timestamp": s.upload_timestamp,
        "upload_ms": s.upload_ms,
        "user": s.owner,
        "workflow": s.workflow,
        "batch_id": s.batch_id,
        "scan_all_result_i": code,
        "scan_all_result_a": code_a,
        "result": verdict,
        "threats": threats,
        "total_objects": s.report.as_ref().map_or(0, |r| r.objects),
        "queue_ms": s.started_ms.map(|t| t.saturating_sub(s.upload_ms)),
        "processing_ms": match (s.started_ms, s.finished_ms) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        },
        "finished_ms": s.finished_ms,
    })
}

/// The full result document of one object.
pub(crate) fn result(v: &View<'_>, first: usize, size: usize) -> Value {
    let s = v.scan;
    let done = s.state == State::Done && v.node.is_some();
    let report = s.report.as_ref();
    let (code, progress) = match v.node {
        Some(n) if done => (n.scan_all_result_i.as_i(), 100u8),
        _ => (IN_PROGRESS, v.progress.min(99)),
    };
    let code_a = ResultCode::from_i(code).map_or("In Progress", |c| c.as_str());
    let code_blocks = done && ResultCode::from_i(code).is_some_and(|c| blocks(v.workflow, c));
    let root = v.path.is_empty();
    let sanitize_blocks = done && root && sanitization_blocks(s, v.workflow);
    let blocked = code_blocks || sanitize_blocks;
    let blocked_reason = if code_blocks {
        code_a
    } else if sanitize_blocks {
        SANITIZATION_FAILED
    } else {
        ""
    };
    let result = if !done {
        "Processing"
    } else if blocked {
        "Blocked"
    } else {
        "Allowed"
    };
    let queue_ms = s.started_ms.map_or(0, |t| t.saturating_sub(s.upload_ms));
    let processing_ms = match (s.started_ms, s.finished_ms) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => 0,
    };
    let (file_info, details, total_avs, detected) = match v.node {
        Some(n) if done => (
            json!({"display_name": display(s, n, v.path), "file_size": n.file_size,
                   "file_type": n.file_type, "file_type_description": n.file_type_description,
                   "md5": n.md5, "sha1": n.sha1, "sha256": n.sha256,
                   "upload_timestamp": s.upload_timestamp}),
            engine_details(n),
            report.map_or(0, |r| r.engines.len()),
            n.detected_by(),
        ),
        _ => (
            json!({"display_name": s.display_name, "file_size": s.file_size,
                   "file_type": s.file_type, "file_type_description": s.file_type_description,
                   "md5": s.md5, "sha1": s.sha1, "sha256": s.sha256,
                   "upload_timestamp": s.upload_timestamp}),
            json!({}),
            0,
            0,
        ),
    };
    let mut doc = json!({
        "data_id": v.data_id,
        "file_info": file_info,
        "scan_results": {
            "data_id": v.data_id,
            "progress_percentage": progress,
            "scan_all_result_i": code,
            "scan_all_result_a": code_a,
            "start_time": report.map_or_else(|| s.upload_timestamp.clone(), |r| r.start_time.clone()),
            "total_avs": total_avs,
            "total_detected_avs": detected,
            "total_time": if done { report.map_or(0, |r| r.total_time) as i64 } else { -1 },
            "scan_details": details,
        },
        "process_info": {
            "progress_percentage": progress,
            "result": result,
            "blocked_reason": blocked_reason,
            "profile": s.workflow,
            "user_agent": s.user_agent,
            "username": s.username,
            "file_type_skipped_scan": false,
            "processing_time": processing_ms,
            "queue_time": queue_ms,
            "verdicts": if done { vec![code_a] } else { Vec::new() },
            "outdated_data": [],
            "post_processing": if done { post_processing(s, root) } else { post_processing(s, false) },
        },
    });
    if let Some(batch) = &s.batch_id {
        set(&mut doc, "batch_id", json!(batch));
    }
    // mdscan's own additions (clients of MetaDefender ignore unknown
    // fields): what a reader should know about this object — damage,
    // limits, passwords, and in a cluster which worker scanned it.
    let mut notes: Vec<String> = v
        .node
        .filter(|_| done)
        .map(|n| n.notes.clone())
        .unwrap_or_default();
    if root && let Some(why) = &s.callback_refused {
        notes.push(why.clone());
    }
    if root
        && done
        && let Some(why) = report
            .and_then(|r| r.sanitization.as_ref())
            .and_then(|r| r.failure.as_ref())
    {
        notes.push(format!("not sanitized: {why}"));
    }
    if root
        && done
        && let Some(code) = report
            .and_then(|r| r.sanitization.as_ref())
            .and_then(|r| r.copy_result)
            .filter(|c| blocks(v.workflow, *c))
    {
        notes.push(format!(
            "the sanitized copy still scans as {}; it is not served",
            code.as_str()
        ));
    }
    if !notes.is_empty() {
        set(&mut doc, "mdscan", json!({ "notes": notes }));
    }
    if let Some(n) = v.node.filter(|n| done && !n.children.is_empty()) {
        set(&mut doc, "extracted_files", extracted(v, n, first, size));
    }
    if let Some(info) = v
        .node
        .filter(|_| done)
        .and_then(|n| vulnerability_info(n, root))
    {
        set(&mut doc, "vulnerability_info", info);
    }
    doc
}

/// The document of a finished root scan (the webhook body, `/file/sync`).
pub(crate) fn root(scan: &Scan, workflow: Option<&Workflow>) -> Value {
    let view = View {
        scan,
        node: scan.report.as_ref().map(|r| &r.root),
        data_id: &scan.data_id,
        path: &[],
        workflow,
        progress: 100,
    };
    result(&view, 0, 20)
}

/// The document of a root still queued or running.
pub(crate) fn in_progress(scan: &Scan, workflow: Option<&Workflow>, progress: u8) -> Value {
    let view = View {
        scan,
        node: None,
        data_id: &scan.data_id,
        path: &[],
        workflow,
        progress,
    };
    result(&view, 0, 20)
}

/// A stand-in for a batch member whose record cannot be read: done, with
/// code 3 (Failed), so the batch is never Allowed on its account.
pub(crate) fn unreadable(data_id: &str, b: &Batch) -> Scan {
    Scan {
        data_id: data_id.to_string(),
        batch_id: Some(b.batch_id.clone()),
        owner: b.owner.clone(),
        display_name: data_id.to_string(),
        file_size: 0,
        file_type: String::new(),
        file_type_description: String::new(),
        md5: String::new(),
        sha1: String::new(),
        sha256: String::new(),
        upload_timestamp: b.start_time.clone(),
        upload_ms: b.start_ms,
        workflow: b.workflow.clone(),
        user_agent: b.user_agent.clone(),
        username: b.owner.clone().unwrap_or_default(),
        passwords: Vec::new(),
        metadata: None,
        callback_url: None,
        callback_refused: None,
        state: State::Done,
        cancel_requested: false,
        started_ms: None,
        finished_ms: None,
        report: Some(failed_report(data_id, "the scan record could not be read")),
    }
}

/// `outer.zip/inner.tar/file` from the stored display name of the root.
fn display(s: &Scan, n: &Node, path: &[u32]) -> String {
    if path.is_empty() {
        s.display_name.clone()
    } else {
        n.display_name.clone()
    }
}

fn child_summary(v: &View<'_>, n: &Node, path: &[u32]) -> Value {
    let code = n.scan_all_result_i;
    let blocked = blocks(v.workflow, code);
    json!({
        "data_id": child_id(&v.scan.data_id, path),
        "display_name": n.display_name,
        // 1 for a direct child of the object viewed (mdscan's own field:
        // the list is depth first, so the tree can be drawn from it).
        "depth": path.len().saturating_sub(v.path.len()),
        "file_size": n.file_size,
        "file_type": n.file_type,
        "file_type_description": n.file_type_description,
        "detected_by": n.detected_by(),
        "scanned_with": n.scanned_with(),
        "progress_percentage": 100,
        "scan_all_result_i": code.as_i(),
        "scan_result_i": code.as_i(),
        "scan_all_result_a": code.as_str(),
        "process_info": {
            "result": if blocked { "Blocked" } else { "Allowed" },
            "blocked_reason": if blocked { code.as_str() } else { "" },
            "progress_percentage": 100,
            "verdicts": [code.as_str()],
        },
    })
}

fn extracted(v: &View<'_>, node: &Node, first: usize, size: usize) -> Value {
    let all = descendants(node, v.path);
    // The worst code; among equals, the object that carries it itself (the
    // infected file rather than the archive around it), first in order.
    let worst_code = all
        .iter()
        .map(|(n, _)| n.scan_all_result_i)
        .reduce(ResultCode::worst);
    let worst = worst_code
        .and_then(|w| {
            all.iter()
                .filter(|(n, _)| n.scan_all_result_i == w)
                .find(|(n, _)| n.own_result_i == w)
                .or_else(|| all.iter().find(|(n, _)| n.scan_all_result_i == w))
        })
        .map(|(_, p)| child_id(&v.scan.data_id, p))
        .unwrap_or_default();
    let page: Vec<Value> = all
        .iter()
        .skip(first)
        .take(size)
        .map(|(n, p)| child_summary(v, n, p))
        .collect();
    json!({
        "files_extracted_count": all.len(),
        "first_index": first,
        "page_size": page.len(),
        "worst_data_id": worst,
        "files_in_archive": page,
    })
}

/// The batch report.
pub(crate) fn batch(
    b: &Batch,
    files: &[(Scan, Option<&Workflow>)],
    first: usize,
    size: usize,
) -> Value {
    let mut worst: Option<ResultCode> = None;
    let mut all_done = true;
    let mut total_avs = 0usize;
    let mut rows = Vec::new();
    for (i, (s, wf)) in files.iter().enumerate() {
        let node = s.report.as_ref().map(|r| &r.root);
        let done = s.state == State::Done && node.is_some();
        all_done &= done;
        if let Some(r) = &s.report {
            total_avs = total_avs.max(r.engines.len());
        }
        let code = node.filter(|_| done).map(|n| n.scan_all_result_i);
        if let Some(c) = code {
            worst = Some(worst.map_or(c, |w| w.worst(c)));
        }
        if i < first || rows.len() >= size {
            continue;
        }
        let (i_code, a) = code.map_or((IN_PROGRESS, "In Progress"), |c| (c.as_i(), c.as_str()));
        let code_blocks = code.is_some_and(|c| blocks(*wf, c));
        let blocked = code_blocks || (done && sanitization_blocks(s, *wf));
        let reason = if code_blocks {
            a
        } else if blocked {
            SANITIZATION_FAILED
        } else {
            ""
        };
        rows.push(json!({
            "data_id": s.data_id,
            "display_name": s.display_name,
            "file_size": s.file_size,
            "file_type": node.map_or(s.file_type.as_str(), |n| n.file_type.as_str()),
            "file_type_description": node.map_or(s.file_type_description.as_str(), |n| n.file_type_description.as_str()),
            "detected_by": node.map_or(0, |n| n.detected_by()),
            "scanned_with": node.map_or(0, |n| n.scanned_with()),
            "progress_percentage": if done { 100 } else { 0 },
            "scan_all_result_i": i_code,
            "scan_all_result_a": a,
            "process_info": {
                "blocked_reason": reason,
                "progress_percentage": if done { 100 } else { 0 },
                "result": if !done { "Processing" } else if blocked { "Blocked" } else { "Allowed" },
                "verdicts": if done { vec![a] } else { Vec::new() },
            },
        }));
    }
    let overall = if b.cancelled {
        ResultCode::Canceled
    } else if all_done {
        worst.unwrap_or(ResultCode::NoThreat)
    } else {
        ResultCode::InProgress
    };
    let blocked = all_done
        && files.iter().any(|(s, wf)| {
            s.report
                .as_ref()
                .is_some_and(|r| blocks(*wf, r.root.scan_all_result_i))
                || sanitization_blocks(s, *wf)
        });
    json!({
        "batch_id": b.batch_id,
        "is_closed": b.is_closed,
        "user_data": b.user_data,
        "process_info": {
            "blocked_reason": if !blocked { "" } else if blocks(files.first().and_then(|(_, w)| *w), overall) { overall.as_str() } else { SANITIZATION_FAILED },
            "file_type_skipped_scan": false,
            "profile": b.workflow,
            "result": if !all_done { "Processing" } else if blocked { "Blocked" } else { "Allowed" },
            "user_agent": b.user_agent,
            "username": b.owner.clone().unwrap_or_default(),
        },
        "scan_results": {
            "batch_id": b.batch_id,
            "scan_all_result_a": overall.as_str(),
            "scan_all_result_i": overall.as_i(),
            "start_time": b.start_time,
            "total_avs": total_avs,
            "total_time": files.iter().filter_map(|(s, _)| s.finished_ms).max().map_or(0, |t| t.saturating_sub(b.start_ms)),
        },
        "batch_files": {
            "batch_count": files.len(),
            "first_index": first,
            "page_size": rows.len(),
            "files_in_batch": rows,
        },
    })
}
