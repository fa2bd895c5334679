#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: files
short_description: Ensure many files, with content, owner, group and mode, in one call
version_added: 0.3.0
description:
  - Writes each listed file whose content differs (atomically, through a temporary file in the same directory) and
    sets the owner, group and mode of each, as M(ansible.builtin.copy) with O(ansible.builtin.copy#module:content)
    does for one file. Templates are rendered on the controller (C(lookup('ansible.builtin.template', ...))) and
    passed as content.
  - One module call per role and node instead of one per file; a no-op run pays one remote call, not one per file
    (docs/performance.md).
  - Every C(validate) command runs on the new content before any file is replaced, so a file that fails its check
    leaves all of them as they were; the error names the file and prints the command's output.
  - Handlers that care about some of the files only read RV(changed_paths).
  - Secrets (password files) go in a separate task with C(no_log), as with M(ansible.builtin.copy).
author:
  - mediastack maintainers (@mediastack)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: One before/after entry per file whose content, owner, group or mode changes.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
options:
  files:
    description:
      - The files. Each is a dict with C(path) (absolute; required), C(content) (text; required) and optionally
        C(owner), C(group), C(mode) (octal string such as V("0644")), C(validate) (a command with C(%s), run on
        the new content before it replaces the file) and C(backup) (V(true) keeps a timestamped copy of the file a new
        content replaces, as M(ansible.builtin.copy) does).
      - The parent directory must exist (create it with M(mediastack.core.directories)).
    type: list
    elements: dict
    required: true
seealso:
  - module: ansible.builtin.copy
  - module: mediastack.core.directories
"""

EXAMPLES = r"""
- name: Write the exporter's configuration and units in one call
  mediastack.core.files:
    files:
      - path: /etc/default/prometheus-node-exporter
        content: "{{ lookup('ansible.builtin.template', 'etc/default/prometheus-node-exporter.j2') }}"
        mode: "0644"
      - path: /usr/local/bin/mediastack-textfile-metrics
        content: "{{ lookup('ansible.builtin.file', 'mediastack-textfile-metrics') }}\n"
        mode: "0755"
        validate: python3 -m py_compile %s
  register: exporter_files
  notify: Restart node exporter
"""

RETURN = r"""
changed_paths:
  description: The files written or whose owner, group or mode changed (or would change in check mode).
  returned: always
  type: list
  elements: str
  sample: [/etc/default/prometheus-node-exporter]
backup_files:
  description: Per replaced file with C(backup), the path of its copy.
  returned: always
  type: dict
  sample: {/etc/docker/daemon.json: /etc/docker/daemon.json.12345.2026-12-03@12:00:00~}
count:
  description: How many files were checked.
  returned: always
  type: int
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text

_KEYS = ("path", "content", "owner", "group", "mode", "validate", "backup")


def _entries(module):
    entries, problems = [], []
    for index, raw in enumerate(module.params["files"]):
        path, content = raw.get("path"), raw.get("content")
        unknown = sorted(set(raw) - set(_KEYS))
        if not isinstance(path, str) or not os.path.isabs(path):
            problems.append("files[%d]: path must be an absolute path (got %r)" % (index, path))
            continue
        if not isinstance(content, str):
            problems.append("files[%d] (%s): content must be text (got %s)" % (index, path, type(content).__name__))
            continue
        if unknown:
            problems.append("files[%d] (%s): unknown key(s) %s; use %s" % (index, path, ", ".join(unknown), ", ".join(_KEYS)))
            continue
        validate = raw.get("validate")
        if validate is not None and "%s" not in validate:
            problems.append("files[%d] (%s): validate must contain %%s (the new file's path), got %r" % (index, path, validate))
            continue
        if not os.path.isdir(os.path.dirname(path)):
            problems.append("files[%d] (%s): the directory %s does not exist" % (index, path, os.path.dirname(path)))
            continue
        if os.path.lexists(path) and not os.path.isfile(path):
            problems.append("files[%d] (%s): exists and is not a regular file" % (index, path))
            continue
        entries.append({"path": os.path.normpath(path), "content": to_bytes(content), "owner": raw.get("owner"),
                        "group": raw.get("group"), "mode": None if raw.get("mode") is None else str(raw["mode"]),
                        "validate": validate, "backup": bool(raw.get("backup"))})
    duplicated = sorted({e["path"] for e in entries if [x["path"] for x in entries].count(e["path"]) > 1})
    if duplicated:
        problems.append("each path may be listed once; listed more than once: %s" % ", ".join(duplicated))
    if problems:
        module.fail_json(msg="files: nothing was changed:\n  - " + "\n  - ".join(problems))
    return entries


def _current(path):
    if not os.path.exists(path):
        return None
    with open(path, "rb") as handle:
        return handle.read()


def _inherit(temp, entry):
    """Give the staged file what a file left unspecified keeps: the current file's mode and owner, else the umask's.

    A given mode is set right after (the staged file stays 0600, mkstemp's mode, until then)."""
    path = entry["path"]
    if os.path.exists(path):
        current = os.stat(path)
        if entry["mode"] is None:
            os.chmod(temp, current.st_mode & 0o7777)
        if os.geteuid() == 0:
            os.chown(temp, current.st_uid, current.st_gid)
    elif entry["mode"] is None:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)


