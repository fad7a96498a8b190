#!/usr/bin/env bash
# Runs clients.cjs (the npm clamd clients: clamscan, clamdjs), installed
# from npm into target/clamd-node on first use (under a lock, as tests run
# in parallel). Usage: run.sh SOCKET PORT EICAR CLEAN FOLDER
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="${CARGO_TARGET_DIR:-$here/../../../target}"
dir="$target/clamd-node"
mkdir -p "$dir"
(
  flock 9
  if [ ! -f "$dir/node_modules/clamscan/package.json" ] || [ ! -f "$dir/node_modules/clamdjs/package.json" ]; then
    cp "$here/package.json" "$here/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
  fi
) 9>"$dir.lock"
NODE_PATH="$dir/node_modules" exec node "$here/clients.cjs" "$@"
