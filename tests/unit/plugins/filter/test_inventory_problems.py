"""Unit tests of the whole-inventory validation behind the first play of site.yml."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.filter.inventory_problems import inventory_problems
from ansible_collections.mediastack.core.plugins.plugin_utils.inventory_check import Spec, check_inventory

ROLES = Path(__file__).resolve().parents[4] / "roles"


def good_inventory():
    hostvars = {
        "m1": {}, "m2": {}, "m3": {},
        "w1": {"swarm_node_labels": {"type": "media", "gpu": "true"}},
        "w2": {"swarm_node_labels": {"type": "data", "ssd": "true"}, "common_media_uid": 2001},
    }
    groups = {"all": list(hostvars), "swarm_managers": ["m1", "m2", "m3"], "swarm_workers": ["w1", "w2"]}
    return hostvars, groups


def problems(hostvars, groups):
    return inventory_problems(hostvars, groups)


def test_good_inventory_has_no_problem():
    assert problems(*good_inventory()) == []


def test_missing_managers_group():
    hostvars, groups = good_inventory()
    del groups["swarm_managers"]
    out = problems(hostvars, groups)
    assert len(out) == 1
    assert "no 'swarm_managers' group" in out[0] and "odd number" in out[0]


@pytest.mark.parametrize("count", [2, 4, 6])
def test_even_managers(count):
    hostvars, groups = good_inventory()
    groups["swarm_managers"] = ["m%d" % i for i in range(1, count + 1)]
    out = problems(hostvars, groups)
    assert len(out) == 1 and "has %d hosts" % count in out[0] and "1, 3 or 5" in out[0]


def test_host_in_exclusive_groups():
    hostvars, groups = good_inventory()
    groups["swarm_workers"].append("m2")
    out = problems(hostvars, groups)
    assert out == ["host m2, groups swarm_managers + swarm_workers: is in swarm_managers and swarm_workers, which exclude "
                   "each other. Fix: keep m2 in exactly one of swarm_managers, swarm_workers"]


@pytest.mark.parametrize(
    "var,value,expect",
    [
        ("common_media_uid", "two thousand", "common_media_uid: is 'two thousand' (str) but role common expects type int"),
        ("common_packages", {"a": 1}, "common_packages"),
        ("common_timezone", 5, "common_timezone: is 5 (int) but role common expects type str"),
        ("swarm_node_labels", "type=media", "swarm_node_labels: is 'type=media' (str) but inventory expects a mapping"),
        ("common_data_tree", ["media"], "expects type dict"),
    ],
)
def test_wrong_variable_type_names_host_variable_and_fix(var, value, expect):
    hostvars, groups = good_inventory()
    hostvars["w1"][var] = value
    out = problems(hostvars, groups)
    assert len(out) == 1, out
    assert out[0].startswith("host w1, " + var)
    assert expect in out[0]
    assert "Fix: give %s a value of type" % var in out[0]


def test_list_elements_are_checked():
    hostvars, groups = good_inventory()
    hostvars["m1"]["common_packages"] = ["curl", {"name": "jq"}]
    out = problems(hostvars, groups)
    assert len(out) == 1 and "item 1" in out[0]


@pytest.mark.parametrize(
    "labels,expect",
    [
        ({"type": "media server"}, "contains spaces"),
        ({"gpu": True}, "quote it as a string"),
        ({"Bad Key": "x"}, "not a valid Swarm label key"),
    ],
)
def test_label_problems(labels, expect):
    hostvars, groups = good_inventory()
    hostvars["w1"]["swarm_node_labels"] = labels
    out = problems(hostvars, groups)
    assert len(out) == 1 and expect in out[0] and out[0].startswith("host w1, swarm_node_labels.")


def test_problems_accumulate():
    hostvars, groups = good_inventory()
    groups["swarm_managers"] = ["m1", "m2"]
    groups["swarm_workers"].append("m1")
    hostvars["w2"]["common_media_gid"] = "x"
    assert len(problems(hostvars, groups)) == 3


def test_bad_groups_argument():
    with pytest.raises(AnsibleFilterError, match="groups"):
        inventory_problems({}, ["swarm_managers"])


def test_spec_covers_every_role_option():
    spec = Spec.from_roles(ROLES)
    for path in ROLES.glob("*/meta/argument_specs.yml"):
        for entry in yaml.safe_load(path.read_text())["argument_specs"].values():
            for name in entry.get("options", {}):
                assert name in spec.options, name
    assert spec.owner["swarm_node_labels"] == "inventory"


def test_check_inventory_is_pure():
    hostvars, groups = good_inventory()
    before = repr((hostvars, groups))
    check_inventory(hostvars, groups, Spec.from_roles(ROLES))
    assert repr((hostvars, groups)) == before


@pytest.mark.parametrize(
    "hostvar,value,expect",
    [
        ("swarm_reserved_networks", ["10.10.1.0/25"], "overlaps 10.10.1.0/25 in swarm_reserved_networks"),
        ("swarm_default_addr_pool", ["10.0.0.0/8"], "in swarm_default_addr_pool"),
        ("swarm_networks", [{"name": "media", "subnet": "10.10.1.0/24"}, {"name": "dmz", "subnet": "10.10.1.128/25"}],
         "overlaps 10.10.1.0/24 of network media"),
    ],
)
def test_overlay_problems_are_found_before_any_change(hostvar, value, expect):
    hostvars, groups = good_inventory()
    for host in groups["swarm_managers"]:
        hostvars[host][hostvar] = value
    out = problems(hostvars, groups)
    assert out and all(line.startswith("host m1, swarm_networks:") for line in out)
    assert any(expect in line for line in out), out


def test_default_overlays_are_clean():
    hostvars, groups = good_inventory()
    spec = Spec.from_roles(ROLES)
    assert spec.defaults["swarm_networks"][0]["subnet"] == "10.10.1.0/24"
    assert check_inventory(hostvars, groups, spec) == []
