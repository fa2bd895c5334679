"""stack_status: convergence and the explanation of tasks that do not run, on Engine API shaped data."""
from __future__ import annotations

from ansible_collections.mediastack.core.plugins.module_utils.stack_status import explain_pending, not_converged, summarise

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
