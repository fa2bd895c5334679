"""mediastack.core.gpu_info driven through AnsibleModule with a fake NVML layer."""
from __future__ import annotations

from ansible_collections.mediastack.core.plugins.modules import gpu_info
from ansible_collections.mediastack.core.tests.unit.plugins.module_utils.test_nvml_fake import (
    FakeNvml,
    a100_mig,
    fake_2gpu,
    geforce_rtx_3060,
    h100,
    l4,
)
from ansible_collections.mediastack.core.tests.unit.plugins.modules.test_gpu_harness import run_module


def test_two_gpu_host_reports_both_gpus_unchanged() -> None:
    result = run_module(gpu_info, {}, fake_2gpu())
    assert result["changed"] is False
    assert "failed" not in result
    assert result["gpu_count"] == 2
    assert [g["name"] for g in result["gpus"]] == ["NVIDIA RTX 4000 Ada Generation", "NVIDIA RTX A4000"]
    assert [g["av1_encode"] for g in result["gpus"]] == [True, False]
    assert result["driver_version"] == "570.133.20" and result["cuda_driver_version"] == "12.8"
    assert result["available"] is True and result["reason"] is None


def test_check_mode_reads_the_same_facts() -> None:
    result = run_module(gpu_info, {}, FakeNvml([geforce_rtx_3060()]), check_mode=True)
    assert result["changed"] is False
    assert result["gpus"][0]["nvenc_session_limit"] == 8


def test_zero_one_and_eight_gpus() -> None:
    assert run_module(gpu_info, {}, FakeNvml([]))["gpu_count"] == 0
    assert run_module(gpu_info, {}, FakeNvml([l4()]))["gpus"][0]["nvenc_codecs"] == ["h264", "h265", "av1"]
    eight = run_module(gpu_info, {}, FakeNvml([l4() for _index in range(8)]))
    assert [g["index"] for g in eight["gpus"]] == list(range(8))


def test_h100_reports_nvdec_without_nvenc() -> None:
    (gpu,) = run_module(gpu_info, {}, FakeNvml([h100()]))["gpus"]
    assert (gpu["nvenc"], gpu["nvdec"], gpu["nvenc_codecs"]) == (False, True, [])


def test_mig_enabled_gpu() -> None:
    (gpu,) = run_module(gpu_info, {}, FakeNvml([a100_mig()]))["gpus"]
    assert gpu["mig_mode"] == "enabled" and len(gpu["mig_devices"]) == 2


def test_missing_python_library_is_a_clean_empty_result() -> None:
    result = run_module(gpu_info, {}, None)
    assert "failed" not in result
    assert result["gpus"] == [] and result["gpu_count"] == 0
    assert result["available"] is False
    assert result["reason_code"] == "library_missing"
    assert "nvidia-ml-py" in result["reason"]


def test_driver_not_loaded_is_a_clean_empty_result() -> None:
    result = run_module(gpu_info, {}, FakeNvml([l4()], init_error="DriverNotLoaded"))
    assert "failed" not in result
    assert result["gpus"] == []
    assert result["reason_code"] == "driver_not_loaded"
    assert result["reason"].startswith("NVIDIA driver not loaded")


def test_nvml_library_not_found_is_a_clean_empty_result() -> None:
    result = run_module(gpu_info, {}, FakeNvml([], init_error="LibraryNotFound"))
    assert result["reason_code"] == "library_not_found" and result["gpus"] == []


def test_a_lost_gpu_fails_with_an_actionable_message() -> None:
    card = l4()
    card.lost = True
    result = run_module(gpu_info, {}, FakeNvml([card]))
    assert result["failed"] is True
    assert result["msg"].startswith("NVML failed on GPU 0 (nvmlDeviceGetName): NVMLError_GpuIsLost")
    assert "nvidia-smi" in result["msg"]


def test_unknown_options_are_refused() -> None:
    result = run_module(gpu_info, {"gpu": 0}, fake_2gpu())
    assert result["failed"] is True and "Unsupported parameters" in result["msg"]
