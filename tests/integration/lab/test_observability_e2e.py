"""Observability on the lab Swarm: tests/integration/observability/drill.md, steps 1 to 5.

site.yml deploys the monitoring (its last plays, imported from playbooks/observability.yml): on the
converged lab `site.yml --tags monitoring` and then playbooks/observability.yml alone must change
nothing; then Prometheus on the
first manager must scrape every node, load the shipped rules, and turn a nearly full filesystem on a
worker into a critical DiskUsage alert in Alertmanager, which inhibits a warning with the labels of the
inhibit rule's `equal` list. A stopped node exporter raises ServiceDown (step 4). Both drills are undone
at the end and their alerts must resolve.

The DiskUsage drill needs `for: 2m` plus a scrape and an evaluation, the longest wait here, so its
filesystem is filled right after the first playbook run and its clock runs during the idempotence run and
steps 1, 2 and 4. Every wait polls; `pytest -s` shows the figures.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import datetime, timezone
from typing import Any, Callable

import pytest
import yaml

from ..helpers import ROOT, env, playbook, poll, recap

PLAYBOOK = "playbooks/observability.yml"
PROMETHEUS = "http://localhost:9090"
ALERTMANAGER = "http://localhost:9093"
DRILL_MOUNT = "/mnt/drill"
DRILL_SIZE_MIB = 16
DRILL_FILL_MIB = 15  # 15 of 16 MiB: about 94 % used, above DiskUsage's 90 %
EXPORTER_SERVICE = yaml.safe_load((ROOT / "roles/node_exporter/defaults/main.yml").read_text())[
    "node_exporter_service_name"]
SCRAPE_INTERVAL_S = int(yaml.safe_load((ROOT / "roles/prometheus/defaults/main.yml").read_text())[
    "prometheus_scrape_interval"].rstrip("s"))
# What a user tolerates: every node up within two minutes of the playbook ending, i.e. a handful of scrape
# intervals. The budget is counted from the end of the first run (not from the poll's start), so a slow
# machine gets no extra time for a slow test, and a fast one does not hide a slow Prometheus.
UP_BUDGET = max(120, 8 * SCRAPE_INTERVAL_S)
DISK_USAGE_TIMEOUT = 300
SERVICE_DOWN_TIMEOUT = 180
RESOLVE_TIMEOUT = 120


def sh(node: str, *cmd: str, check: bool = True) -> str:
    proc = subprocess.run(["docker", "exec", node, *cmd], text=True, capture_output=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("%s: %s failed (%d): %s%s" % (node, " ".join(cmd), proc.returncode, proc.stdout, proc.stderr))
    return proc.stdout.strip()


def get_json(node: str, url: str, *params: str) -> Any:
    """GET url on node with curl; params are name=value pairs, URL-encoded by curl."""
    args = ["curl", "-sSf", "-G", url]
    for param in params:
        args += ["--data-urlencode", param]
    return json.loads(sh(node, *args))


def wait_for(predicate: Callable[[], Any], timeout: float, step: float = 2.0) -> tuple[Any, float]:
    """Poll predicate until it returns something truthy; that value (or the last falsy one) and the seconds it took."""
    return poll(predicate, timeout, step)


def parse_time(stamp: str) -> float:
    """Alertmanager's RFC 3339 timestamps (nanoseconds, Z) as epoch seconds."""
    head, _unused, frac = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(head).replace(tzinfo=timezone.utc).timestamp() + float("0." + (frac or "0"))


def alerts(manager: str, *matchers: str) -> list[dict]:
    """Alertmanager's current (not resolved) alerts matching every matcher, such as alertname="DiskUsage"."""
    return get_json(manager, ALERTMANAGER + "/api/v2/alerts", *("filter=" + m for m in matchers))


def expected_alerting_rules() -> dict[str, int]:
    """Alerting rules per group, read from the rule files the prometheus role deploys."""
    files = yaml.safe_load((ROOT / "roles/prometheus/defaults/main.yml").read_text())["prometheus_rule_files"]
    counts: dict[str, int] = {}
    for name in files:
        for group in yaml.safe_load((ROOT / "roles/prometheus/files/rules" / name).read_text())["groups"]:
            counts[group["name"]] = counts.get(group["name"], 0) + sum(1 for rule in group["rules"] if "alert" in rule)
    return counts


