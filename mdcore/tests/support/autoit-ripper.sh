#!/usr/bin/env bash
# Reads a compiled AutoIt script (the bytes from its GUID on) with
# AutoIt-Ripper (PyPI: autoit-ripper), the tool analysts use, and prints one
# line per entry: its name, a tab, the MD5 of its data. The script's text
# is compared without case or white space (AutoIt-Ripper restores the
# names' case from its tables and indents), so its MD5 is of that form.
# Installs AutoIt-Ripper into target/autoit-venv on first use.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
venv="${MDSCAN_AUTOIT_VENV:-$root/target/autoit-venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import autoit_ripper' 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q 'autoit-ripper==1.2.0' >&2
fi
exec "$venv/bin/python" - "$1" <<'PY'
import hashlib, re, sys
from autoit_ripper.autoit_unpack import unpack_ea05
data = open(sys.argv[1], "rb").read()
entries = unpack_ea05(data)
if not entries:
    sys.exit("AutoIt-Ripper read no entry")
for name, blob in entries:
    if name == "script.au3":
        blob = re.sub(rb"\s+", b"", blob).lower()
    print(name + "\t" + hashlib.md5(blob).hexdigest())
PY
