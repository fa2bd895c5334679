"""Grafana (validated only: no Grafana here): provisioning files and the four seed dashboards.

Dashboards are checked against the Grafana 5.x dashboard JSON schema from ../shared, and every panel query is
parsed by promtool (as a recording rule), so a typo in PromQL fails here, not in a browser.
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from conftest import GRAFANA_TEST_PASSWORD, RULES_DIR, load_yaml, run_roles

SEED_DASHBOARDS = ["system_overview", "service_health", "media_analytics", "performance_metrics"]
METRIC = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{|\[|\)|$|\s)")
PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "by", "on", "and", "or", "unless", "rate", "increase", "vector",
    "histogram_quantile", "group_left", "without", "ignoring", "bool", "time", "le", "offset",
}


def dashboards(rendered: Path) -> dict[str, dict]:
    return {name: json.loads((rendered / f"grafana/dashboards/{name}.json").read_text()) for name in SEED_DASHBOARDS}


def exprs(dashboard: dict) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_every_seed_dashboard_is_valid_against_the_grafana_schema(rendered: Path, shared_dir: Path) -> None:
    schema = json.loads((shared_dir / "fixtures/schemas/grafana-dashboard-5.x.json").read_text())
    validator = jsonschema.Draft4Validator(schema)
    for name, dashboard in dashboards(rendered).items():
        errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors({"dashboard": dashboard})]
        assert errors == [], name
        # The schema marks nothing required; a dashboard Grafana can provision needs these.
        assert 8 <= len(dashboard["uid"]) <= 40
        assert dashboard["title"] and dashboard["panels"]


def test_panels_are_laid_out_and_query_the_provisioned_prometheus(rendered: Path) -> None:
    sources = load_yaml(rendered / "grafana/provisioning/datasources/mediastack.yml")["datasources"]
    prometheus_uid = next(s["uid"] for s in sources if s["type"] == "prometheus")
    for name, dashboard in dashboards(rendered).items():
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), name
        for panel in dashboard["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, (name, panel["title"])
            assert panel["datasource"] == {"type": "prometheus", "uid": prometheus_uid}, (name, panel["title"])
            assert panel["targets"], (name, panel["title"])
            refs = [t["refId"] for t in panel["targets"]]
            assert len(refs) == len(set(refs)), (name, panel["title"])


def test_promtool_parses_every_panel_query(rendered: Path, promtool: str, tmp_path: Path) -> None:
    records = [
        {"record": f"mediastack:panel_{name}:{index}", "expr": expr}
        for name, dashboard in dashboards(rendered).items()
        for index, expr in enumerate(exprs(dashboard))
    ]
    assert len(records) >= 30
    rule_file = tmp_path / "panels.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": records}]}))
    result = subprocess.run([promtool, "check", "rules", str(rule_file)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(records)} rules found" in result.stdout


def test_the_dashboards_chart_the_metrics_the_alerts_watch(rendered: Path) -> None:
    charted = " ".join(expr for dashboard in dashboards(rendered).values() for expr in exprs(dashboard))
    for path in RULES_DIR.glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                metrics = {m for m in METRIC.findall(rule["expr"]) if m not in PROMQL_WORDS and not m.isupper()}
                metrics -= {"node", "job", "instance", "datname", "__name__", "mode", "success", "code", "fstype", "mountpoint"}
                missing = {m for m in metrics if m not in charted}
                assert not missing, f"{rule['alert']}: {sorted(missing)} on no dashboard"


def test_admin_password_comes_from_the_docker_secret(rendered: Path) -> None:
    ini = (rendered / "grafana/grafana.ini").read_text()
    assert "admin_password = $__file{/run/secrets/grafana_admin_password}" in ini
    assert GRAFANA_TEST_PASSWORD not in ini
    # The plan reads it as a Docker secret (written here only because it is in the plan's secrets), from
    # services_secrets like every other service secret, and no Docker config holds it.
    secret = rendered / "grafana/secrets/grafana_admin_password"
    assert secret.read_text() == GRAFANA_TEST_PASSWORD
    assert not [p for p in rendered.glob("grafana/**/*") if p.is_file() and p != secret and GRAFANA_TEST_PASSWORD in p.read_text()]
    assert ini.startswith(";")  # ansible_managed as an ini comment


def test_dashboard_provider_points_at_the_mounted_dashboards(rendered: Path) -> None:
    provider = load_yaml(rendered / "grafana/provisioning/dashboards/mediastack.yml")["providers"][0]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    assert provider["allowUiUpdates"] is False


@pytest.mark.parametrize("password", ["", "admin", "short"], ids=["empty", "admin", "short"])
def test_a_weak_admin_password_fails_without_logging_it(tmp_path: Path, password: str) -> None:
    run = run_roles(tmp_path, {"grafana": {"services_secrets": {"grafana_admin_password": password}}})
    assert run.rc != 0
    assert "censored" in run.output or "Set services_secrets.grafana_admin_password" in run.output
    assert not (run.out / "grafana/grafana.ini").exists()
