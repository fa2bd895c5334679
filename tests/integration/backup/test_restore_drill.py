"""Restore drill on this machine: files, a PostgreSQL database and an SQLite app are backed up by the
role's runner, destroyed, restored, and compared; the measured RTO is printed.

The lab version (fresh swarm nodes, playbooks/dr.yml) comes later; this one needs restic, the
PostgreSQL server binaries (initdb/pg_ctl, run as the ``postgres`` user) and sqlite3.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.mediastack.core.plugins.filter.backup_plan import backup_plan
from ansible_collections.mediastack.core.plugins.module_utils.backup.postgres import ThrowawayPostgres
from ansible_collections.mediastack.core.plugins.modules import backup_verify

ROOT = Path(__file__).resolve().parents[3]
RUNNER = ROOT / "roles" / "backup" / "files" / "mediastack-backup"
PASSWORD = "drill-repository-password"
ROWS = 25_000

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("restic", "pg_dump", "pg_restore", "psql", "sqlite3")) or os.geteuid() != 0,
    reason="needs root, restic, postgresql and sqlite3 (apt-get install restic postgresql sqlite3)",
)


def local_run(args, env, cwd):
    proc = subprocess.run(args, env=dict(os.environ, **(env or {})), cwd=cwd, capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def tree_checksums(roots: list[Path]) -> dict[str, str]:
    sums = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                sums[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return sums


def runner(config: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, str(RUNNER), "--config", str(config), *args], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_restore_drill(tmp_path, capsys):
    app = tmp_path / "srv" / "app"
    config_dir, metadata_dir = app / "config", app / "metadata"
    for directory, count, size in ((config_dir, 40, 2_000), (metadata_dir, 120, 40_000)):
        (directory / "nested").mkdir(parents=True)
        for i in range(count):
            target = directory / ("nested" if i % 3 else ".") / f"item-{i:03d}.dat"
            target.write_bytes(os.urandom(size + i))
    sqlite_file = config_dir / "app.db"
    with sqlite3.connect(sqlite_file) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE history (id INTEGER PRIMARY KEY, title TEXT)")
        db.executemany("INSERT INTO history (title) VALUES (?)", [(f"episode {i}",) for i in range(3_000)])

    with ThrowawayPostgres(local_run) as pg:  # under /tmp: pytest's tmp_path is not traversable by postgres
        conn = ["-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres"]
        subprocess.run(["psql", *conn, "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", "CREATE ROLE app LOGIN", "-c", "CREATE DATABASE appdb OWNER app"],
                       check=True, capture_output=True)
        subprocess.run(["psql", *conn, "-U", "app", "-d", "appdb", "-v", "ON_ERROR_STOP=1", "-c",
                        f"CREATE TABLE items AS SELECT g AS id, md5(g::text) AS label FROM generate_series(1, {ROWS}) g"],
                       check=True, capture_output=True)

        services = [{
            "name": "app",
            "paths": {"config": [str(config_dir)], "metadata": [str(metadata_dir)]},
            "databases": [{"name": "appdb", "host": "127.0.0.1", "port": pg.port, "user": "postgres"}],
            "sqlite": [str(sqlite_file)],
        }]
        plan = backup_plan(services, state_dir=str(tmp_path / "state"), dump_dir=str(tmp_path / "dumps"))
        repo = tmp_path / "repo"
        (tmp_path / "etc").mkdir()
        (tmp_path / "etc" / "nas.pass").write_text(PASSWORD + "\n")
        config = tmp_path / "etc" / "config.json"
        config.write_text(json.dumps({
            "engine": "restic", "hostname": "drill-node", "state_dir": str(tmp_path / "state"),
            "retention": {"keep_daily": 7, "keep_weekly": 4, "keep_monthly": 12, "keep_yearly": 5},
            "repositories": [{"name": "nas", "location": str(repo), "password_file": str(tmp_path / "etc" / "nas.pass")}],
            "classes": plan["classes"], "postgres_servers": plan["postgres_servers"],
        }))
        assert runner(config, "init").strip() == "initialised nas"
        assert runner(config, "init").strip() == "exists nas"
        for cls in ("databases", "config", "metadata"):
            runner(config, "run", cls)

        before = tree_checksums([config_dir, metadata_dir])
        before.pop(str(sqlite_file))  # the live file is excluded; its quiesced copy is restored instead
        before.pop(str(sqlite_file) + "-wal", None)
        before.pop(str(sqlite_file) + "-shm", None)
        rows_before = int(pg.scalar("appdb", "SELECT count(*) FROM items"))

        # Disaster: the node loses its service data, its dumps and its database.
        shutil.rmtree(app)
        shutil.rmtree(tmp_path / "dumps")
        subprocess.run(["psql", *conn, "-d", "postgres", "-c", "DROP DATABASE appdb"], check=True, capture_output=True)

        started = time.monotonic()
        reports = [json.loads(runner(config, "restore", cls)) for cls in ("databases", "config", "metadata")]
        after = tree_checksums([config_dir, metadata_dir])
        after.pop(str(sqlite_file))
        rows_after = int(pg.scalar("appdb", "SELECT count(*) FROM items"))
        owner = pg.scalar("appdb", "SELECT tableowner FROM pg_tables WHERE tablename = 'items'")
        with sqlite3.connect(sqlite_file) as db:
            sqlite_rows = db.execute("SELECT count(*) FROM history").fetchone()[0]
        rto = time.monotonic() - started

    identical = sum(1 for path, digest in before.items() if after.get(path) == digest)
    assert reports[0]["databases"] == ["appdb"] and reports[0]["sqlite"] == [str(sqlite_file)]
    assert len(before) == 160 and identical == len(before) and set(after) == set(before)
    assert rows_after == rows_before == ROWS
    assert owner == "app"
    assert sqlite_rows == 3_000

    # backup_verify on the same repository: integrity, freshness, samples and the dump in a throwaway cluster.
    args = {
        "repository": str(repo), "password": PASSWORD,
        "classes": [{"name": cls, "rpo": rpo, "manifest": plan["classes"][cls]["manifest"]}
                    for cls, rpo in (("databases", "1h"), ("config", "24h"), ("metadata", "24h"))],
        "integrity": {"read_data_subsets": 1},
        "retention": {"keep_daily": 7, "keep_weekly": 4, "keep_monthly": 12, "keep_yearly": 5},
        "sample_files": 10,
        "databases": [{"name": "appdb", "dump": plan["classes"]["databases"]["postgres"][0]["file"], "table": "public.items",
                       "expected_rows": ROWS}],
    }
    capsys.readouterr()
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            backup_verify.main()
    result = json.loads(capsys.readouterr().out)
    assert not result.get("failed"), result["msg"]
    assert result["checks"]["databases"]["databases"][0]["result"] == ROWS
    with capsys.disabled():
        print(f"\nrestore drill: files {identical}/{len(before)} byte-identical (sha256 {len(after)} checked), "
              f"postgres rows {rows_after}/{rows_before}, sqlite rows {sqlite_rows}/3000, RTO {rto:.2f} s (target 4 h); "
              f"backup_verify: {result['msg']}")
