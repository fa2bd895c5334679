# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``catalog_deploy_plan``, ``catalog_plan_problems`` and ``catalog_host_paths`` filters: what the services role
deploys, and where, and every reason it cannot."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.module_utils.catalog.features import has_quicksync
from ansible_collections.mediastack.core.plugins.module_utils.catalog.model import CatalogError
from ansible_collections.mediastack.core.plugins.module_utils.catalog.plan import backup_services, capacity_problems, deploy_plan, host_paths
from ansible_collections.mediastack.core.plugins.module_utils.catalog.metrics import scrape_targets


def catalog_deploy_plan(catalog: Any, platform: Optional[Any] = None, enabled: Optional[Any] = None, only: Optional[Any] = None) -> dict[str, Any]:
    """Deploy order (dependencies first), stacks to remove, secrets, configs, databases and host paths."""
    if only is not None and (isinstance(only, (str, bytes, Mapping)) or not isinstance(only, (list, tuple))):
        raise AnsibleFilterError("catalog_deploy_plan: only must be a list of service names, got %r" % (only,))
    try:
        return deploy_plan(catalog, platform, list(enabled) if enabled is not None else None, list(only or []))
    except CatalogError as exc:
        raise AnsibleFilterError("catalog_deploy_plan: the service catalog cannot be deployed:\n  - %s" % "\n  - ".join(exc.problems)) from exc


def catalog_plan_problems(catalog: Any, platform: Optional[Any] = None, enabled: Optional[Any] = None,
                          only: Optional[Any] = None) -> list[str]:
    """Every reason ``catalog_deploy_plan`` would refuse these inputs, one line each; empty when it plans."""
    try:
        catalog_deploy_plan(catalog, platform, enabled, only)
    except AnsibleFilterError as exc:
        cause = exc.__cause__
        if isinstance(cause, CatalogError):
            return list(cause.problems)
        return [str(exc.message)]
    return []


def _free_gib(mounts: Any, path: str) -> Optional[float]:
    """Free GiB of the mount that holds path (the longest mount point that is a prefix of it)."""
    best = None
    for mount in mounts or []:
        point = str(mount.get("mount", ""))
        if point and (path == point or path.startswith(point.rstrip("/") + "/")) and (best is None or len(point) > len(best["mount"])):
            best = mount
    if best is None or best.get("size_available") is None:
        return None
    return float(best["size_available"]) / 1024 ** 3


def catalog_capacity_problems(plan: Any, hostvars: Any, hosts: Any, managers: Optional[Any] = None,
                              min_free_gib: float = 0, features: str = "__mediastack_node_features") -> list[str]:
    """The plan against the gathered facts of the Swarm nodes: CPU limits, memory reservations, free disk, and (where
    the host variable named by ``features`` holds mediastack.core.node_features' result) kernel features and GPUs."""
    if not isinstance(plan, Mapping) or "capacity" not in plan:
        raise AnsibleFilterError("catalog_capacity_problems: the input must be catalog_deploy_plan's result")
    ordered = list(managers or [])
    managers = set(ordered)
    nodes = {}
    for host in hosts or []:
        hvars = hostvars[host]
        facts = hvars.get("ansible_facts") or {}
        read = hvars.get(features) or {}
        read = read if isinstance(read, Mapping) and "kernel" in read else {}
        simulated = hvars.get("nvidia_simulated_gpus") or []
        nodes[str(host)] = {
            "role": "manager" if host in managers else "worker",
            "labels": dict(hvars.get("swarm_node_labels") or {}),
            "cpus": facts.get("processor_vcpus"),
            "memory_mb": facts.get("memtotal_mb"),
            "free_gib": _free_gib(facts.get("mounts"), str(plan.get("storage_root") or "/")),
            "kernel": read.get("kernel"),
            # the lab's stand-in GPUs (nvidia_simulated_gpus) count as the nvidia role counts them
            "gpus": len(read.get("nvidia_gpus") or []) + (len(simulated) if isinstance(simulated, list) else 0) if read else None,
            "quicksync": has_quicksync(read) if read else None,
        }
    networks = (hostvars[ordered[0]].get("swarm_networks") if ordered and ordered[0] in hostvars else None) or []
    encrypted = [str(n.get("name")) for n in networks if isinstance(n, Mapping) and n.get("encrypted") is True]
    # the nvidia role's strategy (spread: a GPU each; share), as the GPU nodes' own variables set it
    strategy = str(next((hostvars[h].get("nvidia_gpu_strategy") for h in hosts or [] if hostvars[h].get("nvidia_gpu_strategy")), "spread"))
    try:
        return capacity_problems(plan, nodes, float(min_free_gib or 0), encrypted, strategy)
    except CatalogError as exc:
        return list(exc.problems)


def catalog_scrape_targets(plan: Any, hosts: Any) -> list[dict[str, Any]]:
    """Prometheus targets (prometheus_service_targets) for the catalog services with metrics, through the edge."""
    if not isinstance(plan, Mapping) or "metrics" not in plan:
        raise AnsibleFilterError("catalog_scrape_targets: the input must be catalog_deploy_plan's result")
    if isinstance(hosts, (str, bytes)) or not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError("catalog_scrape_targets: hosts must be a list of inventory hosts, got %r" % (hosts,))
    try:
        return scrape_targets(plan, list(hosts))
    except CatalogError as exc:
        raise AnsibleFilterError("catalog_scrape_targets: %s" % "; ".join(exc.problems)) from exc


def _for_node(name: str, key: str, fn: Any, plan: Any, hostname: str, role: str, labels: Optional[Any]) -> Any:
    """Run one per-node view of the plan (fn), with the filter's name on every error."""
    if not isinstance(plan, Mapping) or key not in plan:
        raise AnsibleFilterError("%s: the input must be catalog_deploy_plan's result" % name)
    try:
        return fn(plan, str(hostname), str(role), dict(labels or {}))
    except CatalogError as exc:
        raise AnsibleFilterError("%s: %s" % (name, "; ".join(exc.problems))) from exc


def catalog_host_paths(plan: Any, hostname: str, role: str = "worker", labels: Optional[Any] = None) -> list[dict[str, Any]]:
    """The plan's host directories for one node (hostname, manager|worker, its Swarm labels)."""
    return _for_node("catalog_host_paths", "host_paths", host_paths, plan, hostname, role, labels)


def catalog_backup_services(plan: Any, hostname: str, role: str = "worker", labels: Optional[Any] = None) -> dict[str, Any]:
    """The backup role's backup_services for one node: {services, not_backed_up} (module_utils/catalog/backup.py)."""
    return _for_node("catalog_backup_services", "backup", backup_services, plan, hostname, role, labels)


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
        return {"catalog_deploy_plan": catalog_deploy_plan, "catalog_plan_problems": catalog_plan_problems,
                "catalog_capacity_problems": catalog_capacity_problems,
                "catalog_host_paths": catalog_host_paths, "catalog_node_paths": catalog_node_paths,
                "catalog_backup_services": catalog_backup_services,
                "catalog_gpu_nodes": catalog_gpu_nodes, "catalog_scrape_targets": catalog_scrape_targets}
