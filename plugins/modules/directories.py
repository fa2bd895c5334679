#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: directories
short_description: Ensure many directories, with owner, group and mode, in one call
version_added: 0.2.0
description:
  - Creates each listed directory that is missing (parents included, the parents with the entry's owner, group and
    mode) and sets the owner, group and mode of each to the given values, as M(ansible.builtin.file) with
    O(ansible.builtin.file#module:state=directory) does for one path.
  - One module call for a whole tree instead of one per directory; used by the common role (the data tree), the
    services role (the bind-mount sources of each node) and the backup role (its configuration directories).
  - Never removes anything; a path that exists and is not a directory is an error naming it, reported before any
    directory is changed.
author:
  - mediastack maintainers (@mediastack)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: One before/after entry per directory that is created or whose owner, group or mode changes.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
options:
  paths:
    description:
      - The directories, in any order. Each is a dict with C(path) (absolute; required) and optionally C(owner)
        (user name or UID), C(group) (group name or GID) and C(mode) (octal string such as V("0750")); a missing or
        null C(owner), C(group) or C(mode) leaves it as it is (root and the umask for a new directory).
      - Other keys are ignored, so the entries of the filters C(mediastack.core.dir_tree) and
        C(mediastack.core.catalog_host_paths) can be passed as they are.
    type: list
    elements: dict
    required: true
seealso:
  - module: ansible.builtin.file
"""

EXAMPLES = r"""
- name: Create the data tree in one call
  mediastack.core.directories:
    paths:
      - {path: /srv/mediastack/config, owner: media, group: media, mode: "0775"}
      - {path: /srv/mediastack/media/music, owner: media, group: media, mode: "0775"}
"""

RETURN = r"""
changed_paths:
  description: The directories created or whose owner, group or mode changed (or would change in check mode).
  returned: always
  type: list
  elements: str
  sample: [/srv/mediastack/config/navidrome]
count:
  description: How many directories were checked.
  returned: always
  type: int
"""

import os

from ansible.module_utils.basic import AnsibleModule


def _text(value):
    return None if value is None else str(value)


def _blocker(path):
    """The path itself or the first of its ancestors that exists and is not a directory; None if there is none."""
    current = "/"
    for part in [p for p in path.split("/") if p]:
        current = os.path.join(current, part)
        if not os.path.lexists(current):
            return None
        if not os.path.isdir(current):
            return current
    return None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type="list", elements="dict", required=True),
        ),
        supports_check_mode=True,
    )
    entries = []
    for index, raw in enumerate(module.params["paths"]):
        if not isinstance(raw.get("path"), str) or not raw["path"]:
            module.fail_json(msg="directories: paths[%d] has no path (got %r); each entry needs path, and may have owner, group, mode"
                             % (index, raw))
        entries.append({"path": os.path.normpath(raw["path"]), "owner": _text(raw.get("owner")), "group": _text(raw.get("group")),
                        "mode": raw.get("mode")})
    entries.sort(key=lambda e: e["path"].count("/"))
    relative = [e["path"] for e in entries if not os.path.isabs(e["path"])]
    if relative:
        module.fail_json(msg="directories: paths must be absolute: %s" % ", ".join(relative))
    blockers = sorted({b for b in (_blocker(e["path"]) for e in entries) if b})
    if blockers:
        module.fail_json(msg="directories: these paths exist and are not directories, so the directories at or below them "
                             "cannot be made; nothing was changed: %s" % ", ".join(blockers))

    changed_paths, diffs = [], []
    for entry in entries:
        path = entry["path"].rstrip("/") or "/"
        before = {"path": path, "state": "directory" if os.path.isdir(path) else "absent"}
        created = False
        if not os.path.isdir(path):
            created = True
            if not module.check_mode:
                # Parents that do not exist get the same owner, group and mode (as the file module does).
                missing = []
                parent = path
                while not os.path.exists(parent):
                    missing.append(parent)
                    parent = os.path.dirname(parent)
                for new in reversed(missing):
                    os.mkdir(new)
                    module.set_fs_attributes_if_different(dict(path=new, owner=entry["owner"], group=entry["group"],
                                                               mode=entry["mode"], attributes=None, secontext=[None, None, None]), False)
        diff = {"before": {}, "after": {}}
        attrs = dict(path=path, owner=entry["owner"], group=entry["group"], mode=entry["mode"], attributes=None,
                     secontext=[None, None, None])
        if created and module.check_mode:
            attrs_changed = True
        else:
            attrs_changed = module.set_fs_attributes_if_different(attrs, False, diff=diff)
        if created or attrs_changed:
            changed_paths.append(path)
            diffs.append({"before_header": path, "after_header": path,
                          "before": dict(before, **diff["before"]), "after": dict({"path": path, "state": "directory"}, **diff["after"])})
    result = dict(changed=bool(changed_paths), changed_paths=changed_paths, count=len(entries))
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
