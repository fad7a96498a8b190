#!/usr/bin/env bash
# Runs Python with the PyPI clamd client libraries (clamd, clamav-client,
# pyClamd) installed into target/clamd-venv on first use (under a lock, as
# tests run in parallel). Usage: clamd-clients.sh ARGS... (python's arguments).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/target/clamd-venv"
mkdir -p "$(dirname "$venv")"
(
  flock 9
  if ! "$venv/bin/python" -c 'import clamd, clamav_client, pyclamd' 2>/dev/null; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q 'clamd==1.0.2' 'clamav-client==0.7.2' 'pyClamd==0.4.0' >&2
  fi
) 9>"$venv.lock"
exec "$venv/bin/python" "$@"
