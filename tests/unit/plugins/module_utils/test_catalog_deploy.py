"""Unit tests of the deploy plan (module_utils/catalog/plan.py) and its filters (filter/catalog_plan.py).

Behaviour on the seed catalog (roles/services/files/catalog-seed.yml): the deploy order puts dependencies
first, the plan names what each service needs before its stack (secrets, configs, databases, routes,
GPU), and each node gets the host directories of exactly the services its placement allows.
"""
from __future__ import annotations

import copy
import random
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.filter.catalog_plan import (
    catalog_backup_services, catalog_deploy_plan, catalog_gpu_nodes, catalog_host_paths, catalog_node_paths,
)
from ansible_collections.mediastack.core.plugins.module_utils.catalog.model import CatalogError
from ansible_collections.mediastack.core.plugins.module_utils.catalog.parse import parse_catalog, parse_service, platform_settings
from ansible_collections.mediastack.core.plugins.module_utils.catalog.stack import render_stack
from ansible_collections.mediastack.core.plugins.module_utils.catalog.plan import backup_services, deploy_order, deploy_plan, host_paths, node_matches

ROOT = Path(__file__).resolve().parents[4]
SEED = yaml.safe_load((ROOT / "roles" / "services" / "files" / "catalog-seed.yml").read_text(encoding="utf-8"))
ENABLED = ("traefik", "authelia", "redis", "postgres", "jellyfin", "navidrome", "audiobookshelf")
SECRETS = ["authelia_jwt_secret", "authelia_session_secret", "authelia_storage_encryption_key", "authelia_db_password",
           "postgres_password", "immich_db_password", "authelia_users",
           "grafana_admin_password",
           "funkwhale_db_password", "librephotos_db_password", "plex_claim_token"]  # authelia_users, grafana_admin_password: rendered by the services role
PLATFORM = {"domain": "media.example.org", "gpu_nodes": ["w1"], "secrets": SECRETS}
ROOTDIR = "/srv/mediastack"

# The nodes of a small cluster: their Swarm role and labels.
MEDIA_GPU = ("w1", "worker", {"type": "media", "gpu": "true"})
MEDIA_CPU = ("w2", "worker", {"type": "media"})
DATA_SSD = ("d1", "worker", {"type": "data", "ssd": "true"})
DATA_HDD = ("d2", "worker", {"type": "data"})
MANAGER = ("m1", "manager", {})


def seed():
    return copy.deepcopy(SEED)


def plan(catalog=None, platform=None, enabled=ENABLED, only=None):
    return deploy_plan(seed() if catalog is None else catalog, PLATFORM if platform is None else platform, enabled, only)


def problems(catalog=None, platform=None, enabled=ENABLED, only=None):
    with pytest.raises(CatalogError) as info:
        plan(catalog, platform, enabled, only)
    return info.value.problems


def custom(**changes):
    """A small valid description on the media segment."""
    raw = {"image": "ghcr.io/example/app:1.0.0", "networks": ["media"], "placement": {"role": "media"},
           "resources": {"cpus": 1, "memory": "512M"}}
    raw.update(changes)
    return raw


def paths_of(entries):
    return [e["path"] for e in entries]


def services_of(entries):
    return {e["service"] for e in entries}


