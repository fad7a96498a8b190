#!/usr/bin/env python3
"""ClamAV-scale signature databases: load time, peak memory and scan time
of clamscan and of mdscan's ClamAV engine, side by side in one run.

Generates a seeded synthetic database in realistic shapes (defaults: 1M
MD5 and 200k SHA-256 hash lines, 20k section hashes, 100k body signatures,
30k logical signatures of which 10% carry a PCRE subsignature), then runs
each scanner over an empty file (load) and, with --corpus, over a
directory of files (scan), measuring wall time and peak RSS of each run
with wait4(2). Both get only this database (mdscan without its built-in
YARA rule).

    python3 benches/clamav_bench.py --mdscan target/release/mdscan \
        [--corpus bench-corpus] [--scale 1.0]
"""

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time


def hexs(rng, n):
    return "".join(f"{rng.randrange(256):02x}" for _ in range(n))


def body(rng, lo, hi):
    """A body pattern: fixed hex with the odd wildcard, gap or alternative."""
    parts = [hexs(rng, rng.randint(lo, hi))]
    for _ in range(rng.randint(0, 2)):
        r = rng.random()
        if r < 0.3:
            parts.append("??" + hexs(rng, rng.randint(4, 12)))
        elif r < 0.5:
            parts.append("{%d-%d}" % (rng.randint(0, 8), rng.randint(9, 32)) + hexs(rng, rng.randint(4, 12)))
        elif r < 0.6:
            parts.append("*" + hexs(rng, rng.randint(4, 12)))
        else:
            parts.append("(%s|%s)" % (hexs(rng, 1), hexs(rng, 1)) + hexs(rng, rng.randint(4, 12)))
    return "".join(parts)


def generate(out, scale, seed):
    rng = random.Random(seed)
    n = lambda x: max(1, int(x * scale))
    with open(os.path.join(out, "bench.hdb"), "w") as f:
        for i in range(n(1_000_000)):
            f.write(f"{hexs(rng, 16)}:{rng.randint(100, 5_000_000)}:Bench.Md5-{i}\n")
    with open(os.path.join(out, "bench.hsb"), "w") as f:
        for i in range(n(200_000)):
            size = "*" if rng.random() < 0.1 else str(rng.randint(100, 5_000_000))
            level = ":73" if size == "*" else ""
            f.write(f"{hexs(rng, 32)}:{size}:Bench.Sha256-{i}{level}\n")
    with open(os.path.join(out, "bench.mdb"), "w") as f:
        for i in range(n(20_000)):
            f.write(f"{rng.randint(512, 500_000)}:{hexs(rng, 16)}:Bench.Section-{i}\n")
    with open(os.path.join(out, "bench.ndb"), "w") as f:
        for i in range(n(100_000)):
            target = rng.choice([0, 0, 0, 1, 1, 6])
            offset = "*" if rng.random() < 0.8 else str(rng.randint(0, 4096))
            f.write(f"Bench.Body-{i}:{target}:{offset}:{body(rng, 8, 32)}\n")
    with open(os.path.join(out, "bench.ldb"), "w") as f:
        for i in range(n(30_000)):
            k = rng.randint(2, 4)
            subs = [body(rng, 6, 20) for _ in range(k)]
            expr = "&".join(str(j) for j in range(k)) if rng.random() < 0.5 else \
                "(" + "|".join(str(j) for j in range(k)) + ")>1"
            if rng.random() < 0.1:
                subs.append("0/bench%d[0-9]+x/" % i)
                expr = f"({expr})&{k}" if ")" in expr else f"{expr}&{k}"
            f.write(f"Bench.Logical-{i};Engine:81-255,Target:0;{expr};{';'.join(subs)}\n")


def run(cmd):
    """Wall seconds, peak RSS in MiB, exit code and output of one run."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.monotonic() - start, usage.ru_maxrss / 1024, proc.returncode, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mdscan", required=True)
    ap.add_argument("--clamscan", default="clamscan")
    ap.add_argument("--corpus", help="a directory of files to scan with the database")
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the default database size")
    ap.add_argument("--seed", type=int, default=31)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="mdscan-clamav-bench-")
    try:
        db = os.path.join(work, "db")
        os.mkdir(db)
        t = time.monotonic()
        generate(db, args.scale, args.seed)
        size = sum(os.path.getsize(os.path.join(db, f)) for f in os.listdir(db))
        print(f"database: {size / 1e6:.0f} MB of signatures in {time.monotonic() - t:.0f} s (scale {args.scale})")
        empty = os.path.join(work, "empty.txt")
        with open(empty, "w") as f:
            f.write("nothing to see here\n")
        runs = [
            ("load", "clamscan", [args.clamscan, "--no-summary", "-d", db, empty]),
            ("load", "mdscan", [args.mdscan, "scan", "--no-default-rules", "-d", db, empty]),
        ]
        if args.corpus:
            runs += [
                ("scan", "clamscan", [args.clamscan, "--no-summary", "-r", "-d", db, args.corpus]),
                ("scan", "mdscan", [args.mdscan, "scan", "--no-default-rules", "-d", db, args.corpus]),
            ]
        print("| run | scanner | wall s | peak RSS MiB | exit |")
        print("|---|---|---|---|---|")
        for what, name, cmd in runs:
            secs, rss, code, out = run(cmd)
            print(f"| {what} | {name} | {secs:.2f} | {rss:.0f} | {code} |")
            if code not in (0, 1):
                sys.stderr.write(out.decode(errors="replace")[-2000:])
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
