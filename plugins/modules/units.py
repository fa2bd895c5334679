#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: units
short_description: Enable and start many systemd units in one call
version_added: 0.2.0
description:
  - Reads the state of every listed unit with one C(systemctl show), then enables those that are not enabled and
    starts those that are not active, each with one C(systemctl) call for all of them; what already is as asked
    costs one read. M(ansible.builtin.systemd_service) does the same for one unit per call (three C(systemctl)
    calls each, and a C(daemon-reload) on every run when asked for one).
  - With O(daemon_reload), systemd reloads its unit files only when it says one of the listed units needs it
    (C(NeedDaemonReload)) or does not know one yet, so a rerun reloads nothing.
  - A unit systemd cannot load (no unit file, a bad one) is an error naming it, before any unit is enabled or started.
  - Used by the backup role (its timers), node exporter (the exporter and the textfile metrics timer) and the docker role.
author:
  - mediastack maintainers (@mediastack)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reads only; reports the units a real run would enable or start (a unit whose file a check run did not
      write is reported as one a real run would load).
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Per unit its enabled and active states before and after.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
options:
  units:
    description: The unit names with their suffix (V(docker.service), V(mediastack-backup-daily.timer)); order kept.
    type: list
    elements: str
    required: true
  enabled:
    description: Whether the units start at boot (V(false) disables them; a static unit is left as it is).
    type: bool
    default: true
  state:
    description: V(started) starts the units that are not active; V(stopped) stops those that are.
    type: str
    choices: [started, stopped]
    default: started
  daemon_reload:
    description: Reload systemd's unit files first when systemd says a listed unit needs it or does not know it yet.
    type: bool
    default: false
requirements:
  - systemd as the init system of the host
seealso:
  - module: ansible.builtin.systemd_service
"""

EXAMPLES = r"""
- name: Enable and start the backup timers
  mediastack.core.units:
    units: [mediastack-backup-daily.timer, mediastack-backup-weekly.timer]
    daemon_reload: true
"""

RETURN = r"""
changed_units:
  description: The units enabled, started or stopped (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [mediastack-backup-daily.timer]
reloaded:
  description: Whether systemd reloaded its unit files (or would, in check mode).
  returned: always
  type: bool
status:
  description: Per unit the state read before any change (C(load), C(enabled), C(active)).
  returned: always
  type: dict
  sample: {docker.service: {load: loaded, enabled: enabled, active: active}}
"""

from ansible.module_utils.basic import AnsibleModule

# `systemctl is-enabled` exits 0 for these unit file states: the unit starts at boot or is started by another.
ENABLED_STATES = ("enabled", "enabled-runtime", "static", "alias", "indirect", "generated", "transient")
ACTIVE_STATES = ("active", "activating", "reloading")
PROPERTIES = "Id,LoadState,UnitFileState,ActiveState,NeedDaemonReload"


def parse_show(text, units):
    """`systemctl show -p ...` of several units (blocks in the order asked, a blank line between) -> unit -> state."""
    blocks, current = [], {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, _sep, value = line.partition("=")
        current[key] = value
    if current:
        blocks.append(current)
    if len(blocks) != len(units):
        raise ValueError("systemctl show returned %d blocks for %d units" % (len(blocks), len(units)))
    return {unit: {"load": block.get("LoadState", ""), "enabled": block.get("UnitFileState", ""),
                   "active": block.get("ActiveState", ""), "reload": block.get("NeedDaemonReload", "no") == "yes"}
            for unit, block in zip(units, blocks)}


def plan(status, enabled, state):
    """The units to enable, disable, start and stop, from their status."""
    todo = {"enable": [], "disable": [], "start": [], "stop": []}
    for unit, unit_state in status.items():
        is_enabled = unit_state["enabled"] in ENABLED_STATES
        if enabled and not is_enabled:
            todo["enable"].append(unit)
        elif not enabled and is_enabled and unit_state["enabled"] != "static":
            todo["disable"].append(unit)
        is_active = unit_state["active"] in ACTIVE_STATES
        if state == "started" and not is_active:
            todo["start"].append(unit)
        elif state == "stopped" and is_active:
            todo["stop"].append(unit)
    return todo


def main():
    module = AnsibleModule(
        argument_spec=dict(
            units=dict(type="list", elements="str", required=True),
            enabled=dict(type="bool", default=True),
            state=dict(type="str", choices=["started", "stopped"], default="started"),
            daemon_reload=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    units = list(dict.fromkeys(module.params["units"]))
    result = dict(changed=False, changed_units=[], reloaded=False, status={})
    if not units:
        module.exit_json(**result)
    systemctl = module.get_bin_path("systemctl", required=True)

    def run(*args):
        rc, out, err = module.run_command([systemctl] + list(args))
        if rc != 0:
            module.fail_json(msg="units: systemctl %s failed (rc=%d): %s" % (" ".join(args), rc, (err or out).strip()), **result)
        return out

    def show():
        try:
            return parse_show(run("show", "--property=" + PROPERTIES, "--", *units), units)
        except ValueError as exc:
            module.fail_json(msg="units: cannot read the units' state: %s" % exc, **result)

    status = show()
    result["status"] = {unit: {k: v for k, v in s.items() if k != "reload"} for unit, s in status.items()}
    if module.params["daemon_reload"] and any(s["reload"] or s["load"] == "not-found" for s in status.values()):
        result["reloaded"] = result["changed"] = True
        if not module.check_mode:
            run("daemon-reload")
            status = show()
    unloaded = [u for u, s in status.items() if s["load"] != "loaded"]
    if unloaded and not (module.check_mode and result["reloaded"]):
        module.fail_json(msg="units: systemd cannot load %s; check the unit file%s; nothing was enabled or started" % (
            ", ".join("%s (%s)" % (u, status[u]["load"]) for u in unloaded),
            "" if module.params["daemon_reload"] else ", or set daemon_reload: true after writing it"), **result)

    todo = plan(status, module.params["enabled"], module.params["state"])
    changed_units = list(dict.fromkeys(u for action in ("enable", "disable", "start", "stop") for u in todo[action]))
    if not module.check_mode:
        for action in ("enable", "disable", "start", "stop"):
            if todo[action]:
                run(action, "--", *todo[action])
    result["changed_units"] = changed_units
    result["changed"] = result["changed"] or bool(changed_units)
    if module._diff and changed_units:
        result["diff"] = [{"before_header": unit, "after_header": unit,
                           "before": "enabled=%s active=%s\n" % (status[unit]["enabled"], status[unit]["active"]),
                           "after": "enabled=%s active=%s\n" % (
                               "enabled" if unit in todo["enable"] else ("disabled" if unit in todo["disable"] else status[unit]["enabled"]),
                               "active" if unit in todo["start"] else ("inactive" if unit in todo["stop"] else status[unit]["active"]))}
                          for unit in changed_units]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
