#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: manifest_compare
short_description: Compare a primary and a copy (config sync, media sync) by sha256 manifests
version_added: 0.1.0
description:
  - Builds or reads a checksummed manifest (JSON object, path to sha256) of a primary and of a copy and reports the files
    missing from the copy, extra in the copy, and those whose content differs.
  - Each side is either a directory (hashed now, paths relative to it) or a manifest file (for example the one the backup role
    records per backup class), chosen by O(primary_type) / O(copy_type).
  - Read-only; fails when the two differ unless O(fail_on_difference=false).
author:
  - mediastack maintainers (@mediastack)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - The module only reads, so check mode runs the full comparison.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
options:
  primary:
    description: The primary directory or manifest file.
    type: path
    required: true
  copy:
    description: The copy (sync target, NAS mirror) directory or manifest file.
    type: path
    required: true
  primary_type:
    description: V(auto) treats a directory as a tree to hash and a file as a manifest.
    type: str
    choices: [auto, directory, manifest]
    default: auto
  copy_type:
    description: As O(primary_type), for O(copy).
    type: str
    choices: [auto, directory, manifest]
    default: auto
  strip_prefix:
    description:
      - Prefix removed from the keys of a manifest side, so an absolute-path manifest can be compared with a directory
        (whose keys are relative). Applied to both manifest sides.
    type: str
  excludes:
    description: Absolute paths skipped when hashing a directory side.
    type: list
    elements: path
    default: []
  fail_on_difference:
    description: Fail when the copy is not identical.
    type: bool
    default: true
  report_limit:
    description: Most entries listed in each of RV(missing), RV(extra), RV(mismatched); the counts stay complete.
    type: int
    default: 50
  write_manifest:
    description: Write the manifest computed for a directory O(primary) to this file (a recorded baseline).
    type: path
notes:
  - Only regular files are compared; symlinks are not followed.
requirements: []
seealso:
  - module: mediastack.core.backup_verify
"""

EXAMPLES = r"""
- name: The NAS media mirror holds exactly the primary's files
  mediastack.core.manifest_compare:
    primary: /srv/media/movies
    copy: /mnt/nas/media/movies

- name: Configuration sync against the manifest recorded by the last config backup
  mediastack.core.manifest_compare:
    primary: /var/lib/mediastack-backup/manifests/config.json
    copy: /srv/appdata
    strip_prefix: /srv/appdata
    fail_on_difference: false
  register: config_sync
"""

RETURN = r"""
ok:
  description: True when the copy holds exactly the primary's files with the same content.
  returned: always
  type: bool
  sample: true
primary_files:
  description: Files in the primary.
  returned: always
  type: int
  sample: 1200
copy_files:
  description: Files in the copy.
  returned: always
  type: int
  sample: 1200
matched:
  description: Files present on both sides with equal sha256.
  returned: always
  type: int
  sample: 1200
missing_count:
  description: Files of the primary absent from the copy.
  returned: always
  type: int
  sample: 0
extra_count:
  description: Files of the copy absent from the primary.
  returned: always
  type: int
  sample: 0
mismatched_count:
  description: Files on both sides whose content differs.
  returned: always
  type: int
  sample: 0
missing:
  description: Paths missing from the copy (at most O(report_limit)).
  returned: always
  type: list
  elements: str
  sample: ["season1/e01.mkv"]
extra:
  description: Paths only in the copy (at most O(report_limit)).
  returned: always
  type: list
  elements: str
  sample: []
mismatched:
  description: Paths whose content differs (at most O(report_limit)).
  returned: always
  type: list
  elements: str
  sample: []
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.mediastack.core.plugins.module_utils.backup.manifest import (
    ManifestError,
    build_manifest,
    compare_manifests,
    load_manifest,
    rebase,
    write_manifest,
)


class ManifestComparer(object):
    """Loads or computes both manifests and compares them."""

    def __init__(self, module):
        self.module = module
        self.params = module.params

    def side(self, option):
        path = self.params[option]
        kind = self.params[option + "_type"]
        if not os.path.exists(path):
            self.module.fail_json(msg="option %s: %s does not exist; point it at a directory or a manifest file" % (option, path))
        if kind == "auto":
            kind = "directory" if os.path.isdir(path) else "manifest"
        if kind == "directory":
            if not os.path.isdir(path):
                self.module.fail_json(msg="option %s: %s is not a directory; set %s_type: manifest" % (option, path, option))
            return build_manifest([path], relative_to=path, excludes=self.params["excludes"]), kind
        manifest = load_manifest(path)
        if self.params["strip_prefix"]:
            manifest = rebase(manifest, self.params["strip_prefix"])
        return manifest, kind

    def execute(self):
        if self.params["report_limit"] < 0:
            self.module.fail_json(msg="option report_limit: must be 0 or more")
        try:
            primary, primary_kind = self.side("primary")
            copy, copy_kind = self.side("copy")
        except (ManifestError, OSError) as exc:
            self.module.fail_json(msg="cannot build or read a manifest: %s" % to_native(exc))
        result = compare_manifests(primary, copy, limit=self.params["report_limit"])
        changed = False
        target = self.params["write_manifest"]
        if target and primary_kind == "directory" and not self.module.check_mode:
            try:
                with open(target) as handle:
                    current = handle.read()
            except (OSError, IOError):
                current = None
            write_manifest(primary, target)
            with open(target) as handle:
                changed = handle.read() != current
        result.update(changed=changed, primary_type=primary_kind, copy_type=copy_kind)
        if not result["ok"] and self.params["fail_on_difference"]:
            self.module.fail_json(msg="copy differs from primary: %d missing, %d extra, %d mismatched" % (
                result["missing_count"], result["extra_count"], result["mismatched_count"]), **result)
        self.module.exit_json(msg="%d of %d file(s) match" % (result["matched"], result["primary_files"]), **result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            primary=dict(type="path", required=True),
            copy=dict(type="path", required=True),
            primary_type=dict(type="str", choices=["auto", "directory", "manifest"], default="auto"),
            copy_type=dict(type="str", choices=["auto", "directory", "manifest"], default="auto"),
            strip_prefix=dict(type="str"),
            excludes=dict(type="list", elements="path", default=[]),
            fail_on_difference=dict(type="bool", default=True),
            report_limit=dict(type="int", default=50),
            write_manifest=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    ManifestComparer(module).execute()


if __name__ == "__main__":
    main()