class TestDeployOrder:
    def test_seed_order(self):
        assert plan()["order"] == ["audiobookshelf", "postgres", "redis", "authelia", "jellyfin", "navidrome", "traefik"]

    def test_dependencies_first(self):
        order = plan(enabled=None)["order"]
        for dep, svc in (("postgres", "authelia"), ("redis", "authelia"), ("postgres", "immich"), ("redis", "immich")):
            assert order.index(dep) < order.index(svc), (dep, svc, order)

    @pytest.mark.parametrize("enabled", [ENABLED, list(ENABLED) + ["immich", "immich-ml"]])
    def test_every_enabled_service_exactly_once(self, enabled):
        order = plan(enabled=enabled)["order"]
        assert sorted(order) == sorted(enabled)
        assert len(order) == len(set(order))

    def test_stable_whatever_the_input_order(self):
        expected = plan(enabled=None)["order"]
        rng = random.Random(7)
        for _case in range(20):
            names = list(SEED)
            rng.shuffle(names)
            catalog = {n: copy.deepcopy(SEED[n]) for n in names}
            enabled = list(names)
            rng.shuffle(enabled)
            assert plan(catalog, enabled=enabled)["order"] == expected
            assert plan(catalog, enabled=None)["order"] == expected

    def test_only_brings_its_dependencies_and_removes_nothing(self):
        out = plan(only=["authelia"])
        assert out["order"] == ["postgres", "redis", "authelia"]
        assert out["remove"] == []

    def test_only_without_dependencies(self):
        out = plan(only=["jellyfin"])
        assert out["order"] == ["jellyfin"]
        assert out["configs"] == [] and out["postgres"] == [] and out["secrets"] == []

    def test_full_plan_removes_disabled_services(self):
        assert plan()["remove"] == sorted(set(SEED) - set(ENABLED))
        assert plan(enabled=None)["remove"] == []
        catalog = seed()
        catalog["immich"]["enabled"] = False
        out = plan(catalog, enabled=None)
        assert out["remove"] == ["immich"] and "immich" not in out["order"]
        assert plan(enabled=ENABLED[:-1])["remove"] == sorted(set(SEED) - set(ENABLED[:-1]))
        assert "audiobookshelf" in plan(enabled=ENABLED[:-1])["remove"]

    def test_cycle_is_named(self):
        catalog = seed()
        catalog["alpha"] = custom(dependencies={"services": ["beta"]})
        catalog["beta"] = custom(dependencies={"services": ["alpha"]})
        out = problems(catalog, enabled=list(ENABLED) + ["alpha", "beta"])
        assert out == ["dependencies: cycle alpha -> beta -> alpha"]

    def test_longer_cycle_names_its_members_only(self):
        catalog = seed()
        catalog["alpha"] = custom(dependencies={"services": ["beta"]})
        catalog["beta"] = custom(dependencies={"services": ["gamma"]})
        catalog["gamma"] = custom(dependencies={"services": ["beta"]})
        out = problems(catalog, enabled=list(ENABLED) + ["alpha", "beta", "gamma"])
        assert out == ["dependencies: cycle beta -> gamma -> beta"]

    def test_custom_dependency_order(self):
        catalog = seed()
        catalog["alpha"] = custom(dependencies={"services": ["navidrome"]})
        order = plan(catalog, enabled=list(ENABLED) + ["alpha"], only=["alpha"])["order"]
        assert order == ["navidrome", "alpha"]

    def test_only_unknown_service(self):
        assert problems(only=["autelia"]) == ["only: unknown service name 'autelia'; did you mean authelia?"]

    def test_only_disabled_service(self):
        assert problems(only=["immich"]) == ["only: immich is not enabled; add it to the enabled services first"]

    def test_enabled_unknown_service(self):
        out = problems(enabled=list(ENABLED) + ["jelyfin"])
        assert out == ["enabled: unknown service name 'jelyfin'; did you mean jellyfin?"]

    def test_catalog_problems_stop_the_plan(self):
        catalog = seed()
        catalog["navidrome"]["image"] = "deluan/navidrome"
        catalog["audiobookshelf"]["route"]["subdomain"] = "jellyfin"
        out = problems(catalog)
        assert len(out) == 2, out
        assert "jellyfin: route.subdomain 'jellyfin' is already used by audiobookshelf; choose another subdomain" in out
        assert any(p.startswith("navidrome: version is missing for image deluan/navidrome") for p in out)

    def test_deploy_order_unknown_dependency(self):
        services, _unused = parse_catalog({"alpha": custom(dependencies={"services": ["navidrom"]}), "navidrome": custom()})
        with pytest.raises(CatalogError) as info:
            deploy_order(services, ["alpha"], platform_settings({}))
        assert info.value.problems == ["dependencies: unknown service name 'navidrom'; did you mean navidrome?"]


