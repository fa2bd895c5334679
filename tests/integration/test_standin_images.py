"""The lab's offline stand-in images (scripts/standin_images.py, lab/standin/).

Each stand-in is derived from its catalog entry (the script's plan, imported here: kind, ports, health URL).
Built once per session through the script, then run on the default bridge as
``mediastack-standin-test-<x>`` containers (removed in a finalizer) and checked for what the lab
relies on: the stubs answer on the catalog's ports and pass the catalog's own healthchecks, redis
runs the catalog's command and keeps its data, postgres keeps the official image's entrypoint
contract, and every image says it is a stand-in. Needs root and a reachable Docker engine;
the first build also needs debootstrap and the Debian mirror (about a minute).
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import typing as t
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from .helpers import ROOT, skip_or_fail
from .helpers import wait_for as wait_until

SCRIPT = ROOT / "scripts" / "standin_images.py"
PREFIX = "mediastack-standin-test-"
REGISTRY = "127.0.0.1:5000"
CATALOG = yaml.safe_load((ROOT / "roles" / "services" / "files" / "catalog-seed.yml").read_text(encoding="utf-8"))
PLATFORM_PUID = 2000


def load_script() -> t.Any:
    """scripts/standin_images.py as a module: its plan is what the images must be."""
    spec = importlib.util.spec_from_file_location("standin_images", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["standin_images"] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


STANDIN_IMAGES = load_script()
BIN_FILES = STANDIN_IMAGES.read_bin()
STANDINS = {standin.service: standin for standin in STANDIN_IMAGES.plan(CATALOG, BIN_FILES)}
STUBS = sorted(name for name, standin in STANDINS.items() if standin.kind == "stub")


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], text=True, capture_output=True, check=check, timeout=timeout)


def script(*args: str, env: dict[str, str] | None = None, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, text=True, capture_output=True, check=False,
                          timeout=timeout, env=env)


def why_not_docker() -> str | None:
    if os.geteuid() != 0:
        return "needs root (debootstrap and bind mounts owned by container users)"
    if shutil.which("docker") is None:
        return "the docker client is not installed"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return "docker is unavailable: %s" % err
    if info.returncode != 0:
        return "docker is unavailable: %s" % (info.stderr.strip().splitlines() or ["docker info failed"])[-1]
    return None


def print_table(*args: str, env: dict[str, str] | None = None) -> dict[str, tuple[str, str]]:
    proc = script("--print", *args, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split("\t") for line in proc.stdout.splitlines()]
    assert all(len(row) == 3 for row in rows), proc.stdout
    return {row[0]: (row[1], row[2]) for row in rows}


def catalog_ref(name: str) -> str:
    raw = CATALOG[name]
    ref = raw["image"] if ":" in raw["image"].rsplit("/", 1)[-1] else "%s:%s" % (raw["image"], raw["version"])
    return ref + ("@%s" % raw["digest"] if raw.get("digest") else "")


def ip_of(name: str) -> str:
    address = docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", name).stdout.strip()
    assert address, "%s has no address on the default bridge" % name
    return address


def wait_for(what: str, probe: t.Callable[[], t.Any], timeout: float = 60, every: float = 0.3) -> t.Any:
    """Poll ``probe`` until it returns something true; fail naming ``what`` and the last result."""
    return wait_until(probe, timeout, every, what=what, tolerate=(OSError, urllib.error.URLError, subprocess.SubprocessError))


def http(url: str, timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - a lab container's address
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def healthcheck(container: str, service: str) -> subprocess.CompletedProcess[str]:
    """The catalog's own healthcheck of ``service``, run in the container as Docker would."""
    test = CATALOG[service]["healthcheck"]["test"]
    argv = test[1:] if test[0] == "CMD" else ["sh", "-c", test[1]]
    return docker("exec", container, *[str(a) for a in argv], check=False, timeout=30)


@pytest.fixture(scope="session")
def images() -> dict[str, t.Any]:
    """Build every stand-in once through the script; its --print table and build log."""
    reason = why_not_docker()
    if reason:
        skip_or_fail(reason)
    table = print_table("--registry", REGISTRY)
    base_missing = docker("image", "inspect", table["redis"][0], check=False).returncode != 0
    if base_missing and shutil.which("debootstrap") is None:
        skip_or_fail("the stand-in images are not built and debootstrap is not installed")
    started = time.monotonic()
    proc = script()
    assert proc.returncode == 0, proc.stderr[-6000:]
    log = [line for line in proc.stderr.splitlines() if not line.startswith("sha256:")]
    print("\n[standin_images.py: %.1f s]\n%s" % (time.monotonic() - started, "\n".join(log)))
    return {"table": table, "log": proc.stderr}


