#!/usr/bin/env python3
"""ICAP through Squid: what mdscan's ICAP server costs a proxy's users.

Runs one origin (Python's threaded http.server over seeded files), two
Squids on loopback - one plain, one sending every response to mdscan's
ICAP server (`respmod_precache`, as the tests configure it) - and
`mdscan serve` with `[icap]`. N clients fetch the same file through each
Squid on kept-alive connections; prints requests/s, p50 and p99 per size
and path, and the latency ICAP adds (p50 and p99 differences), in one run.

    python3 benches/icap_bench.py --mdscan target/release/mdscan \
        [--clients 8] [--seconds 10]

Needs `squid` (Debian squid) on PATH; run as root (Squid drops to its own
user, so the work directory is made world-writable).
"""

import argparse
import http.client
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"port {port}: nothing listens")


def squid(work, name, port, icap_port):
    d = os.path.join(work, name)
    os.makedirs(d)
    conf = os.path.join(d, "squid.conf")
    icap = ""
    if icap_port:
        icap = (
            "icap_enable on\n"
            f"icap_service svc respmod_precache icap://127.0.0.1:{icap_port}/avscan bypass=0\n"
            "adaptation_access svc allow all\n"
        )
    with open(conf, "w") as f:
        f.write(
            f"http_port 127.0.0.1:{port}\ncache deny all\n{icap}http_access allow all\n"
            f"pid_filename {d}/squid.pid\ncache_log {d}/cache.log\naccess_log none\n"
            f"coredump_dir {d}\n"
        )
    os.chmod(d, 0o777)
    return subprocess.Popen(["squid", "-N", "-f", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def fetch(conn, url):
    conn.request("GET", url)
    r = conn.getresponse()
    body = r.read()
    return r.status, body


def run(proxy, url, want, clients, seconds):
    latencies = []
    lock = threading.Lock()
    stop = time.time() + seconds

    def worker():
        mine = []
        conn = http.client.HTTPConnection("127.0.0.1", proxy, timeout=60)
        while time.time() < stop:
            t0 = time.perf_counter()
            status, body = fetch(conn, url)
            mine.append(time.perf_counter() - t0)
            if status != 200 or body != want:
                raise SystemExit(f"unexpected answer {status} ({len(body)} bytes)")
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - t0
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    return len(latencies) / elapsed, pick(0.50), pick(0.99)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mdscan", required=True)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10)
    args = ap.parse_args()
    if not shutil.which("squid"):
        raise SystemExit("squid is not installed (Debian squid)")
    work = tempfile.mkdtemp(prefix="icap-bench-")
    os.chmod(work, 0o777)
    procs = []
    try:
        www = os.path.join(work, "www")
        os.makedirs(www)
        rnd = random.Random(7)
        sizes = {"1 KiB": 1 << 10, "60 KiB": 60 << 10}
        files = {}
        for label, n in sizes.items():
            data = bytes(rnd.getrandbits(8) for _ in range(n))
            name = label.replace(" ", "")
            with open(os.path.join(www, name), "wb") as f:
                f.write(data)
            files[label] = (name, data)
        web = free_port()
        procs.append(
            subprocess.Popen(
                ["python3", "-m", "http.server", str(web), "--bind", "127.0.0.1"],
                cwd=www,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        icap = free_port()
        cfg = os.path.join(work, "mdscan.toml")
        with open(cfg, "w") as f:
            f.write(
                f'listen = "127.0.0.1:0"\ndata_dir = "{work}/data"\nworkers = {os.cpu_count()}\n'
                f'[icap]\nlisten = "127.0.0.1:{icap}"\n'
            )
        procs.append(
            subprocess.Popen([args.mdscan, "serve", "--config", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
        plain, scanned = free_port(), free_port()
        wait_port(web)
        wait_port(icap)
        procs.append(squid(work, "plain", plain, None))
        procs.append(squid(work, "icap", scanned, icap))
        wait_port(plain)
        wait_port(scanned)
        print(f"{args.clients} clients, {args.seconds:.0f} s each, GET through Squid (kept-alive)")
        print(f"{'size':7} {'path':22} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
        for label, (name, data) in files.items():
            url = f"http://127.0.0.1:{web}/{name}"
            rows = {}
            for path, port in (("Squid", plain), ("Squid + mdscan ICAP", scanned)):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                deadline = time.time() + 60
                while True:  # Squid answers once it is up
                    try:
                        if fetch(conn, url) == (200, data):
                            break
                    except OSError:
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    if time.time() > deadline:
                        raise SystemExit(f"{path}: no answer")
                    time.sleep(0.2)
                conn.close()
                rows[path] = run(port, url, data, args.clients, args.seconds)
                rate, p50, p99 = rows[path]
                print(f"{label:7} {path:22} {rate:8.0f} {p50:8.2f} {p99:8.2f}")
            (_, a50, a99), (_, b50, b99) = rows["Squid"], rows["Squid + mdscan ICAP"]
            print(f"{label:7} {'ICAP adds':22} {'':8} {b50 - a50:8.2f} {b99 - a99:8.2f}")
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
