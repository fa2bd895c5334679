"""Unit tests of the prometheus_duration filter."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.filter.prometheus_duration import FilterModule, prometheus_duration


@pytest.mark.parametrize("value", ["90d", "15s", "1h30m", "2w", "1y", "500ms", "1y2w3d4h5m6s7ms", "720h"])
def test_valid_durations_are_returned_unchanged(value: str) -> None:
    assert prometheus_duration(value) == value


@pytest.mark.parametrize("value", ["90 days", "90", 90, "d", "", "1h1d", "1.5h", "-1d", "15S", None, True, ["90d"]])
def test_anything_else_is_refused_with_the_setting_name(value) -> None:
    with pytest.raises(AnsibleFilterError, match="prometheus_retention_time .* is not a Prometheus duration"):
        prometheus_duration(value, "prometheus_retention_time")


def test_zero_is_refused_unless_allowed() -> None:
    with pytest.raises(AnsibleFilterError, match="is zero"):
        prometheus_duration("0d")
    assert prometheus_duration("0", allow_zero=True) == "0"
    assert prometheus_duration("0s", allow_zero=True) == "0s"


def test_the_filter_is_registered() -> None:
    assert FilterModule().filters()["prometheus_duration"] is prometheus_duration
