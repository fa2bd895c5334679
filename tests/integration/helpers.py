"""Helpers shared by the integration tests: run ansible-playbook and read its results."""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RECAP_RE = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
    r"failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)\s+rescued=(?P<rescued>\d+)\s+ignored=(?P<ignored>\d+)",
    re.M,
)


def env(**extra: str) -> dict[str, str]:
    out = dict(os.environ)
    out.update({"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"})
    out.update(extra)
    return out


def playbook(*args: str, json_output: bool = False, timeout: int = 1800,
             env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ansible-playbook from the repository root (``env_extra``: more environment variables)."""
    extra = {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"} if json_output else {}
    extra.update(env_extra or {})
    return subprocess.run(["ansible-playbook", *args], cwd=ROOT, env=env(**extra), text=True,
                          capture_output=True, timeout=timeout, check=False)


def recap(stdout: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP of a default-callback run, per host."""
    tail = stdout[stdout.rfind("PLAY RECAP"):]
    return {m["host"]: {k: int(v) for k, v in m.groupdict().items() if k != "host"} for m in RECAP_RE.finditer(tail)}


def json_result(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The ansible.posix.json callback's document."""
    return json.loads(proc.stdout[proc.stdout.index("{"):])


def poll(predicate: Callable[[], Any], timeout: float, step: float = 0.5,
         tolerate: tuple[type[BaseException], ...] = ()) -> tuple[Any, float]:
    """Call ``predicate`` every ``step`` seconds until it returns something truthy or ``timeout`` passes.

    Returns that value (or the last falsy one, or the last tolerated exception) and the seconds it took.
    """
    start = time.monotonic()
    while True:
        try:
            value = predicate()
        except tolerate as exc:
            value = exc
        elapsed = time.monotonic() - start
        if (value and not isinstance(value, BaseException)) or elapsed >= timeout:
            return value, elapsed
        time.sleep(step)


def wait_for(predicate: Callable[[], Any], timeout: float, step: float = 0.5, what: str | None = None,
             tolerate: tuple[type[BaseException], ...] = ()) -> Any:
    """``poll``'s value. With ``what``, a timeout is an AssertionError that names it and the last result."""
    value, elapsed = poll(predicate, timeout, step, tolerate)
    if what is not None and (not value or isinstance(value, BaseException)):
        raise AssertionError("timed out after %.0f s waiting for %s (last: %r)" % (elapsed, what, value))
    return value


def skip_or_fail(reason: str) -> None:
    """Skip a test whose tools this machine lacks, except in CI (CI=true), whose setup installs them all:
    there a missing tool is a broken setup, not a reason to pass quietly."""
    import pytest  # only the tests import this module

    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail("CI=%s, but %s; `make host` should have provided it" % (os.environ["CI"], reason))
    pytest.skip(reason)
