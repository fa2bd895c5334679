"""Benchmark (not a test): how long site.yml takes on the lab, part by part, and against its floor.

On a fresh 5-node lab (3 managers, 2 workers, every lab service enabled) it measures, in one run:
  - the cold converge of site.yml and a no-op rerun (which must report changed=0), the rerun split into its
    parts (validation, hosts, services, monitoring, backup) and its slowest roles;
  - `--tags <app>` with nothing to change, and with one changed setting (an environment variable);
  - two floors: the host part against a bare fact-gathering play, the services part against
    `docker stack deploy` by hand of the same rendered stack files (services_stack_files_dir);
and, with --scale, the no-op rerun on labs of other sizes (issue 14: 3 -> 8 nodes grows at most 1.5x).
It prints each figure next to its goal and the figure measured before the optimisations (docs/performance.md).

    .venv/bin/python benchmarks/converge.py                       # 5-node lab, about 20 minutes
    .venv/bin/python benchmarks/converge.py --scale 1:2 3:5       # and the 3- and 8-node no-op (about 45 more)
    .venv/bin/python benchmarks/converge.py --keep                # leave the last lab up
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INVENTORY = "inventories/lab/docker.yml"
STACK_DIR = "/root/mediastack-bench-stacks"
# The parts of site.yml, by the first words of their play names (playbooks/site.yml, observability.yml).
PARTS = [("validation", ("Validate",)), ("services", ("Services from the catalog",)),
         ("monitoring", ("Node exporter", "Prometheus and Alertmanager")), ("backup", ("Backups",))]
# Measured on main before issue 14's work (its "Why", and the profile of 2026-12-01 in docs/performance.md).
BEFORE = {"cold": None, "noop": 244.0, "tags_noop": 23.0, "tags_changed": None}
GOALS = {"noop": 60.0, "noop_ratio": 0.2, "tags_noop": 15.0, "tags_changed": 25.0, "cold": 600.0, "growth": 1.5}


def env(**extra: str) -> dict[str, str]:
    return dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0", **extra)


def run(cmd: list[str], **extra: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env(**extra), text=True, capture_output=True, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-2000:])
        raise SystemExit("benchmark: %s failed (exit %d)" % (" ".join(cmd), proc.returncode))
    return elapsed, proc


def site(*args: str) -> dict:
    """site.yml on the lab with the JSON callback: wall time, changed per host, seconds per play and per role."""
    elapsed, proc = run(["ansible-playbook", "-i", INVENTORY, "site.yml", *args], ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    report = json.loads(proc.stdout[proc.stdout.index("{"):])
    changed = sum(s["changed"] for s in report["stats"].values())
    print("  site.yml %s: %.1f s, changed=%d" % (" ".join(args) or "(all)", elapsed, changed), file=sys.stderr, flush=True)
    plays, roles = [], {}
    for play in report["plays"]:
        plays.append((play["play"]["name"], _seconds(play["play"]["duration"])))
        for task in play["tasks"]:
            name = task["task"]["name"]
            role = name.split(" : ", 1)[0].replace("mediastack.core.", "") if " : " in name else "(play tasks)"
            roles[role] = roles.get(role, 0.0) + _seconds(task["task"]["duration"])
    return {"seconds": elapsed, "changed": {h: s["changed"] for h, s in report["stats"].items()}, "plays": plays, "roles": roles}


def _seconds(duration: dict) -> float:
    if not duration.get("end"):
        return 0.0
    parse = datetime.datetime.fromisoformat
    return (parse(duration["end"].replace("Z", "+00:00")) - parse(duration["start"].replace("Z", "+00:00"))).total_seconds()


def parts(result: dict) -> dict[str, float]:
    """Seconds per part of site.yml; 'hosts' is every play that is none of the named parts (preflight to Swarm)."""
    out = {name: 0.0 for name, _unused in PARTS}
    out["hosts"] = 0.0
    for name, seconds in result["plays"]:
        part = next((p for p, prefixes in PARTS if name.startswith(prefixes)), "hosts")
        out[part] += seconds
    return out


def fresh_lab(managers: int, workers: int) -> None:
    run(["ansible-playbook", "playbooks/lab_down.yml"])
    run(["ansible-playbook", "playbooks/lab.yml", "-e", "lab_managers=%d" % managers, "-e", "lab_workers=%d" % workers])
    run([sys.executable, "scripts/standin_images.py", "--push", "127.0.0.1:5000"])


def assert_noop(result: dict, what: str) -> None:
    changed = {h: c for h, c in result["changed"].items() if c}
    if changed:
        raise SystemExit("benchmark: %s changed something (%s): the figures would not be a no-op's" % (what, changed))


def first_manager() -> str:
    """The node the services role runs on: the inventory's swarm_managers[0] (its order is the plugin's, not the name's)."""
    _unused, proc = run(["ansible-inventory", "-i", INVENTORY, "--list"])
    return json.loads(proc.stdout)["swarm_managers"]["hosts"][0]


