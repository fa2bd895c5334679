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
