"""prometheus.yml and the rule files, rendered through the role and checked with the real promtool."""
from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import load_yaml


def targets(config: dict, job: str) -> dict[str, dict]:
    [scrape] = [s for s in config["scrape_configs"] if s["job_name"] == job]
    return {t: sc.get("labels", {}) for sc in scrape["static_configs"] for t in sc["targets"]}


def test_promtool_accepts_the_rendered_config_and_its_rules(rendered: Path, promtool: str) -> None:
    result = subprocess.run([promtool, "check", "config", str(rendered / "etc/prometheus/prometheus.yml")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    # check config also loads the deployed rule files it references: 9 alerts in 3 files.
    assert "SUCCESS: 3 rule files found" in result.stdout, result.stdout
    found = [int(line.split()[1]) for line in result.stdout.splitlines() if line.strip().endswith("rules found")]
    assert sum(found) == 9, result.stdout


def test_promtool_accepts_each_deployed_rule_file(rendered: Path, promtool: str) -> None:
    files = sorted((rendered / "etc/prometheus/rules").glob("*.yml"))
    assert [f.name for f in files] == ["critical.yml", "media.yml", "warning.yml"]
    result = subprocess.run([promtool, "check", "rules", *map(str, files)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_seed_intervals_and_retention(rendered: Path) -> None:
    config = load_yaml(rendered / "etc/prometheus/prometheus.yml")
    assert config["global"]["scrape_interval"] == "15s"
    assert config["global"]["evaluation_interval"] == "15s"
    assert config["rule_files"] == [str(rendered / "etc/prometheus/rules/*.yml")]
    args = (rendered / "etc/default/prometheus").read_text()
    assert "--storage.tsdb.retention.time=90d" in args
    assert f"--config.file={rendered / 'etc/prometheus/prometheus.yml'}" in args


def test_targets_follow_the_inventory_and_node_labels(rendered: Path) -> None:
    config = load_yaml(rendered / "etc/prometheus/prometheus.yml")
    assert targets(config, "node") == {
        "10.0.0.11:9100": {"node": "mgr1"},
        "10.0.0.21:9100": {"node": "gpu1"},
        "10.0.0.31:9100": {"node": "worker1"},
    }
    assert set(targets(config, "cadvisor")) == {"10.0.0.11:8080", "10.0.0.21:8080", "10.0.0.31:8080"}
    assert set(targets(config, "docker_engine")) == {"10.0.0.11:9323", "10.0.0.21:9323", "10.0.0.31:9323"}
    # only the host labelled gpu=true gets the GPU exporter job.
    assert targets(config, "nvidia_gpu") == {"10.0.0.21:9835": {"node": "gpu1"}}
    assert set(targets(config, "traefik")) == {"10.0.0.11:8082"}
    assert targets(config, "prometheus") == {"10.0.0.11:9090": {"node": "mgr1"}}
    # catalog services: through Traefik's metrics entrypoint on the first manager, one path each
    assert targets(config, "jellyfin") == {"10.0.0.11:8082": {"service": "jellyfin", "node": "mgr1"}}
    assert [s["metrics_path"] for s in config["scrape_configs"] if s["job_name"] == "jellyfin"] == ["/metrics/jellyfin"]
    assert targets(config, "postgres") == {"10.0.0.11:9187": {"service": "postgres", "node": "mgr1"}}
    [probe] = [s for s in config["scrape_configs"] if s["job_name"] == "blackbox_http"]
    assert probe["static_configs"] == [{"targets": ["https://jellyfin.example.org/health"]}]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9093"]


def test_header_marks_the_file_as_managed(rendered: Path) -> None:
    first = (rendered / "etc/prometheus/prometheus.yml").read_text().splitlines()[:3]
    assert all(line.startswith("#") for line in first)
