"""The shared segment-plan logic: validation, derivation, policy expansion, nftables rendering.

Property-style cases use seeded random plans (hypothesis is not installed): the seeds are fixed, so a
failure names a reproducible case.
"""
from __future__ import annotations

import copy
import ipaddress
import random
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ansible_collections.mediastack.core.plugins.module_utils.network.netplan import (
    TRACKER_BASE,
    TRACKER_SPAN,
    NetPlanError,
    derive_plan,
    docker_pool_networks,
    expand_policy,
    policy_allows,
    render_nftables,
    validate_plan,
)

SEED = yaml.safe_load((Path(__file__).resolve().parents[3] / "integration" / "network" / "seed_plan.yml").read_text())
PLAN = SEED["segments"]
POLICY = SEED["policy"]


def plan_with(index: int, **changes: object) -> list:
    plan = copy.deepcopy(PLAN)
    plan[index].update(changes)
    return plan


# ----------------------------------------------------------------------------- derivation


def test_seed_plan_derives_gateway_dhcp_and_statics() -> None:
    media, admin, data, dmz = derive_plan(PLAN)
    assert (media["gateway"], media["gateway_cidr"], media["netmask"]) == ("10.10.1.1", "10.10.1.1/24", "255.255.255.0")
    assert media["dhcp"] == {"enabled": True, "start": "10.10.1.128", "end": "10.10.1.254", "size": 127}
    assert media["static"] == {"proxy": "10.10.1.10", "swarm1": "10.10.1.11"}
    assert data["dhcp"] == {"enabled": True, "start": "10.10.3.100", "end": "10.10.3.199", "size": 100}
    assert [s["vlan"] for s in (media, admin, data, dmz)] == [10, 20, 30, 40]


def test_addressless_statics_get_the_lowest_free_address_outside_reserved_and_dhcp() -> None:
    plan = [{"name": "lab", "vlan": 5, "subnet": "192.0.2.0/28", "gateway": "192.0.2.1", "reserved": ["192.0.2.2-192.0.2.3"],
             "dhcp": {"start": "192.0.2.8", "end": "192.0.2.14"},
             "static": [{"name": "a"}, {"name": "b", "address": "192.0.2.4"}, "c", {"name": "d"}]}]
    seg = derive_plan(plan)[0]
    assert seg["static"] == {"a": "192.0.2.5", "b": "192.0.2.4", "c": "192.0.2.6", "d": "192.0.2.7"}
    plan[0]["static"].append({"name": "e"})
    with pytest.raises(NetPlanError, match="segment 'lab': no free address left for static host 'e'"):
        derive_plan(plan)


def test_dhcp_false_and_macs() -> None:
    seg = derive_plan([{"name": "x", "vlan": 9, "subnet": "10.9.0.0/24", "dhcp": False,
                        "static": [{"name": "nas", "mac": "52-54-00-AA-BB-CC"}]}])[0]
    assert seg["dhcp"]["enabled"] is False
    assert seg["static_macs"] == {"nas": "52:54:00:aa:bb:cc"} and seg["static"] == {"nas": "10.9.0.2"}


def test_docker_pools_accept_daemon_json_form() -> None:
    nets = docker_pool_networks([{"base": "10.200.0.0/16", "size": 24}, "172.17.0.0/16"])
    assert [str(n) for n in nets] == ["10.200.0.0/16", "172.17.0.0/16"]
    assert validate_plan(PLAN, nets and ["10.200.0.0/16", {"base": "172.17.0.0/16", "size": 24}]) is True


# ----------------------------------------------------------------------------- bad input

