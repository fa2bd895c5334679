"""Unit tests of the catalog model (module_utils/catalog/model.py): parsing, validation and its messages."""
from __future__ import annotations

import copy
import random

import pytest

from ansible_collections.mediastack.core.plugins.module_utils.catalog.model import CatalogError, Image, backup_volume, format_memory, parse_memory
from ansible_collections.mediastack.core.plugins.module_utils.catalog.parse import parse_service, platform_settings
from ansible_collections.mediastack.core.plugins.module_utils.catalog.stack import render_stack
from ansible_collections.mediastack.core.plugins.module_utils.catalog.validate import validate_catalog
from ansible_collections.mediastack.core.plugins.module_utils.catalog.placement import PlacementError, placement_constraints

BASE = {
    "image": "deluan/navidrome:0.55.2",
    "networks": ["media"],
    "placement": {"role": "media"},
    "resources": {"cpus": 2, "memory": "2G"},
    "route": {"subdomain": "music", "port": 4533},
}
EDGE = {"image": "traefik:v3.3.6", "networks": ["dmz", "media"], "placement": {"role": "manager"}, "resources": {"cpus": 2, "memory": "1G"},
        "ports": [{"target": 443, "published": 443, "mode": "host"}]}
PLATFORM = {"domain": "example.org"}


def one(**changes):
    raw = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return raw


def problems_of(raw, name="navidrome", platform=None):
    with pytest.raises(CatalogError) as info:
        parse_service(name, raw, platform)
    return info.value.problems


class TestImage:
    @pytest.mark.parametrize("image,version,repo,tag", [
        ("deluan/navidrome:0.55.2", None, "deluan/navidrome", "0.55.2"),
        ("deluan/navidrome", "0.55.2", "deluan/navidrome", "0.55.2"),
        ("registry.local:5000/team/app:1.0", None, "registry.local:5000/team/app", "1.0"),
        ("ghcr.io/advplyr/audiobookshelf:2.21.0", None, "ghcr.io/advplyr/audiobookshelf", "2.21.0"),
    ])
    def test_pinned(self, image, version, repo, tag):
        raw = one(image=image, version=version)
        svc = parse_service("navidrome", raw)
        assert (svc.image.repository, svc.image.tag) == (repo, tag)

    @pytest.mark.parametrize("image,version,match", [
        ("deluan/navidrome", None, "version is missing for image deluan/navidrome; pin a version"),
        ("deluan/navidrome:latest", None, "'latest' is a floating tag"),
        ("deluan/navidrome", "stable", "'stable' is a floating tag"),
        ("Deluan/Navidrome:1", None, "not a valid image repository"),
        ("deluan/navidrome:1.0", "2.0", "give the version once"),
    ])
    def test_unpinned_refused(self, image, version, match):
        problems = problems_of(one(image=image, version=version))
        assert any(p.startswith("navidrome: ") and match in p for p in problems), problems

    def test_digest(self):
        digest = "sha256:" + "a" * 64
        svc = parse_service("navidrome", one(image="deluan/navidrome:0.55.2@" + digest))
        assert svc.image.reference() == "deluan/navidrome:0.55.2@" + digest
        assert "digest must be sha256:" in problems_of(one(digest="md5:abc"))[0]

    @pytest.mark.parametrize("repo,registry,expected", [
        ("traefik", "mirror:5000", "mirror:5000/traefik:1"),
        ("deluan/navidrome", "mirror:5000/", "mirror:5000/deluan/navidrome:1"),
        ("ghcr.io/advplyr/audiobookshelf", "172.31.240.5:5000", "172.31.240.5:5000/advplyr/audiobookshelf:1"),
        ("localhost/x", "m.io", "m.io/x:1"),
    ])
    def test_registry_rewrite(self, repo, registry, expected):
        assert Image(repo, "1").reference(registry) == expected


class TestSizes:
    @pytest.mark.parametrize("text,size", [("8G", 8 << 30), ("512M", 512 << 20), ("1.5GiB", 3 << 29), ("100k", 102400), (4096, 4096), ("2gb", 2 << 30)])
    def test_parse(self, text, size):
        assert parse_memory(text) == size

    @pytest.mark.parametrize("text", ["8X", "", "-1G", "0", True, "G", None])
    def test_bad(self, text):
        with pytest.raises(ValueError):
            parse_memory(text)

    def test_roundtrip_random(self):
        rng = random.Random(7)
        for _case in range(300):
            size = rng.randint(1, 4096) * rng.choice([1, 1024, 1 << 20, 1 << 30])
            assert parse_memory(format_memory(size)) == size


