"""The catalog's per-app rules: client/API paths that bypass the portal, the zero-trust segments, host paths, QuickSync."""
from __future__ import annotations

import copy
import json
import re

import jsonschema
import pytest

from ansible_collections.mediastack.core.plugins.module_utils.catalog.access import authelia_rules, path_pattern
from ansible_collections.mediastack.core.plugins.module_utils.catalog.features import feature_problems, has_quicksync
from ansible_collections.mediastack.core.plugins.module_utils.catalog.model import CatalogError
from ansible_collections.mediastack.core.plugins.module_utils.catalog.parse import parse_service
from ansible_collections.mediastack.core.plugins.module_utils.catalog.plan import deploy_plan, node_matches
from ansible_collections.mediastack.core.plugins.module_utils.catalog.validate import validate_catalog

PLATFORM = {"domain": "media.example.org"}
EDGE = {"image": "traefik:v3.3.6", "networks": ["dmz", "media"], "placement": {"role": "manager"},
        "resources": {"cpus": 2, "memory": "1G"}}
SSO = {"image": "authelia/authelia:4.39.1", "networks": ["dmz", "data"], "placement": {"role": "manager"},
       "resources": {"cpus": 1, "memory": "512M"}, "route": {"subdomain": "auth", "port": 9091, "network": "dmz"},
       "auth": {"policy": "bypass"}, "forward_auth": {"port": 9091, "path": "/api/authz/forward-auth"}, "dependencies": {"redis": True}}
REDIS = {"image": "redis:7.4.2-alpine", "networks": ["data"], "placement": {"role": "data"}, "resources": {"cpus": 1, "memory": "1G"}}
SONARR = {"image": "lscr.io/linuxserver/sonarr:4.0.14", "networks": ["media"], "placement": {"role": "media"},
          "resources": {"cpus": 1, "memory": "1G"}, "route": {"subdomain": "sonarr", "port": 8989},
          "auth": {"policy": "two_factor", "groups": ["admins"], "bypass_paths": ["/api", "/feed/calendar"]}}
PHOTOPRISM = {"image": "photoprism/photoprism:250426", "networks": ["media"], "placement": {"role": "media"},
              "resources": {"cpus": 2, "memory": "4G"}, "quicksync": True, "route": {"subdomain": "photoprism", "port": 2342},
              "volumes": [{"kind": "config", "target": "/photoprism/storage"},
                          {"kind": "media", "source": "photos", "target": "/photoprism/originals", "read_only": True}],
              "backup_paths": ["/photoprism/storage"]}


def catalog(**more):
    out = {"traefik": EDGE, "authelia": SSO, "redis": REDIS, "sonarr": SONARR}
    out.update(more)
    return copy.deepcopy(out)


def problems_of(name, raw):
    with pytest.raises(CatalogError) as info:
        parse_service(name, raw, PLATFORM)
    return info.value.problems


