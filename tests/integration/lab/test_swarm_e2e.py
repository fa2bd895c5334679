"""The Swarm on the converged lab: node table, labels, networks, placement, overlay traffic, and
fault drills each followed by a converge that heals."""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from ansible_collections.mediastack.core.plugins.filter.swarm_constraints import swarm_constraints

from ..helpers import ROOT, playbook, recap, wait_for

MANAGERS = ["mslab-m1", "mslab-m2", "mslab-m3"]
WORKERS = ["mslab-w1", "mslab-w2"]
# The inventory's labels, plus on the GPU node those the nvidia role sets from its (simulated, in the lab) GPU.
LABELS = {"mslab-w1": {"type": "media", "gpu": "true", "gpu.vendor": "nvidia", "gpu.count": "1", "gpu.nvenc": "true"},
          "mslab-w2": {"type": "data", "ssd": "true"}}
# The overlays as the swarm role creates them by default (the lab inventory does not override them).
SEGMENTS = {n["name"]: n["subnet"] for n in yaml.safe_load((ROOT / "roles/swarm/defaults/main.yml").read_text())["swarm_networks"]}


def sh(node: str, *cmd: str, check: bool = True) -> str:
    proc = subprocess.run(["docker", "exec", node, *cmd], text=True, capture_output=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("%s: %s failed: %s" % (node, " ".join(cmd), proc.stderr))
    return proc.stdout.strip()


def manager_cli(*cmd: str, node: str = "mslab-m1", check: bool = True) -> str:
    return sh(node, "docker", *cmd, check=check)


def node_table(node: str = "mslab-m1") -> dict[str, dict]:
    rows = [json.loads(line) for line in manager_cli("node", "ls", "--format", "{{json .}}", node=node).splitlines()]
    return {r["Hostname"]: r for r in rows}


def running_tasks(service: str) -> list[dict]:
    out = manager_cli("service", "ps", service, "--filter", "desired-state=running", "--format", "{{json .}}")
    return [t for t in (json.loads(line) for line in out.splitlines()) if t["CurrentState"].startswith("Running")]


def all_on(service_name: str, count: int, node: str) -> bool:
    tasks = running_tasks(service_name)
    return len(tasks) == count and all(t["Node"] == node for t in tasks)


def heal(lab) -> None:
    proc = playbook("-i", lab["inventory"], "site.yml", "--tags", "docker,swarm")
    assert proc.returncode == 0, proc.stdout[-4000:]


@pytest.fixture(scope="module")
def swarm(converged, lab):
    assert converged.returncode == 0, converged.stdout[-4000:]
    return lab


@pytest.fixture(scope="module")
def image(swarm, lab_image):
    return lab_image


def service(name: str, image: str, *args: str) -> None:
    sh("mslab-m1", "docker", "service", "rm", name, check=False)
    manager_cli("service", "create", "--detach", "--name", name, "--endpoint-mode", "dnsrr", *args,
                image, "python3", "-m", "http.server", "8080")


def test_node_table(swarm):
    table = node_table()
    print("\nSwarm nodes (docker node ls on mslab-m1)")
    print("%-10s %-7s %-7s %-10s %s" % ("node", "status", "avail", "manager", "labels"))
    for name in sorted(table):
        labels = json.loads(manager_cli("node", "inspect", name, "--format", "{{json .Spec.Labels}}"))
        row = table[name]
        print("%-10s %-7s %-7s %-10s %s" % (name, row["Status"], row["Availability"], row["ManagerStatus"] or "-", labels))
    assert sorted(table) == MANAGERS + WORKERS
    assert sorted(table[m]["ManagerStatus"] for m in MANAGERS) == ["Leader", "Reachable", "Reachable"]
    assert all(table[w]["ManagerStatus"] == "" and table[w]["Status"] == "Ready" for w in WORKERS)
    assert all(r["Status"] == "Ready" for r in table.values())


def test_labels_match_inventory(swarm):
    for name in MANAGERS + WORKERS:
        labels = json.loads(manager_cli("node", "inspect", name, "--format", "{{json .Spec.Labels}}"))
        assert labels == LABELS.get(name, {}), name


def test_segment_networks(swarm):
    for name, subnet in SEGMENTS.items():
        net = json.loads(manager_cli("network", "inspect", name))[0]
        assert net["Driver"] == "overlay" and net["Scope"] == "swarm" and net["Attachable"] is True
        assert [c["Subnet"] for c in net["IPAM"]["Config"]] == [subnet]


def test_constrained_service_lands_only_on_matching_nodes(swarm, image):
    constraints = swarm_constraints({"role": "media", "gpu": True})
    args = ["--replicas", "3", "--network", "media"]
    for c in constraints:
        args += ["--constraint", c]
    service("probe-media", image, *args)
    tasks = wait_for(lambda: len(running_tasks("probe-media")) == 3 and running_tasks("probe-media"), 180)
    assert tasks, manager_cli("service", "ps", "probe-media", "--no-trunc")
    assert {t["Node"] for t in tasks} == {"mslab-w1"}
    service("probe-data", image, "--replicas", "2", "--network", "data",
            *sum((["--constraint", c] for c in swarm_constraints({"role": "data"})), []))
    tasks = wait_for(lambda: len(running_tasks("probe-data")) == 2 and running_tasks("probe-data"), 180)
    assert tasks and {t["Node"] for t in tasks} == {"mslab-w2"}


def test_tasks_on_different_nodes_reach_each_other_over_the_overlay(swarm, image):
    service("probe-mesh", image, "--mode", "global", "--network", "media")
    tasks = wait_for(lambda: len(running_tasks("probe-mesh")) == 5 and running_tasks("probe-mesh"), 180)
    assert tasks and {t["Node"] for t in tasks} == set(MANAGERS + WORKERS)
    container = sh("mslab-m1", "docker", "ps", "-q", "--filter", "label=com.docker.swarm.service.name=probe-mesh")
    addresses = wait_for(lambda: sorted(set(
        sh("mslab-m1", "docker", "exec", container, "getent", "ahostsv4", "tasks.probe-mesh", check=False).split()[::3])), 30)
    addresses = [a for a in addresses if a.startswith(SEGMENTS["media"].rsplit(".", 2)[0] + ".")]
    assert len(addresses) == 5, addresses
    for address in addresses:
        out = sh("mslab-m1", "docker", "exec", container, "curl", "-fsS", "-o", "/dev/null", "-w", "%{http_code}",
                 "--max-time", "5", "http://%s:8080/" % address)
        assert out == "200", address


def test_drill_manager_engine_down_quorum_held(swarm):
    sh("mslab-m3", "systemctl", "stop", "docker.socket", "docker.service")
    try:
        down = wait_for(lambda: node_table()["mslab-m3"]["ManagerStatus"] == "Unreachable", 60)
        assert down, node_table()
        start = time.monotonic()
        manager_cli("service", "update", "--detach", "--env-add", "DRILL=quorum", "probe-mesh", node="mslab-m2")
        spec = json.loads(manager_cli("service", "inspect", "probe-mesh"))[0]["Spec"]
        assert "DRILL=quorum" in spec["TaskTemplate"]["ContainerSpec"].get("Env", [])
        print("\ndrill: manager mslab-m3 engine stopped -> service update accepted by the 2 remaining managers in %.1f s"
              % (time.monotonic() - start))
    finally:
        heal(swarm)
    assert wait_for(lambda: node_table()["mslab-m3"]["ManagerStatus"] == "Reachable", 60)


def test_drill_worker_down_replicas_rescheduled_within_60s(swarm, image):
    service("probe-workers", image, "--replicas", "4", "--network", "admin", "--constraint", "node.role==worker")
    tasks = wait_for(lambda: len(running_tasks("probe-workers")) == 4 and running_tasks("probe-workers"), 180)
    assert tasks and {t["Node"] for t in tasks} <= set(WORKERS)
    sh("mslab-w2", "systemctl", "stop", "docker.socket", "docker.service")
    start = time.monotonic()
    try:
        moved = wait_for(lambda: all_on("probe-workers", 4, "mslab-w1"), 90)
        elapsed = time.monotonic() - start
        print("\ndrill: worker mslab-w2 engine stopped -> 4/4 replicas running on mslab-w1 after %.1f s" % elapsed)
        assert moved, manager_cli("service", "ps", "probe-workers")
        assert elapsed <= 60
    finally:
        heal(swarm)
    assert wait_for(lambda: node_table()["mslab-w2"]["Status"] == "Ready", 60)


def test_drill_label_removed_from_inventory_is_removed_from_node(swarm, tmp_path: Path):
    override = tmp_path / "override.yml"
    # Without w1's gpu label no node has a GPU, which the validation play refuses while a GPU service (jellyfin) is
    # enabled: the drill's inventory also leaves jellyfin out, as a user removing the GPU node would.
    enabled = ["traefik", "authelia", "redis", "postgres", "navidrome", "audiobookshelf", "grafana", "loki", "promtail"]
    override.write_text(yaml.safe_dump({"all": {"hosts": {"mslab-w1": {"swarm_node_labels": {"type": "media"}}},
                                                "vars": {"services_enabled": enabled}}}))
    proc = playbook("-i", swarm["inventory"], "-i", str(override), "site.yml", "--tags", "swarm")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert json.loads(manager_cli("node", "inspect", "mslab-w1", "--format", "{{json .Spec.Labels}}")) == {"type": "media"}
    proc = playbook("-i", swarm["inventory"], "site.yml", "--tags", "swarm")
    assert proc.returncode == 0
    assert json.loads(manager_cli("node", "inspect", "mslab-w1", "--format", "{{json .Spec.Labels}}")) == LABELS["mslab-w1"]


def test_after_drills_a_converge_changes_nothing(swarm):
    for name in ("probe-media", "probe-data", "probe-mesh", "probe-workers"):
        sh("mslab-m1", "docker", "service", "rm", name, check=False)
    proc = playbook("-i", swarm["inventory"], "site.yml")
    assert proc.returncode == 0, proc.stdout[-4000:]
    table = recap(proc.stdout)
    assert {h: s["changed"] for h, s in table.items()} == {h: 0 for h in MANAGERS + WORKERS}
