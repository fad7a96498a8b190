#!/usr/bin/env python3
"""The two scenarios of the published MetaDefender Distributed Cluster
benchmark, scaled to one machine: every worker is pinned to a core of its own
(taskset) with one scan thread, standing for a one-core machine; the gateway,
RabbitMQ and Redis share the machine.

    cargo run --release -p mdscan-benches --bin gen-corpus -- --out bench-corpus --sets seed
    python3 benches/seed_scenarios.py --bin target/release/mdscan --corpus bench-corpus

1. "rate": the medium archives (seed/app.rpm, app.cab, setup.exe: 3,000
   files of 24-48 KiB each) submitted round robin at a fixed rate for a fixed
   time. Per-file turnaround (upload start to complete result) percentiles,
   the queue depth sampled every second, and whether the rate is sustained
   (the queue does not grow and the turnaround of the last third of the
   submissions is not far above that of the first third).
2. "routing": four big cabinets (seed/big1..4.cab, 64 files of 8 MiB each,
   512 MiB expanded) routed OneToOne (spread over the workers as they come)
   and FourToOne (all four taken by one worker before the other starts), with
   fan-out off and on (every member a task of its own). Wall time from the
   first upload to the last result, and the ratio.

Only the standard library (and cluster_bench.py beside it).
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_bench import Cluster  # noqa: E402

NO_FANOUT = 1_000_000


def pct(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, round((len(s) - 1) * p))]


def engines(corpus):
    return (f'rules = ["{os.path.abspath(os.path.join(corpus, "bench.yar"))}"]\n'
            f'hashes = ["{os.path.abspath(os.path.join(corpus, "bench.hdb"))}"]\n')


class Tracker:
    """Uploads in threads of their own and polls for the results."""

    def __init__(self, cluster):
        self.c = cluster
        self.lock = threading.Lock()
        self.pending = {}  # data_id -> submit time
        self.done = {}  # data_id -> (submit time, turnaround s, verdict)
        self.uploading = 0
        self.errors = []
        self.stop = False
        self.poller = threading.Thread(target=self.poll, daemon=True)
        self.poller.start()

    def submit(self, name, data):
        t = time.time()
        with self.lock:
            self.uploading += 1

        def go():
            try:
                i = self.c.upload(name, data)
                with self.lock:
                    self.pending[i] = t
            except BaseException as e:  # noqa: BLE001 (reported)
                with self.lock:
                    self.errors.append(f"{name}: {e}")
            finally:
                with self.lock:
                    self.uploading -= 1

        threading.Thread(target=go, daemon=True).start()

    def poll(self):
        while not self.stop:
            with self.lock:
                ids = list(self.pending)
            for i in ids:
                try:
                    d = self.c.get(f"/file/{i}")
                except OSError:
                    continue
                r = d.get("scan_results", {})
                if r.get("progress_percentage") == 100:
                    now = time.time()
                    with self.lock:
                        t = self.pending.pop(i)
                        self.done[i] = (t, now - t, r.get("scan_all_result_i"))
            time.sleep(0.05)

    def idle(self):
        with self.lock:
            return not self.pending and self.uploading == 0


def run_rate(args, files, rate):
    entries = 200 if args.rate_fanout == "default" else NO_FANOUT
    c = Cluster(args.bin, args.workers, entries, args.tmp, threads=1, pin=True,
                extra=engines(args.corpus))
    try:
        tr = Tracker(c)
        queue = []
        count = max(1, round(rate * args.seconds))
        start = time.time()
        next_sample = start
        k = 0
        while k < count:
            now = time.time()
            if now >= next_sample:
                queue.append((now - start, c.queued()))
                next_sample += 1
            due = start + k / rate
            if now >= due:
                name, data = files[k % len(files)]
                tr.submit(name, data)
                k += 1
            else:
                time.sleep(min(0.01, due - now))
        window = time.time() - start
        at_end = c.queued()
        deadline = time.time() + args.drain
        while not tr.idle() and time.time() < deadline:
            if time.time() >= next_sample:
                queue.append((time.time() - start, c.queued()))
                next_sample += 1
            time.sleep(0.05)
        drained = time.time() - start - window
        tr.stop = True
        done = sorted(tr.done.values())
        turn = [d[1] for d in done]
        verdicts = sorted({d[2] for d in done})
        third = max(1, len(done) // 3)
        first = statistics.median(turn[:third]) if turn else float("nan")
        last = statistics.median(turn[-third:]) if turn else float("nan")
        peak = max((q for _, q in queue), default=0)
        bounded = (len(done) == count and not tr.errors and last <= 2 * first + 1
                   and at_end <= 2 * args.workers)
        return {
            "rate": rate, "submitted": count, "done": len(done), "errors": tr.errors[:3],
            "window": window, "drain": drained,
            "p50": pct(turn, 0.5) if turn else None, "p90": pct(turn, 0.9) if turn else None,
            "p99": pct(turn, 0.99) if turn else None, "max": max(turn) if turn else None,
            "first": first, "last": last, "queue_peak": peak, "queue_end": at_end,
            "verdicts": verdicts, "sustained": bounded,
        }
    finally:
        c.stop()


def run_routing(args, cabs, mode, fanout):
    """OneToOne: every worker up, the cabinets spread as RabbitMQ hands them
    out (prefetch 2 each). FourToOne: one worker (prefetch 4) takes all four,
    then the others start (they get only fanned-out members)."""
    entries = 0 if fanout else NO_FANOUT
    if mode == "OneToOne":
        c = Cluster(args.bin, args.workers, entries, args.tmp, threads=1, pin=True,
                    concurrency=2, extra=engines(args.corpus))
    else:
        c = Cluster(args.bin, args.workers, entries, args.tmp, threads=1, pin=True,
                    concurrency=len(cabs), extra=engines(args.corpus), start=1)
    try:
        tr = Tracker(c)
        start = time.time()
        for name, data in cabs:
            tr.submit(name, data)
        if mode != "OneToOne":
            # Until the one worker holds all four (the gateway refreshes the
            # depth every second), then the others.
            while True:
                with tr.lock:
                    up = len(tr.pending) + len(tr.done)
                if up == len(cabs):
                    time.sleep(1.2)
                    if c.queued() == 0:
                        break
                time.sleep(0.1)
            for _ in range(args.workers - 1):
                c.start_worker(len(cabs))
        while not tr.idle():
            time.sleep(0.05)
        wall = time.time() - start
        tr.stop = True
        verdicts = sorted({d[2] for d in tr.done.values()})
        return wall, verdicts, tr.errors
    finally:
        c.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/mdscan")
    ap.add_argument("--corpus", default="bench-corpus")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--scenarios", default="rate,routing")
    ap.add_argument("--rates", default="1,2,3,4",
                    help="files per second, tried in order (scenario rate)")
    ap.add_argument("--seconds", type=float, default=30, help="submission window per rate")
    ap.add_argument("--rate-fanout", choices=("off", "default"), default="off",
                    help="scenario rate: fan-out off, or the default (members past the "
                    "200th of an archive become tasks of their own)")
    ap.add_argument("--drain", type=float, default=300, help="longest wait after the window")
    args = ap.parse_args()
    args.tmp = tempfile.mkdtemp(prefix="mdscan-seed-bench-")
    read = lambda p: open(os.path.join(args.corpus, p), "rb").read()  # noqa: E731
    print(f"binary {args.bin}; {os.cpu_count()} cores; {args.workers} workers, each pinned "
          f"to one core with one scan thread")
    try:
        if "rate" in args.scenarios:
            files = [(n, read(f"seed/{n}")) for n in ("app.rpm", "app.cab", "setup.exe")]
            sizes = ", ".join(f"{n} {len(d) / 1e6:.1f} MB" for n, d in files)
            print(f"rate: {sizes}; {args.seconds:.0f} s per rate; fan-out {args.rate_fanout}")
            for r in [float(x) for x in args.rates.split(",")]:
                res = run_rate(args, files, r)
                f = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
                print(f"rate {r:g}/s: {res['done']}/{res['submitted']} done; turnaround s "
                      f"p50 {f(res['p50'])} p90 {f(res['p90'])} p99 {f(res['p99'])} "
                      f"max {f(res['max'])}; first third {res['first']:.2f}, last third "
                      f"{res['last']:.2f}; queue peak {res['queue_peak']}, at window end "
                      f"{res['queue_end']}; drained {res['drain']:.1f} s after the "
                      f"{res['window']:.0f} s window; verdicts {res['verdicts']}; "
                      f"{'sustained' if res['sustained'] else 'NOT sustained'}"
                      + (f"; errors {res['errors']}" if res["errors"] else ""))
                sys.stdout.flush()
        if "routing" in args.scenarios:
            cabs = [(f"big{k}.cab", read(f"seed/big{k}.cab")) for k in range(1, 5)]
            print(f"routing: 4 cabinets of {len(cabs[0][1]) / 1e6:.1f} MB (512 MiB expanded each)")
            for fanout in (False, True):
                walls = {}
                for mode in ("OneToOne", "FourToOne"):
                    wall, verdicts, errors = run_routing(args, cabs, mode, fanout)
                    walls[mode] = wall
                    print(f"{mode:9} fan-out {'on ' if fanout else 'off'}: {wall:.2f} s "
                          f"(verdicts {verdicts})" + (f"; errors {errors}" if errors else ""))
                    sys.stdout.flush()
                print(f"  FourToOne / OneToOne, fan-out {'on' if fanout else 'off'}: "
                      f"{walls['FourToOne'] / walls['OneToOne']:.2f}")
    finally:
        shutil.rmtree(args.tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
