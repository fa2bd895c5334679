# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whole-inventory validation shared by the ``inventory_problems`` filter.

Everything here is pure computation on plain data so it can be unit-tested without Ansible's
variable manager: the filter hands in host variables, group membership and the role argument
specs, and gets back a list of problems, each naming the host, the variable and the fix.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ansible.module_utils.common.validation import (
    check_type_bool,
    check_type_dict,
    check_type_float,
    check_type_int,
    check_type_list,
    check_type_path,
)

MANAGERS_GROUP = "swarm_managers"
WORKERS_GROUP = "swarm_workers"
# Groups a host may belong to at most one of.
EXCLUSIVE_GROUPS: tuple[tuple[str, ...], ...] = ((MANAGERS_GROUP, WORKERS_GROUP),)
# Docker accepts more, but label keys/values with spaces or quotes break constraints and shells.
LABEL_KEY_RE = re.compile(r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$")
LABEL_VALUE_RE = re.compile(r"^[A-Za-z0-9._:/@+-]*$")

# Inventory-level variables that belong to no single role.
INVENTORY_VARS: dict[str, dict[str, Any]] = {
    "swarm_node_labels": {
        "type": "dict",
        "strict": True,
        "description": "Swarm node labels of this host, e.g. {type: media, gpu: 'true'}",
    },
}


def type_name(value: Any) -> str:
    """The YAML-level name of a value's type (Ansible wraps inventory values in tagged subclasses)."""
    for klass, name in ((bool, "bool"), (str, "str"), (int, "int"), (float, "float"), (Mapping, "dict"), (list, "list")):
        if isinstance(value, klass):
            return name
    return type(value).__name__


def _check_str_strict(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("%r is %s, not a string" % (value, type_name(value)))
    return value


_CHECKERS = {
    "str": _check_str_strict,
    "int": check_type_int,
    "float": check_type_float,
    "bool": check_type_bool,
    "list": check_type_list,
    "dict": check_type_dict,
    "path": check_type_path,
    "raw": lambda v: v,
}


@dataclass
class Problem:
    """One reason the inventory cannot be served."""

    host: str
    variable: str
    message: str
    fix: str

    def __str__(self) -> str:
        return "host %s, %s: %s. Fix: %s" % (self.host, self.variable, self.message, self.fix)


@dataclass
class Spec:
    """The expected type of every public variable: role argument specs plus inventory vars."""

    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_roles(cls, roles_dir: Path) -> "Spec":
        spec = cls()
        for name, opts in INVENTORY_VARS.items():
            spec.options[name] = opts
            spec.owner[name] = "inventory"
        for path in sorted(roles_dir.glob("*/defaults/main.yml")):
            spec.defaults.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        for path in sorted(roles_dir.glob("*/meta/argument_specs.yml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for entry in (data.get("argument_specs") or {}).values():
                for name, opts in (entry.get("options") or {}).items():
                    spec.options[name] = opts
                    spec.owner[name] = "role %s" % path.parent.parent.name
        return spec


def _type_problem(host: str, name: str, value: Any, opts: Mapping[str, Any], owner: str) -> str | None:
    """Return a message when ``value`` does not fit the option ``opts`` (type, choices, elements)."""
    wanted = opts.get("type", "str")
    if opts.get("strict") and wanted == "dict" and not isinstance(value, Mapping):
        return "is %r (%s) but %s expects a mapping" % (value, type_name(value), owner)
    checker = _CHECKERS.get(wanted)
    if checker is None:
        return None
    try:
        converted = checker(value)
    except (TypeError, ValueError) as exc:
        return "is %r (%s) but %s expects type %s (%s)" % (value, type_name(value), owner, wanted, exc)
    choices = opts.get("choices")
    if choices is not None:
        items = converted if wanted == "list" else [converted]
        bad = [i for i in items if i not in choices]
        if bad:
            return "has %r, not one of %s (%s)" % (bad[0] if wanted == "list" else converted, ", ".join(map(str, choices)), owner)
    elements = opts.get("elements")
    if wanted == "list" and elements in _CHECKERS:
        for index, item in enumerate(converted):
            sub = _type_problem(host, name, item, {"type": elements}, owner)
            if sub:
                return "item %d %s" % (index, sub)
    return None


def check_inventory(
    hostvars: Mapping[str, Mapping[str, Any]],
    groups: Mapping[str, Sequence[str]],
    spec: Spec,
) -> list[Problem]:
    """Every reason site.yml cannot serve this inventory; empty when it can."""
    problems: list[Problem] = []
    managers = list(groups.get(MANAGERS_GROUP) or [])
    if not managers:
        problems.append(Problem(
            "(inventory)", "group %s" % MANAGERS_GROUP, "there is no '%s' group or it has no hosts" % MANAGERS_GROUP,
            "add a '%s' group with an odd number of hosts (1, 3 or 5); see inventories/example/hosts.yml" % MANAGERS_GROUP))
    elif len(managers) % 2 == 0:
        problems.append(Problem(
            "(inventory)", "group %s" % MANAGERS_GROUP,
            "has %d hosts (%s); Raft needs an odd number of managers to keep quorum" % (len(managers), ", ".join(managers)),
            "add or remove one manager so the group holds 1, 3 or 5 hosts"))

    for exclusive in EXCLUSIVE_GROUPS:
        members: dict[str, list[str]] = {}
        for group in exclusive:
            for host in groups.get(group) or []:
                members.setdefault(host, []).append(group)
        for host, in_groups in sorted(members.items()):
            if len(in_groups) > 1:
                problems.append(Problem(
                    host, "groups %s" % " + ".join(in_groups), "is in %s, which exclude each other" % " and ".join(in_groups),
                    "keep %s in exactly one of %s" % (host, ", ".join(exclusive))))

    for host in sorted(hostvars):
        hvars = hostvars[host]
        for name in sorted(spec.options):
            if name not in hvars:
                continue
            value = hvars[name]
            message = _type_problem(host, name, value, spec.options[name], spec.owner[name])
            if message:
                problems.append(Problem(host, name, message, "give %s a value of type %s in the inventory (host_vars/group_vars)" % (
                    name, spec.options[name].get("type", "str"))))
        labels = hvars.get("swarm_node_labels")
        if isinstance(labels, Mapping):
            for key, value in sorted(labels.items(), key=lambda kv: str(kv[0])):
                if not isinstance(key, str) or not LABEL_KEY_RE.match(key):
                    problems.append(Problem(host, "swarm_node_labels.%s" % key, "label key %r is not a valid Swarm label key" % key,
                                            "use lower-case letters, digits, '.', '-' and '_' only"))
                if isinstance(value, bool) or not isinstance(value, (str, int)):
                    problems.append(Problem(host, "swarm_node_labels.%s" % key, "label value %r is %s" % (value, type_name(value)),
                                            "quote it as a string, e.g. %s: \"%s\"" % (key, str(value).lower())))
                elif not LABEL_VALUE_RE.match(str(value)):
                    problems.append(Problem(host, "swarm_node_labels.%s" % key, "label value %r contains spaces or special characters" % value,
                                            "use letters, digits and . _ : / @ + - only"))
    problems.extend(_network_problems(hostvars, managers, spec))
    return problems


def _network_problems(hostvars: Mapping[str, Mapping[str, Any]], managers: Sequence[str], spec: Spec) -> list[Problem]:
    """The Swarm overlay networks, as the bootstrap manager will create them, checked before any change."""
    # imported here: the filter module imports nothing from this one, so there is no cycle
    from ansible_collections.mediastack.core.plugins.filter.swarm_network_problems import swarm_network_problems

    if not managers:
        return []
    host = sorted(managers)[0]
    hvars = hostvars.get(host, {})

    def value(name: str) -> Any:
        found = hvars[name] if name in hvars else spec.defaults.get(name)
        if isinstance(found, str) and "{{" in found:
            return None
        return found

    networks = value("swarm_networks")
    if not isinstance(networks, list):
        return []
    pools = value("docker_default_address_pools") or []
    reserved = {
        "docker_default_address_pools": [p.get("base") for p in pools if isinstance(p, Mapping) and p.get("base")],
        "swarm_default_addr_pool": list(value("swarm_default_addr_pool") or []),
        "swarm_reserved_networks": list(value("swarm_reserved_networks") or []),
    }
    return [Problem(host, "swarm_networks", line, "change the subnet in swarm_networks or the overlapping setting")
            for line in swarm_network_problems(networks, reserved)]
