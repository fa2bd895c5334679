"""stack_status: convergence and the explanation of tasks that do not run, on Engine API shaped data."""
from __future__ import annotations

import copy

from ansible_collections.mediastack.core.plugins.module_utils.swarm.stack_status import (SPEC_HASH_LABEL, explain_pending, not_converged, spec_hash,
                                                                                         stamp_stack, summarise, up_to_date)

GPU = "GPU-4f1c2a77-0000-4000-8000-000000000001"


def node(node_id, hostname, gpu=None, state="ready", labels=None):
    resources = {"NanoCPUs": 2_000_000_000}
    if gpu:
        resources["GenericResources"] = [{"NamedResourceSpec": {"Kind": "NVIDIA-GPU", "Value": gpu}}]
    return {"ID": node_id, "Description": {"Hostname": hostname, "Resources": resources},
            "Status": {"State": state}, "Spec": {"Availability": "active", "Role": "worker", "Labels": labels or {}}}


def service(service_id, name, stack="gpudrill", replicas=1, gpu=0, constraints=None, image="reg:5000/app:1"):
    template = {"ContainerSpec": {"Image": image + "@sha256:abc"}, "Placement": {"Constraints": constraints or []}}
    if gpu:
        template["Resources"] = {"Reservations": {"GenericResources": [{"DiscreteResourceSpec": {"Kind": "NVIDIA-GPU", "Value": gpu}}]}}
    return {"ID": service_id, "Spec": {"Name": "%s_%s" % (stack, name), "Labels": {"com.docker.stack.namespace": stack},
                                       "Mode": {"Replicated": {"Replicas": replicas}}, "TaskTemplate": template}}


def task(task_id, service_id, state, node_id="", slot=1, err="", message="", assigned=None, desired="running"):
    out = {"ID": task_id, "ServiceID": service_id, "NodeID": node_id, "Slot": slot, "DesiredState": desired,
           "Status": {"State": state, "Err": err, "Message": message, "Timestamp": "2026-11-26T00:00:%02dZ" % slot}}
    if assigned:
        out["GenericResources"] = [{"NamedResourceSpec": {"Kind": "NVIDIA-GPU", "Value": assigned}}]
    return out


NODES = [node("n1", "mslab-m1"), node("n2", "mslab-w1", gpu=GPU, labels={"gpu": "true"}), node("n3", "mslab-w2")]


def test_running_gpu_service_is_converged_and_reports_its_gpu():
    services = [service("s1", "first", gpu=1)]
    tasks = [task("t1", "s1", "running", "n2", assigned=GPU),
             task("t0", "s1", "shutdown", "n2", desired="shutdown")]
    summary = summarise(services, tasks, NODES)
    first = summary["first"]
    assert first["converged"] and first["running"] == 1 and first["desired"] == 1
    assert first["nodes"] == ["mslab-w1"]
    assert first["generic_resources"] == ["NVIDIA-GPU=1"]
    assert first["tasks"][0]["assigned_generic_resources"] == [("NVIDIA-GPU", GPU)]
    assert len(first["tasks"]) == 1  # the shut-down task is history, not a current task
    assert not_converged(summary) == []


def test_second_exclusive_gpu_request_is_explained_with_holder_and_fix():
    services = [service("s1", "first", gpu=1), service("s2", "second", gpu=1)]
    tasks = [task("t1", "s1", "running", "n2", assigned=GPU),
             task("t2", "s2", "pending", err="no suitable node (insufficient resources on 3 nodes)")]
    summary = summarise(services, tasks, NODES)
    assert summary["first"]["converged"]
    second = summary["second"]
    assert not second["converged"] and second["running"] == 0
    (problem,) = second["problems"]
    assert "gpudrill_second: task 1 is pending: no suitable node (insufficient resources on 3 nodes)" in problem
    assert "reserves NVIDIA-GPU=1" in problem
    assert "mslab-w1 (%s)" % GPU in problem
    assert "held by gpudrill_first on mslab-w1" in problem
    assert "exclusive" in problem and "share" in problem
    lines = not_converged(summary)
    assert len(lines) == 1 and lines[0].startswith("gpudrill_second: 0/1 running; ")
    assert not_converged(summary, expect_pending=["second"]) == []