class TestPlanContents:
    def test_secrets(self):
        assert plan()["secrets"] == ["authelia_db_password", "authelia_jwt_secret", "authelia_session_secret",
                                     "authelia_storage_encryption_key", "authelia_users", "postgres_password"]
        assert "immich_db_password" in plan(enabled=None)["secrets"]
        # the users database (password digests) is a secret, never a config
        assert plan(only=["authelia"])["secrets"] == ["authelia_db_password", "authelia_jwt_secret", "authelia_session_secret",
                                                      "authelia_storage_encryption_key", "authelia_users", "postgres_password"]

    def test_configs(self):
        assert plan()["configs"] == ["authelia_configuration", "traefik_dynamic", "traefik_static"]
        assert plan(only=["traefik"])["configs"] == ["traefik_dynamic", "traefik_static"]
        assert plan(only=["authelia"])["configs"] == ["authelia_configuration"]

    def test_postgres(self):
        assert plan()["postgres"] == [{"service": "authelia", "database": "authelia", "user": "authelia",
                                       "password_secret": "authelia_db_password", "server": "postgres"}]
        immich = [p for p in plan(enabled=None)["postgres"] if p["service"] == "immich"]
        assert immich == [{"service": "immich", "database": "immich", "user": "immich", "password_secret": "immich_db_password",
                           "server": "postgres"}]

    def test_routes(self):
        assert plan()["routes"] == {
            "traefik": "traefik.media.example.org", "authelia": "auth.media.example.org", "jellyfin": "jellyfin.media.example.org",
            "navidrome": "music.media.example.org", "audiobookshelf": "audiobooks.media.example.org",
        }
        assert plan(enabled=None)["routes"]["immich"] == "photos.media.example.org"

    def test_routes_follow_the_domain(self):
        out = plan(platform=dict(PLATFORM, domain="home.example.net"))
        assert set(out["routes"].values()) == {"%s.home.example.net" % s for s in ("traefik", "auth", "jellyfin", "music", "audiobooks")}

    def test_gpu(self):
        assert plan()["gpu"] == ["jellyfin"]
        assert plan(enabled=None)["gpu"] == ["immich-ml", "jellyfin"]
        assert plan(only=["navidrome"])["gpu"] == []

    def test_gpu_requests_are_every_enabled_gpu_service_even_with_only(self):
        requests = {"jellyfin": {"profiles": ["h264", "h265", "av1"], "count": 1}}
        assert plan()["gpu_requests"] == requests
        # a partial run asks the nvidia role for the same GPUs as a full one (the advertised set must not change)
        assert plan(only=["navidrome"])["gpu_requests"] == requests
        assert plan(enabled=None)["gpu_requests"] == dict(requests, **{"immich-ml": {"profiles": ["ml"], "count": 1}})
        assert plan()["gpu_resource_kind"] == "NVIDIA-GPU"

    def test_gpu_service_without_gpu_node(self):
        out = problems(platform=dict(PLATFORM, gpu_nodes=[]))
        assert len(out) == 1 and out[0].startswith("jellyfin: gpu requests a GPU (profiles h264, h265, av1) but no Swarm node has one")

    def test_missing_secret(self):
        out = problems(platform=dict(PLATFORM, secrets=[s for s in SECRETS if s != "postgres_password"]))
        assert out == ["postgres: secrets needs Docker secret 'postgres_password', which is not defined; "
                       "add it to services_secrets in the vault (services_secrets.postgres_password)"]


class TestPlanHostPaths:
    def entries(self, service, platform=None):
        return [e for e in plan(platform=platform, enabled=None)["host_paths"] if e["service"] == service]

    @pytest.mark.parametrize("service,expected", [
        ("jellyfin", [("config", "/config/jellyfin"), ("cache", "/cache/jellyfin"), ("media", "/library/media/movies"), ("media", "/library/media/tv"),
                      ("media", "/library/media/music")]),
        ("audiobookshelf", [("config", "/config/audiobookshelf"), ("data", "/data/audiobookshelf/metadata"), ("media", "/library/media/audiobooks"),
                            ("media", "/library/media/podcasts")]),
        ("navidrome", [("data", "/data/navidrome"), ("media", "/library/media/music")]),
        ("postgres", [("data", "/data/postgres")]),
        ("immich", [("data", "/data/immich/upload"), ("media", "/library/media/photos")]),
        ("authelia", [("config", "/config/authelia")]),
    ])
    def test_kinds_map_to_storage_root(self, service, expected):
        assert [(e["kind"], e["path"]) for e in self.entries(service)] == [(k, ROOTDIR + p) for k, p in expected]

    def test_storage_root_setting(self):
        entries = self.entries("jellyfin", dict(PLATFORM, storage_root="/tank/ms/"))
        assert paths_of(entries)[:2] == ["/tank/ms/config/jellyfin", "/tank/ms/cache/jellyfin"]
        # the library follows the storage root unless it has a root of its own
        assert paths_of(entries)[2] == "/tank/ms/library/media/movies"

    def test_library_root_setting(self):
        entries = self.entries("jellyfin", dict(PLATFORM, library_root="/mnt/storage/"))
        assert paths_of(entries) == [ROOTDIR + "/config/jellyfin", ROOTDIR + "/cache/jellyfin", "/mnt/storage/media/movies",
                                     "/mnt/storage/media/tv", "/mnt/storage/media/music"]
        # shared: made to exist, owned by the common role
        assert {(e["owner"], e["mode"]) for e in entries if e["kind"] == "media"} == {(None, None)}

    def test_host_volumes_are_never_created(self):
        entries = self.entries("traefik")
        assert paths_of(entries) == [ROOTDIR + "/data/traefik/acme"]
        assert all(e["kind"] != "host" for e in plan(enabled=None)["host_paths"])
        assert "/var/run/docker.sock" not in paths_of(plan(enabled=None)["host_paths"])

    def test_owner_and_mode_follow_run_as_and_kind(self):
        for service in ("jellyfin", "navidrome", "audiobookshelf"):
            own = [e for e in self.entries(service) if e["kind"] != "media"]
            assert own and {(e["owner"], e["group"], e["mode"]) for e in own} == {(2000, 2000, "0750")}, service
        for service in ("traefik", "authelia", "postgres", "redis", "immich"):
            own = [e for e in self.entries(service) if e["kind"] != "media"]
            assert {(e["owner"], e["group"], e["mode"]) for e in own} <= {(None, None, "0755")}, service
        # Media libraries are the common role's (owner media, 0775): created if missing, never re-owned.
        media = [e for service in ("jellyfin", "navidrome", "audiobookshelf") for e in self.entries(service) if e["kind"] == "media"]
        assert media and {(e["owner"], e["group"], e["mode"]) for e in media} == {(None, None, None)}
        catalog = seed()
        catalog["navidrome"].update(puid=1500, pgid=1600)
        out = [e for e in plan(catalog)["host_paths"] if e["service"] == "navidrome" and e["kind"] != "media"]
        assert {(e["owner"], e["group"]) for e in out} == {(1500, 1600)}
        catalog["navidrome"]["run_as"] = "image"
        out = [e for e in plan(catalog)["host_paths"] if e["service"] == "navidrome" and e["kind"] != "media"]
        assert {(e["owner"], e["group"], e["mode"]) for e in out} == {(None, None, "0755")}

    def test_entries_carry_the_service_constraints(self):
        entries = self.entries("jellyfin")
        assert {tuple(e["constraints"]) for e in entries} == {("node.labels.type==media", "node.labels.gpu==true")}
        assert {tuple(e["constraints"]) for e in self.entries("postgres")} == {("node.labels.type==data", "node.labels.ssd==true")}


