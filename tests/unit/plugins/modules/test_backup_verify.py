"""backup_verify against real restic repositories in temporary directories."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_collections.mediastack.core.plugins.module_utils.backup.manifest import build_manifest, write_manifest
from ansible_collections.mediastack.core.plugins.modules import backup_verify
from ansible_collections.mediastack.core.tests.unit.plugins.modules.conftest import module_result

pytestmark = pytest.mark.skipif(shutil.which("restic") is None, reason="restic is not installed (apt-get install restic)")

PASSWORD = "s3cret-Repo-Passw0rd"
S3_SECRET = "AKIA-SECRET-value-42"


def run_module(capsys, args: dict) -> dict:
    return module_result(backup_verify, capsys, args)


def restic(repo: Path, *args: str, password: str = PASSWORD) -> str:
    env = dict(os.environ, RESTIC_REPOSITORY=str(repo), RESTIC_PASSWORD=password)
    return subprocess.run(["restic", *args], env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A backed-up tree: 12 files (one with glob characters in its name) and its manifest in the snapshot."""
    root = tmp_path_factory.mktemp("src")
    data = root / "data"
    (data / "sub").mkdir(parents=True)
    for i in range(12):
        (data / f"file{i}.bin").write_bytes(os.urandom(1000 * (i + 1)))
    (data / "sub" / "odd [name]*?.txt").write_text("glob characters\n")
    manifest = root / "state" / "manifests" / "config.json"
    manifest.parent.mkdir(parents=True)
    write_manifest(build_manifest([str(data)]), str(manifest))
    return root


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, source) -> Path:
    path = tmp_path_factory.mktemp("pristine") / "repo"
    restic(path, "init")
    restic(path, "backup", "--tag", "config", str(source / "data"), str(source / "state"))
    return path


@pytest.fixture()
def repo(tmp_path, pristine) -> Path:
    """A private copy of the backed-up repository (cheaper than a new one: restic's KDF costs ~0.5 s a call)."""
    path = tmp_path / "repo"
    shutil.copytree(pristine, path)
    return path


def base_args(repo: Path, source: Path, **extra) -> dict:
    args = {
        "repository": str(repo),
        "password": PASSWORD,
        "env": {"AWS_SECRET_ACCESS_KEY": S3_SECRET},
        "classes": [{"name": "config", "rpo": "1h", "manifest": str(source / "state" / "manifests" / "config.json")}],
        "integrity": {"read_data_subsets": 1},
        "retention": {"keep_daily": 7, "keep_weekly": 4, "keep_monthly": 12, "keep_yearly": 5},
        "sample_files": 50,
    }
    args.update(extra)
    return args


def test_backup_then_verify_passes(capsys, repo, source):
    result = run_module(capsys, base_args(repo, source))
    assert not result.get("failed"), result["msg"]
    assert result["failed_checks"] == []
    assert set(result["checks"]) == {"integrity", "freshness", "retention", "restore"}
    restore = result["checks"]["restore"]
    assert restore["files_checked"] == 13 and restore["files_matching"] == 13
    assert result["checks"]["freshness"]["classes"][0]["age_seconds"] < 3600
    assert result["checks"]["integrity"]["subset"] == "1/1"
    assert result["snapshot_count"] == 1


