# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``hardware_tier`` filter: which hardware tier a host reaches, and what it lacks."""
from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

GIB = 1024 ** 3
FIELDS = (("cores", "CPU cores"), ("memory_gib", "GiB memory"), ("disk_gib", "GiB disk at the data root"))


def _disk_bytes(mounts: Any, path: str) -> int:
    """Size of the filesystem holding ``path`` (longest matching mount point)."""
    best, size = "", 0
    for mount in mounts or []:
        point = str(mount.get("mount", ""))
        if point and (path == point or path.startswith(point.rstrip("/") + "/") or point == "/"):
            if len(point) > len(best):
                best, size = point, int(mount.get("size_total") or 0)
    return size


def hardware_tier(facts: Any, tiers: Any, path: str = "/") -> dict[str, Any]:
    """Compare a host's facts with ``tiers`` (ordered lowest first) and return the tier reached.

    ``facts`` is ``ansible_facts`` (processor_vcpus, memtotal_mb, mounts). Returns
    ``{tier, below_minimum, measured, shortfalls}`` where shortfalls lists what is missing for the
    next tier up (or for the minimum when below it).
    """
    if not isinstance(facts, Mapping):
        raise AnsibleFilterError("hardware_tier: give ansible_facts (gather facts first)")
    if not isinstance(tiers, list) or not tiers:
        raise AnsibleFilterError("hardware_tier: the tiers must be a non-empty list of {name, cores, memory_gib, disk_gib}")
    for index, tier in enumerate(tiers):
        if not isinstance(tier, Mapping) or "name" not in tier:
            raise AnsibleFilterError("hardware_tier: tier %d needs a name" % index)
        for key, _label in FIELDS:
            value = tier.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise AnsibleFilterError("hardware_tier: tier %s has %s=%r; give a number of 0 or more" % (tier["name"], key, value))
    if "processor_vcpus" not in facts or "memtotal_mb" not in facts:
        raise AnsibleFilterError("hardware_tier: facts lack processor_vcpus/memtotal_mb; gather facts (hardware subset) first")
    measured = {
        "cores": int(facts["processor_vcpus"]),
        "memory_gib": round(int(facts["memtotal_mb"]) / 1024.0, 1),
        "disk_gib": round(_disk_bytes(facts.get("mounts"), posixpath.normpath(path)) / GIB, 1),
    }
    reached = None
    for tier in tiers:
        # memory is compared with 5 % slack: the kernel keeps part of the RAM for itself
        if (measured["cores"] >= tier.get("cores", 0) and measured["memory_gib"] >= 0.95 * tier.get("memory_gib", 0)
                and measured["disk_gib"] >= tier.get("disk_gib", 0)):
            reached = tier
        else:
            break
    nxt_index = 0 if reached is None else tiers.index(reached) + 1
    shortfalls = []
    if nxt_index < len(tiers):
        nxt = tiers[nxt_index]
        for key, label in FIELDS:
            need = nxt.get(key, 0)
            have = measured[key]
            if (have < 0.95 * need) if key == "memory_gib" else (have < need):
                shortfalls.append("%s: %s %s, %s needs %s" % (key, have, label, nxt["name"], need))
    return {"tier": reached["name"] if reached else "below-minimum", "below_minimum": reached is None,
            "measured": measured, "shortfalls": shortfalls}


class FilterModule:
    """Hardware filters."""

    def filters(self) -> dict[str, Any]:
        return {"hardware_tier": hardware_tier}