def warning_inhibit_rule() -> dict:
    """The alertmanager role's default rule by which a critical alert inhibits a warning."""
    rules = yaml.safe_load((ROOT / "roles/alertmanager/defaults/main.yml").read_text())["alertmanager_inhibit_rules"]
    found = [r for r in rules
             if 'severity="critical"' in r["source_matchers"] and 'severity="warning"' in r["target_matchers"]]
    assert len(found) == 1, "expected one critical-inhibits-warning rule in the alertmanager role: %s" % rules
    return found[0]


@pytest.fixture(scope="module")
def hosts(request, lab) -> dict[str, Any]:
    """The inventory's swarm hosts, the Prometheus host (the playbook's `swarm_managers[0]`) and two drill nodes."""
    if os.environ.get("MEDIASTACK_REUSE_LAB") != "1":
        # A fresh lab is converged with site.yml first; a reused lab is already converged (and may be
        # in use by others), so it is not converged again here.
        converged = request.getfixturevalue("converged")
        assert converged.returncode == 0, converged.stdout[-4000:]
    groups = json.loads(lab["inventory_json"])
    swarm = groups["swarm"]["hosts"]
    listed = subprocess.run(["ansible", "-i", lab["inventory"], "swarm_managers[0]", "--list-hosts"], cwd=ROOT,
                            env=env(), text=True, capture_output=True, check=True).stdout.splitlines()
    manager = listed[-1].strip()
    assert manager in swarm, listed
    # DiskUsage on one worker, ServiceDown on another node; neither is the Prometheus host.
    others = sorted(h for h in swarm if h not in groups["swarm_managers"]["hosts"]) + sorted(
        h for h in groups["swarm_managers"]["hosts"] if h != manager)
    assert len(others) >= 2, "the drills need two nodes besides %s: %s" % (manager, swarm)
    return {"swarm": swarm, "manager": manager, "disk_node": others[0], "down_node": others[1]}


@pytest.fixture(scope="module")
def first_run(hosts, lab) -> float:
    """`site.yml --tags monitoring`; on a fresh lab, site.yml has already deployed all of it (changed=0)."""
    proc = playbook("-i", lab["inventory"], "site.yml", "--tags", "monitoring")
    assert proc.returncode == 0, proc.stdout[-5000:]
    table = recap(proc.stdout)
    print("\nsite.yml --tags monitoring after the converge: %s" % {h: r["changed"] for h, r in sorted(table.items())})
    assert set(hosts["swarm"]) <= set(table), table
    if os.environ.get("MEDIASTACK_REUSE_LAB") != "1":
        assert {h: r["changed"] for h, r in table.items() if r["changed"]} == {}, (
            "site.yml did not deploy the monitoring it runs: " + proc.stdout[-5000:])
    return time.monotonic()


def mounted(node: str) -> bool:
    return subprocess.run(["docker", "exec", node, "mountpoint", "-q", DRILL_MOUNT], check=False).returncode == 0


@pytest.fixture(scope="module")
def disk_drill(first_run, hosts):
    """Step 3's setup: a 16 MiB tmpfs on a worker, filled to about 94 %; undone by cleanup() or at the end."""
    node, manager = hosts["disk_node"], hosts["manager"]

    def cleanup() -> None:
        if mounted(node):
            sh(node, "umount", DRILL_MOUNT)
        sh(node, "rm", "-rf", DRILL_MOUNT)

    if mounted(node):
        # Left over from an interrupted run: its alert must resolve first, or Prometheus would carry on with
        # the old alert (old startsAt) instead of raising a new one.
        cleanup()
        gone, _unused = wait_for(lambda: not alerts(manager, 'alertname="DiskUsage"', 'node="%s"' % node,
                                                    'mountpoint="%s"' % DRILL_MOUNT), RESOLVE_TIMEOUT)
        assert gone, "the DiskUsage alert of an earlier drill on %s did not resolve" % node
    state: dict[str, Any] = {"node": node, "cleanup": cleanup}
    try:
        sh(node, "mkdir", "-p", DRILL_MOUNT)
        state["started_wall"] = time.time()
        sh(node, "mount", "-t", "tmpfs", "-o", "size=%dm" % DRILL_SIZE_MIB, "drill", DRILL_MOUNT)
        sh(node, "dd", "if=/dev/zero", "of=%s/fill" % DRILL_MOUNT, "bs=1M", "count=%d" % DRILL_FILL_MIB, "status=none")
        state["started"] = time.monotonic()
        state["df"] = sh(node, "df", "--output=size,used,avail,pcent", DRILL_MOUNT)
        yield state
    finally:
        cleanup()


