#!/usr/bin/env bash
# Runs drive.cjs (the console in a real browser) with playwright-core,
# installed from npm into target/console-node on first use, and Debian's
# Chromium (/usr/bin/chromium; .ci/run installs it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="${CARGO_TARGET_DIR:-$here/../../../target}"
dir="$target/console-node"
if [ ! -f "$dir/node_modules/playwright-core/package.json" ]; then
  mkdir -p "$dir"
  cp "$here/package.json" "$here/package-lock.json" "$dir/"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
PW_DIR="$dir/node_modules/playwright-core" exec node "$here/drive.cjs" "$@"