class TestFieldProblems:
    @pytest.mark.parametrize("changes,field,fix", [
        ({"resources": None}, "resources", "give cpus and memory limits"),
        ({"resources": {"cpus": 2, "memory": "lots"}}, "resources.memory", "size such as 8G"),
        ({"resources": {"cpus": "two", "memory": "1G"}}, "resources.cpus", "positive number"),
        ({"resources": {"cpus": 1, "memory": "1G", "reserve_memory": "2G"}}, "resources.reserve_memory", "exceeds the memory limit"),
        ({"networks": ["lan"]}, "networks", "use one of media, admin, data, dmz"),
        ({"networks": []}, "networks", "at least one segment"),
        ({"placement": {"role": "gpu"}}, "placement", "not one of"),
        ({"ports": [{"target": 70000}]}, "ports[0].target", "integer from 1 to 65535"),
        ({"ports": [{"target": 80, "mode": "bridge"}]}, "ports[0].mode", "ingress, host"),
        ({"volumes": [{"kind": "config", "target": "config"}]}, "volumes[0].target", "absolute path"),
        ({"volumes": [{"kind": "data", "target": "/d", "source": "../etc"}]}, "volumes[0].source", "relative"),
        ({"volumes": [{"kind": "tmp", "target": "/d"}]}, "volumes[0].kind", "use one of"),
        ({"env": {"BAD NAME": "x"}}, "env.BAD NAME", "not a valid environment variable"),
        ({"route": {"subdomain": "Music!", "port": 4533}}, "route.subdomain", "one DNS label"),
        ({"route": {"subdomain": "music", "port": 4533, "network": "dmz"}}, "route.network", "not one of the service's networks"),
        ({"auth": {"policy": "three_factor"}}, "auth.policy", "bypass, one_factor, two_factor"),
        ({"auth": {"policy": "bypass", "groups": ["media"]}}, "auth.groups", "cannot restrict a bypass"),
        ({"gpu": {"profiles": ["h266"]}}, "gpu.profiles", "not a GPU profile"),
        ({"gpu": {"profiles": ["ml"]}, "placement": {"role": "media", "gpu": False}}, "placement.gpu", "requests a GPU"),
        ({"healthcheck": {"test": ["CMD", "true"], "interval": "often"}}, "healthcheck.interval", "duration"),
        ({"dependencies": {"postgres": {"database": "Bad-Name"}}}, "dependencies.postgres.database", "SQL identifier"),
        ({"imagee": "x"}, "imagee", "did you mean image?"),
        ({"stateful": "yes"}, "stateful", "true or false"),
        ({"replicas": -1}, "replicas", "integer from 0"),
        ({"volumes": [{"kind": "downloads", "target": "/downloads"}, {"kind": "media", "source": "tv", "target": "/tv"}]},
         "volumes", "{kind: library, target: /data}"),
    ])
    def test_named_problem(self, changes, field, fix):
        problems = problems_of(one(**changes))
        assert any(p.startswith("navidrome: %s " % field) and fix in p for p in problems), problems

    def test_all_problems_at_once(self):
        problems = problems_of(one(image="x", networks=["lan"], resources={"cpus": 0, "memory": "?"}))
        assert len(problems) >= 4

    def test_bad_name_and_shape(self):
        assert "Swarm service name" in problems_of(BASE, name="Navi Drome")[0]
        assert "must be a mapping" in problems_of(["image"])[-1]

    def test_gpu_implies_gpu_constraint(self):
        svc = parse_service("navidrome", one(gpu={"profiles": ["hevc"]}))
        assert svc.gpu.profiles == ["h265"]
        assert svc.constraints == ["node.labels.type==media", "node.labels.gpu==true"]


class TestPlatform:
    def test_defaults(self):
        settings = platform_settings(None)
        assert settings["endpoint_mode"] == "vip" and settings["storage_root"] == "/srv/mediastack"

    @pytest.mark.parametrize("platform,match", [
        ({"endpoint_mod": "vip"}, "did you mean endpoint_mode?"),
        ({"endpoint_mode": "round-robin"}, "vip, dnsrr"),
        ({"publish_mode": "bridge"}, "ingress, host"),
        ({"domain": "not a domain"}, "DNS name"),
        ({"reservation_ratio": 2}, "from 0 to 1"),
        ({"gpu_nodes": "w1"}, "list of names"),
        ({"storage_root": "srv"}, "absolute path"),
        ({"library_root": "library"}, "set common_library_root"),
        ("vip", "must be a mapping"),
    ])
    def test_bad(self, platform, match):
        with pytest.raises(CatalogError, match=match):
            platform_settings(platform)


