"""The filters of node-pinned (QuickSync) services: catalog_pinned_services (container + node from the hosts'
node_features), catalog_quicksync_nodes, and their routes in traefik_dynamic_config, which passes the upstream
file-provider schema."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.mediastack.core.plugins.filter import catalog_pinned
from ansible_collections.mediastack.core.plugins.filter.catalog_pinned import catalog_pinned_services, catalog_quicksync_nodes
from ansible_collections.mediastack.core.plugins.filter.edge_config import traefik_dynamic_config

ROOT = Path(__file__).resolve().parents[4]
SEED = yaml.safe_load((ROOT / "roles" / "services" / "files" / "catalog-seed.yml").read_text(encoding="utf-8"))
PLATFORM = {"domain": "media.example.org", "image_registry": "registry.lan:5000", "network_names": {"media": "mediastack_media"}}
EDGE = {"domain": "media.example.org", "acme": {"email": "admin@example.org", "challenge": "http"}}
# The seed's PhotoPrism, with a PUID/PGID image, a route on photos.<domain> and metrics (what the filters must carry)
PHOTOPRISM = dict(copy.deepcopy(SEED["photoprism"]), image="photoprism/photoprism:240915", run_as="env",
                  env={"PHOTOPRISM_FFMPEG_ENCODER": "intel"}, route={"subdomain": "photos", "port": 2342},
                  metrics={"port": 2342, "path": "/api/v1/metrics"})
CATALOG = dict(copy.deepcopy(SEED), photoprism=PHOTOPRISM)
INTEL = {"vendor": "0x8086", "device": "0x9a49", "class": "0x030000", "address": "0000:00:02.0"}
NVIDIA = {"vendor": "0x10de", "device": "0x2204", "class": "0x030000", "address": "0000:01:00.0"}


def features(*pci, render=True):
    return {"kernel": {"release": "6.1.0"}, "pci_display": list(pci), "render_nodes": ["/dev/dri/renderD128"] if render else []}


def hostvars(**read):
    """mgr1 (manager, an iGPU), media1 (NVIDIA only), media2 (iGPU without render node), media3 (iGPU); read overrides."""
    out = {
        "mgr1": {"__mediastack_node_features": features(INTEL)},
        "media1": {"swarm_node_labels": {"type": "media"}, "__mediastack_node_features": features(NVIDIA)},
        "media2": {"swarm_node_labels": {"type": "media"}, "__mediastack_node_features": features(INTEL, render=False)},
        "media3": {"swarm_node_labels": {"type": "media"}, "__mediastack_node_features": features(INTEL)},
    }
    for host, value in read.items():
        out[host]["__mediastack_node_features"] = value
    return out


HOSTS = ("mgr1", "media1", "media2", "media3")


def pinned(catalog=None, names=("photoprism",), hvars=None, hosts=HOSTS):
    return catalog_pinned_services(CATALOG if catalog is None else catalog, PLATFORM, list(names), hostvars() if hvars is None else hvars,
                                   list(hosts), ["mgr1"])


class TestCatalogPinnedServices:
    def test_photoprism_runs_on_the_first_media_node_with_an_igpu_and_a_render_node(self):
        [entry] = pinned()
        assert entry["service"] == "photoprism" and entry["node"] == "media3" and "reason" not in entry
        container = entry["container"]
        assert container["image"] == "registry.lan:5000/photoprism/photoprism:240915"
        assert container["networks"] == ["mediastack_media"]
        assert container["volumes"] == ["/srv/mediastack/data/photoprism/storage:/photoprism/storage",
                                        "/srv/mediastack/library/media/photos:/photoprism/originals:ro"]
        assert container["env"] == {"PGID": "2000", "PHOTOPRISM_FFMPEG_ENCODER": "intel", "PUID": "2000"}
        # run delegated to the node: a `node` key would be compared with the play's host
        assert "node" not in container

    def test_no_node_gives_the_reason_instead(self):
        [entry] = pinned(hvars=hostvars(media3=features(NVIDIA)))
        assert entry["node"] is None
        assert entry["reason"].startswith("none of the nodes it may run on (media1, media2, media3) has an Intel iGPU with a render node")

    def test_hosts_without_node_features_are_named(self):
        hvars = hostvars()
        for host in ("media1", "media2", "media3"):
            del hvars[host]["__mediastack_node_features"]
        [entry] = pinned(hvars=hvars)
        assert entry["node"] is None and "media1, media2, media3 were not read" in entry["reason"]

    def test_no_names_no_work(self):
        assert catalog_pinned_services(CATALOG, PLATFORM, [], None, None) == []

    @pytest.mark.parametrize("call, message", [
        (lambda: catalog_pinned_services([], PLATFORM, ["photoprism"], hostvars(), HOSTS),
         "catalog_pinned_services: the catalog must be a mapping of service name to description, got list"),
        (lambda: pinned(names=["photoprims"]),
         "catalog_pinned_services: photoprims not in the catalog; pass the plan's pinned services (__services_plan.pinned)"),
        (lambda: pinned(names=["jellyfin"]),
         "catalog_pinned_services: jellyfin is not a QuickSync service (quicksync: true); pass the plan's pinned services"),
        (lambda: catalog_pinned_services(CATALOG, PLATFORM, "photoprism", hostvars(), HOSTS),
         "catalog_pinned_services: names must be a list"),
        (lambda: catalog_pinned_services(CATALOG, PLATFORM, ["photoprism"], hostvars(), "mgr1"),
         "catalog_pinned_services: hosts must be a list of inventory hosts"),
        (lambda: catalog_pinned_services(CATALOG, PLATFORM, ["photoprism"], None, HOSTS), "catalog_pinned_services: hostvars is required"),
        (lambda: catalog_pinned_services(CATALOG, PLATFORM, ["photoprism"], [], HOSTS), "catalog_pinned_services: hostvars must be"),
        (lambda: pinned(hvars=dict(hostvars(), media1={"swarm_node_labels": ["type=media"]})),
         "catalog_pinned_services: swarm_node_labels of media1 must be a mapping"),
        (lambda: pinned(catalog=dict(CATALOG, photoprism=dict(PHOTOPRISM, image="photoprism/photoprism:latest"))),
         "catalog_pinned_services: "),
    ])
    def test_bad_input_says_what_to_fix(self, call, message):
        with pytest.raises(AnsibleFilterError) as info:
            call()
        assert str(info.value.message).startswith(message)

    def test_quicksync_nodes_are_those_with_an_igpu_and_a_render_node(self):
        assert catalog_quicksync_nodes(hostvars(), HOSTS) == ["mgr1", "media3"]
        assert catalog_quicksync_nodes(hostvars(mgr1={}), HOSTS) == ["media3"]

    @pytest.mark.parametrize("name", sorted(n for n, e in SEED.items() if e.get("quicksync")))
    def test_each_quicksync_service_of_the_seed_passes_the_quicksync_roles_argument_spec(self, name):
        [entry] = pinned(catalog=SEED, names=[name])
        specs = yaml.safe_load((ROOT / "roles" / "quicksync" / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
        result = ArgumentSpecValidator(specs["argument_specs"]["pinned_container"]["options"]).validate(
            {"quicksync_pinned_service": entry["container"]})
        assert not result.error_messages
        assert entry["node"] == "media3"

    def test_filters_are_registered(self):
        assert set(catalog_pinned.FilterModule().filters()) == {"catalog_pinned_services", "catalog_quicksync_nodes"}


# --- the route in Traefik's dynamic configuration ------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema(shared_dir):
    document = json.loads((shared_dir / "fixtures" / "schemas" / "traefik-v3-file-provider.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(document)
    cls.check_schema(document)
    return cls(document, format_checker=cls.FORMAT_CHECKER)


def assert_valid(validator, document):
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join("%s: %s" % ("/".join(map(str, e.absolute_path)), e.message) for e in errors)
    assert yaml.safe_load(yaml.safe_dump(document)) == document


class TestPinnedRoutes:
    def test_the_routed_pinned_service_is_in_the_file_provider_with_forward_auth(self, schema):
        config = traefik_dynamic_config(EDGE, catalog=CATALOG, platform=PLATFORM)
        assert_valid(schema, config)
        http = config["http"]
        assert http["routers"]["photoprism"] == {"rule": "Host(`photos.media.example.org`)", "entryPoints": ["websecure"],
                                                 "service": "photoprism", "tls": {}, "middlewares": ["authelia@swarm"]}
        assert http["services"]["photoprism"]["loadBalancer"]["servers"] == [{"url": "http://photoprism:2342"}]
        assert http["routers"]["photoprism-metrics"]["middlewares"] == ["photoprism-metrics"]
        assert "photoprism-metrics" in http["middlewares"] and "secure-headers" in http["middlewares"]
        # the Swarm services keep their labels: no router of theirs in the file
        assert set(http["routers"]) == {"photoprism", "photoprism-metrics"}

    def test_a_bypass_route_has_no_forward_auth_and_passes_the_schema(self, schema):
        catalog = dict(CATALOG, photoprism=dict(PHOTOPRISM, auth={"policy": "bypass"}))
        config = traefik_dynamic_config(EDGE, catalog=catalog, platform=dict(PLATFORM, cert_resolver="letsencrypt"))
        assert_valid(schema, config)
        router = config["http"]["routers"]["photoprism"]
        assert "middlewares" not in router and router["tls"] == {"certResolver": "letsencrypt"}

    def test_a_disabled_pinned_service_has_no_route(self):
        config = traefik_dynamic_config(EDGE, catalog=CATALOG, platform=PLATFORM, enabled=["traefik", "authelia", "redis", "postgres"])
        assert config == traefik_dynamic_config(EDGE)

    def test_without_a_pinned_service_the_configuration_is_unchanged(self, schema):
        swarm_only = {name: entry for name, entry in SEED.items() if not entry.get("quicksync")}
        config = traefik_dynamic_config(EDGE, catalog=swarm_only, platform=PLATFORM)
        assert_valid(schema, config)
        assert config == traefik_dynamic_config(EDGE)

    def test_a_route_without_the_platform_domain_is_refused(self):
        with pytest.raises(AnsibleFilterError) as info:
            traefik_dynamic_config(EDGE, catalog=CATALOG, platform=dict(PLATFORM, domain=""))
        assert "photoprism: route needs the platform domain" in str(info.value.message)
