//! `GET /metrics`: what the server did, in the Prometheus exposition format
//! (the `prometheus-client` crate).
//!
//! Scan figures (scans by result code, objects, bytes, durations, queue
//! wait, engine errors) are taken from the backend's "finished" events, the
//! same ones `POST /file/sync` waits on: in `serve` every scan of this
//! process; in a cluster every gateway sees every scan of the cluster, so
//! each gateway reports the cluster's totals since it started (take the
//! max over gateways, not the sum). Uploads and refusals are counted by the
//! process that answered them. Queue depth and live workers are read at
//! scrape time.
//!
//! `prometheus-client` writes OpenMetrics text; a scraper that does not ask
//! for OpenMetrics (`Accept`) gets the classic text format 0.0.4 instead,
//! which differs in counter names (`_total` on the family too) and has no
//! `# UNIT`/`# EOF` lines — what `promtool check metrics` reads.

use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use tokio::sync::broadcast::error::RecvError;

use super::backend::{Backend, Scan};

type Labels = Vec<(String, String)>;

/// The server's metrics and their registry.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    scans: Family<Labels, Counter>,
    objects: Counter,
    bytes: Counter,
    extracted: Counter,
    duration: Histogram,
    wait: Histogram,
    engine_errors: Family<Labels, Counter>,
    uploads: Counter,
    refused: Family<Labels, Counter>,
    connections_refused: Counter,
    queue: Gauge,
    workers: Gauge,
}

fn seconds_buckets() -> impl Iterator<Item = f64> {
    // 5 ms to about 3 minutes.
    exponential_buckets(0.005, 2.0, 16)
}

impl Metrics {
    pub(crate) fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("mdscan");
        let m = Metrics {
            scans: Family::default(),
            objects: Counter::default(),
            bytes: Counter::default(),
            extracted: Counter::default(),
            duration: Histogram::new(seconds_buckets()),
            wait: Histogram::new(seconds_buckets()),
            engine_errors: Family::default(),
            uploads: Counter::default(),
            refused: Family::default(),
            connections_refused: Counter::default(),
            queue: Gauge::default(),
            workers: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "scans",
            "Files scanned to the end, by overall result code",
            m.scans.clone(),
        );
        registry.register(
            "objects",
            "Objects examined (files and everything extracted from them)",
            m.objects.clone(),
        );
        registry.register_with_unit(
            "scanned",
            "Bytes of the files scanned",
            Unit::Bytes,
            m.bytes.clone(),
        );
        registry.register_with_unit(
            "extracted",
            "Bytes produced by the decoders while opening containers",
            Unit::Bytes,
            m.extracted.clone(),
        );
        registry.register_with_unit(
            "scan_duration",
            "Time from a worker taking a file to its result",
            Unit::Seconds,
            m.duration.clone(),
        );
        registry.register_with_unit(
            "queue_wait",
            "Time a file waited between upload and a worker taking it",
            Unit::Seconds,
            m.wait.clone(),
        );
        registry.register(
            "engine_errors",
            "Objects an engine failed on (error or time-out), by engine",
            m.engine_errors.clone(),
        );
        registry.register(
            "uploads",
            "Uploads accepted by this process",
            m.uploads.clone(),
        );
        registry.register(
            "uploads_refused",
            "Uploads refused by this process, by HTTP status (413 too large, 503 busy)",
            m.refused.clone(),
        );
        registry.register(
            "connections_refused",
            "Connections answered 503 and closed because max_connections were open",
            m.connections_refused.clone(),
        );
        registry.register(
            "queue_depth",
            "Files accepted and waiting for a worker",
            m.queue.clone(),
        );
        registry.register(
            "workers",
            "Live scanning nodes (this process for serve, the cluster's workers for a gateway)",
            m.workers.clone(),
        );
        Arc::new(Metrics { registry, ..m })
    }

    /// Counts one finished scan.
    pub(crate) fn scan(&self, scan: &Scan) {
        let Some(report) = &scan.report else { return };
        let code = report.verdict();
        self.scans
            .get_or_create(&vec![
                ("code".into(), code.as_i().to_string()),
                ("result".into(), code.as_str().into()),
            ])
            .inc();
        self.objects.inc_by(report.objects);
        self.bytes.inc_by(scan.file_size);
        self.extracted.inc_by(report.bytes_extracted);
        if let (Some(start), Some(end)) = (scan.started_ms, scan.finished_ms) {
            self.duration
                .observe(end.saturating_sub(start) as f64 / 1000.0);
        }
        if let Some(start) = scan.started_ms {
            self.wait
                .observe(start.saturating_sub(scan.upload_ms) as f64 / 1000.0);
        }
        for node in report.root.iter() {
            for (engine, d) in &node.scan_details {
                if d.scan_result_i == mdcore::EngineCode::Failed {
                    self.engine_errors
                        .get_or_create(&vec![("engine".into(), engine.clone())])
                        .inc();
                }
            }
        }
    }

    pub(crate) fn accepted(&self) {
        self.uploads.inc();
    }

    pub(crate) fn refused(&self, status: u16) {
        self.refused
            .get_or_create(&vec![("status".into(), status.to_string())])
            .inc();
    }

    pub(crate) fn connection_refused(&self) {
        self.connections_refused.inc();
    }

    /// The exposition: OpenMetrics text, or the classic text format.
    pub(crate) fn render(&self, queued: usize, workers: usize, openmetrics: bool) -> String {
        self.queue.set(i64::try_from(queued).unwrap_or(i64::MAX));
        self.workers.set(i64::try_from(workers).unwrap_or(i64::MAX));
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            return String::new();
        }
        if openmetrics { out } else { classic(&out) }
    }
}

