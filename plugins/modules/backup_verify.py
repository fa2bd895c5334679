#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: backup_verify
short_description: Verify a restic or borg backup repository by reading and restoring from it
version_added: 0.1.0
description:
  - Runs up to five checks against one restic (primary) or borg repository and reports a structured result per check.
  - C(integrity) runs C(restic check), reading one C(n/N) data subset per run and rotating through all N subsets across runs
    (the next index is kept in O(integrity.state_file)), or C(borg check).
  - C(freshness) compares the age of the latest snapshot of every backup class (restic tag, borg archive prefix) with its RPO.
  - C(retention) computes, from the snapshot times, the set that C(restic forget) / C(borg prune) with O(retention) keeps and
    fails when the repository holds snapshots outside that set.
  - C(restore) restores O(sample_files) files of the latest snapshot of every class with a O(classes[].manifest) to a temporary
    directory and compares their sha256 with the manifest recorded at backup time (stored in the same snapshot).
  - C(databases) restores C(pg_dump -Fc) dumps from the latest snapshot into a throwaway PostgreSQL cluster (initdb in a
    temporary directory, 127.0.0.1 and a random port, run as O(postgres_user) when started by root) and runs a query.
  - The module fails (C(failed=true)) when any check fails; RV(msg) names every failing check and why.
  - The module never deletes, prunes or writes to the repository (the backup tools take their usual transient locks).
author:
  - mediastack maintainers (@mediastack)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - All checks run in check mode, because they only read the repository. Sample restores and the throwaway database
        still go to private temporary directories that are removed before the module returns; the one persistent write,
        advancing the O(integrity.state_file) rotation index, is skipped in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
