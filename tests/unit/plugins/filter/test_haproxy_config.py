"""Unit tests of haproxy_config (module_utils/edge/haproxy.py): rendering from the catalog and every bad input.

The seed catalog's rendering, with DNS discovery and with explicit servers, passes ``haproxy -c``
(skipped with a reason where the haproxy binary is absent). The behaviour of the rendered
configuration on a running haproxy is tested in tests/integration/haproxy.
"""
from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.filter.haproxy_config import FilterModule, haproxy_config
from ansible_collections.mediastack.core.plugins.module_utils.catalog.parse import parse_catalog
from ansible_collections.mediastack.core.plugins.module_utils.edge.haproxy import HaproxyConfigError, render_haproxy

ROOT = Path(__file__).resolve().parents[4]
# The services the services role enables by default (the figures below are theirs; every app renders the same way).
ENABLED = yaml.safe_load((ROOT / "roles" / "services" / "defaults" / "main.yml").read_text(encoding="utf-8"))["services_enabled"]
SEED = {name: entry for name, entry in yaml.safe_load((ROOT / "roles" / "services" / "files" / "catalog-seed.yml").read_text(
    encoding="utf-8")).items() if name in ENABLED or name == "immich"}
PLATFORM = {"domain": "media.example.org"}
ROUTED = ["audiobookshelf", "authelia", "immich", "jellyfin", "navidrome"]  # traefik routes to api@internal
SERVERS = {"jellyfin": ["10.0.0.11:8096", "10.0.0.12:8096"], "navidrome": ["10.0.0.11:4533"], "audiobookshelf": ["127.0.0.1:13378"],
           "authelia": ["[fd00::5]:9091"], "immich": ["localhost:2283"], "grafana": ["10.0.0.12:3000"]}
HAPROXY = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").is_file() else None)


def render(settings=None, catalog=None, **kwargs):
    kwargs.setdefault("platform", PLATFORM)
    return haproxy_config(SEED if catalog is None else catalog, {} if settings is None else settings, **kwargs)


def backend(text, name):
    """The lines of ``backend be_<name>``."""
    lines = text.splitlines()
    start = lines.index("backend be_%s" % name)
    out = []
    for line in lines[start + 1:]:
        if not line.startswith("    "):
            break
        out.append(line.strip())
    return out


def problems(settings=None, catalog=None, **kwargs):
    with pytest.raises(AnsibleFilterError) as err:
        render(settings, catalog, **kwargs)
    assert str(err.value).startswith("haproxy_config: ")
    cause = err.value.__cause__
    if cause is None:
        return [str(err.value)[len("haproxy_config: "):]]
    assert str(err.value).startswith("haproxy_config: " + "; ".join(cause.problems))
    return cause.problems


def with_service(name, **changes):
    catalog = copy.deepcopy(SEED)
    catalog[name].update(changes)
    return catalog


