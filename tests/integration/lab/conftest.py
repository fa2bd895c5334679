"""A fresh lab for the end-to-end tests: created once per session, removed afterwards.

Set MEDIASTACK_KEEP_LAB=1 to keep it for inspection, MEDIASTACK_REUSE_LAB=1 to run against the lab
that is already up (development only: it is neither fresh nor removed afterwards).
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

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
    if os.environ.get("MEDIASTACK_REUSE_LAB") == "1" and leftovers():
        inventory = subprocess.run(["ansible-inventory", "-i", "inventories/lab/docker.yml", "--list"], cwd=ROOT, env=env(),
                                   text=True, capture_output=True, check=True)
        yield {"inventory": "inventories/lab/docker.yml", "inventory_json": inventory.stdout}
        return
    down = playbook("playbooks/lab_down.yml")
    assert down.returncode == 0, down.stdout[-3000:]
    assert leftovers() == [], "lab_down left these behind, so the lab would not be fresh"
    up = playbook("playbooks/lab.yml")
    assert up.returncode == 0, up.stdout[-5000:]
    # The images of the services the lab deploys (the services role's default services_enabled: the lab inventory sets
    # none), as stand-ins under their own repo:tag, in the lab registry (image_registry).
    enabled = yaml.safe_load((ROOT / "roles" / "services" / "defaults" / "main.yml").read_text(encoding="utf-8"))["services_enabled"]
    images = subprocess.run([sys.executable, "scripts/standin_images.py", "--push", "127.0.0.1:5000", *enabled], cwd=ROOT, text=True,
                            capture_output=True, check=False)
    assert images.returncode == 0, images.stderr[-3000:]
    inventory = subprocess.run(["ansible-inventory", "-i", "inventories/lab/docker.yml", "--list"], cwd=ROOT, env=env(),
                               text=True, capture_output=True, check=True)
    yield {"inventory": "inventories/lab/docker.yml", "inventory_json": inventory.stdout}
    if os.environ.get("MEDIASTACK_KEEP_LAB") != "1":
        down = playbook("playbooks/lab_down.yml")
        assert down.returncode == 0, down.stdout[-3000:]
        assert leftovers() == [], "lab_down left these behind"


@pytest.fixture(scope="session")
def lab_image(lab):
    """The lab base image (python3, curl), pushed to the lab registry; its reference as the nodes pull it."""
    base = subprocess.run(["scripts/lab-image.sh"], cwd=ROOT, text=True, capture_output=True, check=True).stdout.strip()
    local = "127.0.0.1:5000/mediastack/lab-base:%s" % base.split(":")[1]
    subprocess.run(["docker", "tag", base, local], check=True)
    subprocess.run(["docker", "push", local], check=True, capture_output=True)
    return local.replace("127.0.0.1:5000", "172.31.240.5:5000")


@pytest.fixture(scope="session")
def converged(lab):
    """site.yml once on the fresh lab; the result of that first run."""
    return playbook("-i", lab["inventory"], "site.yml")
