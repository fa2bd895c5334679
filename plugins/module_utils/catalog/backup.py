# -*- coding: utf-8 -*-
# Copyright (c) mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The backup consumer of the catalog: each service's ``backup_paths`` as host paths per backup class.

A container path in ``backup_paths`` lies in one of the service's volumes (the catalog refuses any other);
its host path is that volume's bind source plus the rest of the path. The volume's kind gives the class:
``config`` → config, ``data`` → metadata, ``media`` → media, a host path → config. The data directory of
the Swarm Postgres is never copied as files (a live data directory is no consistent backup): the plan
lists it under ``not_backed_up`` with the reason and, instead, every database the catalog declares (the
``dependencies.postgres`` of the enabled services) is dumped with ``pg_dump -Fc`` inside the running Postgres task
on the node that holds it (``swarm_service``: ``docker exec``; the backup runner), plus the cluster's globals.

``deploy_plan`` stores :func:`backup_entries` in the plan; ``catalog/plan.py``'s ``backup_services`` (filter
``catalog_backup_services``) turns the plan into the backup role's ``backup_services`` for one node, from
the services that node may run (the nodes a service cannot run on hold none of its data).
"""
from __future__ import annotations

import typing as t

from ansible_collections.mediastack.core.plugins.module_utils.catalog.model import Service, backup_volume, volume_source

CLASS_OF_KIND = {"config": "config", "host": "config", "data": "metadata", "media": "media"}


def backup_entries(chosen: t.Iterable[Service], settings: t.Mapping[str, t.Any]) -> t.List[t.Dict[str, t.Any]]:
    """Per planned service with backup paths: its placement constraints, host paths per class, what is left out."""
    out = []
    chosen = list(chosen)
    databases = sorted({s.postgres.database for s in chosen if s.postgres})
    for svc in chosen:
        if not svc.backup_paths:
            continue
        paths = {}  # type: t.Dict[str, t.List[str]]
        skipped = []
        for path in svc.backup_paths:
            volume = backup_volume(svc, path)
            if volume is None or volume.kind == "cache":
                continue  # refused when the catalog is parsed
            source = volume_source(volume, svc.name, settings).rstrip("/")
            host_path = source + path[len(volume.target.rstrip("/")):]
            if svc.name == settings["postgres_service"] and volume.kind != "media":
                skipped.append({"path": host_path, "reason": "a live PostgreSQL data directory is not a consistent backup; "
                                                             "its databases are dumped instead (pg_dump in the running task)"})
                continue
            cls = CLASS_OF_KIND[volume.kind]
            if host_path not in paths.setdefault(cls, []):
                paths[cls].append(host_path)
        entry = {"service": svc.name, "constraints": list(svc.constraints),
                 "paths": {cls: sorted(items) for cls, items in sorted(paths.items())}, "not_backed_up": skipped}
        if svc.name == settings["postgres_service"]:
            # the stack is named after the service (roles/services: docker_stack name), so its Swarm service is <name>_<name>
            entry["databases"] = [{"name": name, "swarm_service": "%s_%s" % (svc.name, svc.name)} for name in databases]
        out.append(entry)
    return out
