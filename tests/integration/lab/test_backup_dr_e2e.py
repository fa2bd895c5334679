"""Backup and disaster recovery on a lab node, for real: backup role, runner, playbooks/dr.yml, borg.

On one worker (mslab-w2) tests/integration/lab/playbooks/backup_drill_seed.yml generates a
catalog-shaped service (config with nested metadata: a few hundred files of mixed sizes, unicode
names, a symlink, an empty directory, mixed modes, uid 1000) and a PostgreSQL 15 database with rows,
and applies the backup role (restic, repository `nas` at a local path on the node, timers off). The
test starts the role's backup units, records sha256/mode/owner of every entry and the row count,
destroys the service data, the dumps, the backup role's footprint (runner, config, state, units,
restic cache) and the database with its owner role, runs playbooks/dr.yml and compares. Then the
same cycle with borg for one class, backup_verify on the borg repository, and a corrupted segment
that backup_verify must report.

Secrets (repository and PostgreSQL passwords) are made per run and reach Ansible as an extra-vars
file readable by the test user only; the test asserts that no output shows them.
"""
from __future__ import annotations

import json
import re
import secrets
import subprocess
import time

import pytest

from ..helpers import json_result, playbook, recap

NODE = "mslab-w2"
VARS = "tests/integration/lab/playbooks/vars/backup_drill.yml"
SEED = "tests/integration/lab/playbooks/backup_drill_seed.yml"
VERIFY = "tests/integration/lab/playbooks/backup_drill_verify.yml"
DR = "playbooks/dr.yml"
DRILL_ROOT = "/srv/mediastack-drill"
REPOS = "/srv/mediastack-drill-repos"
ROWS = 12_000
# The backup role's footprint on a node; a fresh node has none of it.
ROLE_FOOTPRINT = ["/etc/mediastack-backup", "/var/lib/mediastack-backup", "/var/backups/mediastack",
                  "/usr/local/sbin/mediastack-backup", "/etc/systemd/system/mediastack-backup@.service",
                  "/etc/systemd/system/mediastack-backup-full@.service", "/etc/systemd/system/mediastack-backup-config.path"]

# Every entry under the given roots: type, mode, uid, gid, size and sha256 (files) or target (links).
LISTING = r"""
import hashlib, json, os, stat, sys
out = {}
for root in sys.argv[1:]:
    for current, dirs, files in os.walk(root):
        for name in [""] + dirs + files:
            path = os.path.join(current, name) if name else current
            st = os.lstat(path)
            entry = {"mode": oct(stat.S_IMODE(st.st_mode)), "uid": st.st_uid, "gid": st.st_gid}
            if stat.S_ISLNK(st.st_mode):
                entry.update(type="link", target=os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                entry.update(type="dir")
            else:
                digest = hashlib.sha256()
                with open(path, "rb") as handle:
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(block)
                entry.update(type="file", size=st.st_size, sha256=digest.hexdigest())
            out[path] = entry
print(json.dumps(out))
"""


def node(*cmd: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["docker", "exec", *(["-i"] if stdin is not None else []), NODE, *cmd], input=stdin, text=True,
                          capture_output=True, check=False)
    if check:
        assert proc.returncode == 0, "%s: %s failed (rc %d): %s%s" % (NODE, " ".join(cmd), proc.returncode, proc.stdout, proc.stderr)
    return proc


def listing(*roots: str) -> dict[str, dict]:
    return json.loads(node("python3", "-c", LISTING, *roots).stdout)