@pytest.fixture(scope="module")
def observability(first_run, disk_drill, hosts, lab) -> dict[str, Any]:
    """The second run of playbooks/observability.yml changes nothing on any host."""
    proc = playbook("-i", lab["inventory"], PLAYBOOK)
    assert proc.returncode == 0, proc.stdout[-5000:]
    second = recap(proc.stdout)
    print("\nsecond run of %s: %s" % (PLAYBOOK, {h: r["changed"] for h, r in sorted(second.items())}))
    assert set(second) == set(hosts["swarm"]), second
    assert {h: r["changed"] for h, r in second.items() if r["changed"]} == {}, proc.stdout[-5000:]
    return hosts


def test_every_node_is_scraped_and_up(observability, first_run) -> None:
    """Step 1: up{job="node"} has exactly one sample per swarm host, each 1 and labelled node=<inventory hostname>."""
    manager, swarm = observability["manager"], observability["swarm"]

    def node_up() -> list[dict]:
        result = get_json(manager, PROMETHEUS + "/api/v1/query", 'query=up{job="node"}')["data"]["result"]
        complete = (len(result) == len(swarm) and sorted(r["metric"].get("node") for r in result) == sorted(swarm)
                    and all(r["value"][1] == "1" for r in result))
        return result if complete else []

    remaining = UP_BUDGET - (time.monotonic() - first_run)
    result, waited = wait_for(node_up, max(remaining, 0) + 2)
    print("\nup{job=\"node\"} after %.0f s of polling (%.0f s after the first playbook run ended; budget %d s):"
          % (waited, time.monotonic() - first_run, UP_BUDGET))
    for r in get_json(manager, PROMETHEUS + "/api/v1/query", 'query=up{job="node"}')["data"]["result"]:
        print("  %-10s %-22s %s" % (r["metric"].get("node"), r["metric"]["instance"], r["value"][1]))
    assert result, "not exactly the hosts of group swarm (%s) scraped and up within %d s of the first run" % (
        swarm, UP_BUDGET)


def test_the_package_default_config_never_ran(observability, first_run) -> None:
    """Debian's prometheus.yml scrapes localhost:9100; Prometheus must never have run with it (issue 22).

    The series API over the whole TSDB (start=0), not an instant query, so a series scraped in the minutes
    between the package install and our config would be found even after it left the lookback window.
    """
    manager = observability["manager"]
    series = get_json(manager, PROMETHEUS + "/api/v1/series", 'match[]={instance=~"localhost:.*"}', "start=0")
    assert series["status"] == "success", series
    assert series["data"] == [], "Prometheus scraped the package's default targets: %s" % series["data"]
    instances = get_json(manager, PROMETHEUS + "/api/v1/label/instance/values", "start=0")["data"]
    print("\nno series with instance=\"localhost:*\" since the TSDB began; instances ever scraped: %s" % instances)


def test_the_alert_rules_are_loaded(observability) -> None:
    """Step 2: the shipped groups with as many alerting rules as their files, every rule healthy."""
    groups = get_json(observability["manager"], PROMETHEUS + "/api/v1/rules")["data"]["groups"]
    loaded = {g["name"]: [r for r in g["rules"] if r["type"] == "alerting"] for g in groups}
    expected = expected_alerting_rules()
    assert {name: len(rules) for name, rules in loaded.items()} == expected
    unhealthy = {r["name"]: r.get("lastError") for rules in loaded.values() for r in rules if r["health"] != "ok"}
    assert unhealthy == {}
    print("\nrules: %s (%d alerting rules, all health ok)" % (expected, sum(expected.values())))


@pytest.fixture()
def stopped_exporter(observability):
    node = observability["down_node"]
    state = {"node": node, "stopped_wall": time.time()}
    sh(node, "systemctl", "stop", EXPORTER_SERVICE)
    state["started"] = time.monotonic()
    yield state
    sh(node, "systemctl", "start", EXPORTER_SERVICE)


def test_a_stopped_node_exporter_raises_service_down(observability, stopped_exporter) -> None:
    """Step 4: ServiceDown{job="node", node=<node>} becomes active in Alertmanager (run while DiskUsage waits)."""
    manager, node = observability["manager"], stopped_exporter["node"]

    def service_down() -> list[dict]:
        return [a for a in alerts(manager, 'alertname="ServiceDown"', 'job="node"', 'node="%s"' % node)
                if a["status"]["state"] == "active" and parse_time(a["startsAt"]) >= stopped_exporter["stopped_wall"] - 1]

    found, _unused = wait_for(service_down, SERVICE_DOWN_TIMEOUT)
    elapsed = time.monotonic() - stopped_exporter["started"]
    assert found, "no active ServiceDown for node exporter on %s within %d s" % (node, SERVICE_DOWN_TIMEOUT)
    print("\nServiceDown for %s in Alertmanager %.0f s after the node exporter stopped" % (node, elapsed))


