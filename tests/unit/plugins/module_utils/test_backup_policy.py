"""Durations, timestamps and the restic/borg retention semantics."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ansible_collections.mediastack.core.plugins.module_utils.backup.policy import (
    PolicyError,
    apply_borg_policy,
    apply_restic_policy,
    format_duration,
    forget_arguments,
    normalize_retention,
    parse_duration,
    parse_timestamp,
    restic_keeps_oldest,
    retention_report,
)


@pytest.mark.parametrize("text, seconds", [("1h", 3600), ("24h", 86400), ("7d", 604800), ("1d12h", 129600), ("90", 90), (45, 45), ("2w", 1209600)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "1y", "h1", "-1h", "0d", "", True, "1.5h"])
def test_bad_durations(text):
    with pytest.raises(PolicyError):
        parse_duration(text)


def test_format_duration():
    assert format_duration(3 * 86400 + 4 * 3600 + 5) == "3d4h5s"
    assert format_duration(0) == "0s"


def test_timestamps_keep_their_offset_and_nanoseconds():
    stamp = parse_timestamp("2024-03-31T23:30:00.123456789+02:00")
    assert (stamp.day, stamp.hour, stamp.microsecond) == (31, 23, 123456)
    assert stamp.utcoffset() == timedelta(hours=2)
    assert parse_timestamp("2024-01-01T00:00:00Z").tzinfo == timezone.utc
    assert parse_timestamp("2024-01-01T00:00:00.000000").tzinfo is not None  # borg: naive = local
    with pytest.raises(PolicyError):
        parse_timestamp("yesterday")


def test_retention_validation():
    assert normalize_retention({"keep_daily": 7, "keep_weekly": "4"})["keep_weekly"] == 4
    for bad, message in (({"keep_daily": -1}, "negative"), ({"keep_daily": "x"}, "whole number"), ({}, "keeps nothing"),
                         ({"keep_dayly": 1}, "unknown retention key")):
        with pytest.raises(PolicyError, match=message):
            normalize_retention(bad)
    assert forget_arguments(normalize_retention({"keep_daily": 7, "keep_yearly": 5})) == ["--keep-daily", "7", "--keep-yearly", "5"]


def snaps(*days, hour=12):
    base = datetime(2024, 6, 30, hour, tzinfo=timezone.utc)
    return [{"id": "s%03d" % d, "time": base - timedelta(days=d), "hostname": "h", "tags": ["c"], "paths": ["/x"]} for d in days]


def test_restic_one_snapshot_fills_several_buckets():
    result = apply_restic_policy(snaps(0, 1, 2, 3), {"keep_daily": 2, "keep_weekly": 2})
    # 2024-06-30 is a Sunday: day 0 ends ISO week 26, day 1..3 are in it too, so the second weekly is not reached
    assert result["keep"] == ["s000", "s001"]
    assert result["reasons"]["s000"] == ["keep_daily", "keep_weekly"]


def test_restic_oldest_rule_depends_on_version():
    data = snaps(0, 40, 80)
    assert apply_restic_policy(data, {"keep_yearly": 5})["keep"] == ["s000"]
    assert apply_restic_policy(data, {"keep_yearly": 5}, keep_oldest=True)["keep"] == ["s000", "s080"]
    assert restic_keeps_oldest((0, 16, 0)) and not restic_keeps_oldest((0, 14, 0)) and not restic_keeps_oldest(None)


def test_borg_counts_rules_exclusively_and_keeps_oldest():
    data = snaps(0, 1, 2, 10)
    # borg: daily keeps s000,s001; weekly skips already-kept s000 and takes the next week's newest (s002? same week) -> s010
    result = apply_borg_policy(data, {"keep_daily": 2, "keep_weekly": 1})
    assert result["keep"] == ["s000", "s001", "s010"]
    assert apply_borg_policy(snaps(0, 40), {"keep_yearly": 3})["reasons"]["s040"] == ["keep_yearly[oldest]"]


def test_report_groups_by_host_and_tags():
    data = snaps(0, 1, 2) + [dict(s, hostname="other") for s in snaps(5)]
    report = retention_report(data, normalize_retention({"keep_daily": 2}))
    assert not report["ok"]
    by_host = {g["group"]["host"]: g for g in report["groups"]}
    assert by_host["h"]["extra"][0]["id"] == "s002" and by_host["other"]["ok"]
