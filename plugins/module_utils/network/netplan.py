# -*- coding: utf-8 -*-
# Copyright (c) mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Segment plans and zero-trust policies: validation, derivation, rule expansion, nftables rendering.

One implementation for the filter plugins (controller), the pfSense module (which runs on the
firewall, whose Python has only the standard library) and the nftables renderer. That is why
this file uses :mod:`ipaddress` and nothing outside the standard library.

Errors are :class:`NetPlanError` (a ``ValueError``) whose message names the segment or flow at
fault and says what to change; callers wrap it in ``AnsibleFilterError`` or ``fail_json``.
"""
from __future__ import annotations

import ipaddress
import re
import zlib

from ansible_collections.mediastack.core.plugins.module_utils.problems import InputError

SEGMENT_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,15}$")
FLOW_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,23}$")
HOST_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")

# Docker engine's built-in default-address-pools (172.17.0.0/16 .. 172.31.0.0/16, 192.168.0.0/16
# carved in /20s). Swarm's overlay pool (10.0.0.0/8 unless `default_addr_pool` is set) is not in
# here on purpose: a platform that segments 10.x must move Swarm's pool and pass it explicitly.
DOCKER_DEFAULT_POOLS = ("172.17.0.0/16", "172.18.0.0/15", "172.20.0.0/14", "172.24.0.0/13", "192.168.0.0/16")

PROTOCOLS = ("tcp", "udp")
TRACKER_BASE = 4200000000
TRACKER_SPAN = 10000000
SEGMENT_KEYS = frozenset(("name", "vlan", "subnet", "gateway", "dhcp", "reserved", "static", "description", "parent"))
FLOW_KEYS = frozenset(("name", "from", "to", "ports", "proto", "description", "to_host"))
POLICY_KEYS = frozenset(("default", "flows"))


class NetPlanError(InputError):
    """A segment plan or policy is wrong; the message says which item and how to fix it."""


# --------------------------------------------------------------------------- helpers


def _seg_label(raw: object, index: int) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("name"), str) and raw.get("name"):
        return "segment '%s'" % raw["name"]
    return "segment #%d" % (index + 1)


def _address(value: object, what: str) -> ipaddress.IPv4Address:
    try:
        addr = ipaddress.ip_address(str(value).strip())
    except ValueError:
        raise NetPlanError("%s: '%s' is not an IPv4 address; write it like 10.10.1.10" % (what, value))
    if addr.version != 4:
        raise NetPlanError("%s: '%s' is IPv6; segment plans are IPv4 only" % (what, value))
    return addr


def _network(value: object, what: str) -> ipaddress.IPv4Network:
    text = str(value).strip()
    if "/" not in text:
        raise NetPlanError("%s: subnet '%s' has no prefix length; write it in CIDR form like 10.10.1.0/24" % (what, value))
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise NetPlanError("%s: subnet '%s' is not a valid IPv4 network; write it in CIDR form like 10.10.1.0/24" % (what, value))
    if net.version != 4:
        raise NetPlanError("%s: subnet '%s' is IPv6; segment plans are IPv4 only" % (what, value))
    if net.network_address != ipaddress.ip_interface(text).ip:
        raise NetPlanError("%s: subnet '%s' has host bits set; did you mean %s?" % (what, value, net))
    return net


def _usable(net: ipaddress.IPv4Network) -> tuple:
    """First and last address a host may use in ``net``."""
    if net.prefixlen >= 31:
        return net.network_address, net.broadcast_address
    return net.network_address + 1, net.broadcast_address - 1


def _range(value: object, what: str) -> tuple:
    """``'a-b'``, ``'a'``, ``{start, end}`` or ``[a, b]`` to an inclusive (first, last) address pair."""
    if isinstance(value, dict):
        if "start" not in value or "end" not in value:
            raise NetPlanError("%s: a range needs both 'start' and 'end' (got %s)" % (what, sorted(value)))
        first, last = value["start"], value["end"]
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        first, last = value
    elif isinstance(value, str) and "-" in value:
        first, last = value.split("-", 1)
    else:
        first = last = value
    lo, hi = _address(first, what), _address(last, what)
    if lo > hi:
        raise NetPlanError("%s: range %s-%s runs backwards; put the lower address first" % (what, lo, hi))
    return lo, hi


def _fmt_range(lo: ipaddress.IPv4Address, hi: ipaddress.IPv4Address) -> str:
    return str(lo) if lo == hi else "%s-%s" % (lo, hi)


def docker_pool_networks(pools: object) -> list:
    """Docker ``default-address-pools`` (``[{base, size}]`` as in daemon.json, or CIDR strings) to networks."""
    if pools is None:
        return []
    if isinstance(pools, (str, dict)) or not isinstance(pools, (list, tuple)):
        pools = [pools]
    nets = []
    for index, pool in enumerate(pools):
        what = "Docker address pool #%d" % (index + 1)
        base = pool.get("base") if isinstance(pool, dict) else pool
        if base is None:
            raise NetPlanError("%s: a pool written as a mapping needs 'base' (as in daemon.json default-address-pools)" % what)
        nets.append(_network(base, what))
    return nets


# --------------------------------------------------------------------------- segment plan


def _check_keys(raw: dict, allowed: frozenset, what: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise NetPlanError("%s: unknown key(s) %s; allowed keys are %s" % (what, ", ".join(unknown), ", ".join(sorted(allowed))))


def _parse_segment(raw: object, index: int) -> dict:
    label = _seg_label(raw, index)
    if not isinstance(raw, dict):
        raise NetPlanError("%s: each segment must be a mapping with name, vlan and subnet (got %s)" % (label, type(raw).__name__))
    _check_keys(raw, SEGMENT_KEYS, label)
    for key in ("name", "vlan", "subnet"):
        if raw.get(key) in (None, ""):
            raise NetPlanError("%s: '%s' is missing; every segment needs name, vlan and subnet" % (label, key))
    name = raw["name"]
    if not isinstance(name, str) or not SEGMENT_NAME_RE.match(name):
        raise NetPlanError("%s: name '%s' is invalid; use 1-16 lowercase letters, digits or '_', starting with a letter" % (label, name))
    vlan = raw["vlan"]
    if isinstance(vlan, bool) or not isinstance(vlan, (int, str)) or not str(vlan).strip().isdigit():
        raise NetPlanError("%s: vlan '%s' is not a whole number; pick a VLAN ID between 1 and 4094" % (label, vlan))
    vlan = int(vlan)
    if not 1 <= vlan <= 4094:
        raise NetPlanError("%s: vlan %d is out of range; pick a VLAN ID between 1 and 4094" % (label, vlan))
    net = _network(raw["subnet"], label)
    if net.prefixlen > 30:
        raise NetPlanError("%s: subnet %s is too small for a gateway plus hosts; use a /30 or larger" % (label, net))
    first, last = _usable(net)

    def inside(addr: ipaddress.IPv4Address, what: str) -> None:
        if addr not in net or addr < first or addr > last:
            raise NetPlanError("%s: %s %s lies outside subnet %s; use an address between %s and %s" % (label, what, addr, net, first, last))

    gateway = _address(raw["gateway"], "%s: gateway" % label) if raw.get("gateway") not in (None, "") else first
    inside(gateway, "gateway")

    reserved = []
    raw_reserved = raw.get("reserved") or []
    if not isinstance(raw_reserved, list):
        raise NetPlanError("%s: 'reserved' must be a list of addresses or 'first-last' ranges" % label)
    for item in raw_reserved:
        lo, hi = _range(item, "%s: reserved" % label)
        inside(lo, "reserved range start")
        inside(hi, "reserved range end")
        reserved.append((lo, hi))

    statics = []
    raw_static = raw.get("static") or []
    if not isinstance(raw_static, list):
        raise NetPlanError("%s: 'static' must be a list of {name, address, mac} mappings (address and mac optional)" % label)
    names = set()
    for item in raw_static:
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not item.get("name"):
            raise NetPlanError("%s: each static entry needs a 'name' (got %r)" % (label, item))
        hname = str(item["name"])
        if not HOST_NAME_RE.match(hname):
            raise NetPlanError("%s: static host name '%s' is invalid; use letters, digits, '.', '_' or '-'" % (label, hname))
        if hname in names:
            raise NetPlanError("%s: static host '%s' is listed twice; give each host one entry" % (label, hname))
        names.add(hname)
        addr = None
        if item.get("address") not in (None, ""):
            addr = _address(item["address"], "%s: static host '%s'" % (label, hname))
            inside(addr, "static host '%s' address" % hname)
        mac = item.get("mac")
        if mac not in (None, ""):
            mac = str(mac).lower().replace("-", ":")
            if not MAC_RE.match(mac):
                raise NetPlanError("%s: static host '%s' has MAC '%s'; write it like 52:54:00:12:34:56" % (label, hname, item["mac"]))
        else:
            mac = None
        statics.append({"name": hname, "address": addr, "mac": mac})

    dhcp = raw.get("dhcp", True)
    if dhcp is True or dhcp is None:
        # Default: the upper half of the usable addresses; the lower half stays for gateway and statics.
        size = int(last) - int(first) + 1
        dhcp = (first + size // 2, last) if size >= 4 else None
        dhcp_given = False
    elif dhcp is False:
        dhcp = None
        dhcp_given = False
    else:
        dhcp = _range(dhcp, "%s: DHCP range" % label)
        dhcp_given = True
    if dhcp is not None:
        lo, hi = dhcp
        if lo not in net or hi not in net or lo < first or hi > last:
            raise NetPlanError("%s: DHCP range %s-%s lies outside subnet %s; use addresses between %s and %s"
                               % (label, lo, hi, net, first, last))
    return {
        "name": name, "vlan": vlan, "net": net, "first": first, "last": last, "gateway": gateway,
        "reserved": reserved, "static": statics, "dhcp": dhcp, "dhcp_given": dhcp_given,
        "description": str(raw.get("description") or ""), "parent": str(raw.get("parent") or ""),
    }


def _overlaps(lo: object, hi: object, olo: object, ohi: object) -> bool:
    return lo <= ohi and olo <= hi


def _allocate(seg: dict) -> dict:
    """Check the address layout inside one parsed segment and give address-less statics one."""
    label = "segment '%s'" % seg["name"]
    gateway = seg["gateway"]
    taken = {gateway: "the gateway"}
    for lo, hi in seg["reserved"]:
        if lo <= gateway <= hi:
            raise NetPlanError("%s: reserved range %s contains the gateway %s; reserve other addresses" % (label, _fmt_range(lo, hi), gateway))
    for host in seg["static"]:
        addr = host["address"]
        if addr is None:
            continue
        if addr in taken:
            raise NetPlanError("%s: static host '%s' uses %s, which is already %s; give it its own address" % (label, host["name"], addr, taken[addr]))
        for lo, hi in seg["reserved"]:
            if lo <= addr <= hi:
                raise NetPlanError("%s: static host '%s' address %s is inside reserved range %s; move the host or the reservation"
                                   % (label, host["name"], addr, _fmt_range(lo, hi)))
        taken[addr] = "static host '%s'" % host["name"]
    if seg["dhcp"] is not None:
        lo, hi = seg["dhcp"]
        rng = "%s-%s" % (lo, hi)
        for addr, what in taken.items():
            if lo <= addr <= hi:
                raise NetPlanError("%s: DHCP range %s contains %s (%s); shrink or move the DHCP range" % (label, rng, addr, what))
        for rlo, rhi in seg["reserved"]:
            if _overlaps(lo, hi, rlo, rhi):
                raise NetPlanError("%s: DHCP range %s overlaps reserved range %s; keep DHCP clear of reserved addresses"
                                   % (label, rng, _fmt_range(rlo, rhi)))
    # Hosts without an address get the lowest free one above the gateway.
    candidate = seg["first"]
    for host in seg["static"]:
        if host["address"] is not None:
            continue
        while True:
            busy = candidate in taken or any(lo <= candidate <= hi for lo, hi in seg["reserved"])
            busy = busy or (seg["dhcp"] is not None and seg["dhcp"][0] <= candidate <= seg["dhcp"][1])
            if not busy:
                break
            if candidate >= seg["last"]:
                raise NetPlanError("%s: no free address left for static host '%s'; enlarge the subnet or shrink the DHCP range"
                                   % (label, host["name"]))
            candidate += 1
        host["address"] = candidate
        taken[candidate] = "static host '%s'" % host["name"]
    return seg


def parse_plan(plan: object, docker_pools: object = None) -> list:
    """Validate ``plan`` as a whole; return parsed segments (ipaddress objects). Raises NetPlanError."""
    if not isinstance(plan, (list, tuple)) or not plan:
        raise NetPlanError("the segment plan must be a non-empty list of segments (name, vlan, subnet), got %s" % type(plan).__name__)
    pools = docker_pool_networks(docker_pools)
    segments = []
    by_name = {}
    by_vlan = {}
    for index, raw in enumerate(plan):
        seg = _parse_segment(raw, index)
        label = "segment '%s'" % seg["name"]
        if seg["name"] in by_name:
            raise NetPlanError("%s: the name is used twice; segment names must be unique" % label)
        if seg["vlan"] in by_vlan:
            raise NetPlanError("%s: vlan %d is already used by segment '%s'; VLAN IDs must be unique"
                               % (label, seg["vlan"], by_vlan[seg["vlan"]]))
        for other in segments:
            if seg["net"].overlaps(other["net"]):
                raise NetPlanError("%s: subnet %s overlaps segment '%s' (%s); give each segment its own address range"
                                   % (label, seg["net"], other["name"], other["net"]))
        for pool in pools:
            if seg["net"].overlaps(pool):
                raise NetPlanError("%s: subnet %s overlaps Docker address pool %s; move the segment or change Docker's "
                                   "default-address-pools so containers never get segment addresses" % (label, seg["net"], pool))
        by_name[seg["name"]] = seg
        by_vlan[seg["vlan"]] = seg["name"]
        segments.append(_allocate(seg))
    return segments


def validate_plan(plan: object, docker_pools: object = None) -> bool:
    parse_plan(plan, docker_pools)
    return True


def derive_plan(plan: object, docker_pools: object = None) -> list:
    """The plan with every allocation spelled out (strings and ints only, safe for Jinja and JSON)."""
    derived = []
    for seg in parse_plan(plan, docker_pools):
        net = seg["net"]
        dhcp = {"enabled": False, "start": "", "end": "", "size": 0}
        if seg["dhcp"] is not None:
            lo, hi = seg["dhcp"]
            dhcp = {"enabled": True, "start": str(lo), "end": str(hi), "size": int(hi) - int(lo) + 1}
        derived.append({
            "name": seg["name"],
            "vlan": seg["vlan"],
            "subnet": str(net),
            "network": str(net.network_address),
            "prefixlen": net.prefixlen,
            "netmask": str(net.netmask),
            "broadcast": str(net.broadcast_address),
            "gateway": str(seg["gateway"]),
            "gateway_cidr": "%s/%d" % (seg["gateway"], net.prefixlen),
            "dhcp": dhcp,
            "reserved": [_fmt_range(lo, hi) for lo, hi in seg["reserved"]],
            "static": dict((h["name"], str(h["address"])) for h in seg["static"]),
            "static_macs": dict((h["name"], h["mac"]) for h in seg["static"] if h["mac"]),
            "description": seg["description"] or "%s segment" % seg["name"],
            "parent": seg["parent"],
        })
    return derived


# --------------------------------------------------------------------------- zero-trust policy


def _ports(value: object, label: str) -> list:
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise NetPlanError("%s: 'ports' must be a non-empty list of ports (22) or ranges ('8000-8100')" % label)
    spans = []
    for item in value:
        text = str(item).strip()
        parts = text.split("-", 1)
        if isinstance(item, bool) or not all(p.strip().isdigit() for p in parts):
            raise NetPlanError("%s: port '%s' is not a number or 'first-last' range" % (label, item))
        lo, hi = int(parts[0]), int(parts[-1])
        if not (1 <= lo <= 65535 and 1 <= hi <= 65535) or lo > hi:
            raise NetPlanError("%s: port '%s' is out of range; ports run from 1 to 65535, lower first" % (label, item))
        spans.append((lo, hi))
    spans.sort()
    merged = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return ["%d" % lo if lo == hi else "%d-%d" % (lo, hi) for lo, hi in merged]


def _tracker(key: str, used: set) -> int:
    """A stable pfSense tracker for a managed rule: derived from the rule's identity, not its position."""
    offset = zlib.crc32(key.encode("utf-8")) % TRACKER_SPAN
    while TRACKER_BASE + offset in used:
        offset = (offset + 1) % TRACKER_SPAN
    used.add(TRACKER_BASE + offset)
    return TRACKER_BASE + offset


