# Copyright: (c) 2025, mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate a Prometheus duration (``90d``, ``1h30m``) and return it unchanged."""
from __future__ import annotations

import re
from typing import Any

from ansible.errors import AnsibleFilterError

# The units and order Prometheus' model.ParseDuration accepts: y, w, d, h, m, s, ms, each at most once.
DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
MILLISECONDS = (365 * 86400000, 7 * 86400000, 86400000, 3600000, 60000, 1000, 1)


def prometheus_duration(value: Any, name: str = "duration", allow_zero: bool = False) -> str:
    """Return ``value`` when it is a Prometheus duration; raise AnsibleFilterError otherwise."""
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    match = DURATION.match(text) if text else None
    if text != "0" and (match is None or not any(match.groups())):
        raise AnsibleFilterError(
            f"prometheus_duration: {name} {value!r} is not a Prometheus duration; write numbers with units "
            "in the order y, w, d, h, m, s, ms (e.g. 90d, 12h, 1h30m)"
        )
    total = sum(int(g) * ms for g, ms in zip(match.groups(), MILLISECONDS) if g) if match else 0
    if total == 0 and not allow_zero:
        raise AnsibleFilterError(f"prometheus_duration: {name} {value!r} is zero; give a positive duration such as 90d")
    return text


class FilterModule:
    """Prometheus duration filters."""

    def filters(self) -> dict[str, Any]:
        return {"prometheus_duration": prometheus_duration}
