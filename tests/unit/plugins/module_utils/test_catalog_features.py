"""The preflight's kernel and GPU checks: what the plan needs of every node against what node_features read."""
from __future__ import annotations

import copy

from ansible_collections.mediastack.core.plugins.filter.catalog_plan import catalog_capacity_problems
from ansible_collections.mediastack.core.plugins.module_utils.catalog.features import feature_problems
from ansible_collections.mediastack.core.plugins.module_utils.catalog.plan import capacity_problems, node_matches

GOOD = {"OVERLAY_FS": "y", "VXLAN": "m", "BRIDGE": "y", "VETH": "y", "MEMCG": "y", "CFS_BANDWIDTH": "y", "IP_VS": "m",
        "INET_ESP": "m", "XFRM_USER": "y", "VLAN_8021Q": "m"}
GPU_CONSTRAINTS = ["node.labels.gpu==true"]


def plan(endpoint_mode="vip", count=1):
    return {"endpoint_mode": endpoint_mode, "gpu_requests": {"jellyfin": {"profiles": ["transcode"], "count": count}},
            "capacity": [{"service": "jellyfin", "cpus": 1, "reserve_memory": 0, "constraints": GPU_CONSTRAINTS, "global": False},
                         {"service": "navidrome", "cpus": 1, "reserve_memory": 0, "constraints": [], "global": False}]}


def kernel(**options):
    return {"release": "6.1.0-28-amd64", "config_source": "/boot/config-6.1.0-28-amd64", "options": {**GOOD, **options}}


def nodes(gpus=1, **options):
    return {"m1": {"role": "manager", "labels": {}, "kernel": kernel(**options), "gpus": 0},
            "w1": {"role": "worker", "labels": {"gpu": "true"}, "kernel": kernel(**options), "gpus": gpus},
            "w2": {"role": "worker", "labels": {}, "kernel": kernel(), "gpus": 0}}


def test_a_capable_cluster_has_no_problem():
    assert feature_problems(plan(), nodes(), matches=node_matches) == []


def test_vip_endpoints_need_ipvs_on_every_node_named_once_with_the_nodes_and_the_fix():
    out = feature_problems(plan(), nodes(IP_VS="n"), matches=node_matches)
    assert out == ["m1 (6.1.0-28-amd64, /boot/config-6.1.0-28-amd64), w1 (6.1.0-28-amd64, /boot/config-6.1.0-28-amd64): the "
                   "kernel has no IPVS (Swarm's VIP load balancing and ingress routing mesh, swarm_service_endpoint_mode vip) "
                   "(CONFIG_IP_VS not set); set swarm_service_endpoint_mode: dnsrr (published ports then use mode host), or "
                   "use a kernel built with CONFIG_IP_VS"]
    assert feature_problems(plan("dnsrr"), nodes(IP_VS="n"), matches=node_matches) == []


def test_every_base_feature_is_required_and_an_unread_kernel_is_unknown():
    for option in ("OVERLAY_FS", "VXLAN", "BRIDGE", "VETH", "MEMCG", "CFS_BANDWIDTH"):
        out = feature_problems(plan("dnsrr"), nodes(**{option: "n"}), matches=node_matches)
        assert len(out) == 1 and "CONFIG_%s not set" % option in out[0], (option, out)
    unknown = nodes(VXLAN="n")
    for node in unknown.values():
        node["kernel"] = {"release": "6.1", "config_source": None, "options": {}}
    assert feature_problems(plan(), unknown, matches=node_matches) == []


def test_encrypted_overlays_need_esp_and_xfrm():
    out = feature_problems(plan("dnsrr"), nodes(INET_ESP="n"), ["media", "admin"], matches=node_matches)
    assert len(out) == 1 and "encrypted overlay networks in swarm_networks: admin, media" in out[0]
    assert "CONFIG_INET_ESP not set" in out[0] and "set encrypted: false" in out[0]
    assert feature_problems(plan("dnsrr"), nodes(INET_ESP="n"), matches=node_matches) == []


def test_a_gpu_service_needs_enough_gpus_on_a_node_it_may_run_on():
    out = feature_problems(plan(), nodes(gpus=0), matches=node_matches)
    assert out == ["jellyfin: needs 1 NVIDIA GPU (gpu.count) and no node it may run on has one (w1: 0); its task would stay "
                   "pending. Install the GPU (and rerun), remove the gpu label from nodes without one (swarm_node_labels), "
                   "or disable the service"]
    assert feature_problems(plan(count=2), nodes(gpus=2), matches=node_matches) == []
    assert "needs 2 NVIDIA GPUs" in feature_problems(plan(count=2), nodes(gpus=1), matches=node_matches)[0]
    unread = nodes(gpus=0)
    unread["w1"]["gpus"] = None  # not read (--limit): may have one
    assert feature_problems(plan(), unread, matches=node_matches) == []


def test_capacity_problems_includes_the_feature_checks():
    small = {h: {**n, "cpus": 8, "memory_mb": 8192, "free_gib": None} for h, n in nodes(gpus=0, IP_VS="n").items()}
    out = capacity_problems(plan(), small)
    assert [p.split(" ")[0] for p in out] == ["m1", "jellyfin:"], out


def test_the_filter_reads_node_features_and_counts_the_labs_simulated_gpus():
    read = {"kernel": kernel(IP_VS="n"), "nvidia_gpus": [], "pci_display": [], "render_nodes": []}
    facts = {"processor_vcpus": 8, "memtotal_mb": 8192, "mounts": []}
    hostvars = {h: {"ansible_facts": facts, "swarm_node_labels": n["labels"], "__mediastack_node_features": copy.deepcopy(read)}
                for h, n in nodes().items()}
    out = catalog_capacity_problems(plan(), hostvars, ["m1", "w1", "w2"], ["m1"])
    assert len(out) == 2 and "CONFIG_IP_VS not set" in out[0] and out[1].startswith("jellyfin: needs 1 NVIDIA GPU"), out
    hostvars["w1"]["nvidia_simulated_gpus"] = [{"index": 0, "uuid": "GPU-lab"}]  # the lab's stand-in GPU
    assert catalog_capacity_problems(plan("dnsrr"), hostvars, ["m1", "w1", "w2"], ["m1"]) == []
    hostvars["m1"]["swarm_networks"] = [{"name": "media", "encrypted": True}]
    hostvars["w2"]["__mediastack_node_features"]["kernel"]["options"]["INET_ESP"] = "n"
    out = catalog_capacity_problems(plan("dnsrr"), hostvars, ["m1", "w1", "w2"], ["m1"])
    assert len(out) == 1 and out[0].startswith("w2 (") and "swarm_networks: media" in out[0], out
    del hostvars["w1"]["__mediastack_node_features"]  # not read: neither its kernel nor its GPUs are judged
    assert catalog_capacity_problems(plan("dnsrr"), hostvars, ["w1"], ["m1"]) == []
