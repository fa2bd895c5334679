# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``catalog_stack`` filter: one service description + platform settings -> a Docker stack file;
``catalog_stacks``: many at once (the services role renders its whole plan in one task)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.module_utils.catalog.model import CatalogError
from ansible_collections.mediastack.core.plugins.module_utils.catalog.parse import parse_service
from ansible_collections.mediastack.core.plugins.module_utils.catalog.stack import render_stack
from ansible_collections.mediastack.core.plugins.module_utils.swarm.stack_status import stamp_stack


def catalog_stack(service: Any, platform: Optional[Any] = None, name: Optional[str] = None, gpu_assignment: Optional[Any] = None) -> dict[str, Any]:
    """Render ``service`` (its ``name`` key or the ``name`` argument) as a compose v3 stack for docker_stack."""
    if not isinstance(service, Mapping):
        raise AnsibleFilterError("catalog_stack: the service description must be a mapping, got %s" % type(service).__name__)
    name = name if name is not None else service.get("name")
    if not name:
        raise AnsibleFilterError("catalog_stack: the service has no name; pass name='jellyfin' or give the description a name field")
    if gpu_assignment is not None and not isinstance(gpu_assignment, Mapping):
        raise AnsibleFilterError("catalog_stack: gpu_assignment must be the service's entry of gpu_assign's assignments (a mapping)")
    try:
        return stamp_stack(render_stack(parse_service(name, service, platform), platform, gpu_assignment))
    except CatalogError as exc:
        raise AnsibleFilterError("catalog_stack: %s" % "; ".join(exc.problems)) from exc


def catalog_stacks(catalog: Any, platform: Optional[Any] = None, names: Optional[Any] = None,
                   gpu_assignments: Optional[Any] = None) -> dict[str, Any]:
    """Render the services ``names`` (default every one) of ``catalog`` as stacks: name -> stack, in that order."""
    if not isinstance(catalog, Mapping):
        raise AnsibleFilterError("catalog_stacks: the catalog must be a mapping of service name to description, got %s" % type(catalog).__name__)
    names = list(catalog) if names is None else list(names)
    unknown = [name for name in names if name not in catalog]
    if unknown:
        raise AnsibleFilterError("catalog_stacks: %s not in the catalog (it has %s)" % (", ".join(unknown), ", ".join(sorted(catalog))))
    gpu_assignments = gpu_assignments or {}
    if not isinstance(gpu_assignments, Mapping):
        raise AnsibleFilterError("catalog_stacks: gpu_assignments must be gpu_assign's assignments (a mapping of service to assignment)")
    return {name: catalog_stack(catalog[name], platform, name=name, gpu_assignment=gpu_assignments.get(name)) for name in names}


class FilterModule:
    """Service catalog to Swarm stack."""

    def filters(self) -> dict[str, Any]:
        return {"catalog_stack": catalog_stack, "catalog_stacks": catalog_stacks}
