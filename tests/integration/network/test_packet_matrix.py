"""Zero-trust policy verified by packets: namespaces per segment, a router running the generated ruleset.

Needs root, iproute2 and nftables. Run with ``-s`` or without: the matrix is written to the terminal.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ansible_collections.mediastack.core.tests.integration.network import matrix

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces and nft"),
    pytest.mark.skipif(shutil.which("ip") is None or shutil.which("nft") is None, reason="needs iproute2 and nftables"),
]
SEED = yaml.safe_load((Path(__file__).resolve().parent / "seed_plan.yml").read_text())


def namespaces() -> set:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


class Terminal:
    """Write through pytest's capture so the matrix shows with and without -s."""

    def __init__(self, capsys: pytest.CaptureFixture) -> None:
        self.capsys = capsys

    def write(self, text: str) -> None:
        with self.capsys.disabled():
            print(text, end="")

    def flush(self) -> None:
        pass


@pytest.mark.parametrize("chain_policy", ["accept", "drop"])
def test_every_policy_flow_connects_and_everything_else_is_dropped(chain_policy: str, capsys: pytest.CaptureFixture) -> None:
    before = namespaces()
    facts, control, results, mismatches = matrix.run_matrix(SEED["segments"], SEED["policy"], chain_policy, out=Terminal(capsys))
    # The lab works: without the ruleset every probe connects, so a drop below is the firewall's doing.
    assert set(control.values()) == {"connected"}
    segments = [s["name"] for s in SEED["segments"]]
    assert len(results) == len(segments) * (len(segments) - 1) * len(facts["ports"])
    assert facts["ports"] == [22, 80, 443, 5432, 6379, 9090, 9100]
    assert mismatches == []
    # The named flows, observed on the wire.
    assert results[("dmz", "media", 443)] == results[("dmz", "media", 80)] == "connected"
    assert results[("dmz", "media", 22)] == "timeout"          # dropped, not refused
    assert results[("dmz", "data", 5432)] == "timeout"
    assert results[("media", "data", 5432)] == results[("media", "data", 6379)] == "connected"
    assert results[("data", "media", 5432)] == "timeout"
    assert all(results[("admin", dst, port)] == "connected" for dst in ("media", "data", "dmz") for port in (22, 9090, 9100))
    assert all(results[(src, "admin", port)] == "timeout" for src in ("media", "data", "dmz") for port in facts["ports"])
    assert sum(1 for v in results.values() if v == "connected") == 13
    # Nothing is left behind.
    assert not set(facts["namespaces"]) & namespaces()
    assert namespaces() == before


def test_namespaces_are_removed_when_the_lab_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    before = namespaces()
    netplan = matrix._import_netplan()
    rules = netplan.expand_policy(SEED["policy"], SEED["segments"])
    lab = matrix.Lab(SEED["segments"], rules, "this is not nftables\n", netplan)
    with pytest.raises(RuntimeError, match="nft -f"):
        with lab:
            lab.load_ruleset()
    assert namespaces() == before
    assert lab.listeners == []