def floors() -> dict[str, float]:
    """The bare fact-gathering play, and `docker stack deploy` by hand of the rendered stacks on the manager."""
    manager = first_manager()
    facts_s, _unused = run(["ansible-playbook", "-i", INVENTORY, "benchmarks/facts.yml"])
    site("--tags", "services", "-e", "services_stack_files_dir=%s" % STACK_DIR)
    script = ("cd %s && for f in *.yml; do docker stack deploy --prune --resolve-image never -c \"$f\" \"${f%%.yml}\""
              " >/dev/null || exit 1; done" % STACK_DIR)
    files = subprocess.run(["docker", "exec", manager, "sh", "-c", "ls %s" % STACK_DIR], text=True, capture_output=True, check=False)
    print("  rendered stacks on %s: %s" % (manager, (files.stdout + files.stderr).strip()), file=sys.stderr, flush=True)
    deploy_s, _unused = run(["docker", "exec", manager, "sh", "-c", script])
    print("  bare facts play %.1f s; docker stack deploy by hand %.1f s" % (facts_s, deploy_s), file=sys.stderr, flush=True)
    return {"facts": facts_s, "stack_deploy": deploy_s}


def row(label: str, value: float, goal: str, before: object, ok: bool | None) -> str:
    verdict = "" if ok is None else ("met" if ok else "NOT MET")
    before_s = "%.1f" % before if isinstance(before, float) else (before or "-")
    shown = "%.2f" % value if value < 10 else "%.1f" % value  # ratios need two decimals (0.15 is not 0.2)
    return "%-46s %10s %14s %10s  %s" % (label, shown, goal, before_s, verdict)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", default="navidrome", help="the app of the --tags figures (default navidrome)")
    parser.add_argument("--scale", nargs="*", default=[], help="managers:workers of extra labs for the no-op growth (e.g. 1:2 3:5)")
    parser.add_argument("--keep", action="store_true", help="leave the last lab up")
    args = parser.parse_args()
    changed_setting = json.dumps({"services_catalog_overrides": {"jellyfin": {"resources": {"cpus": 2}},
                                                                 args.app: {"env": {"MEDIASTACK_BENCH": "changed"}}}})
    try:
        fresh_lab(3, 2)
        cold = site()
        noop = site()
        assert_noop(noop, "the no-op rerun")
        tags_noop = site("--tags", args.app)
        assert_noop(tags_noop, "--tags %s" % args.app)
        tags_changed = site("--tags", args.app, "-e", changed_setting)
        site("--tags", args.app)  # back to the inventory's setting
        floor = floors()
        scale = []
        for size in args.scale:
            managers, workers = (int(x) for x in size.split(":"))
            fresh_lab(managers, workers)
            scale_cold = site()
            scale_noop = site()
            assert_noop(scale_noop, "the no-op rerun on %s" % size)
            scale.append((managers + workers, scale_cold["seconds"], scale_noop["seconds"]))
    finally:
        if not args.keep:
            run(["ansible-playbook", "playbooks/lab_down.yml"])

    noop_parts = parts(noop)
    print("\nsite.yml on the 5-node lab (3 managers, 2 workers, the lab inventory's services), %d CPU cores" % (os.cpu_count() or 0))
    print("%-46s %10s %14s %10s  %s" % ("figure", "seconds", "goal", "before", ""))
    print(row("cold converge", cold["seconds"], "<= 600", BEFORE["cold"], cold["seconds"] <= GOALS["cold"]))
    print(row("no-op rerun (changed=0)", noop["seconds"], "<= 60", BEFORE["noop"], noop["seconds"] <= GOALS["noop"]))
    ratio = noop["seconds"] / cold["seconds"]
    print(row("no-op / cold (ratio)", ratio, "<= 0.2", "0.65", ratio <= GOALS["noop_ratio"]))
    print(row("--tags %s, nothing to change" % args.app, tags_noop["seconds"], "<= 15", BEFORE["tags_noop"],
              tags_noop["seconds"] <= GOALS["tags_noop"]))
    print(row("--tags %s, one changed setting" % args.app, tags_changed["seconds"], "<= 25", BEFORE["tags_changed"],
              tags_changed["seconds"] <= GOALS["tags_changed"]))
    host_ratio = noop_parts["hosts"] / floor["facts"]
    services_ratio = noop_parts["services"] / floor["stack_deploy"]
    print(row("hosts part of the no-op / bare facts play", host_ratio, "(printed)", None, None))
    print(row("services part of the no-op / stack deploy by hand", services_ratio, "(printed)", None, None))
    for nodes, scale_cold, scale_noop in scale:
        print(row("%d nodes: cold converge" % nodes, scale_cold, "", None, None))
        print(row("%d nodes: no-op rerun" % nodes, scale_noop, "", None, None))
    if len(scale) >= 2:
        growth = scale[-1][2] / scale[0][2]
        print(row("no-op growth %d -> %d nodes (ratio)" % (scale[0][0], scale[-1][0]), growth, "<= 1.5", None, growth <= GOALS["growth"]))
    print("\nparts of the no-op rerun (s): %s" % ", ".join("%s %.1f" % kv for kv in noop_parts.items()))
    print("floors (s): bare fact-gathering play %.1f, docker stack deploy of the rendered stacks %.1f" % (floor["facts"], floor["stack_deploy"]))
    print("\nslowest roles of the no-op rerun (s):")
    for role, seconds in sorted(noop["roles"].items(), key=lambda kv: -kv[1])[:12]:
        print("  %-40s %7.1f" % (role, seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
