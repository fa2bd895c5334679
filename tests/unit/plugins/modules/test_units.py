"""units: many systemd units enabled and started with one read and one call per action (a fake systemctl)."""
from __future__ import annotations

import pytest
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mediastack.core.plugins.modules import units
from ansible_collections.mediastack.core.tests.unit.plugins.modules.conftest import module_result


class FakeSystemd:
    """What systemctl answers and does, for units known by their files (``on_disk``) and systemd's loaded view."""

    def __init__(self, **units_state):
        self.state = {name: dict(load="loaded", enabled="disabled", active="inactive", reload="no", on_disk=True) | s
                      for name, s in units_state.items()}
        self.calls = []

    def run_command(self, _module, args, **_kwargs):
        verb, rest = args[1], [a for a in args[2:] if a != "--"]
        self.calls.append(verb if verb in ("show", "daemon-reload") else " ".join([verb] + rest))
        if verb == "show":
            blocks = []
            for name in rest[1:]:
                s = self.state.get(name, {"load": "not-found", "enabled": "", "active": "inactive", "reload": "no"})
                blocks.append("Id=%s\nLoadState=%s\nUnitFileState=%s\nActiveState=%s\nNeedDaemonReload=%s\n"
                              % (name, s["load"], s["enabled"], s["active"], s["reload"]))
            return 0, "\n".join(blocks), ""
        if verb == "daemon-reload":
            for s in self.state.values():
                s["reload"] = "no"
                s["load"] = "loaded" if s["on_disk"] else "not-found"
            return 0, "", ""
        for name in rest:
            s = self.state[name]
            s.update({"enable": {"enabled": "enabled"}, "disable": {"enabled": "disabled"},
                      "start": {"active": "active"}, "stop": {"active": "inactive"}}[verb])
        return 0, "", ""


@pytest.fixture(name="systemd")
def systemd_fixture(monkeypatch):
    fake = FakeSystemd(**{
        "docker.service": {"enabled": "enabled", "active": "active"},
        "a.timer": {},
        "b.timer": {"enabled": "enabled"},
        "new.timer": {"load": "not-found", "enabled": "", "reload": "no"},
    })

    def run_command(module, args, **kwargs):
        return fake.run_command(module, args, **kwargs)

    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda _self, name, required=False: "/bin/" + name)
    return fake


def test_one_read_then_one_call_per_action_and_a_rerun_changes_nothing(systemd, capsys):
    args = {"units": ["docker.service", "a.timer", "b.timer", "new.timer"], "daemon_reload": True}
    result = module_result(units, capsys, args)
    assert result["changed"] and result["reloaded"]
    assert result["changed_units"] == ["a.timer", "new.timer", "b.timer"]
    assert systemd.calls == ["show", "daemon-reload", "show", "enable a.timer new.timer", "start a.timer b.timer new.timer"]
    assert result["status"]["new.timer"]["load"] == "not-found"
    assert all(s["enabled"] == "enabled" and s["active"] == "active" for s in systemd.state.values())
    systemd.calls.clear()
    again = module_result(units, capsys, args)
    assert not again["changed"] and not again["reloaded"] and again["changed_units"] == []
    assert systemd.calls == ["show"]


def test_check_mode_reports_and_changes_nothing(systemd, capsys):
    result = module_result(units, capsys, {"units": ["a.timer", "new.timer"], "daemon_reload": True, "_ansible_check_mode": True,
                                           "_ansible_diff": True})
    assert result["changed"] and result["reloaded"] and result["changed_units"] == ["a.timer", "new.timer"]
    assert systemd.calls == ["show"]
    assert systemd.state["a.timer"]["enabled"] == "disabled"
    assert result["diff"][0] == {"before_header": "a.timer", "after_header": "a.timer",
                                 "before": "enabled=disabled active=inactive\n", "after": "enabled=enabled active=active\n"}


def test_a_unit_systemd_cannot_load_is_named_and_nothing_starts(systemd, capsys):
    systemd.state["gone.timer"] = {"load": "not-found", "enabled": "", "active": "inactive", "reload": "no", "on_disk": False}
    result = module_result(units, capsys, {"units": ["a.timer", "gone.timer"], "daemon_reload": True})
    assert result["failed"] and "gone.timer (not-found)" in result["msg"] and "nothing was enabled or started" in result["msg"]
    assert systemd.calls == ["show", "daemon-reload", "show"]
    assert systemd.state["a.timer"]["active"] == "inactive"


def test_without_daemon_reload_a_new_unit_is_an_error_that_says_so(systemd, capsys):
    result = module_result(units, capsys, {"units": ["new.timer"]})
    assert result["failed"] and "daemon_reload: true" in result["msg"]


def test_stopped_and_disabled(systemd, capsys):
    systemd.state["static.service"] = {"load": "loaded", "enabled": "static", "active": "active", "reload": "no", "on_disk": True}
    result = module_result(units, capsys, {"units": ["docker.service", "a.timer", "static.service"], "enabled": False, "state": "stopped"})
    assert result["changed_units"] == ["docker.service", "static.service"]
    assert systemd.calls == ["show", "disable docker.service", "stop docker.service static.service"]
    assert systemd.state["static.service"]["enabled"] == "static"


def test_a_failing_systemctl_is_reported_with_its_message(systemd, capsys, monkeypatch):
    monkeypatch.setattr(AnsibleModule, "run_command", lambda _m, args, **_k: (1, "", "Failed to connect to bus"))
    result = module_result(units, capsys, {"units": ["a.timer"]})
    assert result["failed"] and "Failed to connect to bus" in result["msg"]


def test_parse_show_refuses_a_short_answer():
    with pytest.raises(ValueError, match="1 blocks for 2 units"):
        units.parse_show("Id=a\nLoadState=loaded\n", ["a", "b"])
