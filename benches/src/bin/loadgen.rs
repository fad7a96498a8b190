//! HTTP load generator for `mdscan serve`: N clients, each on its own
//! keep-alive connection, upload small distinct bodies to `POST /file/sync`
//! (or any path) back to back for a fixed time, and the latency of every
//! request (request written to response read, on loopback an upper bound of
//! the time spent in the server) is reported as percentiles, with the
//! throughput in requests per second.
//!
//! ```sh
//! target/release/mdscan serve --listen 127.0.0.1:8008 &
//! target/release/loadgen --addr 127.0.0.1:8008 --clients 1 --seconds 10
//! target/release/loadgen --addr 127.0.0.1:8008 --clients 32 --seconds 10
//! ```
//!
//! Plain blocking sockets and one thread per client: the generator must not
//! be what limits the server, and it has no scheduler of its own to measure.
// A tool run by developers on inputs of their own making, not a reader
// of hostile bytes: it stops with a message where the library may not.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;

/// Uploads small files to an mdscan server and reports latency and throughput.
#[derive(Debug, Parser)]
struct Args {
    /// Server address (host:port).
    #[arg(long, default_value = "127.0.0.1:8008")]
    addr: String,
    /// Request path.
    #[arg(long, default_value = "/file/sync")]
    path: String,
    /// Body size in bytes (each body is distinct: a counter is written in it).
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Concurrent clients (one connection each).
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds of warm-up before measuring (not counted).
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// A string every response body must hold (checked on each response).
    #[arg(long, default_value = "scan_all_result_i")]
    expect: String,
    /// Extra request header, `name: value` (repeatable).
    #[arg(long)]
    header: Vec<String>,
}

/// What one client saw.
#[derive(Default)]
struct Seen {
    /// Latencies of measured requests, in microseconds.
    micros: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
}

/// A response: its status and body.
fn read_response(r: &mut BufReader<TcpStream>) -> std::io::Result<(u16, Vec<u8>)> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let (mut len, mut chunked) = (None, false);
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(bad("connection closed in the headers"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            let v = v.trim();
            if k.eq_ignore_ascii_case("content-length") {
                len = v.parse::<usize>().ok();
            } else if k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked") {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let n = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| bad("bad chunk size"))?;
            let at = body.len();
            body.resize(at + n, 0);
            r.read_exact(&mut body[at..])?;
            line.clear();
            r.read_line(&mut line)?;
            if n == 0 {
                break;
            }
        }
    } else {
        let n = len.ok_or_else(|| bad("no content-length"))?;
        body.resize(n, 0);
        r.read_exact(&mut body)?;
    }
    Ok((status, body))
}

fn client(
    args: &Args,
    id: usize,
    measuring: &AtomicBool,
    stop: &AtomicBool,
    seq: &AtomicU64,
) -> Seen {
    let mut seen = Seen::default();
    let mut conn: Option<(TcpStream, BufReader<TcpStream>)> = None;
    let extra: String = args.header.iter().map(|h| format!("{h}\r\n")).collect();
    let mut body = vec![b'a'; args.size];
    while !stop.load(Ordering::Relaxed) {
        if conn.is_none() {
            match TcpStream::connect(&args.addr) {
                Ok(s) => {
                    s.set_nodelay(true).ok();
                    let r = BufReader::new(s.try_clone().expect("clone socket"));
                    conn = Some((s, r));
                }
                Err(e) => {
                    seen.errors += 1;
                    seen.first_error
                        .get_or_insert_with(|| format!("connect: {e}"));
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            }
        }
        let (w, r) = conn.as_mut().expect("connected");
        // A distinct body each time: the server must scan every one.
        let n = seq.fetch_add(1, Ordering::Relaxed);
        let tag = format!("client {id} request {n}\n");
        let k = tag.len().min(body.len());
        body[..k].copy_from_slice(&tag.as_bytes()[..k]);
        let head = format!(
            "POST {} HTTP/1.1\r\nhost: {}\r\ncontent-length: {}\r\nfilename: f{n}.txt\r\n{extra}\r\n",
            args.path,
            args.addr,
            body.len()
        );
        let counted = measuring.load(Ordering::Relaxed);
        let t = Instant::now();
        let res = w
            .write_all(head.as_bytes())
            .and_then(|()| w.write_all(&body))
            .and_then(|()| read_response(r));
        let took = t.elapsed();
        match res {
            Ok((200, b)) if memchr_str(&b, args.expect.as_bytes()) => {
                if counted && !stop.load(Ordering::Relaxed) {
                    seen.micros.push(took.as_micros() as u64);
                }
            }
            Ok((status, b)) => {
                seen.errors += 1;
                seen.first_error.get_or_insert_with(|| {
                    format!(
                        "{status}: {}",
                        String::from_utf8_lossy(&b[..b.len().min(300)])
                    )
                });
                if status == 503 {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            Err(e) => {
                seen.errors += 1;
                seen.first_error.get_or_insert_with(|| format!("io: {e}"));
                conn = None;
            }
        }
    }
    seen
}

fn memchr_str(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

fn main() {
    let args = Arc::new(Args::parse());
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let seq = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..args.clients)
        .map(|id| {
            let (a, m, s, q) = (args.clone(), measuring.clone(), stop.clone(), seq.clone());
            std::thread::spawn(move || client(&a, id, &m, &s, &q))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(args.warmup));
    measuring.store(true, Ordering::Relaxed);
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(args.seconds));
    stop.store(true, Ordering::Relaxed);
    let wall = start.elapsed().as_secs_f64();
    let mut all = Vec::new();
    let (mut errors, mut first) = (0, None);
    for h in handles {
        let s = h.join().expect("client thread");
        all.extend(s.micros);
        errors += s.errors;
        first = first.or(s.first_error);
    }
    all.sort_unstable();
    println!(
        "{} {} B x {} clients, {:.1} s: {} ok ({:.0}/s), {} errors; latency ms p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} max {:.2}",
        args.path,
        args.size,
        args.clients,
        wall,
        all.len(),
        all.len() as f64 / wall,
        errors,
        percentile(&all, 0.50),
        percentile(&all, 0.90),
        percentile(&all, 0.99),
        percentile(&all, 0.999),
        percentile(&all, 1.0),
    );
    if let Some(e) = first {
        println!("first error: {e}");
    }
}
