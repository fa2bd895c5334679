# -*- coding: utf-8 -*-
# Copyright (c) mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Summarise a Swarm stack's services from the Engine API's service, task and node objects.

Pure functions over the API's JSON (as returned by docker's ``APIClient.services()``, ``tasks()``,
``nodes()``), so the explanations are unit-tested without an engine. The module
``swarm_stack_status`` feeds them live data and waits for convergence.

The point is the explanation: a task that stays ``pending`` is reported with Swarm's reason and,
for the two usual causes, what holds it there: an exclusive generic resource (a GPU) already
reserved by another service, or placement constraints that no ready node satisfies.
"""
from __future__ import annotations

import copy
import hashlib
import json
import re
import typing as t

STACK_LABEL = "com.docker.stack.namespace"
# Every service of a stack rendered by mediastack carries the sha256 of the whole rendered stack (without this
# label): a stack whose services all carry the current value and run is up to date, and is not deployed again.
SPEC_HASH_LABEL = "mediastack.stack.sha256"
# Task states that will not reach "running" without a new task.
FINAL_STATES = ("complete", "failed", "shutdown", "rejected", "orphaned", "remove")
WAITING_STATES = ("new", "pending", "allocated", "assigned", "accepted", "preparing", "ready", "starting")


def _get(obj: t.Any, *path: str, default: t.Any = None) -> t.Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return default
        obj = obj[key]
    return obj


def generic_resources(items: t.Optional[t.Sequence[t.Dict[str, t.Any]]]) -> t.List[t.Tuple[str, str]]:
    """(kind, value) pairs of a GenericResources list (NamedResourceSpec or DiscreteResourceSpec)."""
    pairs = []
    for item in items or []:
        named = item.get("NamedResourceSpec")
        discrete = item.get("DiscreteResourceSpec")
        if named:
            pairs.append((str(named.get("Kind")), str(named.get("Value"))))
        elif discrete:
            pairs.append((str(discrete.get("Kind")), str(discrete.get("Value"))))
    return pairs


def _assigned(task: t.Dict[str, t.Any]) -> t.List[t.Dict[str, t.Any]]:
    """The generic resources Swarm assigned to a task (Engine API: GenericResources; swarmkit: AssignedGenericResources)."""
    return task.get("GenericResources") or task.get("AssignedGenericResources") or []


def node_table(nodes: t.Sequence[t.Dict[str, t.Any]]) -> t.Dict[str, t.Dict[str, t.Any]]:
    """Node ID -> hostname, state, availability, labels, advertised generic resources."""
    table = {}
    for node in nodes:
        table[node.get("ID", "")] = {
            "hostname": _get(node, "Description", "Hostname", default=node.get("ID", "?")),
            "state": _get(node, "Status", "State", default="unknown"),
            "availability": _get(node, "Spec", "Availability", default="active"),
            "role": _get(node, "Spec", "Role", default="worker"),
            "labels": _get(node, "Spec", "Labels", default={}) or {},
            "generic_resources": generic_resources(_get(node, "Description", "Resources", "GenericResources")),
        }
    return table


def _service_short_name(service: t.Dict[str, t.Any]) -> str:
    name = _get(service, "Spec", "Name", default="?")
    stack = (_get(service, "Spec", "Labels", default={}) or {}).get(STACK_LABEL)
    if stack and name.startswith(stack + "_"):
        return name[len(stack) + 1:]
    return name


def _reservations(service: t.Dict[str, t.Any]) -> t.List[t.Tuple[str, str]]:
    return generic_resources(_get(service, "Spec", "TaskTemplate", "Resources", "Reservations", "GenericResources"))


def _desired(service: t.Dict[str, t.Any], nodes: t.Dict[str, t.Dict[str, t.Any]]) -> t.Tuple[str, int]:
    mode = _get(service, "Spec", "Mode", default={}) or {}
    if "Replicated" in mode:
        return "replicated", int(_get(mode, "Replicated", "Replicas", default=1) or 0)
    if "Global" in mode:
        ready = [n for n in nodes.values() if n["state"] == "ready" and n["availability"] == "active"]
        return "global", len(ready)
    return "other", 0


def _task_row(task: t.Dict[str, t.Any], nodes: t.Dict[str, t.Dict[str, t.Any]]) -> t.Dict[str, t.Any]:
    node = nodes.get(task.get("NodeID", ""), {})
    env = _get(task, "Spec", "ContainerSpec", "Env", default=[]) or []
    return {
        "id": task.get("ID", "")[:12],
        "slot": task.get("Slot"),
        "node": node.get("hostname") if node else None,
        "state": _get(task, "Status", "State", default="unknown"),
        "desired_state": task.get("DesiredState", "unknown"),
        "message": _get(task, "Status", "Message", default=""),
        "error": _get(task, "Status", "Err", default=""),
        "since": _get(task, "Status", "Timestamp", default=""),
        "container_id": _get(task, "Status", "ContainerStatus", "ContainerID", default=""),
        "assigned_generic_resources": generic_resources(_assigned(task)),
        "env_count": len(env),
    }


def _holders(kind: str, services: t.Sequence[t.Dict[str, t.Any]], tasks_by_service: t.Dict[str, t.List[t.Dict[str, t.Any]]],
             nodes: t.Dict[str, t.Dict[str, t.Any]]) -> t.List[str]:
    """'<service> on <node> (<value>)' for every running task that was assigned a resource of ``kind``."""
    held = []
    for service in services:
        for task in tasks_by_service.get(service.get("ID", ""), []):
            if task.get("DesiredState") != "running":
                continue
            for res_kind, value in generic_resources(_assigned(task)):
                if res_kind == kind:
                    node = nodes.get(task.get("NodeID", ""), {}).get("hostname", "?")
                    held.append("%s on %s (%s)" % (_get(service, "Spec", "Name", default="?"), node, value))
    return sorted(held)


def explain_pending(service: t.Dict[str, t.Any], row: t.Dict[str, t.Any], services: t.Sequence[t.Dict[str, t.Any]],
                    tasks_by_service: t.Dict[str, t.List[t.Dict[str, t.Any]]], nodes: t.Dict[str, t.Dict[str, t.Any]]) -> str:
    """One sentence on why a task is not running, with what to change."""
    name = _get(service, "Spec", "Name", default="?")
    reason = row["error"] or row["message"] or row["state"]
    parts = ["%s: task %s is %s: %s" % (name, row["slot"] or row["id"], row["state"], reason)]
    reservations = _reservations(service)
    if reservations and re.search(r"insufficient resources", reason):
        for kind, amount in reservations:
            offered = sorted("%s (%s)" % (n["hostname"], value) for n in nodes.values()
                             for res_kind, value in n["generic_resources"] if res_kind == kind)
            holders = _holders(kind, services, tasks_by_service, nodes)
            if not offered:
                parts.append("it reserves %s=%s and no node advertises %s; add node-generic-resources to a node's "
                             "daemon.json (the nvidia role does this from NVML) or remove the reservation" % (kind, amount, kind))
            else:
                parts.append("it reserves %s=%s; the nodes that advertise %s are %s, and %s already held by %s. Swarm "
                             "generic resources are exclusive: free one (scale the holder down), add a GPU node, or "
                             "share the GPU explicitly (gpu_assign strategy share, no reservation)"
                             % (kind, amount, kind, ", ".join(offered), "all of it is" if holders else "none is",
                                ", ".join(holders) or "nothing"))
    constraints = _get(service, "Spec", "TaskTemplate", "Placement", "Constraints", default=[]) or []
    if constraints and re.search(r"no suitable node", reason) and not re.search(r"insufficient resources", reason):
        parts.append("placement constraints %s match no ready node; label a node or change the placement"
                     % ", ".join(constraints))
    if re.search(r"No such image|manifest unknown|pull access denied|not found", reason, re.I):
        image = _get(service, "Spec", "TaskTemplate", "ContainerSpec", "Image", default="?")
        parts.append("the image %s cannot be pulled by %s; push it to the registry the platform points at "
                     "(image_registry) or fix the version" % (image.split("@")[0], row["node"] or "the node"))
    return "; ".join(parts)


def summarise(services: t.Sequence[t.Dict[str, t.Any]], tasks: t.Sequence[t.Dict[str, t.Any]],
              nodes: t.Sequence[t.Dict[str, t.Any]]) -> t.Dict[str, t.Any]:
    """Per service: desired and running replicas, current tasks, and why any is not running."""
    table = node_table(nodes)
    by_service: t.Dict[str, t.List[t.Dict[str, t.Any]]] = {}
    for task in tasks:
        by_service.setdefault(task.get("ServiceID", ""), []).append(task)
    result = {}
    for service in sorted(services, key=lambda s: _get(s, "Spec", "Name", default="")):
        mode, desired = _desired(service, table)
        current = [task for task in by_service.get(service.get("ID", ""), []) if task.get("DesiredState") == "running"]
        if mode == "global":
            # Swarm creates one task per node that satisfies the constraints: that is the target.
            desired = len({task.get("NodeID") for task in current}) or desired
        pairs = [(task, _task_row(task, table)) for task in current]
        rows = sorted((row for _unused, row in pairs), key=lambda r: (str(r["slot"]), r["id"]))
        running = [r for r in rows if r["state"] == "running"]
        problems = [explain_pending(service, row, services, by_service, table) for _unused, row in pairs if row["state"] != "running"]
        recent_failures = sorted(
            (_task_row(task, table) for task in by_service.get(service.get("ID", ""), [])
             if _get(task, "Status", "State") in ("failed", "rejected")),
            key=lambda r: r["since"], reverse=True)[:3]
        result[_service_short_name(service)] = {
            "name": _get(service, "Spec", "Name", default="?"),
            "mode": mode,
            "desired": desired,
            "running": len(running),
            "nodes": sorted({r["node"] for r in running if r["node"]}),
            "image": _get(service, "Spec", "TaskTemplate", "ContainerSpec", "Image", default="").split("@")[0],
            "spec_hash": (_get(service, "Spec", "Labels", default={}) or {}).get(SPEC_HASH_LABEL),
            "generic_resources": ["%s=%s" % pair for pair in _reservations(service)],
            "converged": len(running) == desired and not problems,
            "tasks": rows,
            "problems": sorted(problems),
            "failed_task_ids": sorted(task.get("ID", "") for task in by_service.get(service.get("ID", ""), [])
                                      if _get(task, "Status", "State") in ("failed", "rejected")),
            "recent_failures": [
                "%s: task %s %s on %s: %s" % (_get(service, "Spec", "Name", default="?"), r["slot"], r["state"], r["node"],
                                              r["error"] or r["message"]) for r in recent_failures],
        }
    return result


def not_converged(summary: t.Dict[str, t.Dict[str, t.Any]], expect_pending: t.Iterable[str] = ()) -> t.List[str]:
    """Problem lines for every service that is not converged, except those expected to stay pending."""
    expected = set(expect_pending)
    lines = []
    for name, svc in sorted(summary.items()):
        if name in expected or svc["name"] in expected or svc["converged"]:
            continue
        detail = svc["problems"] or svc["recent_failures"] or ["no task is running yet"]
        lines.append("%s: %d/%d running; %s" % (svc["name"], svc["running"], svc["desired"], " | ".join(detail)))
    return lines


def stamp_stack(stack: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """A copy of a compose stack whose every service carries SPEC_HASH_LABEL: the sha256 of the stack without it."""
    stamped = copy.deepcopy(dict(stack))
    services = stamped.get("services") or {}
    for service in services.values():
        labels = service.setdefault("deploy", {}).setdefault("labels", {})
        if isinstance(labels, dict):
            labels.pop(SPEC_HASH_LABEL, None)
        elif isinstance(labels, list):
            service["deploy"]["labels"] = [item for item in labels if not str(item).startswith(SPEC_HASH_LABEL + "=")]
    digest = hashlib.sha256(json.dumps(stamped, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")).hexdigest()
    for service in services.values():
        labels = service["deploy"]["labels"]
        if isinstance(labels, list):
            labels.append("%s=%s" % (SPEC_HASH_LABEL, digest))
        else:
            labels[SPEC_HASH_LABEL] = digest
    return stamped


def spec_hash(stack: t.Mapping[str, t.Any]) -> t.Optional[str]:
    """The SPEC_HASH_LABEL value stamp_stack gave the stack (None when it was not stamped)."""
    for service in (stack.get("services") or {}).values():
        labels = (service.get("deploy") or {}).get("labels") or {}
        if isinstance(labels, list):
            labels = dict(str(item).split("=", 1) for item in labels if "=" in str(item))
        return labels.get(SPEC_HASH_LABEL)
    return None


def up_to_date(summary: t.Mapping[str, t.Mapping[str, t.Any]], stack: t.Mapping[str, t.Any]) -> bool:
    """Whether a stamped stack runs as rendered: each of its services exists, carries its hash, runs and
    wants the rendered number of replicas (a `docker service scale` by hand is not up to date)."""
    wanted = spec_hash(stack)
    rendered = stack.get("services") or {}
    if wanted is None or not summary or not set(rendered) <= set(summary):
        return False
    for name, svc in summary.items():
        deploy = (rendered.get(name) or {}).get("deploy") or {}
        replicas = deploy.get("replicas", 1) if deploy.get("mode", "replicated") == "replicated" else None
        if svc.get("spec_hash") != wanted or not svc["converged"] or (replicas is not None and svc["desired"] != int(replicas)):
            return False
    return True