class TestNodeMatches:
    @pytest.mark.parametrize("constraints,labels,expected", [
        (["node.labels.type==media"], {"type": "media"}, True),
        (["node.labels.type==media"], {"type": "data"}, False),
        (["node.labels.type!=media"], {"type": "data"}, True),
        (["node.labels.type!=media"], {"type": "media"}, False),
        (["node.labels.type==media"], {}, False),
        (["node.labels.type!=media"], {}, True),
        (["node.labels.gpu==true"], {"gpu": True}, True),
        (["node.labels.gpu==true"], {"gpu": False}, False),
        (["node.labels.gpu==false"], {"gpu": False}, True),
        (["node.labels.gpu!=true"], {"gpu": False}, True),
        (["node.labels.gpu==True"], {"gpu": True}, False),
        (["node.labels.rack==3"], {"rack": 3}, True),
        (["node.labels.type == media"], {"type": "media"}, True),
        (["node.labels.type==media", "node.labels.gpu==true"], {"type": "media", "gpu": "true"}, True),
        (["node.labels.type==media", "node.labels.gpu==true"], {"type": "media"}, False),
        ([], {}, True),
    ])
    def test_labels(self, constraints, labels, expected):
        assert node_matches(constraints, "w1", "worker", labels) is expected

    @pytest.mark.parametrize("constraint,hostname,role,expected", [
        ("node.role==manager", "m1", "manager", True),
        ("node.role==manager", "w1", "worker", False),
        ("node.role!=manager", "w1", "worker", True),
        ("node.role==worker", "m1", "manager", False),
        ("node.hostname==m1", "m1", "manager", True),
        ("node.hostname==m1", "m2", "manager", False),
        ("node.hostname!=m1", "w1", "worker", True),
    ])
    def test_role_and_hostname(self, constraint, hostname, role, expected):
        assert node_matches([constraint], hostname, role, {}) is expected

    def test_role_is_not_a_label(self):
        assert node_matches(["node.role==manager"], "w1", "worker", {"role": "manager"}) is False

    @pytest.mark.parametrize("constraint", [
        "engine.labels.os==linux", "node.platform.os==linux", "node.labels.type=media", "node.labels.type==", "node.id==abc",
        "node.labels.type==media server",
    ])
    def test_unknown_form(self, constraint):
        with pytest.raises(CatalogError, match="is not one this planner understands"):
            node_matches([constraint], "w1", "worker", {"type": "media"})