class TestRender:
    def test_filter_is_registered(self):
        assert FilterModule().filters() == {"haproxy_config": haproxy_config}

    def test_global_and_defaults(self):
        text = render()
        lines = [line.strip() for line in text.splitlines()]
        assert text.startswith("global\n    log stdout format raw local0\n")
        for line in ("mode http", "option redispatch", "retries 3", "option forwardfor", "log global", "timeout connect 5s",
                     "timeout server 60s", "timeout tunnel 1h"):
            assert line in lines, line
        assert "stats socket" not in text

    def test_stats_frontend_serves_prometheus(self):
        text = render()
        assert "frontend fe_stats\n    bind :8404\n    http-request use-service prometheus-exporter if { path /metrics }\n" in text
        assert render({"stats_port": 9101}).count("bind :9101") == 1

    def test_one_frontend_routes_by_host_to_one_backend_per_routed_service(self):
        text = render()
        assert text.count("\nfrontend ") == 2
        assert "frontend fe_http\n    bind :8080\n" in text
        assert "http-request set-var(txn.host) req.hdr(host),field(1,:),lower" in text
        for name in ROUTED:
            sub = SEED[name]["route"]["subdomain"]
            assert "    use_backend be_%s if { var(txn.host) -m str %s.media.example.org }\n" % (name, sub) in text
            assert "\nbackend be_%s\n" % name in text
        # Unrouted services (redis, postgres) and Traefik's internal dashboard route get no backend.
        for name in ("redis", "postgres", "traefik"):
            assert "be_%s" % name not in text
        assert "default_backend be_no_route" in text
        assert 'http-request return status 404' in "\n".join(backend(text, "no_route"))

    def test_stateless_backend_is_round_robin_without_cookie(self):
        lines = backend(render(), "navidrome")
        assert lines[0] == "balance roundrobin"
        assert not any(line.startswith("cookie") for line in lines)

    def test_stateful_backend_inserts_a_sticky_cookie(self):
        for name in ("jellyfin", "immich", "audiobookshelf"):
            lines = backend(render(), name)
            assert lines[0] == "balance roundrobin"
            assert "cookie MSSRV insert indirect nocache httponly dynamic" in lines
            assert "dynamic-cookie-key mediastack-%s" % name in lines
        lines = backend(render({"servers": SERVERS, "cookie_key": "s3cr3t"}), "jellyfin")
        assert "cookie MSSRV insert indirect nocache httponly" in lines
        assert not any("dynamic" in line for line in lines)
        assert lines[-2:] == ["server jellyfin1 10.0.0.11:8096 check cookie jellyfin1", "server jellyfin2 10.0.0.12:8096 check cookie jellyfin2"]
        assert "dynamic-cookie-key s3cr3t-immich" in backend(render({"cookie_key": "s3cr3t"}), "immich")

    def test_health_checks_every_10s_fall_2(self):
        text = render()
        for name in ROUTED:
            lines = backend(text, name)
            assert "option httpchk" in lines
            assert "http-check expect status 200-399" in lines
            assert "default-server inter 10s fall 2 rise 2" in lines
        assert "http-check send meth GET uri /health ver HTTP/1.1 hdr Host jellyfin.media.example.org" in backend(text, "jellyfin")

    def test_health_path_default_override_and_from_the_service_healthcheck(self):
        def path(text, name):
            return [line.split()[5] for line in backend(text, name) if line.startswith("http-check send")][0]
        text = render()
        # The path of the service's own HTTP healthcheck on its routed port, else the default /health.
        assert (path(text, "navidrome"), path(text, "audiobookshelf"), path(text, "jellyfin")) == ("/ping", "/healthcheck", "/health")
        assert path(text, "authelia") == path(text, "immich") == "/health"
        text = render({"health_path": "/healthz", "health_paths": {"authelia": "/api/health", "navidrome": "/rest/ping"}})
        assert (path(text, "authelia"), path(text, "navidrome"), path(text, "immich"), path(text, "audiobookshelf")) == \
            ("/api/health", "/rest/ping", "/healthz", "/healthcheck")
        # A healthcheck URL on another port than the route's is not the routed service's health.
        catalog = with_service("navidrome", healthcheck={"test": ["CMD", "wget", "-qO-", "http://localhost:9999/ping"]})
        assert path(render(catalog=catalog), "navidrome") == "/health"

    def test_swarm_discovery_by_dns(self):
        text = render()
        assert "resolvers docker\n    nameserver dns 127.0.0.11:53\n" in text
        assert "    hold valid 10s\n" in text
        assert backend(text, "jellyfin")[-1] == ("server-template jellyfin 4 tasks.jellyfin_jellyfin:8096 check resolvers docker "
                                                 "init-addr none resolve-prefer ipv4")
        assert backend(text, "navidrome")[-1].startswith("server-template navidrome 4 tasks.navidrome_navidrome:4533 check resolvers docker")

    def test_server_slots(self):
        catalog = with_service("navidrome", replicas=3)
        assert backend(render(catalog=catalog), "navidrome")[-1].startswith("server-template navidrome 6 ")
        assert backend(render({"server_slots": 10}), "jellyfin")[-1].startswith("server-template jellyfin 10 ")
        text = render({"server_slots": {"immich": 2}})
        assert backend(text, "immich")[-1].startswith("server-template immich 2 ")
        assert backend(text, "jellyfin")[-1].startswith("server-template jellyfin 4 ")

    def test_service_name_format(self):
        line = backend(render({"service_name_format": "mediastack_{name}"}), "jellyfin")[-1]
        assert " tasks.mediastack_jellyfin:8096 " in line

    def test_explicit_servers_replace_discovery(self):
        text = render({"servers": SERVERS})
        assert "resolvers docker" not in text and "server-template" not in text
        assert backend(text, "navidrome")[-1] == "server navidrome1 10.0.0.11:4533 check"
        assert backend(text, "authelia")[-1] == "server authelia1 [fd00::5]:9091 check"
        # One service listed, the others still discovered.
        text = render({"servers": {"navidrome": "10.0.0.11:4533"}})
        assert backend(text, "navidrome")[-1] == "server navidrome1 10.0.0.11:4533 check"
        assert "resolvers docker" in text and "server-template jellyfin 4" in text

    def test_bind_address_and_ports(self):
        text = render({"bind_address": "127.0.0.1", "frontend_port": 80, "stats_port": 9000, "stats_socket": "/run/haproxy/admin.sock"})
        assert "    bind 127.0.0.1:80\n" in text and "    bind 127.0.0.1:9000\n" in text
        assert "    stats socket /run/haproxy/admin.sock mode 600 level admin\n" in text
        assert "    bind [::1]:8080\n" in render({"bind_address": "::1"})

    def test_timeouts(self):
        text = render({"timeouts": {"server": "5m", "connect": 2000}})
        assert "    timeout server 5m\n" in text and "    timeout connect 2000\n" in text and "    timeout client 60s\n" in text

    def test_domain_from_settings_or_platform(self):
        assert "jellyfin.other.example.net" in render({"domain": "other.example.net"})
        assert "jellyfin.media.example.org" in render({"domain": None})

    def test_enabled(self):
        text = render(enabled=["jellyfin", "redis"])
        assert "be_jellyfin" in text and "be_navidrome" not in text
        text = render(catalog=with_service("navidrome", enabled=False))
        assert "be_navidrome" not in text and "be_jellyfin" in text

    def test_no_routed_service(self):
        text = render(enabled=["redis"], platform={})
        assert "use_backend" not in text and "default_backend be_no_route" in text

    def test_render_haproxy_directly(self):
        services, errors = parse_catalog(SEED, PLATFORM)
        assert errors == []
        assert render_haproxy(services, {"domain": "media.example.org"}) == render()

    def test_deterministic(self):
        reordered = dict(reversed(list(SEED.items())))
        assert render(catalog=reordered) == render()


