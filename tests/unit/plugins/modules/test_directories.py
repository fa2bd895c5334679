"""directories: many directories with owner, group and mode in one call; check mode and diff; nothing removed."""
from __future__ import annotations

import grp
import os
import pwd
import stat


from ansible_collections.mediastack.core.plugins.modules import directories
from ansible_collections.mediastack.core.tests.unit.plugins.modules.conftest import module_result

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def run_module(capsys, args: dict) -> dict:
    return module_result(directories, capsys, args)


def mode_of(path) -> str:
    return oct(stat.S_IMODE(os.stat(path).st_mode))


def tree(root) -> list[dict]:
    return [{"path": str(root / "data" / "media" / "music"), "owner": USER, "group": GROUP, "mode": "0750"},
            {"path": str(root / "data"), "owner": USER, "group": GROUP, "mode": "0775"},
            {"path": str(root / "data" / "config"), "mode": "0700"}]


def test_creates_the_tree_with_its_modes_then_changes_nothing(capsys, tmp_path):
    result = run_module(capsys, {"paths": tree(tmp_path)})
    assert result["changed"] is True and result["count"] == 3
    assert sorted(result["changed_paths"]) == sorted(e["path"] for e in tree(tmp_path))
    assert mode_of(tmp_path / "data") == "0o775"
    assert mode_of(tmp_path / "data" / "media" / "music") == "0o750"
    assert mode_of(tmp_path / "data" / "media") == "0o750", "a missing parent gets the entry's mode"
    assert mode_of(tmp_path / "data" / "config") == "0o700"
    again = run_module(capsys, {"paths": tree(tmp_path)})
    assert again["changed"] is False and again["changed_paths"] == []


def test_check_mode_reports_and_changes_nothing(capsys, tmp_path):
    result = run_module(capsys, {"paths": tree(tmp_path), "_ansible_check_mode": True, "_ansible_diff": True})
    assert result["changed"] is True and len(result["changed_paths"]) == 3
    assert not (tmp_path / "data").exists()
    assert {d["before"]["state"] for d in result["diff"]} == {"absent"}


def test_a_mode_changed_by_hand_is_put_back_with_a_diff(capsys, tmp_path):
    run_module(capsys, {"paths": tree(tmp_path)})
    os.chmod(tmp_path / "data" / "config", 0o777)
    result = run_module(capsys, {"paths": tree(tmp_path), "_ansible_diff": True})
    assert result["changed_paths"] == [str(tmp_path / "data" / "config")]
    assert result["diff"][0]["before"]["mode"] == "0777" and result["diff"][0]["after"]["mode"] == "0700"
    assert mode_of(tmp_path / "data" / "config") == "0o700"


def test_a_file_in_the_way_fails_before_anything_changes(capsys, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "media").write_text("not a directory")
    result = run_module(capsys, {"paths": tree(tmp_path)})
    assert result["failed"] is True
    assert result["msg"].endswith("nothing was changed: %s" % (tmp_path / "data" / "media"))
    assert not (tmp_path / "data" / "config").exists()


def test_relative_paths_are_refused(capsys, tmp_path):
    result = run_module(capsys, {"paths": [{"path": "srv/mediastack"}]})
    assert result["failed"] is True and "must be absolute: srv/mediastack" in result["msg"]
