"""The rendered haproxy.cfg on the real haproxy, in front of real HTTP replicas on 127.0.0.1.

Each test starts three replicas of a stateless service (``web``) and three of a stateful one
(``app``) as Python subprocesses answering their replica id on ``/`` and 200 on ``/health``, renders
the configuration with ``mediastack.core.haproxy_config`` (explicit ``servers``, a stats socket) and
runs ``haproxy -db`` on it, then sends real HTTP requests with a ``Host`` header. The figures (split
counts, the seconds until a killed replica leaves the rotation) are printed for ``pytest -s``.
"""
from __future__ import annotations

import collections
import csv
import http.cookiejar
import io
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

from ansible_collections.mediastack.core.plugins.filter.haproxy_config import haproxy_config

from ..helpers import wait_for

HAPROXY = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").is_file() else None)
pytestmark = pytest.mark.skipif(HAPROXY is None, reason="needs the haproxy binary (apt-get install haproxy)")

DOMAIN = "lb.example.org"
REPLICAS = 3
# A replica: its id on every path but /health, 200 on /health; one connection per request (HTTP/1.0).
REPLICA = r"""
import http.server, sys
rid = sys.argv[1].encode()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok" if self.path == "/health" else rid
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a health check that hangs up early is not an error
server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def description(subdomain: str, stateful: bool) -> dict:
    return {"image": "example/%s:1.0" % subdomain, "networks": ["media"], "placement": {"role": "media"},
            "resources": {"cpus": 1, "memory": "256M"}, "route": {"subdomain": subdomain, "port": 8000},
            "stateful": stateful, "replicas": REPLICAS}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Platform:
    """Replicas + haproxy; ``get`` sends one request through the frontend."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.replicas = {}  # type: Dict[str, subprocess.Popen]
        self.addresses = {}  # type: Dict[str, List[str]]
        self.haproxy = None  # type: Optional[subprocess.Popen]
        self.port = free_port()
        self.stats_port = free_port()
        self.socket = str(tmp / "admin.sock")
        self.log = tmp / "haproxy.log"

    def start_replica(self, service: str, index: int) -> str:
        rid = "%s%d" % (service, index)
        proc = subprocess.Popen([sys.executable, "-c", REPLICA, rid], stdout=subprocess.PIPE, text=True)
        self.replicas[rid] = proc
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.strip().isdigit(), "replica %s did not start" % rid
        return "127.0.0.1:%s" % line.strip()

    def start(self) -> str:
        for service in ("web", "app"):
            self.addresses[service] = [self.start_replica(service, i) for i in range(1, REPLICAS + 1)]
        catalog = {"web": description("web", False), "app": description("app", True)}
        settings = {"bind_address": "127.0.0.1", "frontend_port": self.port, "stats_port": self.stats_port,
                    "stats_socket": self.socket, "servers": self.addresses}
        config = haproxy_config(catalog, settings, platform={"domain": DOMAIN})
        path = self.tmp / "haproxy.cfg"
        path.write_text(config, encoding="utf-8")
        check = subprocess.run([HAPROXY, "-c", "-f", str(path)], capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        with open(self.log, "w", encoding="utf-8") as log:
            self.haproxy = subprocess.Popen([HAPROXY, "-db", "-f", str(path)], cwd=self.tmp, stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: self.haproxy.poll() is not None or self.stat(), 10, step=0.05, what="haproxy's stats socket")
        assert self.haproxy.poll() is None, self.log.read_text(encoding="utf-8")
        return config

    def stop(self) -> None:
        procs = list(self.replicas.values()) + ([self.haproxy] if self.haproxy else [])
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()

    def kill(self, rid: str) -> None:
        proc = self.replicas[rid]
        proc.kill()
        proc.wait()

    def stat(self) -> Dict[Tuple[str, str], Dict[str, str]]:
        """``show stat`` over the runtime API socket: (proxy, server) -> row; {} while haproxy is not up."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(2)
                sock.connect(self.socket)
                sock.sendall(b"show stat\n")
                chunks = []
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
        except OSError:
            return {}
        text = b"".join(chunks).decode().lstrip("# ")
        return {(row["pxname"], row["svname"]): row for row in csv.DictReader(io.StringIO(text)) if row.get("pxname")}

    def status(self, service: str) -> Dict[str, str]:
        return {sv: row["status"] for (px, sv), row in self.stat().items() if px == "be_" + service and sv.startswith(service)}

    def wait_checked(self, service: str) -> float:
        """Seconds until every server of ``service`` passed a health check ("UP 1/2" at start means not checked yet)."""
        start = time.monotonic()
        wanted = {"%s%d" % (service, i): "UP" for i in range(1, REPLICAS + 1)}
        wait_for(lambda: self.status(service) == wanted, 15, step=0.2, what="the first health checks of %s (inter 10s)" % service)
        return time.monotonic() - start

    def get(self, host: str, opener: Optional[urllib.request.OpenerDirector] = None, path: str = "/") -> Tuple[int, str, Message]:
        request = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), headers={"Host": "%s.%s" % (host, DOMAIN)})
        try:
            with (opener or urllib.request.build_opener()).open(request, timeout=15) as response:
                return response.status, response.read().decode(), response.headers
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(), exc.headers


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    plat = Platform(tmp_path)
    try:
        plat.start()
        yield plat
    finally:
        plat.stop()


def test_routes_by_host_and_every_replica_is_up(platform: Platform) -> None:
    assert platform.get("web")[0] == 200
    assert platform.get("app")[0] == 200
    status, body, _unused = platform.get("nothing")
    assert (status, body) == (404, "no service is routed for this host")
    # Every replica passes the HTTP check (GET /health with the service's Host) within one interval.
    print("\nall replicas checked UP after %.1f s" % max(platform.wait_checked("web"), platform.wait_checked("app")))
    # The Prometheus exporter answers on the stats frontend.
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % platform.stats_port, timeout=5) as response:
        metrics = response.read().decode()
    assert 'haproxy_backend_active_servers{proxy="be_web"} 3' in metrics
    assert 'haproxy_server_status{proxy="be_app",server="app2",state="UP"} 1' in metrics


def test_stateless_requests_split_evenly(platform: Platform) -> None:
    counts = collections.Counter()  # type: collections.Counter
    for _unused in range(300):
        status, body, headers = platform.get("web")
        assert status == 200
        assert headers.get("Set-Cookie") is None
        counts[body] += 1
    print("\nstateless split of 300 requests: %s" % dict(sorted(counts.items())))
    assert set(counts) == {"web1", "web2", "web3"}
    assert all(99 <= n <= 101 for n in counts.values()), counts


def test_stateful_client_sticks_to_one_replica(platform: Platform) -> None:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    seen = collections.Counter()  # type: collections.Counter
    for _unused in range(50):
        status, body, _headers = platform.get("app", opener)
        assert status == 200
        seen[body] += 1
    assert [c.name for c in jar] == ["MSSRV"]
    print("\nstateful: one client with a cookie jar, 50 requests: %s (cookie MSSRV=%s)" % (dict(seen), [c.value for c in jar][0]))
    assert len(seen) == 1 and sum(seen.values()) == 50
    assert [c.value for c in jar] == list(seen)  # the cookie names the server

    fresh = collections.Counter()  # type: collections.Counter
    for _unused in range(30):
        status, body, headers = platform.get("app", urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())))
        assert status == 200
        assert headers.get("Set-Cookie", "").startswith("MSSRV=%s;" % body)
        fresh[body] += 1
    print("stateful: 30 fresh clients: %s" % dict(sorted(fresh.items())))
    assert len(fresh) > 1

    # The client's replica dies: before any health check notices, its next request is redispatched
    # to a live replica (option redispatch) and the cookie is rewritten to name the new one.
    sticky = list(seen)[0]
    platform.kill(sticky)
    sent = time.monotonic()
    status, body, _headers = platform.get("app", opener)
    print("stateful: %s killed; the client's next request answered %d by %s after %.2f s, cookie now MSSRV=%s"
          % (sticky, status, body, time.monotonic() - sent, [c.value for c in jar][0]))
    assert status == 200 and body != sticky
    assert [c.value for c in jar] == [body]


def test_dead_replica_leaves_rotation_within_30s(platform: Platform) -> None:
    platform.wait_checked("web")  # steady state: a single failed check no longer takes a server out
    platform.kill("web2")
    start = time.monotonic()
    during = []  # type: List[Tuple[int, str, float]]
    removed = None
    while removed is None:
        sent = time.monotonic()
        status, body, _headers = platform.get("web")
        during.append((status, body, time.monotonic() - sent))
        time.sleep(0.02)  # pace the probe: about 50 requests a second
        state = platform.status("web")["web2"]
        if state.startswith("DOWN"):
            removed = time.monotonic() - start
        else:
            assert time.monotonic() - start < 40, "web2 still %s after 40 s" % state
    slowest = max(d[2] for d in during)
    dead = platform.stat()[("be_web", "web2")]
    print("\nkilled web2: out of rotation after %.1f s; %d requests meanwhile, all answered (%s), slowest %.2f s; "
          "haproxy redispatched %s of them (%s failed checks, last %s)"
          % (removed, len(during), dict(collections.Counter(d[1] for d in during)), slowest, dead["wredis"], dead["chkfail"], dead["check_status"]))
    assert removed <= 30
    assert int(dead["wredis"]) > 0  # requests sent to the dead replica were retried on a live one, not lost
    assert dead["check_status"] == "L4CON"  # taken out by the health check (connection refused)
    assert all(d[0] == 200 for d in during), [d for d in during if d[0] != 200]
    assert {d[1] for d in during} <= {"web1", "web3"}

    after = collections.Counter()  # type: collections.Counter
    for _unused in range(30):
        sent = time.monotonic()
        status, body, _headers = platform.get("web")
        assert status == 200 and time.monotonic() - sent < 1
        after[body] += 1
    print("after removal, 30 requests: %s" % dict(sorted(after.items())))
    assert after == {"web1": 15, "web3": 15}