def expand_policy(policy: object, plan: object, docker_pools: object = None) -> list:
    """Zero-trust policy to an ordered rule list: allowed flows (pass) first, then a default deny per segment."""
    segments = derive_plan(plan, docker_pools)
    by_name = dict((s["name"], s) for s in segments)
    if not isinstance(policy, dict):
        raise NetPlanError("the zero-trust policy must be a mapping with 'default' and 'flows', got %s" % type(policy).__name__)
    _check_keys(policy, POLICY_KEYS, "zero-trust policy")
    if policy.get("default", "deny") != "deny":
        raise NetPlanError("zero-trust policy: default '%s' is not supported; the default is always 'deny' and allowed traffic "
                           "is listed in 'flows'" % policy.get("default"))
    flows = policy.get("flows") or []
    if not isinstance(flows, list):
        raise NetPlanError("zero-trust policy: 'flows' must be a list of {name, from, to, ports, proto}")
    rules = []
    seen = set()
    used = set()
    names = sorted(by_name)
    for index, flow in enumerate(flows):
        label = "flow #%d" % (index + 1)
        if isinstance(flow, dict) and isinstance(flow.get("name"), str):
            label = "flow '%s'" % flow["name"]
        if not isinstance(flow, dict):
            raise NetPlanError("%s: each flow must be a mapping with name, from, to and ports" % label)
        _check_keys(flow, FLOW_KEYS, label)
        for key in ("name", "from", "to", "ports"):
            if flow.get(key) in (None, "", []):
                raise NetPlanError("%s: '%s' is missing; every flow needs name, from, to and ports" % (label, key))
        name = flow["name"]
        if not isinstance(name, str) or not FLOW_NAME_RE.match(name):
            raise NetPlanError("%s: name is invalid; use 1-24 lowercase letters, digits, '_' or '-', starting with a letter" % label)
        if name in seen:
            raise NetPlanError("%s: the name is used twice; flow names must be unique" % label)
        seen.add(name)
        src = flow["from"]
        if src not in by_name:
            raise NetPlanError("%s: 'from' names unknown segment '%s'; known segments are %s" % (label, src, ", ".join(names)))
        targets = flow["to"]
        if targets in ("all", "*", ["all"]):
            targets = [s["name"] for s in segments if s["name"] != src]
        elif isinstance(targets, str):
            targets = [targets]
        elif isinstance(targets, list):
            targets = [t for i, t in enumerate(targets) if t not in targets[:i]]
        else:
            raise NetPlanError("%s: 'to' must be a segment name, a list of them or 'all'" % label)
        for dst in targets:
            if dst not in by_name:
                raise NetPlanError("%s: 'to' names unknown segment '%s'; known segments are %s (or 'all')" % (label, dst, ", ".join(names)))
            if dst == src:
                raise NetPlanError("%s: from and to are both '%s'; traffic inside a segment does not cross the firewall, "
                                   "drop it from the flow" % (label, src))
        proto = str(flow.get("proto") or "tcp").lower()
        if proto not in PROTOCOLS:
            raise NetPlanError("%s: proto '%s' is not supported; use one of %s" % (label, proto, ", ".join(PROTOCOLS)))
        ports = _ports(flow["ports"], label)
        to_host = flow.get("to_host")
        for dst in targets:
            dseg = by_name[dst]
            dst_net = dseg["subnet"]
            if to_host not in (None, ""):
                if to_host not in dseg["static"]:
                    raise NetPlanError("%s: to_host '%s' is not a static host of segment '%s'; add it to that segment's "
                                       "'static' list" % (label, to_host, dst))
                dst_net = "%s/32" % dseg["static"][to_host]
            key = "%s:%s>%s" % (name, src, dst)
            rules.append({
                "id": key, "flow": name, "action": "pass", "src": src, "dst": dst,
                "src_net": by_name[src]["subnet"], "dst_net": dst_net, "proto": proto, "ports": ports,
                "to_host": to_host or "",
                "description": "%s: %s -> %s %s/%s%s" % (
                    name, src, dst, proto, ",".join(ports), " (%s)" % flow["description"] if flow.get("description") else ""),
                "tracker": _tracker(key, used),
            })
    for seg in segments:
        key = "default-deny:%s" % seg["name"]
        rules.append({
            "id": key, "flow": "default-deny", "action": "block", "src": seg["name"], "dst": "any",
            "src_net": seg["subnet"], "dst_net": "", "proto": "any", "ports": [], "to_host": "",
            "description": "default deny: %s -> any" % seg["name"],
            "tracker": _tracker(key, used),
        })
    return rules


