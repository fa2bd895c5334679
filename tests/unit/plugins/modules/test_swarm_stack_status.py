"""swarm_stack_status with expect_stacks: every stack compared with one read of the Swarm (Engine API shaped data)."""
from __future__ import annotations

import copy

import pytest

from ansible_collections.mediastack.core.plugins.module_utils.swarm.stack_status import stamp_stack
from ansible_collections.mediastack.core.plugins.modules import swarm_stack_status

from ansible_collections.mediastack.core.tests.unit.plugins.modules.conftest import module_result

NODES = [{"ID": "n1", "Description": {"Hostname": "mslab-m1"}, "Status": {"State": "ready"},
          "Spec": {"Availability": "active", "Role": "manager", "Labels": {}}}]


def stack(image):
    return stamp_stack({"version": "3.8", "services": {"app": {"image": image, "deploy": {"replicas": 1, "labels": {}}}}})


def deployed(name, stamped, service_id, running=True):
    """The Engine API's service and task objects of a stack deployed from ``stamped``."""
    labels = dict(stamped["services"]["app"]["deploy"]["labels"], **{"com.docker.stack.namespace": name})
    service = {"ID": service_id, "Spec": {"Name": "%s_app" % name, "Labels": labels, "Mode": {"Replicated": {"Replicas": 1}},
                                          "TaskTemplate": {"ContainerSpec": {"Image": "reg/app:1"}}}}
    task = {"ID": "t" + service_id, "ServiceID": service_id, "NodeID": "n1", "Slot": 1, "DesiredState": "running",
            "Status": {"State": "running" if running else "pending", "Timestamp": "2026-12-03T00:00:00Z"}}
    return service, task


class FakeClient:
    """docker.APIClient as the module uses it; counts the reads."""

    def __init__(self, services, tasks):
        self._services, self._tasks, self.reads = services, tasks, []

    def services(self, filters=None):
        self.reads.append(("services", filters))
        return copy.deepcopy(self._services)

    def tasks(self, filters=None):
        self.reads.append(("tasks", filters))
        return copy.deepcopy(self._tasks)

    def nodes(self):
        self.reads.append(("nodes", None))
        return copy.deepcopy(NODES)


@pytest.fixture(name="swarm")
def swarm_fixture(monkeypatch):
    current = {"alpha": stack("reg/app:1"), "beta": stack("reg/app:1"), "gamma": stack("reg/app:1")}
    alpha, alpha_task = deployed("alpha", current["alpha"], "s1")
    beta, beta_task = deployed("beta", current["beta"], "s2", running=False)
    other, other_task = deployed("other", current["alpha"], "s3")
    client = FakeClient([alpha, beta, other], [alpha_task, beta_task, other_task])
    monkeypatch.setattr(swarm_stack_status.docker, "APIClient", lambda base_url: client)
    return client, current


def test_each_stack_is_compared_with_one_read_of_the_swarm(swarm, capsys):
    client, current = swarm
    expect = dict(current, delta=stack("reg/app:1"))
    result = module_result(swarm_stack_status, capsys, {"expect_stacks": expect})
    assert not result["changed"]
    assert {name: s["up_to_date"] for name, s in result["stacks"].items()} == {
        "alpha": True, "beta": False, "gamma": False, "delta": False}
    # beta runs the current hash but its task is pending; gamma and delta are not deployed; "other" is not asked for.
    assert result["stacks"]["alpha"]["services"]["app"]["running"] == 1
    assert result["stacks"]["beta"]["services"]["app"]["running"] == 0
    assert result["stacks"]["gamma"]["services"] == {}
    # every stack that has a service, asked for or not (the services role removes only disabled stacks that exist)
    assert result["present_stacks"] == ["alpha", "beta", "other"]
    assert [kind for kind, _unused in client.reads] == ["services", "tasks", "nodes"]


def test_a_changed_rendering_is_not_up_to_date(swarm, capsys):
    _unused, current = swarm
    result = module_result(swarm_stack_status, capsys, {"expect_stacks": {"alpha": stack("reg/app:2"), "other": current["alpha"]}})
    assert result["stacks"]["alpha"]["up_to_date"] is False
    assert result["stacks"]["other"]["up_to_date"] is True


def test_stack_and_expect_stacks_exclude_each_other(swarm, capsys):
    _unused, current = swarm
    result = module_result(swarm_stack_status, capsys, {"stack": "alpha", "expect_stacks": current})
    assert result["failed"] and "mutually exclusive" in result["msg"]
    result = module_result(swarm_stack_status, capsys, {})
    assert result["failed"] and "stack" in result["msg"] and "expect_stacks" in result["msg"]


def test_a_stack_that_is_not_a_mapping_is_named(swarm, capsys):
    result = module_result(swarm_stack_status, capsys, {"expect_stacks": {"alpha": "not a stack"}})
    assert result["failed"] and "expect_stacks.alpha" in result["msg"]
