"""The catalog's metrics consumer (Prometheus targets through Traefik's metrics entrypoint) and global services."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.filter.catalog_plan import catalog_scrape_targets
from ansible_collections.mediastack.core.plugins.module_utils.catalog.parse import parse_catalog, platform_settings
from ansible_collections.mediastack.core.plugins.module_utils.catalog.stack import render_stack
from ansible_collections.mediastack.core.plugins.module_utils.catalog.validate import validate_catalog
from ansible_collections.mediastack.core.plugins.module_utils.catalog.plan import capacity_problems, deploy_plan

ROOT = Path(__file__).resolve().parents[4]
SEED = yaml.safe_load((ROOT / "roles" / "services" / "files" / "catalog-seed.yml").read_text(encoding="utf-8"))
SECRETS = ["authelia_jwt_secret", "authelia_session_secret", "authelia_storage_encryption_key", "authelia_db_password",
           "postgres_password", "immich_db_password", "authelia_users", "grafana_admin_password",
           "funkwhale_db_password", "librephotos_db_password", "plex_claim_token"]
PLATFORM = {"domain": "media.example.org", "gpu_nodes": ["w1"], "secrets": SECRETS}
ENABLED = ("traefik", "authelia", "redis", "postgres", "jellyfin", "navidrome", "audiobookshelf", "grafana", "loki", "promtail")


def seed():
    return copy.deepcopy(SEED)


def problems(catalog, enabled=ENABLED):
    return validate_catalog(catalog, PLATFORM, list(enabled))


def labels(name, catalog=None):
    catalog = catalog or seed()
    svc, found = parse_catalog({name: catalog[name]}, platform_settings(PLATFORM))
    assert not found
    return render_stack(svc[name], PLATFORM)["services"][name]["deploy"]["labels"]


class TestScrapeTargets:
    def test_every_enabled_service_with_metrics_is_one_job_through_the_edge(self):
        targets = catalog_scrape_targets(deploy_plan(seed(), PLATFORM, ENABLED), ["m1"])
        assert [t["name"] for t in targets] == ["authelia", "grafana", "jellyfin", "loki", "navidrome", "promtail", "traefik"]
        assert {t["port"] for t in targets} == {8082} and {tuple(t["hosts"]) for t in targets} == {("m1",)}
        paths = {t["name"]: t["path"] for t in targets}
        assert paths["traefik"] == "/metrics" and paths["loki"] == "/metrics/loki" and paths["jellyfin"] == "/metrics/jellyfin"

    def test_only_does_not_shrink_the_targets(self):
        full = catalog_scrape_targets(deploy_plan(seed(), PLATFORM, ENABLED), ["m1"])
        assert catalog_scrape_targets(deploy_plan(seed(), PLATFORM, ENABLED, ["navidrome"]), ["m1"]) == full

    def test_a_disabled_service_is_not_scraped_and_without_the_edge_nothing_is(self):
        names = [t["name"] for t in catalog_scrape_targets(deploy_plan(seed(), PLATFORM, [n for n in ENABLED if n != "jellyfin"]), ["m1"])]
        assert "jellyfin" not in names and "navidrome" in names
        assert catalog_scrape_targets(deploy_plan(seed(), PLATFORM, ["redis", "loki"]), ["m1"]) == []

    def test_an_override_moves_the_metrics_path_the_edge_routes_to(self):
        catalog = seed()
        catalog["navidrome"]["metrics"] = {"port": 4533, "path": "/custom/metrics"}
        assert [t["path"] for t in catalog_scrape_targets(deploy_plan(catalog, PLATFORM, ENABLED), ["m1"]) if t["name"] == "navidrome"] \
            == ["/metrics/navidrome"]
        assert labels("navidrome", catalog)["traefik.http.middlewares.navidrome-metrics.replacepath.path"] == "/custom/metrics"

    @pytest.mark.parametrize("plan, hosts, message", [
        ({"order": []}, ["m1"], "catalog_deploy_plan's result"),
        ({"metrics": {"traefik": {"port": 8082, "path": "/metrics"}}, "edge_service": "traefik"}, "m1", "hosts must be a list"),
        ({"metrics": {"traefik": {"port": 8082, "path": "/metrics"}}, "edge_service": "traefik"}, [], "no host to scrape"),
    ])
    def test_bad_input_is_named(self, plan, hosts, message):
        with pytest.raises(AnsibleFilterError, match=message):
            catalog_scrape_targets(plan, hosts)


class TestMetricsRouting:
    def test_traefik_routes_the_metrics_path_to_the_service_port(self):
        got = labels("jellyfin")
        assert got["traefik.http.routers.jellyfin-metrics.rule"] == "Path(`/metrics/jellyfin`)"
        assert got["traefik.http.routers.jellyfin-metrics.entrypoints"] == "metrics"
        assert got["traefik.http.routers.jellyfin-metrics.middlewares"] == "jellyfin-metrics@swarm"
        assert got["traefik.http.services.jellyfin-metrics.loadbalancer.server.port"] == "8096"
        assert got["traefik.http.middlewares.jellyfin-metrics.replacepath.path"] == "/metrics"
        assert got["traefik.swarm.network"] == "media"  # its route network

    def test_a_service_without_a_route_is_reached_on_its_first_network(self):
        got = labels("loki")
        assert got["traefik.enable"] == "true" and got["traefik.swarm.network"] == "admin"
        assert got["traefik.http.services.loki-metrics.loadbalancer.server.port"] == "3100"

    def test_the_edge_and_services_without_metrics_get_no_metrics_router(self):
        assert not [k for k in labels("traefik") if "-metrics" in k]
        assert not [k for k in labels("redis") if k.startswith("traefik.")]


class TestMetricsChecks:
    def test_the_seed_passes(self):
        assert problems(seed()) == []

    def test_an_edge_metrics_port_that_is_not_published(self):
        catalog = seed()
        catalog["traefik"]["ports"] = [p for p in catalog["traefik"]["ports"] if p["target"] != 8082]
        assert problems(catalog) == [
            "traefik: metrics.port 8082 is not published in ports, so Prometheus on the first manager cannot scrape it; add "
            "{target: 8082, published: 8082} to traefik's ports or set metrics.port to the metrics entrypoint's port"]

    def test_a_service_the_edge_cannot_reach(self):
        catalog = seed()
        catalog["loki"]["networks"] = ["data"]
        found = problems(catalog)
        assert found[0].startswith("loki: networks has data, the databases' segment")  # and the metrics cannot be reached:
        assert found[1:2] == [
            "loki: metrics are scraped through traefik's metrics entrypoint, which reaches loki on its first network (data), "
            "not a network of traefik (dmz, media, admin); list one of those first in networks, or drop metrics"]

    def test_an_edge_without_metrics(self):
        catalog = seed()
        del catalog["traefik"]["metrics"]
        found = problems(catalog)
        assert len(found) == 6 and all("traefik declares no metrics (the entrypoint's port)" in p for p in found)

    def test_a_metrics_path_that_would_expose_the_app(self):
        catalog = seed()
        catalog["navidrome"]["metrics"] = {"port": 4533, "path": "/"}
        assert problems(catalog) == ["navidrome: metrics.path / would expose the whole app on the metrics entrypoint; give the "
                                     "metrics path (e.g. /metrics)"]


class TestGlobalMode:
    def test_promtail_runs_one_task_per_node(self):
        stack = render_stack(parse_catalog({"promtail": seed()["promtail"]}, platform_settings(PLATFORM))[0]["promtail"], PLATFORM)
        deploy = stack["services"]["promtail"]["deploy"]
        assert deploy["mode"] == "global" and "replicas" not in deploy
        assert stack["services"]["promtail"]["environment"]["NODE_NAME"] == "{{.Node.Hostname}}"  # Swarm's template, kept as is

    def test_replicas_with_global_and_an_unknown_mode_are_refused(self):
        catalog = seed()
        catalog["promtail"]["replicas"] = 2
        assert problems(catalog) == ["promtail: replicas is set, but mode global runs one task on every node the placement allows; "
                                     "drop replicas or the mode"]
        catalog = seed()
        catalog["promtail"]["mode"] = "daemonset"
        assert len(problems(catalog)) == 1 and "promtail: mode" in problems(catalog)[0]

    def test_a_global_service_must_fit_every_node(self):
        plan = deploy_plan(seed(), PLATFORM, ENABLED, ["promtail"])
        nodes = {"m1": {"role": "manager", "cpus": 2, "memory_mb": 4096}, "w1": {"role": "worker", "cpus": 0.25, "memory_mb": 4096}}
        found = capacity_problems(plan, nodes)
        assert [p for p in found if p.startswith("promtail:")] == [
            "promtail: mode global runs a task on every node it may run on, and resources.cpus 0.5 is more than w1 has; Docker "
            "refuses such a limit. Lower it or narrow the placement"]
        nodes["w1"]["cpus"] = 2
        assert not [p for p in capacity_problems(plan, nodes) if p.startswith("promtail:")]
