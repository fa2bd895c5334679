"""Unit tests of the catalog filters: catalog_validate, catalog_stack, catalog_authelia_rules.

Every seed service (roles/services/files/catalog-seed.yml) renders to a stack file that passes docker/cli's stack
schema; the Authelia rules pass Authelia's configuration schema.
"""
from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import jsonschema
import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.filter.catalog_authelia_rules import catalog_authelia_rules
from ansible_collections.mediastack.core.plugins.filter.catalog_stack import catalog_stack, catalog_stacks
from ansible_collections.mediastack.core.plugins.filter.catalog_validate import catalog_validate
from ansible_collections.mediastack.core.plugins.filter.gpu_service_assignments import gpu_service_assignments
from ansible_collections.mediastack.core.plugins.module_utils.gpu import assign as gpu_assign

ROOT = Path(__file__).resolve().parents[4]
SEED = yaml.safe_load((ROOT / "roles" / "services" / "files" / "catalog-seed.yml").read_text(encoding="utf-8"))
PLATFORM = {"domain": "media.example.org", "gpu_nodes": ["w1"]}
JELLYFIN_GPU = {
    "source": "explicit", "profiles": ["h264", "h265", "av1"], "gpu_indexes": [0],
    "gpu_uuids": ["GPU-a0000000-1111-4222-8333-000000000000"],
    "env": {"NVIDIA_VISIBLE_DEVICES": "GPU-a0000000-1111-4222-8333-000000000000", "NVIDIA_DRIVER_CAPABILITIES": "video,utility"},
    "generic_resources": [{"kind": "NVIDIA-GPU-0", "value": 1}], "shared": False, "shared_with": [],
}
SECRETS = ["authelia_jwt_secret", "authelia_session_secret", "authelia_storage_encryption_key", "authelia_db_password",
           "postgres_password", "immich_db_password", "authelia_users", "grafana_admin_password",
           "funkwhale_db_password", "librephotos_db_password", "plex_claim_token"]