BAD_PLANS = [
    (plan_with(1, subnet="10.10.0.0/16"), "segment 'admin': subnet 10.10.0.0/16 overlaps segment 'media' (10.10.1.0/24)"),
    (plan_with(2, vlan=10), "segment 'data': vlan 10 is already used by segment 'media'; VLAN IDs must be unique"),
    (plan_with(0, vlan=4095), "segment 'media': vlan 4095 is out of range; pick a VLAN ID between 1 and 4094"),
    (plan_with(0, vlan=0), "segment 'media': vlan 0 is out of range"),
    (plan_with(0, vlan="ten"), "segment 'media': vlan 'ten' is not a whole number"),
    (plan_with(3, dhcp={"start": "10.10.5.10", "end": "10.10.5.20"}),
     "segment 'dmz': DHCP range 10.10.5.10-10.10.5.20 lies outside subnet 10.10.4.0/24; use addresses between 10.10.4.1 and 10.10.4.254"),
    (plan_with(3, dhcp={"start": "10.10.4.200", "end": "10.10.4.255"}), "segment 'dmz': DHCP range 10.10.4.200-10.10.4.255 lies outside"),
    (plan_with(0, dhcp={"start": "10.10.1.5", "end": "10.10.1.20"}),
     "segment 'media': DHCP range 10.10.1.5-10.10.1.20 contains 10.10.1.10 (static host 'proxy')"),
    (plan_with(0, reserved=["10.10.1.200-10.10.1.210"]), "segment 'media': DHCP range 10.10.1.128-10.10.1.254 overlaps reserved range"),
    (plan_with(0, gateway="10.10.2.1"), "segment 'media': gateway 10.10.2.1 lies outside subnet 10.10.1.0/24"),
    (plan_with(0, gateway="10.10.1.10"), "segment 'media': static host 'proxy' uses 10.10.1.10, which is already the gateway"),
    (plan_with(0, subnet="10.10.1.5/24"), "segment 'media': subnet '10.10.1.5/24' has host bits set; did you mean 10.10.1.0/24?"),
    (plan_with(0, subnet="10.10.1.0"), "segment 'media': subnet '10.10.1.0' has no prefix length"),
    (plan_with(0, subnet="fd00::/64"), "segment 'media': subnet 'fd00::/64' is IPv6"),
    (plan_with(0, name="Media!"), "name 'Media!' is invalid"),
    (plan_with(1, name="media"), "segment 'media': the name is used twice"),
    (plan_with(0, colour="blue"), "segment 'media': unknown key(s) colour"),
    (plan_with(0, static=[{"name": "x", "address": "10.10.1.7"}, {"name": "x"}]), "segment 'media': static host 'x' is listed twice"),
    (plan_with(0, static=[{"name": "x", "mac": "nope"}]), "segment 'media': static host 'x' has MAC 'nope'"),
    (plan_with(0, reserved=["10.10.1.1"]), "segment 'media': reserved range 10.10.1.1 contains the gateway"),
    ([{"name": "x", "vlan": 1}], "segment 'x': 'subnet' is missing"),
    ([], "the segment plan must be a non-empty list"),
    ("media", "the segment plan must be a non-empty list"),
]


@pytest.mark.parametrize(("plan", "message"), BAD_PLANS, ids=[m[:50] for _unused2, m in BAD_PLANS])
def test_bad_plans_name_the_segment_and_the_fix(plan: list, message: str) -> None:
    with pytest.raises(NetPlanError) as err:
        validate_plan(plan)
    assert message in str(err.value)


def test_docker_pool_overlap_is_refused() -> None:
    with pytest.raises(NetPlanError, match=r"segment 'media': subnet 10.10.1.0/24 overlaps Docker address pool 10.0.0.0/8"):
        validate_plan(PLAN, ["172.17.0.0/16", "10.0.0.0/8"])


