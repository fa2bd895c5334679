"""Cross-role checks: argument specs and defaults agree; bad Prometheus input fails before any change;
the drill playbook parses."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import ALL_ROLES, PLAYBOOK_BIN, ROOT, run_roles


@pytest.mark.parametrize("role", ALL_ROLES)
def test_argument_specs_and_defaults_name_the_same_variables(role: str) -> None:
    defaults = yaml.safe_load((ROOT / f"roles/{role}/defaults/main.yml").read_text())
    specs = yaml.safe_load((ROOT / f"roles/{role}/meta/argument_specs.yml").read_text())["argument_specs"]["main"]
    assert set(specs["options"]) == set(defaults)
    for name, spec in specs["options"].items():
        assert name.startswith(f"{role}_"), name
        assert spec.get("type") and spec.get("description"), name
        if "default" in spec:
            assert spec["default"] == defaults[name], name


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"prometheus_retention_time": "90 days"}, "prometheus_retention_time '90 days' is not a Prometheus duration"),
        ({"prometheus_retention_time": "0d"}, "is zero"),
        ({"prometheus_scrape_interval": 15}, "prometheus_scrape_interval"),
        ({"prometheus_scrape_jobs": [{"name": "node", "group": "nodes", "port": 9100}]},
         "job node: group 'nodes' resolves to no target"),
        ({"prometheus_scrape_jobs": [{"name": "gpu", "group": "all", "port": 9835, "node_labels": {"gpu": "yes"}}]},
         "with node labels {'gpu': 'yes'}"),
        ({"prometheus_service_targets": [{"name": "jellyfin", "hosts": [], "port": 8096}]},
         "set `group` (an inventory group) or `hosts`"),
        ({"prometheus_scrape_jobs": [{"name": "node", "group": "all", "port": 99999}]}, "port 99999"),
    ],
    ids=["retention-not-a-duration", "retention-zero", "interval-without-unit", "group-resolves-to-nothing",
         "labels-select-nothing", "service-without-hosts", "bad-port"],
)
def test_bad_prometheus_input_fails_before_any_change(tmp_path: Path, overrides: dict, message: str) -> None:
    run = run_roles(tmp_path, {"prometheus": overrides})
    assert run.rc != 0
    assert message in run.output.replace("\n", " ").replace("  ", " "), run.output
    assert not (run.out / "etc/prometheus").exists()
    assert not (run.out / "etc/default/prometheus").exists()


def test_the_observability_playbook_parses() -> None:
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    result = subprocess.run([str(PLAYBOOK_BIN), "-i", "localhost,", "--syntax-check", "playbooks/observability.yml"],
                            cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    plays = yaml.safe_load((ROOT / "playbooks/observability.yml").read_text())
    assert [play["hosts"] for play in plays] == ["swarm", "swarm_managers[0]"]
    assert [r["role"] for r in plays[0]["roles"]] == ["mediastack.core.node_exporter"]
    assert [r["role"] for r in plays[1]["roles"]] == ["mediastack.core.alertmanager", "mediastack.core.prometheus"]


def test_a_second_run_changes_nothing(tmp_path: Path) -> None:
    roles = {name: {} for name in ALL_ROLES}
    first = run_roles(tmp_path, roles)
    assert first.rc == 0, first.output
    second = run_roles(tmp_path, roles)
    assert second.rc == 0, second.output
    recap = [line for line in second.output.splitlines() if line.startswith("mgr1")]
    assert recap and "changed=0" in recap[-1], second.output
