# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``sysctl_raise`` filter: which kernel settings must be raised to reach their minimums."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

_KEY_RE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_-]+)+$")


def _as_int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise AnsibleFilterError("sysctl_raise: %s is a boolean (%r); give a whole number" % (what, value))
    try:
        return int(str(value).strip())
    except ValueError as exc:
        raise AnsibleFilterError("sysctl_raise: %s is %r, not a whole number" % (what, value)) from exc


def sysctl_raise(minimums: Any, current: Any) -> dict[str, int]:
    """Return ``{key: minimum}`` for every key whose current value is below its minimum.

    A value the administrator already raised above our minimum is never lowered.
    """
    if not isinstance(minimums, Mapping):
        raise AnsibleFilterError("sysctl_raise: minimums must be a mapping of sysctl keys to numbers")
    if not isinstance(current, Mapping):
        raise AnsibleFilterError("sysctl_raise: current must be a mapping of sysctl keys to their values")
    out: dict[str, int] = {}
    for key in sorted(minimums):
        if not isinstance(key, str) or not _KEY_RE.match(key):
            raise AnsibleFilterError("sysctl_raise: %r is not a sysctl key such as fs.inotify.max_user_watches" % (key,))
        wanted = _as_int(minimums[key], "the minimum for %s" % key)
        if key not in current:
            raise AnsibleFilterError("sysctl_raise: no current value was read for %s; is the key right for this kernel?" % key)
        if _as_int(current[key], "the current value of %s" % key) < wanted:
            out[key] = wanted
    return out


class FilterModule:
    """Kernel settings filters."""

    def filters(self) -> dict[str, Any]:
        return {"sysctl_raise": sysctl_raise}
