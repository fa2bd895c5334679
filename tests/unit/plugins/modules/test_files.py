"""files: many files with content, owner, group and mode in one call; validate before any write; check mode and diff."""
from __future__ import annotations

import grp
import os
import pwd
import stat

import pytest

from ansible_collections.mediastack.core.plugins.modules import files
from ansible_collections.mediastack.core.tests.unit.plugins.modules.conftest import module_result

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def run_module(capsys, args: dict) -> dict:
    return module_result(files, capsys, args)


def mode_of(path) -> str:
    return oct(stat.S_IMODE(os.stat(path).st_mode))


def bundle(root, config='{"a": 1}\n') -> list[dict]:
    return [{"path": str(root / "runner.py"), "content": "print('hi')\n", "owner": USER, "group": GROUP, "mode": "0755",
             "validate": "python3 -m py_compile %s"},
            {"path": str(root / "config.json"), "content": config, "mode": "0600", "validate": "python3 -m json.tool %s"},
            {"path": str(root / "unit.timer"), "content": "[Timer]\nOnCalendar=daily\n"}]


def test_writes_every_file_with_its_mode_then_changes_nothing(capsys, tmp_path):
    result = run_module(capsys, {"files": bundle(tmp_path)})
    assert result["changed"] is True and result["count"] == 3
    assert sorted(result["changed_paths"]) == sorted(e["path"] for e in bundle(tmp_path))
    assert (tmp_path / "config.json").read_text() == '{"a": 1}\n'
    assert mode_of(tmp_path / "runner.py") == "0o755" and mode_of(tmp_path / "config.json") == "0o600"
    assert mode_of(tmp_path / "unit.timer") == oct(0o666 & ~_umask()), "a file without a mode gets the umask's"
    again = run_module(capsys, {"files": bundle(tmp_path)})
    assert again["changed"] is False and again["changed_paths"] == []
    assert sorted(set(os.listdir(tmp_path)) - {"__pycache__"}) == ["config.json", "runner.py", "unit.timer"], "no staged file is left behind"


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def test_only_the_changed_file_is_written_and_reported_with_a_content_diff(capsys, tmp_path):
    run_module(capsys, {"files": bundle(tmp_path)})
    before = os.stat(tmp_path / "runner.py").st_mtime_ns
    result = run_module(capsys, {"files": bundle(tmp_path, config='{"a": 2}\n'), "_ansible_diff": True})
    assert result["changed_paths"] == [str(tmp_path / "config.json")]
    assert result["diff"] == [{"before_header": str(tmp_path / "config.json"), "after_header": str(tmp_path / "config.json"),
                               "before": '{"a": 1}\n', "after": '{"a": 2}\n'}]
    assert os.stat(tmp_path / "runner.py").st_mtime_ns == before
    assert mode_of(tmp_path / "config.json") == "0o600"


def test_backup_keeps_the_replaced_content_only_when_asked(capsys, tmp_path):
    entries = bundle(tmp_path)
    run_module(capsys, {"files": entries})
    changed = [dict(e, content=e["content"] + "# 2\n", backup=(e["path"].endswith("config.json"))) for e in entries[1:]]
    changed[0]["content"] = '{"a": 2}\n'
    result = run_module(capsys, {"files": changed})
    copy = result["backup_files"][str(tmp_path / "config.json")]
    assert list(result["backup_files"]) == [str(tmp_path / "config.json")]
    assert open(copy, encoding="utf-8").read() == '{"a": 1}\n' and (tmp_path / "config.json").read_text() == '{"a": 2}\n'
    assert run_module(capsys, {"files": changed})["backup_files"] == {}, "an unchanged file gets no copy"


def test_a_failed_validation_leaves_every_file_as_it_was(capsys, tmp_path):
    run_module(capsys, {"files": bundle(tmp_path)})
    broken = bundle(tmp_path, config="{not json\n")
    broken[0]["content"] = "print('changed')\n"
    result = run_module(capsys, {"files": broken})
    assert result["failed"] is True
    assert "config.json" in result["msg"] and "python3 -m json.tool %s" in result["msg"] and "nothing was changed" in result["msg"]
    assert (tmp_path / "runner.py").read_text() == "print('hi')\n", "the valid file of the bundle was not written either"
    assert (tmp_path / "config.json").read_text() == '{"a": 1}\n'
    assert sorted(set(os.listdir(tmp_path)) - {"__pycache__"}) == ["config.json", "runner.py", "unit.timer"]


def test_check_mode_reports_and_writes_nothing(capsys, tmp_path):
    result = run_module(capsys, {"files": bundle(tmp_path), "_ansible_check_mode": True, "_ansible_diff": True})
    assert result["changed"] is True and len(result["changed_paths"]) == 3
    assert os.listdir(tmp_path) == []
    assert {d["before"] for d in result["diff"]} == {""}


def test_a_mode_changed_by_hand_is_put_back(capsys, tmp_path):
    run_module(capsys, {"files": bundle(tmp_path)})
    os.chmod(tmp_path / "config.json", 0o644)
    result = run_module(capsys, {"files": bundle(tmp_path), "_ansible_diff": True})
    assert result["changed_paths"] == [str(tmp_path / "config.json")]
    assert result["diff"][0]["before"]["mode"] == "0644" and result["diff"][0]["after"]["mode"] == "0600"
    assert mode_of(tmp_path / "config.json") == "0o600"


def test_a_file_without_a_mode_keeps_its_current_one(capsys, tmp_path):
    (tmp_path / "unit.timer").write_text("old\n")
    os.chmod(tmp_path / "unit.timer", 0o640)
    run_module(capsys, {"files": bundle(tmp_path)})
    assert (tmp_path / "unit.timer").read_text() == "[Timer]\nOnCalendar=daily\n"
    assert mode_of(tmp_path / "unit.timer") == "0o640"


@pytest.mark.parametrize("entry, message", [
    ({"path": "relative/file", "content": "x"}, "path must be an absolute path"),
    ({"path": "/nonexistent-dir-ms/file", "content": "x"}, "the directory /nonexistent-dir-ms does not exist"),
    ({"path": "/tmp/x", "content": 3}, "content must be text"),
    ({"path": "/tmp/x", "content": "x", "validate": "true"}, "validate must contain %s"),
    ({"path": "/tmp/x", "content": "x", "mod": "0644"}, "unknown key(s) mod"),
])
def test_bad_entries_are_refused_before_anything_is_written(capsys, tmp_path, entry, message):
    good = {"path": str(tmp_path / "good"), "content": "x"}
    result = run_module(capsys, {"files": [good, entry]})
    assert result["failed"] is True and message in result["msg"] and "nothing was changed" in result["msg"]
    assert not (tmp_path / "good").exists()


def test_a_directory_in_the_way_is_refused(capsys, tmp_path):
    (tmp_path / "config.json").mkdir()
    result = run_module(capsys, {"files": bundle(tmp_path)})
    assert result["failed"] is True and "exists and is not a regular file" in result["msg"]
    assert not (tmp_path / "runner.py").exists()
