"""A plain checkout (what `git archive` or an AWX project sync gives: no `make setup`, no .cache link) resolves its
own roles and plugins: site.yml and validate.yml pass --syntax-check, and validate.yml runs its checks with the
collection's filters, from the checkout's root and from elsewhere."""
from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from .helpers import ROOT


def _unpack(tmp_path: Path) -> Path:
    """The committed tree, with uncommitted changes when there are any (git stash create), unpacked bare."""
    ref = subprocess.run(["git", "stash", "create"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip() or "HEAD"
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True).stdout
    dest = tmp_path / "checkout"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="fully_trusted")  # our own tree; keeps its links
    return dest


def _run(cwd: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}  # no ANSIBLE_CONFIG of the test run
    env.update({"ANSIBLE_NOCOLOR": "1", **extra})
    return subprocess.run(["ansible-playbook", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module", name="checkout")
def plain_checkout(tmp_path_factory) -> Path:
    dest = _unpack(tmp_path_factory.mktemp("plain"))
    assert not (dest / ".cache").exists()
    return dest


@pytest.mark.parametrize("play", ["site.yml", "playbooks/validate.yml", "playbooks/dr.yml"])
def test_a_plain_checkout_passes_the_syntax_check(checkout: Path, play: str):
    proc = _run(checkout, "--syntax-check", "-i", "inventories/example", play)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]


@pytest.mark.parametrize("cwd_is_root", [True, False])
def test_validate_finds_the_collections_filters_in_a_plain_checkout(checkout: Path, tmp_path: Path, cwd_is_root: bool):
    """The example inventory without its vault values stops on a missing secret: proof that the collection's own
    inventory_problems filter ran (without the collection, the play fails on 'No filter named ...')."""
    extra = {} if cwd_is_root else {"ANSIBLE_CONFIG": str(checkout / "ansible.cfg")}
    proc = _run(checkout if cwd_is_root else tmp_path, "-i", str(checkout / "inventories/example"),
                str(checkout / "playbooks/validate.yml"), **extra)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "No filter named" not in out, out[-2000:]
    assert "The inventory cannot be served; nothing was changed" in out and "backup_password" in out, out[-2000:]
