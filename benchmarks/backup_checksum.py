"""Benchmark (not a test): the manifest checksum pass of backup_verify/manifest_compare vs sha256sum.

    .venv/bin/python benchmarks/backup_checksum.py [--mb 200] [--files 300]

Writes random files to a temporary directory, warms the page cache, then times
``build_manifest`` (thread pool, and one thread) and ``sha256sum`` over the same files, checks
that every digest agrees, and prints the times and the ratios (module / sha256sum).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".cache" / "collections"))
from ansible_collections.mediastack.core.plugins.module_utils.backup.manifest import build_manifest  # noqa: E402


def best_of(runs: int, func):
    times, result = [], None
    for _unused1 in range(runs):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-checksum-"))
    try:
        total = args.mb * 1024 * 1024
        sizes = [total // args.files] * args.files
        for index, size in enumerate(sizes):
            (root / f"d{index % 10}").mkdir(exist_ok=True)
            (root / f"d{index % 10}" / f"f{index:04d}.bin").write_bytes(os.urandom(size))
        files = sorted(str(p) for p in root.rglob("*.bin"))

        def sha256sum():
            out = subprocess.run(["sha256sum", *files], check=True, capture_output=True, text=True).stdout
            return {line[66:]: line[:64] for line in out.splitlines()}

        sha256sum()  # warm the page cache
        t_tool, tool = best_of(args.runs, sha256sum)
        t_pool, pool = best_of(args.runs, lambda: build_manifest([str(root)]))
        t_one, one = best_of(args.runs, lambda: build_manifest([str(root)], workers=1))
        assert pool == tool == one, "digests differ"
        mb = sum(sizes) / 1024 / 1024
        print(f"{len(files)} files, {mb:.0f} MiB, {os.cpu_count()} CPUs, best of {args.runs}")
        print(f"sha256sum                : {t_tool:6.3f} s  ({mb / t_tool:7.1f} MiB/s)")
        print(f"build_manifest (threads) : {t_pool:6.3f} s  ({mb / t_pool:7.1f} MiB/s)  ratio module/sha256sum = {t_pool / t_tool:.2f}")
        print(f"build_manifest (1 thread): {t_one:6.3f} s  ({mb / t_one:7.1f} MiB/s)  ratio module/sha256sum = {t_one / t_tool:.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