class TestHostPathsPerNode:
    def node_paths(self, node, enabled=ENABLED):
        hostname, role, labels = node
        return host_paths(plan(enabled=enabled), hostname, role, labels)

    def test_media_gpu_node(self):
        entries = self.node_paths(MEDIA_GPU)
        assert services_of(entries) == {"jellyfin", "navidrome", "audiobookshelf"}
        assert ROOTDIR + "/config/jellyfin" in paths_of(entries)
        assert ROOTDIR + "/data/postgres" not in paths_of(entries)

    def test_media_node_without_gpu(self):
        entries = self.node_paths(MEDIA_CPU)
        assert services_of(entries) == {"navidrome", "audiobookshelf"}
        assert not [p for p in paths_of(entries) if "jellyfin" in p]
        assert ROOTDIR + "/library/media/music" in paths_of(entries)

    def test_data_ssd_node(self):
        entries = self.node_paths(DATA_SSD)
        assert paths_of(entries) == [ROOTDIR + "/data/postgres", ROOTDIR + "/data/redis"]
        assert services_of(entries) == {"postgres", "redis"}

    def test_data_node_without_ssd_runs_no_database(self):
        assert self.node_paths(DATA_HDD) == []

    def test_manager(self):
        entries = self.node_paths(MANAGER)
        assert paths_of(entries) == [ROOTDIR + "/config/authelia", ROOTDIR + "/data/traefik/acme"]
        assert self.node_paths(("m1", "worker", {})) == []

    def test_disabled_service_gets_no_directory(self):
        assert ROOTDIR + "/data/immich/upload" not in paths_of(self.node_paths(MEDIA_GPU))
        assert ROOTDIR + "/data/immich/upload" in paths_of(self.node_paths(MEDIA_GPU, enabled=None))

    def test_shared_directory_once_and_sorted(self):
        entries = self.node_paths(MEDIA_GPU)
        paths = paths_of(entries)
        assert paths == sorted(set(paths))
        assert paths.count(ROOTDIR + "/library/media/music") == 1

    def test_entry_shape(self):
        for entry in self.node_paths(MEDIA_GPU):
            assert set(entry) == {"path", "service", "kind", "owner", "group", "mode"}

    def test_boolean_labels(self):
        assert services_of(self.node_paths(("w1", "worker", {"type": "media", "gpu": True}))) == {"jellyfin", "navidrome", "audiobookshelf"}
        assert services_of(self.node_paths(("d1", "worker", {"type": "data", "ssd": True}))) == {"postgres", "redis"}


class TestFilters:
    def test_deploy_plan_filter(self):
        out = catalog_deploy_plan(seed(), PLATFORM, enabled=ENABLED, only=["authelia"])
        assert out["order"] == ["postgres", "redis", "authelia"]
        assert catalog_deploy_plan(seed(), PLATFORM, enabled=ENABLED) == plan()

    @pytest.mark.parametrize("only", ["authelia", {"authelia": True}, 3])
    def test_deploy_plan_only_must_be_a_list(self, only):
        with pytest.raises(AnsibleFilterError, match="only must be a list of service names"):
            catalog_deploy_plan(seed(), PLATFORM, enabled=ENABLED, only=only)

    def test_deploy_plan_filter_lists_problems(self):
        with pytest.raises(AnsibleFilterError) as info:
            catalog_deploy_plan(seed(), PLATFORM, enabled=list(ENABLED) + ["jelyfin"], only=["autelia"])
        assert str(info.value).startswith("catalog_deploy_plan: the service catalog cannot be deployed:\n  - ")
        assert "enabled: unknown service name 'jelyfin'; did you mean jellyfin?" in str(info.value)

    def test_host_paths_filter(self):
        hostname, role, labels = DATA_SSD
        assert catalog_host_paths(plan(), hostname, role, labels) == host_paths(plan(), hostname, role, labels)
        assert catalog_host_paths(plan(), "w9") == []

    @pytest.mark.parametrize("bad", [None, [], {"order": []}, "plan"])
    def test_host_paths_filter_needs_a_plan(self, bad):
        with pytest.raises(AnsibleFilterError, match="must be catalog_deploy_plan's result"):
            catalog_host_paths(bad, "w1")

    def test_host_paths_filter_bad_constraint(self):
        broken = {"host_paths": [{"path": "/x", "service": "x", "kind": "data", "owner": None, "group": None,
                                  "constraints": ["engine.labels.os==linux"]}]}
        with pytest.raises(AnsibleFilterError, match="catalog_host_paths: constraint 'engine.labels.os==linux'"):
            catalog_host_paths(broken, "w1")

    def test_node_paths(self):
        labels_by_host = {MEDIA_GPU[0]: MEDIA_GPU[2], DATA_SSD[0]: DATA_SSD[2], MANAGER[0]: None, "w2": {"type": "media"}}
        out = catalog_node_paths(plan(), labels_by_host, [MANAGER[0]])
        assert all(isinstance(pair, list) and len(pair) == 2 for pair in out)
        keys = [(host, entry["path"]) for host, entry in out]
        assert keys == sorted(keys)
        assert [h for h, _entry in out if h == "d1"] == ["d1", "d1"]
        by_host = {}
        for host, entry in out:
            by_host.setdefault(host, []).append(entry["path"])
        assert by_host["d1"] == [ROOTDIR + "/data/postgres", ROOTDIR + "/data/redis"]
        assert by_host["m1"] == [ROOTDIR + "/config/authelia", ROOTDIR + "/data/traefik/acme"]
        assert set(by_host) == {"d1", "m1", "w1", "w2"}
        assert not [p for p in by_host["w2"] if "jellyfin" in p]
        assert {ROOTDIR + "/config/jellyfin", ROOTDIR + "/cache/jellyfin"} <= set(by_host["w1"])

    def test_node_paths_without_managers(self):
        out = catalog_node_paths(plan(), {"m1": {}})
        assert out == []

    @pytest.mark.parametrize("bad", [["w1"], "w1", None, 3])
    def test_node_paths_bad_labels_by_host(self, bad):
        with pytest.raises(AnsibleFilterError, match="labels_by_host must map inventory hostnames"):
            catalog_node_paths(plan(), bad)

    def test_gpu_nodes(self):
        labels_by_host = {"w3": {"gpu": "True"}, "w1": {"gpu": "true", "type": "media"}, "w2": {"type": "media"},
                          "m1": None, "w4": {"gpu": True}, "w5": {"gpu": "false"}, "w6": {"gpu": " true "}}
        assert catalog_gpu_nodes(labels_by_host) == ["w1", "w3", "w4", "w6"]
        assert catalog_gpu_nodes({}) == []

    def test_gpu_nodes_feed_the_plan(self):
        """No GPU node in the inventory: the GPU services are refused before deploy, with the hosts' labels in mind."""
        platform = dict(PLATFORM, gpu_nodes=catalog_gpu_nodes({"w1": {"type": "media"}, "m1": {}}))
        with pytest.raises(AnsibleFilterError, match="jellyfin"):
            catalog_deploy_plan(seed(), platform, enabled=ENABLED)
        platform["gpu_nodes"] = catalog_gpu_nodes({"w1": {"type": "media", "gpu": "true"}})
        assert "jellyfin" in catalog_deploy_plan(seed(), platform, enabled=ENABLED)["order"]

    @pytest.mark.parametrize("bad, match", [(["w1"], "must map inventory hostnames"), (None, "must map inventory hostnames"),
                                            ({"w1": ["gpu=true"]}, "swarm_node_labels of w1 must be a mapping")])
    def test_gpu_nodes_bad_input(self, bad, match):
        with pytest.raises(AnsibleFilterError, match=match):
            catalog_gpu_nodes(bad)


