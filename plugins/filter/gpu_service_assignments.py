# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``gpu_service_assignments`` filter: the GPU nodes' gpu_assign results -> one assignment per service."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.module_utils.gpu.assign import GpuAssignError, merge_node_assignments

FACT = "nvidia_gpu_assignment"


def gpu_service_assignments(hostvars: Any, hosts: Any) -> dict[str, Any]:
    """Per service, the assignment the nvidia role made on the GPU node(s) among ``hosts`` (fact nvidia_gpu_assignment)."""
    if not isinstance(hostvars, Mapping) and not hasattr(hostvars, "__getitem__"):
        raise AnsibleFilterError("gpu_service_assignments: the input must be hostvars")
    nodes = {}
    for host in hosts or []:
        fact = hostvars[host].get(FACT) if hasattr(hostvars[host], "get") else None
        if fact is None:
            continue
        if not isinstance(fact, Mapping) or not isinstance(fact.get("assignments"), Mapping):
            raise AnsibleFilterError("gpu_service_assignments: %s of %s must be the nvidia role's {node, assignments}, got %r" % (FACT, host, fact))
        nodes[str(fact.get("node") or host)] = fact["assignments"]
    try:
        return merge_node_assignments(nodes)
    except GpuAssignError as exc:
        raise AnsibleFilterError("gpu_service_assignments: " + "; ".join(exc.problems)) from exc


class FilterModule:
    """GPU assignments for the services role."""

    def filters(self) -> dict[str, Any]:
        return {"gpu_service_assignments": gpu_service_assignments}