@pytest.fixture(scope="module")
def disk_usage_alert(observability, disk_drill) -> dict:
    """Step 3: the critical DiskUsage alert of the drill filesystem, once Alertmanager has it."""
    manager, node = observability["manager"], disk_drill["node"]

    def disk_usage() -> list[dict]:
        return [a for a in alerts(manager, 'alertname="DiskUsage"')
                if a["labels"].get("node") == node and a["labels"].get("mountpoint") == DRILL_MOUNT
                and a["labels"].get("severity") == "critical" and a["status"]["state"] == "active"
                and parse_time(a["startsAt"]) >= disk_drill["started_wall"] - 1]

    remaining = DISK_USAGE_TIMEOUT - (time.monotonic() - disk_drill["started"])
    found, _unused = wait_for(disk_usage, max(remaining, 0), step=3)
    disk_drill["elapsed"] = time.monotonic() - disk_drill["started"]
    return found[0] if found else {}


def test_a_full_disk_raises_disk_usage(disk_drill, disk_usage_alert) -> None:
    assert disk_usage_alert, "no active critical DiskUsage for %s:%s in Alertmanager within %d s of the fill" % (
        disk_drill["node"], DRILL_MOUNT, DISK_USAGE_TIMEOUT)
    print("\n%s on %s:\n%s" % (DRILL_MOUNT, disk_drill["node"], disk_drill["df"]))
    print("DiskUsage in Alertmanager %.0f s after the fill:\n%s" % (disk_drill["elapsed"], json.dumps(disk_usage_alert, indent=2)))


def test_a_critical_alert_inhibits_the_warning(observability, disk_usage_alert, request) -> None:
    """Step 5: a warning with the critical alert's values for the inhibit rule's `equal` labels is inhibited."""
    assert disk_usage_alert, "step 5 needs the critical DiskUsage alert of step 3"
    manager = observability["manager"]
    rule = warning_inhibit_rule()
    labels = {name: disk_usage_alert["labels"][name] for name in rule["equal"]}
    labels.update({"severity": "warning", "drill": "observability-e2e"})
    matchers = ['%s="%s"' % item for item in sorted(labels.items())]
    amtool = ["amtool", "--alertmanager.url=%s" % ALERTMANAGER]

    def resolve() -> None:
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        sh(manager, *amtool, "alert", "add", *matchers, "--end=%s" % now)

    request.addfinalizer(resolve)
    sh(manager, *amtool, "alert", "add", *matchers, "--annotation=summary=observability drill: must be inhibited")

    def inhibited() -> list[dict]:
        return json.loads(sh(manager, *amtool, "-o", "json", "alert", "query", "--inhibited", *matchers) or "[]")

    found, _unused = wait_for(inhibited, 30, step=1)
    print("\n" + sh(manager, *amtool, "alert", "query", "--inhibited", *matchers))
    assert len(found) == 1, "the warning %s is not inhibited" % labels
    assert found[0]["status"]["state"] == "suppressed"
    assert found[0]["status"]["inhibitedBy"] == [disk_usage_alert["fingerprint"]]


def test_the_alerts_resolve_after_the_drills(observability, disk_drill) -> None:
    """Cleanup: the tmpfs is gone, the node exporter runs again, and both alerts resolve in Alertmanager."""
    manager, disk_node, down_node = observability["manager"], disk_drill["node"], observability["down_node"]
    disk_drill["cleanup"]()
    assert sh(down_node, "systemctl", "is-active", EXPORTER_SERVICE) == "active"
    start = time.monotonic()

    def resolved() -> bool:
        return not alerts(manager, 'alertname="DiskUsage"', 'node="%s"' % disk_node, 'mountpoint="%s"' % DRILL_MOUNT) \
            and not alerts(manager, 'alertname="ServiceDown"', 'job="node"', 'node="%s"' % down_node)

    done, _unused = wait_for(resolved, RESOLVE_TIMEOUT)
    assert done, "the drills' alerts did not resolve within %d s" % RESOLVE_TIMEOUT
    print("\nDiskUsage (%s) and ServiceDown (%s) resolved %.0f s after the cleanup"
          % (disk_node, down_node, time.monotonic() - start))
