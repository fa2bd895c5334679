# -*- coding: utf-8 -*-
# Copyright (c) mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The deploy plan of a catalog: which stacks to deploy in which order, which to remove, and what
each needs first (Docker secrets and configs, Postgres databases, host directories).

Pure Python over the catalog's model (``model.py``, ``parse.py``, ``validate.py``); the ``catalog_deploy_plan``
and ``catalog_host_paths`` filters and the ``services`` role use it, so one tested code path deploys any description.
"""
from __future__ import annotations

import re
import typing as t

from ansible_collections.mediastack.core.plugins.module_utils.catalog.model import (
    LIBRARY_KINDS, CatalogError, Service, format_cpus, library_root, volume_source,
)
from ansible_collections.mediastack.core.plugins.module_utils.catalog.parse import parse_catalog, platform_settings
from ansible_collections.mediastack.core.plugins.module_utils.catalog.validate import unknown_service, validate_catalog
from ansible_collections.mediastack.core.plugins.module_utils.catalog.backup import backup_entries
from ansible_collections.mediastack.core.plugins.module_utils.catalog.features import feature_problems

CONSTRAINT = re.compile(r"^\s*node\.(labels\.(?P<label>[A-Za-z0-9_.-]+)|role|hostname)\s*(?P<op>==|!=)\s*(?P<value>\S+)\s*$")


def _dependencies(svc: Service, settings: t.Dict[str, t.Any]) -> t.List[str]:
    deps = list(svc.depends_on)
    if svc.postgres:
        deps.append(settings["postgres_service"])
    if svc.redis:
        deps.append(settings["redis_service"])
    return deps


def deploy_order(services: t.Dict[str, Service], names: t.Iterable[str], settings: t.Dict[str, t.Any]) -> t.List[str]:
    """``names`` and everything they depend on, dependencies first (stable, alphabetical within a level)."""
    order = []  # type: t.List[str]
    visiting = []  # type: t.List[str]

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise CatalogError(["dependencies: cycle %s" % " -> ".join(visiting[visiting.index(name):] + [name])])
        if name not in services:
            raise CatalogError([unknown_service(name, services, "dependencies")])
        visiting.append(name)
        for dep in sorted(_dependencies(services[name], settings)):
            visit(dep)
        visiting.pop()
        order.append(name)

    for name in sorted(names):
        visit(name)
    return order


def deploy_plan(catalog: t.Any, platform: t.Optional[t.Mapping[str, t.Any]] = None, enabled: t.Optional[t.Sequence[str]] = None,
                only: t.Optional[t.Sequence[str]] = None) -> t.Dict[str, t.Any]:
    """The plan for ``enabled`` services (default: all not ``enabled: false``), or for ``only`` and its dependencies.

    Raises ``CatalogError`` with every problem when the catalog cannot be deployed.
    """
    problems = validate_catalog(catalog, platform, enabled)
    if problems:
        raise CatalogError(problems)
    settings = platform_settings(platform)
    active = [n for n in catalog if (n in enabled if enabled is not None else not (isinstance(catalog[n], dict) and catalog[n].get("enabled") is False))]
    services, parse_problems = parse_catalog({n: catalog[n] for n in active}, settings)
    if parse_problems:
        raise CatalogError(parse_problems)
    if only:
        unknown = [unknown_service(str(n), catalog, "only") for n in only if n not in catalog]
        disabled = ["only: %s is not enabled; add it to the enabled services first" % n for n in only if n in catalog and n not in services]
        if unknown or disabled:
            raise CatalogError(unknown + disabled)
    order = deploy_order(services, only or sorted(services), settings)
    everything = [services[n] for n in order]
    # A QuickSync service is not a Swarm stack: it runs as a container pinned to a QuickSync node (Swarm services cannot
    # take /dev/dri); the plan lists it apart ("pinned"), with its directories and backups like any other.
    chosen = [svc for svc in everything if not svc.quicksync]
    order = [svc.name for svc in chosen]
    remove = [] if only else sorted(n for n in catalog if n not in services)
    secrets = sorted({s for svc in chosen for s in svc.required_secrets()})
    configs = sorted({c["source"] for svc in chosen for c in svc.configs})
    postgres = [{"service": svc.name, "database": svc.postgres.database, "user": svc.postgres.user,
                 "password_secret": svc.postgres.password_secret, "server": settings["postgres_service"]}
                for svc in chosen if svc.postgres]
    paths = []
    for svc in everything:
        for vol in svc.volumes:
            if vol.kind == "host":
                continue
            # The library (downloads and media) is shared and belongs to the common role (owner, 0775): only made
            # to exist here. Services that keep the image's own user (Postgres, Redis) chown their directory
            # themselves and must traverse it after dropping root: 0755. The rest: the service's PUID/PGID, 0750.
            shared = vol.kind in LIBRARY_KINDS
            own = not shared and svc.run_as == "user"
            paths.append({"service": svc.name, "path": volume_source(vol, svc.name, settings), "kind": vol.kind,
                          "constraints": list(svc.constraints), "owner": svc.puid if own else None,
                          "group": svc.pgid if own else None,
                          "mode": None if shared else ("0750" if own else "0755")})
    return {
        "order": order,
        "remove": remove,
        "secrets": secrets,
        "configs": configs,
        "postgres": postgres,
        "host_paths": paths,
        "gpu": sorted(svc.name for svc in chosen if svc.gpu),
        # What the GPU nodes' nvidia role assigns (mediastack.core.gpu_assign's services): every enabled GPU service,
        # also when `only` deploys a few, so that a partial run advertises the same GPUs to Swarm as a full one.
        "gpu_requests": {svc.name: {"profiles": list(svc.gpu.profiles), "count": svc.gpu.count}
                         for svc in sorted(services.values(), key=lambda s: s.name) if svc.gpu},
        "gpu_resource_kind": str(settings["gpu_resource_kind"]),
        # What Prometheus scrapes (module_utils/catalog/metrics.py): every enabled service that declares metrics, also
        # when `only` deploys a few, and the edge service whose metrics entrypoint serves them.
        "metrics": {svc.name: {"port": svc.metrics["port"], "path": svc.metrics["path"]}
                    for svc in sorted(services.values(), key=lambda s: s.name) if svc.metrics},
        "edge_service": str(settings["edge_service"]),
        "routes": {svc.name: "%s.%s" % (svc.route.subdomain, settings["domain"]) for svc in chosen if svc.route},
        # What each task asks of a node, for the preflight's capacity check against the nodes' facts.
        "capacity": [{"service": svc.name, "cpus": svc.resources.cpus,
                      "reserve_memory": (svc.resources.reserve_memory if svc.resources.reserve_memory is not None
                                         else int(svc.resources.memory * float(settings["reservation_ratio"]))),
                      "constraints": list(svc.constraints), "global": svc.mode == "global"} for svc in chosen],
        "storage_root": settings["storage_root"],
        # vip needs IPVS in every node's kernel (the preflight's kernel check, module_utils/catalog/features.py)
        "endpoint_mode": str(settings["endpoint_mode"]),
        "library_root": library_root(settings),
        # Host paths per backup class of each service with backup_paths (module_utils/catalog/backup.py).
        "backup": backup_entries(everything, settings),
        # Services run as node-pinned containers on a QuickSync node (roles/quicksync, tasks_from pinned_container).
        "pinned": [svc.name for svc in everything if svc.quicksync],
        "quicksync": [{"service": svc.name, "constraints": list(svc.constraints)} for svc in everything if svc.quicksync],
    }


def node_matches(constraints: t.Iterable[str], hostname: str, role: str, labels: t.Mapping[str, t.Any]) -> bool:
    """Whether a node (hostname, role manager|worker, labels) satisfies Swarm placement constraints."""
    for constraint in constraints:
        match = CONSTRAINT.match(constraint)
        if not match:
            raise CatalogError(["constraint %r is not one this planner understands (node.labels.X, node.role, node.hostname with == or !=)"
                                % constraint])
        if match.group("label"):
            actual = labels.get(match.group("label"))
            actual = None if actual is None else (("true" if actual else "false") if isinstance(actual, bool) else str(actual))
        elif constraint.strip().startswith("node.role"):
            actual = role
        else:
            actual = hostname
        equal = actual == match.group("value")
        if (match.group("op") == "==") != equal:
            return False
    return True


def host_paths(plan: t.Mapping[str, t.Any], hostname: str, role: str, labels: t.Mapping[str, t.Any]) -> t.List[t.Dict[str, t.Any]]:
    """The plan's host directories that a node must have: those of the services it may run."""
    seen = {}  # type: t.Dict[str, t.Dict[str, t.Any]]
    for entry in plan.get("host_paths", []):
        if node_matches(entry["constraints"], hostname, role, labels) and entry["path"] not in seen:
            seen[entry["path"]] = {k: entry.get(k) for k in ("path", "service", "kind", "owner", "group", "mode")}
    return [seen[p] for p in sorted(seen)]


