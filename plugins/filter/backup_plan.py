# -*- coding: utf-8 -*-
# Copyright: mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup_plan filter: service descriptions → the path set, excludes and hooks of every backup class."""
from __future__ import annotations

import posixpath
import re
from typing import Any, Dict, List, Optional

from ansible.errors import AnsibleFilterError

PATH_CLASSES = ("config", "metadata", "media")
DATABASE_CLASS = "databases"
CLASS_ORDER = (DATABASE_CLASS,) + PATH_CLASSES
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_SQLITE_SIDECARS = ("-wal", "-shm", "-journal")


def _fail(msg: str) -> None:
    raise AnsibleFilterError("backup_plan: " + msg)


def _abs(path: Any, where: str) -> str:
    if not isinstance(path, str) or not path.startswith("/"):
        _fail("%s: %r is not an absolute path" % (where, path))
    norm = posixpath.normpath(path)
    if norm == "/":
        _fail("%s: refusing to back up / as a whole; list the service's directories" % where)
    return norm


def _under(path: str, parent: str) -> bool:
    return path != parent and path.startswith(parent.rstrip("/") + "/")


def _database(entry: Any, where: str, defaults: Dict[str, Any]) -> Dict[str, Any]:
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, dict) or not entry.get("name"):
        _fail("%s: a database is a name or a mapping with name (and optional host, port, user, password_file, or swarm_service)" % where)
    unknown = sorted(set(entry) - {"name", "host", "port", "user", "password_file", "engine", "swarm_service"})
    if unknown:
        _fail("%s: unknown key(s) %s" % (where, ", ".join(unknown)))
    if entry.get("engine", "postgres") != "postgres":
        _fail("%s: engine %r is not supported; only postgres dumps (pg_dump -Fc) are" % (where, entry.get("engine")))
    if entry.get("swarm_service") is not None:
        # dumped inside the running task of that Swarm service on this node (docker exec), as its superuser
        service = str(entry["swarm_service"])
        if not _NAME.match(service) or set(entry) & {"host", "port", "password_file"}:
            _fail("%s: swarm_service must be a Swarm service name (e.g. postgres_postgres) and excludes host, port and "
                  "password_file" % where)
        return {"database": str(entry["name"]), "swarm_service": service, "user": str(entry.get("user", "postgres"))}
    result = {
        "database": str(entry["name"]),
        "host": str(entry.get("host", defaults.get("host", "127.0.0.1"))),
        "port": int(entry.get("port", defaults.get("port", 5432))),
        "user": str(entry.get("user", defaults.get("user", "postgres"))),
    }
    password_file = entry.get("password_file", defaults.get("password_file"))
    if password_file:
        result["password_file"] = _abs(password_file, where + ".password_file")
    return result


