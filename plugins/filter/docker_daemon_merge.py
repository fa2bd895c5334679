# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``docker_daemon_merge`` filter: merge managed keys into an existing daemon.json."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

# Keys whose value is a list that several roles contribute to: merged as a set, order kept.
UNION_KEYS = ("insecure-registries", "registry-mirrors", "node-generic-resources", "dns", "default-address-pools")
# Keys whose value is a mapping that several roles contribute to: merged key by key.
MAP_KEYS = ("runtimes", "log-opts", "features")


def _load(existing: Any) -> dict[str, Any]:
    if existing is None or existing == "":
        return {}
    if isinstance(existing, Mapping):
        return dict(existing)
    if isinstance(existing, str):
        try:
            data = json.loads(existing)
        except ValueError as exc:
            raise AnsibleFilterError(
                "docker_daemon_merge: /etc/docker/daemon.json is not valid JSON (%s); fix or move it away, "
                "nothing was changed" % exc) from exc
        if not isinstance(data, dict):
            raise AnsibleFilterError("docker_daemon_merge: /etc/docker/daemon.json must hold a JSON object")
        return data
    raise AnsibleFilterError("docker_daemon_merge: existing must be the file's text or a mapping")


def docker_daemon_merge(existing: Any, updates: Any, remove: Any = None, swarm: bool = True) -> dict[str, Any]:
    """Return ``existing`` with ``updates`` merged in and the keys in ``remove`` dropped.

    Keys nobody manages are kept, so every role can add its own keys without overwriting the
    others'. List keys in UNION_KEYS and mapping keys in MAP_KEYS are merged, not replaced.
    """
    if not isinstance(updates, Mapping):
        raise AnsibleFilterError("docker_daemon_merge: updates must be a mapping of daemon.json keys")
    merged = _load(existing)
    for key, value in updates.items():
        if value is None:
            merged.pop(key, None)
        elif key in UNION_KEYS and isinstance(value, list):
            current = merged.get(key) if isinstance(merged.get(key), list) else []
            out = list(current)
            for item in value:
                if item not in out:
                    out.append(item)
            merged[key] = out
        elif key in MAP_KEYS and isinstance(value, Mapping):
            current = merged.get(key) if isinstance(merged.get(key), Mapping) else {}
            merged[key] = {**current, **value}
        else:
            merged[key] = value
    for key in remove or []:
        merged.pop(key, None)
    if swarm and merged.get("live-restore"):
        raise AnsibleFilterError(
            "docker_daemon_merge: live-restore is true, which Docker Swarm does not support; remove it from "
            "docker_daemon_options (or from /etc/docker/daemon.json)")
    return dict(sorted(merged.items()))


class FilterModule:
    """Docker daemon configuration filters."""

    def filters(self) -> dict[str, Any]:
        return {"docker_daemon_merge": docker_daemon_merge}
