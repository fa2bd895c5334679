"""Swarm GPU scheduling on the lab, for real, without a GPU.

The lab's GPU node (label gpu=true) has a simulated NVIDIA GPU (nvidia_simulated_gpus, a stand-in), which the
nvidia role advertises as a generic resource in its daemon.json, through the docker role's merge, as on real GPU nodes.
tests/integration/lab/playbooks/gpu_drill.yml assigns it with gpu_assign, renders the service with
the catalog, deploys it with community.docker.docker_stack and waits with swarm_stack_status.
"""
from __future__ import annotations

import json
import re
import subprocess

import pytest
from ansible.plugins.filter.core import to_uuid

from ..helpers import ROOT, env, json_result, playbook

GPU_NODE = "mslab-w1"
GPU_UUID = "GPU-" + to_uuid(GPU_NODE)
DRILL = "tests/integration/lab/playbooks/gpu_drill.yml"


def sh(node: str, *cmd: str) -> str:
    proc = subprocess.run(["docker", "exec", node, *cmd], text=True, capture_output=True, check=False)
    assert proc.returncode == 0, "%s: %s failed: %s" % (node, " ".join(cmd), proc.stderr)
    return proc.stdout.strip()


def drill(lab, image: str, stage: str) -> subprocess.CompletedProcess[str]:
    return playbook("-i", lab["inventory"], DRILL, "-e", "drill_image=%s" % image, "-e", "drill_gpu_uuid=%s" % GPU_UUID,
                    "-e", "drill_stage=%s" % stage, json_output=True)


def status_of(proc: subprocess.CompletedProcess[str]) -> dict:
    """The swarm_stack_status result of the drill (ansible.posix.json callback)."""
    for task in json_result(proc)["plays"][0]["tasks"]:
        if task["task"]["name"].startswith("Wait and report"):
            (result,) = task["hosts"].values()
            return result
    raise AssertionError("the drill has no status task: %s" % proc.stdout[-3000:])


@pytest.fixture(scope="module")
def gpu_lab(converged, lab, lab_image):
    """The drill needs the lab's one GPU: the catalog's Jellyfin (which holds it) is scaled to 0 meanwhile."""
    assert converged.returncode == 0, converged.stdout[-4000:]
    services = sh("mslab-m1", "docker", "service", "ls", "--format", "{{.Name}}").split()
    holder = "jellyfin_jellyfin" if "jellyfin_jellyfin" in services else None
    if holder:
        sh("mslab-m1", "docker", "service", "scale", "--detach=false", holder + "=0")
    yield lab, lab_image
    drill(lab, lab_image, "remove")
    if holder:
        sh("mslab-m1", "docker", "service", "scale", "--detach=false", holder + "=1")


def test_gpu_node_advertises_its_gpu_as_generic_resource(gpu_lab):
    nodes = {}
    for name in ("mslab-m1", "mslab-w1", "mslab-w2"):
        raw = sh("mslab-m1", "docker", "node", "inspect", name, "--format", "{{json .Description.Resources.GenericResources}}")
        nodes[name] = json.loads(raw) or []
    assert nodes[GPU_NODE] == [{"NamedResourceSpec": {"Kind": "NVIDIA-GPU", "Value": GPU_UUID}}]
    assert nodes["mslab-m1"] == [] and nodes["mslab-w2"] == []
    daemon = json.loads(sh(GPU_NODE, "cat", "/etc/docker/daemon.json"))
    assert daemon["node-generic-resources"] == ["NVIDIA-GPU=" + GPU_UUID]
    assert daemon["insecure-registries"], "the merge kept the docker role's other keys"


def test_gpu_service_lands_on_gpu_node_and_sees_its_gpu(gpu_lab):
    lab, image = gpu_lab
    proc = drill(lab, image, "first")
    status = status_of(proc)
    assert proc.returncode == 0, status.get("msg") or proc.stdout[-5000:]
    first = status["services"]["first"]
    print("\nfirst: %d/%d running on %s, reserves %s, waited %.1f s"
          % (first["running"], first["desired"], first["nodes"], first["generic_resources"], status["waited"]))
    assert first["converged"] and first["nodes"] == [GPU_NODE]
    assert first["generic_resources"] == ["NVIDIA-GPU=1"]
    (task,) = first["tasks"]
    assert task["assigned_generic_resources"] == [["NVIDIA-GPU", GPU_UUID]]
    container_env = sh(GPU_NODE, "docker", "exec", task["container_id"], "env").splitlines()
    seen = {k: v for k, v in (line.split("=", 1) for line in container_env) if k.startswith(("DOCKER_RESOURCE", "NVIDIA"))}
    print("container env: %s" % seen)
    assert seen["DOCKER_RESOURCE_NVIDIA-GPU"] == GPU_UUID
    # gpu_assign's output reached the service: the GPU it picked is the one Swarm handed over.
    assert seen["NVIDIA_VISIBLE_DEVICES"] == GPU_UUID
    assert seen["NVIDIA_DRIVER_CAPABILITIES"] == "video,utility"


def test_second_exclusive_request_stays_pending_and_is_explained(gpu_lab):
    lab, image = gpu_lab
    proc = drill(lab, image, "second")
    status = status_of(proc)
    assert proc.returncode == 0, status.get("msg") or proc.stdout[-5000:]
    second = status["services"]["second"]
    assert status["services"]["first"]["converged"], "the first service keeps its GPU"
    assert second["running"] == 0 and not second["converged"]
    (problem,) = second["problems"]
    print("\nreported: %s" % problem)
    assert re.search(r"gpudrill_second: task 1 is pending: no suitable node \(insufficient resources on \d+ nodes?\)", problem)
    assert "reserves NVIDIA-GPU=1" in problem
    assert "held by gpudrill_first on %s (%s)" % (GPU_NODE, GPU_UUID) in problem
    # Without expect_pending the same state fails the module with that explanation.
    proc = subprocess.run(["ansible", "-i", lab["inventory"], "swarm_managers[0]", "-m", "mediastack.core.swarm_stack_status",
                           "-a", "stack=gpudrill timeout=5"], cwd=ROOT, env=env(), text=True, capture_output=True, check=False)
    assert proc.returncode == 2, proc.stdout[-3000:]
    assert "did not converge (waited" in proc.stdout and "held by gpudrill_first" in proc.stdout
