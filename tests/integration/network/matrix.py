"""Packet-level check of the zero-trust policy: real TCP connections through the generated nftables ruleset.

Topology (network namespaces, veth pairs; the kernel here has no 802.1Q, so each segment is a veth link
instead of a VLAN): one router namespace holding every segment's gateway address and the ruleset rendered
by the same code as the host_network role's template, and one host namespace per segment at the segment's
first static address. Every host listens on every port the policy names; every host connects to every
other host on every such port. Only addresses inside these namespaces are ever targeted.

    sudo .venv/bin/python tests/integration/network/matrix.py [--chain-policy accept|drop] [--plan FILE]

prints the matrix and exits 1 when any probe disagrees with the policy. The pytest wrapper is
test_packet_matrix.py. ``--listen`` and ``--probe`` are the helper modes it runs inside the namespaces.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SEED = HERE / "seed_plan.yml"
CONNECT_TIMEOUT = 0.7


def _import_netplan():
    """The collection's module_utils, importable from a plain checkout (as tests/conftest.py arranges)."""
    collections = ROOT / ".cache" / "collections"
    link = collections / "ansible_collections" / "mediastack" / "core"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink("../../../..", link)
    if str(collections) not in sys.path:
        sys.path.insert(0, str(collections))
    from ansible_collections.mediastack.core.plugins.module_utils.network import netplan  # pylint: disable=import-outside-toplevel

    return netplan


# ----------------------------------------------------------------------------- helper modes (run inside a namespace)


def listen(ports: list) -> None:
    """Accept and close connections on ``ports`` until killed; print 'ready' once all are bound."""
    sel = selectors.DefaultSelector()
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))
        sock.listen(64)
        sel.register(sock, selectors.EVENT_READ)
    print("ready", flush=True)
    while True:
        for key, _unused1 in sel.select():
            conn, _addr = key.fileobj.accept()
            conn.close()


def _connect(target: str) -> str:
    host, port = target.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT):
            return "connected"
    except socket.timeout:
        return "timeout"
    except OSError as exc:
        return "error: %s" % (exc.strerror or exc)


def probe(targets: list) -> None:
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(64, len(targets) or 1)) as pool:
        results = dict(zip(targets, pool.map(_connect, targets)))
    print(json.dumps(results))


# ----------------------------------------------------------------------------- the lab


def _run(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), proc.returncode, proc.stderr.strip()))
    return proc


class Lab:
    """Namespaces for one plan; always torn down by ``close()`` (also used as a context manager)."""

    def __init__(self, plan: list, rules: list, ruleset: str, netplan) -> None:
        self.plan = netplan.derive_plan(plan)
        self.rules = rules
        self.ruleset = ruleset
        self.netplan = netplan
        tag = "ms%d" % (os.getpid() % 100000)
        self.router = tag + "-router"
        self.hosts = dict((s["name"], "%s-%s" % (tag, s["name"])) for s in self.plan)
        self.address = {}
        for seg in self.plan:
            statics = list(seg["static"].values())
            self.address[seg["name"]] = statics[0] if statics else seg["dhcp"]["start"] or seg["broadcast"]
        self.ports = sorted(set(int(p.split("-")[0]) for r in rules if r["action"] == "pass" for p in r["ports"]))
        self.listeners = []
        self.created = []

    def __enter__(self) -> "Lab":
        try:
            self.up()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def up(self) -> None:
        for ns in [self.router] + list(self.hosts.values()):
            _run("ip", "netns", "add", ns)
            self.created.append(ns)
            _run("ip", "link", "set", "lo", "up", ns=ns)
        _run("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=self.router)
        for index, seg in enumerate(self.plan):
            host = self.hosts[seg["name"]]
            rif = "seg%d" % index
            _run("ip", "link", "add", rif, "netns", self.router, "type", "veth", "peer", "name", "eth0", "netns", host)
            _run("ip", "addr", "add", seg["gateway_cidr"], "dev", rif, ns=self.router)
            _run("ip", "link", "set", rif, "up", ns=self.router)
            _run("ip", "addr", "add", "%s/%d" % (self.address[seg["name"]], seg["prefixlen"]), "dev", "eth0", ns=host)
            _run("ip", "link", "set", "eth0", "up", ns=host)
            _run("ip", "route", "add", "default", "via", seg["gateway"], ns=host)
        ports = ",".join(str(p) for p in self.ports)
        for ns in self.hosts.values():
            proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(Path(__file__).resolve()), "--listen", ports],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self.listeners.append(proc)
        for proc in self.listeners:
            line = proc.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError("a listener did not start: %s %s" % (line, proc.stderr.read()))

    def load_ruleset(self) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".nft", delete=False) as handle:
            handle.write(self.ruleset)
        try:
            _run("nft", "-f", handle.name, ns=self.router)
        finally:
            os.unlink(handle.name)

    def probe_all(self) -> dict:
        """{(src, dst, port): outcome} for every ordered pair of different segments and every policy port."""
        jobs = {}
        for src, ns in self.hosts.items():
            targets = ["%s:%d" % (self.address[dst], port) for dst in self.hosts if dst != src for port in self.ports]
            jobs[src] = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(Path(__file__).resolve()), "--probe"] + targets,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        results = {}
        by_address = dict((a, n) for n, a in self.address.items())
        for src, proc in jobs.items():
            out, err = proc.communicate(timeout=60)
            if proc.returncode != 0:
                raise RuntimeError("probe from %s failed: %s" % (src, err))
            for target, outcome in json.loads(out).items():
                host, port = target.rsplit(":", 1)
                results[(src, by_address[host], int(port))] = outcome
        return results

    def expected(self, src: str, dst: str, port: int) -> bool:
        return self.netplan.policy_allows(self.rules, self.address[src], self.address[dst], "tcp", port)

    def close(self) -> None:
        for proc in self.listeners:
            proc.kill()
            proc.wait()
            for stream in (proc.stdout, proc.stderr):
                stream.close()
        self.listeners = []
        for ns in reversed(self.created):
            _run("ip", "netns", "del", ns, check=False)
        self.created = []


