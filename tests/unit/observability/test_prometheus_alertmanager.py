"""alertmanager.yml rendered through the role and checked with amtool; bad input fails before any change."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import load_yaml, run_roles

SMTP = {
    "alertmanager_smtp_smarthost": "smtp.example.org:587",
    "alertmanager_smtp_from": "alerts@example.org",
    "alertmanager_smtp_auth_username": "alerts",
    "alertmanager_smtp_auth_password": "vaulted-secret-value",
}
RECEIVERS = [
    {"name": "default", "type": "discard"},
    {"name": "ops-mail", "type": "email", "to": "ops@example.org"},
    {"name": "ops-hook", "type": "webhook", "url": "http://10.0.0.5:5001/alerts", "send_resolved": False},
]
ROUTE = {
    "receiver": "default",
    "group_by": ["alertname", "node"],
    "routes": [
        {"receiver": "ops-mail", "matchers": ['severity="critical"']},
        {"receiver": "ops-hook", "matchers": ['severity="warning"']},
    ],
}


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory, amtool: str):
    run = run_roles(
        tmp_path_factory.mktemp("alertmanager"),
        {"alertmanager": SMTP | {"alertmanager_receivers": RECEIVERS, "alertmanager_route": ROUTE}},
    )
    assert run.rc == 0, run.output
    return run


def test_amtool_accepts_the_default_config(rendered: Path, amtool: str) -> None:
    result = subprocess.run([amtool, "check-config", str(rendered / "etc/prometheus/alertmanager.yml")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 inhibit rules" in result.stdout


def test_amtool_accepts_email_and_webhook_receivers(configured, amtool: str) -> None:
    path = configured.out / "etc/prometheus/alertmanager.yml"
    result = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 receivers" in result.stdout
    config = load_yaml(path)
    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers["ops-mail"]["email_configs"] == [{"to": "ops@example.org", "send_resolved": True}]
    assert receivers["ops-hook"]["webhook_configs"][0]["url"] == "http://10.0.0.5:5001/alerts"
    assert receivers["ops-hook"]["webhook_configs"][0]["send_resolved"] is False
    assert set(receivers["default"]) == {"name"}
    assert config["global"]["smtp_smarthost"] == "smtp.example.org:587"
    assert path.stat().st_mode & 0o777 == 0o640


def test_the_smtp_password_never_reaches_the_log(configured) -> None:
    assert "vaulted-secret-value" not in configured.output


def test_amtool_routes_alerts_to_the_configured_receivers(configured, amtool: str) -> None:
    path = str(configured.out / "etc/prometheus/alertmanager.yml")

    def route(*labels: str) -> str:
        result = subprocess.run([amtool, "config", "routes", "test", f"--config.file={path}", *labels],
                                capture_output=True, text=True, check=False)
        return result.stdout.strip()

    assert route("alertname=DiskUsage", "severity=critical") == "ops-mail"
    assert route("alertname=CPUUsage", "severity=warning") == "ops-hook"
    assert route("alertname=Other", "severity=info") == "default"


def test_criticals_inhibit_warnings_of_the_same_alertname_and_instance(rendered: Path) -> None:
    config = load_yaml(rendered / "etc/prometheus/alertmanager.yml")
    assert config["inhibit_rules"] == [{
        "source_matchers": ['severity="critical"'],
        "target_matchers": ['severity="warning"'],
        "equal": ["alertname", "instance"],
    }]


@pytest.mark.parametrize(
    ("receivers", "extra", "message"),
    [
        ([{"name": "default", "type": "slack"}], {}, 'Receiver default has type "slack"'),
        ([{"name": "default"}], {}, "type from email, webhook, discard"),
        ([{"name": "default", "type": "email", "to": "ops@example.org"}], {}, "alertmanager_smtp_smarthost"),
        ([{"name": "default", "type": "webhook", "url": "10.0.0.5:5001"}], {}, "a webhook receiver needs `url`"),
        ([{"name": "other", "type": "discard"}], {}, "unknown: default"),
    ],
    ids=["unknown-type", "missing-type", "email-without-smtp", "webhook-without-url", "route-to-unknown-receiver"],
)
def test_bad_receivers_fail_the_preflight_before_any_change(tmp_path: Path, receivers, extra, message) -> None:
    run = run_roles(tmp_path, {"alertmanager": {"alertmanager_receivers": receivers} | extra})
    assert run.rc != 0
    assert message in run.output, run.output
    assert not (run.out / "etc/prometheus/alertmanager.yml").exists()