def test_gpu_request_without_any_gpu_node_says_how_to_advertise_one():
    services = [service("s1", "first", gpu=1)]
    tasks = [task("t1", "s1", "pending", err="no suitable node (insufficient resources on 2 nodes)")]
    (problem,) = summarise(services, tasks, [node("n1", "a"), node("n3", "b")])["first"]["problems"]
    assert "no node advertises NVIDIA-GPU" in problem and "node-generic-resources" in problem


def test_unsatisfiable_constraint_is_listed():
    services = [service("s1", "db", constraints=["node.labels.ssd==true"])]
    tasks = [task("t1", "s1", "pending", err="no suitable node (scheduling constraints not satisfied on 3 nodes)")]
    (problem,) = summarise(services, tasks, NODES)["db"]["problems"]
    assert "node.labels.ssd==true match no ready node" in problem


def test_image_pull_failure_names_image_and_node():
    svc = service("s1", "app", image="mslab-registry:5000/jellyfin/jellyfin:10.10.7")
    row = {"slot": 1, "id": "t1", "state": "rejected", "node": "mslab-w1", "message": "preparing",
           "error": "No such image: mslab-registry:5000/jellyfin/jellyfin:10.10.7"}
    text = explain_pending(svc, row, [svc], {}, {})
    assert "the image mslab-registry:5000/jellyfin/jellyfin:10.10.7 cannot be pulled by mslab-w1" in text


def test_partial_replicas_and_recent_failures():
    services = [service("s1", "web", stack="nav", replicas=3)]
    tasks = [task("t1", "s1", "running", "n1", slot=1), task("t2", "s1", "running", "n3", slot=2),
             task("t3", "s1", "failed", "n2", slot=3, err="task: non-zero exit (1)", desired="shutdown")]
    summary = summarise(services, tasks, NODES)
    web = summary["web"]
    assert (web["running"], web["desired"], web["converged"]) == (2, 3, False)
    assert web["nodes"] == ["mslab-m1", "mslab-w2"]
    assert web["recent_failures"] == ["nav_web: task 3 failed on mslab-w1: task: non-zero exit (1)"]
    (line,) = not_converged(summary)
    assert line == "nav_web: 2/3 running; nav_web: task 3 failed on mslab-w1: task: non-zero exit (1)"


def test_global_service_counts_ready_active_nodes():
    svc = service("s1", "exporter", stack="obs")
    svc["Spec"]["Mode"] = {"Global": {}}
    nodes = NODES + [node("n4", "down", state="down")]
    tasks = [task("t%d" % i, "s1", "running", nid, slot=i) for i, nid in enumerate(["n1", "n2", "n3"], 1)]
    summary = summarise([svc], tasks, nodes)
    assert (summary["exporter"]["desired"], summary["exporter"]["running"], summary["exporter"]["converged"]) == (3, 3, True)


def test_global_service_constrained_to_one_node_wants_one_task():
    svc = service("s1", "first-netanchor", constraints=["node.labels.gpu==true"])
    svc["Spec"]["Mode"] = {"Global": {}}
    summary = summarise([svc], [task("t1", "s1", "running", "n2")], NODES)
    assert (summary["first-netanchor"]["desired"], summary["first-netanchor"]["converged"]) == (1, True)
    summary = summarise([svc], [task("t1", "s1", "starting", "n2")], NODES)
    assert (summary["first-netanchor"]["desired"], summary["first-netanchor"]["running"]) == (1, 0)


STACK = {"version": "3.8", "services": {
    "app": {"image": "reg:5000/app:1", "deploy": {"replicas": 1, "labels": {"mediastack.service": "app"}}},
    "worker": {"image": "reg:5000/app:1", "deploy": {"replicas": 1}}}}