class TestConfigsField:
    def test_parse(self):
        svc = parse_service("app", custom(configs=[{"source": "app_conf", "target": "/etc/app/app.yml"}]))
        assert svc.configs == [{"source": "app_conf", "target": "/etc/app/app.yml"}]
        assert parse_service("app", custom()).configs == []

    def test_render(self):
        svc = parse_service("app", custom(configs=[{"source": "app_conf", "target": "/etc/app/app.yml"}]))
        stack = render_stack(svc, {})
        assert stack["services"]["app"]["configs"] == [{"source": "app_conf", "target": "/etc/app/app.yml"}]
        assert stack["configs"] == {"app_conf": {"external": True, "name": "app_conf"}}
        stack = render_stack(svc, {"config_names": {"app_conf": "app_conf_v3"}})
        assert stack["configs"] == {"app_conf": {"external": True, "name": "app_conf_v3"}}
        assert stack["services"]["app"]["configs"] == [{"source": "app_conf", "target": "/etc/app/app.yml"}]

    def test_render_without_configs(self):
        stack = render_stack(parse_service("app", custom()), {})
        assert "configs" not in stack and "configs" not in stack["services"]["app"]

    def test_seed_configs(self):
        traefik = render_stack(parse_service("traefik", SEED["traefik"], PLATFORM), PLATFORM)
        assert traefik["services"]["traefik"]["configs"] == [
            {"source": "traefik_static", "target": "/etc/traefik/traefik.yml"},
            {"source": "traefik_dynamic", "target": "/etc/traefik/dynamic/tls.yml"},
        ]
        assert set(traefik["configs"]) == {"traefik_static", "traefik_dynamic"}
        authelia = parse_service("authelia", SEED["authelia"], PLATFORM)
        assert [c["source"] for c in authelia.configs] == ["authelia_configuration"]
        assert "authelia_users" in authelia.required_secrets()

    @pytest.mark.parametrize("configs,expected", [
        ([{"source": "app_conf", "target": "etc/app.yml"}], "app: configs[0].target must be an absolute path in the container, got 'etc/app.yml'"),
        ([{"source": "app_conf"}], "app: configs[0].target must be an absolute path in the container, got None"),
        ([{"source": "bad name!", "target": "/etc/app.yml"}],
         "app: configs[0].source must be a Docker config name such as traefik_static, got 'bad name!'"),
        ([{"source": "app_conf", "target": "/etc/a.yml"}, {"source": "b", "target": "b.yml"}],
         "app: configs[1].target must be an absolute path in the container, got 'b.yml'"),
        ([{"source": "app_conf", "target": "/etc/app.yml", "mode": "0440"}], "app: configs[0].mode is not a known field; use one of source, target"),
        ([{"source": "app_conf", "target": "/etc/app.yml", "sorce": "x"}], "app: configs[0].sorce is not a known field; did you mean source?"),
        ("app_conf", "app: configs must be a list, got 'app_conf'"),
        (["app_conf"], "app: configs[0] must be a mapping, got str"),
    ])
    def test_bad_entries(self, configs, expected):
        with pytest.raises(CatalogError) as info:
            parse_service("app", custom(configs=configs))
        assert expected in info.value.problems, info.value.problems

    def test_bad_entry_stops_the_plan(self):
        catalog = seed()
        catalog["traefik"]["configs"][0]["target"] = "traefik.yml"
        out = problems(catalog)
        assert out == ["traefik: configs[0].target must be an absolute path in the container, got 'traefik.yml'"]


