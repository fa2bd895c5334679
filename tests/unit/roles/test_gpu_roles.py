"""roles/nvidia and roles/quicksync: the daemon.json merge and config.toml through the real filters and
modules, and check-mode runs that skip a host without NVIDIA/Intel hardware and change nothing."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
PLAYBOOK = ROOT / ".venv" / "bin" / "ansible-playbook"
NVIDIA = ROOT / "roles" / "nvidia"

# The fake 2-GPU host of docs/gpu.md (gpu_info's output): an Ada card with AV1 NVENC and an Ampere card.
GPUS = [
    {"index": 0, "uuid": "GPU-a0000000-1111-4222-8333-000000000000", "name": "NVIDIA RTX 4000 Ada Generation",
     "brand": "nvidia_rtx", "architecture": "ada", "compute_capability": "8.9", "pci_bus_id": "00000000:01:00.0",
     "memory_api": "v2", "memory_total_mib": 20475, "memory_used_mib": 300, "memory_free_mib": 20175, "memory_reserved_mib": 316,
     "utilization_gpu": 7, "utilization_memory": 2, "encoder_utilization": 0, "decoder_utilization": 4, "encoder_sessions": 0,
     "encoder_average_fps": 0, "nvenc": True, "nvdec": True, "nvenc_codecs": ["h264", "h265", "av1"], "av1_encode": True,
     "nvenc_session_limit": None, "mig_mode": "unsupported", "mig_mode_pending": None, "mig_devices": [], "notes": []},
    {"index": 1, "uuid": "GPU-a0000001-1111-4222-8333-000000000001", "name": "NVIDIA RTX A4000",
     "brand": "nvidia_rtx", "architecture": "ampere", "compute_capability": "8.6", "pci_bus_id": "00000000:02:00.0",
     "memory_api": "v2", "memory_total_mib": 16376, "memory_used_mib": 1784, "memory_free_mib": 14276, "memory_reserved_mib": 316,
     "utilization_gpu": 7, "utilization_memory": 2, "encoder_utilization": 0, "decoder_utilization": 4, "encoder_sessions": 0,
     "encoder_average_fps": 0, "nvenc": True, "nvdec": True, "nvenc_codecs": ["h264", "h265"], "av1_encode": False,
     "nvenc_session_limit": None, "mig_mode": "unsupported", "mig_mode_pending": None, "mig_devices": [], "notes": []},
]
UUID0, UUID1 = GPUS[0]["uuid"], GPUS[1]["uuid"]
# What a node's daemon.json holds before the nvidia role: another role's keys, a registry, a stale GPU.
EXISTING = {
    "insecure-registries": ["registry.lab:5000"],
    "runtimes": {"runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ["--platform=ptrace"]}},
    "node-generic-resources": ["OTHER-RES=1", "NVIDIA-GPU=GPU-dead0000-0000-4000-8000-000000000000"],
    "dns": ["10.10.0.2"],
}
# The runtime config as the toolkit package ships it (abridged), swarm-resource commented out.
STOCK_CONFIG_TOML = """#accept-nvidia-visible-devices-as-volume-mounts = false
#accept-nvidia-visible-devices-envvar-when-unprivileged = true
disable-require = false
supported-driver-capabilities = "compat32,compute,display,graphics,ngx,utility,video"
#swarm-resource = "DOCKER_RESOURCE_GPU"

[nvidia-container-cli]
environment = []
ldconfig = "@/sbin/ldconfig.real"
load-kmods = true

[nvidia-container-runtime]
log-level = "info"
mode = "auto"
runtimes = ["docker-runc", "runc", "crun"]
"""


def env() -> dict[str, str]:
    return {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"}


def role_task(path: Path, name: str) -> dict:
    """One task of a role's task file, by name, exactly as the role runs it."""
    for task in yaml.safe_load(path.read_text()):
        if task.get("name") == name:
            return task
    raise AssertionError("%s has no task %r" % (path, name))