def deployed(stack, running=True):
    """What the Engine API reports for a stamped stack that was deployed: services with its labels, one task each."""
    services, tasks = [], []
    for index, (name, spec) in enumerate(sorted(stack["services"].items())):
        svc = service("s%d" % index, name, stack="app")
        svc["Spec"]["Labels"].update(spec["deploy"]["labels"])
        services.append(svc)
        tasks.append(task("t%d" % index, "s%d" % index, "running" if running else "pending", node_id="n1"))
    return summarise(services, tasks, NODES)


class TestSpecHash:
    def test_every_service_carries_the_same_hash_and_the_input_is_untouched(self):
        original = copy.deepcopy(STACK)
        stamped = stamp_stack(STACK)
        assert STACK == original
        hashes = {svc["deploy"]["labels"][SPEC_HASH_LABEL] for svc in stamped["services"].values()}
        assert len(hashes) == 1 and len(hashes.pop()) == 64
        assert stamped["services"]["app"]["deploy"]["labels"]["mediastack.service"] == "app"

    def test_stamping_twice_gives_the_same_stack(self):
        assert stamp_stack(stamp_stack(STACK)) == stamp_stack(STACK)

    def test_any_change_changes_the_hash(self):
        changed = copy.deepcopy(STACK)
        changed["services"]["worker"]["image"] = "reg:5000/app:2"
        assert spec_hash(stamp_stack(changed)) != spec_hash(stamp_stack(STACK))

    def test_key_order_does_not_change_the_hash(self):
        reordered = {"services": dict(reversed(list(STACK["services"].items()))), "version": "3.8"}
        assert spec_hash(stamp_stack(reordered)) == spec_hash(stamp_stack(STACK))

    def test_list_labels_are_stamped_too(self):
        listed = copy.deepcopy(STACK)
        listed["services"]["app"]["deploy"]["labels"] = ["mediastack.service=app"]
        stamped = stamp_stack(listed)
        assert stamped["services"]["app"]["deploy"]["labels"][0] == "mediastack.service=app"
        assert spec_hash(stamped) == stamped["services"]["worker"]["deploy"]["labels"][SPEC_HASH_LABEL]

    def test_unstamped_stack_has_no_hash(self):
        assert spec_hash(STACK) is None


class TestUpToDate:
    def test_running_stack_with_the_same_hash_is_up_to_date(self):
        stamped = stamp_stack(STACK)
        assert up_to_date(deployed(stamped), stamped)

    def test_changed_rendering_is_not_up_to_date(self):
        stamped = stamp_stack(STACK)
        changed = copy.deepcopy(STACK)
        changed["services"]["app"]["image"] = "reg:5000/app:2"
        assert not up_to_date(deployed(stamped), stamp_stack(changed))

    def test_service_not_running_is_not_up_to_date(self):
        stamped = stamp_stack(STACK)
        assert not up_to_date(deployed(stamped, running=False), stamped)

    def test_service_removed_by_hand_is_not_up_to_date(self):
        stamped = stamp_stack(STACK)
        summary = deployed(stamped)
        del summary["worker"]
        assert not up_to_date(summary, stamped)

    def test_stack_not_deployed_is_not_up_to_date(self):
        stamped = stamp_stack(STACK)
        assert not up_to_date({}, stamped)
        assert not up_to_date(deployed(stamped), STACK)

    def test_service_scaled_by_hand_is_not_up_to_date(self):
        stamped = stamp_stack(STACK)
        summary = deployed(stamped)
        summary["app"] = dict(summary["app"], desired=0, running=0, converged=True)
        assert not up_to_date(summary, stamped)

    def test_summary_reports_the_hash_label(self):
        stamped = stamp_stack(STACK)
        assert {svc["spec_hash"] for svc in deployed(stamped).values()} == {spec_hash(stamped)}