def _attrs(entry, path):
    return dict(path=path, owner=entry["owner"], group=entry["group"], mode=entry["mode"], attributes=None,
                secontext=[None, None, None])


def main():
    module = AnsibleModule(argument_spec=dict(files=dict(type="list", elements="dict", required=True)), supports_check_mode=True)
    entries = _entries(module)
    pending = [(e, _current(e["path"])) for e in entries]
    to_write = [(e, before) for e, before in pending if before != e["content"]]

    temps = {}
    try:
        if not module.check_mode:
            # Stage and validate every new content first: one failed check leaves every file as it was.
            failures = []
            for entry, _before in to_write:
                fd, temp = tempfile.mkstemp(prefix=".mediastack-", dir=os.path.dirname(entry["path"]))
                with os.fdopen(fd, "wb") as handle:
                    handle.write(entry["content"])
                temps[entry["path"]] = temp
                _inherit(temp, entry)
                module.set_fs_attributes_if_different(_attrs(entry, temp), False)
                if entry["validate"]:
                    rc, out, err = module.run_command(entry["validate"] % temp)
                    if rc != 0:
                        failures.append("%s: '%s' failed (rc=%d): %s" % (entry["path"], entry["validate"], rc, (err or out).strip()))
            if failures:
                module.fail_json(msg="files: a new content failed its check; nothing was changed:\n  - " + "\n  - ".join(failures))

        changed_paths, diffs, backups = [], [], {}
        for entry, before in pending:
            path = entry["path"]
            diff = {"before": {}, "after": {}}
            written = before != entry["content"]
            if written and not module.check_mode:
                if entry["backup"] and before is not None:
                    backups[path] = module.backup_local(path)
                # The staged file already has its owner and mode: a rename never exposes it with other ones.
                os.rename(temps.pop(path), path)
            if written and before is None and module.check_mode:
                attrs_changed = False
            else:
                attrs_changed = module.set_fs_attributes_if_different(_attrs(entry, path), False, diff=diff)
            if written or attrs_changed:
                changed_paths.append(path)
                if written:
                    diffs.append({"before_header": path if before is not None else "%s (absent)" % path, "after_header": path,
                                  "before": to_text(before, errors="surrogate_or_replace") if before is not None else "",
                                  "after": to_text(entry["content"], errors="surrogate_or_replace")})
                if attrs_changed:
                    diffs.append({"before_header": path, "after_header": path,
                                  "before": dict(diff["before"], path=path), "after": dict(diff["after"], path=path)})
    finally:
        for temp in temps.values():
            if os.path.exists(temp):
                os.unlink(temp)

    result = dict(changed=bool(changed_paths), changed_paths=changed_paths, count=len(entries), backup_files=backups)
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