def run_play(tmp: Path, play: list, *extra: str) -> subprocess.CompletedProcess:
    (tmp / "inventory.yml").write_text(yaml.safe_dump({"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    (tmp / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    return subprocess.run([str(PLAYBOOK), "-i", str(tmp / "inventory.yml"), str(tmp / "play.yml"), *extra],
                          cwd=ROOT, env=env(), capture_output=True, text=True, timeout=600, check=False)


def render_nvidia(tmp: Path, services: dict, **role_vars) -> dict:
    """Run gpu_assign on the fake host and the role's own runtime/label tasks against files in tmp."""
    out = tmp / "out"
    out.mkdir()
    (out / "config.toml").write_text(STOCK_CONFIG_TOML)
    runtime = NVIDIA / "tasks" / "runtime.yml"
    gpus = NVIDIA / "tasks" / "gpus.yml"
    tasks = [
        role_task(gpus, "Take the simulated GPUs (nvidia_simulated_gpus; a lab stand-in, no NVIDIA hardware)"),
        role_task(gpus, "Assign the GPUs and derive the Swarm settings"),
        role_task(gpus, "Publish this node's GPU assignment (nvidia_gpu_assignment)"),
        role_task(runtime, "Set swarm-resource in the NVIDIA container runtime config"),
        role_task(runtime, "Find GPUs that daemon.json advertises and this host no longer has"),
        *yaml.safe_load((NVIDIA / "tasks" / "labels.yml").read_text()),
        {"name": "Write the results", "ansible.builtin.copy": {"dest": str(out / "result.json"), "mode": "0644", "content": (
            "{{ {'daemon': (__nvidia_daemon_current.content | b64decode) | mediastack.core.docker_daemon_merge(_nvidia_daemon_updates), "
            "'stale': __nvidia_daemon_stale, 'labels': nvidia_node_labels, "
            "'assignment': __nvidia_gpu_assignment, 'published': nvidia_gpu_assignment} | to_nice_json }}")}},
    ]
    # Later vars_files win over earlier ones and over play vars, so the overrides come last: nothing
    # may fall back to the role's default path under /etc.
    overrides = {
        **role_vars,
        "nvidia_gpu_requests": services,
        "nvidia_container_runtime_config": str(out / "config.toml"),
    }
    (tmp / "overrides.yml").write_text(yaml.safe_dump(overrides))
    play = [{
        "name": "Render the nvidia role's Docker and runtime configuration",
        "hosts": "localhost",
        "gather_facts": False,
        "vars_files": [str(NVIDIA / "defaults" / "main.yml"), str(NVIDIA / "vars" / "main.yml"), str(tmp / "overrides.yml")],
        "vars": {
            "__nvidia_daemon_current": {"content": base64.b64encode(json.dumps(EXISTING).encode()).decode()},
            "__nvidia_gpu_info": {"gpus": GPUS, "gpu_count": 2},
            "__nvidia_pci_gpus": ["0000:01:00.0", "0000:02:00.0"],
        },
        "tasks": tasks,
    }]
    proc = run_play(tmp, play)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads((out / "result.json").read_text())
    result["config"] = tomllib.loads((out / "config.toml").read_text())
    result["config_text"] = (out / "config.toml").read_text()
    return result


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return render_nvidia(tmp_path_factory.mktemp("seed"), {"jellyfin": {"gpu": 0, "profiles": ["h264", "h265", "av1"]},
                                                           "immich": {"gpu": 1, "profiles": ["ml"]}})


def test_daemon_json_gets_runtime_default_runtime_and_generic_resources(seed):
    daemon = seed["daemon"]
    assert daemon["default-runtime"] == "nvidia"
    assert daemon["runtimes"]["nvidia"] == {"path": "nvidia-container-runtime", "args": []}
    assert "NVIDIA-GPU=%s" % UUID0 in daemon["node-generic-resources"]
    assert "NVIDIA-GPU=%s" % UUID1 in daemon["node-generic-resources"]
    assert seed["assignment"]["node_generic_resources"] == ["NVIDIA-GPU=%s" % UUID0, "NVIDIA-GPU=%s" % UUID1]


def test_daemon_json_keeps_the_other_roles_keys(seed):
    daemon = seed["daemon"]
    assert daemon["runtimes"]["runsc"] == EXISTING["runtimes"]["runsc"]
    assert daemon["insecure-registries"] == ["registry.lab:5000"]
    assert daemon["dns"] == ["10.10.0.2"]
    assert daemon["node-generic-resources"][0] == "OTHER-RES=1"


def test_a_gpu_the_host_no_longer_has_is_reported(seed):
    assert seed["stale"] == ["NVIDIA-GPU=GPU-dead0000-0000-4000-8000-000000000000"]


def test_config_toml_swarm_resource_matches_gpu_assign(seed):
    config = seed["config"]
    assert config["swarm-resource"] == seed["assignment"]["swarm_resource"] == "DOCKER_RESOURCE_NVIDIA-GPU"
    # the rest of the shipped file is untouched and it is still valid TOML
    assert config["nvidia-container-runtime"]["mode"] == "auto"
    assert config["nvidia-container-cli"]["load-kmods"] is True
    assert "swarm-resource" not in config["nvidia-container-runtime"]
    assert config_head(seed["config_text"]).count("swarm-resource =") == 1


def config_head(text: str) -> str:
    return text.split("[nvidia-container-cli]")[0]


def test_node_labels(seed):
    assert seed["labels"] == {"gpu": "true", "gpu.vendor": "nvidia", "gpu.count": "2", "gpu.nvenc": "true"}


def test_shared_gpu_and_per_gpu_kinds(tmp_path):
    shared = render_nvidia(tmp_path, {"jellyfin": {"profiles": ["av1"]}, "immich": {"profiles": ["ml"]}},
                           nvidia_gpu_strategy="share", nvidia_kind_per_gpu=True, nvidia_default_runtime=False)
    # both land on GPU 0, which is shared and therefore not advertised; GPU 1 keeps its own kind
    assert "NVIDIA-GPU-1=%s" % UUID1 in shared["daemon"]["node-generic-resources"]
    assert not any(UUID0 in entry for entry in shared["daemon"]["node-generic-resources"])
    assert shared["config"]["swarm-resource"] == "DOCKER_RESOURCE_NVIDIA-GPU-1"
    assert "default-runtime" not in shared["daemon"]


def test_inventory_override_pins_and_the_node_publishes_its_assignment(tmp_path):
    catalog = {"jellyfin": {"profiles": ["h264", "h265"], "count": 1}, "immich": {"profiles": ["ml"], "count": 1}}
    out = render_nvidia(tmp_path, catalog, nvidia_gpu_services={"jellyfin": {"gpu": 1}})
    published = out["published"]
    assert published["node"] == "localhost"
    assert published["assignments"]["jellyfin"]["gpu_uuids"] == [UUID1]
    assert published["assignments"]["jellyfin"]["env"]["NVIDIA_VISIBLE_DEVICES"] == UUID1
    assert published["assignments"]["immich"]["gpu_uuids"] == [UUID0]


def test_override_of_a_service_the_catalog_gives_no_gpu_stops_the_role(tmp_path):
    with pytest.raises(AssertionError) as excinfo:
        render_nvidia(tmp_path, {"jellyfin": {"profiles": ["h264"], "count": 1}}, nvidia_gpu_services={"navidrome": {"gpu": 0}})
    assert "nvidia_gpu_services: navidrome is not a GPU service of the catalog" in " ".join(str(excinfo.value).split())


def test_simulated_gpu_writes_only_its_generic_resource(tmp_path):
    fake = dict(GPUS[0], uuid="GPU-11111111-2222-4333-8444-555555555555", name="Simulated NVIDIA GPU (lab stand-in)")
    out = render_nvidia(tmp_path, {"jellyfin": {"profiles": ["h264", "h265", "av1"], "count": 1}}, nvidia_simulated_gpus=[fake])
    added = {k: v for k, v in out["daemon"].items() if EXISTING.get(k) != v}
    assert added == {"node-generic-resources": EXISTING["node-generic-resources"] + ["NVIDIA-GPU=" + fake["uuid"]]}
    assert "default-runtime" not in out["daemon"] and "nvidia" not in out["daemon"].get("runtimes", {})
    assert out["config_text"] == STOCK_CONFIG_TOML, "no runtime to configure on a simulated GPU"
    assert out["published"]["assignments"]["jellyfin"]["gpu_uuids"] == [fake["uuid"]]
    assert out["labels"] == {"gpu": "true", "gpu.vendor": "nvidia", "gpu.count": "1", "gpu.nvenc": "true"}


CHECK_PLAY = [{
    "name": "GPU roles on a host without GPUs",
    "hosts": "localhost",
    "roles": [{"role": "mediastack.core.nvidia"}, {"role": "mediastack.core.quicksync"}],
    "post_tasks": [{"name": "Show the labels", "ansible.builtin.debug": {
        "msg": "LABELS {{ {'nvidia': nvidia_node_labels, 'quicksync': quicksync_node_labels} | to_json }}"}}],
}]


def has_vendor_display(vendor: str) -> bool:
    for dev in Path("/sys/bus/pci/devices").glob("*"):
        if (dev / "vendor").read_text().strip() == vendor and (dev / "class").read_text().startswith("0x03"):
            return True
    return False


@pytest.mark.skipif(has_vendor_display("0x10de") or has_vendor_display("0x8086"), reason="this machine has an NVIDIA or Intel GPU")
def test_hosts_without_gpus_are_skipped_in_check_mode_and_nothing_changes(tmp_path):
    proc = run_play(tmp_path, CHECK_PLAY, "--check", "--diff")
    output = " ".join((proc.stdout + proc.stderr).split())  # the yaml callback wraps long messages
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "nvidia: localhost has no NVIDIA GPU" in output and "skipping the nvidia role on this host, nothing was changed" in output
    assert "quicksync: localhost: no Intel display device" in output
    assert 'LABELS {"nvidia": {}, "quicksync": {}}' in output
    recap = [line for line in proc.stdout.splitlines() if line.startswith("localhost") and "ok=" in line]
    assert recap and "changed=0" in recap[-1] and "failed=0" in recap[-1], recap
    assert "Install the NVIDIA driver" not in output and "Install the VA-API driver" not in output