# ------------------------------------------------------------------ preflight: the plan against the nodes' facts

from ansible_collections.mediastack.core.plugins.filter.catalog_plan import (  # noqa: E402
    catalog_capacity_problems, catalog_plan_problems)
from ansible_collections.mediastack.core.plugins.module_utils.catalog.plan import capacity_problems  # noqa: E402


def nodes(cpus=16, memory_mb=65536, free_gib=500.0):
    return {name: {"role": role, "labels": labels, "cpus": cpus, "memory_mb": memory_mb, "free_gib": free_gib}
            for name, role, labels in (MEDIA_GPU, MEDIA_CPU, DATA_SSD, MANAGER)}


def test_the_plan_carries_each_services_demands():
    capacity = {c["service"]: c for c in plan()["capacity"]}
    assert set(capacity) == set(ENABLED)
    assert capacity["jellyfin"]["cpus"] == 4  # the seed's resource table
    assert capacity["jellyfin"]["reserve_memory"] == int(8 * 1024 ** 3 * 0.25)
    assert "node.labels.gpu==true" in capacity["jellyfin"]["constraints"]


def test_big_enough_nodes_have_no_capacity_problem():
    assert capacity_problems(plan(), nodes()) == []


def test_a_cpu_limit_above_every_allowed_node_is_refused_naming_the_nodes():
    small = nodes()
    small["w1"]["cpus"] = 2  # the only GPU media node; jellyfin asks for 4
    out = capacity_problems(plan(), small)
    assert len(out) == 1, out
    assert out[0].startswith("jellyfin: resources.cpus 4 is more than every node it may run on has (w1: 2 CPUs, 65536 MiB)")
    assert "services_catalog_overrides: {jellyfin: {resources: {cpus: N}}}" in out[0]


def test_a_bigger_node_elsewhere_does_not_help_a_service_that_cannot_go_there():
    small = nodes()
    small["w1"]["cpus"] = 2
    small["m1"]["cpus"] = 64  # a manager: jellyfin may not run there
    assert [p.split(":")[0] for p in capacity_problems(plan(), small)] == ["jellyfin"]


def test_a_memory_reservation_no_node_can_hold():
    out = capacity_problems(plan(), nodes(memory_mb=1024))
    assert any(p.startswith("jellyfin: reserves 2048 MiB of memory, more than any node it may run on has") for p in out), out


def test_free_disk_at_the_storage_root():
    out = capacity_problems(plan(), nodes(free_gib=1.5), min_free_gib=5)
    assert len(out) == 4 and out[0] == ("d1: only 1.5 GiB free on the filesystem of /srv/mediastack (at least 5 GiB wanted); "
                                        "free space or lower common_data_root_min_free_gib"), out


def test_the_filter_reads_facts_and_the_mount_that_holds_the_storage_root():
    facts = {"processor_vcpus": 2, "memtotal_mb": 65536,
             "mounts": [{"mount": "/", "size_available": 100 * 1024 ** 3}, {"mount": "/srv", "size_available": 1024 ** 3}]}
    hostvars = {name: {"ansible_facts": facts, "swarm_node_labels": labels} for name, _role, labels in (MEDIA_GPU, DATA_SSD, MANAGER)}
    out = catalog_capacity_problems(plan(), hostvars, ["w1", "d1", "m1"], ["m1"], min_free_gib=5)
    assert any(p.startswith("jellyfin: resources.cpus 4") for p in out), out
    assert "m1: only 1.0 GiB free on the filesystem of /srv/mediastack" in "\n".join(out)
    with pytest.raises(AnsibleFilterError, match="catalog_deploy_plan's result"):
        catalog_capacity_problems({}, hostvars, ["w1"])


def test_plan_problems_lists_what_the_plan_would_refuse():
    assert catalog_plan_problems(seed(), PLATFORM, enabled=list(ENABLED)) == []
    out = catalog_plan_problems(seed(), {**PLATFORM, "domain": ""}, enabled=list(ENABLED))
    assert out and out[0].startswith("platform: domain is empty") and "services_domain" in out[0]