class Containers:
    """``mediastack-standin-test-<x>`` containers on the default bridge; ``cleanup`` removes them all."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def _name(self, suffix: str) -> str:
        name = PREFIX + suffix
        docker("rm", "-f", name, check=False)
        self.names.append(name)
        return name

    def start(self, suffix: str, image: str, *args: str, options: t.Sequence[str] = ()) -> str:
        """``docker run -d --rm --name …``; the container's name."""
        name = self._name(suffix)
        proc = docker("run", "-d", "--rm", "--name", name, *options, image, *args, check=False)
        assert proc.returncode == 0, proc.stderr
        return name

    def once(self, suffix: str, image: str, *args: str, options: t.Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
        """A throwaway second container (``docker run --rm``), run to its end."""
        return docker("run", "--rm", "--name", self._name(suffix), *options, image, *args, check=False, timeout=120)

    def cleanup(self) -> None:
        for name in reversed(self.names):
            docker("rm", "-f", name, check=False, timeout=60)


@pytest.fixture
def containers(request: pytest.FixtureRequest) -> Containers:
    box = Containers()
    request.addfinalizer(box.cleanup)
    return box


def succeeded(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str] | None:
    return proc if proc.returncode == 0 else None


# --- the script ----------------------------------------------------------------------------------

def test_print_table_is_the_imported_plan() -> None:
    """The script's --print (its command line) lists what the plan these tests import says, for every service."""
    table = print_table("--registry", REGISTRY)
    assert set(table) == set(CATALOG)
    settings = STANDIN_IMAGES.Settings.from_env(os.environ)
    packages = STANDIN_IMAGES.PACKAGES.read_text(encoding="utf-8")
    base_ref = "%s:%s" % (settings.base_repo, STANDIN_IMAGES.base_tag(packages, STANDIN_IMAGES.recipe_text(),
                                                                      settings.suite, settings.mirror))
    builds = STANDIN_IMAGES.builds(STANDINS.values(), BIN_FILES, base_ref, settings.image_repo, REGISTRY)
    assert table == {build.standin.service: (build.local, build.remote) for build in builds}


def test_registry_references_are_what_the_platform_renders() -> None:
    from ansible_collections.mediastack.core.plugins.module_utils.catalog.parse import parse_service

    table = print_table("--registry", REGISTRY)
    for name, raw in CATALOG.items():
        assert table[name][1] == parse_service(name, raw).image.reference(REGISTRY), name
        assert table[name][0].startswith("mediastack-standin/%s:" % name)
    assert table["jellyfin"][1] == "127.0.0.1:5000/jellyfin/jellyfin:10.10.7"
    assert table["audiobookshelf"][1] == "127.0.0.1:5000/advplyr/audiobookshelf:2.21.0"
    assert print_table()["audiobookshelf"][1] == "advplyr/audiobookshelf:2.21.0"


def test_script_refuses_an_unknown_service() -> None:
    proc = script("--print", "jelyfin", timeout=60)
    assert proc.returncode != 0
    assert "jelyfin: not a service of" in proc.stderr


@pytest.mark.root
def test_every_image_is_marked_as_a_standin(images: dict[str, t.Any]) -> None:
    assert set(images["table"]) == set(CATALOG)
    for name, (local, remote) in images["table"].items():
        info = json.loads(docker("image", "inspect", local).stdout)[0]
        labels = info["Config"]["Labels"]
        ref = catalog_ref(name)
        assert labels["mediastack.standin"] == "true", name
        assert labels["mediastack.standin.kind"] == STANDINS[name].kind, name
        assert labels["mediastack.standin.of"] == ref, name
        assert labels["mediastack.standin.service"] == name, name
        assert labels["org.opencontainers.image.description"] == \
            "mediastack lab stand-in for %s (not the real application)" % ref
        env = dict(item.split("=", 1) for item in info["Config"]["Env"])
        assert env["STANDIN_SERVICE"] == name
        assert env["STANDIN_PORTS"] == ",".join(str(p) for p in STANDINS[name].ports)
        assert env.get("STANDIN_HEALTH_URL") == STANDINS[name].health_url, name
        for helper in STANDINS[name].helpers:
            found = docker("run", "--rm", "--entrypoint", "sh", local, "-c", 'command -v "$1"', "sh", helper.command,
                           check=False)
            assert found.returncode == 0, "%s: the image lacks %s, which the catalog's healthcheck runs" % (name, helper.command)
        assert remote.startswith(REGISTRY + "/")
        print("%-15s %-45s %4d MB  -> %s" % (name, local, info["Size"] // 1000000, remote))
    bases = docker("image", "ls", "--filter", "label=mediastack.standin.kind=base", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert any(ref.startswith("mediastack-standin-base:") for ref in bases), bases


@pytest.mark.root
def test_second_run_builds_nothing(images: dict[str, t.Any]) -> None:
    started = time.monotonic()
    proc = script(timeout=300)
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert "built " not in proc.stderr and "building " not in proc.stderr, proc.stderr
    assert "is up to date" in proc.stderr
    assert proc.stderr.count(" cached") == len(CATALOG), proc.stderr
    assert took < 60, "a run with nothing to build took %.1f s" % took


@pytest.mark.root
def test_registry_option_tags_the_catalog_references(images: dict[str, t.Any], request: pytest.FixtureRequest) -> None:
    """--registry tags REG/<repo>:<catalog tag> onto each stand-in (a made-up registry: nothing is pushed)."""
    registry = "standin-test.invalid:5000"
    table = print_table("--registry", registry)
    request.addfinalizer(lambda: docker("rmi", *(row[1] for row in table.values()), check=False))
    proc = script("--registry", registry, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "pushed" not in proc.stderr
    for name, (local, remote) in table.items():
        assert remote == "%s/%s" % (registry, images["table"][name][1].split("/", 1)[1])
        ids = {docker("image", "inspect", "-f", "{{.Id}}", ref).stdout.strip() for ref in (local, remote)}
        assert len(ids) == 1, "%s is not the stand-in %s" % (remote, local)


# --- stubs ---------------------------------------------------------------------------------------

@pytest.mark.root
@pytest.mark.parametrize("service", STUBS)
def test_stub_serves_the_catalog_ports_and_passes_its_healthcheck(
        images: dict[str, t.Any], containers: Containers, service: str) -> None:
    raw = CATALOG[service]
    options: list[str] = []
    for key, value in (raw.get("env") or {}).items():
        options += ["-e", "%s=%s" % (key, str(value).lower() if isinstance(value, bool) else value)]
    if raw.get("run_as", "user") == "user":
        options += ["--user", "%d:%d" % (PLATFORM_PUID, PLATFORM_PUID)]
    visible = {"NVIDIA_VISIBLE_DEVICES": "GPU-standin-test", "DOCKER_RESOURCE_NVIDIA-GPU": "GPU-standin-test",
               "PUID": str(PLATFORM_PUID), "PGID": str(PLATFORM_PUID)}
    for key, value in {**visible, "TASK_SLOT": "3", "STANDIN_TEST_HIDDEN": "not-for-the-page"}.items():
        options += ["-e", "%s=%s" % (key, value)]
    name = containers.start(service, images["table"][service][0], options=options)
    address = ip_of(name)
    standin = STANDINS[service]
    ports = list(standin.ports)
    catalog_ports = {p["target"] for p in raw.get("ports") or []}
    for field in ("route", "metrics", "forward_auth"):
        if raw.get(field):
            catalog_ports.add(raw[field]["port"])
    assert catalog_ports <= set(ports)

    wait_for("%s to answer on port %d" % (service, ports[0]), lambda: http("http://%s:%d/health" % (address, ports[0]))[0] == 200)
    for port in ports:
        status, headers, body = http("http://%s:%d/" % (address, port))
        assert status == 200 and headers["Content-Type"] == "application/json"
        page = json.loads(body)
        assert page["service"] == service and page["standin"] is True
        assert page["of"] == catalog_ref(service)
        assert page["task"] == "3" and page["hostname"] and page["port"] == port
        assert page["env"] == visible, "only NVIDIA_*, DOCKER_RESOURCE_*, PUID and PGID belong on the page"
        assert http("http://%s:%d/health" % (address, port))[0] == 200
        assert http("http://%s:%d/no/such/page" % (address, port))[0] == 404
    if raw.get("route"):
        assert json.loads(http("http://%s:%d/" % (address, raw["route"]["port"]))[2])["service"] == service
    if raw.get("forward_auth"):
        fwd = raw["forward_auth"]
        assert http("http://%s:%d%s" % (address, fwd["port"], fwd["path"]))[0] == 200
    if raw.get("metrics"):
        status, headers, body = http("http://%s:%d%s" % (address, raw["metrics"]["port"], raw["metrics"]["path"]))
        text = body.decode()
        assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert "# TYPE standin_http_requests_total counter" in text
        served = re.search(r'^standin_http_requests_total\{service="%s",path="/",code="200"\} (\d+)$' % service, text, re.M)
        assert served and int(served.group(1)) >= len(ports), text

    for path in standin.health_paths:
        assert http("http://%s:%d%s" % (address, ports[0], path))[0] == 200, path
    if raw.get("healthcheck"):
        assert standin.health_url
        check = healthcheck(name, service)
        assert check.returncode == 0, "the catalog's healthcheck %s failed: %s%s" % (
            raw["healthcheck"]["test"], check.stdout, check.stderr)
    else:
        assert standin.health_url is None and not standin.helpers, "no healthcheck: no helper and no health URL"

    log = [json.loads(line) for line in docker("logs", name).stdout.splitlines()]
    assert log[0]["event"] == "started" and log[0]["ports"] == ports
    served = [entry for entry in log if "path" in entry]
    assert served and all(entry["service"] == service and entry["standin"] is True for entry in served)
    assert {"/", "/health", "/no/such/page"} <= {entry["path"] for entry in served}

    started = time.monotonic()
    docker("stop", "-t", "10", name, timeout=30)
    assert time.monotonic() - started < 5, "%s ignored SIGTERM (docker waited for its kill timeout)" % service


@pytest.mark.root
def test_stub_helper_fails_when_the_stub_is_down(images: dict[str, t.Any], containers: Containers) -> None:
    """The healthcheck helpers report a dead stub as unhealthy, not healthy."""
    name = containers.start("traefik-down", images["table"]["traefik"][0], "600", options=["--entrypoint", "sleep"])
    assert healthcheck(name, "traefik").returncode == 1
    assert docker("exec", name, "traefik", "version").stdout.startswith("mediastack lab stand-in for traefik:")


# --- redis ---------------------------------------------------------------------------------------

@pytest.mark.root
def test_redis_runs_the_catalog_command_and_keeps_its_data(images: dict[str, t.Any], containers: Containers,
                                                           tmp_path: Path) -> None:
    image = images["table"]["redis"][0]
    command = [str(arg) for arg in CATALOG["redis"]["command"]]
    data = tmp_path / "data"
    data.mkdir()
    name = containers.start("redis", image, *command, options=["-v", "%s:/data" % data])
    wait_for("redis to answer PING", lambda: healthcheck(name, "redis").stdout.strip() == "PONG")
    assert healthcheck(name, "redis").returncode == 0

    def config(key: str) -> str:
        return docker("exec", name, "redis-cli", "config", "get", key).stdout.split()[1]

    assert config("appendonly") == "yes"
    assert config("maxmemory") == str(3 * 1024 ** 3)
    assert config("maxmemory-policy") == "allkeys-lru"
    assert config("protected-mode") == "no" and config("bind") == "0.0.0.0"
    assert docker("exec", name, "redis-cli", "set", "standin:key", "kept").stdout.strip() == "OK"
    other = containers.once("redis-client", image, "redis-cli", "-h", ip_of(name), "get", "standin:key")
    assert other.stdout.strip() == "kept", "another container cannot reach redis: %s" % other.stderr
    owner = docker("exec", name, "stat", "-c", "%U", "/data/appendonlydir").stdout.strip()
    assert owner == "redis"

    started = time.monotonic()
    docker("stop", name, timeout=30)
    assert time.monotonic() - started < 5
    assert any(path.name.endswith(".aof") for path in (data / "appendonlydir").iterdir())
    again = containers.start("redis-again", image, *command, options=["-v", "%s:/data" % data])
    wait_for("redis to come back", lambda: healthcheck(again, "redis").stdout.strip() == "PONG")
    assert docker("exec", again, "redis-cli", "get", "standin:key").stdout.strip() == "kept"


# --- postgres ------------------------------------------------------------------------------------

@pytest.mark.root
def test_postgres_keeps_the_official_entrypoint_contract(
        images: dict[str, t.Any], containers: Containers, tmp_path: Path) -> None:
    image = images["table"]["postgres"][0]
    password = "stand-in pass 'quoted'"
    (tmp_path / "password").write_text(password + "\n", encoding="utf-8")
    initdb = tmp_path / "initdb"
    initdb.mkdir()
    (initdb / "01-schema.sql").write_text(
        "CREATE TABLE standin_check (id int PRIMARY KEY, name text);\n"
        "INSERT INTO standin_check VALUES (1, 'one'), (2, 'two');\n", encoding="utf-8")
    (initdb / "02-marker.sh").write_text('echo "init ran for $POSTGRES_DB" >> "$PGDATA/initdb-sh.log"\n', encoding="utf-8")
    data = tmp_path / "data"
    data.mkdir()
    env = CATALOG["postgres"]["env"]
    secret = env["POSTGRES_PASSWORD_FILE"]
    options = ["-e", "POSTGRES_DB=standin", "-v", "%s:%s:ro" % (tmp_path / "password", secret),
               "-v", "%s:/docker-entrypoint-initdb.d:ro" % initdb, "-v", "%s:/var/lib/postgresql/data" % data]
    for key, value in env.items():
        options += ["-e", "%s=%s" % (key, value)]
    pgdata = data / Path(env["PGDATA"]).relative_to("/var/lib/postgresql/data")

    def query(suffix: str, container: str, sql: str, secret_value: str = password) -> subprocess.CompletedProcess[str]:
        return containers.once(suffix, image, "psql", "-h", ip_of(container), "-U", "postgres", "-d", "standin",
                               "-Atc", sql, options=["-e", "PGPASSWORD=%s" % secret_value])

    name = containers.start("postgres", image, options=options)
    wait_for("postgres to initialise and start", lambda: "ready for start up" in docker("logs", name).stdout
             and healthcheck(name, "postgres").returncode == 0, timeout=90)
    assert "/usr/lib/postgresql/15/bin/pg_isready" == docker("exec", name, "sh", "-c", "command -v pg_isready").stdout.strip()
    rows = wait_for("psql over TCP", lambda: succeeded(query("psql", name, "SELECT id, name FROM standin_check ORDER BY id")))
    assert rows.returncode == 0, rows.stderr
    assert rows.stdout.split() == ["1|one", "2|two"]
    wrong = query("psql-wrong", name, "SELECT 1", secret_value="not the password")
    assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr
    assert query("psql-insert", name, "INSERT INTO standin_check VALUES (3, 'three')").returncode == 0
    hba = (pgdata / "pg_hba.conf").read_text(encoding="utf-8")
    assert "host all all all scram-sha-256" in hba
    assert (pgdata / "PG_VERSION").read_text(encoding="utf-8").strip() == "15"
    owner = docker("exec", name, "stat", "-c", "%U %a", env["PGDATA"]).stdout.strip()
    assert owner == "postgres 700"
    assert docker("exec", name, "ps", "-o", "user=", "-C", "postgres").stdout.split()[0] == "postgres"

    started = time.monotonic()
    docker("stop", name, timeout=30)
    assert time.monotonic() - started < 8

    again = containers.start("postgres-again", image, options=options)
    wait_for("postgres to start on the same data", lambda: "Skipping initialization" in docker("logs", again).stdout
             and healthcheck(again, "postgres").returncode == 0, timeout=60)
    logs = docker("logs", again)
    assert "initialising" not in logs.stdout and "running /docker-entrypoint-initdb.d" not in logs.stdout
    rows = wait_for("psql over TCP after the restart",
                    lambda: succeeded(query("psql-again", again, "SELECT id FROM standin_check ORDER BY id")))
    assert rows.stdout.split() == ["1", "2", "3"]
    assert (pgdata / "initdb-sh.log").read_text(encoding="utf-8").splitlines() == ["init ran for standin"]
