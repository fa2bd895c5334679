"""Unit tests of the cluster filters: docker_daemon_merge, swarm_network_problems, swarm_constraints."""
from __future__ import annotations

import json
import random

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.filter.docker_daemon_merge import docker_daemon_merge
from ansible_collections.mediastack.core.plugins.filter.swarm_constraints import swarm_constraints
from ansible_collections.mediastack.core.plugins.filter.swarm_network_problems import swarm_network_problems

SEED = [
    {"name": "media", "subnet": "10.10.1.0/24"},
    {"name": "admin", "subnet": "10.10.2.0/24"},
    {"name": "data", "subnet": "10.10.3.0/24", "encrypted": True},
    {"name": "dmz", "subnet": "10.10.4.0/24"},
]


class TestDaemonMerge:
    def test_unmanaged_keys_survive_and_lists_union(self):
        existing = json.dumps({"runtimes": {"nvidia": {"path": "nvidia-container-runtime"}}, "default-runtime": "nvidia",
                               "insecure-registries": ["a:5000"], "node-generic-resources": ["NVIDIA-GPU=GPU-1"]})
        out = docker_daemon_merge(existing, {"log-driver": "json-file", "insecure-registries": ["a:5000", "b:5000"],
                                             "runtimes": {"runsc": {"path": "/usr/bin/runsc"}}})
        assert out["default-runtime"] == "nvidia"
        assert out["node-generic-resources"] == ["NVIDIA-GPU=GPU-1"]
        assert out["insecure-registries"] == ["a:5000", "b:5000"]
        assert set(out["runtimes"]) == {"nvidia", "runsc"}
        assert out["log-driver"] == "json-file"

    def test_merge_is_idempotent_and_order_independent(self):
        rng = random.Random(3)
        for _case in range(100):
            a = {"insecure-registries": ["r%d:5000" % rng.randint(0, 3)], "log-opts": {"max-size": "10m"}}
            b = {"node-generic-resources": ["NVIDIA-GPU=GPU-%d" % rng.randint(0, 3)], "log-opts": {"max-file": "3"}}
            once = docker_daemon_merge(docker_daemon_merge("", a), b)
            twice = docker_daemon_merge(docker_daemon_merge(once, a), b)
            other = docker_daemon_merge(docker_daemon_merge("", b), a)
            assert once == twice
            assert once.keys() == other.keys() and once["log-opts"] == other["log-opts"]
            assert list(once) == sorted(once)

    def test_null_removes_and_remove_list(self):
        out = docker_daemon_merge({"metrics-addr": "0.0.0.0:9323", "debug": True}, {"metrics-addr": None}, remove=["debug"])
        assert out == {}

    def test_live_restore_refused_on_swarm(self):
        with pytest.raises(AnsibleFilterError, match="live-restore"):
            docker_daemon_merge("{}", {"live-restore": True})
        assert docker_daemon_merge("{}", {"live-restore": True}, swarm=False) == {"live-restore": True}

    @pytest.mark.parametrize("existing,match", [("{not json", "not valid JSON"), ("[1, 2]", "JSON object"), (3, "text or a mapping")])
    def test_bad_existing_file(self, existing, match):
        with pytest.raises(AnsibleFilterError, match=match):
            docker_daemon_merge(existing, {})


class TestSwarmNetworkProblems:
    def test_seed_is_clean(self):
        assert swarm_network_problems(SEED, {"docker_default_address_pools": ["172.18.0.0/15"],
                                             "swarm_default_addr_pool": ["10.200.0.0/16"],
                                             "swarm_reserved_networks": ["172.31.240.0/24"]}) == []

    def test_overlap_between_segments_names_both(self):
        nets = SEED + [{"name": "extra", "subnet": "10.10.0.0/16"}]
        out = swarm_network_problems(nets)
        assert len(out) == 4 and all("swarm_networks[4] (extra)" in line for line in out)
        assert "overlaps 10.10.1.0/24 of network media" in out[0]

    def test_overlap_with_reserved(self):
        out = swarm_network_problems(SEED, {"swarm_reserved_networks": ["10.10.4.128/25"]})
        assert out == ["swarm_networks[3] (dmz): 10.10.4.0/24 overlaps 10.10.4.128/25 in swarm_reserved_networks; "
                       "move the segment or change swarm_reserved_networks"]

    def test_swarm_default_pool_10_8_is_caught(self):
        out = swarm_network_problems(SEED, {"swarm_default_addr_pool": ["10.0.0.0/8"]})
        assert len(out) == 4

    def test_random_disjoint_plans_are_clean_and_overlaps_found(self):
        rng = random.Random(11)
        for _case in range(100):
            thirds = rng.sample(range(0, 256), rng.randint(1, 8))
            nets = [{"name": "n%d" % i, "subnet": "10.20.%d.0/24" % t} for i, t in enumerate(thirds)]
            assert swarm_network_problems(nets) == []
            dup = dict(rng.choice(nets), name="dup")
            assert any("overlaps" in p for p in swarm_network_problems(nets + [dup]))

    @pytest.mark.parametrize(
        "nets,match",
        [
            ([{"name": "x", "subnet": "10.0.0.1/24"}], "not an IPv4 network"),
            ([{"name": "x", "subnet": "10.0.0.0/30"}], "too small"),
            ([{"name": "Media Net", "subnet": "10.0.0.0/24"}], "lower-case"),
            ([{"name": "x", "subnet": "10.0.0.0/24"}, {"name": "x", "subnet": "10.0.1.0/24"}], "used twice"),
            ([{"subnet": "10.0.0.0/24"}], "name and subnet"),
        ],
    )
    def test_bad_networks(self, nets, match):
        out = swarm_network_problems(nets)
        assert len(out) == 1 and match in out[0]

    def test_not_a_list(self):
        with pytest.raises(AnsibleFilterError):
            swarm_network_problems({"media": "10.10.1.0/24"})


