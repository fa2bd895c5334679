"""End to end on a fresh lab: site.yml converges every node, a second run changes nothing,
check mode on the converged lab changes nothing, and the lab registry serves images to nodes."""
from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from ..helpers import ROOT, playbook, recap

NODES = ["mslab-m1", "mslab-m2", "mslab-m3", "mslab-w1", "mslab-w2"]
SERVICES = yaml.safe_load((ROOT / "roles/services/defaults/main.yml").read_text())["services_enabled"]  # the lab sets none


def docker_exec(node: str, *cmd: str) -> str:
    return subprocess.run(["docker", "exec", node, *cmd], text=True, capture_output=True, check=True).stdout.strip()


def print_recap(title: str, table: dict[str, dict[str, int]]) -> None:
    print("\n%s" % title)
    print("%-10s %4s %8s %12s %7s" % ("host", "ok", "changed", "unreachable", "failed"))
    for host, s in sorted(table.items()):
        print("%-10s %4d %8d %12d %7d" % (host, s["ok"], s["changed"], s["unreachable"], s["failed"]))


def _plain(value):
    """Drop ansible-inventory's unsafe wrappers ({'__ansible_unsafe': 'x'} -> 'x')."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def test_lab_inventory_has_the_planned_nodes(lab):
    inv = _plain(json.loads(lab["inventory_json"]))
    assert sorted(inv["swarm_managers"]["hosts"]) == NODES[:3]
    assert sorted(inv["swarm_workers"]["hosts"]) == NODES[3:]
    hostvars = inv["_meta"]["hostvars"]
    assert hostvars["mslab-w1"]["swarm_node_labels"] == {"type": "media", "gpu": "true"}
    assert hostvars["mslab-w2"]["swarm_node_labels"] == {"type": "data", "ssd": "true"}
    assert {h: hostvars[h]["ansible_connection"] for h in NODES} == {h: "community.docker.docker" for h in NODES}
    for node in NODES:
        assert docker_exec(node, "systemctl", "is-system-running") == "running"
        # each node has its own /var/lib/docker volume
        mounts = json.loads(subprocess.run(["docker", "inspect", node, "--format", "{{json .Mounts}}"], text=True,
                                           capture_output=True, check=True).stdout)
        assert any(m["Destination"] == "/var/lib/docker" and m["Name"] == node + "-docker" for m in mounts)


def test_lab_registry_serves_images_to_nodes(lab):
    base = subprocess.run(["scripts/lab-image.sh"], cwd=ROOT, text=True, capture_output=True, check=True).stdout.strip()
    tag = base.split(":")[1]
    ref = "127.0.0.1:5000/mediastack/lab-base:%s" % tag
    subprocess.run(["docker", "tag", base, ref], check=True)
    subprocess.run(["docker", "push", ref], check=True, capture_output=True)
    catalog = json.loads(docker_exec("mslab-w2", "curl", "-fsS", "http://172.31.240.5:5000/v2/_catalog"))
    assert "mediastack/lab-base" in catalog["repositories"]
    tags = json.loads(docker_exec("mslab-m1", "curl", "-fsS", "http://172.31.240.5:5000/v2/mediastack/lab-base/tags/list"))
    assert tag in tags["tags"]


@pytest.fixture(scope="module")
def first_run(converged):
    return converged


def test_site_converges_every_node(first_run):
    assert first_run.returncode == 0, first_run.stdout[-5000:]
    table = recap(first_run.stdout)
    print_recap("site.yml, first run on a fresh lab", table)
    assert sorted(table) == NODES
    assert all(s["failed"] == 0 and s["unreachable"] == 0 for s in table.values())
    assert all(s["changed"] > 0 for s in table.values())


def test_common_role_took_effect(first_run):
    assert first_run.returncode == 0
    for node in NODES:
        assert docker_exec(node, "getent", "passwd", "media").split(":")[2:4] == ["2000", "2000"]
        # the library: downloads and media on one filesystem (same device), so imports hardlink
        assert docker_exec(node, "stat", "-c", "%U:%G %a", "/srv/mediastack/library/media/tv") == "media:media 775"
        devices = docker_exec(node, "stat", "-c", "%d", "/srv/mediastack/library/downloads/torrents",
                              "/srv/mediastack/library/media/tv").split()
        assert len(devices) == 2 and devices[0] == devices[1]
        assert int(docker_exec(node, "cat", "/proc/sys/fs/inotify/max_user_watches")) >= 524288


def lab_secret_values() -> dict[str, str]:
    """Every secret value of the lab inventory (services_secrets, backup_password, the users' password digests)."""
    inv = yaml.safe_load((ROOT / "inventories/lab/group_vars/all.yml").read_text())
    found = {"backup_password": inv["backup_password"]}
    found.update({"services_secrets.%s" % k: v for k, v in inv["services_secrets"].items()})
    found.update({"services_authelia_users.%s.password" % k: u["password"] for k, u in inv["services_authelia_users"].items()})
    assert len(found) >= 7 and all(isinstance(v, str) and len(v) >= 12 for v in found.values()), found.keys()
    return found


def test_second_run_changes_nothing(first_run, lab):
    """The no-op rerun, at -vvv: nothing changes, and none of the inventory's secrets is in its output."""
    assert first_run.returncode == 0
    proc = playbook("-i", lab["inventory"], "site.yml", "-vvv")
    assert proc.returncode == 0, proc.stdout[-5000:]
    table = recap(proc.stdout)
    print_recap("site.yml, second run", table)
    assert sorted(table) == NODES
    assert {h: s["changed"] for h, s in table.items()} == {h: 0 for h in NODES}
    assert all(s["failed"] == 0 and s["unreachable"] == 0 for s in table.values())
    # Every stack already runs as rendered (its sha256 label): none is deployed again, none is waited for.
    words = " ".join(proc.stdout.split())
    assert words.count("(already as rendered; not deployed again)") == len(SERVICES), words[-3000:]
    output = proc.stdout + proc.stderr
    print("site.yml -vvv: %d lines of output scanned for %d secret values" % (output.count("\n"), len(lab_secret_values())))
    leaked = sorted(name for name, value in lab_secret_values().items() if value in output)
    assert leaked == [], "site.yml -vvv printed %s" % ", ".join(leaked)
    assert "$argon2id$" not in output, "a password digest is in the -vvv output"


def test_check_mode_on_converged_lab_changes_nothing(first_run, lab):
    assert first_run.returncode == 0
    proc = playbook("-i", lab["inventory"], "site.yml", "--check", "--diff")
    assert proc.returncode == 0, proc.stdout[-5000:]
    table = recap(proc.stdout)
    assert {h: s["changed"] for h, s in table.items()} == {h: 0 for h in NODES}


# What site.yml's backup play gives each lab node: the catalog's backup paths of the services its placement
# allows (mslab-w1: media + gpu, mslab-w2: data + ssd and the Swarm Postgres's dumps, managers: Traefik's ACME
# store and Grafana's data), one timer per class.
BACKUP_CLASSES = {"mslab-m1": ["metadata"], "mslab-m2": ["metadata"], "mslab-m3": ["metadata"],
                  "mslab-w1": ["config", "metadata"], "mslab-w2": ["databases", "metadata"]}


def test_site_yml_backs_up_what_each_node_may_hold(first_run):
    """Timers per class on every node, a real restic backup of Jellyfin's config on its node, Postgres named as not copied."""
    assert first_run.returncode == 0
    for node, classes in BACKUP_CLASSES.items():
        timers = docker_exec(node, "systemctl", "list-unit-files", "--no-legend", "mediastack-backup-*.timer").split("\n")
        names = sorted(line.split()[0] for line in timers if line.strip())
        # the databases class also has its daily full run (backup_classes: full)
        wanted = [t for c in classes for t in ([c, c + "-full"] if c == "databases" else [c])]
        assert names == sorted("mediastack-backup-%s.timer" % t for t in wanted), (node, names)
        for timer in wanted:
            assert docker_exec(node, "systemctl", "is-active", "mediastack-backup-%s.timer" % timer) == "active"
    config = json.loads(docker_exec("mslab-w1", "cat", "/etc/mediastack-backup/config.json"))
    assert "/srv/mediastack/config/jellyfin" in json.dumps(config), config
    docker_exec("mslab-w1", "systemctl", "start", "mediastack-backup@config.service")
    snapshots = json.loads(docker_exec("mslab-w1", "restic", "--no-cache", "-r", "/srv/backup/mediastack",
                                       "--password-file", "/etc/mediastack-backup/nas.pass", "snapshots", "--json"))
    paths = sorted({p for s in snapshots for p in s["paths"]})
    print("\nrestic snapshots on mslab-w1 after the config class ran: %d, paths %s" % (len(snapshots), paths))
    assert "/srv/mediastack/config/jellyfin" in paths and "/srv/mediastack/config/audiobookshelf" in paths, paths
    assert "backup: postgres: /srv/mediastack/data/postgres is not backed up" in " ".join(first_run.stdout.split())


def test_the_swarm_postgres_databases_are_dumped_in_its_task_and_backed_up(first_run):
    """The databases class on the node that runs the Swarm Postgres: pg_dump inside its task, then restic."""
    assert first_run.returncode == 0
    node = "mslab-w2"  # placement role data: the only data node
    task = docker_exec(node, "docker", "ps", "-q", "--filter", "label=com.docker.swarm.service.name=postgres_postgres")
    assert task, "the Swarm Postgres does not run on %s" % node
    docker_exec(node, "systemctl", "start", "mediastack-backup@databases.service")
    dump = "/var/backups/mediastack/postgres/postgres/authelia.dump"
    assert docker_exec(node, "head", "-c", "5", dump) == "PGDMP"  # pg_dump's custom format
    listing = docker_exec(node, "sh", "-c", "docker exec -i %s pg_restore --list < %s" % (task.split()[0], dump))
    assert "dbname: authelia" in listing, listing[:2000]
    assert "CREATE ROLE authelia" in docker_exec(node, "cat", "/var/backups/mediastack/postgres/globals-postgres_postgres.sql")
    snapshots = json.loads(docker_exec(node, "restic", "--no-cache", "-r", "/srv/backup/mediastack", "--password-file",
                                       "/etc/mediastack-backup/nas.pass", "snapshots", "--json", "--tag", "databases"))
    paths = sorted({p for s in snapshots for p in s["paths"]})
    print("\nSwarm Postgres on %s: dump of authelia %s bytes; restic snapshots of class databases: %d, paths %s"
          % (node, docker_exec(node, "stat", "-c", "%s", dump), len(snapshots), paths))
    assert "/var/backups/mediastack/postgres" in paths, paths
