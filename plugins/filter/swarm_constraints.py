# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``swarm_constraints`` filter: a service's placement needs to Swarm constraints.

The rules live in ``module_utils/catalog/placement.py`` so the service catalog uses the same code.
"""
from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.module_utils.catalog.placement import PlacementError, placement_constraints


def swarm_constraints(needs: Any) -> list[str]:
    """Return the placement constraints for ``needs``: role (media|data|manager|worker|any), gpu, ssd, labels, hostname.

    media -> type==media (+ gpu==true when gpu); data -> type==data (+ ssd==true when ssd, which
    databases get by default); manager -> node.role==manager.
    """
    try:
        return placement_constraints(needs)
    except PlacementError as exc:
        raise AnsibleFilterError("swarm_constraints: %s" % exc) from exc


class FilterModule:
    """Swarm placement filters."""

    def filters(self) -> dict[str, Any]:
        return {"swarm_constraints": swarm_constraints}
