"""module_utils/gpu/nvml.py against the fake NVML layer: what each kind of host reports."""
from __future__ import annotations

import pytest

from ansible_collections.mediastack.core.plugins.module_utils.gpu import nvml
from ansible_collections.mediastack.core.tests.unit.plugins.module_utils.test_nvml_fake import (
    ARCH_UNKNOWN,
    BRAND_NVIDIA,
    FakeCard,
    FakeNvml,
    a100_mig,
    fake_2gpu,
    geforce_rtx_3060,
    h100,
    l4,
    rtx_4000_ada,
)


def test_zero_gpus_is_a_clean_result_with_a_reason() -> None:
    fake = FakeNvml([])
    facts = nvml.collect_facts(fake)
    assert facts["gpus"] == []
    assert facts["available"] is True
    assert facts["reason_code"] == "no_gpu"
    assert "no GPU" in facts["reason"]
    assert fake.shutdowns == 1


def test_one_consumer_card_reports_nvenc_without_av1_and_the_session_cap() -> None:
    facts = nvml.collect_facts(FakeNvml([geforce_rtx_3060()], driver="570.133.20"))
    (gpu,) = facts["gpus"]
    assert gpu["name"] == "NVIDIA GeForce RTX 3060"
    assert gpu["brand"] == "geforce"
    assert gpu["architecture"] == "ampere"
    assert gpu["nvenc"] is True and gpu["nvdec"] is True
    assert gpu["nvenc_codecs"] == ["h264", "h265"]
    assert gpu["av1_encode"] is False
    assert gpu["nvenc_session_limit"] == 8
    assert facts["driver_version"] == "570.133.20"
    assert facts["cuda_driver_version"] == "12.8"
    assert facts["reason"] is None


@pytest.mark.parametrize("driver, cap", [("550.54.14", 8), ("535.183.01", 5), ("525.147.05", 3)])
def test_consumer_session_cap_follows_the_driver_branch(driver: str, cap: int) -> None:
    (gpu,) = nvml.collect_facts(FakeNvml([geforce_rtx_3060()], driver=driver))["gpus"]
    assert gpu["nvenc_session_limit"] == cap


def test_professional_cards_have_no_session_cap() -> None:
    assert nvml.nvenc_session_limit("nvidia_rtx", "570.1") is None
    assert nvml.nvenc_session_limit("geforce_rtx", "not-a-version") == 3


def test_two_gpus_report_identity_memory_and_load_per_gpu() -> None:
    facts = nvml.collect_facts(fake_2gpu())
    ada, a4000 = facts["gpus"]
    assert [ada["index"], a4000["index"]] == [0, 1]
    assert ada["uuid"] != a4000["uuid"] and ada["uuid"].startswith("GPU-")
    assert ada["pci_bus_id"] == "00000000:01:00.0"  # bytes from NVML decoded to text
    assert ada["memory_api"] == "v2"
    assert ada["memory_total_mib"] == 20475
    assert ada["memory_free_mib"] == 20475 - 300
    assert ada["memory_reserved_mib"] == 316
    assert a4000["memory_free_mib"] == 16376 - 2100
    assert ada["compute_capability"] == "8.9"
    assert ada["utilization_gpu"] == 7 and ada["utilization_memory"] == 2
    assert ada["encoder_sessions"] == 0 and ada["decoder_utilization"] == 4
    assert ada["av1_encode"] is True and a4000["av1_encode"] is False
    assert ada["notes"] == [] and a4000["notes"] == []


def test_eight_gpus_keep_nvml_order_and_distinct_uuids() -> None:
    facts = nvml.collect_facts(FakeNvml([l4() for _index in range(8)]))
    assert [g["index"] for g in facts["gpus"]] == list(range(8))
    assert len({g["uuid"] for g in facts["gpus"]}) == 8
    assert len({g["pci_bus_id"] for g in facts["gpus"]}) == 8
    assert all(g["nvenc_codecs"] == ["h264", "h265", "av1"] for g in facts["gpus"])


def test_datacenter_hopper_has_nvdec_but_no_nvenc() -> None:
    (gpu,) = nvml.collect_facts(FakeNvml([h100()]))["gpus"]
    assert gpu["architecture"] == "hopper"
    assert gpu["nvenc"] is False
    assert gpu["nvdec"] is True
    assert gpu["nvenc_codecs"] == [] and gpu["av1_encode"] is False
    assert gpu["encoder_sessions"] is None and gpu["encoder_utilization"] is None
    assert gpu["nvenc_session_limit"] is None
    assert gpu["mig_mode"] == "disabled"
    assert gpu["notes"] == []  # NotSupported is an answer, not a failure


