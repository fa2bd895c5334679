"""HAProxy on the lab Swarm with real requests: the configuration generated from the catalog
(mediastack.core.haproxy_config, DNS discovery over tasks.<stack>_<service>) run by Debian's HAProxy
(the stand-in base image) as a Swarm service, in front of 3 replicas of a stateless catalog service
(Navidrome) and 3 of a stateful one (AudioBookshelf), both deployed by site.yml: an even round-robin
split, a sticky client, and a killed replica taken out of rotation within 30 s (health checks every 10 s,
fall 2, plus DNS discovery dropping the dead task).
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
import yaml

from ansible_collections.mediastack.core.plugins.module_utils.catalog.parse import parse_catalog
from ansible_collections.mediastack.core.plugins.module_utils.edge.haproxy import render_haproxy

from ..helpers import ROOT, wait_for

MANAGER, MANAGER_ADDRESS, WORKER = "mslab-m1", "172.31.240.11", "mslab-w1"
IMAGE = "172.31.240.5:5000/mediastack/standin-base:lab"  # Debian 12 with haproxy 2.6 (scripts/standin_images.py)
LB, PORT, STATS = "lbdrill", 18080, 18404
SOCKET = "/run/haproxy-lbdrill.sock"  # the runtime API, for the servers' addresses
STATELESS, STATEFUL = "navidrome", "audiobookshelf"
SUBDOMAIN = {"navidrome": "music", "audiobookshelf": "audiobooks"}  # their catalog routes
DOMAIN = "media.lab"


def docker(*cmd: str, node: str = MANAGER, check: bool = True, stdin: str | None = None) -> str:
    proc = subprocess.run(["docker", "exec", "-i", node, "docker", *cmd], input=stdin, text=True, capture_output=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("%s: docker %s failed: %s" % (node, " ".join(cmd), proc.stderr))
    return proc.stdout.strip()


def get(host: str, opener: urllib.request.OpenerDirector | None = None) -> tuple[int, str]:
    request = urllib.request.Request("http://%s:%d/" % (MANAGER_ADDRESS, PORT), headers={"Host": "%s.%s" % (SUBDOMAIN[host], DOMAIN)})
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=5) as response:
            return response.status, json.loads(response.read())["hostname"]
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError:  # refused, reset or timed out
        return 0, ""


def stats() -> dict[str, dict[str, str]]:
    """server name -> row of HAProxy's CSV stats (every backend)."""
    with urllib.request.urlopen("http://%s:%d/stats;csv" % (MANAGER_ADDRESS, STATS), timeout=5) as response:
        text = response.read().decode().lstrip("# ")
    return {"%s/%s" % (row["pxname"], row["svname"]): row for row in csv.DictReader(io.StringIO(text))}


def up_servers(backend: str) -> list[str]:
    """The slot names of the servers of ``backend`` that are UP."""
    try:
        rows = stats()
    except OSError:
        return []
    return sorted(name for name, row in rows.items()
                  if name.startswith(backend + "/") and row["status"] == "UP" and not name.endswith(("FRONTEND", "BACKEND")))


def up_addresses(backend: str) -> dict[str, str]:
    """Slot -> address of the servers of ``backend`` that are running, from the runtime API's ``show servers state``
    (the stats CSV leaves addresses out without ``stats show-legends``)."""
    container = docker("ps", "-q", "--filter", "label=com.docker.swarm.service.name=%s" % LB)
    script = ("import socket; s = socket.socket(socket.AF_UNIX); s.connect(%r); s.sendall(b'show servers state %s\\n');"
              " print(s.makefile().read())" % (SOCKET, backend))
    out = docker("exec", "-i", container, "python3", "-", stdin=script, check=False)
    lines = [line.split() for line in out.splitlines() if line.strip() and not line.startswith("#")]
    # be_id be_name srv_id srv_name srv_addr srv_op_state ... (srv_op_state 2 = running)
    return {row[3]: row[4] for row in lines if len(row) > 5 and row[1] == backend and row[5] == "2"}


def rendered_config() -> str:
    catalog = yaml.safe_load((ROOT / "roles" / "services" / "files" / "catalog-seed.yml").read_text(encoding="utf-8"))
    services, problems = parse_catalog({name: catalog[name] for name in (STATELESS, STATEFUL)}, {"domain": DOMAIN})
    assert not problems
    return render_haproxy(services, {"domain": DOMAIN, "frontend_port": 8080, "stats_port": 8404, "stats_socket": SOCKET})


def backend_of(name: str) -> str:
    return next(line.split()[1] for line in rendered_config().splitlines() if line.startswith("backend ") and name in line)


