# -*- coding: utf-8 -*-
# Copyright: mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A throwaway PostgreSQL cluster to prove that a ``pg_dump -Fc`` dump restores.

``pg_restore --list`` only reads the table of contents; restoring into a real server and
querying the data is what proves a dump. The cluster lives in a temporary directory, listens on
127.0.0.1 at a random free port (and a private socket directory), runs as a non-root user when
started by root (PostgreSQL refuses root), and is stopped and removed on exit, also on errors.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import tempfile
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.mediastack.core.plugins.module_utils.backup.engine import EngineError, Runner


def quote_identifier(name: str) -> str:
    """Quote ``schema.table`` (or ``table``) as SQL identifiers."""
    parts = name.split(".")
    if not all(parts) or len(parts) > 2:
        raise ValueError("%r is not a table name (use table or schema.table)" % name)
    return ".".join('"%s"' % part.replace('"', '""') for part in parts)


def find_server_bin(bin_dir: Optional[str] = None) -> str:
    """The directory holding initdb and pg_ctl: ``bin_dir``, the newest Debian version, or PATH."""
    candidates = []  # type: List[str]
    if bin_dir:
        candidates.append(bin_dir)
    candidates.extend(sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True))
    candidates.extend(os.environ.get("PATH", "").split(os.pathsep))
    candidates.extend(["/usr/local/bin", "/usr/bin"])
    for directory in candidates:
        if os.access(os.path.join(directory, "initdb"), os.X_OK) and os.access(os.path.join(directory, "pg_ctl"), os.X_OK):
            return directory
    raise EngineError("missing_binary", "initdb/pg_ctl not found%s; install postgresql (apt-get install postgresql) "
                      "or set postgres_bin_dir" % (" in %s" % bin_dir if bin_dir else ""))


def _version_key(path: str) -> Tuple[int, ...]:
    digits = os.path.basename(os.path.dirname(path))
    return tuple(int(part) for part in digits.split(".") if part.isdigit())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
    finally:
        sock.close()


class ThrowawayPostgres(object):
    """Context manager: ``with ThrowawayPostgres(run) as pg: pg.restore(dump, "db"); pg.scalar("db", sql)``."""

    def __init__(self, run: Runner, bin_dir: Optional[str] = None, user: str = "postgres", parent: Optional[str] = None) -> None:
        self.run = run
        self.bin_dir = find_server_bin(bin_dir)
        self.user = user
        self.parent = parent
        self.workdir = ""
        self.port = 0
        self.started = False

    def _bin(self, name: str) -> str:
        local = os.path.join(self.bin_dir, name)
        if os.access(local, os.X_OK):
            return local
        found = shutil.which(name)
        if not found:
            raise EngineError("missing_binary", "%s not found; install postgresql-client" % name)
        return found

    def _as_owner(self, args: List[str]) -> List[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", self.user, "--"] + args
        return args

    def _call(self, args: List[str], what: str) -> str:
        rc, out, err = self.run(args, {"LC_ALL": "C", "PGCONNECT_TIMEOUT": "10"}, self.workdir or None)
        if rc != 0:
            raise EngineError("command", "%s failed (rc=%d): %s" % (what, rc, (err or out).strip()[-1500:]))
        return out

    def __enter__(self) -> "ThrowawayPostgres":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        self.workdir = tempfile.mkdtemp(prefix="backup-verify-pg-", dir=self.parent)
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam(self.user)
            except KeyError:
                self.stop()
                raise EngineError("missing_user", "user %r does not exist; PostgreSQL cannot run as root: create it "
                                  "(apt-get install postgresql creates 'postgres') or set postgres_user" % self.user)
            os.chown(self.workdir, entry.pw_uid, entry.pw_gid)
        data = os.path.join(self.workdir, "data")
        try:
            self._call(self._as_owner([self._bin("initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                                       "--no-sync", "--no-instructions"]), "initdb")
            last_error = None  # type: Optional[EngineError]
            for _attempt in range(3):
                self.port = free_port()
                options = "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" % (self.port, self.workdir)
                try:
                    self._call(self._as_owner([self._bin("pg_ctl"), "-D", data, "-l", os.path.join(self.workdir, "server.log"),
                                               "-o", options, "-w", "-t", "60", "start"]), "pg_ctl start")
                    self.started = True
                    return
                except EngineError as exc:
                    last_error = exc
            raise last_error or EngineError("command", "pg_ctl start failed")
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        if self.started:
            self.run(self._as_owner([self._bin("pg_ctl"), "-D", os.path.join(self.workdir, "data"), "-m", "immediate", "-w", "stop"]),
                     {}, self.workdir)
            self.started = False
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = ""

    def _conn(self) -> List[str]:
        return ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]

    def restore(self, dump_file: str, database: str) -> None:
        """Create ``database`` and restore a custom-format dump into it (owners/ACLs dropped)."""
        self._call([self._bin("createdb")] + self._conn() + [database], "createdb %s" % database)
        self._call([self._bin("pg_restore")] + self._conn() + ["--no-owner", "--no-acl", "--exit-on-error", "-d", database, dump_file],
                   "pg_restore of %s" % os.path.basename(dump_file))

    def scalar(self, database: str, sql: str) -> str:
        """The first column of the first row of ``sql``."""
        out = self._call([self._bin("psql")] + self._conn() + ["-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
                         "query on %s" % database)
        return out.strip().splitlines()[0] if out.strip() else ""

    def table_count(self, database: str, table: str) -> int:
        return int(self.scalar(database, "SELECT count(*) FROM %s" % quote_identifier(table)))

    def info(self) -> Dict[str, Any]:
        return {"bin_dir": self.bin_dir, "port": self.port}