def test_hopper_that_answers_encoder_queries_is_still_reported_without_nvenc() -> None:
    card = h100()
    card.nvenc = True  # a driver that answers the encoder queries for a card without encoders
    (gpu,) = nvml.collect_facts(FakeNvml([card]))["gpus"]
    assert gpu["nvenc"] is False
    assert gpu["nvenc_codecs"] == []
    assert any("without NVENC" in note for note in gpu["notes"])


def test_ada_datacenter_card_encodes_av1() -> None:
    (gpu,) = nvml.collect_facts(FakeNvml([l4()]))["gpus"]
    assert gpu["architecture"] == "ada"
    assert gpu["av1_encode"] is True
    assert gpu["nvenc_session_limit"] is None


def test_unknown_architecture_asks_nvml_for_av1() -> None:
    with_av1 = FakeCard("NVIDIA Future", BRAND_NVIDIA, ARCH_UNKNOWN, 32768, (12, 0), av1_query=True)
    without = FakeCard("NVIDIA Other", BRAND_NVIDIA, ARCH_UNKNOWN, 32768, (12, 0))
    first, second = nvml.collect_facts(FakeNvml([with_av1, without]))["gpus"]
    assert first["architecture"] == "unknown"
    assert first["nvenc_codecs"] == ["h264", "h265", "av1"]
    assert second["nvenc_codecs"] == ["h264", "h265"]


def test_mig_enabled_gpu_lists_its_mig_devices() -> None:
    (gpu,) = nvml.collect_facts(FakeNvml([a100_mig()]))["gpus"]
    assert gpu["mig_mode"] == "enabled" and gpu["mig_mode_pending"] == "enabled"
    assert [d["uuid"] for d in gpu["mig_devices"]] == [
        "MIG-6b3f2e4a-0000-5000-8000-000000000001",
        "MIG-6b3f2e4a-0000-5000-8000-000000000002",
    ]
    assert gpu["mig_devices"][1]["memory_total_mib"] == 9856
    assert gpu["utilization_gpu"] is None  # NVML does not report it with MIG on
    assert gpu["nvenc"] is False  # A100: NVDEC only


def test_memory_falls_back_to_the_v1_api_on_old_drivers() -> None:
    card = rtx_4000_ada()
    card.memory_v2 = False
    (gpu,) = nvml.collect_facts(FakeNvml([card]))["gpus"]
    assert gpu["memory_api"] == "v1"
    assert gpu["memory_reserved_mib"] is None
    assert gpu["memory_used_mib"] == 300


def test_missing_python_library_gives_no_gpus_and_a_reason() -> None:
    facts = nvml.collect_facts(None)
    assert facts == {
        "available": False,
        "driver_version": None,
        "cuda_driver_version": None,
        "gpus": [],
        "reason": "the Python library nvidia-ml-py (import pynvml) is not installed on this host",
        "reason_code": "library_missing",
    }


@pytest.mark.parametrize(
    "error, code, words",
    [
        ("LibraryNotFound", "library_not_found", "not installed"),
        ("DriverNotLoaded", "driver_not_loaded", "not loaded"),
        ("NoPermission", "no_permission", "permission"),
        ("LibRmVersionMismatch", "version_mismatch", "reboot"),
        ("Uninitialized", "nvml_error", "NVMLError_Uninitialized"),
    ],
)
def test_unusable_nvml_gives_no_gpus_and_an_actionable_reason(error: str, code: str, words: str) -> None:
    fake = FakeNvml([l4()], init_error=error)
    facts = nvml.collect_facts(fake)
    assert facts["available"] is False
    assert facts["gpus"] == []
    assert facts["reason_code"] == code
    assert words in facts["reason"]
    assert fake.shutdowns == 0  # nothing to shut down when init failed


def test_a_lost_gpu_raises_a_failure_naming_the_gpu_and_shuts_nvml_down() -> None:
    lost = geforce_rtx_3060()
    lost.lost = True
    fake = FakeNvml([l4(), lost])
    with pytest.raises(nvml.NvmlFailure, match=r"GPU 1 \(nvmlDeviceGetName\): NVMLError_GpuIsLost"):
        nvml.collect_facts(fake)
    assert fake.shutdowns == 1


def test_unexpected_nvml_errors_are_kept_as_notes() -> None:
    fake = FakeNvml([l4()])

    def no_permission(handle: object) -> None:
        raise fake.NVMLError_NoPermission()

    fake.nvmlDeviceGetUtilizationRates = no_permission  # type: ignore[method-assign]
    (gpu,) = nvml.collect_facts(fake)["gpus"]
    assert gpu["utilization_gpu"] is None
    assert gpu["notes"] == ["no_permission: NVMLError_NoPermission: NoPermission"]


def test_cuda_version_formatting() -> None:
    assert nvml.format_cuda_version(12080) == "12.8"
    assert nvml.format_cuda_version(11040) == "11.4"