class TestProblems:
    def test_error_type_lists_problems(self):
        services, _unused = parse_catalog(SEED, PLATFORM)
        with pytest.raises(HaproxyConfigError) as err:
            render_haproxy(services, {"domain": "media.example.org", "frontend_prot": 80, "stats_port": 0})
        assert isinstance(err.value, ValueError)
        assert len(err.value.problems) == 2
        assert str(err.value) == "\n".join(err.value.problems)

    def test_unknown_setting_did_you_mean(self):
        assert problems({"frontend_prot": 80}) == ["haproxy: unknown setting 'frontend_prot'; did you mean frontend_port?"]
        assert problems({"zzz": 1})[0].startswith("haproxy: unknown setting 'zzz'; use one of bind_address, cookie_key, ")

    @pytest.mark.parametrize("value", [0, 65536, -1, "8080", True, 80.5])
    def test_port_out_of_range(self, value):
        assert problems({"frontend_port": value}) == [
            "haproxy: frontend_port must be a TCP port from 1 to 65535, got %r; set frontend_port to a free port such as 8080" % (value,)]
        assert problems({"stats_port": value})[0].startswith("haproxy: stats_port must be a TCP port from 1 to 65535")

    def test_ports_clash(self):
        assert problems({"frontend_port": 8404}) == [
            "haproxy: frontend_port and stats_port are both 8404; give the stats frontend another port (default 8404)"]

    def test_servers_for_a_service_that_is_not_routed(self):
        assert problems({"servers": {"jelyfin": ["10.0.0.1:8096"]}}) == [
            "haproxy: servers names 'jelyfin', which is not a routed, enabled service of the catalog; did you mean jellyfin?"]
        for name in ("redis", "traefik"):  # no route; a route to Traefik's api@internal
            assert problems({"servers": {name: ["10.0.0.1:80"]}})[0].startswith(
                "haproxy: servers names %r, which is not a routed, enabled service of the catalog; " % name)
        assert problems({"servers": {"navidrome": ["10.0.0.1:4533"]}}, enabled=["jellyfin"]) == [
            "haproxy: servers names 'navidrome', which is not a routed, enabled service of the catalog; routed services: jellyfin"]
        assert problems({"servers": ["10.0.0.1:80"]}) == ["haproxy: servers must be a mapping of service name to value, got list"]

    @pytest.mark.parametrize("value", [[], (), None, {}])
    def test_empty_server_list(self, value):
        if value is None:  # null leaves the default (DNS discovery) for the whole setting
            assert "server-template" in render({"servers": value})
            value = []
        assert problems({"servers": {"jellyfin": value}}) == [
            "haproxy: servers.jellyfin is an empty server list; list the replicas as host:port (e.g. [10.0.0.5:8096]) "
            "or drop jellyfin to find them by DNS"]

    @pytest.mark.parametrize("entry", ["10.0.0.1", "10.0.0.1:0", "10.0.0.1:99999", "bad host:80", "[zz::1]:80", ":80", 8096, "fd00::1:80"])
    def test_bad_server_address(self, entry):
        found = problems({"servers": {"jellyfin": [entry]}})
        assert len(found) == 1 and found[0].startswith("haproxy: servers.jellyfin entry %r " % (entry,))
        assert found[0].endswith("write it as host:port, e.g. 10.0.0.5:8096 or [fd00::5]:8096")

    def test_duplicate_server(self):
        assert problems({"servers": {"jellyfin": ["10.0.0.1:8096", "10.0.0.1:8096"]}}) == [
            "haproxy: servers.jellyfin lists 10.0.0.1:8096 more than once; list each replica once"]

    def test_two_services_share_a_subdomain(self):
        catalog = with_service("navidrome", route={"subdomain": "jellyfin", "port": 4533})
        assert problems(catalog=catalog) == [
            "navidrome: route.subdomain 'jellyfin' is already used by jellyfin; two backends cannot share one host, choose another subdomain"]

    def test_domain(self):
        assert problems(platform={}) == [
            "haproxy: domain is empty but the routed services (audiobookshelf, authelia, grafana, immich, jellyfin, navidrome) need it; "
            "set domain (or the platform domain), e.g. media.example.org"]
        assert problems({"domain": "Not A Domain"}) == ["haproxy: domain 'Not A Domain' is not a DNS name; set domain to e.g. media.example.org"]

    def test_bind_address(self):
        assert problems({"bind_address": "localhost"}) == [
            "haproxy: bind_address 'localhost' is not an IP address; leave it empty to listen on every address or set e.g. 127.0.0.1"]

    def test_stats_socket(self):
        assert problems({"stats_socket": "admin.sock"})[0].startswith("haproxy: stats_socket must be an absolute path such as /run/haproxy/admin.sock")

    @pytest.mark.parametrize("value", ["health", "/he alth", "", 5])
    def test_health_paths(self, value):
        assert problems({"health_path": value}) == [
            "haproxy: health_path must be an URL path starting with / and without spaces, got %r; e.g. /health" % (value,)]
        assert problems({"health_paths": {"navidrome": value}}) == [
            "haproxy: health_paths.navidrome must be an URL path starting with / and without spaces, got %r; e.g. /health" % (value,)]

    def test_health_paths_names_a_routed_service(self):
        assert problems({"health_paths": {"navidrom": "/ping"}}) == [
            "haproxy: health_paths names 'navidrom', which is not a routed, enabled service of the catalog; did you mean navidrome?"]

    @pytest.mark.parametrize("value", [0, 1025, "4", True])
    def test_server_slots(self, value):
        assert problems({"server_slots": value}) == [
            "haproxy: server_slots must be a number of server slots from 1 to 1024, got %r; leave it unset for max(replicas * 2, 4)" % (value,)]
        assert problems({"server_slots": {"immich": value}})[0].startswith("haproxy: server_slots.immich must be a number of server slots")
        assert problems({"server_slots": {"redis": 2}})[0].startswith("haproxy: server_slots names 'redis', which is not a routed")

    @pytest.mark.parametrize("value", ["{name", "{svc}_{name}", "swarm", "{0}", "{name} x", 5])
    def test_service_name_format(self, value):
        assert problems({"service_name_format": value}) == [
            "haproxy: service_name_format %r must build the Swarm service name from {name}, e.g. {name}_{name} (stack_service) "
            "or mediastack_{name}" % (value,)]

    @pytest.mark.parametrize("value", ["", "a b", 'a"b', 5])
    def test_cookie_key(self, value):
        assert problems({"cookie_key": value})[0].startswith("haproxy: cookie_key must be a non-empty string without spaces or quotes")

    def test_timeouts(self):
        assert problems({"timeouts": {"sever": "5m"}}) == ["haproxy: timeouts has unknown timeout 'sever'; did you mean server?"]
        assert problems({"timeouts": {"server": "5 minutes"}}) == [
            "haproxy: timeouts.server must be a duration such as 30s, 500ms or 1h, got '5 minutes'"]
        assert problems({"timeouts": "5m"}) == ["haproxy: timeouts must be a mapping such as {server: 5m}, got str"]

    def test_every_problem_at_once(self):
        found = problems({"frontend_port": 0, "servers": {"jellyfin": []}, "health_path": "x", "bogus": 1})
        assert len(found) == 4

    def test_filter_arguments(self):
        with pytest.raises(AnsibleFilterError, match="haproxy_config: the catalog must be a mapping"):
            haproxy_config([], {})
        with pytest.raises(AnsibleFilterError, match="haproxy_config: settings must be a mapping"):
            haproxy_config(SEED, "x")
        with pytest.raises(AnsibleFilterError, match="haproxy_config: enabled must be a list"):
            render(enabled="jellyfin")
        assert problems(enabled=["jelyfin"]) == ["enabled names services that are not in the catalog: jelyfin"]

    def test_catalog_and_platform_problems(self):
        catalog = with_service("navidrome", image="deluan/navidrome:latest")
        assert problems(catalog=catalog) == [
            "navidrome: version 'latest' is a floating tag for image deluan/navidrome; pin a released version (and optionally a digest)"]
        assert problems(platform={"domian": "x.org"}) == ["platform: unknown setting 'domian'; did you mean domain?"]


@pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed (apt-get install haproxy); the config is not run through haproxy -c")
class TestHaproxyAccepts:
    """The upstream validator: ``haproxy -c -f`` accepts the seed's rendering, without warnings."""

    @pytest.mark.parametrize("settings", [
        {},
        {"servers": SERVERS, "stats_socket": "/run/haproxy/admin.sock"},
        {"servers": {"jellyfin": ["127.0.0.1:8096", "[::1]:8096"]}, "bind_address": "::1", "server_slots": {"navidrome": 8},
         "service_name_format": "mediastack_{name}", "timeouts": {"server": "5m"}},
    ], ids=["swarm-dns-discovery", "explicit-servers", "mixed"])
    def test_haproxy_c(self, tmp_path, settings):
        path = tmp_path / "haproxy.cfg"
        path.write_text(render(settings), encoding="utf-8")
        proc = subprocess.run([HAPROXY, "-c", "-f", str(path)], capture_output=True, text=True, check=False)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output
        assert "Configuration file is valid" in output
        assert "WARNING" not in output and "ALERT" not in output, output

    def test_haproxy_c_refuses_a_broken_file(self, tmp_path):
        # The check is meaningful: the same file with a typo in a keyword fails.
        path = tmp_path / "haproxy.cfg"
        path.write_text(render().replace("balance roundrobin", "balance roundrobbin"), encoding="utf-8")
        proc = subprocess.run([HAPROXY, "-c", "-f", str(path)], capture_output=True, text=True, check=False)
        assert proc.returncode != 0
