"""Retention: two years of synthesised snapshots are pruned by the role's forget to exactly 7/4/12/5."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.mediastack.core.plugins.modules import backup_verify

ROOT = Path(__file__).resolve().parents[3]
RUNNER = ROOT / "roles" / "backup" / "files" / "mediastack-backup"
PASSWORD = "retention-test-password"
POLICY = {"keep_daily": 7, "keep_weekly": 4, "keep_monthly": 12, "keep_yearly": 5}

pytestmark = pytest.mark.skipif(shutil.which("restic") is None, reason="restic is not installed (apt-get install restic)")


def synthetic_times(now: datetime) -> list[datetime]:
    """~50 snapshot times over two years: dailies (two on one day), weeklies, then every 20 days."""
    base = now.replace(hour=3, minute=0, second=0, microsecond=0) - timedelta(days=1)
    times = [base - timedelta(days=d) for d in range(0, 10)]
    times.append(base - timedelta(days=1) + timedelta(hours=12))  # later snapshot the same day
    times += [base - timedelta(days=d) for d in range(12, 50, 6)]
    times += [base - timedelta(days=d) for d in range(55, 731, 20)]
    return sorted(set(times))


def expected_keep(times: list[datetime]) -> set[datetime]:
    """Independent statement of the policy: for each granularity, the newest snapshot of each of
    the N most recent periods that have one; the union over granularities."""
    keys = {
        "keep_daily": lambda t: t.date(),
        "keep_weekly": lambda t: t.isocalendar()[:2],
        "keep_monthly": lambda t: (t.year, t.month),
        "keep_yearly": lambda t: t.year,
    }
    kept: set[datetime] = set()
    for rule, count in POLICY.items():
        newest: dict = {}
        for t in times:
            period = keys[rule](t)
            newest[period] = max(newest.get(period, t), t)
        for period in sorted(newest, reverse=True)[:count]:
            kept.add(newest[period])
    return kept


def snapshot_times(repo: Path) -> set[datetime]:
    env = dict(os.environ, RESTIC_REPOSITORY=str(repo), RESTIC_PASSWORD=PASSWORD)
    data = json.loads(subprocess.run(["restic", "snapshots", "--json"], env=env, check=True, capture_output=True, text=True).stdout)
    return {datetime.strptime(item["time"][:19], "%Y-%m-%dT%H:%M:%S") for item in data}


def verify(capsys, repo: Path) -> dict:
    args = {"repository": str(repo), "password": PASSWORD, "integrity": {"enabled": False},
            "retention": dict(POLICY), "sample_files": 0}
    capsys.readouterr()
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            backup_verify.main()
    return json.loads(capsys.readouterr().out)


def test_role_forget_prunes_two_years_to_exactly_the_policy(tmp_path, capsys):
    repo = tmp_path / "repo"
    data = tmp_path / "data"
    data.mkdir()
    (data / "metadata.db").write_text("metadata\n")
    env = dict(os.environ, RESTIC_REPOSITORY=str(repo), RESTIC_PASSWORD=PASSWORD, TZ="UTC")
    subprocess.run(["restic", "init"], env=env, check=True, capture_output=True)
    times = synthetic_times(datetime.utcnow())

    def backup(stamp: datetime) -> None:
        subprocess.run(["restic", "backup", "--tag", "metadata", "--host", "node1", "--time", stamp.strftime("%Y-%m-%d %H:%M:%S"), str(data)],
                       env=env, check=True, capture_output=True)

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(backup, times))
    assert snapshot_times(repo) == set(times)
    expected = expected_keep(times)
    assert 20 <= len(expected) < len(times)

    before = verify(capsys, repo)
    assert before["failed_checks"] == ["retention"]
    group = before["checks"]["retention"]["groups"][0]
    assert group["expected_keep"] == len(expected)
    assert len(group["extra"]) == len(times) - len(expected)

    password_file = tmp_path / "repo.pass"
    password_file.write_text(PASSWORD + "\n")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "engine": "restic", "hostname": "node1", "state_dir": str(tmp_path / "state"),
        "retention": POLICY, "postgres_servers": [],
        "repositories": [{"name": "nas", "location": str(repo), "password_file": str(password_file)}],
        "classes": {"metadata": {"paths": [str(data)], "excludes": [], "manifest": None}},
    }))
    forget = subprocess.run([sys.executable, str(RUNNER), "--config", str(config), "forget", "metadata"],
                            env=dict(env, RESTIC_PASSWORD=""), capture_output=True, text=True, check=False)
    assert forget.returncode == 0, forget.stderr

    remaining = snapshot_times(repo)
    assert remaining == expected
    after = verify(capsys, repo)
    assert not after.get("failed"), after["msg"]
    assert after["checks"]["retention"]["groups"][0]["expected_keep"] == len(expected)
    with capsys.disabled():
        print(f"\nretention: {len(times)} snapshots over 2 years -> {len(remaining)} kept (7 daily / 4 weekly / 12 monthly / 5 yearly)")