def _port_in(port: int, ports: list) -> bool:
    for item in ports:
        lo, dummy, hi = item.partition("-")
        if int(lo) <= port <= int(hi or lo):
            return True
    return False


def policy_allows(rules: list, src_address: str, dst_address: str, proto: str, port: int) -> bool:
    """Evaluate an expanded rule list for one connection (first match wins, nothing matched = deny)."""
    src = ipaddress.ip_address(src_address)
    dst = ipaddress.ip_address(dst_address)
    for rule in rules:
        if src not in ipaddress.ip_network(rule["src_net"]):
            continue
        if rule["action"] == "block":
            return False
        if dst in ipaddress.ip_network(rule["dst_net"]) and rule["proto"] == proto and _port_in(port, rule["ports"]):
            return True
    return False


# --------------------------------------------------------------------------- nftables


def _nft_ports(ports: list) -> str:
    return ports[0] if len(ports) == 1 else "{ %s }" % ", ".join(ports)


def render_nftables(rules: list, plan: object, chain_policy: str = "accept", table: str = "mediastack",
                    docker_pools: object = None, log_denied: bool = True) -> str:
    """An nftables ruleset (one ``inet`` table) enforcing ``rules`` for traffic between the plan's segments.

    The ``forward`` chain filters routed traffic between segments; the ``input`` chain applies the same rules
    to the host itself (its own address in a destination segment). Traffic within one segment is accepted.
    Only traffic whose source is a segment is judged, so Docker's and other tables keep working; with
    ``chain_policy='drop'`` everything else is dropped as well. The file replaces only its own table.
    """
    if chain_policy not in ("accept", "drop"):
        raise NetPlanError("nftables chain policy '%s' is not supported; use 'accept' or 'drop'" % chain_policy)
    if not re.match(r"^[a-z][a-z0-9_]{0,31}$", str(table)):
        raise NetPlanError("nftables table name '%s' is invalid; use lowercase letters, digits and '_'" % table)
    segments = derive_plan(plan, docker_pools)
    known = set(s["name"] for s in segments)
    for rule in rules:
        if not isinstance(rule, dict) or rule.get("src") not in known:
            raise NetPlanError("rule %r does not belong to this segment plan; expand the policy with zero_trust_rules on the same plan"
                               % (rule.get("id") if isinstance(rule, dict) else rule,))
    lines = [
        "# zero-trust policy between segments %s" % ", ".join("%s (%s, vlan %d)" % (s["name"], s["subnet"], s["vlan"]) for s in segments),
        "table inet %s {}" % table,
        "delete table inet %s" % table,
        "table inet %s {" % table,
        "\tset segments {",
        "\t\ttype ipv4_addr",
        "\t\tflags interval",
        "\t\telements = { %s }" % ", ".join(s["subnet"] for s in segments),
        "\t}",
        "",
    ]
    for chain, hook in (("forward", "forward"), ("input", "input")):
        lines.append("\tchain %s {" % chain)
        lines.append("\t\ttype filter hook %s priority filter; policy %s;" % (hook, chain_policy))
        lines.append("\t\tct state established,related accept")
        if chain == "input":
            lines.append("\t\tiif \"lo\" accept")
        lines.append("\t\tip saddr != @segments %s" % chain_policy)
        lines.append("\t\tct state invalid drop")
        for seg in segments:
            lines.append("\t\tip saddr %s ip daddr %s accept comment \"intra-segment %s\"" % (seg["subnet"], seg["subnet"], seg["name"]))
        for rule in rules:
            if rule["action"] == "pass":
                lines.append("\t\tip saddr %s ip daddr %s %s dport %s accept comment \"%s\"" % (
                    rule["src_net"], rule["dst_net"], rule["proto"], _nft_ports(rule["ports"]), rule["id"]))
            else:
                log = " log prefix \"ms-deny %s \" level info" % rule["src"][:15] if log_denied else ""
                lines.append("\t\tip saddr %s%s drop comment \"%s\"" % (rule["src_net"], log, rule["id"]))
        lines.append("\t}")
        lines.append("")
    lines[-1] = "}"
    return "\n".join(lines) + "\n"
