"""`promtool test rules`: one test file per alert, proving it fires when it should and stays silent otherwise."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import RULES_DIR, RULES_TESTS_DIR

SEED_ALERTS = {
    # name: severity
    "ServiceDown": "critical",
    "DiskUsage": "critical",
    "MemoryUsage": "critical",
    "GPUFailure": "critical",
    "MediaShareUnmounted": "critical",
    "CPUUsage": "warning",
    "SlowQueries": "warning",
    "FailedAuth": "warning",
    "TranscodeFellBackToCPU": "warning",
}
TEST_FILES = sorted(RULES_TESTS_DIR.glob("*.yml"))


def rules() -> dict[str, dict]:
    found = {}
    for path in sorted(RULES_DIR.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                found[rule["alert"]] = rule | {"file": path.name}
    return found


def alerts_tested_in(path: Path) -> set[str]:
    doc = yaml.safe_load(path.read_text())
    return {check["alertname"] for test in doc["tests"] for check in test["alert_rule_test"]}


def test_the_rule_files_hold_exactly_the_seed_alerts() -> None:
    assert {name: rule["labels"]["severity"] for name, rule in rules().items()} == SEED_ALERTS


@pytest.mark.parametrize("alert", sorted(SEED_ALERTS))
def test_every_alert_has_a_test_that_fires_and_one_that_stays_silent(alert: str) -> None:
    checks = [
        check
        for path in TEST_FILES
        for test in yaml.safe_load(path.read_text())["tests"]
        for check in test["alert_rule_test"]
        if check["alertname"] == alert
    ]
    assert any(check["exp_alerts"] for check in checks), f"no test expects {alert} to fire"
    assert any(not check["exp_alerts"] for check in checks), f"no test expects {alert} to stay silent"


@pytest.mark.parametrize("path", TEST_FILES, ids=[p.stem for p in TEST_FILES])
def test_promtool_test_rules(path: Path, promtool: str) -> None:
    result = subprocess.run([promtool, "test", "rules", path.name], cwd=path.parent, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("path", TEST_FILES, ids=[p.stem for p in TEST_FILES])
@pytest.mark.parametrize("mutant", ["vector(0) == 1", "vector(1)"], ids=["never-fires", "always-fires"])
def test_the_rule_tests_catch_a_broken_rule(path: Path, mutant: str, promtool: str, tmp_path: Path) -> None:
    """Replacing a tested alert's expression by one that never (or always) fires must fail its test file."""
    layout = tmp_path / "tests/unit/observability/rules_tests"
    layout.mkdir(parents=True)
    shutil.copy(path, layout / path.name)
    rules_copy = tmp_path / "roles/prometheus/files/rules"
    shutil.copytree(RULES_DIR, rules_copy)
    for rule_file in rules_copy.glob("*.yml"):
        doc = yaml.safe_load(rule_file.read_text())
        for group in doc["groups"]:
            for rule in group["rules"]:
                if rule["alert"] in alerts_tested_in(path):
                    rule["expr"] = mutant
        rule_file.write_text(yaml.safe_dump(doc))
    result = subprocess.run([promtool, "test", "rules", path.name], cwd=layout, capture_output=True, text=True, check=False)
    assert result.returncode != 0, f"{path.name} still passes with expr {mutant!r}:\n{result.stdout}"
