# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``swarm_network_problems`` filter: what is wrong with a list of overlay networks."""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def _net(value: Any, where: str, problems: list[str]) -> ipaddress.IPv4Network | None:
    try:
        return ipaddress.IPv4Network(str(value), strict=True)
    except ValueError as exc:
        problems.append("%s: %r is not an IPv4 network such as 10.10.1.0/24 (%s)" % (where, value, exc))
        return None


def swarm_network_problems(networks: Any, reserved: Any = None) -> list[str]:
    """Return one line per problem of ``networks`` (name, subnet, ...); empty when they are usable.

    ``reserved`` maps a reason (e.g. "docker_default_address_pools") to networks the overlays must
    not overlap.
    """
    if not isinstance(networks, list):
        raise AnsibleFilterError("swarm_network_problems: swarm_networks must be a list of {name, subnet} mappings")
    problems: list[str] = []
    seen: list[tuple[str, ipaddress.IPv4Network]] = []
    names: set[str] = set()
    for index, entry in enumerate(networks):
        where = "swarm_networks[%d]" % index
        if not isinstance(entry, Mapping) or "name" not in entry or "subnet" not in entry:
            problems.append("%s must be a mapping with name and subnet" % where)
            continue
        name = str(entry["name"])
        where = "swarm_networks[%d] (%s)" % (index, name)
        if not _NAME_RE.match(name):
            problems.append("%s: the name must be lower-case letters, digits, '.', '_' or '-'" % where)
        if name in names:
            problems.append("%s: the name is used twice" % where)
        names.add(name)
        net = _net(entry["subnet"], where, problems)
        if net is None:
            continue
        if net.prefixlen > 29:
            problems.append("%s: %s is too small for a service network; give a /29 or larger" % (where, net))
        for other_name, other in seen:
            if net.overlaps(other):
                problems.append("%s: %s overlaps %s of network %s; give each segment its own subnet" % (where, net, other, other_name))
        for reason, items in (reserved or {}).items():
            for item in items or []:
                other = _net(item, "%s entry" % reason, problems)
                if other is not None and net.overlaps(other):
                    problems.append("%s: %s overlaps %s in %s; move the segment or change %s" % (where, net, other, reason, reason))
        seen.append((name, net))
    return problems


# Interfaces Docker and Swarm make themselves (their networks come from the address pools, checked above).
_DOCKER_IFACE_RE = re.compile(r"^(lo|docker0|docker_gwbridge|br-[0-9a-f]{12}|veth.*|vx-.*|vxlan.*)$")


def _host_networks(facts: Mapping[str, Any]) -> list[tuple[str, ipaddress.IPv4Interface]]:
    """(interface, address/prefix) of every IPv4 address in gathered facts, Docker's own interfaces left out."""
    out = []
    for iface in facts.get("interfaces") or []:
        if _DOCKER_IFACE_RE.match(str(iface)):
            continue
        data = facts.get(str(iface).replace("-", "_")) or {}
        addresses = [data.get("ipv4")] + list(data.get("ipv4_secondaries") or [])
        for addr in addresses:
            if not isinstance(addr, Mapping) or not addr.get("address") or not addr.get("netmask"):
                continue
            try:
                out.append((str(iface), ipaddress.IPv4Interface("%s/%s" % (addr["address"], addr["netmask"]))))
            except ValueError:
                continue
    return out


def swarm_host_network_problems(networks: Any, hostvars: Any, hosts: Any, pool: Any = None) -> list[str]:
    """The overlays (and Swarm's address pool) against the networks the nodes' interfaces are on (gathered facts).

    An overlay that overlaps a network a node is attached to hides that network from every container on the
    overlay. One line per overlapping pair, naming every node it concerns; nodes without facts are not judged.
    """
    if not isinstance(networks, list):
        raise AnsibleFilterError("swarm_host_network_problems: swarm_networks must be a list of {name, subnet} mappings")
    if isinstance(hosts, (str, bytes)) or not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError("swarm_host_network_problems: hosts must be a list of inventory hosts, got %r" % (hosts,))
    ours = []
    for entry in networks:
        if isinstance(entry, Mapping) and entry.get("subnet"):
            ours.append(("overlay %s" % entry.get("name"), "its subnet in swarm_networks", entry["subnet"]))
    for item in pool or []:
        ours.append(("swarm_default_addr_pool", "swarm_default_addr_pool", item))
    attached = {str(h): _host_networks((hostvars[h].get("ansible_facts") or {})) for h in hosts}
    problems = []
    for what, setting, subnet in ours:
        try:
            net = ipaddress.IPv4Network(str(subnet), strict=False)
        except ValueError:
            continue  # swarm_network_problems (the validation play) names it
        hits: dict[str, list[str]] = {}
        for host in sorted(attached):
            for iface, addr in attached[host]:
                if net.overlaps(addr.network):
                    hits.setdefault(str(addr.network), []).append("%s (%s %s)" % (host, iface, addr.ip))
        for other, where in sorted(hits.items()):
            problems.append("%s (%s) overlaps %s, the network of %s; containers on it could not reach that network. "
                            "Change %s" % (what, net, other, ", ".join(where), setting))
    return problems


class FilterModule:
    """Swarm network filters."""

    def filters(self) -> dict[str, Any]:
        return {"swarm_network_problems": swarm_network_problems, "swarm_host_network_problems": swarm_host_network_problems}
