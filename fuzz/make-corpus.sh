#!/usr/bin/env bash
# Generates the seed corpora under fuzz/corpus/<target>/ from small valid
# archives (built by mdcore/examples/fuzz_seeds.rs with the test builders).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run -q -p mdcore --example fuzz_seeds -- fuzz/corpus
