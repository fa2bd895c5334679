"""Unit tests of the foundation filters: dir_tree, sysctl_raise, lab_nodes."""
from __future__ import annotations

import ipaddress
import random

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.filter.dir_tree import dir_tree
from ansible_collections.mediastack.core.plugins.filter.lab_nodes import lab_nodes
from ansible_collections.mediastack.core.plugins.filter.sysctl_raise import sysctl_raise


class TestDirTree:
    def test_parents_come_before_children(self):
        out = dir_tree({"media": {"tv": {}, "movies": None}, "config": {}}, "/srv/ms")
        paths = [d["path"] for d in out]
        assert paths == ["/srv/ms", "/srv/ms/config", "/srv/ms/media", "/srv/ms/media/movies", "/srv/ms/media/tv"]
        assert [d["relative"] for d in out] == [".", "config", "media", "media/movies", "media/tv"]

    def test_random_trees_keep_order_and_count(self):
        rng = random.Random(20261125)
        for _case in range(50):
            tree: dict = {}
            frontier = [tree]
            for _step in range(rng.randint(0, 30)):
                parent = rng.choice(frontier)
                child: dict = {}
                parent["d%d" % rng.randint(0, 10 ** 6)] = child
                frontier.append(child)
            count = len(frontier) - 1
            out = dir_tree(tree, "/data")
            paths = [d["path"] for d in out]
            assert len(paths) == len(set(paths)) == count + 1
            seen = set()
            for p in paths:
                parent = p.rsplit("/", 1)[0]
                assert p == "/data" or parent in seen, p
                seen.add(p)

    @pytest.mark.parametrize("name", ["..", ".hidden", "a/b", "with space", "", 3])
    def test_bad_names_are_refused(self, name):
        with pytest.raises(AnsibleFilterError, match="directory name"):
            dir_tree({"media": {name: {}}}, "/srv/ms")

    @pytest.mark.parametrize("root", ["relative", "/", "/srv/../etc", "/srv/ms/", None])
    def test_bad_roots_are_refused(self, root):
        with pytest.raises(AnsibleFilterError, match="root"):
            dir_tree({}, root)

    def test_leaf_must_be_mapping(self):
        with pytest.raises(AnsibleFilterError, match="media must be a mapping"):
            dir_tree({"media": ["tv"]}, "/srv")


class TestSysctlRaise:
    def test_only_lower_values_are_raised(self):
        minimums = {"fs.inotify.max_user_watches": 524288, "fs.inotify.max_user_instances": 512}
        current = {"fs.inotify.max_user_watches": "8192", "fs.inotify.max_user_instances": "1024\n"}
        assert sysctl_raise(minimums, current) == {"fs.inotify.max_user_watches": 524288}

    def test_equal_values_need_nothing(self):
        assert sysctl_raise({"vm.max_map_count": "262144"}, {"vm.max_map_count": 262144}) == {}

    def test_property_result_never_lowers(self):
        rng = random.Random(7)
        for _case in range(200):
            keys = ["fs.a%d.b" % i for i in range(rng.randint(1, 6))]
            minimums = {k: rng.randint(0, 10 ** 6) for k in keys}
            current = {k: str(rng.randint(0, 10 ** 6)) for k in keys}
            out = sysctl_raise(minimums, current)
            for k in keys:
                assert (k in out) == (int(current[k]) < minimums[k])
                if k in out:
                    assert out[k] == minimums[k] > int(current[k])

    @pytest.mark.parametrize(
        "minimums,current,match",
        [
            ({"not a key": 1}, {"not a key": 1}, "not a sysctl key"),
            ({"fs.x.y": "lots"}, {"fs.x.y": "1"}, "not a whole number"),
            ({"fs.x.y": True}, {"fs.x.y": "1"}, "boolean"),
            ({"fs.x.y": 1}, {}, "no current value"),
            (["fs.x.y"], {}, "mapping"),
        ],
    )
    def test_bad_input(self, minimums, current, match):
        with pytest.raises(AnsibleFilterError, match=match):
            sysctl_raise(minimums, current)


