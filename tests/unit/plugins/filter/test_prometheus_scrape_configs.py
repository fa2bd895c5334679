"""Unit tests of the prometheus_scrape_configs filter."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.filter.prometheus_scrape_configs import (
    FilterModule,
    prometheus_scrape_configs,
)

HOSTVARS = {
    "mgr1": {"ansible_host": "10.0.0.11", "swarm_node_labels": {"type": "data"}},
    "gpu1": {"ansible_host": "10.0.0.21", "swarm_node_labels": {"type": "media", "gpu": True}},
    "gpu2": {"swarm_node_labels": {"gpu": "True"}},  # no ansible_host: scraped by inventory name
    "worker1": {"ansible_host": "10.0.0.31", "swarm_node_labels": {"gpu": "false"}},
}
GROUPS = {
    "all": ["mgr1", "gpu1", "gpu2", "worker1"],
    "managers": ["mgr1"],
    "docker": ["mgr1", "gpu1"],
    "empty": [],
}


def build(jobs, **kwargs):
    return prometheus_scrape_configs(jobs, HOSTVARS, GROUPS, **kwargs)


def static(config: dict) -> list[tuple[str, dict]]:
    return [(t, sc.get("labels", {})) for sc in config["static_configs"] for t in sc["targets"]]


def test_group_job_scrapes_every_member_with_its_node_label() -> None:
    [config] = build([{"name": "node", "group": "all", "port": 9100}])
    assert config["job_name"] == "node"
    assert config["metrics_path"] == "/metrics"
    assert config["scheme"] == "http"
    assert static(config) == [
        ("10.0.0.11:9100", {"node": "mgr1"}),
        ("10.0.0.21:9100", {"node": "gpu1"}),
        ("gpu2:9100", {"node": "gpu2"}),
        ("10.0.0.31:9100", {"node": "worker1"}),
    ]


def test_node_labels_select_gpu_hosts_whatever_the_boolean_spelling() -> None:
    [config] = build([{"name": "nvidia_gpu", "group": "all", "port": 9835, "node_labels": {"gpu": "true"}}])
    assert [t for t, _unused1 in static(config)] == ["10.0.0.21:9835", "gpu2:9835"]


def test_labels_var_and_address_var_are_configurable() -> None:
    hostvars = {"a": {"ip": "192.0.2.1", "labels": {"gpu": "true"}}, "b": {"ip": "192.0.2.2"}}
    [config] = prometheus_scrape_configs(
        [{"name": "gpu", "group": "all", "port": 9835, "node_labels": {"gpu": "true"}}],
        hostvars, {"all": ["a", "b"]}, address_var="ip", labels_var="labels",
    )
    assert static(config) == [("192.0.2.1:9835", {"node": "a"})]


def test_hosts_mix_groups_inventory_hosts_and_literal_addresses_without_duplicates() -> None:
    [config] = build([{"name": "mixed", "hosts": ["managers", "mgr1", "gpu1", "tasks.jellyfin"], "port": 8096,
                       "path": "/jellyfin/metrics", "scheme": "https", "labels": {"tier": "media"}}])
    assert config["metrics_path"] == "/jellyfin/metrics"
    assert config["scheme"] == "https"
    assert static(config) == [
        ("10.0.0.11:8096", {"tier": "media", "node": "mgr1"}),
        ("10.0.0.21:8096", {"tier": "media", "node": "gpu1"}),
        ("tasks.jellyfin:8096", {"tier": "media"}),
    ]


def test_service_targets_carry_a_service_label_and_follow_the_jobs() -> None:
    configs = build(
        [{"name": "node", "group": "all", "port": 9100}],
        service_targets=[{"name": "jellyfin", "hosts": ["tasks.jellyfin"], "port": 8096, "scrape_interval": "30s"}],
    )
    assert [c["job_name"] for c in configs] == ["node", "jellyfin"]
    assert static(configs[1]) == [("tasks.jellyfin:8096", {"service": "jellyfin"})]
    assert configs[1]["scrape_interval"] == "30s"


def test_an_optional_job_that_resolves_to_nothing_is_left_out() -> None:
    configs = build([
        {"name": "node", "group": "all", "port": 9100},
        {"name": "traefik", "group": "traefik", "port": 8082, "optional": True},
        {"name": "gpu", "group": "managers", "port": 9835, "node_labels": {"gpu": "true"}, "optional": True},
    ])
    assert [c["job_name"] for c in configs] == ["node"]


@pytest.mark.parametrize(
    ("job", "message"),
    [
        ({"name": "cadvisor", "group": "dockers", "port": 8080}, "job cadvisor: group 'dockers' resolves to no target"),
        ({"name": "cadvisor", "group": "empty", "port": 8080}, "group 'empty' resolves to no target"),
        ({"name": "gpu", "group": "managers", "port": 9835, "node_labels": {"gpu": "true"}},
         "with node labels {'gpu': 'true'} (read from host var swarm_node_labels) resolves to no target"),
    ],
)
def test_a_required_job_that_resolves_to_nothing_is_an_error(job: dict, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match="resolves to no target") as error:
        build([job])
    assert message in str(error.value)
    assert "optional: true" in str(error.value)


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        ("node", "jobs must be a list"),
        ([["node"]], r"jobs\[0\] must be a mapping"),
        ([{"name": "node-exporter", "group": "all", "port": 9100}], "name 'node-exporter' must match"),
        ([{"name": "node", "port": 9100}], "set `group`"),
        ([{"name": "node", "group": "all", "port": "9100"}], "port '9100' must be an integer"),
        ([{"name": "node", "group": "all", "port": 0}], "port 0 must be an integer"),
        ([{"name": "node", "group": "all", "port": True}], "port True"),
        ([{"name": "node", "group": "all", "port": 9100, "path": "metrics"}], "must start with '/'"),
        ([{"name": "node", "group": "all", "port": 9100, "scheme": "ftp"}], "scheme 'ftp'"),
        ([{"name": "node", "group": "all", "port": 9100, "lables": {}}], r"unknown keys \['lables'\]"),
        ([{"name": "node", "group": "all", "port": 9100, "labels": {"bad-name": "x"}}], "label names"),
        ([{"name": "node", "group": "all", "port": 9100}, {"name": "node", "group": "docker", "port": 9100}],
         "used twice"),
    ],
)
def test_bad_jobs_are_refused_with_a_message(jobs, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        build(jobs)


def test_node_labels_must_be_a_mapping_on_the_host() -> None:
    with pytest.raises(AnsibleFilterError, match="swarm_node_labels must be a mapping"):
        prometheus_scrape_configs([{"name": "gpu", "group": "all", "port": 9835, "node_labels": {"gpu": "true"}}],
                                  {"a": {"swarm_node_labels": "gpu=true"}}, {"all": ["a"]})


def test_probe_targets_become_a_blackbox_job() -> None:
    configs = build([], probe_targets=["https://jellyfin.example.org/health"], blackbox_exporter="10.0.0.11:9115")
    [probe] = configs
    assert probe["job_name"] == "blackbox_http"
    assert probe["metrics_path"] == "/probe"
    assert probe["params"] == {"module": ["http_2xx"]}
    assert probe["static_configs"] == [{"targets": ["https://jellyfin.example.org/health"]}]
    assert {"target_label": "__address__", "replacement": "10.0.0.11:9115"} in probe["relabel_configs"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"probe_targets": ["jellyfin.example.org"], "blackbox_exporter": "x:9115"}, "must be an http"),
        ({"probe_targets": ["https://a.example.org"], "blackbox_exporter": ""}, "blackbox_exporter"),
    ],
)
def test_bad_probe_settings_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        build([], **kwargs)


def test_the_filter_is_registered() -> None:
    assert FilterModule().filters()["prometheus_scrape_configs"] is prometheus_scrape_configs