BAD_POLICIES = [
    ({"flows": [{"name": "x", "from": "dmz", "to": "backup", "ports": [22]}]}, "flow 'x': 'to' names unknown segment 'backup'"),
    ({"flows": [{"name": "x", "from": "lab", "to": "media", "ports": [22]}]}, "flow 'x': 'from' names unknown segment 'lab'"),
    ({"flows": [{"name": "x", "from": "dmz", "to": "dmz", "ports": [22]}]}, "flow 'x': from and to are both 'dmz'"),
    ({"flows": [{"name": "x", "from": "dmz", "to": "media", "ports": [70000]}]}, "flow 'x': port '70000' is out of range"),
    ({"flows": [{"name": "x", "from": "dmz", "to": "media", "ports": [80], "proto": "icmp"}]}, "flow 'x': proto 'icmp' is not supported"),
    ({"flows": [{"name": "x", "from": "dmz", "to": "media", "ports": [80]}] * 2}, "flow 'x': the name is used twice"),
    ({"flows": [{"name": "x", "from": "dmz", "to": "media"}]}, "flow 'x': 'ports' is missing"),
    ({"flows": [{"name": "x", "from": "dmz", "to": "media", "ports": [80], "to_host": "db"}]},
     "flow 'x': to_host 'db' is not a static host of segment 'media'"),
    ({"default": "allow", "flows": []}, "zero-trust policy: default 'allow' is not supported"),
]


@pytest.mark.parametrize(("policy", "message"), BAD_POLICIES, ids=[m[:50] for _unused3, m in BAD_POLICIES])
def test_bad_policies_name_the_flow(policy: dict, message: str) -> None:
    with pytest.raises(NetPlanError) as err:
        expand_policy(policy, PLAN)
    assert message in str(err.value)


# ----------------------------------------------------------------------------- policy


def test_seed_policy_expands_to_pass_rules_then_default_deny() -> None:
    rules = expand_policy(POLICY, PLAN)
    assert [r["id"] for r in rules] == [
        "dmz-proxy:dmz>media", "admin-mgmt:admin>media", "admin-mgmt:admin>data", "admin-mgmt:admin>dmz", "media-db:media>data",
        "default-deny:media", "default-deny:admin", "default-deny:data", "default-deny:dmz",
    ]
    assert rules[0]["ports"] == ["80", "443"] and rules[0]["dst_net"] == "10.10.1.0/24"
    assert all(TRACKER_BASE <= r["tracker"] < TRACKER_BASE + TRACKER_SPAN for r in rules)
    assert len({r["tracker"] for r in rules}) == len(rules)


@pytest.mark.parametrize(("src", "dst", "port", "allowed"), [
    ("10.10.4.10", "10.10.1.10", 443, True),    # dmz -> media via the proxy ports
    ("10.10.4.10", "10.10.1.10", 22, False),    # ... and nothing else
    ("10.10.4.10", "10.10.3.10", 5432, False),  # dmz never reaches data
    ("10.10.1.11", "10.10.3.10", 5432, True),   # media -> data database ports
    ("10.10.1.11", "10.10.3.10", 22, False),
    ("10.10.3.10", "10.10.1.11", 5432, False),  # not the other way round
    ("10.10.2.10", "10.10.4.10", 22, True),     # admin -> every segment for management
    ("10.10.2.10", "10.10.3.10", 5432, False),  # but not its databases
    ("10.10.1.10", "10.10.2.10", 22, False),    # nobody manages admin
])
def test_policy_semantics(src: str, dst: str, port: int, allowed: bool) -> None:
    assert policy_allows(expand_policy(POLICY, PLAN), src, dst, "tcp", port) is allowed


def test_trackers_are_stable_when_a_segment_goes() -> None:
    before = {r["id"]: r["tracker"] for r in expand_policy(POLICY, PLAN)}
    policy = {"flows": [f for f in POLICY["flows"] if "dmz" not in (f["from"], f["to"])]}
    after = {r["id"]: r["tracker"] for r in expand_policy(policy, [s for s in PLAN if s["name"] != "dmz"])}
    assert after and all(before[key] == tracker for key, tracker in after.items())
    assert not any("dmz" in key for key in after)


def test_ports_merge_and_ranges() -> None:
    flows = [{"name": "web", "from": "dmz", "to": ["media", "media"], "ports": [443, "8000-8100", 80, 8050, "8101"], "proto": "TCP"}]
    (rule, *_rest) = expand_policy({"flows": flows}, PLAN)
    assert rule["ports"] == ["80", "443", "8000-8101"]
    assert rule["proto"] == "tcp"
    assert len([r for r in expand_policy({"flows": flows}, PLAN) if r["action"] == "pass"]) == 1