class TestSwarmConstraints:
    @pytest.mark.parametrize(
        "needs,expected",
        [
            ({"role": "media", "gpu": True}, ["node.labels.type==media", "node.labels.gpu==true"]),
            ({"role": "media"}, ["node.labels.type==media"]),
            ({"role": "data"}, ["node.labels.type==data", "node.labels.ssd==true"]),
            ({"role": "data", "ssd": False}, ["node.labels.type==data"]),
            ({"role": "manager"}, ["node.role==manager"]),
            ({}, []),
            (None, []),
            ({"role": "any", "labels": {"zone": "a"}, "hostname": "n1"}, ["node.labels.zone==a", "node.hostname==n1"]),
        ],
    )
    def test_seed_rules(self, needs, expected):
        assert swarm_constraints(needs) == expected

    @pytest.mark.parametrize(
        "needs,match",
        [
            ({"role": "gpu"}, "not one of"),
            ({"gpu": "yes"}, "true or false"),
            ({"cpu": 4}, "unknown placement key"),
            ({"labels": {"zone": "a b"}}, "spaces"),
            ("media", "mapping"),
        ],
    )
    def test_bad_needs(self, needs, match):
        with pytest.raises(AnsibleFilterError, match=match):
            swarm_constraints(needs)


# ------------------------------------------------------------------ the overlays against the nodes' own networks

from ansible_collections.mediastack.core.plugins.filter.swarm_network_problems import swarm_host_network_problems  # noqa: E402


def _facts(**ifaces):
    facts = {"interfaces": list(ifaces)}
    for name, (address, netmask) in ifaces.items():
        facts[name.replace("-", "_")] = {"device": name, "ipv4": {"address": address, "netmask": netmask}}
    return {"ansible_facts": facts}


class TestSwarmHostNetworkProblems:
    NETWORKS = [{"name": "media", "subnet": "10.201.1.0/24"}, {"name": "data", "subnet": "10.201.3.0/24"}]

    def test_nodes_on_other_networks_and_dockers_own_bridges_are_fine(self):
        hostvars = {"m1": _facts(eth0=("192.168.1.10", "255.255.255.0"), docker0=("10.201.1.1", "255.255.255.0"),
                                 docker_gwbridge=("10.201.3.1", "255.255.255.0"))}
        assert swarm_host_network_problems(self.NETWORKS, hostvars, ["m1"], ["10.200.0.0/16"]) == []

    def test_an_overlay_on_a_nodes_network_is_named_once_with_every_node(self):
        hostvars = {"m1": _facts(eth0=("10.201.0.10", "255.255.252.0")), "w1": _facts(eth1=("10.201.0.11", "255.255.252.0")),
                    "w2": _facts(eth0=("192.168.1.12", "255.255.255.0"))}
        out = swarm_host_network_problems(self.NETWORKS, hostvars, ["m1", "w1", "w2"])
        assert out == ["overlay media (10.201.1.0/24) overlaps 10.201.0.0/22, the network of m1 (eth0 10.201.0.10), "
                       "w1 (eth1 10.201.0.11); containers on it could not reach that network. Change its subnet in swarm_networks",
                       "overlay data (10.201.3.0/24) overlaps 10.201.0.0/22, the network of m1 (eth0 10.201.0.10), "
                       "w1 (eth1 10.201.0.11); containers on it could not reach that network. Change its subnet in swarm_networks"]

    def test_the_address_pool_secondaries_and_nodes_without_facts(self):
        facts = _facts(**{"ens-1": ("192.168.1.10", "255.255.255.0")})
        facts["ansible_facts"]["ens_1"]["ipv4_secondaries"] = [{"address": "10.200.7.1", "netmask": "255.255.255.0"}]
        out = swarm_host_network_problems([], {"m1": facts, "w1": {}}, ["m1", "w1"], ["10.200.0.0/16"])
        assert out == ["swarm_default_addr_pool (10.200.0.0/16) overlaps 10.200.7.0/24, the network of m1 (ens-1 10.200.7.1); "
                       "containers on it could not reach that network. Change swarm_default_addr_pool"]
        with pytest.raises(AnsibleFilterError, match="hosts must be a list"):
            swarm_host_network_problems([], {}, "m1")