options:
  engine:
    description: The backup tool that owns the repository.
    type: str
    choices: [restic, borg]
    default: restic
  repository:
    description:
      - The repository, as the tool names it. A local path (C(/srv/backup/restic)) or, for restic, a backend URL
        (C(s3:https://host/bucket), C(sftp:user@host:/path), C(rest:https://host/)); for borg a path or C(ssh://) URL.
      - A local path must exist; credentials embedded in a URL are masked in the output.
    type: str
    required: true
  password:
    description: The repository password (C(RESTIC_PASSWORD) / C(BORG_PASSPHRASE)). Use Ansible Vault. Never logged.
    type: str
  password_file:
    description: A file holding the repository password, read on the target. Alternative to O(password).
    type: path
  env:
    description:
      - Extra environment for the tool, e.g. C(AWS_ACCESS_KEY_ID) and C(AWS_SECRET_ACCESS_KEY) for an S3 repository.
        Values are treated as secrets and never logged.
    type: dict
    default: {}
  executable:
    description: Path or name of the restic/borg binary. Defaults to O(engine) on the PATH.
    type: str
  classes:
    description: The backup classes to check for freshness and to sample-restore.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The class name; the restic tag or the borg archive name prefix (C(<name>-<timestamp>)).
        type: str
        required: true
      rpo:
        description: The recovery point objective, a duration like C(1h), C(24h), C(7d) or C(1d12h) (units s, m, h, d, w).
        type: str
        required: true
      manifest:
        description:
          - Absolute path, inside the snapshot, of the JSON manifest (path to sha256) written at backup time.
          - When set, O(sample_files) files of the latest snapshot of the class are restored and compared with it.
        type: str
  integrity:
    description: The repository integrity check.
    type: dict
    default: {}
    suboptions:
      enabled:
        description: Run C(restic check) / C(borg check).
        type: bool
        default: true
      read_data_subsets:
        description:
          - Split the pack files into this many subsets and read one per run (C(--read-data-subset=n/N)), so the whole
            repository is read over N runs. V(0) checks structure only; V(1) reads all data every time.
          - For borg any value above 0 adds C(--verify-data).
        type: int
        default: 0
      state_file:
        description: File that remembers the next subset between runs. Without it every run reads subset 1.
        type: path
  retention:
    description:
      - The retention policy the repository should follow. Unset keys count as 0. Negative counts are refused.
      - Omit to skip the retention check.
    type: dict
    suboptions:
      keep_last:
        description: Keep the last n snapshots.
        type: int
      keep_hourly:
        description: Keep the last n hourly snapshots.
        type: int
      keep_daily:
        description: Keep the last n daily snapshots.
        type: int
      keep_weekly:
        description: Keep the last n weekly (ISO week) snapshots.
        type: int
      keep_monthly:
        description: Keep the last n monthly snapshots.
        type: int
      keep_yearly:
        description: Keep the last n yearly snapshots.
        type: int
      group_by:
        description: The restic C(--group-by) fields the forget command used. Borg groups by class.
        type: list
        elements: str
        choices: [host, paths, tags]
        default: [host, tags]
  sample_files:
    description: Number of files to restore and checksum per class with a manifest. V(0) skips the restore check.
    type: int
    default: 5
  seed:
    description: Seed for choosing the sample files (repeatable runs). Random when unset.
    type: int
  databases:
    description: PostgreSQL dumps (C(pg_dump -Fc)) to restore into a throwaway cluster and query.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Database name to create in the throwaway cluster.
        type: str
        required: true
      dump:
        description: Absolute path of the dump file inside the snapshot.
        type: str
        required: true
      class:
        description: Backup class (tag) whose latest snapshot holds the dump.
        type: str
        default: databases
      table:
        description: Table (C(table) or C(schema.table)) whose rows are counted. One of O(databases[].table) or O(databases[].query).
        type: str
      query:
        description: SQL returning one number, instead of a row count of O(databases[].table).
        type: str
      min_rows:
        description: The smallest acceptable result.
        type: int
        default: 1
      expected_rows:
        description: The exact result expected, when known.
        type: int
  postgres_bin_dir:
    description: Directory with C(initdb) and C(pg_ctl). Defaults to the newest C(/usr/lib/postgresql/*/bin), then the PATH.
    type: path
  postgres_user:
    description: Unprivileged user that runs the throwaway cluster when the module runs as root.
    type: str
    default: postgres
  temp_dir:
    description: Parent directory for the temporary restore and database directories. Defaults to the system temp dir.
    type: path
notes:
  - Run the retention check after the C(forget --prune) of the backup job; a snapshot taken since then may count as extra.
  - restic before 0.16 does not keep the oldest snapshot of a group to fill an unfinished bucket; the module follows the
    semantics of the installed restic version.
requirements:
  - restic (0.14 or later) or borgbackup (1.2)
  - PostgreSQL server and client binaries on the target for O(databases)
seealso:
  - module: mediastack.core.manifest_compare
"""

EXAMPLES = r"""
- name: Verify the NAS repository
  mediastack.core.backup_verify:
    repository: /srv/backup/mediastack
    password: "{{ vault_backup_password }}"
    classes:
      - name: databases
        rpo: 1h
      - name: config
        rpo: 24h
        manifest: /var/lib/mediastack-backup/manifests/config.json
      - name: media
        rpo: 7d
    integrity:
      read_data_subsets: 28
      state_file: /var/lib/mediastack-backup/verify-nas.state
    retention:
      keep_daily: 7
      keep_weekly: 4
      keep_monthly: 12
      keep_yearly: 5
    databases:
      - name: immich
        dump: /var/backups/mediastack/postgres/immich/immich.dump
        table: public.assets
  register: verify_nas

- name: Verify the S3 repository (credentials from Vault)
  mediastack.core.backup_verify:
    repository: "s3:https://s3.example.org/mediastack"
    password: "{{ vault_backup_password }}"
    env:
      AWS_ACCESS_KEY_ID: "{{ vault_backup_s3_key_id }}"
      AWS_SECRET_ACCESS_KEY: "{{ vault_backup_s3_secret }}"
    integrity:
      read_data_subsets: 0
    classes:
      - name: config
        rpo: 24h

- name: Verify a borg repository
  mediastack.core.backup_verify:
    engine: borg
    repository: /srv/backup/borg
    password_file: /etc/mediastack-backup/nas.pass
    classes:
      - name: metadata
        rpo: 24h
"""

RETURN = r"""
msg:
  description: A summary; on failure it names every failing check and the reason.
  returned: always
  type: str
  sample: "backup verification failed: integrity: restic check reported 2 problem(s): Pack ID does not match"
failed_checks:
  description: Names of the checks that failed.
  returned: always
  type: list
  elements: str
  sample: [integrity]
repository:
  description: The repository checked, with credentials in a URL masked.
  returned: always
  type: str
  sample: /srv/backup/mediastack
engine:
  description: The backup tool used.
  returned: always
  type: str
  sample: restic
engine_version:
  description: Version of the backup tool.
  returned: always
  type: str
  sample: 0.14.0
snapshot_count:
  description: Number of snapshots (restic) or archives (borg) in the repository.
  returned: always
  type: int
  sample: 42
checks:
  description: One entry per check that ran; every entry has C(ok) (bool).
  returned: always
  type: dict
  contains:
    integrity:
      description: C(ok), C(subset) (C(n/N) or null), C(next_subset), C(problems) (error lines of the tool).
      returned: when O(integrity.enabled)
      type: dict
      sample: {"ok": true, "subset": "3/28", "next_subset": 4, "problems": []}
    freshness:
      description: C(ok) and C(classes), a list of C(name), C(latest), C(age_seconds), C(age), C(rpo_seconds), C(rpo), C(ok).
      returned: when O(classes) is set
      type: dict
      sample: {"ok": true, "classes": [{"name": "config", "latest": "2024-05-01T02:00:00+00:00", "age": "3h2m",
               "age_seconds": 10920, "rpo": "24h", "rpo_seconds": 86400, "ok": true}]}
    retention:
      description: C(ok), C(policy) and C(groups), each with C(group), C(snapshots), C(expected_keep), C(extra) and C(ok).
      returned: when O(retention) is set
      type: dict
      sample: {"ok": true, "policy": {"keep_daily": 7}, "groups": [{"group": {"host": "nas1", "tags": ["config"]},
               "snapshots": 28, "expected_keep": 28, "extra": [], "ok": true}]}
    restore:
      description: C(ok), C(files_checked), C(files_matching) and C(classes), each with C(snapshot), C(manifest_files),
        C(sampled), C(matching) and C(mismatched).
      returned: when a class has a manifest and O(sample_files) is above 0
      type: dict
      sample: {"ok": true, "files_checked": 5, "files_matching": 5, "classes": []}
    databases:
      description: C(ok) and C(databases), each with C(name), C(snapshot), C(result), C(ok) and C(error).
      returned: when O(databases) is set
      type: dict
      sample: {"ok": true, "databases": [{"name": "immich", "result": 1200, "ok": true}]}
"""

import json
import os
import random
import re
import shutil
import tempfile
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.mediastack.core.plugins.module_utils.backup.engine import (
    EngineError,
    is_local_repository,
    local_path,
    open_repository,
)
from ansible_collections.mediastack.core.plugins.module_utils.backup.manifest import (
    ManifestError,
    load_manifest,
    sha256_file,
    sorted_sample,
)
from ansible_collections.mediastack.core.plugins.module_utils.backup.policy import (
    PolicyError,
    format_duration,
    normalize_retention,
    parse_duration,
    restic_keeps_oldest,
    retention_report,
)
from ansible_collections.mediastack.core.plugins.module_utils.backup.postgres import ThrowawayPostgres

_PROBLEM = re.compile(r"(error|does not match|fatal|failed|missing|invalid|damaged|corrupt|unreferenced pack)", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"(://[^/:@]+):[^/@]+@")


def mask_url(repository):
    """Hide a password embedded in a repository URL (rest:https://user:pass@host/)."""
    return _URL_CREDENTIALS.sub(r"\1:********@", repository)


class BackupVerifier(object):
    """Runs the configured checks against one repository."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.engine = self.params["engine"]
        self.changed = False
        self.results = {}
        self.snapshots = []
        self.version = None
        self.workdir = None
        self.validate()

    # ----------------------------------------------------------------- input
    def fail_option(self, option, problem, fix):
        self.module.fail_json(msg="option %s: %s; %s" % (option, problem, fix), failed_checks=[])

    def validate(self):
        p = self.params
        self.rpo = {}
        for index, cls in enumerate(p["classes"]):
            try:
                self.rpo[cls["name"]] = parse_duration(cls["rpo"])
            except PolicyError as exc:
                self.fail_option("classes[%d].rpo" % index, to_native(exc), "set it like 1h, 24h or 7d")
            manifest = cls.get("manifest")
            if manifest is not None and not manifest.startswith("/"):
                self.fail_option("classes[%d].manifest" % index, "%r is not an absolute path" % manifest,
                                 "give the path the manifest has inside the snapshot")
        self.retention = None
        if p["retention"] is not None:
            try:
                self.retention = normalize_retention(p["retention"])
            except PolicyError as exc:
                self.fail_option("retention", to_native(exc), "use counts of 0 or more, e.g. keep_daily: 7")
        subsets = p["integrity"]["read_data_subsets"]
        if subsets < 0:
            self.fail_option("integrity.read_data_subsets", "%d is negative" % subsets, "use 0 (structure only) or N > 0")
        if p["sample_files"] < 0:
            self.fail_option("sample_files", "%d is negative" % p["sample_files"], "use 0 to skip the restore check")
        for index, db in enumerate(p["databases"]):
            if bool(db.get("table")) == bool(db.get("query")):
                self.fail_option("databases[%d]" % index, "set exactly one of table or query", "e.g. table: public.users")
            if not db["dump"].startswith("/"):
                self.fail_option("databases[%d].dump" % index, "%r is not an absolute path" % db["dump"],
                                 "give the path the dump has inside the snapshot")
        if p["password"] is None and p["password_file"] is None and not any(
                key in p["env"] for key in ("RESTIC_PASSWORD", "RESTIC_PASSWORD_FILE", "RESTIC_PASSWORD_COMMAND",
                                            "BORG_PASSPHRASE", "BORG_PASSCOMMAND")):
            self.fail_option("password", "no repository password given", "set password (from Vault) or password_file")
        if p["password_file"] is not None and not os.path.isfile(p["password_file"]):
            self.fail_option("password_file", "%s does not exist" % p["password_file"], "point it at the repository password file")
        repository = p["repository"]
        if is_local_repository(self.engine, repository) and not os.path.isdir(local_path(self.engine, repository)):
            self.fail_option("repository", "%s does not exist" % local_path(self.engine, repository),
                             "check the path (is the NAS mounted?) or create the repository with the backup role")
        executable = p["executable"] or self.engine
        found = self.module.get_bin_path(executable, required=False) if "/" not in executable else (
            executable if os.access(executable, os.X_OK) else None)
        if not found:
            self.fail_option("executable", "%s not found on the target" % executable,
                             "install %s (apt-get install %s) or set executable" % (
                                 self.engine, "borgbackup" if self.engine == "borg" else "restic"))
        self.repo = open_repository(self.engine, self.run, repository, password=p["password"], password_file=p["password_file"],
                                    env=p["env"], executable=found)

    def run(self, args, env, cwd):
        return self.module.run_command(args, environ_update=env, cwd=cwd)

    # ---------------------------------------------------------------- checks
    def latest(self, cls):
        members = [snap for snap in self.snapshots if cls in snap["tags"]]
        return max(members, key=lambda snap: snap["time"]) if members else None

    def check_integrity(self):
        conf = self.params["integrity"]
        total = conf["read_data_subsets"]
        subset = None
        next_index = None
        if total > 0:
            index = self.read_state(conf.get("state_file"), total)
            subset = (index, total)
            next_index = index % total + 1
        ok, output = self.repo.check(subset if self.engine == "restic" or total > 0 else None)
        problems = [line.strip() for line in output.splitlines() if _PROBLEM.search(line) and "no errors were found" not in line]
        result = {"ok": ok, "subset": "%d/%d" % subset if subset else None, "next_subset": next_index, "problems": problems[:20]}
        if not ok:
            result["reason"] = "%s check reported %d problem(s): %s" % (
                self.engine, len(problems), "; ".join(problems[:3]) or output.strip()[-300:])
        if subset and conf.get("state_file") and not self.module.check_mode:
            self.write_state(conf["state_file"], total, next_index)
        return result

    def read_state(self, path, total):
        if not path or not os.path.exists(path):
            return 1
        try:
            with open(path) as handle:
                state = json.load(handle)
            if state.get("subsets") == total and 1 <= int(state.get("next", 1)) <= total:
                return int(state["next"])
        except (ValueError, OSError, TypeError, AttributeError):
            pass
        return 1

    def write_state(self, path, total, next_index):
        state = {"repository": mask_url(self.params["repository"]), "subsets": total, "next": next_index}
        directory = os.path.dirname(path)
        if directory and not os.path.isdir(directory):
            os.makedirs(directory, 0o700)
        tmp = path + ".tmp"
        with open(tmp, "w") as handle:
            json.dump(state, handle)
        os.replace(tmp, path)
        self.changed = True

    def check_freshness(self):
        now = self.now()
        classes = []
        for cls in self.params["classes"]:
            latest = self.latest(cls["name"])
            rpo = self.rpo[cls["name"]]
            entry = {"name": cls["name"], "rpo": cls["rpo"], "rpo_seconds": rpo, "latest": None, "age_seconds": None, "age": None}
            if latest is None:
                entry.update(ok=False, reason="no snapshot of class %s" % cls["name"])
            else:
                age = (now - latest["time"]).total_seconds()
                entry.update(latest=latest["time"].isoformat(), snapshot=latest["short_id"], age_seconds=int(age),
                             age=format_duration(age), ok=age <= rpo)
                if age > rpo:
                    entry["reason"] = "class %s: latest snapshot is %s old, RPO %s" % (cls["name"], format_duration(age), cls["rpo"])
            classes.append(entry)
        result = {"ok": all(item["ok"] for item in classes), "classes": classes}
        if not result["ok"]:
            result["reason"] = "; ".join(item["reason"] for item in classes if not item["ok"])
        return result

    @staticmethod
    def now():
        from datetime import datetime, timezone
        return datetime.now(timezone.utc)

    def check_retention(self):
        keep_oldest = self.engine == "restic" and restic_keeps_oldest(self.version)
        report = retention_report(self.snapshots, self.retention, engine=self.engine,
                                  group_by=self.params["retention"]["group_by"], keep_oldest=keep_oldest)
        report["policy"] = self.retention
        report["keeps_oldest"] = keep_oldest
        if not report["ok"]:
            bad = [group for group in report["groups"] if not group["ok"]]
            report["reason"] = "; ".join("%s holds %d snapshot(s) the policy removes (expected %d, found %d)" % (
                json.dumps(group["group"], sort_keys=True), len(group["extra"]), group["expected_keep"], group["snapshots"]) for group in bad)
        return report

    def tempdir(self, prefix):
        return tempfile.mkdtemp(prefix=prefix, dir=self.workdir)

    def check_restore(self):
        rng = random.Random(self.params["seed"]) if self.params["seed"] is not None else random.SystemRandom()
        classes = []
        for cls in self.params["classes"]:
            if not cls.get("manifest"):
                continue
            entry = {"name": cls["name"], "manifest": cls["manifest"], "ok": False, "sampled": 0, "matching": 0, "mismatched": []}
            classes.append(entry)
            latest = self.latest(cls["name"])
            if latest is None:
                entry["reason"] = "class %s has no snapshot to restore from" % cls["name"]
                continue
            entry["snapshot"] = latest["short_id"]
            target = self.tempdir("restore-%s-" % cls["name"])
            try:
                self.repo.restore(latest["id"], target, [cls["manifest"]])
                manifest = load_manifest(self.repo.restored_path(target, cls["manifest"]))
                entry["manifest_files"] = len(manifest)
                sample = sorted_sample(manifest, self.params["sample_files"], rng)
                if sample:
                    self.repo.restore(latest["id"], target, sample)
                for path in sample:
                    restored = self.repo.restored_path(target, path)
                    actual = sha256_file(restored) if os.path.isfile(restored) else None
                    if actual == manifest[path]:
                        entry["matching"] += 1
                    else:
                        entry["mismatched"].append({"path": path, "expected": manifest[path], "actual": actual})
                entry["sampled"] = len(sample)
                entry["ok"] = bool(sample) and not entry["mismatched"]
                if not sample:
                    entry["reason"] = "class %s: manifest lists no files" % cls["name"]
                elif entry["mismatched"]:
                    entry["reason"] = "class %s: %d of %d restored file(s) differ from the manifest (first: %s)" % (
                        cls["name"], len(entry["mismatched"]), len(sample), entry["mismatched"][0]["path"])
            except (EngineError, ManifestError) as exc:
                entry["reason"] = "class %s: %s" % (cls["name"], to_native(exc))
            finally:
                shutil.rmtree(target, ignore_errors=True)
        result = {
            "ok": all(item["ok"] for item in classes),
            "files_checked": sum(item["sampled"] for item in classes),
            "files_matching": sum(item["matching"] for item in classes),
            "classes": classes,
        }
        if not result["ok"]:
            result["reason"] = "; ".join(item["reason"] for item in classes if not item["ok"])
        return result

    def check_databases(self):
        entries = []
        target = self.tempdir("restore-db-")
        try:
            dumps = {}
            for db in self.params["databases"]:
                entry = {"name": db["name"], "class": db["class"], "dump": db["dump"], "ok": False, "result": None}
                entries.append(entry)
                latest = self.latest(db["class"])
                if latest is None:
                    entry["error"] = "no snapshot of class %s" % db["class"]
                    continue
                entry["snapshot"] = latest["short_id"]
                try:
                    self.repo.restore(latest["id"], target, [db["dump"]])
                except EngineError as exc:
                    entry["error"] = to_native(exc)
                    continue
                restored = self.repo.restored_path(target, db["dump"])
                if not os.path.isfile(restored):
                    entry["error"] = "dump %s is not in snapshot %s" % (db["dump"], latest["short_id"])
                    continue
                dumps[db["name"]] = restored
            if dumps:
                os.chmod(target, 0o755)
                with ThrowawayPostgres(self.run, self.params["postgres_bin_dir"], self.params["postgres_user"], self.workdir) as pg:
                    for db, entry in zip(self.params["databases"], entries):
                        if db["name"] not in dumps:
                            continue
                        try:
                            pg.restore(dumps[db["name"]], db["name"])
                            value = pg.table_count(db["name"], db["table"]) if db.get("table") else int(float(pg.scalar(db["name"], db["query"])))
                        except (EngineError, ValueError) as exc:
                            entry["error"] = to_native(exc)
                            continue
                        entry["result"] = value
                        if db.get("expected_rows") is not None and value != db["expected_rows"]:
                            entry["error"] = "result %d, expected %d" % (value, db["expected_rows"])
                        elif value < db["min_rows"]:
                            entry["error"] = "result %d is below min_rows %d" % (value, db["min_rows"])
                        else:
                            entry["ok"] = True
        except EngineError as exc:
            for entry in entries:
                if not entry["ok"] and "error" not in entry:
                    entry["error"] = to_native(exc)
        finally:
            shutil.rmtree(target, ignore_errors=True)
        result = {"ok": all(entry["ok"] for entry in entries), "databases": entries}
        if not result["ok"]:
            result["reason"] = "; ".join("%s: %s" % (entry["name"], entry.get("error")) for entry in entries if not entry["ok"])
        return result

    # ------------------------------------------------------------------- run
    def execute(self):
        p = self.params
        try:
            self.version = self.repo.version()
            self.snapshots = self.repo.snapshots()
        except EngineError as exc:
            option = {"wrong_password": "password", "missing_repository": "repository"}.get(exc.kind, "repository")
            fix = {"wrong_password": "use the password the repository was initialised with (Vault variable)",
                   "missing_repository": "check the repository location or initialise it with the backup role",
                   "locked": "wait for the running backup or remove a stale lock with `restic unlock`"}.get(exc.kind, "see the tool output")
            self.module.fail_json(msg="option %s: %s; %s" % (option, exc.message, fix), failed_checks=[], error_kind=exc.kind)
        self.workdir = tempfile.mkdtemp(prefix="backup-verify-", dir=p["temp_dir"])
        os.chmod(self.workdir, 0o755)
        try:
            plan = []
            if p["integrity"]["enabled"]:
                plan.append(("integrity", self.check_integrity))
            if p["classes"]:
                plan.append(("freshness", self.check_freshness))
            if self.retention is not None:
                plan.append(("retention", self.check_retention))
            if p["sample_files"] > 0 and any(cls.get("manifest") for cls in p["classes"]):
                plan.append(("restore", self.check_restore))
            if p["databases"]:
                plan.append(("databases", self.check_databases))
            for name, func in plan:
                try:
                    self.results[name] = func()
                except EngineError as exc:
                    self.results[name] = {"ok": False, "reason": exc.message}
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)
        failed = [name for name in self.results if not self.results[name]["ok"]]
        output = dict(
            changed=self.changed,
            checks=self.results,
            failed_checks=failed,
            repository=mask_url(p["repository"]),
            engine=self.engine,
            engine_version=".".join(str(part) for part in self.version) if self.version else "unknown",
            snapshot_count=len(self.snapshots),
        )
        if failed:
            reasons = ["%s: %s" % (name, self.results[name].get("reason", "failed")) for name in failed]
            self.module.fail_json(msg="backup verification failed: " + " | ".join(reasons), **output)
        self.module.exit_json(msg="all %d check(s) passed: %s" % (len(self.results), ", ".join(self.results)), **output)


def main():
    argument_spec = dict(
        engine=dict(type="str", choices=["restic", "borg"], default="restic"),
        repository=dict(type="str", required=True),
        password=dict(type="str", no_log=True),
        password_file=dict(type="path", no_log=False),
        env=dict(type="dict", default={}, no_log=True),
        executable=dict(type="str"),
        classes=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True),
            rpo=dict(type="str", required=True),
            manifest=dict(type="str"),
        )),
        integrity=dict(type="dict", default={}, options=dict(
            enabled=dict(type="bool", default=True),
            read_data_subsets=dict(type="int", default=0),
            state_file=dict(type="path"),
        )),
        retention=dict(type="dict", options=dict(
            keep_last=dict(type="int"),
            keep_hourly=dict(type="int"),
            keep_daily=dict(type="int"),
            keep_weekly=dict(type="int"),
            keep_monthly=dict(type="int"),
            keep_yearly=dict(type="int"),
            group_by=dict(type="list", elements="str", choices=["host", "paths", "tags"], default=["host", "tags"]),
        )),
        sample_files=dict(type="int", default=5),
        seed=dict(type="int"),
        databases=dict(type="list", elements="dict", default=[], options={
            "name": dict(type="str", required=True),
            "dump": dict(type="str", required=True),
            "class": dict(type="str", default="databases"),
            "table": dict(type="str"),
            "query": dict(type="str"),
            "min_rows": dict(type="int", default=1),
            "expected_rows": dict(type="int"),
        }),
        postgres_bin_dir=dict(type="path"),
        postgres_user=dict(type="str", default="postgres"),
        temp_dir=dict(type="path"),
    )
    module = AnsibleModule(argument_spec=argument_spec, mutually_exclusive=[("password", "password_file")], supports_check_mode=True)
    try:
        BackupVerifier(module).execute()
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="backup_verify: unexpected error: %s" % to_native(exc), exception=traceback.format_exc(), failed_checks=[])


if __name__ == "__main__":
    main()
