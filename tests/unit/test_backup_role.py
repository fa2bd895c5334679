"""roles/backup: argument specs and defaults name the same variables; the runner refuses bad retention."""
from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import yaml

ROLE = Path(__file__).resolve().parents[2] / "roles" / "backup"


def test_argument_specs_match_defaults():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    options = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert set(defaults) == set(options)
    assert all(spec.get("type") and spec.get("description") for spec in options.values())
    assert defaults["backup_retention"] == {"keep_daily": 7, "keep_weekly": 4, "keep_monthly": 12, "keep_yearly": 5}


def test_runner_refuses_negative_retention_without_touching_the_repository(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "engine": "restic", "state_dir": str(tmp_path / "state"), "retention": {"keep_daily": -1},
        "repositories": [{"name": "nas", "location": str(tmp_path / "absent-repo")}],
        "classes": {"config": {"paths": [str(tmp_path)], "excludes": [], "manifest": None}},
    }))
    proc = subprocess.run([sys.executable, str(ROLE / "files" / "mediastack-backup"), "--config", str(config), "forget", "config"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "retention keep_daily is negative" in proc.stderr
    assert not (tmp_path / "absent-repo").exists()


def test_runner_creates_missing_parents_0755_whatever_the_umask(tmp_path):
    """borg archives lack the parents of the class paths; the runner creates them like mkdir -p, not borg's 0700."""
    loader = importlib.machinery.SourceFileLoader("mediastack_backup_runner", str(ROLE / "files" / "mediastack-backup"))
    runner = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(runner)
    (tmp_path / "srv").mkdir(mode=0o711)
    old = os.umask(0o077)
    try:
        runner.make_parents(str(tmp_path / "srv" / "app" / "nested" / "config"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "srv" / "app").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "srv" / "app" / "nested").stat().st_mode) == 0o755
    assert not (tmp_path / "srv" / "app" / "nested" / "config").exists()
    assert stat.S_IMODE((tmp_path / "srv").stat().st_mode) == 0o711  # existing directories are left alone


def _runner():
    loader = importlib.machinery.SourceFileLoader("mediastack_backup_runner_swarm", str(ROLE / "files" / "mediastack-backup"))
    runner = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(runner)
    return runner


FAKE_DOCKER = """#!/bin/sh
# a docker client for the test: one running task of postgres_postgres (container c0ffee); exec prints what it ran
echo "$*" >> "$FAKE_DOCKER_LOG"
case "$1" in
  ps) case "$*" in *postgres_postgres*) [ -n "$FAKE_DOCKER_TASK" ] && echo "$FAKE_DOCKER_TASK" ;; esac ;;
  exec) shift; [ "$1" = -i ] && shift; shift; echo "dump of: $*"; [ "$FAKE_DOCKER_FAIL" = 1 ] && { echo "pg_dump: error: boom" >&2; exit 1; } ;;
esac
exit 0
"""


def _swarm_config(tmp_path):
    dumps = tmp_path / "dumps"
    return {
        "postgres_servers": [{"swarm_service": "postgres_postgres", "user": "postgres", "globals_file": str(dumps / "globals.sql")}],
        "classes": {"databases": {"paths": [str(dumps)], "postgres": [
            {"database": "authelia", "swarm_service": "postgres_postgres", "user": "postgres", "service": "postgres",
             "file": str(dumps / "postgres" / "authelia.dump")}]}},
    }


def _fake_docker(tmp_path, monkeypatch, task="c0ffee", fail=False):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "docker").write_text(FAKE_DOCKER)
    (bindir / "docker").chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (bindir, os.environ["PATH"]))
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(tmp_path / "docker.log"))
    monkeypatch.setenv("FAKE_DOCKER_TASK", task)
    monkeypatch.setenv("FAKE_DOCKER_FAIL", "1" if fail else "0")
    return tmp_path / "docker.log"


def test_the_swarm_postgres_is_dumped_inside_its_running_task(tmp_path, monkeypatch):
    runner = _runner()
    log = _fake_docker(tmp_path, monkeypatch)
    config = _swarm_config(tmp_path)
    backup = runner.Runner.__new__(runner.Runner)
    backup.config = config
    backup.dump_postgres(config["classes"]["databases"])
    calls = log.read_text().splitlines()
    assert calls[0].startswith("ps -q --no-trunc --filter label=com.docker.swarm.service.name=postgres_postgres")
    assert "exec c0ffee pg_dumpall --globals-only -U postgres" in calls
    assert "exec c0ffee pg_dump -Fc -U postgres -d authelia" in calls
    assert (tmp_path / "dumps/postgres/authelia.dump").read_text() == "dump of: pg_dump -Fc -U postgres -d authelia\n"
    assert (tmp_path / "dumps/globals.sql").read_text() == "dump of: pg_dumpall --globals-only -U postgres\n"


def test_a_node_without_the_postgres_task_dumps_nothing_and_a_failed_dump_keeps_the_old_one(tmp_path, monkeypatch):
    runner = _runner()
    log = _fake_docker(tmp_path, monkeypatch, task="")
    config = _swarm_config(tmp_path)
    backup = runner.Runner.__new__(runner.Runner)
    backup.config = config
    backup.dump_postgres(config["classes"]["databases"])
    assert [c for c in log.read_text().splitlines() if c.startswith("exec")] == []
    assert not (tmp_path / "dumps/postgres/authelia.dump").exists()
    (tmp_path / "dumps/postgres").mkdir(parents=True)
    (tmp_path / "dumps/postgres/authelia.dump").write_text("yesterday")
    monkeypatch.setenv("FAKE_DOCKER_TASK", "c0ffee")
    monkeypatch.setenv("FAKE_DOCKER_FAIL", "1")
    try:
        backup.dump_postgres(config["classes"]["databases"])
    except runner.BackupError as exc:
        assert "failed: pg_dump: error: boom" in str(exc)
    else:
        raise AssertionError("a failed dump must stop the backup")
    assert (tmp_path / "dumps/postgres/authelia.dump").read_text() == "yesterday"
