# -*- coding: utf-8 -*-
# Copyright: mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Durations, snapshot timestamps and retention policies shared by the backup plugins.

Runs on targets, so the syntax stays Python 3.8 compatible. The retention code mirrors the
bucket semantics of ``restic forget`` (``internal/restic/snapshot_policy.go``) and of
``borg prune`` (``prune_split``), so that a verifier can compute the set a repository *should*
hold and compare it with the set it *does* hold.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ansible_collections.mediastack.core.plugins.module_utils.problems import InputError

DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION_PART = re.compile(r"(\d+)([smhdw])")
_DURATION_FULL = re.compile(r"^(?:\d+[smhdw])+$")
_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})?$"
)

# Order matters: it is the order in which restic evaluates its buckets.
RETENTION_KEYS = ("keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly")
DEFAULT_RETENTION = {"keep_last": 0, "keep_hourly": 0, "keep_daily": 7, "keep_weekly": 4, "keep_monthly": 12, "keep_yearly": 5}
GROUP_BY_KEYS = ("host", "paths", "tags")


class PolicyError(InputError):
    """A user-supplied duration, timestamp or retention policy is invalid."""


def parse_duration(value: Any) -> int:
    """Return the number of seconds in a duration such as ``1h``, ``24h``, ``7d`` or ``1d12h``.

    Plain integers are read as seconds. Zero and negative durations are refused.
    """
    if isinstance(value, bool):
        raise PolicyError("%r is not a duration" % (value,))
    if isinstance(value, int):
        seconds = value
    else:
        text = str(value).strip().lower()
        if text.isdigit():
            seconds = int(text)
        elif _DURATION_FULL.match(text):
            seconds = sum(int(num) * DURATION_UNITS[unit] for num, unit in _DURATION_PART.findall(text))
        else:
            raise PolicyError(
                "%r is not a duration: write a number followed by s, m, h, d or w, e.g. 1h, 24h, 7d" % (value,)
            )
    if seconds <= 0:
        raise PolicyError("%r is not a positive duration" % (value,))
    return seconds