class TestBypassPaths:
    @pytest.mark.parametrize("prefix,matches,misses", [
        ("/api", ["/api", "/api/v3/series", "/api?apikey=k"], ["/apiary", "/", "/web/api"]),
        ("/rest/", ["/rest/ping.view?u=x", "/rest"], ["/restore"]),
        ("/*/api", ["/1/api?t=caps", "/12/api/"], ["/api", "/1/2/api", "/1/apix"]),
        ("/:/", ["/:/timeline?x=1"], ["/library"]),
    ])
    def test_a_prefix_matches_the_path_and_its_children_only(self, prefix, matches, misses):
        pattern = re.compile(path_pattern(prefix))
        assert [p for p in matches if not pattern.match(p)] == []
        assert [p for p in misses if pattern.match(p)] == []

    def test_the_rules_let_the_apps_clients_past_the_portal_and_keep_the_ui_behind_it(self, shared_dir):
        services = [parse_service(n, r, PLATFORM) for n, r in catalog().items()]
        rules = authelia_rules(services, "media.example.org")
        host = ["sonarr.media.example.org"]
        bypass = {"domain": host, "resources": ["^/api([/?].*)?$", "^/feed/calendar([/?].*)?$"], "policy": "bypass"}
        protect = {"domain": host, "policy": "two_factor", "subject": ["group:admins"]}
        # Authelia takes the first rule that matches: the client paths' bypass precedes the group rule and its deny
        assert rules.index(bypass) < rules.index(protect) < rules.index({"domain": host, "policy": "deny"})
        schema = json.loads((shared_dir / "fixtures" / "schemas" / "authelia-v4.39-configuration.json").read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator(schema).validate({"access_control": {"default_policy": "deny", "rules": rules}})

    @pytest.mark.parametrize("auth,expected", [
        ({"bypass_paths": ["/"]}, "auth.bypass_paths entry '/' is not a URL path prefix"),
        ({"bypass_paths": ["api"]}, "auth.bypass_paths entry 'api' is not a URL path prefix"),
        ({"bypass_paths": ["/api v3"]}, "is not a URL path prefix"),
        ({"policy": "bypass", "bypass_paths": ["/api"]}, "auth.bypass_paths are only meaningful on a routed service behind the portal"),
    ])
    def test_bad_paths(self, auth, expected):
        raw = dict(copy.deepcopy(SONARR), auth=auth)
        assert any(expected in p for p in problems_of("sonarr", raw)), problems_of("sonarr", raw)


class TestSegments:
    def test_the_seed_shape_passes(self):
        assert validate_catalog(catalog(), PLATFORM) == []

    def test_an_app_on_the_dmz_is_refused(self):
        bad = dict(copy.deepcopy(SONARR), networks=["media", "dmz"])
        assert validate_catalog(catalog(sonarr=bad), PLATFORM) == [
            "sonarr: networks has dmz, the public-facing segment, which only the edge (traefik) and the SSO portal join; "
            "drop dmz: traefik reaches sonarr over route.network"]

    def test_data_needs_a_database_there(self):
        bad = dict(copy.deepcopy(SONARR), networks=["media", "data"])
        assert validate_catalog(catalog(sonarr=bad), PLATFORM) == [
            "sonarr: networks has data, the databases' segment, but sonarr uses no database there (dependencies postgres, "
            "redis or a service on data); drop data from networks or declare the dependency"]
        good = dict(bad, dependencies={"redis": True})
        assert validate_catalog(catalog(sonarr=good), PLATFORM) == []


class TestHostPaths:
    def test_system_paths_are_allowed(self):
        volumes = [{"kind": "host", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock"},
                   {"kind": "host", "source": "/dev/dri", "target": "/dev/dri"}]
        raw = dict(copy.deepcopy(SONARR), volumes=volumes)
        assert [v.source for v in parse_service("sonarr", raw, PLATFORM).volumes] == ["/var/run/docker.sock", "/dev/dri"]

    def test_a_media_folder_outside_the_storage_is_refused_with_the_library_kind_as_fix(self):
        raw = dict(copy.deepcopy(SONARR), volumes=[{"kind": "host", "source": "/mnt/nas/movies", "target": "/movies"}])
        (line,) = problems_of("sonarr", raw)
        assert line.startswith("sonarr: volumes[0].source host path /mnt/nas/movies is outside the platform's storage;")
        assert "{kind: media, source: movies, target: /movies}" in line and "common_library_root" in line


class TestQuickSync:
    def test_a_quicksync_service_is_pinned_not_a_stack(self):
        plan = deploy_plan(catalog(photoprism=PHOTOPRISM), PLATFORM)
        assert "photoprism" not in plan["order"] and plan["pinned"] == ["photoprism"]
        assert plan["quicksync"] == [{"service": "photoprism", "constraints": ["node.labels.type==media"]}]
        assert "photoprism" not in [c["service"] for c in plan["capacity"]]  # no Swarm task to reserve for
        assert "/srv/mediastack/config/photoprism" in [p["path"] for p in plan["host_paths"]]
        assert "photoprism" in [b["service"] for b in plan["backup"]]

    @pytest.mark.parametrize("change,expected", [
        ({"gpu": {"profiles": ["h264"]}}, "quicksync and gpu are both set"),
        ({"replicas": 2}, "quicksync services run as one container pinned to a QuickSync node"),
        ({"secrets": ["photoprism_admin_password"]}, "cannot read Docker secrets"),
    ])
    def test_bad(self, change, expected):
        raw = dict(copy.deepcopy(PHOTOPRISM), **change)
        assert any(expected in p for p in problems_of("photoprism", raw)), problems_of("photoprism", raw)

    def test_the_preflight_refuses_it_without_an_intel_igpu(self):
        plan = {"endpoint_mode": "dnsrr", "quicksync": [{"service": "photoprism", "constraints": ["node.labels.type==media"]}]}
        intel = {"pci_display": [{"slot": "0000:00:02.0", "vendor": "0x8086", "device": "0x9bc8", "class": "0x030000"}],
                 "render_nodes": ["/dev/dri/renderD128"]}
        nvidia = {"pci_display": [{"slot": "0000:01:00.0", "vendor": "0x10de", "device": "0x2204", "class": "0x030000"}],
                  "render_nodes": ["/dev/dri/renderD128"]}
        assert has_quicksync(intel) and not has_quicksync(nvidia) and not has_quicksync(dict(intel, render_nodes=[]))

        def nodes(w1, w2):
            return {"m1": {"role": "manager", "labels": {}, "quicksync": True},  # not a media node: does not count
                    "w1": {"role": "worker", "labels": {"type": "media"}, "quicksync": w1},
                    "w2": {"role": "worker", "labels": {"type": "media"}, "quicksync": w2}}
        assert feature_problems(plan, nodes(False, True), matches=node_matches) == []
        assert feature_problems(plan, nodes(False, None), matches=node_matches) == []  # w2 not read: it may have one
        assert feature_problems(plan, nodes(False, False), matches=node_matches) == [
            "photoprism: needs Intel QuickSync (quicksync: true), and no node it may run on has an Intel iGPU with a render "
            "node (w1, w2); it would never start. Run it on a node with one (placement), or drop quicksync (it then "
            "transcodes on the CPU), or disable the service"]


class TestGpuTotal:
    PLAN = {"endpoint_mode": "dnsrr",
            "gpu_requests": {"jellyfin": {"profiles": ["h264"], "count": 1}, "immich-ml": {"profiles": ["ml"], "count": 1}},
            "capacity": [{"service": "jellyfin", "constraints": ["node.labels.gpu==true"]},
                         {"service": "immich-ml", "constraints": ["node.labels.gpu==true"]}]}

    @staticmethod
    def nodes(w1, w2=0):
        return {"m1": {"role": "manager", "labels": {}, "gpus": 0},
                "w1": {"role": "worker", "labels": {"gpu": "true"}, "gpus": w1},
                "w2": {"role": "worker", "labels": {"gpu": "true"}, "gpus": w2}}

    def test_two_gpu_services_on_one_gpu_need_share(self):
        assert feature_problems(self.PLAN, self.nodes(1), matches=node_matches) == [
            "immich-ml, jellyfin: need 2 NVIDIA GPUs in all (nvidia_gpu_strategy spread gives each its own), and the GPU nodes "
            "have 1 (w1: 1, w2: 0); set nvidia_gpu_strategy: share to let them share, add a GPU, or disable one of them"]
        assert feature_problems(self.PLAN, self.nodes(1), matches=node_matches, gpu_strategy="share") == []
        assert feature_problems(self.PLAN, self.nodes(1, 1), matches=node_matches) == []  # the seed's GPU 0 and GPU 1
        assert feature_problems(self.PLAN, self.nodes(1, None), matches=node_matches) == []  # w2 not read