def backup_services(plan: t.Mapping[str, t.Any], hostname: str, role: str, labels: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """The backup role's ``backup_services`` for one node, from the services it may run, and what they leave out.

    Returns {services: [{name, paths: {class: [host paths]}, databases?}], not_backed_up: [{service, path, reason}]}; the
    Swarm Postgres's ``databases`` are dumped in its running task (``swarm_service``) on the node that holds it.
    """
    services, skipped = [], []
    for entry in plan.get("backup", []):
        if not node_matches(entry["constraints"], hostname, role, labels):
            continue
        if entry["paths"] or entry.get("databases"):
            service = {"name": entry["service"], "paths": {cls: list(items) for cls, items in entry["paths"].items()}}
            if entry.get("databases"):
                service["databases"] = [dict(db) for db in entry["databases"]]
            services.append(service)
        skipped += [dict(item, service=entry["service"]) for item in entry["not_backed_up"]]
    return {"services": services, "not_backed_up": skipped}


def capacity_problems(plan: t.Mapping[str, t.Any], nodes: t.Mapping[str, t.Mapping[str, t.Any]],
                      min_free_gib: float = 0, encrypted_networks: t.Iterable[str] = (), gpu_strategy: str = "spread") -> t.List[str]:
    """What the nodes' facts say the plan cannot get, before anything changes.

    ``nodes`` maps each Swarm node to {role: manager|worker, labels, cpus, memory_mb, free_gib}: free_gib is
    the free space of the filesystem that holds the platform's storage root (None when unknown); kernel and gpus
    (optional) are what mediastack.core.node_features read, checked by ``features.feature_problems``.
    Docker refuses a CPU limit above the node's CPUs ("range of CPUs is from 0.01 to N"), and Swarm leaves a
    task pending when no node can reserve its memory: both are caught here, naming the nodes that may run the
    service and the fix.
    """
    problems = []  # type: t.List[str]
    for entry in plan.get("capacity", []):
        eligible = {h: n for h, n in nodes.items() if node_matches(entry["constraints"], h, n["role"], n.get("labels") or {})}
        if not eligible:
            continue  # the plan's placement check reports services without any node
        described = ", ".join("%s: %s CPUs, %d MiB" % (h, n.get("cpus"), n.get("memory_mb") or 0) for h, n in sorted(eligible.items()))
        fits_cpu = [h for h, n in eligible.items() if n.get("cpus") is None or float(n["cpus"]) >= float(entry["cpus"])]
        if entry.get("global") and len(fits_cpu) < len(eligible):
            problems.append("%s: mode global runs a task on every node it may run on, and resources.cpus %s is more than %s "
                            "%s; Docker refuses such a limit. Lower it or narrow the placement"
                            % (entry["service"], format_cpus(float(entry["cpus"])), ", ".join(sorted(set(eligible) - set(fits_cpu))),
                               "has" if len(eligible) - len(fits_cpu) == 1 else "have"))
        elif not fits_cpu:
            problems.append("%s: resources.cpus %s is more than every node it may run on has (%s); Docker refuses such a "
                            "limit. Lower it (services_catalog_overrides: {%s: {resources: {cpus: N}}}) or label a bigger node"
                            % (entry["service"], format_cpus(float(entry["cpus"])), described, entry["service"]))
        need_mib = int(entry.get("reserve_memory") or 0) // (1024 * 1024)
        fits_mem = [h for h, n in eligible.items() if n.get("memory_mb") is None or int(n["memory_mb"]) >= need_mib]
        if need_mib and entry.get("global") and len(fits_mem) < len(eligible):
            problems.append("%s: mode global runs a task on every node it may run on, and it reserves %d MiB of memory, more "
                            "than %s %s; that task would stay pending. Lower resources.memory or resources.reserve_memory"
                            % (entry["service"], need_mib, ", ".join(sorted(set(eligible) - set(fits_mem))),
                               "has" if len(eligible) - len(fits_mem) == 1 else "have"))
        elif need_mib and not fits_mem:
            problems.append("%s: reserves %d MiB of memory, more than any node it may run on has (%s); its task would stay "
                            "pending. Lower resources.memory or resources.reserve_memory, or label a bigger node"
                            % (entry["service"], need_mib, described))
    if min_free_gib:
        for host, node in sorted(nodes.items()):
            free = node.get("free_gib")
            if free is not None and float(free) < float(min_free_gib):
                problems.append("%s: only %.1f GiB free on the filesystem of %s (at least %s GiB wanted); free space or "
                                "lower common_data_root_min_free_gib" % (host, float(free), plan.get("storage_root"),
                                                                         format_cpus(float(min_free_gib))))
    return problems + feature_problems(plan, nodes, encrypted_networks, node_matches, gpu_strategy)
