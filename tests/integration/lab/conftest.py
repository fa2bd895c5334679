"""A fresh lab for the end-to-end tests: created once per session, removed afterwards.

Set MEDIASTACK_KEEP_LAB=1 to keep it for inspection.
"""
from __future__ import annotations

import os
import subprocess

import pytest

from ..helpers import ROOT, env, playbook


def leftovers() -> list[str]:
    """Every container, volume and network of the lab still on the engine (by label and by name)."""
    found = []
    for kind, fmt in (("ps", "{{.Names}}"), ("volume", "{{.Name}}"), ("network", "{{.Name}}")):
        cmd = ["docker", kind, "ls"] if kind != "ps" else ["docker", "ps", "-a"]
        out = subprocess.run(cmd + ["--format", fmt], text=True, capture_output=True, check=True).stdout.split()
        found += ["%s %s" % (kind, name) for name in out if name.startswith("mslab-")]
        labelled = subprocess.run(cmd + ["--filter", "label=mediastack.lab", "--format", fmt], text=True,
                                  capture_output=True, check=True).stdout.split()
        found += ["%s %s" % (kind, name) for name in labelled if not name.startswith("mslab-")]
    return found


@pytest.fixture(scope="session")
def lab():
    down = playbook("playbooks/lab_down.yml")
    assert down.returncode == 0, down.stdout[-3000:]
    assert leftovers() == [], "lab_down left these behind, so the lab would not be fresh"
    up = playbook("playbooks/lab.yml")
    assert up.returncode == 0, up.stdout[-5000:]
    inventory = subprocess.run(["ansible-inventory", "-i", "inventories/lab/docker.yml", "--list"], cwd=ROOT, env=env(),
                               text=True, capture_output=True, check=True)
    yield {"inventory": "inventories/lab/docker.yml", "inventory_json": inventory.stdout}
    if os.environ.get("MEDIASTACK_KEEP_LAB") != "1":
        down = playbook("playbooks/lab_down.yml")
        assert down.returncode == 0, down.stdout[-3000:]
        assert leftovers() == [], "lab_down left these behind"


@pytest.fixture(scope="session")
def converged(lab):
    """site.yml once on the fresh lab; the result of that first run."""
    return playbook("-i", lab["inventory"], "site.yml")