def backup_plan(
    services: Any,
    state_dir: str = "/var/lib/mediastack-backup",
    dump_dir: str = "/var/backups/mediastack",
    postgres_defaults: Optional[Dict[str, Any]] = None,
    manifests: bool = True,
) -> Dict[str, Any]:
    """Compute ``{"classes": {class: {...}}, "postgres_servers": [...]}`` from ``backup_services``.

    Every class lists sorted absolute ``paths``, the ``excludes`` that keep a nested path of
    another class (or a live SQLite file) out of it, the ``services`` it covers, its manifest
    path, and the hooks that run first (``postgres`` dumps, ``sqlite`` quiesced copies). Only
    classes with something to back up appear.
    """
    if services is None:
        services = []
    if not isinstance(services, list):
        _fail("backup_services must be a list of service mappings, got %s" % type(services).__name__)
    state_dir = _abs(state_dir, "state_dir")
    dump_dir = _abs(dump_dir, "dump_dir")
    defaults = dict(postgres_defaults or {})
    owner = {}  # type: Dict[str, str]
    classes = dict((name, {"paths": [], "excludes": [], "services": [], "postgres": [], "sqlite": []}) for name in CLASS_ORDER)
    seen_names = set()
    servers = {}  # type: Dict[Any, Dict[str, Any]]
    sqlite_sources = []  # type: List[str]
    for index, service in enumerate(services):
        where = "backup_services[%d]" % index
        if not isinstance(service, dict) or not service.get("name"):
            _fail("%s: each service needs a name" % where)
        name = str(service["name"])
        if not _NAME.match(name):
            _fail("%s: name %r must be lowercase letters, digits, '.', '_' or '-'" % (where, name))
        if name in seen_names:
            _fail("%s: service %r is listed twice" % (where, name))
        seen_names.add(name)
        unknown = sorted(set(service) - {"name", "paths", "databases", "sqlite"})
        if unknown:
            _fail("%s (%s): unknown key(s) %s; use paths, databases, sqlite" % (where, name, ", ".join(unknown)))
        paths = service.get("paths") or {}
        if not isinstance(paths, dict):
            _fail("%s (%s): paths must map config/metadata/media to lists of paths" % (where, name))
        bad = sorted(set(paths) - set(PATH_CLASSES))
        if bad:
            _fail("%s (%s): unknown path class(es) %s; use %s" % (where, name, ", ".join(bad), ", ".join(PATH_CLASSES)))
        for cls in PATH_CLASSES:
            items = paths.get(cls) or []
            if not isinstance(items, list):
                _fail("%s (%s): paths.%s must be a list" % (where, name, cls))
            for item in items:
                path = _abs(item, "%s (%s).paths.%s" % (where, name, cls))
                if path in owner:
                    _fail("%s (%s): %s is already in class %s; a path belongs to one class" % (where, name, path, owner[path]))
                owner[path] = cls
                classes[cls]["paths"].append(path)
                if name not in classes[cls]["services"]:
                    classes[cls]["services"].append(name)
        databases = service.get("databases") or []
        if not isinstance(databases, list):
            _fail("%s (%s): databases must be a list" % (where, name))
        for db_index, entry in enumerate(databases):
            db = _database(entry, "%s (%s).databases[%d]" % (where, name, db_index), defaults)
            db["service"] = name
            db["file"] = posixpath.join(dump_dir, "postgres", name, db["database"] + ".dump")
            if any(other["file"] == db["file"] for other in classes[DATABASE_CLASS]["postgres"]):
                _fail("%s (%s): database %s is listed twice" % (where, name, db["database"]))
            classes[DATABASE_CLASS]["postgres"].append(db)
            if db.get("swarm_service"):
                key = ("swarm", db["swarm_service"])  # type: Any
                if key not in servers:
                    servers[key] = {"swarm_service": db["swarm_service"], "user": db["user"],
                                    "globals_file": posixpath.join(dump_dir, "postgres", "globals-%s.sql" % db["swarm_service"])}
                continue
            key = (db["host"], db["port"])
            if key not in servers:
                server = {"host": db["host"], "port": db["port"], "user": db["user"],
                          "globals_file": posixpath.join(dump_dir, "postgres", "globals-%s-%d.sql" % (db["host"], db["port"]))}
                if db.get("password_file"):
                    server["password_file"] = db["password_file"]
                servers[key] = server
        sqlite = service.get("sqlite") or []
        if not isinstance(sqlite, list):
            _fail("%s (%s): sqlite must be a list of database file paths" % (where, name))
        for item in sqlite:
            source = _abs(item, "%s (%s).sqlite" % (where, name))
            if source in sqlite_sources:
                _fail("%s (%s): sqlite file %s is listed twice" % (where, name, source))
            sqlite_sources.append(source)
            dest = posixpath.join(dump_dir, "sqlite", name, posixpath.basename(source))
            if any(other["dest"] == dest for other in classes[DATABASE_CLASS]["sqlite"]):
                _fail("%s (%s): two SQLite files named %s; give them distinct file names" % (where, name, posixpath.basename(source)))
            classes[DATABASE_CLASS]["sqlite"].append({"service": name, "source": source, "dest": dest})
        if (databases or sqlite) and name not in classes[DATABASE_CLASS]["services"]:
            classes[DATABASE_CLASS]["services"].append(name)

    if classes[DATABASE_CLASS]["postgres"]:
        classes[DATABASE_CLASS]["paths"].append(posixpath.join(dump_dir, "postgres"))
    if classes[DATABASE_CLASS]["sqlite"]:
        classes[DATABASE_CLASS]["paths"].append(posixpath.join(dump_dir, "sqlite"))
    for path in classes[DATABASE_CLASS]["paths"]:
        for other, cls in owner.items():
            if _under(path, other) or _under(other, path) or path == other:
                _fail("the dump directory %s overlaps %s (class %s); move dump_dir outside service paths" % (path, other, cls))

    # A path nested in another class's path is excluded from the outer one; live SQLite files
    # (and their WAL/SHM/journal) are excluded wherever they lie, the quiesced copy is backed up.
    for cls in PATH_CLASSES:
        excludes = []
        for path in classes[cls]["paths"]:
            for other, other_cls in owner.items():
                if other_cls != cls and _under(other, path):
                    excludes.append(other)
            for source in sqlite_sources:
                if _under(source, path) or source == path:
                    excludes.extend([source] + [source + suffix for suffix in _SQLITE_SIDECARS])
        classes[cls]["excludes"] = sorted(set(excludes))

    plan = {}  # type: Dict[str, Any]
    for cls in CLASS_ORDER:
        entry = classes[cls]
        if not entry["paths"]:
            continue
        entry["paths"] = sorted(entry["paths"])
        entry["manifest"] = posixpath.join(state_dir, "manifests", cls + ".json") if manifests else None
        plan[cls] = entry
    return {"classes": plan, "postgres_servers": [servers[key] for key in sorted(servers, key=str)]}


class FilterModule(object):
    """mediastack backup filters."""

    def filters(self) -> Dict[str, Any]:
        return {"backup_plan": backup_plan}