class TestLibraryVolumes:
    """downloads/ and media/ share one filesystem below the library root; `library` binds both at once."""

    def volumes(self, volumes, platform=None):
        return render_stack(parse_service("sonarr", one(volumes=volumes)), platform or PLATFORM)["services"]["sonarr"]["volumes"]

    def test_one_library_mount_holds_downloads_and_media(self):
        assert self.volumes([{"kind": "library", "target": "/data"}]) == [
            {"type": "bind", "source": "/srv/mediastack/library", "target": "/data", "read_only": False}]

    def test_kinds_below_the_library_root(self):
        out = self.volumes([{"kind": "downloads", "source": "torrents", "target": "/downloads"},
                            {"kind": "media", "source": "tv", "target": "/tv", "read_only": True}],
                           dict(PLATFORM, library_root="/mnt/storage"))
        assert [v["source"] for v in out] == ["/mnt/storage/downloads/torrents", "/mnt/storage/media/tv"]

    def test_read_only_media_beside_downloads_is_allowed(self):
        svc = parse_service("sonarr", one(volumes=[{"kind": "downloads", "target": "/downloads"},
                                                   {"kind": "media", "target": "/media", "read_only": True}]))
        assert [v.kind for v in svc.volumes] == ["downloads", "media"]


class TestCatalog:
    def catalog(self):
        return {"traefik": copy.deepcopy(EDGE), "navidrome": one()}

    def test_valid(self):
        assert not validate_catalog(self.catalog(), PLATFORM)

    def test_unknown_service_names(self):
        out = validate_catalog(self.catalog(), PLATFORM, enabled=["navidrom", "traefik"], overrides={"trafik": {}})
        assert "enabled: unknown service name 'navidrom'; did you mean navidrome?" in out
        assert "overrides: unknown service name 'trafik'; did you mean traefik?" in out

    def test_disabled_service_not_checked(self):
        catalog = self.catalog()
        catalog["broken"] = {"image": "x", "enabled": False}
        assert not validate_catalog(catalog, PLATFORM)
        assert validate_catalog(catalog, PLATFORM, enabled=["broken"])

    def test_duplicate_subdomain(self):
        catalog = self.catalog()
        catalog["other"] = one()
        out = validate_catalog(catalog, PLATFORM)
        assert out == ["other: route.subdomain 'music' is already used by navidrome; choose another subdomain"]

    def test_host_port_clash(self):
        catalog = self.catalog()
        catalog["navidrome"]["ports"] = [{"target": 4533, "published": 443}]
        out = validate_catalog(catalog, PLATFORM)
        assert out == ["traefik: ports publishes host port 443/tcp, which navidrome already publishes; choose another published port"]
        catalog["navidrome"]["ports"] = [{"target": 4533, "published": 443, "protocol": "udp"}]
        assert not validate_catalog(catalog, PLATFORM)

    def test_gpu_without_gpu_node(self):
        catalog = self.catalog()
        catalog["navidrome"]["gpu"] = {"profiles": ["h264"]}
        out = validate_catalog(catalog, dict(PLATFORM, gpu_nodes=[]))
        assert len(out) == 1 and out[0].startswith("navidrome: gpu requests a GPU (profiles h264) but no Swarm node has one")
        assert not validate_catalog(catalog, dict(PLATFORM, gpu_nodes=["w1"]))
        assert not validate_catalog(catalog, PLATFORM)

    def test_missing_secret(self):
        catalog = self.catalog()
        catalog["navidrome"]["secrets"] = ["navidrome_key"]
        catalog["navidrome"]["networks"] = ["media", "data"]
        catalog["navidrome"]["dependencies"] = {"postgres": {}}
        catalog["postgres"] = {"image": "postgres:16.8-bookworm", "networks": ["data"], "resources": {"cpus": 2, "memory": "4G"}}
        out = validate_catalog(catalog, dict(PLATFORM, secrets=["navidrome_key"]))
        assert out == ["navidrome: secrets needs Docker secret 'navidrome_db_password', which is not defined; "
                       "add it to services_secrets in the vault (services_secrets.navidrome_db_password)"]

    def test_dependencies(self):
        catalog = self.catalog()
        catalog["navidrome"]["dependencies"] = {"redis": True, "services": ["traefik"]}
        out = validate_catalog(catalog, PLATFORM)
        assert out == ["navidrome: dependencies: unknown service name 'redis'; known services: navidrome, traefik (enable redis or drop the dependency)"]
        catalog["redis"] = {"image": "redis:7.4.2-alpine", "networks": ["data"], "resources": {"cpus": 2, "memory": "4G"}}
        out = validate_catalog(catalog, PLATFORM)
        assert out == ["navidrome: networks share no segment with its dependency redis (data); add one of them to navidrome's networks"]

    def test_route_network_not_on_edge(self):
        catalog = self.catalog()
        catalog["navidrome"]["networks"] = ["admin"]
        out = validate_catalog(catalog, PLATFORM)
        assert out == ["navidrome: route.network admin is not a network of traefik (dmz, media); add it to traefik's networks or route over one of those"]

    def test_routes_need_domain(self):
        out = validate_catalog({"navidrome": one()}, {})
        assert out == ["platform: domain is empty but the routed services (navidrome) need it; set the platform domain "
                       "(services_domain in the inventory), e.g. media.example.org"]

    def test_not_a_mapping(self):
        assert validate_catalog(["navidrome"]) == ["catalog: must be a mapping of service name to description, got list"]


