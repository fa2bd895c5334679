"""manifest_compare: config/media sync verification between a primary and a copy."""
from __future__ import annotations

import json
import shutil

import pytest

from ansible_collections.mediastack.core.plugins.module_utils.backup.manifest import build_manifest, write_manifest
from ansible_collections.mediastack.core.plugins.modules import manifest_compare
from ansible_collections.mediastack.core.tests.unit.plugins.modules.conftest import module_result


def run_module(capsys, args: dict) -> dict:
    return module_result(manifest_compare, capsys, args)


@pytest.fixture()
def trees(tmp_path):
    primary = tmp_path / "primary"
    (primary / "show" / "s01").mkdir(parents=True)
    for i in range(6):
        (primary / "show" / "s01" / f"e{i:02d}.mkv").write_bytes(bytes([i]) * (5000 + i))
    (primary / "poster.jpg").write_bytes(b"jpeg")
    copy = tmp_path / "copy"
    shutil.copytree(primary, copy)
    return primary, copy


def test_identical_copy_passes(capsys, trees):
    primary, copy = trees
    result = run_module(capsys, {"primary": str(primary), "copy": str(copy)})
    assert not result.get("failed")
    assert result["ok"] is True and result["matched"] == result["primary_files"] == result["copy_files"] == 7
    assert result["changed"] is False


def test_differences_are_named(capsys, trees):
    primary, copy = trees
    (copy / "show" / "s01" / "e00.mkv").unlink()
    (copy / "show" / "s01" / "e01.mkv").write_bytes(b"bitrot")
    (copy / "stray.nfo").write_text("x")
    result = run_module(capsys, {"primary": str(primary), "copy": str(copy)})
    assert result["failed"] is True
    assert result["msg"] == "copy differs from primary: 1 missing, 1 extra, 1 mismatched"
    assert result["missing"] == ["show/s01/e00.mkv"]
    assert result["mismatched"] == ["show/s01/e01.mkv"]
    assert result["extra"] == ["stray.nfo"]
    assert result["matched"] == 5


def test_recorded_manifest_against_directory_with_prefix(capsys, trees, tmp_path):
    primary, copy = trees
    recorded = tmp_path / "config.json"
    write_manifest(build_manifest([str(primary)]), str(recorded))
    result = run_module(capsys, {"primary": str(recorded), "copy": str(copy), "strip_prefix": str(primary)})
    assert result["ok"] is True and result["primary_type"] == "manifest" and result["copy_type"] == "directory"
    (copy / "poster.jpg").write_bytes(b"changed")
    result = run_module(capsys, {"primary": str(recorded), "copy": str(copy), "strip_prefix": str(primary), "fail_on_difference": False})
    assert not result.get("failed") and result["ok"] is False and result["mismatched"] == ["poster.jpg"]


def test_write_manifest_changes_once_and_not_in_check_mode(capsys, trees, tmp_path):
    primary, copy = trees
    target = tmp_path / "baseline.json"
    args = {"primary": str(primary), "copy": str(copy), "write_manifest": str(target)}
    assert run_module(capsys, dict(args, _ansible_check_mode=True))["changed"] is False
    assert not target.exists()
    assert run_module(capsys, args)["changed"] is True
    assert json.loads(target.read_text())["poster.jpg"] == build_manifest([str(primary)], relative_to=str(primary))["poster.jpg"]
    assert run_module(capsys, args)["changed"] is False


def test_missing_side_and_bad_manifest_are_clear_errors(capsys, trees, tmp_path):
    primary, _copy = trees
    result = run_module(capsys, {"primary": str(primary), "copy": str(tmp_path / "absent")})
    assert result["msg"].startswith("option copy: %s does not exist" % (tmp_path / "absent"))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"a": "not-a-digest"}))
    result = run_module(capsys, {"primary": str(bad), "copy": str(primary)})
    assert result["failed"] is True and "lowercase sha256" in result["msg"]
