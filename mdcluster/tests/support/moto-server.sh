#!/usr/bin/env bash
# Starts a local S3-compatible server (moto, from PyPI) on 127.0.0.1:$1 for
# the S3 blob-store tests; `-c CERT -k KEY` after the port serve HTTPS.
# Installs moto into target/moto-venv on first use.
set -euo pipefail
port="$1"
root="$(cd "$(dirname "$0")/../../.." && pwd)"
venv="${MDSCAN_MOTO_VENV:-$root/target/moto-venv}"
if [ ! -x "$venv/bin/moto_server" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q 'moto[server]==5.2.5' >&2
fi
exec "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" "${@:2}"