@pytest.fixture(scope="module")
def balancer(converged, tmp_path_factory):
    assert converged.returncode == 0, converged.stdout[-4000:]
    config = rendered_config()
    name = "%s_cfg_%s" % (LB, hashlib.sha256(config.encode()).hexdigest()[:8])
    Path(tmp_path_factory.mktemp("haproxy") / "haproxy.cfg").write_text(config, encoding="utf-8")
    docker("service", "scale", "--detach=false", *("%s_%s=3" % (svc, svc) for svc in (STATELESS, STATEFUL)))
    docker("service", "rm", LB, check=False)
    docker("config", "rm", name, check=False)
    docker("config", "create", name, "-", stdin=config)
    docker("service", "create", "--detach=false", "--quiet", "--name", LB, "--network", "media", "--endpoint-mode", "dnsrr",
           "--publish", "mode=host,target=8080,published=%d" % PORT, "--publish", "mode=host,target=8404,published=%d" % STATS,
           "--config", "source=%s,target=/etc/haproxy/haproxy.cfg" % name, "--constraint", "node.hostname==%s" % MANAGER,
           IMAGE, "haproxy", "-db", "-f", "/etc/haproxy/haproxy.cfg")
    yield {"stateless": backend_of(STATELESS), "stateful": backend_of(STATEFUL)}
    docker("service", "rm", LB, check=False)
    time.sleep(2)
    docker("config", "rm", name, check=False)
    # Back to the catalog's replica count (the stacks' spec as site.yml left it); the extra tasks stop
    # in the background.
    docker("service", "scale", "--detach=true", *("%s_%s=1" % (svc, svc) for svc in (STATELESS, STATEFUL)))


def test_generated_config_passes_haproxy_check_in_the_image(balancer):
    out = subprocess.run(["docker", "exec", MANAGER, "sh", "-c",
                          "docker exec $(docker ps -q --filter label=com.docker.swarm.service.name=%s) haproxy -c -f /etc/haproxy/haproxy.cfg"
                          % LB], text=True, capture_output=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Configuration file is valid" in out.stdout + out.stderr


def test_stateless_round_robin_splits_evenly_over_three_replicas(balancer):
    started = time.monotonic()
    assert len(wait_for(lambda: len(up_servers(balancer["stateless"])) == 3 and up_servers(balancer["stateless"]), 60)) == 3
    print("\n3 Navidrome replicas UP in HAProxy after %.1f s" % (time.monotonic() - started))
    counts: dict[str, int] = {}
    for _unused in range(300):
        status, replica = get(STATELESS)
        assert status == 200
        counts[replica] = counts.get(replica, 0) + 1
    print("300 requests: %s" % counts)
    assert len(counts) == 3 and all(abs(n - 100) <= 3 for n in counts.values()), counts


def test_stateful_client_stays_on_one_replica(balancer):
    assert len(wait_for(lambda: len(up_servers(balancer["stateful"])) == 3 and up_servers(balancer["stateful"]), 60)) == 3
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    seen = {get(STATEFUL, opener)[1] for _unused in range(50)}
    fresh = {get(STATEFUL)[1] for _unused in range(30)}
    print("\none client with its cookie: %s; 30 fresh clients: %d replicas" % (seen, len(fresh)))
    assert len(seen) == 1 and any(cookie.name == "MSSRV" for cookie in jar)
    assert len(fresh) > 1


def running_tasks(service: str) -> list[tuple[str, str]]:
    """(node, container name) of each running task of ``service``."""
    out = docker("service", "ps", service, "--filter", "desired-state=running", "--no-trunc", "--format", "{{.Node}} {{.Name}}.{{.ID}}")
    return [tuple(line.split()) for line in out.splitlines() if line.strip()]  # type: ignore[misc]


def test_killed_replica_leaves_rotation_within_30_seconds(balancer):
    backend = balancer["stateless"]
    assert len(wait_for(lambda: len(up_servers(backend)) == 3 and up_servers(backend), 60)) == 3
    node, container = running_tasks("%s_%s" % (STATELESS, STATELESS))[0]
    address = docker("inspect", container, "--format", "{{(index .NetworkSettings.Networks \"media\").IPAddress}}", node=node)
    victim = docker("inspect", container, "--format", "{{.Config.Hostname}}", node=node)
    slots = [slot for slot, ip in up_addresses(backend).items() if ip == address]
    assert slots, "replica %s (%s on %s) is not among HAProxy's running servers %s" % (victim, address, node, up_addresses(backend))
    docker("kill", container, node=node)
    killed = time.monotonic()
    answers: dict[str, int] = {}

    def gone() -> bool:
        status, replica = get(STATELESS)
        answers[replica or "failed %d" % status] = answers.get(replica or "failed %d" % status, 0) + 1
        return address not in up_addresses(backend).values()

    assert wait_for(gone, 30, step=0.2), "replica %s (%s) still UP in HAProxy 30 s after it was killed: %s" % (victim, address, up_addresses(backend))
    removed = time.monotonic() - killed
    after = [get(STATELESS) for _unused in range(30)]
    print("\nkilled %s (%s on %s): out of rotation after %.1f s; meanwhile %s; 30 requests after: %s"
          % (victim, address, node, removed, answers, sorted({replica for _unused, replica in after})))
    assert removed <= 30
    assert victim not in answers
    assert all(status == 200 for status, _unused in after), after
    assert victim not in {replica for _unused, replica in after}
