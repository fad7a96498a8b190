#!/usr/bin/env bash
# Runs one of the third-party tools of the sanitization and vulnerability
# tests (olevba, mraptor, msodde, rtfobj from oletools; pdfid; python with
# pikepdf; pip with wheel, to build wheels), all
# from PyPI, installed into target/cdr-venv on first use (under a lock, as
# tests run in parallel). Usage: cdr-tools.sh PROGRAM ARGS... (pdfid has
# no program of its own: `python -m pdfid`).
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
venv="${MDSCAN_CDR_VENV:-$root/target/cdr-venv}"
mkdir -p "$(dirname "$venv")"
(
  flock 9
  if [ ! -x "$venv/bin/olevba" ] || ! "$venv/bin/python" -c 'import pdfid, pikepdf, wheel' 2>/dev/null; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q 'oletools==0.60.2' 'pdfid==1.1.3' 'pikepdf==10.18.0' 'wheel==0.45.1' >&2
  fi
) 9>"$venv.lock"
prog="$1"
shift
exec "$venv/bin/$prog" "$@"
