# -*- coding: utf-8 -*-
# Copyright: mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Thin, read-mostly wrappers around the restic and borg command lines.

Commands go through a ``run(args, env, cwd)`` callable returning ``(rc, stdout, stderr)`` so the
module can use ``AnsibleModule.run_command``. Passwords travel in the environment (never in
argv) and error messages are built from the tools' stderr with the secret values scrubbed.
"""
from __future__ import annotations

import json
import os
import re
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ansible_collections.mediastack.core.plugins.module_utils.backup.policy import parse_timestamp
from ansible_collections.mediastack.core.plugins.module_utils.problems import InputError

Runner = Callable[[List[str], Dict[str, str], Optional[str]], Tuple[int, str, str]]

BORG_ARCHIVE = re.compile(r"^(?P<cls>.+)-(?P<stamp>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})$")
_GLOB_CHARS = re.compile(r"([*?\[\]\\])")


class EngineError(InputError):
    """A backup tool failed. ``kind`` is one of missing_binary, missing_repository,
    wrong_password, locked, command (missing_user for the throwaway PostgreSQL)."""

    def __init__(self, kind: str, message: str) -> None:
        super(EngineError, self).__init__(message)
        self.kind = kind
        self.message = message


def is_local_repository(engine: str, repository: str) -> bool:
    """True when the repository string names a local path rather than a backend URL."""
    if engine == "restic":
        return repository.startswith("/") or repository.startswith("local:") or repository.startswith(".")
    return "://" not in repository and not re.match(r"^[^/]+@[^/]+:", repository)


def local_path(engine: str, repository: str) -> str:
    """The filesystem path of a local repository string."""
    if engine == "restic" and repository.startswith("local:"):
        return repository[len("local:"):]
    return repository


def scrub(text: str, secrets: Sequence[str]) -> str:
    """Replace every secret value in ``text`` with ``********``."""
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "********")
    return text


class Repository(object):
    """Common plumbing: environment, command execution and error classification."""

    engine = ""
    password_var = ""
    password_file_var = ""

    def __init__(self, run: Runner, repository: str, password: Optional[str] = None, password_file: Optional[str] = None,
                 env: Optional[Dict[str, str]] = None, executable: Optional[str] = None) -> None:
        self.run = run
        self.repository = repository
        self.executable = executable or self.engine
        self.env = dict((str(key), str(value)) for key, value in (env or {}).items())
        if password is not None:
            self.env[self.password_var] = password
        if password_file is not None:
            self.env[self.password_file_var] = password_file
        self.secrets = [value for value in self.env.values() if value]
        if password:
            self.secrets.append(password)

    def classify(self, rc: int, err: str) -> EngineError:
        raise NotImplementedError

    def call(self, args: List[str], cwd: Optional[str] = None) -> str:
        """Run the tool; raise a classified, scrubbed EngineError on a non-zero exit."""
        try:
            rc, out, err = self.run([self.executable] + args, self.env, cwd)
        except OSError as exc:
            raise EngineError("missing_binary", "cannot run %s: %s; install it (apt-get install %s)"
                              % (self.executable, exc, "borgbackup" if self.engine == "borg" else "restic"))
        if rc != 0:
            raise self.classify(rc, scrub((err or "") + (out or "") if not err else err, self.secrets))
        return out


class ResticRepository(Repository):
    """A restic repository (local path, ``s3:``, ``sftp:``, ``rest:`` ...)."""

    engine = "restic"
    password_var = "RESTIC_PASSWORD"
    password_file_var = "RESTIC_PASSWORD_FILE"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super(ResticRepository, self).__init__(*args, **kwargs)
        self.env["RESTIC_REPOSITORY"] = self.repository

    def classify(self, rc: int, err: str) -> EngineError:
        text = err.strip()
        if "wrong password" in text or "no key found" in text:
            return EngineError("wrong_password", "restic: wrong password or no key found for repository %s" % self.repository)
        if "Is there a repository at the following location" in text or "unable to open config file" in text:
            return EngineError("missing_repository", "restic: no repository at %s (%s)" % (self.repository, text.splitlines()[0]))
        if "unable to create lock" in text or "repository is already locked" in text:
            return EngineError("locked", "restic: repository %s is locked: %s" % (self.repository, text))
        return EngineError("command", "restic exited %d: %s" % (rc, text[-2000:]))

    def version(self) -> Optional[Tuple[int, ...]]:
        out = self.call(["version"])
        match = re.search(r"restic (\d+)\.(\d+)\.(\d+)", out)
        return tuple(int(part) for part in match.groups()) if match else None

    def snapshots(self) -> List[Dict[str, Any]]:
        """Every snapshot as ``{id, short_id, time (datetime), hostname, paths, tags}``."""
        raw = json.loads(self.call(["snapshots", "--json"]) or "[]") or []
        result = []
        for item in raw:
            result.append({
                "id": item["id"],
                "short_id": item.get("short_id", item["id"][:8]),
                "time": parse_timestamp(item["time"]),
                "hostname": item.get("hostname", ""),
                "paths": list(item.get("paths") or []),
                "tags": list(item.get("tags") or []),
            })
        return result

    def check(self, subset: Optional[Tuple[int, int]] = None) -> Tuple[bool, str]:
        """``restic check`` (with ``--read-data-subset=n/N`` when given). Returns (ok, output)."""
        args = ["check"]
        if subset is not None:
            args.append("--read-data-subset=%d/%d" % subset)
        rc, out, err = self.run([self.executable] + args, self.env, None)
        text = scrub((out or "") + (err or ""), self.secrets)
        if rc != 0:
            error = self.classify(rc, text)
            if error.kind in ("wrong_password", "missing_repository", "locked"):
                raise error
        return rc == 0, text

    def restore(self, snapshot_id: str, target: str, paths: Sequence[str]) -> None:
        """Restore only ``paths`` (absolute, as stored) of a snapshot under ``target``."""
        args = ["restore", snapshot_id, "--target", target]
        for path in paths:
            args.extend(["--include", _GLOB_CHARS.sub(r"\\\1", path)])
        self.call(args)

    @staticmethod
    def restored_path(target: str, path: str) -> str:
        return os.path.join(target, path.lstrip("/"))


class BorgRepository(Repository):
    """A borg repository (local path or ``ssh://``). Archives are named ``<class>-<timestamp>``."""

    engine = "borg"
    password_var = "BORG_PASSPHRASE"
    password_file_var = "BORG_PASSCOMMAND"

    def __init__(self, run: Runner, repository: str, password: Optional[str] = None, password_file: Optional[str] = None,
                 env: Optional[Dict[str, str]] = None, executable: Optional[str] = None) -> None:
        super(BorgRepository, self).__init__(run, repository, password, None, env, executable)
        if password_file is not None:
            self.env["BORG_PASSCOMMAND"] = "cat %s" % password_file

    def classify(self, rc: int, err: str) -> EngineError:
        text = err.strip()
        if "passphrase supplied" in text and "incorrect" in text:
            return EngineError("wrong_password", "borg: wrong passphrase for repository %s" % self.repository)
        if "does not exist" in text or "is not a valid repository" in text:
            return EngineError("missing_repository", "borg: no repository at %s (%s)" % (self.repository, text.splitlines()[0]))
        if "Failed to create/acquire the lock" in text:
            return EngineError("locked", "borg: repository %s is locked: %s" % (self.repository, text))
        return EngineError("command", "borg exited %d: %s" % (rc, text[-2000:]))

    def version(self) -> Optional[Tuple[int, ...]]:
        out = self.call(["--version"])
        match = re.search(r"(\d+)\.(\d+)\.(\d+)", out)
        return tuple(int(part) for part in match.groups()) if match else None

    def snapshots(self) -> List[Dict[str, Any]]:
        data = json.loads(self.call(["list", "--json", self.repository]) or "{}")
        result = []
        for item in data.get("archives", []):
            match = BORG_ARCHIVE.match(item["name"])
            cls = match.group("cls") if match else item["name"]
            result.append({
                "id": item["name"],
                "short_id": item["name"],
                "time": parse_timestamp(item.get("time") or item["start"]),
                "hostname": "",
                "paths": [],
                "tags": [cls],
                "class": cls,
            })
        return result

    def check(self, subset: Optional[Tuple[int, int]] = None) -> Tuple[bool, str]:
        """``borg check`` (``--verify-data`` when a data read was asked for)."""
        args = ["check"]
        if subset is not None:
            args.append("--verify-data")
        args.append(self.repository)
        rc, out, err = self.run([self.executable] + args, self.env, None)
        text = scrub((out or "") + (err or ""), self.secrets)
        if rc != 0:
            error = self.classify(rc, text)
            if error.kind in ("wrong_password", "missing_repository", "locked"):
                raise error
        return rc == 0, text

    def restore(self, snapshot_id: str, target: str, paths: Sequence[str]) -> None:
        self.call(["extract", "%s::%s" % (self.repository, snapshot_id)] + [path.lstrip("/") for path in paths], cwd=target)

    @staticmethod
    def restored_path(target: str, path: str) -> str:
        return os.path.join(target, path.lstrip("/"))


def open_repository(engine: str, run: Runner, repository: str, **kwargs: Any) -> Repository:
    """A ResticRepository or BorgRepository for ``engine``."""
    if engine == "borg":
        return BorgRepository(run, repository, **kwargs)
    return ResticRepository(run, repository, **kwargs)
