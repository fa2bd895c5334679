"""Helpers shared by the integration tests: run ansible-playbook and read its results."""
from __future__ import annotations

import json
import os
import re
import subprocess
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


def playbook(*args: str, json_output: bool = False, timeout: int = 1800) -> subprocess.CompletedProcess[str]:
    """Run ansible-playbook from the repository root."""
    extra = {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"} if json_output else {}
    return subprocess.run(["ansible-playbook", *args], cwd=ROOT, env=env(**extra), text=True,
                          capture_output=True, timeout=timeout, check=False)


def recap(stdout: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP of a default-callback run, per host."""
    tail = stdout[stdout.rfind("PLAY RECAP"):]
    return {m["host"]: {k: int(v) for k, v in m.groupdict().items() if k != "host"} for m in RECAP_RE.finditer(tail)}


def json_result(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The ansible.posix.json callback's document."""
    return json.loads(proc.stdout[proc.stdout.index("{"):])
