"""Node-pinned (QuickSync) services: the container description from the catalog, the node that runs it, and its
routes in Traefik's file provider, each as the Swarm stack of the same description would have it."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.mediastack.core.plugins.module_utils.catalog.model import CatalogError
from ansible_collections.mediastack.core.plugins.module_utils.catalog.parse import parse_service
from ansible_collections.mediastack.core.plugins.module_utils.catalog.pinned import (
    pinned_container, pinned_node, pinned_reason, traefik_routes,
)
from ansible_collections.mediastack.core.plugins.module_utils.catalog.stack import render_stack

ROOT = Path(__file__).resolve().parents[4]
PHOTOPRISM = {
    "image": "photoprism/photoprism:240915",
    "run_as": "env",
    "quicksync": True,
    "networks": ["media"],
    "placement": {"role": "media"},
    "resources": {"cpus": 4, "memory": "6G"},
    "env": {"PHOTOPRISM_FFMPEG_ENCODER": "intel", "PHOTOPRISM_SITE_URL": "https://photos.media.example.org/"},
    "volumes": [
        {"kind": "config", "target": "/photoprism/storage"},
        {"kind": "cache", "target": "/photoprism/cache"},
        {"kind": "media", "source": "photos", "target": "/photoprism/originals", "read_only": True},
        {"kind": "host", "source": "/etc/localtime", "target": "/etc/localtime", "read_only": True},
    ],
    "ports": [{"target": 2342}, {"target": 2343, "published": 12343, "protocol": "udp", "mode": "host"}],
    "route": {"subdomain": "photos", "port": 2342},
    "auth": {"policy": "one_factor", "groups": ["media"]},
    "stateful": True,
    "metrics": {"port": 2342, "path": "/api/v1/metrics"},
    "labels": {"com.example.owner": "family"},
}
PLATFORM = {"domain": "media.example.org", "image_registry": "registry.lan:5000", "network_names": {"media": "mediastack_media"},
            "storage_root": "/srv/ms", "puid": 2100, "pgid": 2200}


def service(platform=None, **changes):
    raw = copy.deepcopy(PHOTOPRISM)
    raw.update(changes)
    return parse_service("photoprism", raw, PLATFORM if platform is None else platform)


def swarm_twin(platform=None, **changes):
    """The same description rendered as a Swarm service (quicksync off): what the pinned container must agree with."""
    return render_stack(service(platform, quicksync=False, **changes), PLATFORM if platform is None else platform)["services"]["photoprism"]


# --- the container ---------------------------------------------------------------------------------------------


class TestPinnedContainer:
    def test_photoprism_runs_from_its_catalog_entry(self):
        assert pinned_container(service(), PLATFORM) == {
            "name": "photoprism",
            "image": "registry.lan:5000/photoprism/photoprism:240915",
            "networks": ["mediastack_media"],
            "env": {"PGID": "2200", "PHOTOPRISM_FFMPEG_ENCODER": "intel", "PHOTOPRISM_SITE_URL": "https://photos.media.example.org/",
                    "PUID": "2100"},
            "volumes": ["/srv/ms/config/photoprism:/photoprism/storage", "/srv/ms/cache/photoprism:/photoprism/cache",
                        "/srv/ms/library/media/photos:/photoprism/originals:ro", "/etc/localtime:/etc/localtime:ro"],
            "ports": ["12343:2343/udp"],
            "memory": "6G",
            "cpus": 4.0,
            "labels": {"mediastack.service": "photoprism", "com.example.owner": "family"},
        }

    def test_image_env_and_mounts_are_the_swarm_stacks(self):
        container, stack = pinned_container(service(), PLATFORM), swarm_twin()
        assert container["image"] == stack["image"]
        assert container["env"] == stack["environment"]
        assert container["volumes"] == ["%s:%s%s" % (v["source"], v["target"], ":ro" if v["read_only"] else "") for v in stack["volumes"]]
        assert container["memory"] == stack["deploy"]["resources"]["limits"]["memory"]

    def test_an_image_override_wins_over_the_registry(self):
        platform = dict(PLATFORM, image_overrides={"photoprism": "lab.local/photoprism:test"})
        assert pinned_container(service(platform), platform)["image"] == "lab.local/photoprism:test" == swarm_twin(platform)["image"]

    def test_without_a_registry_the_image_is_pulled_from_its_own(self):
        platform = dict(PLATFORM, image_registry="")
        assert pinned_container(service(platform), platform)["image"] == "photoprism/photoprism:240915"

    def test_run_as_user_sets_the_container_user_not_puid(self):
        container = pinned_container(service(run_as="user"), PLATFORM)
        assert container["user"] == "2100:2200"
        assert "PUID" not in container["env"] and "PGID" not in container["env"]

    def test_run_as_image_sets_neither(self):
        container = pinned_container(service(run_as="image"), PLATFORM)
        assert "user" not in container and "PUID" not in container["env"]

    def test_an_unmapped_network_keeps_its_segment_name_and_a_command_is_passed(self):
        container = pinned_container(service(command=["photoprism", "start"]), dict(PLATFORM, network_names={}))
        assert container["networks"] == ["media"]
        assert container["command"] == ["photoprism", "start"]

    def test_the_description_passes_the_quicksync_roles_argument_spec(self):
        specs = yaml.safe_load((ROOT / "roles" / "quicksync" / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
        spec = specs["argument_specs"]["pinned_container"]["options"]
        container = pinned_container(service(command=["photoprism", "start"], run_as="user"), PLATFORM)
        result = ArgumentSpecValidator(spec).validate({"quicksync_pinned_service": container})
        assert not result.error_messages
        assert result.validated_parameters["quicksync_pinned_service"]["cpus"] == 4.0


# --- the node --------------------------------------------------------------------------------------------------


def nodes(**quicksync):
    """mgr1 (manager), then three media workers; quicksync per host (True, False or None: not read)."""
    out = {"mgr1": {"role": "manager", "labels": {}, "quicksync": True},
           "media1": {"role": "worker", "labels": {"type": "media"}, "quicksync": False},
           "media2": {"role": "worker", "labels": {"type": "media"}, "quicksync": True},
           "media3": {"role": "worker", "labels": {"type": "media"}, "quicksync": True}}
    for host, value in quicksync.items():
        out[host]["quicksync"] = value
    return out


class TestPinnedNode:
    def test_the_first_eligible_node_with_an_igpu_in_inventory_order(self):
        constraints = service().constraints
        assert constraints == ["node.labels.type==media"]
        # mgr1 has an iGPU but the placement excludes it; media1 has none
        assert pinned_node(constraints, nodes()) == "media2"

    def test_the_order_is_the_inventorys_not_the_alphabets(self):
        ordered = {h: nodes()[h] for h in ("media3", "media2", "media1", "mgr1")}
        assert pinned_node(["node.labels.type==media"], ordered) == "media3"

    def test_without_constraints_any_node_with_an_igpu(self):
        assert pinned_node([], nodes()) == "mgr1"

    def test_none_without_an_igpu_and_the_reason_names_the_nodes(self):
        constraints = ["node.labels.type==media"]
        bare = nodes(media2=False, media3=False)
        assert pinned_node(constraints, bare) is None
        reason = pinned_reason(constraints, bare)
        assert "media1, media2, media3" in reason and "Intel iGPU" in reason and "mgr1" not in reason

    def test_none_when_the_placement_allows_no_node(self):
        assert pinned_node(["node.labels.type==gpu"], nodes()) is None
        assert "no node satisfies its placement (node.labels.type==gpu)" in pinned_reason(["node.labels.type==gpu"], nodes())

    def test_unread_features_are_not_a_quicksync_node_and_are_named(self):
        unread = nodes(media2=None, media3=None)
        assert pinned_node(["node.labels.type==media"], unread) is None
        assert "media2, media3 were not read" in pinned_reason(["node.labels.type==media"], unread)

    def test_no_nodes(self):
        assert pinned_node([], {}) is None
        assert "no Swarm node" in pinned_reason([], {})


# --- the routes ------------------------------------------------------------------------------------------------


class TestTraefikRoutes:
    def test_a_routed_pinned_service_gets_the_swarm_route_with_forward_auth(self):
        routes = traefik_routes([service()], PLATFORM)
        assert routes["routers"]["photoprism"] == {
            "rule": "Host(`photos.media.example.org`)",
            "entryPoints": ["websecure"],
            "service": "photoprism",
            "tls": {},
            "middlewares": ["authelia@swarm"],
        }
        assert routes["services"]["photoprism"]["loadBalancer"]["servers"] == [{"url": "http://photoprism:2342"}]

    def test_the_route_says_what_the_swarm_labels_say(self):
        platform = dict(PLATFORM, cert_resolver="letsencrypt")
        labels = swarm_twin(platform)["deploy"]["labels"]
        routes = traefik_routes([service(platform)], platform)
        router, lb = routes["routers"]["photoprism"], routes["services"]["photoprism"]["loadBalancer"]
        prefix = "traefik.http.routers.photoprism."
        assert router["rule"] == labels[prefix + "rule"]
        assert router["entryPoints"] == [labels[prefix + "entrypoints"]]
        assert router["tls"] == {"certResolver": labels[prefix + "tls.certresolver"]}
        assert router["middlewares"] == [labels[prefix + "middlewares"]]
        assert lb["servers"][0]["url"].endswith(":" + labels["traefik.http.services.photoprism.loadbalancer.server.port"])
        assert lb["sticky"]["cookie"]["name"] == labels["traefik.http.services.photoprism.loadbalancer.sticky.cookie.name"]
        metrics = routes["routers"]["photoprism-metrics"]
        assert metrics["rule"] == labels["traefik.http.routers.photoprism-metrics.rule"] == "Path(`/metrics/photoprism`)"
        assert routes["middlewares"]["photoprism-metrics"] == {"replacePath": {"path": "/api/v1/metrics"}}
        assert routes["services"]["photoprism-metrics"]["loadBalancer"]["servers"] == [{"url": "http://photoprism:2342"}]

    def test_a_bypass_route_has_no_forward_auth(self):
        routes = traefik_routes([service(auth={"policy": "bypass"})], PLATFORM)
        assert "middlewares" not in routes["routers"]["photoprism"]

    def test_a_pinned_service_without_route_or_metrics_gets_nothing(self):
        raw = copy.deepcopy(PHOTOPRISM)
        for key in ("route", "auth", "metrics"):
            del raw[key]
        assert traefik_routes([parse_service("photoprism", raw, PLATFORM)], PLATFORM) == {"routers": {}, "services": {}, "middlewares": {}}

    def test_swarm_services_are_left_to_their_labels(self):
        assert traefik_routes([service(quicksync=False)], PLATFORM) == {"routers": {}, "services": {}, "middlewares": {}}

    def test_a_route_needs_the_domain(self):
        with pytest.raises(CatalogError) as info:
            traefik_routes([service()], dict(PLATFORM, domain=""))
        assert info.value.problems == ["photoprism: route needs the platform domain; set platform.domain, e.g. media.example.org"]
