"""Render the observability roles through ansible-playbook and find the real checkers (promtool, amtool)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
RULES_DIR = ROOT / "roles" / "prometheus" / "files" / "rules"
RULES_TESTS_DIR = Path(__file__).resolve().parent / "rules_tests"
DASHBOARDS_DIR = ROOT / "roles" / "grafana" / "files" / "dashboards"
PLAYBOOK_BIN = Path(sys.executable).parent / "ansible-playbook"
GRAFANA_TEST_PASSWORD = "correct-horse-battery-staple"

INVENTORY = {
    "all": {
        "hosts": {
            "mgr1": {"ansible_host": "10.0.0.11", "swarm_node_labels": {"type": "data"}},
            "gpu1": {"ansible_host": "10.0.0.21", "swarm_node_labels": {"type": "media", "gpu": "true"}},
            "worker1": {"ansible_host": "10.0.0.31", "swarm_node_labels": {"type": "media", "gpu": False}},
        },
        "children": {
            "swarm_managers": {"hosts": {"mgr1": {}}},
            "swarm": {"hosts": {"mgr1": {}, "gpu1": {}, "worker1": {}}},
            "backup": {"hosts": {"nas1": {}}},
            "traefik": {"hosts": {"mgr1": {}}},
        },
    }
}


def tool(name: str) -> str:
    """Path of a real checker; skip with the package to install, or fail in CI where it must exist."""
    path = shutil.which(name)
    if path is None:
        package = {"promtool": "prometheus", "amtool": "prometheus-alertmanager"}[name]
        message = f"{name} is not installed (apt-get install {package})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    return tool("promtool")


@pytest.fixture(scope="session")
def amtool() -> str:
    return tool("amtool")


def role_vars(out: Path) -> dict[str, dict]:
    """Variables that point every role at `out` and leave packages and services alone."""
    return {
        "node_exporter": {
            "node_exporter_manage_package": False,
            "node_exporter_manage_service": False,
            "node_exporter_environment_file": str(out / "etc/default/prometheus-node-exporter"),
            "node_exporter_textfile_dir": str(out / "var/lib/prometheus/node-exporter"),
            "node_exporter_textfile_metrics_script": str(out / "usr/local/sbin/mediastack-textfile-metrics"),
            "node_exporter_systemd_dir": str(out / "etc/systemd/system"),
        },
        "alertmanager": {
            "alertmanager_manage_package": False,
            "alertmanager_manage_service": False,
            "alertmanager_config_file": str(out / "etc/prometheus/alertmanager.yml"),
            "alertmanager_environment_file": str(out / "etc/default/prometheus-alertmanager"),
        },
        "prometheus": {
            "prometheus_manage_package": False,
            "prometheus_manage_service": False,
            "prometheus_config_dir": str(out / "etc/prometheus"),
            "prometheus_environment_file": str(out / "etc/default/prometheus"),
        },
        "grafana": {"services_secrets": {"grafana_admin_password": GRAFANA_TEST_PASSWORD}},
        "loki": {},
        "promtail": {},
    }


# Grafana, Loki and Promtail are catalog services: their settings render Docker configs in the services plan (the
# one deploy path). The tests read each config from the file named here.
SERVICE_ROLES = ["grafana", "loki", "promtail"]
CONFIG_FILES = {
    "grafana_ini": "grafana/grafana.ini",
    "grafana_datasources": "grafana/provisioning/datasources/mediastack.yml",
    "grafana_dashboard_provider": "grafana/provisioning/dashboards/mediastack.yml",
    "grafana_dashboard_system_overview": "grafana/dashboards/system_overview.json",
    "grafana_dashboard_service_health": "grafana/dashboards/service_health.json",
    "grafana_dashboard_media_analytics": "grafana/dashboards/media_analytics.json",
    "grafana_dashboard_performance_metrics": "grafana/dashboards/performance_metrics.json",
    "loki_config": "loki/loki.yaml",
    "promtail_config": "promtail/promtail.yaml",
}
SECRET_FILES = {"grafana_admin_password": "grafana/secrets/grafana_admin_password"}


def service_tasks(out: Path, services: list[str]) -> list[dict]:
    """Plan `services` from the catalog (their settings' preflight, their configs) and write what the plan renders."""
    return [
        {
            "name": "Plan the observability services from the catalog",
            "ansible.builtin.include_role": {"name": "mediastack.core.services", "tasks_from": "plan", "public": True},
            "vars": {"services_enabled": SERVICE_ROLES, "services_only": services, "services_domain": "example.org"},
        },
        {
            "name": "Write each Docker config the plan rendered",
            "ansible.builtin.copy": {"content": "{{ __services_config_data[item.key] }}", "dest": f"{out}/{{{{ item.value }}}}", "mode": "0644"},
            "loop": "{{ __config_files | dict2items | selectattr('key', 'in', __services_plan.configs) }}",
            "vars": {"__config_files": CONFIG_FILES},
        },
        {
            "name": "Write each secret the plan reads (no_log)",
            "ansible.builtin.copy": {"content": "{{ services_secrets[item.key] }}",
                                     "dest": f"{out}/{{{{ item.value }}}}", "mode": "0600"},
            "loop": "{{ __secret_files | dict2items | selectattr('key', 'in', __services_plan.secrets) }}",
            "vars": {"__secret_files": SECRET_FILES},
            "no_log": True,
        },
    ]


@dataclass
class Run:
    rc: int
    output: str
    out: Path


def run_roles(tmp: Path, roles: dict[str, dict], extra_vars: dict | None = None) -> Run:
    """Run the given roles (name -> vars on top of role_vars) on host mgr1 with a local connection; Grafana, Loki and
    Promtail through the services plan, which checks their settings and renders their Docker configs."""
    tmp.mkdir(parents=True, exist_ok=True)
    out = tmp / "out"
    out.mkdir(exist_ok=True)
    for parent in ("etc/default", "etc/systemd/system", "usr/local/sbin", "var/lib/prometheus"):
        (out / parent).mkdir(parents=True, exist_ok=True)  # present on every Debian host
    for relative in [*CONFIG_FILES.values(), *SECRET_FILES.values()]:
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
    base = role_vars(out)
    services = [name for name in roles if name in SERVICE_ROLES]
    # Every observability service is enabled (Promtail needs Loki), so Grafana's secret is always there.
    settings = {**base["grafana"], **{key: value for name in services for key, value in {**base[name], **roles[name]}.items()}}
    inventory = yaml.safe_load(yaml.safe_dump(INVENTORY))
    inventory["all"]["hosts"]["mgr1"].update(
        {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    )
    (tmp / "inventory.yml").write_text(yaml.safe_dump(inventory))
    play = [
        {
            "name": "Render observability roles",
            "hosts": "mgr1",
            "gather_facts": False,
            "vars": settings,
            "roles": [{"role": f"mediastack.core.{name}", "vars": {**base[name], **overrides}}
                      for name, overrides in roles.items() if name not in SERVICE_ROLES],
            "tasks": service_tasks(out, services) if services else [],
        }
    ]
    (tmp / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    command = [str(PLAYBOOK_BIN), "-i", str(tmp / "inventory.yml"), str(tmp / "play.yml")]
    if extra_vars:
        (tmp / "extra.yml").write_text(yaml.safe_dump(extra_vars))
        command += ["-e", f"@{tmp / 'extra.yml'}"]
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"}
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    return Run(proc.returncode, proc.stdout + proc.stderr, out)


ALL_ROLES = ["node_exporter", "alertmanager", "prometheus", "grafana", "loki", "promtail"]


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory, promtool: str, amtool: str) -> Path:
    """Every role rendered once, with their `validate:` checks (promtool, amtool) run by Ansible."""
    # what the filter catalog_scrape_targets derives from the catalog (Traefik's metrics entrypoint on the first manager)
    service_targets = [
        {"name": "traefik", "hosts": ["mgr1"], "port": 8082, "path": "/metrics"},
        {"name": "jellyfin", "hosts": ["mgr1"], "port": 8082, "path": "/metrics/jellyfin"},
        {"name": "postgres", "hosts": ["mgr1"], "port": 9187},
    ]
    run = run_roles(
        tmp_path_factory.mktemp("render"),
        {name: {} for name in ALL_ROLES} | {
            "prometheus": {
                "prometheus_service_targets": service_targets,
                "prometheus_probe_targets": ["https://jellyfin.example.org/health"],
            },
        },
    )
    assert run.rc == 0, run.output
    return run.out


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text())
