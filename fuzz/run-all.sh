#!/usr/bin/env bash
# Fuzzes every target for SECONDS (default 600) each, JOBS targets at a time
# (default 2), growing corpus/<target>/; crashes land in artifacts/<target>/.
#   fuzz/run-all.sh [SECONDS] [JOBS]
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-600}"
jobs="${2:-2}"
export RUSTC_BOOTSTRAP=1
[ -d corpus ] || ./make-corpus.sh
cargo fuzz build -O
mkdir -p logs
cargo fuzz list | xargs -P "$jobs" -I{} sh -c \
  "mkdir -p corpus/{} && cargo fuzz run -O {} corpus/{} -- -max_total_time=$secs -dict=formats.dict -max_len=262144 -rss_limit_mb=4096 -timeout=60 > logs/{}.log 2>&1; echo \"{}: exit \$?\""
