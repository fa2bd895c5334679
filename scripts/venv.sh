#!/usr/bin/env bash
# Create or refresh the controller venv from requirements.txt; reused while the file is unchanged.
set -euo pipefail
venv=${1:-.venv}
req=$(cd "$(dirname "$0")/.." && pwd)/requirements.txt
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -f "$venv/bin/.requirements.sha" ] && [ "$(cat "$venv/bin/.requirements.sha")" = "$want" ]; then
  exit 0
fi
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
"$venv/bin/python" -m pip install -q -r "$req"
echo "$want" > "$venv/bin/.requirements.sha"
echo "venv: $venv ready ($("$venv/bin/ansible" --version | head -1))" >&2
