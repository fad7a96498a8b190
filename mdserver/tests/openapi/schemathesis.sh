#!/usr/bin/env bash
# Runs schemathesis (PyPI, pinned in requirements.txt, installed into
# target/schemathesis-venv on first use) with the arguments given.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="${CARGO_TARGET_DIR:-$here/../../../target}"
venv="$target/schemathesis-venv"
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
fi
exec "$venv/bin/schemathesis" "$@"
