"""mediastack.core.gpu_assign driven through AnsibleModule: facts given or read from a fake NVML."""
from __future__ import annotations

from ansible_collections.mediastack.core.plugins.module_utils.gpu import nvml
from ansible_collections.mediastack.core.plugins.modules import gpu_assign
from ansible_collections.mediastack.core.tests.unit.plugins.module_utils.test_nvml_fake import (
    FakeNvml,
    fake_2gpu,
    geforce_rtx_3060,
    h100,
    l4,
)
from ansible_collections.mediastack.core.tests.unit.plugins.modules.test_gpu_harness import run_module

SEED = {"jellyfin": {"gpu": 0, "profiles": ["h264", "h265", "av1"]}, "immich": {"gpu": 1, "profiles": ["ml"]}}


def test_seed_map_from_nvml_on_the_two_gpu_host() -> None:
    fake = fake_2gpu()
    result = run_module(gpu_assign, {"services": SEED}, fake)
    assert "failed" not in result and result["changed"] is False
    assert result["gpu_count"] == 2
    jellyfin = result["assignments"]["jellyfin"]
    assert jellyfin["gpu_uuids"] == [fake.cards[0].uuid]
    assert jellyfin["env"]["NVIDIA_DRIVER_CAPABILITIES"] == "video,utility"
    assert jellyfin["generic_resources"] == [{"kind": "NVIDIA-GPU", "value": 1}]
    assert result["assignments"]["immich"]["env"]["NVIDIA_VISIBLE_DEVICES"] == fake.cards[1].uuid
    assert result["node_generic_resources"] == ["NVIDIA-GPU=" + c.uuid for c in fake.cards]
    assert len(result["warnings"]) == 1 and "kind_per_gpu" in result["warnings"][0]


def test_facts_from_gpu_info_skip_nvml() -> None:
    facts = nvml.collect_facts(fake_2gpu())["gpus"]
    # No NVML binding at all: the given facts are enough.
    result = run_module(gpu_assign, {"services": SEED, "gpus": facts, "kind_per_gpu": True}, None)
    assert result["assignments"]["jellyfin"]["generic_resources"] == [{"kind": "NVIDIA-GPU-0", "value": 1}]
    assert result["swarm_resource"] == "DOCKER_RESOURCE_NVIDIA-GPU-0,DOCKER_RESOURCE_NVIDIA-GPU-1"
    assert result["warnings"] == []


def test_check_mode_computes_the_same_and_changes_nothing() -> None:
    normal = run_module(gpu_assign, {"services": SEED}, fake_2gpu())
    checked = run_module(gpu_assign, {"services": SEED}, fake_2gpu(), check_mode=True)
    assert checked == normal
    assert checked["changed"] is False


def test_share_policy_states_the_shared_gpu_and_warns() -> None:
    services = {"jellyfin": {"profiles": ["h264"]}, "immich": {"profiles": ["ml"]}}
    result = run_module(gpu_assign, {"services": services, "strategy": "share"}, FakeNvml([l4()]))
    assert result["assignments"]["jellyfin"]["shared"] is True
    assert result["assignments"]["immich"]["shared_with"] == ["jellyfin"]
    assert result["assignments"]["immich"]["generic_resources"] == []
    assert result["shared_gpus"][0]["services"] == ["immich", "jellyfin"]
    assert result["node_generic_resources"] == []
    assert any("Swarm generic resources are exclusive" in w for w in result["warnings"])


def test_seed_transcoding_on_an_h100_fails_and_ml_alone_passes() -> None:
    result = run_module(gpu_assign, {"services": {"jellyfin": {"gpu": 0, "profiles": ["h264", "h265", "av1"]}}}, FakeNvml([h100()]))
    assert result["failed"] is True
    assert "service jellyfin: GPU 0 (NVIDIA H100 80GB HBM3) has no NVENC encoder (NVDEC only" in result["msg"]
    assert result["problems"] == [result["msg"]]
    result = run_module(gpu_assign, {"services": {"immich": {"gpu": 0, "profiles": ["ml"]}}}, FakeNvml([h100()]))
    assert result["assignments"]["immich"]["env"]["NVIDIA_DRIVER_CAPABILITIES"] == "compute,utility"


def test_gpu_1_on_a_one_gpu_host_fails_naming_service_and_gpu() -> None:
    result = run_module(gpu_assign, {"services": {"immich": {"gpu": 1, "profiles": ["ml"]}}}, FakeNvml([geforce_rtx_3060()]))
    assert result["failed"] is True
    assert result["msg"].startswith("service immich: GPU 1 requested, but this host has 1 GPU (0: NVIDIA GeForce RTX 3060")


def test_missing_library_fails_clearly_when_gpus_are_requested() -> None:
    result = run_module(gpu_assign, {"services": SEED}, None)
    assert result["failed"] is True
    assert result["msg"].startswith("services immich, jellyfin request a GPU, no `gpus` facts were given, and NVML cannot be queried here.")
    assert "nvidia-ml-py" in result["msg"]


def test_missing_library_is_fine_without_requests() -> None:
    result = run_module(gpu_assign, {"services": {}}, None)
    assert "failed" not in result
    assert result["assignments"] == {} and result["gpu_count"] == 0


def test_driver_not_loaded_fails_with_the_reason() -> None:
    result = run_module(gpu_assign, {"services": SEED}, FakeNvml([l4()], init_error="DriverNotLoaded"))
    assert result["failed"] is True
    assert "this host has no usable NVIDIA GPU (NVIDIA driver not loaded" in result["msg"]


def test_lost_gpu_fails_without_traceback() -> None:
    card = l4()
    card.lost = True
    result = run_module(gpu_assign, {"services": SEED}, FakeNvml([card]))
    assert result["failed"] is True and "GpuIsLost" in result["msg"]


def test_argument_spec_validates_strategy() -> None:
    result = run_module(gpu_assign, {"services": SEED, "strategy": "pack"}, fake_2gpu())
    assert result["failed"] is True
    assert "value of strategy must be one of: spread, share" in result["msg"]