def psql(sql: str, database: str = "postgres", check: bool = True) -> subprocess.CompletedProcess[str]:
    return node("runuser", "-u", "postgres", "--", "psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql, check=check)


def destroy_role_footprint() -> None:
    """What a fresh node lacks: the runner, its config and secrets, manifests, dumps, units and tool caches."""
    node("sh", "-c", "rm -rf %s /etc/systemd/system/mediastack-backup-*.timer /root/.cache/restic /root/.cache/borg "
         "/root/.config/borg && systemctl daemon-reload" % " ".join(ROLE_FOOTPRINT))


def cleanup() -> None:
    """Leave the shared lab node as the drill found it (packages stay installed; PostgreSQL is stopped)."""
    node("sh", "-c", "systemctl stop 'mediastack-backup@*.service' 'mediastack-backup-full@*.service' 2>/dev/null; "
         "rm -rf %s %s /etc/mediastack-drill" % (DRILL_ROOT, REPOS))
    destroy_role_footprint()
    if node("systemctl", "is-active", "--quiet", "postgresql", check=False).returncode == 0:
        psql("DROP DATABASE IF EXISTS drilldb")
        psql("DROP ROLE IF EXISTS drillapp")
        psql("ALTER ROLE postgres PASSWORD NULL")
        node("systemctl", "disable", "--now", "postgresql")


@pytest.fixture(scope="module")
def drill(lab, tmp_path_factory):
    """Secrets for this run in a 0600 extra-vars file, a clean node before and after."""
    secret_file = tmp_path_factory.mktemp("backup-drill") / "secrets.json"
    values = {"backup_password": secrets.token_urlsafe(24), "drill_postgres_password": secrets.token_urlsafe(24)}
    secret_file.touch(mode=0o600)
    secret_file.write_text(json.dumps(values))
    cleanup()
    state = {"lab": lab, "secrets": values, "args": ["-e", "@" + VARS, "-e", "@%s" % secret_file, "-e", "drill_host=%s" % NODE]}
    yield state
    cleanup()


def run(drill, path: str, *extra: str, json_output: bool = False) -> subprocess.CompletedProcess[str]:
    args = ["-i", drill["lab"]["inventory"], path, *drill["args"], *extra]
    if path == DR:
        args += ["-e", "dr_hosts=%s" % NODE]
    proc = playbook(*args, json_output=json_output, timeout=900)
    for name, value in drill["secrets"].items():
        assert value not in proc.stdout + proc.stderr, "%s printed %s" % (path, name)
    return proc


def start_units(*classes: str) -> float:
    """Run the backup classes the way their timers would: start the role's oneshot service units."""
    started = time.monotonic()
    for cls in classes:
        unit = "mediastack-backup@%s.service" % cls
        proc = node("systemctl", "start", unit, check=False)
        journal = node("journalctl", "-u", unit, "--no-pager", "-n", "40", check=False).stdout
        assert proc.returncode == 0, "%s failed: %s\n%s" % (unit, proc.stderr, journal)
    return time.monotonic() - started


def dr_figures(proc: subprocess.CompletedProcess[str]) -> dict[str, float]:
    """The RPO/RTO lines playbooks/dr.yml prints."""
    figures = {}
    for key in ("RPO", "RTO"):
        match = re.search(r"%s ([0-9.]+) s \(target (\d+) s\): (met|MISSED)" % key, proc.stdout)
        assert match, "dr.yml printed no %s line:\n%s" % (key, proc.stdout[-4000:])
        assert match.group(3) == "met", match.group(0)
        figures[key] = float(match.group(1))
        figures[key + "_target"] = int(match.group(2))
    match = re.search(r"files identical to the manifests:\s+(\d+)", proc.stdout)
    assert match, proc.stdout[-3000:]
    figures["files"] = int(match.group(1))
    return figures


def files_and_bytes(entries: dict[str, dict]) -> tuple[int, int]:
    files = [entry for entry in entries.values() if entry["type"] == "file"]
    return len(files), sum(entry["size"] for entry in files)


def test_seed_applies_the_backup_role_idempotently(drill):
    first = run(drill, SEED)
    assert first.returncode == 0, (first.stdout + first.stderr)[-5000:]
    assert recap(first.stdout)[NODE]["changed"] > 0
    second = run(drill, SEED)
    assert second.returncode == 0, (second.stdout + second.stderr)[-5000:]
    changed = [line for line in second.stdout.splitlines() if line.startswith("changed:")]
    assert recap(second.stdout)[NODE]["changed"] == 0, changed
    # Timers are installed but off (backup_timers_enabled: false); the test starts the units itself.
    for unit in ("mediastack-backup-config.timer", "mediastack-backup-databases.timer", "mediastack-backup-config.path"):
        assert node("systemctl", "is-enabled", unit, check=False).stdout.strip() == "disabled", unit
    # The repository password is only in the root-only password file.
    holders = node("grep", "-rlF", "-f", "-", "/etc/mediastack-backup", "/etc/systemd/system", "/var/lib/mediastack-backup",
                   stdin=drill["secrets"]["backup_password"] + "\n").stdout.split()
    assert holders == ["/etc/mediastack-backup/nas.pass"]
    assert node("stat", "-c", "%a %U", "/etc/mediastack-backup/nas.pass").stdout.strip() == "600 root"


def test_restic_backup_destroy_and_dr_playbook_restore(drill):
    app = DRILL_ROOT + "/app"
    seconds = start_units("databases", "config", "metadata")
    snapshots = json.loads(node("sh", "-c", "RESTIC_PASSWORD_FILE=/etc/mediastack-backup/nas.pass restic -r %s/restic "
                                "snapshots --json" % REPOS).stdout)
    assert sorted(tag for snap in snapshots for tag in snap["tags"]) == ["config", "databases", "metadata"]
    assert {snap["hostname"] for snap in snapshots} == {NODE}
    before = listing(app)
    rows_before = int(psql("SELECT count(*) FROM items", "drilldb").stdout)
    files, size = files_and_bytes(before)
    assert files >= 300 and rows_before == ROWS
    assert sum(1 for entry in before.values() if entry["type"] == "link") == 2
    assert any(not path.isascii() for path in before)

    # Disaster: the service data, the dumps, the backup tooling and the database with its owner are gone.
    node("rm", "-rf", app)
    destroy_role_footprint()
    psql("DROP DATABASE drilldb")
    psql("DROP ROLE drillapp")
    assert node("test", "-e", app, check=False).returncode == 1
    assert psql("SELECT 1", "drilldb", check=False).returncode != 0

    started = time.monotonic()
    proc = run(drill, DR)
    wall = time.monotonic() - started
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    figures = dr_figures(proc)

    after = listing(app)
    rows_after = int(psql("SELECT count(*) FROM items", "drilldb").stdout)
    owner = psql("SELECT tableowner FROM pg_tables WHERE tablename = 'items'", "drilldb").stdout.strip()
    differing = sorted(path for path in set(before) | set(after) if before.get(path) != after.get(path))
    assert not differing, "restored entries differ: %s" % [(p, before.get(p), after.get(p)) for p in differing[:10]]
    assert rows_after == rows_before and owner == "drillapp"
    # dr.yml's own comparison covered the manifests of all three classes (data files plus the dump and the globals).
    assert figures["files"] == files + 2
    identical = sum(1 for path, entry in before.items() if entry["type"] == "file" and after.get(path) == entry)
    print("\nlab DR drill (restic, %s): backup of 3 classes %.1f s; files %d/%d byte-identical (sha256, mode and owner of "
          "%d entries equal), %.1f MiB, postgres rows %d/%d (owner %s); dr.yml: %d files matched the manifests, "
          "RPO %d s (target %d s) met, RTO %.1f s (target %d s) met, playbook wall time %.1f s"
          % (NODE, seconds, identical, files, len(before), size / 2**20, rows_after, rows_before, owner, figures["files"],
             figures["RPO"], figures["RPO_target"], figures["RTO"], figures["RTO_target"], wall))


def test_borg_backup_destroy_restore_and_verify(drill):
    app = DRILL_ROOT + "/borgapp"
    seed = run(drill, SEED, "-e", "drill_engine=borg")
    assert seed.returncode == 0, (seed.stdout + seed.stderr)[-5000:]
    assert node("borg", "--version").stdout.startswith("borg 1.2")
    seconds = start_units("config")
    before = listing(app)
    files, size = files_and_bytes(before)

    node("rm", "-rf", app)
    destroy_role_footprint()
    started = time.monotonic()
    proc = run(drill, DR, "-e", "drill_engine=borg", "-e", '{"dr_classes": ["config"]}')
    wall = time.monotonic() - started
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    figures = dr_figures(proc)
    after = listing(app)
    differing = sorted(path for path in set(before) | set(after) if before.get(path) != after.get(path))
    assert not differing, "restored entries differ: %s" % [(p, before.get(p), after.get(p)) for p in differing[:10]]
    assert figures["files"] == files

    verify = run(drill, VERIFY, "-e", "drill_engine=borg", json_output=True)
    result = next(iter(json_result(verify)["plays"][0]["tasks"][0]["hosts"].values()))
    assert verify.returncode == 0, result.get("msg")
    assert result["failed_checks"] == [] and set(result["checks"]) == {"integrity", "freshness", "retention", "restore"}
    assert result["checks"]["restore"]["files_matching"] == 10

    # Corrupt one byte range in the middle of the largest data segment.
    segment = node("sh", "-c", "ls -S %s/borg/data/*/* | head -1" % REPOS).stdout.strip()
    node("python3", "-c", "import os,sys\nwith open(sys.argv[1], 'r+b') as f:\n size = os.path.getsize(sys.argv[1]); "
         "f.seek(size // 2); data = f.read(64); f.seek(size // 2); f.write(bytes(b ^ 0xFF for b in data))", segment)
    broken = run(drill, VERIFY, "-e", "drill_engine=borg", json_output=True)
    failed = next(iter(json_result(broken)["plays"][0]["tasks"][0]["hosts"].values()))
    assert broken.returncode != 0 and failed["failed"]
    assert "integrity" in failed["failed_checks"], failed["msg"]
    assert failed["msg"].startswith("backup verification failed: integrity: borg check reported"), failed["msg"]
    print("\nborg drill (%s): backup of class config %.1f s; files %d/%d byte-identical, %.1f MiB; dr.yml RTO %.1f s "
          "(wall %.1f s), RPO %d s; backup_verify: %s; after corrupting %s: %s"
          % (NODE, seconds, files, files, size / 2**20, figures["RTO"], wall, figures["RPO"], result["msg"],
             segment.replace(REPOS + "/", ""), failed["msg"][:300]))
