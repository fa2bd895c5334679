"""The service platform on the lab Swarm: the catalog deployed by site.yml (roles/services) from stand-in
images served by the lab registry under the catalog's own repo:tag.

Run for real: the deploy path (plan, directories, versioned secrets and configs, Postgres database and
user, one stack per service, the wait), Redis and PostgreSQL (Debian's, in the stand-in images), overlay
segmentation. The apps and Traefik/Authelia are HTTP stubs (their real images cannot be pulled here).
"""
from __future__ import annotations

import base64
import ipaddress
import json
import re
import subprocess
import time

import pytest
import yaml
from ansible.plugins.filter.core import to_uuid

from ..helpers import ROOT, playbook, recap

DATA_SUBNET = next(n["subnet"] for n in yaml.safe_load((ROOT / "roles/swarm/defaults/main.yml").read_text())["swarm_networks"]
                   if n["name"] == "data")

MANAGER = "mslab-m1"
# The lab deploys the role's default services_enabled (the lab inventory does not set it).
ENABLED = yaml.safe_load((ROOT / "roles/services/defaults/main.yml").read_text())["services_enabled"]
LAB_OVERRIDES = {"jellyfin": {"resources": {"cpus": 2}}}
AUTHELIA_DB_PASSWORD = "lab-authelia-db-password"  # inventories/lab/group_vars/all.yml (lab-only value)


