"""Benchmark (not a test): how long site.yml takes to build the Swarm and to do nothing.

For each lab size it builds a fresh lab, times the cold converge of site.yml (base OS, Docker
engine, Swarm), then times a no-op rerun (which must report changed=0). Prints a table.

    .venv/bin/python benchmarks/swarm_converge.py            # 3 and 5 nodes
    .venv/bin/python benchmarks/swarm_converge.py --sizes 1:2 3:4
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECAP = re.compile(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def run(*args: str) -> tuple[float, str]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0")
    start = time.monotonic()
    proc = subprocess.run(["ansible-playbook", *args], cwd=ROOT, env=env, text=True, capture_output=True, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:])
        raise SystemExit("ansible-playbook %s failed" % " ".join(args))
    return elapsed, proc.stdout


def changed_total(stdout: str) -> int:
    tail = stdout[stdout.rfind("PLAY RECAP"):]
    return sum(int(m.group(2)) for m in RECAP.finditer(tail))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["1:2", "3:2"], help="managers:workers per lab (default 1:2 3:2)")
    args = parser.parse_args()
    rows = []
    try:
        for size in args.sizes:
            managers, workers = (int(x) for x in size.split(":"))
            run("playbooks/lab_down.yml")
            lab_s, _unused = run("playbooks/lab.yml", "-e", "lab_managers=%d" % managers, "-e", "lab_workers=%d" % workers)
            cold_s, cold_out = run("-i", "inventories/lab/docker.yml", "site.yml")
            noop_s, noop_out = run("-i", "inventories/lab/docker.yml", "site.yml")
            rows.append((managers + workers, managers, workers, lab_s, cold_s, changed_total(cold_out), noop_s, changed_total(noop_out)))
            print("measured %d nodes" % (managers + workers), file=sys.stderr)
    finally:
        run("playbooks/lab_down.yml")
    print("\nsite.yml (common + docker + gpu + swarm) on the local lab, 2-core machine")
    print("%5s %8s %7s %9s %14s %8s %12s %8s" % ("nodes", "managers", "workers", "lab (s)", "cold conv (s)", "changed", "no-op (s)", "changed"))
    for r in rows:
        print("%5d %8d %7d %9.1f %14.1f %8d %12.1f %8d" % r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
