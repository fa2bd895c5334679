# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``swarm_constraints`` filter: a service's placement needs to Swarm constraints."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

# The seed's placement rules.
ROLE_CONSTRAINTS = {
    "media": ["node.labels.type==media"],
    "data": ["node.labels.type==data"],
    "manager": ["node.role==manager"],
    "worker": ["node.role==worker"],
    "any": [],
}
KNOWN = {"role", "gpu", "ssd", "labels", "hostname"}


def swarm_constraints(needs: Any) -> list[str]:
    """Return the placement constraints for ``needs``: role (media|data|manager|worker|any), gpu, ssd, labels, hostname.

    media -> type==media (+ gpu==true when gpu); data -> type==data (+ ssd==true when ssd, which
    databases get by default); manager -> node.role==manager.
    """
    if needs is None:
        needs = {}
    if not isinstance(needs, Mapping):
        raise AnsibleFilterError("swarm_constraints: placement must be a mapping such as {role: media, gpu: true}")
    unknown = sorted(set(needs) - KNOWN)
    if unknown:
        raise AnsibleFilterError("swarm_constraints: unknown placement key(s) %s; use %s" % (", ".join(unknown), ", ".join(sorted(KNOWN))))
    role = needs.get("role", "any")
    if role not in ROLE_CONSTRAINTS:
        raise AnsibleFilterError("swarm_constraints: placement role %r is not one of %s" % (role, ", ".join(ROLE_CONSTRAINTS)))
    for key in ("gpu", "ssd"):
        if key in needs and not isinstance(needs[key], bool):
            raise AnsibleFilterError("swarm_constraints: placement %s must be true or false, got %r" % (key, needs[key]))
    out = list(ROLE_CONSTRAINTS[role])
    if needs.get("gpu"):
        out.append("node.labels.gpu==true")
    if needs.get("ssd", role == "data"):
        out.append("node.labels.ssd==true")
    labels = needs.get("labels") or {}
    if not isinstance(labels, Mapping):
        raise AnsibleFilterError("swarm_constraints: placement labels must be a mapping of label to value")
    for key, value in sorted(labels.items()):
        if any(c.isspace() for c in "%s%s" % (key, value)):
            raise AnsibleFilterError("swarm_constraints: placement label %s=%s contains spaces" % (key, value))
        out.append("node.labels.%s==%s" % (key, value))
    if needs.get("hostname"):
        out.append("node.hostname==%s" % needs["hostname"])
    return out


class FilterModule:
    """Swarm placement filters."""

    def filters(self) -> dict[str, Any]:
        return {"swarm_constraints": swarm_constraints}