def test_corrupt_pack_fails_naming_integrity(capsys, repo, source):
    packs = sorted(p for p in (repo / "data").rglob("*") if p.is_file())
    assert packs
    for pack in packs:
        blob = bytearray(pack.read_bytes())
        blob[len(blob) // 2] ^= 0xFF
        pack.chmod(0o600)
        pack.write_bytes(bytes(blob))
    result = run_module(capsys, base_args(repo, source))
    assert result["failed"] is True
    assert "integrity" in result["failed_checks"]
    assert result["msg"].startswith("backup verification failed: integrity: restic check reported")
    problems = " ".join(result["checks"]["integrity"]["problems"])
    assert "does not match" in problems or "ciphertext verification failed" in problems


def test_modified_manifest_entry_fails_restore(capsys, tmp_path, source):
    """A file whose content differs from the manifest recorded at backup time is named."""
    data = tmp_path / "d"
    data.mkdir()
    (data / "a.txt").write_text("original\n")
    manifest = tmp_path / "m" / "config.json"
    manifest.parent.mkdir()
    write_manifest(build_manifest([str(data)]), str(manifest))
    (data / "a.txt").write_text("changed after the manifest\n")
    repo = tmp_path / "repo"
    restic(repo, "init")
    restic(repo, "backup", "--tag", "config", str(data), str(manifest.parent))
    args = base_args(repo, source, classes=[{"name": "config", "rpo": "1h", "manifest": str(manifest)}], integrity={"enabled": False})
    result = run_module(capsys, args)
    assert result["failed_checks"] == ["restore"]
    mismatch = result["checks"]["restore"]["classes"][0]["mismatched"][0]
    assert mismatch["path"] == str(data / "a.txt")
    assert mismatch["actual"] != mismatch["expected"]


def test_wrong_password_is_a_clear_error(capsys, repo, source):
    result = run_module(capsys, base_args(repo, source, password="not-the-password"))
    assert result["failed"] is True
    assert result["msg"].startswith("option password: restic: wrong password")
    assert result["error_kind"] == "wrong_password"


def test_missing_repository_is_a_clear_error(capsys, tmp_path, source):
    result = run_module(capsys, base_args(tmp_path / "nowhere", source))
    assert result["failed"] is True
    assert result["msg"].startswith("option repository: %s does not exist" % (tmp_path / "nowhere"))


def test_empty_directory_is_not_a_repository(capsys, tmp_path, source):
    (tmp_path / "empty").mkdir()
    result = run_module(capsys, base_args(tmp_path / "empty", source))
    assert result["error_kind"] == "missing_repository"
    assert "no repository at" in result["msg"]


def test_negative_retention_is_refused_and_nothing_deleted(capsys, repo, source):
    before = sorted(p.name for p in (repo / "snapshots").iterdir())
    result = run_module(capsys, base_args(repo, source, retention={"keep_daily": -1}))
    assert result["failed"] is True
    assert result["msg"].startswith("option retention: retention keep_daily=-1 is negative")
    assert sorted(p.name for p in (repo / "snapshots").iterdir()) == before


@pytest.mark.parametrize("rpo", ["soon", "1x", "-1h", "0h", ""])
def test_rpo_that_is_not_a_duration_is_refused(capsys, tmp_path, source, rpo):
    result = run_module(capsys, base_args(tmp_path, source, classes=[{"name": "config", "rpo": rpo}]))
    assert result["failed"] is True
    assert result["msg"].startswith("option classes[0].rpo:")
    assert "1h, 24h or 7d" in result["msg"]


def test_stale_class_fails_freshness(capsys, tmp_path, source):
    repo = tmp_path / "repo"
    restic(repo, "init")
    restic(repo, "backup", "--tag", "media", "--time", "2020-01-01 00:00:00", str(source / "data"))
    args = base_args(repo, source, classes=[{"name": "media", "rpo": "7d"}, {"name": "config", "rpo": "24h"}],
                     integrity={"enabled": False}, retention=None)
    result = run_module(capsys, args)
    assert result["failed_checks"] == ["freshness"]
    by_name = {item["name"]: item for item in result["checks"]["freshness"]["classes"]}
    assert by_name["media"]["ok"] is False and by_name["media"]["age_seconds"] > 7 * 86400
    assert by_name["config"]["reason"] == "no snapshot of class config"


def test_secrets_never_in_output(capsys, repo, source):
    result = run_module(capsys, base_args(repo, source))
    text = json.dumps(result)
    assert PASSWORD not in text and S3_SECRET not in text
    failed = run_module(capsys, base_args(repo, source, password=PASSWORD + "x"))
    assert PASSWORD not in json.dumps(failed) and S3_SECRET not in json.dumps(failed)


def test_rotation_state_advances_but_not_in_check_mode(capsys, repo, source, tmp_path):
    state = tmp_path / "verify.state"
    args = base_args(repo, source, integrity={"read_data_subsets": 3, "state_file": str(state)}, classes=[], retention=None)
    subsets = []
    for _unused1 in range(4):
        result = run_module(capsys, args)
        subsets.append(result["checks"]["integrity"]["subset"])
        assert result["changed"] is True
    assert subsets == ["1/3", "2/3", "3/3", "1/3"]
    checked = run_module(capsys, dict(args, _ansible_check_mode=True))
    assert checked["checks"]["integrity"]["subset"] == "2/3" and checked["changed"] is False
    assert json.loads(state.read_text())["next"] == 2


def test_credentials_in_repository_url_are_masked():
    assert backup_verify.mask_url("rest:https://backup:hunter22@rest.example.org/repo") == "rest:https://backup:********@rest.example.org/repo"
