# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``packages_installed`` test: is every apt package of a task already installed, at its pinned version?

The roles skip their apt task when it is (a no-op converge makes no apt call; docs/performance.md). The
installed packages are what ``ansible.builtin.package_facts`` read in site.yml's preflight play.
"""
from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError


def _installed_versions(entries: Any) -> list[str]:
    if not isinstance(entries, list):
        return []
    return [str(e.get("version", "")) for e in entries if isinstance(e, Mapping)]


def packages_installed(packages: Any, installed: Any) -> bool:
    """True when every entry of ``packages`` is in ``installed`` (package_facts' ``packages``).

    An entry is a name (any version will do) or ``name=version`` as apt takes it, where a trailing ``*``
    matches any rest of the version (``docker-ce=5:27.5.1*``); ``name:arch`` is read as the name. An empty
    or absent ``installed`` (facts not read) is never enough: the apt task then runs.
    """
    if isinstance(packages, str):
        packages = [packages]
    if not isinstance(packages, (list, tuple)):
        raise AnsibleFilterError("packages_installed: the packages must be a list of apt package names, got %r" % (packages,))
    if not isinstance(installed, Mapping) or not installed:
        return False
    for entry in packages:
        name, _sep, version = str(entry).partition("=")
        name = name.split(":", 1)[0].strip()
        versions = _installed_versions(installed.get(name))
        if not versions:
            return False
        if version and not any(v == version or fnmatch.fnmatchcase(v, version) for v in versions):
            return False
    return True


class TestModule:
    """Package tests."""

    def tests(self) -> dict[str, Any]:
        return {"packages_installed": packages_installed}