/// OpenMetrics text to the classic Prometheus text format: a counter
/// family takes its samples' `_total` name, and `# UNIT` and `# EOF` go.
fn classic(om: &str) -> String {
    let counters: std::collections::HashSet<&str> = om
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(om.len());
    for line in om.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let meta = line
            .strip_prefix("# HELP ")
            .map(|r| ("# HELP ", r))
            .or_else(|| line.strip_prefix("# TYPE ").map(|r| ("# TYPE ", r)));
        if let Some((kind, rest)) = meta {
            let name = rest.split(' ').next().unwrap_or_default();
            if counters.contains(name) {
                out.push_str(kind);
                out.push_str(name);
                out.push_str("_total");
                out.push_str(rest.get(name.len()..).unwrap_or_default());
                out.push('\n');
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Feeds the scan figures from the backend's "finished" events.
pub(crate) fn spawn<B: Backend>(backend: Arc<B>, metrics: Arc<Metrics>) {
    let mut events = backend.finished();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(id) => {
                    if let Ok(Some(scan)) = backend.scan(&id).await {
                        metrics.scan(&scan);
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    eprintln!("mdscan: metrics missed {n} finished scan(s) (too many at once)");
                }
                Err(RecvError::Closed) => break,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_classic_format_names_counters_like_their_samples() {
        let m = Metrics::new();
        m.accepted();
        m.refused(503);
        let om = m.render(3, 1, true);
        assert!(om.contains("# TYPE mdscan_uploads counter"), "{om}");
        assert!(om.ends_with("# EOF\n"));
        let text = m.render(3, 1, false);
        assert!(
            text.contains("# TYPE mdscan_uploads_total counter"),
            "{text}"
        );
        assert!(text.contains("# HELP mdscan_uploads_total Uploads accepted"));
        assert!(text.contains("mdscan_uploads_total 1"));
        assert!(text.contains("mdscan_uploads_refused_total{status=\"503\"} 1"));
        assert!(text.contains("mdscan_queue_depth 3"));
        assert!(!text.contains("# EOF") && !text.contains("# UNIT"));
    }
}