def test_to_host_narrows_a_flow_to_one_address() -> None:
    flows = [{"name": "web", "from": "dmz", "to": "media", "ports": [443], "to_host": "proxy"}]
    rules = expand_policy({"flows": flows}, PLAN)
    assert rules[0]["dst_net"] == "10.10.1.10/32"
    assert policy_allows(rules, "10.10.4.10", "10.10.1.10", "tcp", 443)
    assert not policy_allows(rules, "10.10.4.10", "10.10.1.11", "tcp", 443)


# ----------------------------------------------------------------------------- properties (seeded)


def random_plan(rng: random.Random) -> list:
    """A valid random plan: disjoint subnets carved from 10.0.0.0/8, unique VLANs, DHCP in the upper part."""
    count = rng.randint(1, 8)
    prefixes = [rng.randint(20, 28) for _unused1 in range(count)]  # /28 leaves room for 3 statics
    vlans = rng.sample(range(1, 4095), count)
    base = int(ipaddress.ip_address("10.%d.0.0" % rng.randint(0, 200)))
    plan = []
    for index, (prefix, vlan) in enumerate(zip(prefixes, vlans)):
        size = 2 ** (32 - prefix)
        base = (base + size - 1) // size * size  # align
        net = ipaddress.ip_network("%s/%d" % (ipaddress.ip_address(base), prefix))
        base += size * rng.randint(1, 3)
        hosts = list(net.hosts())
        seg = {"name": "s%d" % index, "vlan": vlan, "subnet": str(net)}
        if rng.random() < 0.5:
            lo = rng.randint(len(hosts) // 2, len(hosts) - 2)
            seg["dhcp"] = {"start": str(hosts[lo]), "end": str(hosts[rng.randint(lo, len(hosts) - 1)])}
        seg["static"] = [{"name": "h%d" % n} for n in range(rng.randint(0, 3))]
        plan.append(seg)
    rng.shuffle(plan)
    return plan


@pytest.mark.parametrize("seed", range(60))
def test_property_derived_plans_are_consistent(seed: int) -> None:
    rng = random.Random(seed)
    plan = random_plan(rng)
    derived = derive_plan(plan)
    nets = [ipaddress.ip_network(s["subnet"]) for s in derived]
    assert all(not a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])
    assert len({s["vlan"] for s in derived}) == len(derived)
    for seg, net in zip(derived, nets):
        gateway = ipaddress.ip_address(seg["gateway"])
        assert gateway in net and gateway not in (net.network_address, net.broadcast_address)
        statics = [ipaddress.ip_address(a) for a in seg["static"].values()]
        assert len(set(statics)) == len(statics) and gateway not in statics
        if seg["dhcp"]["enabled"]:
            lo, hi = ipaddress.ip_address(seg["dhcp"]["start"]), ipaddress.ip_address(seg["dhcp"]["end"])
            assert net.network_address < lo <= hi < net.broadcast_address
            assert not lo <= gateway <= hi and not any(lo <= a <= hi for a in statics)
    # Deriving is a pure function of the plan.
    assert derive_plan(copy.deepcopy(plan)) == derived


@pytest.mark.parametrize("seed", range(60))
def test_property_mutations_are_caught(seed: int) -> None:
    rng = random.Random(1000 + seed)
    plan = random_plan(rng)
    while len(plan) < 2:
        plan = random_plan(rng)
    victim, other = rng.sample(range(len(plan)), 2)
    kind = rng.choice(["overlap", "vlan-dup", "vlan-range", "dhcp-out"])
    name = plan[victim]["name"]
    if kind == "overlap":
        net = ipaddress.ip_network(plan[other]["subnet"])
        plan[victim]["subnet"] = str(net.supernet(rng.randint(0, 2)))
        plan[victim].pop("dhcp", None)
        expected = "overlaps segment"
    elif kind == "vlan-dup":
        plan[victim]["vlan"] = plan[other]["vlan"]
        expected = "VLAN IDs must be unique"
    elif kind == "vlan-range":
        plan[victim]["vlan"] = rng.choice([0, 4095, 5000, -1])
        expected = "out of range" if plan[victim]["vlan"] != -1 else "not a whole number"
    else:
        net = ipaddress.ip_network(plan[victim]["subnet"])
        plan[victim]["dhcp"] = {"start": str(net.broadcast_address + 1), "end": str(net.broadcast_address + 2)}
        expected = "lies outside subnet"
    with pytest.raises(NetPlanError) as err:
        validate_plan(plan)
    message = str(err.value)
    assert expected in message
    # The message names one of the two segments involved.
    assert "'%s'" % name in message or "'%s'" % plan[other]["name"] in message


