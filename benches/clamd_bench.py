#!/usr/bin/env python3
"""clamd INSTREAM side by side: mdscan's clamd listener and Debian's clamd.

Both get the same database in effect (clamd: EICAR's MD5 as a hash
signature; mdscan: its built-in EICAR rule), the same files (1 KiB and
1 MiB of seeded bytes, clean) and the same number of parallel clients,
each sending `zINSTREAM` on a fresh unix-socket connection, as mail filters
do. Prints files/s, p50 and p99 per size and server, in one run.

    python3 benches/clamd_bench.py --mdscan target/release/mdscan \
        [--clients 8] [--seconds 10]

Needs `clamd` (Debian clamav-daemon) on PATH.
"""

import argparse
import os
import random
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time


def instream(sock_path, data):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    msg = bytearray(b"zINSTREAM\0")
    for i in range(0, len(data), 1 << 16):
        chunk = data[i : i + (1 << 16)]
        msg += struct.pack(">I", len(chunk)) + chunk
    msg += b"\0\0\0\0"
    s.sendall(msg)
    out = b""
    while not out.endswith(b"\0"):
        b = s.recv(4096)
        if not b:
            break
        out += b
    s.close()
    return out


def wait_for(sock_path, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock_path)
            s.sendall(b"zPING\0")
            if s.recv(16).startswith(b"PONG"):
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{sock_path}: no answer")


def run(sock_path, data, clients, seconds):
    latencies = []
    lock = threading.Lock()
    stop = time.time() + seconds

    def worker():
        mine = []
        while time.time() < stop:
            t0 = time.perf_counter()
            reply = instream(sock_path, data)
            mine.append(time.perf_counter() - t0)
            if not reply.startswith(b"stream: OK"):
                raise SystemExit(f"unexpected reply {reply!r}")
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
    if not shutil.which("clamd"):
        raise SystemExit("clamd is not installed (Debian clamav-daemon)")
    work = tempfile.mkdtemp(prefix="clamd-bench-")
    procs = []
    try:
        db = os.path.join(work, "db")
        os.makedirs(db)
        with open(os.path.join(db, "eicar.hdb"), "w") as f:
            f.write("44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n")
        ref_sock = os.path.join(work, "clamd.sock")
        conf = os.path.join(work, "clamd.conf")
        with open(conf, "w") as f:
            f.write(
                f"LocalSocket {ref_sock}\nDatabaseDirectory {db}\nForeground yes\n"
                f"User {os.environ.get('USER', 'root')}\nMaxThreads {max(args.clients, 10)}\n"
                f"LogFile {work}/clamd.log\n"
            )
        procs.append(subprocess.Popen(["clamd", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        ours = os.path.join(work, "mdscan.sock")
        cfg = os.path.join(work, "mdscan.toml")
        with open(cfg, "w") as f:
            f.write(
                f'listen = "127.0.0.1:0"\ndata_dir = "{work}/data"\nworkers = {os.cpu_count()}\n'
                f'[clamd]\nlisten = ["unix:{ours}"]\n'
            )
        procs.append(
            subprocess.Popen([args.mdscan, "serve", "--config", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
        wait_for(ref_sock)
        wait_for(ours)
        rnd = random.Random(7)
        sizes = {"1 KiB": 1 << 10, "1 MiB": 1 << 20}
        print(f"{args.clients} clients, {args.seconds:.0f} s each, INSTREAM over a unix socket")
        print(f"{'size':6} {'server':14} {'files/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
        for label, n in sizes.items():
            data = bytes(rnd.getrandbits(8) for _ in range(n))
            for name, sock in (("clamd 1.4", ref_sock), ("mdscan", ours)):
                instream(sock, data)  # warm up
                rate, p50, p99 = run(sock, data, args.clients, args.seconds)
                print(f"{label:6} {name:14} {rate:9.0f} {p50:8.2f} {p99:8.2f}")
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
