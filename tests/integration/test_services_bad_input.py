"""The services role stops in its plan step, before any change, for each input it cannot deploy.

Each case applies ``mediastack.core.services`` on localhost with the bad input as extra vars. The Swarm
nodes of the inventory point at containers that do not exist, so a task that reached one (the
bind-mount directories are created by delegation) would report it unreachable; the tests assert that
the failing task is the plan's validation, that nothing after it ran and that nothing changed, and that
the message names the service, the field and the fix. With valid input the plan step alone succeeds
and shows the deploy order.
"""
from __future__ import annotations

import copy
import json
import os
import re
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from .helpers import playbook, recap

VALIDATE = "mediastack.core.services : Validate the catalog"
# Tasks (and modules) that change something; none may run when the plan step fails.
AFTER_PLAN = ("Create the bind-mount sources", "Create the Docker secrets", "Create the Docker configs", "Point the stacks at",
              "docker_stack", "Deploy the stack", "Remove the stacks", "Create the Postgres database", "Render the Docker configs")
TASK_RE = re.compile(r"^TASK \[(?P<name>.*)\] \**$", re.M)
SECRETS = {
    "postgres_password": "dummy-postgres",
    "authelia_db_password": "dummy-authelia-db",
    "authelia_jwt_secret": "dummy-jwt-0123456789abcdef0123456789",
    "authelia_session_secret": "dummy-session-0123456789abcdef012345",
    "authelia_storage_encryption_key": "dummy-storage-0123456789abcdef012345",
    "grafana_admin_password": "dummy-grafana-admin-0123",
}
BASE_VARS = {
    "services_domain": "media.example.org",
    "services_secrets": SECRETS,
    "services_edge": {"acme": {"email": "a@b.c", "challenge": "http"}},
    "services_authelia_users": {"admin": {
        "displayname": "Admin", "email": "admin@example.org", "groups": ["admins", "media"],
        "password": "$argon2id$v=19$m=65536,t=3,p=4$bGFic2FsdGxhYnNhbHQ$0Tl3t+4j7Q0tqvYg0wXJ2lGk8b9gkqJmfXo4m0z6yS8",
    }},
}
ENABLED = ["traefik", "authelia", "redis", "postgres", "jellyfin", "navidrome", "audiobookshelf"]
LABELS = {"m1": {}, "w1": {"type": "media", "gpu": "true"}, "d1": {"type": "data", "ssd": "true"}}
PLAY = [{"name": "Deploy the service catalog", "hosts": "localhost", "gather_facts": False, "connection": "local",
         "roles": ["mediastack.core.services"]}]
PLAN_ONLY = [{"name": "Plan the service catalog", "hosts": "localhost", "gather_facts": False, "connection": "local",
              "tasks": [{"name": "Plan the deployment", "ansible.builtin.include_role": {"name": "mediastack.core.services", "tasks_from": "plan"}}]}]


def _inventory(labels: dict) -> dict:
    """swarm_managers m1 and workers with their labels; every host is an absent container (unreachable if touched)."""
    def host(name: str) -> dict:
        out = {"ansible_connection": "community.docker.docker", "ansible_host": "mediastack-absent-%s" % uuid.uuid4().hex[:8]}
        if labels.get(name):
            out["swarm_node_labels"] = labels[name]
        return out
    managers = {h: host(h) for h in labels if h.startswith("m")}
    workers = {h: host(h) for h in labels if not h.startswith("m")}
    return {"all": {"children": {"swarm": {"children": {"swarm_managers": {"hosts": managers}, "swarm_workers": {"hosts": workers}}}}}}


def _secrets_without(name: str) -> dict:
    return {k: v for k, v in SECRETS.items() if k != name}


TRAEFIK_WITHOUT_METRICS_PORT = [{"target": 80, "published": 80, "mode": "host"}, {"target": 443, "published": 443, "mode": "host"}]
NO_GPU_LABELS = {"m1": {}, "w1": {"type": "media"}, "d1": {"type": "data", "ssd": "true"}}