@pytest.fixture(scope="module")
def stack_schema(shared_dir):
    schema = json.loads((shared_dir / "fixtures" / "schemas" / "docker-stack-config_schema_v3.13.json").read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def render(name, platform=None, **kwargs):
    return catalog_stack(SEED[name], PLATFORM if platform is None else platform, name=name, **kwargs)


def deploy_of(stack, name):
    return stack["services"][name]["deploy"]


class TestCatalogStacks:
    """catalog_stacks: the services role renders its whole plan in one task; each stack is catalog_stack's."""

    def test_each_stack_is_the_one_catalog_stack_renders_in_the_plan_order(self):
        order = ["redis", "jellyfin", "navidrome"]
        stacks = catalog_stacks(SEED, PLATFORM, order, {"jellyfin": JELLYFIN_GPU})
        assert list(stacks) == order
        assert stacks["jellyfin"] == render("jellyfin", gpu_assignment=JELLYFIN_GPU)
        assert stacks["redis"] == render("redis") and stacks["navidrome"] == render("navidrome")
        assert stacks["jellyfin"]["services"]["jellyfin"]["environment"]["NVIDIA_VISIBLE_DEVICES"] == JELLYFIN_GPU["gpu_uuids"][0]

    def test_default_is_every_service(self):
        assert sorted(catalog_stacks(SEED, PLATFORM)) == sorted(SEED)

    def test_a_name_outside_the_catalog_is_named(self):
        with pytest.raises(AnsibleFilterError, match="nosuch not in the catalog"):
            catalog_stacks(SEED, PLATFORM, ["redis", "nosuch"])


class TestSeed:
    def test_seed_is_valid(self):
        assert catalog_validate(SEED, dict(PLATFORM, secrets=SECRETS)) == []

    def test_seed_resources_match_the_issue(self):
        table = {"jellyfin": ("4", "8G"), "navidrome": ("2", "2G"), "audiobookshelf": ("2", "4G"), "traefik": ("2", "1G"),
                 "authelia": ("1", "512M"), "redis": ("2", "4G"), "immich": ("4", "16G")}
        for name, (cpus, memory) in table.items():
            limits = deploy_of(render(name), name)["resources"]["limits"]
            assert (limits["cpus"], limits["memory"]) == (cpus, memory), name

    def test_no_floating_tags(self):
        for name, raw in SEED.items():
            assert ":" in raw["image"].rsplit("/", 1)[-1] and not raw["image"].endswith(":latest"), name

    @pytest.mark.parametrize("name", sorted(SEED))
    @pytest.mark.parametrize("platform", [PLATFORM, dict(PLATFORM, endpoint_mode="dnsrr", publish_mode="host", image_registry="172.31.240.5:5000")],
                             ids=["production", "lab"])
    def test_renders_to_a_valid_stack(self, name, platform, stack_schema):
        stack = render(name, platform)
        errors = sorted(stack_schema.iter_errors(stack), key=str)
        assert not errors, "\n".join(e.message for e in errors)
        # what docker_stack receives is YAML/JSON: it must round-trip unchanged
        assert yaml.safe_load(yaml.safe_dump(stack)) == stack
        deploy = deploy_of(stack, name)
        assert deploy["endpoint_mode"] == platform.get("endpoint_mode", "vip")
        for port in stack["services"][name].get("ports", []):
            assert port["mode"] in ("host", "ingress")
            if platform.get("endpoint_mode") == "dnsrr":
                assert port["mode"] == "host"
        assert set(stack["networks"]) == set(SEED[name]["networks"])
        assert all(n["external"] for n in stack["networks"].values())


class TestJellyfin:
    def test_placement_resources_gpu_labels(self):
        stack = render("jellyfin")
        svc = stack["services"]["jellyfin"]
        deploy = svc["deploy"]
        assert svc["image"] == "jellyfin/jellyfin:10.10.7"
        assert deploy["placement"]["constraints"] == ["node.labels.type==media", "node.labels.gpu==true"]
        assert deploy["resources"]["limits"] == {"cpus": "4", "memory": "8G"}
        assert deploy["resources"]["reservations"]["generic_resources"] == [{"discrete_resource_spec": {"kind": "NVIDIA-GPU", "value": 1}}]
        assert svc["environment"]["NVIDIA_DRIVER_CAPABILITIES"] == "video,utility"
        assert "NVIDIA_VISIBLE_DEVICES" not in svc["environment"]
        labels = deploy["labels"]
        assert labels["traefik.enable"] == "true"
        assert labels["traefik.http.routers.jellyfin.rule"] == "Host(`jellyfin.media.example.org`)"
        assert labels["traefik.http.routers.jellyfin.entrypoints"] == "websecure"
        assert labels["traefik.http.routers.jellyfin.tls"] == "true"
        assert labels["traefik.http.routers.jellyfin.middlewares"] == "authelia@swarm"
        assert labels["traefik.http.services.jellyfin.loadbalancer.server.port"] == "8096"
        assert labels["traefik.http.services.jellyfin.loadbalancer.sticky.cookie"] == "true"
        assert deploy["update_config"]["order"] == "stop-first"
        assert svc["user"] == "2000:2000"
        assert {"type": "bind", "source": "/srv/mediastack/library/media/movies", "target": "/media/movies", "read_only": True} in svc["volumes"]
        assert {"type": "bind", "source": "/srv/mediastack/config/jellyfin", "target": "/config", "read_only": False} in svc["volumes"]
        assert svc["healthcheck"]["test"] == ["CMD", "curl", "-fsS", "http://localhost:8096/health"]

    def test_gpu_assignment_wins(self):
        svc = render("jellyfin", gpu_assignment=JELLYFIN_GPU)["services"]["jellyfin"]
        assert svc["environment"]["NVIDIA_VISIBLE_DEVICES"] == "GPU-a0000000-1111-4222-8333-000000000000"
        assert svc["deploy"]["resources"]["reservations"]["generic_resources"] == [{"discrete_resource_spec": {"kind": "NVIDIA-GPU-0", "value": 1}}]

    def test_shared_gpu_has_no_reservation(self):
        shared = dict(JELLYFIN_GPU, generic_resources=[], shared=True, shared_with=["immich"])
        svc = render("jellyfin", gpu_assignment=shared)["services"]["jellyfin"]
        assert "generic_resources" not in svc["deploy"]["resources"]["reservations"]
        assert "node.labels.gpu==true" in svc["deploy"]["placement"]["constraints"]
        assert svc["environment"]["NVIDIA_VISIBLE_DEVICES"].startswith("GPU-")

    def test_reservation_kind_and_capabilities_come_from_the_one_setting_and_function(self):
        svc = render("jellyfin", dict(PLATFORM, gpu_resource_kind="GPU-NV"))["services"]["jellyfin"]
        assert svc["deploy"]["resources"]["reservations"]["generic_resources"] == [{"discrete_resource_spec": {"kind": "GPU-NV", "value": 1}}]
        both = dict(SEED["jellyfin"], gpu={"profiles": ["ml", "h264"]})
        env = catalog_stack(both, PLATFORM, name="jellyfin")["services"]["jellyfin"]["environment"]
        assert env["NVIDIA_DRIVER_CAPABILITIES"] == gpu_assign.driver_capabilities(["ml", "h264"]) == "compute,video,utility"
        with pytest.raises(AnsibleFilterError, match="gpu_resource_kind 'NVIDIA GPU' is not a Swarm generic-resource kind.*nvidia_resource_kind"):
            render("jellyfin", dict(PLATFORM, gpu_resource_kind="NVIDIA GPU"))

    def test_assignment_made_on_one_node_pins_the_service_there(self):
        svc = render("jellyfin", gpu_assignment=dict(JELLYFIN_GPU, node="mslab-w1"))["services"]["jellyfin"]
        assert svc["deploy"]["placement"]["constraints"] == ["node.labels.type==media", "node.labels.gpu==true", "node.hostname == mslab-w1"]
        assert svc["environment"]["NVIDIA_VISIBLE_DEVICES"] == JELLYFIN_GPU["gpu_uuids"][0]
        # several GPU nodes: no node, no device; Swarm's reservation picks the GPU
        many = dict(JELLYFIN_GPU, node=None, env={"NVIDIA_DRIVER_CAPABILITIES": "video,utility"})
        svc = render("jellyfin", gpu_assignment=many)["services"]["jellyfin"]
        assert svc["deploy"]["placement"]["constraints"] == ["node.labels.type==media", "node.labels.gpu==true"]
        assert "NVIDIA_VISIBLE_DEVICES" not in svc["environment"]

    def test_registry_mirror_and_override(self):
        mirror = dict(PLATFORM, image_registry="mirror.lan:5000")
        assert render("jellyfin", mirror)["services"]["jellyfin"]["image"] == "mirror.lan:5000/jellyfin/jellyfin:10.10.7"
        assert render("audiobookshelf", dict(PLATFORM, image_registry="mirror.lan:5000"))["services"]["audiobookshelf"]["image"] == \
            "mirror.lan:5000/advplyr/audiobookshelf:2.21.0"
        override = dict(PLATFORM, image_overrides={"jellyfin": "172.31.240.5:5000/standin/jellyfin:10.10.7"})
        assert render("jellyfin", override)["services"]["jellyfin"]["image"] == "172.31.240.5:5000/standin/jellyfin:10.10.7"


class TestOtherServices:
    def test_stateless_is_start_first_without_sticky(self):
        deploy = deploy_of(render("navidrome"), "navidrome")
        assert deploy["update_config"]["order"] == "start-first"
        assert not any("sticky" in k for k in deploy["labels"])

    def test_bypass_and_forward_auth(self):
        labels = deploy_of(render("authelia"), "authelia")["labels"]
        assert "traefik.http.routers.authelia.middlewares" not in labels
        assert labels["traefik.http.middlewares.authelia.forwardauth.address"] == "http://authelia:9091/api/authz/forward-auth"
        assert labels["traefik.swarm.network"] == "dmz"

    def test_traefik_host_ports_and_dashboard(self):
        stack = render("traefik")
        svc = stack["services"]["traefik"]
        assert {"target": 443, "published": 443, "protocol": "tcp", "mode": "host"} in svc["ports"]
        assert svc["deploy"]["placement"]["constraints"] == ["node.role==manager"]
        assert svc["deploy"]["labels"]["traefik.http.routers.traefik.service"] == "api@internal"
        assert "user" not in svc

    def test_databases_on_ssd_data_nodes_with_secrets(self):
        stack = render("postgres")
        svc = stack["services"]["postgres"]
        assert svc["deploy"]["placement"]["constraints"] == ["node.labels.type==data", "node.labels.ssd==true"]
        assert svc["secrets"] == [{"source": "postgres_password", "target": "postgres_password"}]
        assert stack["secrets"] == {"postgres_password": {"external": True, "name": "postgres_password"}}
        versioned = render("postgres", dict(PLATFORM, secret_names={"postgres_password": "postgres_password_v2"}))
        assert versioned["secrets"]["postgres_password"]["name"] == "postgres_password_v2"
        assert "traefik.enable" not in svc["deploy"]["labels"]

    def test_immich_database_secret_and_ml_gpu(self):
        stack = render("immich")
        svc = stack["services"]["immich"]
        assert "immich_db_password" in stack["secrets"]
        assert "NVIDIA_DRIVER_CAPABILITIES" not in svc["environment"]  # the server: its machine learning is immich-ml's
        assert svc["environment"]["IMMICH_MACHINE_LEARNING_URL"] == "http://immich-ml:3003"
        assert svc["deploy"]["resources"]["limits"] == {"cpus": "4", "memory": "16G"}
        ml = render("immich-ml")["services"]["immich-ml"]
        assert ml["environment"]["NVIDIA_DRIVER_CAPABILITIES"] == "compute,utility"  # the seed's GPU 1: ML acceleration
        assert "node.labels.gpu==true" in ml["deploy"]["placement"]["constraints"]
        assert "traefik.enable" not in ml["deploy"]["labels"]  # internal: the server calls it on the media overlay

    def test_reservations(self):
        res = deploy_of(render("navidrome", dict(PLATFORM, reservation_ratio=0.5)), "navidrome")["resources"]["reservations"]
        assert res == {"cpus": "1", "memory": "1G"}
        raw = dict(SEED["navidrome"], resources={"cpus": 2, "memory": "2G", "reserve_cpus": 0.5, "reserve_memory": "256M"})
        res = catalog_stack(raw, PLATFORM, name="navidrome")["services"]["navidrome"]["deploy"]["resources"]["reservations"]
        assert res == {"cpus": "0.5", "memory": "256M"}

    def test_endpoint_mode_dnsrr_refuses_explicit_ingress(self):
        raw = dict(SEED["navidrome"], ports=[{"target": 4533, "published": 4533, "mode": "ingress"}])
        with pytest.raises(AnsibleFilterError, match="ingress mode, which Swarm refuses with endpoint_mode dnsrr; use mode: host"):
            catalog_stack(raw, dict(PLATFORM, endpoint_mode="dnsrr"), name="navidrome")
        port = catalog_stack(raw, PLATFORM, name="navidrome")["services"]["navidrome"]["ports"][0]
        assert port == {"target": 4533, "published": 4533, "protocol": "tcp", "mode": "ingress"}


class TestBadInput:
    @pytest.mark.parametrize("raw,platform,kwargs,match", [
        ([], PLATFORM, {}, "must be a mapping"),
        (SEED["navidrome"], PLATFORM, {}, "has no name"),
        (dict(SEED["navidrome"], image="deluan/navidrome"), PLATFORM, {"name": "navidrome"}, "navidrome: version is missing"),
        (dict(SEED["navidrome"], image="deluan/navidrome:latest"), PLATFORM, {"name": "navidrome"}, "floating tag"),
        (SEED["navidrome"], {}, {"name": "navidrome"}, "route needs the platform domain"),
        (SEED["navidrome"], {"domian": "x.org"}, {"name": "navidrome"}, "did you mean domain"),
        (SEED["jellyfin"], PLATFORM, {"name": "jellyfin", "gpu_assignment": "GPU-0"}, "gpu_assignment must be"),
    ])
    def test_stack(self, raw, platform, kwargs, match):
        with pytest.raises(AnsibleFilterError, match=match):
            catalog_stack(raw, platform, **kwargs)

    def test_validate_input_types(self):
        with pytest.raises(AnsibleFilterError, match="mapping of service name"):
            catalog_validate(["jellyfin"])
        with pytest.raises(AnsibleFilterError, match="platform must be a mapping"):
            catalog_validate(SEED, "vip")

    def test_issue_bad_inputs_each_named(self):
        catalog = copy.deepcopy(SEED)
        catalog["navidrome"]["route"]["subdomain"] = "jellyfin"
        catalog["audiobookshelf"]["ports"] = [{"target": 80, "published": 443}]
        catalog["redis"]["image"] = "redis"
        secrets = [s for s in SECRETS[1:] if s != "plex_claim_token"]  # Plex enabled without its claim token
        out = catalog_validate(catalog, dict(PLATFORM, gpu_nodes=[], secrets=secrets), enabled=sorted(catalog) + ["jelyfin"])
        expected = [
            "enabled: unknown service name 'jelyfin'; did you mean jellyfin?",
            "redis: version is missing for image redis",
            "navidrome: route.subdomain 'jellyfin' is already used by jellyfin",
            "traefik: ports publishes host port 443/tcp, which audiobookshelf already publishes",
            "jellyfin: gpu requests a GPU (profiles h264, h265, av1) but no Swarm node has one",
            "immich-ml: gpu requests a GPU (profiles ml) but no Swarm node has one",
            "plex: secrets needs Docker secret 'plex_claim_token', which is not defined",
            "authelia: secrets needs Docker secret 'authelia_jwt_secret', which is not defined",
        ]
        for line in expected:
            assert any(p.startswith(line) for p in out), (line, out)
        # redis failed to parse, so its dependants are told it is unknown
        assert any(p.startswith("authelia: dependencies: unknown service name 'redis'") for p in out)


class TestAutheliaRules:
    def test_rules(self, shared_dir):
        rules = catalog_authelia_rules(SEED, "media.example.org")
        bypass = [r for r in rules if r["policy"] == "bypass"]
        assert rules[:len(bypass)] == bypass  # every bypass first: Authelia takes the first rule that matches
        assert {"domain": ["auth.media.example.org"], "policy": "bypass"} in bypass  # the portal itself, whole host
        # then the paths the apps' own clients and keys use, host by host (Subsonic, the *arr APIs, Jellyfin has none)
        assert {"domain": ["sonarr.media.example.org"], "resources": ["^/api([/?].*)?$"], "policy": "bypass"} in bypass
        assert {"domain": ["airsonic.media.example.org"], "resources": ["^/rest([/?].*)?$"], "policy": "bypass"} in bypass
        (jellyfin,) = [r for r in bypass if r["domain"] == ["jellyfin.media.example.org"]]
        assert "^/Users([/?].*)?$" in jellyfin["resources"] and "^/web([/?].*)?$" not in jellyfin["resources"]
        assert not [r for r in bypass if r["domain"] == ["grafana.media.example.org"]]  # an admin UI: no path passes
        assert {"domain": ["traefik.media.example.org"], "policy": "two_factor", "subject": ["group:admins"]} in rules
        index = rules.index({"domain": ["jellyfin.media.example.org"], "policy": "two_factor", "subject": ["group:media"]})
        assert rules[index + 1] == {"domain": ["jellyfin.media.example.org"], "policy": "deny"}
        assert not any("postgres" in r["domain"][0] for r in rules)
        schema = json.loads((shared_dir / "fixtures" / "schemas" / "authelia-v4.39-configuration.json").read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator(schema).validate({"access_control": {"default_policy": "deny", "rules": rules}})

    def test_enabled_subset(self):
        rules = catalog_authelia_rules(SEED, "media.example.org", enabled=["navidrome"])
        assert [(r["domain"], r["policy"]) for r in rules] == [
            (["music.media.example.org"], "bypass"), (["music.media.example.org"], "two_factor"), (["music.media.example.org"], "deny")]
        assert rules[0]["resources"] == ["^/rest([/?].*)?$"]

    @pytest.mark.parametrize("catalog,domain,match", [
        ([], "x.org", "mapping"), (SEED, "not a domain", "DNS name"), ({"a": {"image": "x"}}, "x.org", "version is missing"),
    ])
    def test_bad(self, catalog, domain, match):
        with pytest.raises(AnsibleFilterError, match=match):
            catalog_authelia_rules(catalog, domain)


class TestRandomCatalogs:
    def test_random_services_render_or_name_their_problem(self, stack_schema):
        rng = random.Random(2025)
        segments = ["media", "admin", "data"]  # dmz is the edge's and the SSO's own (TestSegmentRules)
        for case in range(150):
            name = "svc%d" % case
            nets = rng.sample(segments, rng.randint(1, 3))
            raw = {
                "image": "example/app%d:%d.%d" % (case, rng.randint(0, 9), rng.randint(0, 9)),
                "networks": nets,
                "placement": {"role": rng.choice(["media", "data", "manager", "worker", "any"])},
                "resources": {"cpus": rng.choice([0.25, 0.5, 1, 2, 4]), "memory": rng.choice(["256M", "1G", "1.5G", "8G"])},
                "stateful": rng.random() < 0.5,
                "replicas": rng.randint(0, 3),
                "ports": [{"target": rng.randint(1, 65535), "published": rng.randint(1024, 65535), "protocol": rng.choice(["tcp", "udp"])}],
            }
            if "data" in nets:  # the data segment holds the databases (and the services that use them)
                raw["placement"]["role"] = "data"
            if rng.random() < 0.5:
                raw["route"] = {"subdomain": "app%d" % case, "port": rng.randint(1, 65535), "network": rng.choice(nets)}
                raw["auth"] = {"policy": rng.choice(["bypass", "one_factor", "two_factor"])}
            if rng.random() < 0.3:
                raw["gpu"] = {"profiles": rng.sample(["h264", "h265", "av1", "decode", "ml"], rng.randint(1, 3))}
            broken = rng.random() < 0.3
            if broken:
                field = rng.choice(["image", "networks", "resources"])
                raw[field] = {"image": "example/app", "networks": ["lan"], "resources": {"cpus": -1, "memory": "1G"}}[field]
            problems = catalog_validate({name: raw}, PLATFORM)
            if broken:
                fields = {"image": ("version ",), "networks": ("networks ", "route.network "), "resources": ("resources.cpus ",)}[field]
                assert problems and all(p.startswith(tuple("%s: %s" % (name, f) for f in fields)) for p in problems), problems
                continue
            assert problems == []
            stack = catalog_stack(raw, dict(PLATFORM, endpoint_mode=rng.choice(["vip", "dnsrr"])), name=name)
            assert not list(stack_schema.iter_errors(stack))
            deploy = stack["services"][name]["deploy"]
            assert deploy["update_config"]["order"] == ("stop-first" if raw["stateful"] else "start-first")
            assert ("node.labels.gpu==true" in deploy["placement"]["constraints"]) == ("gpu" in raw)
            if "route" in raw:
                protected = raw["auth"]["policy"] != "bypass"
                assert ("traefik.http.routers.%s.middlewares" % name in deploy["labels"]) == protected
                assert deploy["labels"]["traefik.http.services.%s.loadbalancer.server.port" % name] == str(raw["route"]["port"])


class TestGpuServiceAssignments:
    """What the services play hands each GPU service: the GPU nodes' nvidia_gpu_assignment facts, merged."""

    def test_reads_the_gpu_nodes_facts(self):
        hostvars = {
            "m1": {"nvidia_gpu_assignment": {"node": "mslab-m1", "assignments": {}}},
            "w1": {"nvidia_gpu_assignment": {"node": "mslab-w1", "assignments": {"jellyfin": JELLYFIN_GPU}}},
            "w2": {},  # the nvidia role did not run there (--limit): nothing to say
        }
        merged = gpu_service_assignments(hostvars, ["m1", "w1", "w2"])
        assert merged == {"jellyfin": dict(JELLYFIN_GPU, node="mslab-w1")}
        svc = render("jellyfin", gpu_assignment=merged["jellyfin"])["services"]["jellyfin"]
        assert svc["environment"]["NVIDIA_VISIBLE_DEVICES"] == JELLYFIN_GPU["gpu_uuids"][0]
        assert "node.hostname == mslab-w1" in svc["deploy"]["placement"]["constraints"]

    def test_bad_fact_is_named(self):
        with pytest.raises(AnsibleFilterError, match="nvidia_gpu_assignment of w1 must be the nvidia role's"):
            gpu_service_assignments({"w1": {"nvidia_gpu_assignment": ["GPU-1"]}}, ["w1"])
        with pytest.raises(AnsibleFilterError, match="the assignment of jellyfin on w1"):
            gpu_service_assignments({"w1": {"nvidia_gpu_assignment": {"node": "w1", "assignments": {"jellyfin": 0}}}}, ["w1"])
