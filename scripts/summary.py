"""Print the lab summary that `make demo` ends with: nodes, their state, and what is validated-only."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from components import COMPONENTS  # noqa: E402  (scripts/components.py, shared with the README check)


def sh(*cmd: str) -> str:
    proc = subprocess.run(cmd, text=True, capture_output=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else "?"


def nodes() -> list[dict]:
    out = subprocess.run(["docker", "ps", "--filter", "label=mediastack.lab.group", "--format", "{{.Names}}"],
                         text=True, capture_output=True, check=True).stdout.split()
    rows = []
    for name in sorted(out):
        info = json.loads(sh("docker", "inspect", name))[0]
        labels = info["Config"]["Labels"]
        net = next(iter(info["NetworkSettings"]["Networks"].values()))
        rows.append({
            "node": name,
            "group": labels.get("mediastack.lab.group", "?"),
            "address": net.get("IPAddress", "?"),
            "labels": ",".join("%s=%s" % kv for kv in sorted(json.loads(labels.get("mediastack.lab.node_labels", "{}")).items())) or "-",
            "systemd": sh("docker", "exec", name, "systemctl", "is-system-running"),
            "media uid": (sh("docker", "exec", name, "getent", "passwd", "media").split(":") + ["?"] * 3)[2],
            "swarm": sh("docker", "exec", name, "docker", "info", "--format", "{{.Swarm.ControlAvailable}}/{{.Swarm.LocalNodeState}}"),
        })
    return rows


def services(manager: str) -> list[dict]:
    """Every Swarm service of the lab: replicas, nodes, URL (its Traefik rule) and real or stand-in image."""
    raw = sh("docker", "exec", manager, "docker", "service", "ls", "--format", "{{json .}}")
    rows = []
    for line in raw.splitlines() if raw != "?" else []:
        svc = json.loads(line)
        spec = json.loads(sh("docker", "exec", manager, "docker", "service", "inspect", svc["Name"]))[0]["Spec"]
        labels = spec.get("Labels", {})
        rule = next((v for k, v in labels.items() if k.startswith("traefik.http.routers.") and k.endswith(".rule")), "")
        host = rule.split("`")[1] if rule.count("`") >= 2 else ""
        image = spec["TaskTemplate"]["ContainerSpec"]["Image"].split("@")[0]
        local = "127.0.0.1:5000/" + image.split("/", 1)[1] if "/" in image else image
        inspect = sh("docker", "image", "inspect", "--format", "{{json .Config.Labels}}", local)
        image_labels = json.loads(inspect) if inspect not in ("?", "null", "") else {}
        if (image_labels or {}).get("mediastack.standin") == "true":
            kind = image_labels.get("mediastack.standin.kind", "stub")
            status = "stand-in (%s)" % ("Debian %s, real" % kind if kind in ("redis", "postgres") else "HTTP stub")
        else:
            status = "real image" if image_labels is not None and inspect != "?" else "?"
        nodes_of = sh("docker", "exec", manager, "docker", "service", "ps", svc["Name"], "--filter", "desired-state=running",
                      "--format", "{{.Node}}")
        rows.append({"service": svc["Name"], "replicas": svc["Replicas"], "nodes": ",".join(sorted(set(nodes_of.split()))) or "-",
                     "url": "https://%s" % host if host else "-", "image": image.rsplit("/", 1)[-1], "status": status})
    return rows


def catalog_apps(deployed: list[dict], domain: str = "media.lab") -> list[dict]:
    """Every service of the catalog: its URL, whether this lab runs it and as what (from the Swarm rows above)."""
    catalog = yaml.safe_load((ROOT / "roles" / "services" / "files" / "catalog-seed.yml").read_text(encoding="utf-8"))
    running = {row["service"].split("_", 1)[0]: row for row in deployed}
    rows = []
    for name, entry in catalog.items():
        route = entry.get("route") or {}
        row = running.get(name)
        rows.append({"app": name, "url": "https://%s.%s" % (route["subdomain"], domain) if route else "- (internal)",
                     "in this lab": ("runs (%s)" % row["replicas"]) if row else ("pinned to a QuickSync node" if entry.get("quicksync")
                                                                                 else "not enabled"),
                     "runs here as": row["status"] if row else "-", "image": str(entry.get("image", "")).rsplit("/", 1)[-1]})
    return rows


def table(rows: list[dict]) -> str:
    if not rows:
        return "(none)"
    cols = list(rows[0])
    width = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(width[c]) for c in cols), "  ".join("-" * width[c] for c in cols)]
    lines += ["  ".join(str(r[c]).ljust(width[c]) for c in cols) for r in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--elapsed", type=int, default=0)
    args = parser.parse_args()
    print("\n==================== mediastack lab summary ====================")
    rows = nodes()
    print(table(rows))
    managers = [r["node"] for r in rows if r["group"] == "swarm_managers"]
    if managers:
        print("\nServices (one stack per catalog service; stand-ins are clearly not the real application):")
        deployed = services(managers[0])
        print(table(deployed))
        print("\nApps of the catalog (enable more with services_enabled; stand-ins answer health and API paths only):")
        print(table(catalog_apps(deployed)))
    print("\nComponents (README table):")
    print(table([{"component": c.name, "issue": c.issue, "status here": c.status, "how it is proven": c.proof} for c in COMPONENTS]))
    if args.elapsed:
        print("\ndemo took %d s; remove the lab with `make lab-down`" % args.elapsed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