class TestPlacementShared:
    def test_same_rules_as_filter(self):
        from ansible_collections.mediastack.core.plugins.filter.swarm_constraints import swarm_constraints
        rng = random.Random(11)
        for _case in range(200):
            needs = {"role": rng.choice(["media", "data", "manager", "worker", "any"])}
            for key in ("gpu", "ssd"):
                if rng.random() < 0.5:
                    needs[key] = rng.random() < 0.5
            assert placement_constraints(needs) == swarm_constraints(needs)

    def test_error_type(self):
        with pytest.raises(PlacementError, match="unknown placement key"):
            placement_constraints({"cpu": 1})


class TestGpuNetworkAnchor:
    """A GPU service with a generic-resource reservation brings a global anchor on its overlays."""

    def test_anchor_follows_the_gpu_service(self):
        stack = render_stack(parse_service("jellyfin", one(gpu={"profiles": ["h264"]})),
                             dict(PLATFORM, image_registry="mirror.lan:5000"))
        anchor = stack["services"]["jellyfin-netanchor"]
        assert anchor["image"] == "mirror.lan:5000/busybox:1.37.0"
        assert anchor["deploy"]["mode"] == "global"
        assert anchor["networks"] == stack["services"]["jellyfin"]["networks"] == ["media"]
        assert anchor["deploy"]["placement"]["constraints"] == ["node.labels.type==media", "node.labels.gpu==true"]
        assert "reservations" not in anchor["deploy"]["resources"]

    def test_no_anchor_without_reservation_or_when_disabled(self):
        shared = {"generic_resources": [], "env": {"NVIDIA_VISIBLE_DEVICES": "GPU-x"}}
        svc = parse_service("jellyfin", one(gpu={"profiles": ["h264"]}))
        assert list(render_stack(svc, PLATFORM, shared)["services"]) == ["jellyfin"]
        assert list(render_stack(svc, dict(PLATFORM, gpu_network_anchor_image=""))["services"]) == ["jellyfin"]
        assert list(render_stack(parse_service("navidrome", one()), PLATFORM)["services"]) == ["navidrome"]

    def test_anchor_image_override(self):
        svc = parse_service("jellyfin", one(gpu={"profiles": ["h264"]}))
        stack = render_stack(svc, dict(PLATFORM, image_overrides={"jellyfin-netanchor": "reg:5000/lab/base:abc"}))
        assert stack["services"]["jellyfin-netanchor"]["image"] == "reg:5000/lab/base:abc"


class TestBackupPaths:
    VOLUMES = [{"kind": "data", "target": "/data"}, {"kind": "cache", "target": "/cache"}, {"kind": "media", "target": "/music", "read_only": True}]

    def test_a_path_inside_a_volume_is_kept(self):
        svc = parse_service("navidrome", one(volumes=self.VOLUMES, backup_paths=["/data", "/data/db"]), PLATFORM)
        assert svc.backup_paths == ["/data", "/data/db"]
        assert backup_volume(svc, "/data/db").target == "/data"

    def test_a_path_outside_every_volume_names_the_volumes_and_the_fix(self):
        found = problems_of(one(volumes=self.VOLUMES, backup_paths=["/config"]), platform=PLATFORM)
        assert found == ["navidrome: backup_paths entry '/config' is not inside any of the service's volumes (/data, /cache, /music); "
                         "mount a volume there or drop the entry"]

    def test_a_prefix_that_is_not_a_parent_is_outside(self):
        found = problems_of(one(volumes=self.VOLUMES, backup_paths=["/database"]), platform=PLATFORM)
        assert len(found) == 1 and "'/database' is not inside any" in found[0]

    def test_a_cache_is_not_backed_up(self):
        found = problems_of(one(volumes=self.VOLUMES, backup_paths=["/cache/images"]), platform=PLATFORM)
        assert found == ["navidrome: backup_paths entry '/cache/images' is in the cache volume /cache; caches are rebuilt, "
                         "not backed up: drop the entry"]

    def test_the_deepest_volume_holds_the_path(self):
        volumes = [{"kind": "config", "target": "/config"}, {"kind": "data", "target": "/config/metadata"}]
        svc = parse_service("navidrome", one(volumes=volumes, backup_paths=["/config/metadata/x"]), PLATFORM)
        assert backup_volume(svc, "/config/metadata/x").kind == "data"