def docker(*cmd: str, node: str = MANAGER, check: bool = True) -> str:
    proc = subprocess.run(["docker", "exec", node, "docker", *cmd], text=True, capture_output=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("%s: docker %s failed: %s" % (node, " ".join(cmd), proc.stderr))
    return proc.stdout.strip()


def service_table() -> dict[str, dict]:
    rows = [json.loads(line) for line in docker("service", "ls", "--format", "{{json .}}").splitlines()]
    return {r["Name"]: r for r in rows}


def versions() -> dict[str, int]:
    out = {}
    for name in service_table():
        out[name] = json.loads(docker("service", "inspect", name, "--format", "{{json .Version.Index}}"))
    return out


def changed_tasks(stdout: str) -> list[str]:
    """The tasks of a default-callback run that reported changed (for failure messages)."""
    out, task = [], ""
    for line in stdout.splitlines():
        if line.startswith("TASK ["):
            task = line.split("[", 1)[1].rsplit("]", 1)[0]
        elif line.startswith("changed:"):
            out.append("%s %s" % (task, line.split("=>")[0]))
    return out


def site(lab, *args: str) -> subprocess.CompletedProcess[str]:
    return playbook("-i", lab["inventory"], "site.yml", *args)


def probe(name: str, network: str, script: str, image: str) -> tuple[str, str]:
    """Run ``script`` once in a task on ``network`` (on a manager); its final state and its output."""
    docker("service", "rm", name, check=False)
    docker("service", "create", "--detach", "--name", name, "--network", network, "--restart-condition", "none",
           "--constraint", "node.role==manager", "--entrypoint", "sh", image, "-c", script)
    deadline = time.monotonic() + 90
    state = ""
    while time.monotonic() < deadline:
        state = docker("service", "ps", name, "--format", "{{.CurrentState}}").split("\n")[0]
        if state.startswith(("Complete", "Failed", "Rejected")):
            break
        time.sleep(1)
    logs = docker("service", "logs", "--raw", name, check=False)
    docker("service", "rm", name, check=False)
    return state, logs


@pytest.fixture(scope="module")
def platform(converged, lab):
    assert converged.returncode == 0, converged.stdout[-4000:]
    return lab


def test_every_enabled_service_runs_all_replicas(platform):
    table = service_table()
    print()
    for name in ENABLED:
        row = table["%s_%s" % (name, name)]
        print("%-32s %s %s" % (row["Name"], row["Replicas"], row["Image"]))
        running, desired = row["Replicas"].split("/")
        assert running == desired and int(desired) >= 1, row
    # The GPU service reserved the lab's advertised GPU and its anchor holds the overlay attachment.
    assert "jellyfin_jellyfin-netanchor" in table
    reservations = json.loads(docker("service", "inspect", "jellyfin_jellyfin", "--format",
                                     "{{json .Spec.TaskTemplate.Resources.Reservations.GenericResources}}"))
    assert reservations == [{"DiscreteResourceSpec": {"Kind": "NVIDIA-GPU", "Value": 1}}]
    # Every image came from the lab registry (the image_registry mirror setting), none is floating.
    assert all(row["Image"].startswith("172.31.240.5:5000/") and not row["Image"].endswith(":latest") for row in table.values())


def test_gpu_service_container_shows_the_gpu_that_gpu_assign_chose(platform):
    """site.yml alone: the nvidia role on the GPU node (a simulated GPU in the lab) assigned the catalog's GPU service, the
    services play handed that assignment to the stack, and Swarm's reservation gave the container the same GPU."""
    gpu_node = "mslab-w1"
    uuid = "GPU-" + to_uuid(gpu_node)  # inventories/lab: lab_fake_gpu_uuid of the gpu-labelled node
    spec = json.loads(docker("service", "inspect", "jellyfin_jellyfin", "--format", "{{json .Spec.TaskTemplate}}"))
    env = dict(item.split("=", 1) for item in spec["ContainerSpec"].get("Env", []))
    assert env["NVIDIA_VISIBLE_DEVICES"] == uuid and env["NVIDIA_DRIVER_CAPABILITIES"] == "video,utility"
    assert "node.hostname == %s" % gpu_node in spec["Placement"]["Constraints"]
    container = docker("ps", "--filter", "label=com.docker.swarm.service.name=jellyfin_jellyfin", "--format", "{{.ID}}", node=gpu_node)
    assert container, "no jellyfin container on %s" % gpu_node
    seen = dict(item.split("=", 1) for item in json.loads(docker("inspect", container.split()[0], "--format", "{{json .Config.Env}}",
                                                                 node=gpu_node)))
    print("\njellyfin on %s: NVIDIA_VISIBLE_DEVICES=%s DOCKER_RESOURCE_NVIDIA-GPU=%s"
          % (gpu_node, seen.get("NVIDIA_VISIBLE_DEVICES"), seen.get("DOCKER_RESOURCE_NVIDIA-GPU")))
    assert seen["NVIDIA_VISIBLE_DEVICES"] == uuid
    assert seen["DOCKER_RESOURCE_NVIDIA-GPU"] == uuid, "Swarm reserved another GPU than the one gpu_assign chose"


def newest(names: list[str], base: str) -> str:
    """The newest version (<base>_v<n>) of a rolled Docker secret or config."""
    found = sorted(int(n.rsplit("_v", 1)[1]) for n in names if re.fullmatch(re.escape(base) + r"_v\d+", n))
    assert found, "no version of %s in %s" % (base, names)
    return "%s_v%d" % (base, found[-1])


def test_secrets_and_configs_are_versioned_and_mounted(platform):
    secrets = docker("secret", "ls", "--format", "{{.Name}}").split()
    configs = docker("config", "ls", "--format", "{{.Name}}").split()
    for base in ("postgres_password", "authelia_db_password", "authelia_jwt_secret"):
        newest(secrets, base)
    for base in ("traefik_static", "traefik_dynamic"):
        newest(configs, base)
    spec = json.loads(docker("service", "inspect", "authelia_authelia", "--format", "{{json .Spec.TaskTemplate.ContainerSpec}}"))
    assert {c["ConfigName"]: c["File"]["Name"] for c in spec["Configs"]} == {newest(configs, "authelia_configuration"): "/config/configuration.yml"}
    mounted = {s["SecretName"]: s["File"]["Name"] for s in spec["Secrets"]}
    assert newest(secrets, "authelia_db_password") in mounted
    # the users database (password digests) is a secret: no `docker config inspect` shows it
    assert mounted[newest(secrets, "authelia_users")] == "authelia_users"  # /run/secrets/authelia_users
    assert not [c for c in configs if c.startswith("authelia_users")]
    values = list(yaml.safe_load((ROOT / "inventories/lab/group_vars/all.yml").read_text())["services_secrets"].values())
    for config in configs:
        data = base64.b64decode(json.loads(docker("config", "inspect", config, "--format", "{{json .Spec.Data}}"))).decode()
        assert "$argon2" not in data and not [v for v in values if v in data], config
    # The rendered Authelia configuration keeps secrets out: they come from *_FILE variables.
    raw = docker("config", "inspect", newest(configs, "authelia_configuration"), "--format", "{{json .Spec.Data}}")
    text = base64.b64decode(json.loads(raw)).decode()
    assert "lab-authelia" not in text and "default_policy: deny" in text


def test_authelia_database_reachable_from_its_network_not_from_dmz(platform):
    image = "172.31.240.5:5000/postgres:16.8-bookworm"  # the stand-in: psql and redis-cli
    script = ("getent hosts redis postgres >/dev/null && echo resolved; "
              "redis-cli -h redis ping; "
              "PGPASSWORD=%s psql -h postgres -U authelia -d authelia -Atc 'select current_user' ; "
              "echo done") % AUTHELIA_DB_PASSWORD
    state, logs = probe("probe-data", "data", script, image)
    print("\nfrom the data segment (Authelia's): %s\n%s" % (state, logs))
    assert "resolved" in logs and "PONG" in logs and "\nauthelia\n" in "\n" + logs + "\n"
    redis_ip = json.loads(docker("service", "inspect", "redis_redis", "--format", "{{json .Endpoint.VirtualIPs}}") or "null")
    task_ip = docker("network", "inspect", "data", "--format", "{{json .Containers}}", node="mslab-w2")
    ip = next((c["IPv4Address"].split("/")[0] for c in json.loads(task_ip).values() if c["Name"].startswith("redis_redis.")), "")
    assert ipaddress.ip_address(ip) in ipaddress.ip_network(DATA_SUBNET), (redis_ip, task_ip)
    script = ("getent hosts redis || echo unresolved; getent hosts postgres || echo unresolved; "
              "timeout 5 redis-cli -h %s ping || echo unreachable; echo done") % ip
    state, logs = probe("probe-dmz", "dmz", script, image)
    print("from the dmz segment: %s\n%s" % (state, logs))
    assert logs.count("unresolved") == 2 and "unreachable" in logs and "PONG" not in logs


def test_a_stack_changed_by_hand_is_deployed_again(platform):
    """An unchanged rendering is not deployed again, but a stack that no longer runs as rendered is."""
    docker("service", "scale", "--detach", "navidrome_navidrome=0")
    proc = site(platform, "--tags", "navidrome")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert [line.split(" changed:")[0] for line in changed_tasks(proc.stdout)] == ["mediastack.core.services : Deploy the stack navidrome"]
    assert service_table()["navidrome_navidrome"]["Replicas"] == "1/1"


def test_tags_navidrome_touches_only_navidrome(platform):
    before = versions()
    extra = json.dumps({"services_catalog_overrides": dict(LAB_OVERRIDES, navidrome={"env": {"ND_LOGLEVEL": "debug"}})})
    proc = site(platform, "--tags", "navidrome", "-e", extra)
    assert proc.returncode == 0, proc.stdout[-4000:]
    after = versions()
    changed = sorted(name for name in after if after[name] != before.get(name))
    print("\n--tags navidrome changed: %s; recap %s" % (changed, recap(proc.stdout)))
    assert changed == ["navidrome_navidrome"]
    env = docker("service", "inspect", "navidrome_navidrome", "--format", "{{json .Spec.TaskTemplate.ContainerSpec.Env}}")
    assert "ND_LOGLEVEL=debug" in json.loads(env)
    assert "Deploy the stack navidrome" in proc.stdout and "Deploy the stack jellyfin" not in proc.stdout


def test_disabled_service_stack_removed_data_kept(platform):
    subprocess.run(["docker", "exec", "mslab-w1", "sh", "-c", "echo keep > /srv/mediastack/data/navidrome/marker"], check=True)
    enabled = [name for name in ENABLED if name != "navidrome"]
    proc = site(platform, "--tags", "services", "-e", json.dumps({"services_enabled": enabled}))
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "navidrome_navidrome" not in service_table()
    kept = subprocess.run(["docker", "exec", "mslab-w1", "cat", "/srv/mediastack/data/navidrome/marker"], text=True,
                          capture_output=True, check=False)
    assert kept.stdout.strip() == "keep", "the data of a disabled service is kept"
    # Enabled again (the inventory's list), it comes back with its data; the next converge changes nothing.
    proc = site(platform, "--tags", "navidrome")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert service_table()["navidrome_navidrome"]["Replicas"] == "1/1"
    # The full run brings back what only the whole catalog decides: Authelia's access rules had dropped
    # navidrome's route while it was disabled, so exactly Authelia's configuration rolls, nothing else.
    proc = site(platform, "--tags", "services")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert [line.split(" changed:")[0] for line in changed_tasks(proc.stdout)] == [
        "mediastack.core.services : Create the Docker configs and secrets the deployed services read", "mediastack.core.services : Deploy the stack authelia"]
    spec = docker("service", "inspect", "authelia_authelia", "--format", "{{json .Spec.TaskTemplate.ContainerSpec.Configs}}")
    current = next(c["ConfigName"] for c in json.loads(spec) if c["File"]["Name"] == "/config/configuration.yml")
    text = base64.b64decode(json.loads(docker("config", "inspect", current, "--format", "{{json .Spec.Data}}"))).decode()
    assert "music.media.lab" in text
