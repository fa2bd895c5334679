#!/usr/bin/env bash
# Run the GPU module code against a real NVIDIA GPU and print facts and assignments.
#
# For a machine with a real GPU (the `device` machine), never CI. Needs only python3 and this
# checkout: nvidia-ml-py comes from a wheel carried in $DEVICE_CARRY (default .device-carry/,
# filled by `pip download --no-deps nvidia-ml-py==13.615.71 -d .device-carry`), unpacked onto
# PYTHONPATH (it is pure Python), so neither pip nor a network is needed.
#
# Usage: tests/device/run_gpu_module.sh [--allow-no-gpu]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CARRY="${DEVICE_CARRY:-$ROOT/.device-carry}"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

echo "host: $(uname -srm); python: $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi -L || true
    nvidia-smi --query-gpu=name,driver_version,memory.total,mig.mode.current --format=csv || true
else
    echo "nvidia-smi: not on PATH"
fi

if "$PYTHON" -c 'import pynvml' 2>/dev/null; then
    echo "pynvml: already importable"
else
    shopt -s nullglob
    wheels=("$CARRY"/nvidia_ml_py-*.whl)
    if ((${#wheels[@]} == 0)); then
        echo "no nvidia-ml-py wheel in $CARRY and pynvml is not installed" >&2
        exit 2
    fi
    "$PYTHON" -m zipfile -e "${wheels[-1]}" "$WORK/site"
    export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
    echo "pynvml: from $(basename "${wheels[-1]}")"
fi

exec "$PYTHON" "$ROOT/tests/device/gpu_device_check.py" "$@"
