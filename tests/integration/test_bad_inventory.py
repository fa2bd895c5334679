"""site.yml stops in its validation play, before any host is touched, for each inventory it cannot serve.

The hosts of these inventories point at containers that do not exist, so any task that tried to
reach a host would report it unreachable; the tests assert that no host was reached and that no
play after the validation play ran a task.
"""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from .helpers import ROOT, json_result, playbook


def _host() -> dict:
    return {"ansible_connection": "community.docker.docker", "ansible_host": "mediastack-absent-%s" % uuid.uuid4().hex[:8]}


def _inventory(managers: list[str], workers: list[str], hostvars: dict | None = None) -> dict:
    hostvars = hostvars or {}
    children = {}
    if managers:
        children["swarm_managers"] = {"hosts": {h: {**_host(), **hostvars.get(h, {})} for h in managers}}
    if workers:
        children["swarm_workers"] = {"hosts": {h: {**_host(), **hostvars.get(h, {})} for h in workers}}
    return {"all": {"children": {"swarm": {"children": children}}}}


CASES = {
    "no_managers_group": (_inventory([], ["w1", "w2"]), "(inventory), group swarm_managers", "add a 'swarm_managers' group"),
    "even_managers": (_inventory(["m1", "m2"], ["w1"]), "has 2 hosts (m1, m2)", "add or remove one manager"),
    "host_in_two_exclusive_groups": (_inventory(["m1", "m2", "m3"], ["w1", "m3"]), "host m3, groups swarm_managers + swarm_workers",
                                     "keep m3 in exactly one of"),
    "wrong_variable_type": (_inventory(["m1"], ["w1"], {"w1": {"common_media_uid": "lots"}}),
                            "host w1, common_media_uid: is 'lots' (str) but role common expects type int",
                            "give common_media_uid a value of type int"),
    "label_not_a_mapping": (_inventory(["m1"], ["w1"], {"w1": {"swarm_node_labels": ["gpu"]}}),
                            "host w1, swarm_node_labels", "expects a mapping"),
    "overlay_overlaps_reserved_network": (_inventory(["m1"], ["w1"], {"m1": {"swarm_reserved_networks": ["10.10.3.0/24"]}}),
                                          "host m1, swarm_networks", "overlaps 10.10.3.0/24 in swarm_reserved_networks"),
    "label_value_with_space": (_inventory(["m1"], ["w1"], {"w1": {"swarm_node_labels": {"type": "media server"}}}),
                               "host w1, swarm_node_labels.type", "contains spaces"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_validation_play_stops_before_any_host_is_touched(case: str, tmp_path: Path):
    inventory, where, fix = CASES[case]
    inv = tmp_path / "hosts.yml"
    inv.write_text(yaml.safe_dump(inventory))
    proc = playbook("-i", str(inv), "site.yml", json_output=True)
    assert proc.returncode != 0, proc.stdout[-2000:]
    doc = json_result(proc)
    plays = doc["plays"]
    first, rest = plays[0], plays[1:]
    assert first["play"]["name"] == "Validate the controller and the inventory before any host is touched"
    ran_later = [t["task"]["name"] for p in rest for t in p["tasks"] if t["hosts"]]
    assert ran_later == [], "tasks ran after the validation play: %s" % ran_later
    failed = [(t["task"]["name"], r) for t in first["tasks"] for r in t["hosts"].values() if r.get("failed")]
    assert failed and failed[0][0] == "Check the inventory as a whole"
    msg = failed[0][1]["msg"]
    message = "\n".join(msg) if isinstance(msg, list) else str(msg)
    assert "nothing was changed" in message
    assert where in message and fix in message, message
    stats = doc["stats"]
    assert all(s["unreachable"] == 0 and s["changed"] == 0 for s in stats.values()), stats


def test_example_inventory_is_valid():
    proc = playbook("-i", str(ROOT / "inventories" / "example"), "playbooks/validate.yml", json_output=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    doc = json_result(proc)
    checked = [t for t in doc["plays"][0]["tasks"] if t["task"]["name"] == "Check the inventory as a whole"]
    assert checked and all(not r.get("failed") for r in checked[0]["hosts"].values())
    assert all(s["unreachable"] == 0 and s["failures"] == 0 for s in doc["stats"].values())
