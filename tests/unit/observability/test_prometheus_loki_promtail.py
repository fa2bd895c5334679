"""Loki and Promtail configuration (validated only: neither runs here)."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from conftest import load_yaml, run_roles


def strict(schema: dict) -> dict:
    """The schema with additionalProperties: false on every object that lists its properties, to catch typos."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                node.setdefault("additionalProperties", False)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


@pytest.fixture(scope="module")
def loki_schema(shared_dir: Path) -> dict:
    return json.loads((shared_dir / "fixtures/schemas/loki.json").read_text())


def test_loki_config_is_valid_against_the_loki_schema(rendered: Path, loki_schema: dict) -> None:
    config = load_yaml(rendered / "loki/loki.yaml")
    jsonschema.Draft7Validator(loki_schema).validate(config)
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in jsonschema.Draft7Validator(strict(loki_schema)).iter_errors(config)]
    assert errors == []


def test_a_misspelt_loki_key_is_caught_by_the_strict_schema(rendered: Path, loki_schema: dict) -> None:
    config = load_yaml(rendered / "loki/loki.yaml")
    config["compactor"]["retention_enable"] = True
    assert list(jsonschema.Draft7Validator(strict(loki_schema)).iter_errors(config))


def test_loki_keeps_30_days_with_snappy_chunks(rendered: Path) -> None:
    config = load_yaml(rendered / "loki/loki.yaml")
    assert config["limits_config"]["retention_period"] == "720h"
    assert config["ingester"]["chunk_encoding"] == "snappy"
    assert config["compactor"]["retention_enabled"] is True
    assert config["compactor"]["delete_request_store"] == "filesystem"
    assert config["schema_config"]["configs"][0]["index"]["period"] == "24h"


@pytest.mark.parametrize("retention", ["30 days", "30d12x", "36h"], ids=["words", "garbage", "not-whole-days"])
def test_a_bad_loki_retention_fails_before_any_change(tmp_path: Path, retention: str) -> None:
    run = run_roles(tmp_path, {"loki": {"loki_retention_period": retention}})
    assert run.rc != 0
    assert "loki_retention_period" in run.output
    assert not (run.out / "loki/loki.yaml").exists()


def test_promtail_reads_container_logs_with_json_timestamp_labels_stages(rendered: Path) -> None:
    config = load_yaml(rendered / "promtail/promtail.yaml")
    [job] = config["scrape_configs"]
    assert job["docker_sd_configs"][0]["host"] == "unix:///var/run/docker.sock"
    stages = job["pipeline_stages"]
    assert [next(iter(stage)) for stage in stages] == ["json", "timestamp", "labels"]
    extracted = stages[0]["json"]["expressions"]
    assert stages[1]["timestamp"]["source"] in extracted
    assert stages[1]["timestamp"]["format"] == "RFC3339Nano"
    assert set(stages[2]["labels"]) <= set(extracted)
    targets = {r.get("target_label") for r in job["relabel_configs"]}
    assert {"container", "service", "stack", "node"} <= targets
    assert config["clients"] == [{"url": "http://loki:3100/loki/api/v1/push"}]


def test_a_promtail_label_that_is_never_extracted_fails(tmp_path: Path) -> None:
    run = run_roles(tmp_path, {"promtail": {"promtail_labels": ["level", "user_id"]}})
    assert run.rc != 0
    assert "must be a key of" in run.output
    assert not (run.out / "promtail/promtail.yaml").exists()
