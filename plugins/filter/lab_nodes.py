# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``lab_nodes`` filter: the node list of a local lab from counts and a subnet."""
from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError

MANAGER_BASE = 11
WORKER_BASE = 21
REGISTRY_OFFSET = 5


def lab_nodes(name: str, managers: int, workers: int, subnet: str, worker_labels: Sequence[Mapping[str, str]] | None = None) -> dict[str, Any]:
    """Return the lab plan: gateway, registry address and one entry per node (name, group, address, labels)."""
    try:
        net = ipaddress.IPv4Network(subnet, strict=True)
    except ValueError as exc:
        raise AnsibleFilterError("lab_nodes: lab_network_subnet %r is not an IPv4 network: %s" % (subnet, exc)) from exc
    if net.prefixlen > 24:
        raise AnsibleFilterError("lab_nodes: lab_network_subnet %s is smaller than a /24; give a /24 or larger" % subnet)
    if not isinstance(managers, int) or isinstance(managers, bool) or managers < 1 or managers % 2 == 0:
        raise AnsibleFilterError("lab_nodes: lab_managers is %r; give an odd number such as 1, 3 or 5" % (managers,))
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0 or workers > 9:
        raise AnsibleFilterError("lab_nodes: lab_workers is %r; give 0 to 9" % (workers,))
    if managers > 9:
        raise AnsibleFilterError("lab_nodes: lab_managers is %d; give at most 9" % managers)
    labels = list(worker_labels or [])
    for index, entry in enumerate(labels):
        if not isinstance(entry, Mapping) or not all(isinstance(v, str) for v in entry.values()):
            raise AnsibleFilterError("lab_nodes: lab_worker_labels[%d] must map label names to quoted strings" % index)
    base = int(net.network_address)
    nodes = []
    for i in range(managers):
        nodes.append({"name": "%s-m%d" % (name, i + 1), "group": "swarm_managers",
                      "address": str(ipaddress.IPv4Address(base + MANAGER_BASE + i)), "labels": {}})
    for i in range(workers):
        nodes.append({"name": "%s-w%d" % (name, i + 1), "group": "swarm_workers",
                      "address": str(ipaddress.IPv4Address(base + WORKER_BASE + i)),
                      "labels": dict(labels[i % len(labels)]) if labels else {}})
    return {
        "subnet": str(net),
        "gateway": str(ipaddress.IPv4Address(base + 1)),
        "registry_address": str(ipaddress.IPv4Address(base + REGISTRY_OFFSET)),
        "nodes": nodes,
    }


class FilterModule:
    """Lab planning filters."""

    def filters(self) -> dict[str, Any]:
        return {"lab_nodes": lab_nodes}