def table(lab: Lab, results: dict) -> str:
    """The matrix as text: one row per (source, destination), one column per port.

    ``pass``/``drop`` is what the policy says; a trailing ``!`` marks a probe that disagreed.
    """
    names = [s["name"] for s in lab.plan]
    width = max([len("%s -> %s" % (a, b)) for a in names for b in names] + [len("source -> destination")])
    head = "%-*s | %s" % (width, "source -> destination", " ".join("%6d" % p for p in lab.ports))
    lines = [head, "-" * len(head)]
    for src in names:
        for dst in names:
            if src == dst:
                continue
            cells = []
            for port in lab.ports:
                want = lab.expected(src, dst, port)
                got = results[(src, dst, port)] == "connected"
                cells.append("%6s" % (("pass" if want else "drop") + ("" if want == got else "!")))
            lines.append("%-*s | %s" % (width, "%s -> %s" % (src, dst), " ".join(cells)))
    return "\n".join(lines)


def run_matrix(plan: list, policy: dict, chain_policy: str = "accept", out=None) -> tuple:
    """Build the lab, check the control (everything connects without the ruleset), probe with it.

    Returns (lab facts, control results, results, mismatches). Namespaces are removed before returning.
    """
    netplan = _import_netplan()
    rules = netplan.expand_policy(policy, plan)
    ruleset = netplan.render_nftables(rules, plan, chain_policy=chain_policy, log_denied=False)
    started = time.monotonic()
    with Lab(plan, rules, ruleset, netplan) as lab:
        control = lab.probe_all()
        lab.load_ruleset()
        results = lab.probe_all()
        mismatches = [(s, d, p, results[(s, d, p)]) for (s, d, p) in sorted(results)
                      if lab.expected(s, d, p) != (results[(s, d, p)] == "connected")]
        if out is not None:
            allowed = sum(1 for k in results if lab.expected(*k))
            out.write("\nzero-trust packet matrix (chain policy %s): %d probes, %d pass, %d drop, %d disagree, %.1fs\n"
                      % (chain_policy, len(results), allowed, len(results) - allowed, len(mismatches), time.monotonic() - started))
            out.write(table(lab, results) + "\n")
            out.flush()
        facts = {"ports": list(lab.ports), "address": dict(lab.address), "namespaces": [lab.router] + list(lab.hosts.values())}
    return facts, control, results, mismatches


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", help=argparse.SUPPRESS)
    parser.add_argument("--probe", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--plan", default=str(SEED), help="YAML file with 'segments' and 'policy' (default: the seed plan)")
    parser.add_argument("--chain-policy", choices=["accept", "drop"], default="accept")
    args = parser.parse_args(argv)
    if args.listen:
        listen([int(p) for p in args.listen.split(",")])
        return 0
    if args.probe is not None:
        probe(args.probe)
        return 0
    if os.geteuid() != 0:
        print("matrix.py needs root (network namespaces and nft)", file=sys.stderr)
        return 2
    import yaml  # pylint: disable=import-outside-toplevel

    data = yaml.safe_load(Path(args.plan).read_text())
    _facts, control, _results, mismatches = run_matrix(data["segments"], data["policy"], args.chain_policy, out=sys.stdout)
    broken = [k for k, v in control.items() if v != "connected"]
    if broken:
        print("control failed: without the ruleset these did not connect: %s" % broken)
    return 1 if mismatches or broken else 0


if __name__ == "__main__":
    sys.exit(main())