# case: (extra vars over BASE_VARS, node labels of the inventory, the lines the message must hold)
CASES = {
    "unknown_service": ({"services_enabled": [n if n != "jellyfin" else "jelyfin" for n in ENABLED]}, LABELS,
                        ["enabled: unknown service name 'jelyfin'; did you mean jellyfin?"]),
    "duplicate_route_subdomain": ({"services_catalog_overrides": {"navidrome": {"route": {"subdomain": "jellyfin"}}}}, LABELS,
                                  ["navidrome: route.subdomain 'jellyfin' is already used by jellyfin; choose another subdomain"]),
    "host_port_clash": ({"services_catalog_overrides": {"audiobookshelf": {"ports": [{"target": 80, "published": 443, "mode": "host"}]}}}, LABELS,
                        ["traefik: ports publishes host port 443/tcp, which audiobookshelf already publishes; choose another published port"]),
    "gpu_service_without_gpu_label": ({}, NO_GPU_LABELS,
                                      ["jellyfin: gpu requests a GPU (profiles h264, h265, av1) but no Swarm node has one; "
                                       "label a GPU node (swarm_node_labels: {gpu: \"true\"}) or remove gpu from jellyfin"]),
    "gpu_service_nodes_group_absent": ({"services_nodes_group": "swarm_absent"}, LABELS,
                                       ["jellyfin: gpu requests a GPU (profiles h264, h265, av1) but no Swarm node has one; "
                                        "label a GPU node (swarm_node_labels: {gpu: \"true\"}) or remove gpu from jellyfin"]),
    "missing_secret": ({"services_secrets": _secrets_without("postgres_password")}, LABELS,
                       ["postgres: secrets needs Docker secret 'postgres_password', which is not defined; "
                        "add it to services_secrets in the vault (services_secrets.postgres_password)"]),
    "override_unknown_field": ({"services_catalog_overrides": {"navidrome": {"rout": {"subdomain": "tunes"}}}}, LABELS,
                               ["navidrome: rout is not a known field; did you mean route?"]),
    "backup_path_outside_the_volumes": ({"services_catalog_overrides": {"navidrome": {"backup_paths": ["/srv"]}}}, LABELS,
                                        ["navidrome: backup_paths entry '/srv' is not inside any of the service's volumes (/data, /music); "
                                         "mount a volume there or drop the entry"]),
    "metrics_port_not_published": ({"services_catalog_overrides": {"traefik": {"ports": TRAEFIK_WITHOUT_METRICS_PORT}}},
                                   LABELS, ["traefik: metrics.port 8082 is not published in ports, so Prometheus on the first manager "
                                            "cannot scrape it; add {target: 8082, published: 8082} to traefik's ports"]),
    "image_without_version": ({"services_catalog_overrides": {"navidrome": {"image": "deluan/navidrome"}}}, LABELS,
                              ["navidrome: version is missing for image deluan/navidrome; pin a version, "
                               "e.g. image: deluan/navidrome:1.2.3 or version: 1.2.3 (latest is refused)"]),
}


@pytest.fixture(autouse=True)
def _venv_on_path(monkeypatch: pytest.MonkeyPatch):
    """Run the ansible-playbook installed beside this Python (the venv's), also when PATH lacks the venv."""
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))


def _flat(text: str) -> str:
    return " ".join(text.split())


def _run(tmp_path: Path, play: list, extra: dict, labels: dict):
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(_inventory(labels)))
    (tmp_path / "base.json").write_text(json.dumps(BASE_VARS))
    (tmp_path / "case.json").write_text(json.dumps(extra))
    return playbook("-i", str(tmp_path / "hosts.yml"), str(tmp_path / "play.yml"),
                    "-e", "@%s" % (tmp_path / "base.json"), "-e", "@%s" % (tmp_path / "case.json"), timeout=300)


