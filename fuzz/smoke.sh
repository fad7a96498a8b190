#!/usr/bin/env bash
# Builds every fuzz target and runs each for a fixed number of iterations
# (default 2000) from the seed corpus: a smoke test CI runs.
#   fuzz/smoke.sh [RUNS]
# The machine has only a stable toolchain; RUSTC_BOOTSTRAP=1 lets cargo-fuzz
# pass the nightly-only sanitizer flags.
set -euo pipefail
cd "$(dirname "$0")"
runs="${1:-2000}"
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
[ -d corpus ] || ./make-corpus.sh
cargo fuzz build -O
for t in $(cargo fuzz list); do
  mkdir -p "corpus/$t"
  # A scratch copy, so the smoke run does not grow the seed corpus.
  scratch=$(mktemp -d)
  cp -r "corpus/$t/." "$scratch/"
  echo "== $t ($runs runs)"
  cargo fuzz run -O "$t" "$scratch" -- -runs="$runs" -dict=formats.dict -max_len=65536 -rss_limit_mb=2048 -timeout=30 2>&1 | tail -3
  rm -rf "$scratch"
  # Every crash ever found stays a regression input.
  if [ -d "regressions/$t" ]; then
    echo "== $t regressions"
    cargo fuzz run -O "$t" regressions/"$t"/* 2>&1 | tail -1
  fi
done
