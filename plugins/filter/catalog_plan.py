# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``catalog_deploy_plan`` and ``catalog_host_paths`` filters: what the services role deploys, and where."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.module_utils.catalog import CatalogError
from ansible_collections.mediastack.core.plugins.module_utils.catalog_deploy import deploy_plan, host_paths


def catalog_deploy_plan(catalog: Any, platform: Optional[Any] = None, enabled: Optional[Any] = None, only: Optional[Any] = None) -> dict[str, Any]:
    """Deploy order (dependencies first), stacks to remove, secrets, configs, databases and host paths."""
    if only is not None and (isinstance(only, (str, bytes, Mapping)) or not isinstance(only, (list, tuple))):
        raise AnsibleFilterError("catalog_deploy_plan: only must be a list of service names, got %r" % (only,))
    try:
        return deploy_plan(catalog, platform, list(enabled) if enabled is not None else None, list(only or []))
    except CatalogError as exc:
        raise AnsibleFilterError("catalog_deploy_plan: the service catalog cannot be deployed:\n  - %s" % "\n  - ".join(exc.problems)) from exc


def catalog_host_paths(plan: Any, hostname: str, role: str = "worker", labels: Optional[Any] = None) -> list[dict[str, Any]]:
    """The plan's host directories for one node (hostname, manager|worker, its Swarm labels)."""
    if not isinstance(plan, Mapping) or "host_paths" not in plan:
        raise AnsibleFilterError("catalog_host_paths: the input must be catalog_deploy_plan's result")
    try:
        return host_paths(plan, str(hostname), str(role), dict(labels or {}))
    except CatalogError as exc:
        raise AnsibleFilterError("catalog_host_paths: %s" % "; ".join(exc.problems)) from exc


def catalog_node_paths(plan: Any, labels_by_host: Any, managers: Optional[Any] = None) -> list[list[Any]]:
    """[host, entry] for every node (inventory name -> Swarm labels) and every directory it needs."""
    if not isinstance(labels_by_host, Mapping):
        raise AnsibleFilterError("catalog_node_paths: labels_by_host must map inventory hostnames to their Swarm labels")
    managers = set(managers or [])
    out = []
    for host in sorted(labels_by_host):
        role = "manager" if host in managers else "worker"
        for entry in catalog_host_paths(plan, host, role, labels_by_host[host] or {}):
            out.append([host, entry])
    return out


def catalog_gpu_nodes(labels_by_host: Any) -> list[str]:
    """The inventory hostnames whose Swarm labels say ``gpu=true`` (as the swarm role writes the label), sorted."""
    if not isinstance(labels_by_host, Mapping):
        raise AnsibleFilterError("catalog_gpu_nodes: the input must map inventory hostnames to their Swarm labels (swarm_node_labels)")
    out = []
    for host in sorted(labels_by_host, key=str):
        labels = labels_by_host[host] or {}
        if not isinstance(labels, Mapping):
            raise AnsibleFilterError("catalog_gpu_nodes: swarm_node_labels of %s must be a mapping such as {gpu: 'true'}, got %r" % (host, labels))
        if str(labels.get("gpu", "")).strip().lower() == "true":
            out.append(str(host))
    return out


class FilterModule:
    """Service catalog deploy plan."""

    def filters(self) -> dict[str, Any]:
        return {"catalog_deploy_plan": catalog_deploy_plan, "catalog_host_paths": catalog_host_paths, "catalog_node_paths": catalog_node_paths,
                "catalog_gpu_nodes": catalog_gpu_nodes}
