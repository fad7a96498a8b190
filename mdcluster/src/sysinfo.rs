//! Figures of this machine for `GET /stat/nodes`.

fn read_proc(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// CPU cores.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One-minute load average as a percentage of the cores.
pub fn load_percent() -> u64 {
    let load = read_proc("/proc/loadavg")
        .split_whitespace()
        .next()
        .and_then(|l| l.parse::<f64>().ok())
        .unwrap_or(0.0);
    (load * 100.0 / cores() as f64).round() as u64
}

/// (total, available) memory in bytes.
pub fn memory() -> (u64, u64) {
    let info = read_proc("/proc/meminfo");
    let kb = |field: &str| {
        info.lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (kb("MemTotal:") * 1024, kb("MemAvailable:") * 1024)
}

/// This machine's name.
pub fn hostname() -> String {
    hostname::get().map_or_else(|_| "localhost".into(), |h| h.to_string_lossy().into_owned())
}

/// One entry of `GET /stat/nodes` (MetaDefender Core's node status): this
/// machine's figures with the caller's identity, engines and queue.
/// `queued` tasks wait or run out of `capacity`.
pub fn node_status(
    id: &str,
    address: &str,
    engines: &[mdcore::EngineInfo],
    free_disk: u64,
    queued: usize,
    capacity: usize,
) -> serde_json::Value {
    let (total, free) = memory();
    serde_json::json!({
        "id": id,
        "address": address,
        "version": env!("CARGO_PKG_VERSION"),
        "cpu_cores": cores(),
        "load": load_percent(),
        "total_memory": total,
        "free_memory": free,
        "free_disk_space": free_disk,
        "engines": engines.iter().map(|e| serde_json::json!({"eng_id": e.id, "eng_name": e.name, "eng_ver": e.version})).collect::<Vec<_>>(),
        "issues": [],
        "scan_queue": queued,
        "scan_queue_details": {
            "available_slots": capacity.saturating_sub(queued),
            "total_scan_queue": capacity,
        },
    })
}