class TestLabNodes:
    def test_default_lab(self):
        plan = lab_nodes("lab", 3, 2, "172.31.240.0/24", [{"type": "media", "gpu": "true"}, {"type": "data", "ssd": "true"}])
        assert [(n["name"], n["group"], n["address"]) for n in plan["nodes"]] == [
            ("lab-m1", "swarm_managers", "172.31.240.11"),
            ("lab-m2", "swarm_managers", "172.31.240.12"),
            ("lab-m3", "swarm_managers", "172.31.240.13"),
            ("lab-w1", "swarm_workers", "172.31.240.21"),
            ("lab-w2", "swarm_workers", "172.31.240.22"),
        ]
        assert plan["nodes"][3]["labels"] == {"type": "media", "gpu": "true"}
        assert plan["nodes"][4]["labels"] == {"type": "data", "ssd": "true"}
        assert plan["registry_address"] == "172.31.240.5"
        assert plan["gateway"] == "172.31.240.1"

    @pytest.mark.parametrize("managers,workers", [(1, 0), (3, 5), (5, 9), (9, 1)])
    def test_addresses_unique_and_inside(self, managers, workers):
        plan = lab_nodes("x", managers, workers, "10.99.0.0/24", [{"a": "1"}])
        net = ipaddress.IPv4Network(plan["subnet"])
        addresses = [n["address"] for n in plan["nodes"]] + [plan["gateway"], plan["registry_address"]]
        assert len(set(addresses)) == len(addresses) == managers + workers + 2
        assert all(ipaddress.IPv4Address(a) in net for a in addresses)
        assert sum(n["group"] == "swarm_managers" for n in plan["nodes"]) == managers
        assert all(n["labels"] == {"a": "1"} for n in plan["nodes"] if n["group"] == "swarm_workers")

    @pytest.mark.parametrize(
        "managers,workers,subnet,labels,match",
        [
            (2, 1, "10.0.0.0/24", None, "odd number"),
            (0, 1, "10.0.0.0/24", None, "odd number"),
            (3, 10, "10.0.0.0/24", None, "0 to 9"),
            (3, 1, "10.0.0.0/25", None, "smaller than a /24"),
            (3, 1, "10.0.0.1/24", None, "not an IPv4 network"),
            (3, 1, "10.0.0.0/24", [{"gpu": True}], "quoted strings"),
        ],
    )
    def test_bad_plans(self, managers, workers, subnet, labels, match):
        with pytest.raises(AnsibleFilterError, match=match):
            lab_nodes("lab", managers, workers, subnet, labels)


from ansible_collections.mediastack.core.plugins.filter.hardware_tier import hardware_tier  # noqa: E402

TIERS = [
    {"name": "minimum", "cores": 4, "memory_gib": 8, "disk_gib": 100},
    {"name": "recommended", "cores": 8, "memory_gib": 32, "disk_gib": 1000},
    {"name": "enterprise", "cores": 16, "memory_gib": 64, "disk_gib": 4000},
]


def facts(cores, mem_gib, mounts):
    return {"processor_vcpus": cores, "memtotal_mb": int(mem_gib * 1024),
            "mounts": [{"mount": m, "size_total": int(g * 1024 ** 3)} for m, g in mounts]}


class TestHardwareTier:
    def test_tiers(self):
        assert hardware_tier(facts(2, 24, [("/", 250)]), TIERS, "/srv/mediastack")["tier"] == "below-minimum"
        out = hardware_tier(facts(8, 31.5, [("/", 50), ("/srv", 2000)]), TIERS, "/srv/mediastack")
        assert out["tier"] == "recommended" and out["measured"]["disk_gib"] == 2000
        assert out["shortfalls"] == ["cores: 8 CPU cores, enterprise needs 16", "memory_gib: 31.5 GiB memory, enterprise needs 64",
                                     "disk_gib: 2000.0 GiB disk at the data root, enterprise needs 4000"]
        assert hardware_tier(facts(32, 128, [("/", 8000)]), TIERS)["shortfalls"] == []

    def test_below_minimum_names_what_is_missing(self):
        out = hardware_tier(facts(2, 24, [("/", 250)]), TIERS)
        assert out["below_minimum"] is True
        assert out["shortfalls"] == ["cores: 2 CPU cores, minimum needs 4"]

    def test_longest_mount_wins_and_prefix_is_not_a_match(self):
        f = facts(4, 8, [("/", 100), ("/srv", 10), ("/srv/media", 5000), ("/srv/mediastack2", 1)])
        assert hardware_tier(f, TIERS, "/srv/media/tv")["measured"]["disk_gib"] == 5000
        assert hardware_tier(f, TIERS, "/srv/mediastack")["measured"]["disk_gib"] == 10

    def test_monotonic(self):
        rng = random.Random(5)
        order = ["below-minimum"] + [t["name"] for t in TIERS]
        for _case in range(200):
            c, m, d = rng.randint(1, 64), rng.randint(1, 256), rng.randint(1, 10000)
            low = order.index(hardware_tier(facts(c, m, [("/", d)]), TIERS)["tier"])
            high = order.index(hardware_tier(facts(c * 2, m * 2, [("/", d * 2)]), TIERS)["tier"])
            assert high >= low

    @pytest.mark.parametrize("tiers,match", [([], "non-empty"), ([{"cores": 1}], "needs a name"),
                                             ([{"name": "x", "cores": -1}], "0 or more")])
    def test_bad_tiers(self, tiers, match):
        with pytest.raises(AnsibleFilterError, match=match):
            hardware_tier(facts(4, 8, [("/", 100)]), tiers)

    def test_missing_facts(self):
        with pytest.raises(AnsibleFilterError, match="gather facts"):
            hardware_tier({"mounts": []}, TIERS)
