"""The lab's stand-ins are derived from the service catalog (scripts/standin_images.py), without Docker.

Every seed service gets the kind, ports, healthcheck helpers and health URL its catalog entry implies; a made-up
service needs nothing but its catalog entry; a healthcheck command nobody provides and an unpinned image are
refused with the fix; the Dockerfile (and so the image tag) is a function of its input; the base's recipe cleans a
root file system as documented; the stub answers the derived health paths.
"""
from __future__ import annotations

import copy
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "standin_images.py"
CATALOG = yaml.safe_load((ROOT / "roles" / "services" / "files" / "catalog-seed.yml").read_text(encoding="utf-8"))


def load_script():
    spec = importlib.util.spec_from_file_location("standin_images", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["standin_images"] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


si = load_script()
BIN = si.read_bin()
BASE = "mediastack-standin-base:0123456789ab"

# What the seed's catalog entries imply: kind, ports, helpers (command, file of lab/standin/bin/ or None for a
# command of the base), health URL and the extra paths the stub answers.
EXPECTED = {
    "traefik": ("stub", (80, 443, 8080, 8082), [("traefik", "traefik", "/usr/local/bin/traefik")],
                "http://127.0.0.1:8080/ping", ("/ping",)),
    "authelia": ("stub", (9091, 9959), [("/app/healthcheck.sh", "app/healthcheck.sh", "/app/healthcheck.sh")],
                 "http://127.0.0.1:9091/api/health", ("/api/authz/forward-auth", "/api/health")),
    "redis": ("redis", (6379,), [("redis-cli", None, None)], None, ()),
    "postgres": ("postgres", (5432,), [("pg_isready", None, None)], None, ()),
    "jellyfin": ("stub", (8096,), [("curl", None, None)], "http://127.0.0.1:8096/health", ("/health",)),
    "navidrome": ("stub", (4533,), [("wget", None, None)], "http://127.0.0.1:4533/ping", ("/ping",)),
    "audiobookshelf": ("stub", (80,), [("wget", None, None)], "http://127.0.0.1:80/healthcheck", ("/healthcheck",)),
    "immich": ("stub", (2283, 8081), [("immich-healthcheck", "immich-healthcheck", "/usr/local/bin/immich-healthcheck")],
               "http://127.0.0.1:2283/api/server/ping", ("/api/server/ping",)),
    "grafana": ("stub", (3000,), [("wget", None, None)], "http://127.0.0.1:3000/api/health", ("/api/health",)),
    "loki": ("stub", (3100,), [("wget", None, None)], "http://127.0.0.1:3100/ready", ("/ready",)),
    "promtail": ("stub", (9080,), [], None, ()),
}


def catalog_with(name: str, entry: dict) -> dict:
    """A copy of the seed catalog plus one made-up service."""
    out = copy.deepcopy(CATALOG)
    out[name] = entry
    return out


def test_every_seed_service_is_covered() -> None:
    assert set(EXPECTED) <= set(CATALOG)
    assert [s.service for s in si.plan(CATALOG, BIN)] == list(CATALOG)  # every entry derives a stand-in


@pytest.mark.parametrize("service", sorted(set(CATALOG) - set(EXPECTED)))
def test_every_app_stub_answers_the_url_its_catalog_healthcheck_asks(service: str) -> None:
    raw = CATALOG[service]
    standin = si.derive(service, raw, BIN)
    url = si.HEALTH_URL.search(" ".join(raw["healthcheck"]["test"][1:]))
    assert standin.kind == "stub"
    assert standin.health_url == "http://127.0.0.1:%s%s" % (url.group("port") or 80, url.group("path") or "/")
    assert int(url.group("port") or 80) in standin.ports
    if raw.get("route"):
        assert raw["route"]["port"] in standin.ports
    assert [h.command for h in standin.helpers] == [raw["healthcheck"]["test"][1]]


@pytest.mark.parametrize("service", sorted(EXPECTED))
def test_seed_service_standin_is_derived_from_its_catalog_entry(service: str) -> None:
    kind, ports, helpers, health_url, paths = EXPECTED[service]
    standin = si.derive(service, CATALOG[service], BIN)
    assert standin.kind == kind
    assert standin.ports == ports
    assert [(h.command, h.source, h.target) for h in standin.helpers] == helpers
    assert standin.health_url == health_url
    assert standin.health_paths == paths
    for helper in standin.helpers:
        assert helper.source in BIN if helper.source else helper.command in si.BASE_COMMANDS


def test_stub_ports_cover_what_the_catalog_publishes_routes_and_scrapes() -> None:
    for service, raw in CATALOG.items():
        wanted = {p["target"] for p in raw.get("ports") or []}
        wanted |= {raw[key]["port"] for key in ("route", "forward_auth", "metrics") if raw.get(key)}
        assert wanted <= set(si.derive(service, raw, BIN).ports), service


def test_a_service_without_healthcheck_needs_no_helper_and_no_health_url() -> None:
    standin = si.derive("promtail", CATALOG["promtail"], BIN)
    assert CATALOG["promtail"].get("mode") == "global" and "healthcheck" not in CATALOG["promtail"]
    text = si.dockerfile(standin, BASE, "mediastack-standin")
    assert "STANDIN_HEALTH_URL" not in text and "STANDIN_HEALTH_PATHS" not in text
    assert 'STANDIN_PORTS="9080"' in text and "EXPOSE 9080/tcp" in text


def test_a_made_up_service_needs_only_its_catalog_entry() -> None:
    entry = {
        "description": "Made-up e-book shelf", "image": "ghcr.io/example/shelfdemo:1.4.2", "networks": ["media"],
        "route": {"subdomain": "shelf", "port": 8083}, "metrics": {"port": 9100, "path": "/metrics"},
        "healthcheck": {"test": ["CMD-SHELL", "curl -fsS http://localhost:8083/status || exit 1"]},
    }
    catalog = catalog_with("shelfdemo", entry)
    standins = si.plan(catalog, BIN)
    assert [s.service for s in standins] == list(catalog)
    new = standins[-1]
    assert (new.kind, new.ports, new.health_url, new.health_paths) == \
        ("stub", (8083, 9100), "http://127.0.0.1:8083/status", ("/status",))
    assert [(h.command, h.source) for h in new.helpers] == [("curl", None)]
    build = si.builds([new], BIN, BASE, "mediastack-standin", "127.0.0.1:5000")[0]
    assert build.remote == "127.0.0.1:5000/example/shelfdemo:1.4.2"
    assert set(build.files) == {"standin-app", "standin-healthcheck"}
    # the seed's stand-ins are the same with or without the made-up one
    assert standins[:-1] == si.plan(CATALOG, BIN)


def test_a_redis_or_postgres_image_anywhere_gets_that_kind() -> None:
    assert si.standin_kind("docker.io/library/redis") == "redis"
    assert si.standin_kind("registry.example:5000/mirror/postgres") == "postgres"
    assert si.standin_kind("bitnami/redis-cluster") == "stub"
    assert si.standin_kind("ghcr.io/immich-app/postgres") == "postgres"


def test_a_bare_helper_file_in_bin_is_installed_on_path() -> None:
    entry = {"image": "example/app:1.0", "route": {"subdomain": "app", "port": 8000},
             "healthcheck": {"test": ["CMD", "app-health"]}}
    files = dict(BIN, **{"app-health": b"#!/bin/sh\n# standin-health-path: /alive\nexec standin-healthcheck\n"})
    standin = si.derive("app", entry, files)
    assert [(h.source, h.target) for h in standin.helpers] == [("app-health", "/usr/local/bin/app-health")]
    assert standin.health_url == "http://127.0.0.1:8000/alive"
    assert "COPY app-health /usr/local/bin/app-health\n" in si.dockerfile(standin, BASE, "mediastack-standin")


def test_a_healthcheck_command_nobody_provides_is_refused_with_the_fix() -> None:
    entry = {"image": "example/app:1.0", "route": {"subdomain": "app", "port": 8000},
             "healthcheck": {"test": ["CMD", "/usr/local/bin/app-probe", "--ready"]}}
    with pytest.raises(si.StandinError) as err:
        si.plan(catalog_with("probeapp", entry), BIN)
    message = str(err.value)
    assert message.startswith("probeapp: ") and "'/usr/local/bin/app-probe'" in message
    assert "lab/standin/bin/usr/local/bin/app-probe" in message and "lab/standin/standin.packages" in message
    assert len(message.splitlines()) == 1, "only the made-up service is refused"


def test_a_shell_healthcheck_is_judged_by_its_first_word() -> None:
    entry = {"image": "example/app:1.0", "route": {"subdomain": "app", "port": 8000},
             "healthcheck": {"test": "nc -z localhost 8000"}}
    with pytest.raises(si.StandinError, match=r"shellapp: the healthcheck runs 'nc'.*lab/standin/bin/nc"):
        si.derive("shellapp", entry, BIN)


def test_a_stub_healthcheck_without_a_health_path_is_refused() -> None:
    entry = {"image": "example/app:1.0", "route": {"subdomain": "app", "port": 8000},
             "healthcheck": {"test": ["CMD", "curl", "-fsS", "http://app.internal:8000/"]}}
    with pytest.raises(si.StandinError, match=r"nourl: .*names no http://localhost:PORT/PATH URL"):
        si.derive("nourl", entry, BIN)
    files = dict(BIN, **{"app-health": b"#!/bin/sh\nexec standin-healthcheck\n"})
    entry["healthcheck"] = {"test": ["CMD", "app-health"]}
    with pytest.raises(si.StandinError, match=r"standin-health-path: /path' to it"):
        si.derive("nopath", entry, files)


@pytest.mark.parametrize("image", ["example/app", "example/app:latest", "registry.example:5000/app"])
def test_an_image_without_a_pinned_tag_is_refused(image: str) -> None:
    with pytest.raises(si.StandinError, match=r"unpinned: the catalog's image .* has no pinned tag"):
        si.derive("unpinned", {"image": image, "route": {"subdomain": "u", "port": 80}}, BIN)
    assert si.image_ref("pinned", {"image": "registry.example:5000/app", "version": "2.0"}).tag == "2.0"


def test_refusals_are_reported_together() -> None:
    catalog = catalog_with("unpinned", {"image": "example/app", "route": {"subdomain": "u", "port": 80}})
    with pytest.raises(si.StandinError) as err:
        si.plan(catalog, BIN, ["unpinned", "jelyfin"], "catalog-seed.yml")
    assert str(err.value).splitlines() == [
        "jelyfin: not a service of catalog-seed.yml",
        "unpinned: the catalog's image 'example/app' has no pinned tag; pin a version (image: repo:1.2.3 or version: 1.2.3)",
    ]


def test_dockerfile_is_deterministic_and_follows_the_ports() -> None:
    first = si.builds(si.plan(CATALOG, BIN), BIN, BASE, "mediastack-standin")
    again = si.builds(si.plan(copy.deepcopy(CATALOG), si.read_bin()), BIN, BASE, "mediastack-standin")
    assert [(b.dockerfile, b.local) for b in first] == [(b.dockerfile, b.local) for b in again]
    changed = copy.deepcopy(CATALOG)
    changed["navidrome"]["route"]["port"] = 4534
    moved = {b.standin.service: b for b in si.builds(si.plan(changed, BIN), BIN, BASE, "mediastack-standin")}
    for build in first:
        assert (moved[build.standin.service].local == build.local) == (build.standin.service != "navidrome")
    assert "EXPOSE 4533/tcp 4534/tcp" in moved["navidrome"].dockerfile
    other_base = si.builds(si.plan(CATALOG, BIN, ["redis"]), BIN, "mediastack-standin-base:fedcba987654", "mediastack-standin")
    assert other_base[0].local != first[2].local


def test_a_helper_file_change_changes_the_tag() -> None:
    files = dict(BIN, traefik=BIN["traefik"] + b"# changed\n")
    standin = si.derive("traefik", CATALOG["traefik"], files)
    assert si.builds([standin], files, BASE, "r")[0].local != si.builds([standin], BIN, BASE, "r")[0].local


def test_dockerfile_of_a_stub_says_what_it_is() -> None:
    text = si.dockerfile(si.derive("traefik", CATALOG["traefik"], BIN), BASE, "mediastack-standin")
    lines = text.splitlines()
    assert lines[1] == "FROM %s" % BASE
    assert not [line for line in lines if line.split(" ", 1)[0] in ("RUN", "ADD")], "COPY only: no network at build"
    assert "COPY standin-app standin-healthcheck /usr/local/bin/" in lines
    assert "COPY traefik /usr/local/bin/traefik" in lines
    env = next(line for line in lines if line.startswith("ENV "))
    for part in ('STANDIN_SERVICE="traefik"', 'STANDIN_KIND="stub"', 'STANDIN_OF="traefik:v3.3.6"',
                 'STANDIN_PORTS="80,443,8080,8082"', 'STANDIN_HEALTH_URL="http://127.0.0.1:8080/ping"',
                 'STANDIN_HEALTH_PATHS="/ping"'):
        assert part in env
    labels = next(line for line in lines if line.startswith("LABEL "))
    for part in ('mediastack.standin="true"', 'mediastack.standin.kind="stub"', 'mediastack.standin.of="traefik:v3.3.6"',
                 'mediastack.standin.service="traefik"',
                 'org.opencontainers.image.description="mediastack lab stand-in for traefik:v3.3.6 (not the real application)"'):
        assert part in labels
    assert "EXPOSE 80/tcp 443/tcp 8080/tcp 8082/tcp" in lines
    assert lines[-2:] == ['ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/standin-app"]', "CMD []"]


def test_dockerfile_of_postgres_keeps_the_official_contract() -> None:
    text = si.dockerfile(si.derive("postgres", CATALOG["postgres"], BIN), BASE, "mediastack-standin")
    assert "COPY standin-postgres /usr/local/bin/\n" in text
    assert 'PGDATA="/var/lib/postgresql/data"' in text and "VOLUME /var/lib/postgresql/data\n" in text
    assert "STOPSIGNAL SIGINT\n" in text and "EXPOSE 5432/tcp\n" in text
    assert text.endswith('ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/standin-postgres"]\nCMD ["postgres"]\n')


def test_registry_references_drop_the_registry_host() -> None:
    rows = {b.standin.service: b.remote for b in si.builds(si.plan(CATALOG, BIN), BIN, BASE, "r", "127.0.0.1:5000")}
    assert rows["jellyfin"] == "127.0.0.1:5000/jellyfin/jellyfin:10.10.7"
    assert rows["audiobookshelf"] == "127.0.0.1:5000/advplyr/audiobookshelf:2.21.0"
    assert rows["immich"] == "127.0.0.1:5000/immich-app/immich-server:v1.132.3"
    assert si.remote_ref(si.image_ref("a", CATALOG["audiobookshelf"]), "") == "advplyr/audiobookshelf:2.21.0"


def test_print_lists_every_service_with_its_registry_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert si.main(["--print", "--registry", "127.0.0.1:5000/"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [row[0] for row in rows] == list(CATALOG)
    for service, local, remote in rows:
        assert local.startswith("mediastack-standin/%s:" % service) and len(local.rsplit(":", 1)[1]) == 12
        assert remote.startswith("127.0.0.1:5000/") and remote.endswith(":" + si.image_ref(service, CATALOG[service]).tag)
    assert si.main(["--print", "jellyfin", "redis"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split("\t")[2] == "jellyfin/jellyfin:10.10.7"


def test_print_refuses_an_unknown_service(capsys: pytest.CaptureFixture[str]) -> None:
    assert si.main(["--print", "jelyfin"]) == 1
    assert "jelyfin: not a service of" in capsys.readouterr().err


def test_the_script_runs_as_a_program() -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--print", "--push", "127.0.0.1:5000", "loki"], cwd=ROOT,
                          text=True, capture_output=True, check=False, env=dict(os.environ, STANDIN_IMAGE_REPO="x/y"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("loki\tx/y/loki:") and proc.stdout.endswith("\t127.0.0.1:5000/grafana/loki:3.4.2\n")


def test_base_tag_covers_the_packages_and_the_recipe() -> None:
    packages = (ROOT / "lab" / "standin" / "standin.packages").read_text(encoding="utf-8")
    recipe = si.recipe_text()
    tag = si.base_tag(packages, recipe, "bookworm", "http://deb.debian.org/debian")
    assert tag == si.base_tag(packages, recipe, "bookworm", "http://deb.debian.org/debian") and len(tag) == 12
    assert tag != si.base_tag(packages + "jq\n", recipe, "bookworm", "http://deb.debian.org/debian")
    assert tag != si.base_tag(packages, recipe.replace("copyright", "COPYRIGHT"), "bookworm", "http://deb.debian.org/debian")
    assert tag != si.base_tag(packages, recipe, "trixie", "http://deb.debian.org/debian")
    assert "libLLVM" in recipe and "def prune_docs" in recipe and "docker" in recipe


def test_base_commands_come_from_the_base_packages() -> None:
    listed = set(si.package_list((ROOT / "lab" / "standin" / "standin.packages").read_text(encoding="utf-8")))
    assert {"tini", "python3", "curl", "wget", "redis-server", "postgresql-15"} <= listed
    for command, package in si.BASE_COMMANDS.items():
        assert package in listed or package in si.ESSENTIAL_PACKAGES, command


def test_recipe_cleans_a_root_file_system(tmp_path: Path) -> None:
    keep = ["usr/bin/python3", "usr/share/doc/curl/copyright", "usr/lib/postgresql/15/lib/plpgsql.so",
            "var/lib/postgresql/.keep", "usr/lib/x86_64-linux-gnu/libc.so.6"]
    drop = ["usr/share/doc/curl/changelog.gz", "usr/share/doc/wget/NEWS", "usr/share/man/man1/curl.1.gz",
            "var/lib/postgresql/15/main/PG_VERSION", "etc/postgresql/15/main/postgresql.conf",
            "usr/lib/postgresql/15/lib/llvmjit.so", "usr/lib/postgresql/15/lib/bitcode/x.bc",
            "usr/lib/x86_64-linux-gnu/libLLVM-14.so.1", "usr/lib/x86_64-linux-gnu/libz3.so.4",
            "var/cache/apt/archives/curl.deb", "var/cache/apt/pkgcache.bin", "var/lib/apt/lists/deb.debian.org_Release",
            "var/log/dpkg.log", "var/log/apt/history.log", "usr/share/locale/de/LC_MESSAGES/wget.mo"]
    for name in keep + drop:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    (tmp_path / "usr/share/doc/python3").symlink_to("curl")
    si.clean_rootfs(tmp_path)
    assert all((tmp_path / name).exists() for name in keep)
    assert not [name for name in drop if (tmp_path / name).exists()]
    assert not (tmp_path / "usr/share/doc/wget").exists() and not (tmp_path / "usr/share/doc/python3").is_symlink()
    assert (tmp_path / "etc/apt/apt.conf.d/90-no-recommends").read_text(encoding="utf-8") == 'APT::Install-Recommends "false";\n'
    assert (tmp_path / "docker-entrypoint-initdb.d").is_dir() and (tmp_path / "data").is_dir()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - a local test server
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_stub_answers_the_derived_health_paths() -> None:
    """standin-app (stdlib only) answers 200 OK on STANDIN_HEALTH_PATHS besides its built-in paths."""
    port = free_port()
    env = dict(os.environ, STANDIN_SERVICE="loki", STANDIN_PORTS=str(port), STANDIN_HEALTH_PATHS="/ready,/x/alive")
    proc = subprocess.Popen([sys.executable, str(ROOT / "lab" / "standin" / "bin" / "standin-app")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = "http://127.0.0.1:%d" % port
        deadline = time.monotonic() + 20
        while True:
            try:
                get(base + "/")
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "standin-app did not start"
                time.sleep(0.1)
        assert get(base + "/ready") == (200, b"OK")
        assert get(base + "/x/alive?verbose=1") == (200, b"OK")
        assert get(base + "/health") == (200, b"Healthy")
        assert get(base + "/not-ready")[0] == 404
        assert json.loads(get(base + "/")[1])["service"] == "loki"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