class TestBackupServices:
    """The catalog's backup consumer: backup_paths as host paths per class, for the nodes that may hold them."""

    def plan(self, catalog=None, enabled=ENABLED):
        return deploy_plan(catalog or seed(), PLATFORM, enabled=list(enabled))

    def test_every_node_backs_up_exactly_the_services_it_may_run(self):
        plan = self.plan()
        for hostname, role, labels in (MEDIA_GPU, MEDIA_CPU, DATA_SSD, DATA_HDD, MANAGER):
            got = {s["name"] for s in backup_services(plan, hostname, role, labels)["services"]}
            want = {e["service"] for e in plan["backup"]
                    if (e["paths"] or e.get("databases")) and node_matches(e["constraints"], hostname, role, labels)}
            runs = {p["service"] for p in host_paths(plan, hostname, role, labels)}
            assert got == want and got <= runs, (hostname, got, want, runs)
        assert {s["name"] for s in backup_services(plan, *MEDIA_GPU)["services"]} == {"audiobookshelf", "jellyfin", "navidrome"}
        assert {s["name"] for s in backup_services(plan, *MEDIA_CPU)["services"]} == {"audiobookshelf", "navidrome"}
        assert backup_services(plan, *DATA_HDD)["services"] == []

    def test_container_paths_become_host_paths_and_the_volume_kind_gives_the_class(self):
        by_name = {s["name"]: s["paths"] for s in backup_services(self.plan(), *MEDIA_GPU)["services"]}
        assert by_name["jellyfin"] == {"config": [ROOTDIR + "/config/jellyfin"]}
        assert by_name["audiobookshelf"] == {"config": [ROOTDIR + "/config/audiobookshelf"],
                                             "metadata": [ROOTDIR + "/data/audiobookshelf/metadata"]}
        assert by_name["navidrome"] == {"metadata": [ROOTDIR + "/data/navidrome"]}

    def test_a_path_below_the_volume_target_keeps_its_rest(self):
        catalog = seed()
        catalog["jellyfin"]["backup_paths"] = ["/config/data/library.db"]
        by_name = {s["name"]: s["paths"] for s in backup_services(self.plan(catalog), *MEDIA_GPU)["services"]}
        assert by_name["jellyfin"] == {"config": [ROOTDIR + "/config/jellyfin/data/library.db"]}

    def test_the_storage_root_of_the_platform_is_used(self):
        plan = deploy_plan(seed(), dict(PLATFORM, storage_root="/tank/ms"), enabled=list(ENABLED))
        paths = [p for s in backup_services(plan, *MEDIA_GPU)["services"] for ps in s["paths"].values() for p in ps]
        assert paths and all(p.startswith("/tank/ms/") for p in paths), paths

    def test_the_live_postgres_data_directory_is_reported_not_copied_and_its_databases_are_dumped(self):
        from ansible_collections.mediastack.core.plugins.filter.backup_plan import backup_plan

        result = backup_services(self.plan(), *DATA_SSD)
        assert [s["name"] for s in result["services"]] == ["postgres", "redis"]
        assert [(s["service"], s["path"]) for s in result["not_backed_up"]] == [("postgres", ROOTDIR + "/data/postgres")]
        assert "not a consistent backup" in result["not_backed_up"][0]["reason"]
        postgres = result["services"][0]
        # every database an enabled service declares, dumped in the running task of the Swarm service postgres_postgres
        assert postgres == {"name": "postgres", "paths": {},
                            "databases": [{"name": "authelia", "swarm_service": "postgres_postgres"}]}
        plan = backup_plan(result["services"], dump_dir="/var/backups/ms")
        assert plan["classes"]["databases"]["postgres"] == [
            {"database": "authelia", "swarm_service": "postgres_postgres", "user": "postgres", "service": "postgres",
             "file": "/var/backups/ms/postgres/postgres/authelia.dump"}]
        assert plan["postgres_servers"] == [{"swarm_service": "postgres_postgres", "user": "postgres",
                                             "globals_file": "/var/backups/ms/postgres/globals-postgres_postgres.sql"}]
        assert plan["classes"]["databases"]["paths"] == ["/var/backups/ms/postgres"]
        # a node that may not run Postgres dumps nothing of it
        assert "postgres" not in [s["name"] for s in backup_services(self.plan(), *MEDIA_GPU)["services"]]

    def test_the_result_feeds_the_backup_roles_plan(self):
        from ansible_collections.mediastack.core.plugins.filter.backup_plan import backup_plan

        services = catalog_backup_services(self.plan(), *MEDIA_GPU)["services"]
        classes = backup_plan(services)["classes"]
        assert sorted(classes) == ["config", "metadata"]
        assert classes["config"]["paths"] == [ROOTDIR + "/config/audiobookshelf", ROOTDIR + "/config/jellyfin"]

    def test_the_filter_refuses_something_that_is_not_a_plan(self):
        with pytest.raises(AnsibleFilterError, match="catalog_deploy_plan's result"):
            catalog_backup_services({"order": []}, "w1")
