#!/usr/bin/env python3
"""Cluster throughput: a gateway and N workers on this machine's RabbitMQ and
Redis, timed from the first upload to the last result.

    python3 benches/cluster_bench.py [--bin target/release/mdscan] [--workers 1,2] [--threads 1]

Two workloads:
- "many": 400 small files (text, zips, zips in zips, a fifth with EICAR),
  uploaded by 4 client threads; files per second.
- "fanout": one zip of 24 members, each a zip of 64 MiB of zeros (1.5 GiB to
  inflate and hash), with fan-out off (one worker scans it all) and on (its
  members go to every worker); seconds to the result.

Only the standard library; each run uses a namespace of its own and deletes
its queues afterwards.
"""

import argparse
import http.client
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def zip_of(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)
    return buf.getvalue()


def many_files():
    rng = random.Random(7)
    out = []
    for i in range(400):
        text = (f"document {i} " * rng.randint(50, 3000)).encode()
        payload = EICAR if i % 5 == 0 else text
        kind = i % 3
        if kind == 0:
            out.append((f"f{i}.txt", payload))
        elif kind == 1:
            out.append((f"f{i}.zip", zip_of([("a.txt", text), ("b.bin", payload)])))
        else:
            inner = zip_of([("deep.bin", payload), ("n.txt", text[:100])])
            out.append((f"f{i}.zip", zip_of([("inner.zip", inner), ("top.txt", text)])))
    return out


def fanout_archive():
    zeros = bytearray(64 << 20)
    members = []
    for i in range(24):
        zeros[0] = i
        members.append((f"part{i:02}.zip", zip_of([("zeros.bin", bytes(zeros))])))
    return zip_of(members)


class Cluster:
    """A gateway and `workers` workers in a namespace of their own.

    `pin` runs worker i on core i (taskset), standing for a one-core
    machine; `extra` is appended to the configuration (TOML); `start` is how
    many workers start now (the rest with `start_worker`)."""

    def __init__(self, binary, workers, fanout_entries, tmp, threads=0, concurrency=2,
                 pin=False, extra="", start=None):
        self.ns = f"bench{os.getpid()}x{random.randrange(1 << 30):x}"
        self.dir = tempfile.mkdtemp(dir=tmp)
        self.binary, self.pin = binary, pin
        self.cfg = os.path.join(self.dir, "mdscan.toml")
        with open(self.cfg, "w") as f:
            f.write(
                f"threads = {threads}\n{extra}"
                f'[cluster]\nnamespace = "{self.ns}"\nblob_url = "file://{self.dir}/blobs"\n'
                f"retention_secs = 3600\nfanout_entries = {fanout_entries}\n"
                '[[workflows]]\nname = "File scan"\nmax_ratio = 1000000\n'
            )
        self.port = 18500 + random.randrange(1000)
        log = open(os.path.join(self.dir, "gateway.log"), "w")
        self.procs = [
            subprocess.Popen(
                [binary, "gateway", "--listen", f"127.0.0.1:{self.port}", "--config", self.cfg,
                 "--data-dir", os.path.join(self.dir, "gw")],
                stdout=subprocess.DEVNULL, stderr=log)
        ]
        self.started = 0
        for i in range(workers if start is None else start):
            self.start_worker(concurrency)

    def start_worker(self, concurrency):
        """Starts one more worker and waits until the gateway lists it."""
        i = self.started
        self.started += 1
        wlog = open(os.path.join(self.dir, f"w{i}.log"), "w")
        cmd = [self.binary, "worker", "--id", f"w{i}", "--config", self.cfg,
               "--concurrency", str(concurrency), "--data-dir", os.path.join(self.dir, f"w{i}")]
        if self.pin:
            cmd = ["taskset", "-c", str(i % os.cpu_count())] + cmd
        self.procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=wlog))
        deadline = time.time() + 60
        while True:
            try:
                nodes = self.get("/stat/nodes")
                if len(nodes["statuses"]) >= self.started:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise SystemExit("cluster did not start")
            time.sleep(0.1)

    def queued(self):
        """Tasks waiting in RabbitMQ (the gateway refreshes it every second)."""
        return self.get("/readyz?verbose=true")["details"]["queued"]

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def get(self, path):
        c = self.conn()
        c.request("GET", path)
        r = c.getresponse()
        return json.loads(r.read())

    def upload(self, name, data):
        while True:
            c = self.conn()
            try:
                c.request("POST", "/file", body=data, headers={"filename": name})
                r = c.getresponse()
                body = r.read()
            except (BrokenPipeError, ConnectionResetError):
                # Refused before the body was read (busy): try again.
                time.sleep(0.2)
                continue
            if r.status == 200:
                return json.loads(body)["data_id"]
            if r.status != 503:
                raise SystemExit(f"upload {name}: {r.status} {body!r}")
            time.sleep(0.2)

    def wait(self, ids):
        pending = set(ids)
        while pending:
            for i in list(pending):
                d = self.get(f"/file/{i}")
                if d.get("scan_results", {}).get("progress_percentage") == 100:
                    pending.discard(i)
            if pending:
                time.sleep(0.05)

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        for q in ("tasks", "dead"):
            subprocess.run(["rabbitmqctl", "-q", "delete_queue", f"{self.ns}.{q}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)


def run_many(binary, workers, files, tmp, threads):
    c = Cluster(binary, workers, 200, tmp, threads)
    try:
        ids, lock = [], threading.Lock()
        chunks = [files[i::4] for i in range(4)]
        start = time.time()

        def send(chunk):
            for name, data in chunk:
                i = c.upload(name, data)
                with lock:
                    ids.append(i)

        ts = [threading.Thread(target=send, args=(ch,)) for ch in chunks]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        c.wait(ids)
        return time.time() - start
    finally:
        c.stop()


def run_fanout(binary, workers, data, fanout, tmp, threads):
    c = Cluster(binary, workers, 0 if fanout else 1_000_000, tmp, threads)
    try:
        start = time.time()
        i = c.upload("big.zip", data)
        c.wait([i])
        took = time.time() - start
        code = c.get(f"/file/{i}")["scan_results"]["scan_all_result_i"]
        return took, code
    finally:
        c.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/mdscan")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--threads", type=int, default=0,
                    help="scan threads per worker (0: one per core); 1 mimics one-core machines")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="mdscan-cluster-bench-")
    files = many_files()
    size = sum(len(d) for _, d in files)
    big = fanout_archive()
    print(f"binary {args.bin}; {os.cpu_count()} cores; threads per worker: {args.threads or 'all'}")
    try:
        for w in [int(x) for x in args.workers.split(",")]:
            t = run_many(args.bin, w, files, tmp, args.threads)
            print(f"many   workers={w}: {len(files)} files ({size / 1e6:.1f} MB) in {t:.2f} s "
                  f"= {len(files) / t:.0f} files/s")
            for fanout in (False, True):
                t, code = run_fanout(args.bin, w, big, fanout, tmp, args.threads)
                print(f"fanout workers={w} fan-out={'on ' if fanout else 'off'}: "
                      f"1.5 GiB archive in {t:.2f} s (verdict {code})")
            sys.stdout.flush()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