@pytest.mark.parametrize("seed", range(40))
def test_property_policy_matches_its_flows(seed: int) -> None:
    """Every probe is allowed exactly when some flow lists (src segment, dst segment, port)."""
    rng = random.Random(2000 + seed)
    plan = random_plan(rng)
    while len(plan) < 2:
        plan = random_plan(rng)
    names = [s["name"] for s in plan]
    flows = []
    for n in range(rng.randint(0, 5)):
        src = rng.choice(names)
        to = "all" if rng.random() < 0.2 else rng.sample([x for x in names if x != src], rng.randint(1, len(names) - 1))
        flows.append({"name": "f%d" % n, "from": src, "to": to, "ports": rng.sample([22, 80, 443, 5432, 6379, 9090], rng.randint(1, 3))})
    rules = expand_policy({"default": "deny", "flows": flows}, plan)
    derived = {s["name"]: s for s in derive_plan(plan)}
    host = {n: str(next(ipaddress.ip_network(s["subnet"]).hosts()) + 0) for n, s in derived.items()}
    for src in names:
        for dst in names:
            if src == dst:
                continue
            for port in (22, 80, 443, 5432, 6379, 9090, 8080):
                listed = any(f["from"] == src and (f["to"] == "all" or dst in f["to"]) and port in f["ports"] for f in flows)
                assert policy_allows(rules, host[src], host[dst], "tcp", port) is listed, (src, dst, port)
                assert policy_allows(rules, host[src], host[dst], "udp", port) is False


# ----------------------------------------------------------------------------- nftables


def test_nftables_rules_follow_the_policy() -> None:
    text = render_nftables(expand_policy(POLICY, PLAN), PLAN)
    assert "ip saddr 10.10.4.0/24 ip daddr 10.10.1.0/24 tcp dport { 80, 443 } accept" in text
    assert "ip saddr 10.10.1.0/24 ip daddr 10.10.3.0/24 tcp dport { 5432, 6379 } accept" in text
    assert "flush ruleset" not in text
    assert text.count("policy accept;") == 2
    strict = render_nftables(expand_policy(POLICY, PLAN), PLAN, chain_policy="drop", log_denied=False)
    assert strict.count("policy drop;") == 2 and " log " not in strict


def test_nftables_refuses_rules_from_another_plan() -> None:
    rules = expand_policy(POLICY, PLAN)
    with pytest.raises(NetPlanError, match="does not belong to this segment plan"):
        render_nftables(rules, [s for s in PLAN if s["name"] != "dmz"])
    with pytest.raises(NetPlanError, match="chain policy 'reject'"):
        render_nftables(rules, PLAN, chain_policy="reject")


@pytest.mark.skipif(shutil.which("nft") is None, reason="nft (Debian package nftables) is not installed")
@pytest.mark.parametrize("chain_policy", ["accept", "drop"])
def test_nftables_ruleset_passes_nft_check(tmp_path: Path, chain_policy: str) -> None:
    path = tmp_path / "ms.nft"
    path.write_text(render_nftables(expand_policy(POLICY, PLAN), PLAN, chain_policy=chain_policy))
    proc = subprocess.run(["nft", "-c", "-f", str(path)], capture_output=True, text=True, check=False)
    if proc.returncode != 0 and "Operation not permitted" in proc.stderr:
        pytest.skip("nft -c needs CAP_NET_ADMIN")
    assert proc.returncode == 0, proc.stderr
