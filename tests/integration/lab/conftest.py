"""A fresh lab for the end-to-end tests: created once per session, removed afterwards.

Set MEDIASTACK_KEEP_LAB=1 to keep it for inspection.
"""
from __future__ import annotations

import os
import subprocess

import pytest

from ..helpers import ROOT, env, playbook


@pytest.fixture(scope="session")
def lab():
    down = playbook("playbooks/lab_down.yml")
    assert down.returncode == 0, down.stdout[-3000:]
    up = playbook("playbooks/lab.yml")
    assert up.returncode == 0, up.stdout[-5000:]
    inventory = subprocess.run(["ansible-inventory", "-i", "inventories/lab/docker.yml", "--list"], cwd=ROOT, env=env(),
                               text=True, capture_output=True, check=True)
    yield {"inventory": "inventories/lab/docker.yml", "inventory_json": inventory.stdout}
    if os.environ.get("MEDIASTACK_KEEP_LAB") != "1":
        down = playbook("playbooks/lab_down.yml")
        assert down.returncode == 0, down.stdout[-3000:]


@pytest.fixture(scope="session")
def converged(lab):
    """site.yml once on the fresh lab; the result of that first run."""
    return playbook("-i", lab["inventory"], "site.yml")