@pytest.mark.parametrize("case", sorted(CASES))
def test_plan_stops_before_any_change(case: str, tmp_path: Path):
    extra, labels, expected = CASES[case]
    proc = _run(tmp_path, PLAY, copy.deepcopy(extra), labels)
    out = proc.stdout
    assert proc.returncode != 0, out[-3000:]
    tasks = TASK_RE.findall(out)
    assert tasks and tasks[-1] == VALIDATE, tasks
    failed_at = out.rfind("TASK [%s]" % VALIDATE)
    assert "fatal: [localhost]: FAILED!" in out[failed_at:], out[-3000:]
    ran_later = [name for name in AFTER_PLAN if name in out]
    assert ran_later == [], "tasks after the plan ran: %s" % ran_later
    stats = recap(out)
    assert set(stats) == {"localhost"}, stats
    assert stats["localhost"]["changed"] == 0 and stats["localhost"]["failed"] == 1 and stats["localhost"]["unreachable"] == 0, stats
    message = _flat(out[out.index("fatal: [localhost]: FAILED!", failed_at):out.rfind("PLAY RECAP")])
    assert "The service catalog cannot be deployed; nothing was changed" in message, message
    for line in expected:
        assert _flat(line) in message, message


@pytest.mark.parametrize("extra,shown", [
    ({}, "services: deploy audiobookshelf, postgres, redis, authelia, grafana, jellyfin, loki, navidrome, promtail, traefik; "
         "not enabled (a stack of one that runs is removed): airsonic-advanced, booksonic, calibre-web, deluge"),
    ({"services_only": ["authelia"]}, "services: deploy postgres, redis, authelia"),
])
def test_plan_step_passes_with_valid_input(extra: dict, shown: str, tmp_path: Path):
    proc = _run(tmp_path, PLAN_ONLY, extra, LABELS)
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:]
    tasks = TASK_RE.findall(out)
    assert VALIDATE in tasks and tasks[-1] == "mediastack.core.services : Show the plan", tasks
    assert shown in _flat(out), out[-2000:]
    if "services_only" in extra:
        assert "remove" not in _flat(out[out.rfind("Show the plan"):])
    stats = recap(out)
    assert set(stats) == {"localhost"} and stats["localhost"]["changed"] == 0 and stats["localhost"]["failed"] == 0, stats


def test_data_root_and_media_account_come_from_the_common_role_variables(tmp_path: Path):
    """One place for the platform facts: the common role's variables move every bind mount and owner."""
    play = [{"name": "Plan the service catalog", "hosts": "localhost", "gather_facts": False, "connection": "local",
             "tasks": [{"name": "Plan the deployment", "ansible.builtin.include_role": {"name": "mediastack.core.services", "tasks_from": "plan"}},
                       {"name": "Keep the plan", "ansible.builtin.copy": {"dest": str(tmp_path / "plan.json"), "mode": "0600",
                                                                          "content": "{{ __services_plan | to_json }}"}}]}]
    proc = _run(tmp_path, play, {"common_data_root": "/data/ms", "common_media_uid": 3100, "common_media_gid": 3200}, LABELS)
    assert proc.returncode == 0, proc.stdout[-3000:]
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["storage_root"] == "/data/ms"
    paths = plan["host_paths"]
    assert paths and all(p["path"].startswith("/data/ms/") for p in paths), [p["path"] for p in paths]
    owned = {p["service"]: (p["owner"], p["group"]) for p in paths if p["owner"] is not None}
    assert owned and set(owned.values()) == {(3100, 3200)}, owned


def test_a_plaintext_user_password_stops_the_plan_without_being_shown(tmp_path: Path):
    """The users database is a secret rendered from the inventory: bad input stops in the plan, and its value is never printed."""
    plaintext = "hunter2-plaintext-%s" % uuid.uuid4().hex[:8]
    users = {"admin": dict(BASE_VARS["services_authelia_users"]["admin"], password=plaintext)}
    proc = _run(tmp_path, PLAY, {"services_authelia_users": users}, LABELS)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    tasks = TASK_RE.findall(proc.stdout)
    assert tasks[-1] == "mediastack.core.services : Check the secrets rendered from the inventory (values not shown)", tasks
    assert [name for name in AFTER_PLAN if name in proc.stdout and name != "Render the Docker configs"] == []  # that one is planning too
    message = _flat(out)
    assert "authelia_users.admin.password" in message and "is not a password hash" in message, message[-2000:]
    assert plaintext not in out
    assert recap(proc.stdout)["localhost"]["changed"] == 0