def format_duration(seconds: float) -> str:
    """Render seconds as a short human string (``3d4h``, ``59m``, ``12s``)."""
    remaining = int(round(abs(seconds)))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if remaining >= size:
            parts.append("%d%s" % (remaining // size, unit))
            remaining %= size
    if remaining or not parts:
        parts.append("%ds" % remaining)
    return ("-" if seconds < 0 else "") + "".join(parts)


def parse_timestamp(value: str, assume_local: bool = True) -> datetime:
    """Parse restic/borg JSON timestamps (RFC 3339 with up to nanoseconds, or naive local time).

    The offset written in the timestamp is kept, because restic's buckets use the calendar
    fields of the time as stored. A naive timestamp (borg) is taken as local time.
    """
    match = _TIMESTAMP.match(str(value).strip())
    if not match:
        raise PolicyError("%r is not an ISO 8601 timestamp" % (value,))
    year, month, day, hour, minute, second, frac, offset = match.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    tzinfo = None  # type: Optional[timezone]
    if offset == "Z":
        tzinfo = timezone.utc
    elif offset:
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        tzinfo = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    stamp = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo)
    if tzinfo is None and assume_local:
        stamp = stamp.astimezone()  # attach the local offset, calendar fields unchanged
    return stamp


def normalize_retention(policy: Optional[Dict[str, Any]]) -> Dict[str, int]:
    """Validate a retention mapping and fill the unset keys (missing keys count as 0).

    Negative counts are refused: restic before 0.16 has no "unlimited" and a negative count in a
    forget command is either an error or, worse, a surprise.
    """
    result = {}  # type: Dict[str, int]
    source = dict(policy or {})
    unknown = sorted(set(source) - set(RETENTION_KEYS) - {"group_by"})
    if unknown:
        raise PolicyError("unknown retention key(s) %s; use %s" % (", ".join(unknown), ", ".join(RETENTION_KEYS)))
    for key in RETENTION_KEYS:
        raw = source.get(key)
        if raw is None:
            result[key] = 0
            continue
        try:
            number = int(raw)
        except (TypeError, ValueError):
            raise PolicyError("retention %s=%r is not a whole number" % (key, raw))
        if isinstance(raw, bool) or str(raw).strip() != str(number):
            raise PolicyError("retention %s=%r is not a whole number" % (key, raw))
        if number < 0:
            raise PolicyError("retention %s=%d is negative; use 0 to disable the bucket or a positive count" % (key, number))
        result[key] = number
    if not any(result.values()):
        raise PolicyError("retention keeps nothing: set at least one of %s above 0" % ", ".join(RETENTION_KEYS))
    return result


def forget_arguments(policy: Dict[str, int]) -> List[str]:
    """The ``--keep-*`` arguments for restic forget / borg prune for a normalized policy."""
    args = []  # type: List[str]
    for key in RETENTION_KEYS:
        if policy.get(key):
            args.extend(["--" + key.replace("_", "-"), str(policy[key])])
    return args


def _bucket_always(stamp: datetime, index: int) -> Any:
    return index


def _bucket_hour(stamp: datetime, index: int) -> Any:
    return (stamp.year, stamp.month, stamp.day, stamp.hour)


def _bucket_day(stamp: datetime, index: int) -> Any:
    return (stamp.year, stamp.month, stamp.day)


def _bucket_week(stamp: datetime, index: int) -> Any:
    iso = stamp.isocalendar()
    return (iso[0], iso[1])


def _bucket_month(stamp: datetime, index: int) -> Any:
    return (stamp.year, stamp.month)


def _bucket_year(stamp: datetime, index: int) -> Any:
    return stamp.year


BUCKETS = (
    ("keep_last", _bucket_always),
    ("keep_hourly", _bucket_hour),
    ("keep_daily", _bucket_day),
    ("keep_weekly", _bucket_week),
    ("keep_monthly", _bucket_month),
    ("keep_yearly", _bucket_year),
)  # type: Tuple[Tuple[str, Callable[[datetime, int], Any]], ...]


def restic_keeps_oldest(version: Optional[Tuple[int, ...]]) -> bool:
    """restic 0.16 and later also keep the oldest snapshot when a bucket has counts left."""
    return version is not None and tuple(version[:2]) >= (0, 16)


def apply_restic_policy(snapshots: Sequence[Dict[str, Any]], policy: Dict[str, int], keep_oldest: bool = False) -> Dict[str, List[str]]:
    """Return ``{"keep": [ids], "remove": [ids], "reasons": {id: [bucket, ...]}}`` for one group.

    Every snapshot dict needs ``id`` and ``time`` (a datetime). Newest first; each bucket keeps
    the first snapshot of every new bucket value until its count runs out, and one snapshot
    may satisfy several buckets at once (restic semantics, unlike borg).
    """
    ordered = sorted(snapshots, key=lambda snap: snap["time"], reverse=True)
    counts = dict((key, policy.get(key, 0)) for key, _func in BUCKETS)
    last = dict((key, None) for key, _func in BUCKETS)  # type: Dict[str, Any]
    keep = []  # type: List[str]
    remove = []  # type: List[str]
    reasons = {}  # type: Dict[str, List[str]]
    for index, snap in enumerate(ordered):
        matched = []
        for key, func in BUCKETS:
            if counts[key] <= 0:
                continue
            value = func(snap["time"], index)
            if value != last[key] or (keep_oldest and index == len(ordered) - 1):
                last[key] = value
                counts[key] -= 1
                matched.append(key)
        if matched:
            keep.append(snap["id"])
            reasons[snap["id"]] = matched
        else:
            remove.append(snap["id"])
    return {"keep": keep, "remove": remove, "reasons": reasons}


def apply_borg_policy(snapshots: Sequence[Dict[str, Any]], policy: Dict[str, int]) -> Dict[str, List[str]]:
    """``borg prune`` semantics: rules in order, an archive kept by an earlier rule does not count
    for a later one, and the oldest archive is kept when a rule could not reach its count."""
    ordered = sorted(snapshots, key=lambda snap: snap["time"], reverse=True)
    reasons = {}  # type: Dict[str, List[str]]
    for key, func in BUCKETS:
        wanted = policy.get(key, 0)
        if wanted <= 0 or not ordered:
            continue
        last = None  # type: Any
        kept = 0
        for index, snap in enumerate(ordered):
            value = func(snap["time"], index)
            if value != last:
                last = value
                if snap["id"] not in reasons:
                    reasons[snap["id"]] = [key]
                    kept += 1
                    if kept == wanted:
                        break
        oldest = ordered[-1]
        if kept < wanted and oldest["id"] not in reasons:
            reasons[oldest["id"]] = [key + "[oldest]"]
    keep = [snap["id"] for snap in ordered if snap["id"] in reasons]
    remove = [snap["id"] for snap in ordered if snap["id"] not in reasons]
    return {"keep": keep, "remove": remove, "reasons": reasons}


def group_key(snapshot: Dict[str, Any], group_by: Sequence[str]) -> Tuple[Any, ...]:
    """The restic ``--group-by`` key of a snapshot."""
    key = []  # type: List[Any]
    for field in GROUP_BY_KEYS:
        if field not in group_by:
            continue
        if field == "host":
            key.append(snapshot.get("hostname") or "")
        else:
            key.append(tuple(sorted(snapshot.get(field) or [])))
    return tuple(key)


def group_label(key: Tuple[Any, ...], group_by: Sequence[str]) -> Dict[str, Any]:
    """A JSON-friendly form of a group key: ``{"host": "nas1", "tags": ["config"]}``."""
    fields = [field for field in GROUP_BY_KEYS if field in group_by]
    return dict((field, list(value) if isinstance(value, tuple) else value) for field, value in zip(fields, key))


def retention_report(
    snapshots: Sequence[Dict[str, Any]],
    policy: Dict[str, int],
    engine: str = "restic",
    group_by: Sequence[str] = ("host", "tags"),
    keep_oldest: bool = False,
) -> Dict[str, Any]:
    """Compare the snapshots a repository holds with the set the policy keeps, per group.

    A compliant repository holds exactly the expected set: no snapshot that forget/prune
    should have removed. ``extra`` lists the ones that should be gone.
    """
    groups = {}  # type: Dict[Tuple[Any, ...], List[Dict[str, Any]]]
    for snap in snapshots:
        groups.setdefault(group_key(snap, group_by) if engine == "restic" else (snap.get("class") or "",), []).append(snap)
    results = []
    for key in sorted(groups, key=repr):
        members = groups[key]
        if engine == "restic":
            outcome = apply_restic_policy(members, policy, keep_oldest=keep_oldest)
        else:
            outcome = apply_borg_policy(members, policy)
        by_id = dict((snap["id"], snap) for snap in members)
        results.append({
            "group": group_label(key, group_by) if engine == "restic" else {"class": key[0]},
            "snapshots": len(members),
            "expected_keep": len(outcome["keep"]),
            "extra": [{"id": sid, "time": by_id[sid]["time"].isoformat()} for sid in outcome["remove"]],
            "ok": not outcome["remove"],
        })
    return {"ok": all(item["ok"] for item in results), "groups": results}
