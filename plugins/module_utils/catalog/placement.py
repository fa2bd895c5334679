# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Placement needs to Swarm constraints: the pure rules behind the ``swarm_constraints`` filter.

Shared by the filter and the service catalog (``catalog/parse.py``). Runs on targets too: keep the
syntax Python 3.8 compatible.
"""
from __future__ import annotations

import typing as t
from collections.abc import Mapping

from ansible_collections.mediastack.core.plugins.module_utils.problems import InputError

# The seed's placement rules.
ROLE_CONSTRAINTS = {
    "media": ["node.labels.type==media"],
    "data": ["node.labels.type==data"],
    "manager": ["node.role==manager"],
    "worker": ["node.role==worker"],
    "any": [],
}
KNOWN = {"role", "gpu", "ssd", "labels", "hostname"}


class PlacementError(InputError):
    """The placement needs are malformed; the message says what to fix."""


def placement_constraints(needs: t.Any) -> t.List[str]:
    """Return the placement constraints for ``needs``: role (media|data|manager|worker|any), gpu, ssd, labels, hostname.

    media -> type==media (+ gpu==true when gpu); data -> type==data (+ ssd==true when ssd, which
    databases get by default); manager -> node.role==manager.
    """
    if needs is None:
        needs = {}
    if not isinstance(needs, Mapping):
        raise PlacementError("placement must be a mapping such as {role: media, gpu: true}")
    unknown = sorted(set(needs) - KNOWN)
    if unknown:
        raise PlacementError("unknown placement key(s) %s; use %s" % (", ".join(unknown), ", ".join(sorted(KNOWN))))
    role = needs.get("role", "any")
    if role not in ROLE_CONSTRAINTS:
        raise PlacementError("placement role %r is not one of %s" % (role, ", ".join(ROLE_CONSTRAINTS)))
    for key in ("gpu", "ssd"):
        if key in needs and not isinstance(needs[key], bool):
            raise PlacementError("placement %s must be true or false, got %r" % (key, needs[key]))
    out = list(ROLE_CONSTRAINTS[role])
    if needs.get("gpu"):
        out.append("node.labels.gpu==true")
    if needs.get("ssd", role == "data"):
        out.append("node.labels.ssd==true")
    labels = needs.get("labels") or {}
    if not isinstance(labels, Mapping):
        raise PlacementError("placement labels must be a mapping of label to value")
    for key, value in sorted(labels.items()):
        if any(c.isspace() for c in "%s%s" % (key, value)):
            raise PlacementError("placement label %s=%s contains spaces" % (key, value))
        out.append("node.labels.%s==%s" % (key, value))
    if needs.get("hostname"):
        out.append("node.hostname==%s" % needs["hostname"])
    return out
