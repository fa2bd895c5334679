# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``catalog_pinned_services`` filter: the catalog's QuickSync services (the deploy plan's ``pinned``) as the
containers roles/quicksync ``tasks_from: pinned_container`` runs, each with the node it runs on (or why none);
``catalog_quicksync_nodes``: the Swarm hosts with an Intel iGPU and a render node. The work is in
``module_utils/catalog/pinned.py``."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.module_utils.catalog.features import has_quicksync
from ansible_collections.mediastack.core.plugins.module_utils.catalog.model import CatalogError
from ansible_collections.mediastack.core.plugins.module_utils.catalog.parse import parse_service
from ansible_collections.mediastack.core.plugins.module_utils.catalog.pinned import pinned_container, pinned_node, pinned_reason

FEATURES = "__mediastack_node_features"


def _hosts(name: str, hosts: Any, what: str = "hosts") -> list[str]:
    if hosts is None:
        return []
    if isinstance(hosts, (str, bytes, Mapping)) or not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError("%s: %s must be a list of inventory hosts such as groups['swarm'], got %r" % (name, what, hosts))
    return [str(h) for h in hosts]


def _features(hostvars: Any, host: str, features: str) -> Optional[Mapping[str, Any]]:
    """mediastack.core.node_features' result registered on the host, or None when it was not read there."""
    read = hostvars[host].get(features) if host in hostvars else None
    return read if isinstance(read, Mapping) and "kernel" in read else None


def _nodes(name: str, hostvars: Any, hosts: Any, managers: Any, features: str) -> dict[str, dict[str, Any]]:
    """Inventory host -> {role, labels, quicksync}, in the hosts' order (as catalog_capacity_problems reads them)."""
    if not isinstance(hostvars, Mapping):
        raise AnsibleFilterError("%s: hostvars must be the hostvars magic variable, got %s" % (name, type(hostvars).__name__))
    managers = set(_hosts(name, managers, "managers"))
    nodes = {}
    for host in _hosts(name, hosts):
        read = _features(hostvars, host, features)
        labels = hostvars[host].get("swarm_node_labels") if host in hostvars else None
        if labels is not None and not isinstance(labels, Mapping):
            raise AnsibleFilterError("%s: swarm_node_labels of %s must be a mapping such as {quicksync: 'true'}, got %r" % (name, host, labels))
        nodes[host] = {"role": "manager" if host in managers else "worker", "labels": dict(labels or {}),
                       "quicksync": has_quicksync(read) if read is not None else None}
    return nodes


def catalog_pinned_services(catalog: Any, platform: Optional[Any] = None, names: Optional[Any] = None, hostvars: Any = None,
                            hosts: Optional[Any] = None, managers: Optional[Any] = None, features: str = FEATURES) -> list[dict[str, Any]]:
    """Each QuickSync service of ``names`` (the plan's ``pinned``): {service, node (the inventory host that runs it, or
    None), reason (why there is no node; absent otherwise), container (quicksync_pinned_service)}.

    The container has no ``node``: the services role runs pinned_container delegated to ``node``, and pinned_container
    compares ``node`` with ``inventory_hostname``, which under delegation stays the host the play runs on.
    """
    if not isinstance(catalog, Mapping):
        raise AnsibleFilterError("catalog_pinned_services: the catalog must be a mapping of service name to description, got %s"
                                 % type(catalog).__name__)
    names = _hosts("catalog_pinned_services", names, "names") if names is not None else []
    unknown = [n for n in names if n not in catalog]
    if unknown:
        raise AnsibleFilterError("catalog_pinned_services: %s not in the catalog; pass the plan's pinned services (__services_plan.pinned)"
                                 % ", ".join(unknown))
    if names and hostvars is None:
        raise AnsibleFilterError("catalog_pinned_services: hostvars is required (pass the hostvars magic variable)")
    nodes = _nodes("catalog_pinned_services", hostvars, hosts, managers, str(features)) if names else {}
    out = []
    for name in names:
        try:
            svc = parse_service(name, catalog[name], platform)
            if not svc.quicksync:
                raise CatalogError(["%s is not a QuickSync service (quicksync: true); pass the plan's pinned services (__services_plan.pinned)" % name])
            container = pinned_container(svc, platform)
            node = pinned_node(svc.constraints, nodes)
            entry = {"service": name, "node": node, "container": container}  # type: dict[str, Any]
            if node is None:
                entry["reason"] = pinned_reason(svc.constraints, nodes)
        except CatalogError as exc:
            raise AnsibleFilterError("catalog_pinned_services: %s" % "; ".join(exc.problems)) from exc
        out.append(entry)
    return out


def catalog_quicksync_nodes(hostvars: Any, hosts: Any, features: str = FEATURES) -> list[str]:
    """The hosts (in their order) whose node features show an Intel iGPU with a render node."""
    nodes = _nodes("catalog_quicksync_nodes", hostvars, hosts, None, str(features))
    return [host for host, node in nodes.items() if node["quicksync"]]


class FilterModule:
    """Node-pinned (QuickSync) services of the catalog."""

    def filters(self) -> dict[str, Any]:
        return {"catalog_pinned_services": catalog_pinned_services, "catalog_quicksync_nodes": catalog_quicksync_nodes}
