"""swarm_objects: versioned Docker configs and secrets, all of them with one list per kind (a fake Engine API)."""
from __future__ import annotations

import hashlib

import docker
import pytest

from ansible_collections.mediastack.core.plugins.modules import swarm_objects
from ansible_collections.mediastack.core.tests.unit.plugins.modules.conftest import module_result


class FakeEngine:
    """The configs and secrets of a Swarm as the Engine API lists them (no data), and the calls made."""

    def __init__(self):
        self.objects = {"config": {}, "secret": {}}
        self.data = {}
        self.calls = []
        self.in_use = set()
        self._next = 0

    def add(self, kind, name, data, version, **labels):
        self._next += 1
        oid = "%s%d" % (kind, self._next)
        labels = dict(labels, ansible_key=hashlib.sha224(data).hexdigest(), ansible_version=str(version))
        self.objects[kind][oid] = {"ID": oid, "Spec": {"Name": name, "Labels": labels}}
        self.data[name] = data
        return oid

    def _list(self, kind):
        self.calls.append("list " + kind)
        return [dict(o) for o in self.objects[kind].values()]

    def configs(self):
        return self._list("config")

    def secrets(self):
        return self._list("secret")

    def _create(self, kind, name, data, labels):
        self.calls.append("create %s %s" % (kind, name))
        self._next += 1
        oid = "%s%d" % (kind, self._next)
        self.objects[kind][oid] = {"ID": oid, "Spec": {"Name": name, "Labels": labels}}
        self.data[name] = data
        return {"ID": oid}

    def create_config(self, name, data, labels=None):
        return self._create("config", name, data, labels)

    def create_secret(self, name, data, labels=None):
        return self._create("secret", name, data, labels)

    def _remove(self, kind, oid):
        name = self.objects[kind][oid]["Spec"]["Name"]
        if name in self.in_use:
            raise docker.errors.APIError("%s is in use by service x" % name)
        self.calls.append("remove %s %s" % (kind, name))
        del self.objects[kind][oid]

    def remove_config(self, oid):
        self._remove("config", oid)

    def remove_secret(self, oid):
        self._remove("secret", oid)


@pytest.fixture(name="engine")
def engine_fixture(monkeypatch):
    fake = FakeEngine()
    fake.add("config", "traefik_static_v1", b"old", 1, **{"mediastack.config": "traefik_static"})
    fake.add("config", "traefik_static_v2", b"static: 1", 2, **{"mediastack.config": "traefik_static"})
    fake.add("config", "traefik_static_extra_v9", b"unrelated", 9)
    fake.add("secret", "jwt_v1", b"s3cret-jwt-value", 1, **{"mediastack.secret": "jwt"})
    monkeypatch.setattr(swarm_objects.docker, "APIClient", lambda base_url: fake)
    return fake


ARGS = {"configs": {"traefik_static": "static: 1", "authelia": "a: b"}, "secrets": {"jwt": "s3cret-jwt-value"}}


def test_unchanged_objects_keep_their_version_and_new_ones_start_at_v1(engine, capsys):
    result = module_result(swarm_objects, capsys, ARGS)
    assert result["changed"] and result["changed_configs"] == ["authelia"] and result["changed_secrets"] == []
    assert result["configs"]["traefik_static"] == {"changed": False, "name": "traefik_static_v2", "id": "config2", "version": 2}
    assert result["configs"]["authelia"]["name"] == "authelia_v1"
    assert result["secrets"]["jwt"]["name"] == "jwt_v1"
    assert engine.calls == ["list config", "list secret", "create config authelia_v1"]
    created = next(o for o in engine.objects["config"].values() if o["Spec"]["Name"] == "authelia_v1")
    assert created["Spec"]["Labels"] == {"mediastack.config": "authelia", "ansible_key": hashlib.sha224(b"a: b").hexdigest(),
                                         "ansible_version": "1"}
    engine.calls.clear()
    again = module_result(swarm_objects, capsys, ARGS)
    assert not again["changed"] and engine.calls == ["list config", "list secret"]


def test_a_changed_value_gets_the_next_version_and_old_ones_beyond_the_kept_go(engine, capsys):
    result = module_result(swarm_objects, capsys, dict(ARGS, secrets={"jwt": "rotated-value"}, versions_to_keep=2))
    assert result["changed_secrets"] == ["jwt"] and result["secrets"]["jwt"]["name"] == "jwt_v2"
    assert engine.data["jwt_v2"] == b"rotated-value"
    # traefik_static keeps v1 and v2 (2 kept); the object of another name that only starts the same is not touched.
    assert "remove config traefik_static_v1" not in engine.calls
    module_result(swarm_objects, capsys, dict(ARGS, configs={"traefik_static": "static: 2"}, versions_to_keep=2))
    assert "create config traefik_static_v3" in engine.calls and "remove config traefik_static_v1" in engine.calls
    assert any(o["Spec"]["Name"] == "traefik_static_extra_v9" for o in engine.objects["config"].values())


def test_a_version_in_use_is_kept_with_a_warning(engine, capsys, monkeypatch):
    warned = []
    monkeypatch.setattr(swarm_objects.AnsibleModule, "warn", lambda _module, msg: warned.append(msg))
    engine.in_use.add("traefik_static_v1")
    result = module_result(swarm_objects, capsys, dict(ARGS, configs={"traefik_static": "static: 2"}, versions_to_keep=1))
    assert "traefik_static_v2" in result["removed"] and "traefik_static_v1" not in result["removed"]
    assert warned == ["swarm_objects: kept the old config traefik_static_v1: traefik_static_v1 is in use by service x"]


def test_check_mode_names_the_versions_it_would_create_and_creates_nothing(engine, capsys):
    result = module_result(swarm_objects, capsys, dict(ARGS, secrets={"jwt": "rotated-value"}, _ansible_check_mode=True))
    assert result["changed"] and result["secrets"]["jwt"] == {"changed": True, "name": "jwt_v2", "id": None, "version": 2}
    assert engine.calls == ["list config", "list secret"]


def test_secret_values_never_come_back(engine, capsys):
    result = module_result(swarm_objects, capsys, dict(ARGS, secrets={"jwt": "another-s3cret-value"}))
    assert "another-s3cret-value" not in capsys.readouterr().out + repr(result)
    assert result["secrets"]["jwt"]["name"] == "jwt_v2"


def test_a_value_that_is_not_text_is_named(engine, capsys):
    result = module_result(swarm_objects, capsys, {"configs": {"traefik_static": {"not": "text"}}})
    assert result["failed"] and "configs.traefik_static" in result["msg"]
