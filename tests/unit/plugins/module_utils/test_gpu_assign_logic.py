"""module_utils/gpu/assign.py: explicit maps, policies, sharing and the messages for impossible requests."""
from __future__ import annotations

from typing import Any, Dict, List

import pytest

from ansible_collections.mediastack.core.plugins.module_utils.gpu import assign as gpu_assign, nvml
from ansible_collections.mediastack.core.tests.unit.plugins.module_utils.test_nvml_fake import (
    FakeNvml,
    a100_mig,
    fake_2gpu,
    geforce_rtx_3060,
    h100,
    l4,
    rtx_4000_ada,
)

SEED = {"jellyfin": {"gpu": 0, "profiles": ["h264", "h265", "av1"]}, "immich": {"gpu": 1, "profiles": ["ml"]}}
TRANSCODE_AND_ML = {"jellyfin": {"profiles": ["h264", "h265", "av1"]}, "immich": {"profiles": ["ml"]}}


def gpus(fake: FakeNvml) -> List[Dict[str, Any]]:
    return nvml.collect_facts(fake)["gpus"]


def problems(excinfo: pytest.ExceptionInfo) -> str:
    return "\n".join(excinfo.value.problems)


def test_seed_map_on_two_gpus_gives_exclusive_reservations_and_env() -> None:
    facts = gpus(fake_2gpu())
    ada, a4000 = facts[0]["uuid"], facts[1]["uuid"]
    result = gpu_assign.assign(facts, SEED)
    jellyfin, immich = result["assignments"]["jellyfin"], result["assignments"]["immich"]
    assert jellyfin["gpu_uuids"] == [ada] and jellyfin["gpu_indexes"] == [0]
    assert jellyfin["env"] == {"NVIDIA_VISIBLE_DEVICES": ada, "NVIDIA_DRIVER_CAPABILITIES": "video,utility"}
    assert immich["env"] == {"NVIDIA_VISIBLE_DEVICES": a4000, "NVIDIA_DRIVER_CAPABILITIES": "compute,utility"}
    assert jellyfin["generic_resources"] == [{"kind": "NVIDIA-GPU", "value": 1}]
    assert immich["generic_resources"] == [{"kind": "NVIDIA-GPU", "value": 1}]
    assert not jellyfin["shared"] and not immich["shared"]
    assert jellyfin["source"] == immich["source"] == "explicit"
    assert result["node_generic_resources"] == ["NVIDIA-GPU=" + ada, "NVIDIA-GPU=" + a4000]
    assert result["swarm_resource"] == "DOCKER_RESOURCE_NVIDIA-GPU"
    assert result["shared_gpus"] == []
    # One kind for two different cards: Swarm could hand jellyfin the A4000, which has no AV1.
    (warning,) = result["warnings"]
    assert warning.startswith("jellyfin: Swarm picks which NVIDIA-GPU") and "kind_per_gpu: true" in warning


def test_kind_per_gpu_pins_each_reservation_to_its_gpu() -> None:
    facts = gpus(fake_2gpu())
    result = gpu_assign.assign(facts, SEED, kind_per_gpu=True, resource_kind="GPU")
    assert result["assignments"]["jellyfin"]["generic_resources"] == [{"kind": "GPU-0", "value": 1}]
    assert result["assignments"]["immich"]["generic_resources"] == [{"kind": "GPU-1", "value": 1}]
    assert result["node_generic_resources"] == ["GPU-0=" + facts[0]["uuid"], "GPU-1=" + facts[1]["uuid"]]
    assert result["swarm_resource"] == "DOCKER_RESOURCE_GPU-0,DOCKER_RESOURCE_GPU-1"
    assert result["warnings"] == []


def test_gpu_1_on_a_one_gpu_host_names_the_service_the_gpu_and_the_fix() -> None:
    facts = gpus(FakeNvml([geforce_rtx_3060()]))
    with pytest.raises(gpu_assign.GpuAssignError) as excinfo:
        gpu_assign.assign(facts, SEED)
    text = problems(excinfo)
    assert "service immich: GPU 1 requested, but this host has 1 GPU (0: NVIDIA GeForce RTX 3060 GPU-" in text
    assert "run immich on a node that has this GPU" in text
    # The same run also reports jellyfin's AV1 request on the Ampere card.
    assert "service jellyfin: GPU 0 (NVIDIA GeForce RTX 3060) cannot encode av1" in text


def test_av1_on_a_card_without_av1_nvenc_points_to_the_card_that_has_it() -> None:
    facts = gpus(fake_2gpu())
    with pytest.raises(gpu_assign.GpuAssignError) as excinfo:
        gpu_assign.assign(facts, {"jellyfin": {"gpu": 1, "profiles": ["h264", "av1"]}})
    assert problems(excinfo) == (
        "service jellyfin: GPU 1 (NVIDIA RTX A4000) cannot encode av1 (AV1 NVENC needs Ada Lovelace or newer; this card is ampere); "
        "requested profiles: h264, av1. Change the profiles, or assign GPU 0 (NVIDIA RTX 4000 Ada Generation) instead"
    )


def test_transcoding_on_a_card_without_nvenc_says_nvdec_only() -> None:
    facts = gpus(FakeNvml([h100()]))
    with pytest.raises(gpu_assign.GpuAssignError) as excinfo:
        gpu_assign.assign(facts, {"jellyfin": {"gpu": 0, "profiles": ["h264", "h265", "av1"]}, "immich": {"gpu": 0, "profiles": ["ml"]}})
    (line,) = excinfo.value.problems
    assert line.startswith("service jellyfin: GPU 0 (NVIDIA H100 80GB HBM3) has no NVENC encoder (NVDEC only: decode offload possible, "
                           "use profile `decode` or a card with NVENC)")
    assert "no GPU on this host can" in line


def test_decode_and_ml_on_a_card_without_nvenc_are_fine() -> None:
    facts = gpus(FakeNvml([h100()]))
    result = gpu_assign.assign(facts, {"jellyfin": {"gpu": 0, "profiles": ["decode"]}})
    assert result["assignments"]["jellyfin"]["env"]["NVIDIA_DRIVER_CAPABILITIES"] == "video,utility"
    result = gpu_assign.assign(facts, {"immich": {"profiles": ["compute"]}})
    assert result["assignments"]["immich"]["gpu_indexes"] == [0]
    assert result["assignments"]["immich"]["profiles"] == ["ml"]


def test_spread_policy_gives_av1_to_the_ada_card_and_ml_to_the_other() -> None:
    facts = gpus(fake_2gpu())
    result = gpu_assign.assign(facts, TRANSCODE_AND_ML, strategy="spread")
    assert result["assignments"]["jellyfin"]["gpu_indexes"] == [0]
    assert result["assignments"]["immich"]["gpu_indexes"] == [1]
    assert result["assignments"]["immich"]["source"] == "policy"
    assert result["shared_gpus"] == []


def test_share_policy_puts_ml_on_most_free_memory_and_states_the_sharing() -> None:
    facts = gpus(fake_2gpu())
    result = gpu_assign.assign(facts, TRANSCODE_AND_ML, strategy="share")
    jellyfin, immich = result["assignments"]["jellyfin"], result["assignments"]["immich"]
    assert immich["gpu_indexes"] == [0]  # 20175 MiB free on the Ada card vs 14276 on the A4000
    assert jellyfin["shared"] is True and immich["shared"] is True
    assert jellyfin["shared_with"] == ["immich"] and immich["shared_with"] == ["jellyfin"]
    assert jellyfin["generic_resources"] == [] and immich["generic_resources"] == []
    assert result["shared_gpus"] == [{"index": 0, "uuid": facts[0]["uuid"], "services": ["immich", "jellyfin"]}]
    # The shared GPU is withheld from Swarm; the unused A4000 stays available to reservations.
    assert result["node_generic_resources"] == ["NVIDIA-GPU=" + facts[1]["uuid"]]
    assert any("is shared by immich, jellyfin: Swarm generic resources are exclusive" in w for w in result["warnings"])


def test_spread_runs_out_of_gpus_and_suggests_share() -> None:
    facts = gpus(FakeNvml([l4()]))
    with pytest.raises(gpu_assign.GpuAssignError) as excinfo:
        gpu_assign.assign(facts, TRANSCODE_AND_ML)
    assert "service immich: needs 1 unused GPU(s) for ml but 0 remain (GPU 0 (NVIDIA L4) taken by jellyfin); set strategy: share" in problems(excinfo)
    result = gpu_assign.assign(facts, TRANSCODE_AND_ML, strategy="share")
    assert result["assignments"]["immich"]["shared"] is True
    assert result["node_generic_resources"] == []


def test_eight_gpus_ml_takes_the_most_free_memory_and_count_takes_several() -> None:
    cards = [l4() for _index in range(8)]
    for index, card in enumerate(cards):
        card.memory_used_mib = 1000 * (8 - index)  # GPU 7 has the most free memory, then 6
    facts = gpus(FakeNvml(cards))
    result = gpu_assign.assign(facts, {"immich": {"profiles": ["ml"], "count": 2}, "jellyfin": {"profiles": ["h265"]}})
    # Equal candidates: the transcoder goes first; idle encoders everywhere, so the most free memory decides.
    assert result["assignments"]["jellyfin"]["gpu_indexes"] == [7]
    assert result["assignments"]["immich"]["gpu_indexes"] == [6, 5]
    assert result["assignments"]["immich"]["generic_resources"] == [{"kind": "NVIDIA-GPU", "value": 2}]
    assert result["assignments"]["immich"]["env"]["NVIDIA_VISIBLE_DEVICES"] == facts[6]["uuid"] + "," + facts[5]["uuid"]
    assert len(result["node_generic_resources"]) == 8


def test_transcoders_prefer_the_least_busy_encoder() -> None:
    busy, idle = l4(), l4()
    busy.encoder_sessions, busy.encoder_utilization = 3, 60
    facts = gpus(FakeNvml([busy, idle]))
    result = gpu_assign.assign(facts, {"jellyfin": {"profiles": ["h264"]}})
    assert result["assignments"]["jellyfin"]["gpu_indexes"] == [1]


def test_explicit_gpus_are_taken_before_the_policy_spreads() -> None:
    facts = gpus(FakeNvml([l4(), l4(), l4()]))
    result = gpu_assign.assign(facts, {"plex": {"gpu": [facts[2]["uuid"]], "profiles": ["h264"]}, "immich": {"profiles": ["ml"], "count": 2}})
    assert result["assignments"]["plex"]["gpu_indexes"] == [2]
    assert sorted(result["assignments"]["immich"]["gpu_indexes"]) == [0, 1]


def test_consumer_card_session_cap_is_reported_for_transcoders() -> None:
    facts = gpus(FakeNvml([geforce_rtx_3060()], driver="535.183.01"))
    result = gpu_assign.assign(facts, {"jellyfin": {"gpu": 0, "profiles": ["hevc"]}})
    assert result["assignments"]["jellyfin"]["profiles"] == ["h265"]
    assert result["assignments"]["jellyfin"]["nvenc_session_limit"] == 5
    assert any("allows 5 concurrent NVENC sessions per system" in w for w in result["warnings"])
    ml = gpu_assign.assign(facts, {"immich": {"gpu": 0, "profiles": ["ml"]}})
    assert ml["assignments"]["immich"]["nvenc_session_limit"] is None


def test_policy_avoids_mig_gpus_while_others_fit_and_warns_when_it_cannot() -> None:
    facts = gpus(FakeNvml([a100_mig(), rtx_4000_ada()]))
    result = gpu_assign.assign(facts, {"immich": {"profiles": ["ml"]}})
    assert result["assignments"]["immich"]["gpu_indexes"] == [1]  # the A100 has more memory, but MIG is on
    assert result["warnings"] == []
    facts = gpus(FakeNvml([a100_mig()]))
    result = gpu_assign.assign(facts, {"immich": {"profiles": ["ml"]}})
    assert result["assignments"]["immich"]["gpu_indexes"] == [0]
    assert any("has MIG enabled" in w for w in result["warnings"])


def test_no_gpu_host_fails_every_request_with_the_nvml_reason() -> None:
    with pytest.raises(gpu_assign.GpuAssignError) as excinfo:
        gpu_assign.assign([], SEED, reason="NVIDIA driver not loaded")
    text = problems(excinfo)
    assert "service jellyfin: GPU 0 requested, but this host has no usable NVIDIA GPU (NVIDIA driver not loaded)" in text
    assert "remove the GPU request or run jellyfin on a GPU node" in text
    with pytest.raises(gpu_assign.GpuAssignError, match="service immich: profiles ml need a GPU, but this host has no usable NVIDIA GPU"):
        gpu_assign.assign([], {"immich": {"profiles": ["ml"]}})


def test_no_services_needs_no_gpu() -> None:
    result = gpu_assign.assign([], {})
    assert result["assignments"] == {} and result["node_generic_resources"] == []


def test_policy_with_no_fitting_gpu_lists_why_each_gpu_does_not_fit() -> None:
    facts = gpus(FakeNvml([h100(), geforce_rtx_3060()]))
    with pytest.raises(gpu_assign.GpuAssignError) as excinfo:
        gpu_assign.assign(facts, {"jellyfin": {"profiles": ["av1"]}})
    assert problems(excinfo) == (
        "service jellyfin: no GPU on this host can serve profiles av1: GPU 0 (NVIDIA H100 80GB HBM3) has no NVENC encoder "
        "(NVDEC only: decode offload possible, use profile `decode` or a card with NVENC); GPU 1 (NVIDIA GeForce RTX 3060) "
        "cannot encode av1 (AV1 NVENC needs Ada Lovelace or newer; this card is ampere)"
    )


def test_a_service_with_one_shared_gpu_gives_up_all_its_reservations() -> None:
    facts = gpus(FakeNvml([l4(), l4(), l4()]))
    result = gpu_assign.assign(facts, {"a": {"gpu": [0, 1], "profiles": ["ml"]}, "b": {"gpu": 0, "profiles": ["h264"]}})
    assert result["assignments"]["a"]["shared"] and result["assignments"]["a"]["generic_resources"] == []
    assert result["node_generic_resources"] == ["NVIDIA-GPU=" + facts[2]["uuid"]]  # GPUs 0 and 1 withheld


def test_bad_requests_are_all_reported_at_once() -> None:
    services = {
        "a": {"profiles": ["vp9"]},
        "b": {"profiles": ["ml"], "gpu": 0, "count": 2},
        "c": {"profiles": ["ml"], "gpu": True},
        "d": {"profiles": ["ml"], "device": 0},
        "e": {"profiles": []},
        "f": "gpu0",
        "g": {"profiles": ["ml"], "count": 0},
    }
    with pytest.raises(gpu_assign.GpuAssignError) as excinfo:
        gpu_assign.assign([], services)
    lines = excinfo.value.problems
    assert lines[0].startswith("service a: unknown profile 'vp9' (known: h264, h265, av1, decode, ml")
    assert "service b: give either `gpu` (explicit) or `count` (policy), not both" in lines
    assert any(line.startswith("service c: `gpu` must be a GPU index") for line in lines)
    assert "service d: unknown key(s) device (allowed: count, gpu, profiles)" in lines
    assert any(line.startswith("service e: `profiles` must be a non-empty list") for line in lines)
    assert any(line.startswith("service f: expected a mapping") for line in lines)
    assert "service g: `count` must be a positive integer, got 0" in lines


def test_unknown_uuid_lists_the_gpus_the_host_has() -> None:
    facts = gpus(FakeNvml([l4()]))
    with pytest.raises(gpu_assign.GpuAssignError, match=r"GPU GPU-nope requested, but this host has 1 GPU \(0: NVIDIA L4 GPU-"):
        gpu_assign.assign(facts, {"immich": {"gpu": "GPU-nope", "profiles": ["ml"]}})
    assert gpu_assign.assign(facts, {"immich": {"gpu": "0", "profiles": ["ml"]}})["assignments"]["immich"]["gpu_indexes"] == [0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"strategy": "pack"}, "strategy must be one of spread, share"),
        ({"resource_kind": "NVIDIA GPU"}, "not a valid Swarm generic-resource kind"),
    ],
)
def test_bad_options_fail(kwargs: Dict[str, Any], message: str) -> None:
    with pytest.raises(gpu_assign.GpuAssignError, match=message):
        gpu_assign.assign([], {}, **kwargs)


def test_facts_that_are_not_gpu_info_output_are_refused() -> None:
    with pytest.raises(gpu_assign.GpuAssignError, match=r"gpus\[0\] lacks nvenc, nvdec, nvenc_codecs, memory_free_mib, mig_mode"):
        gpu_assign.assign([{"index": 0, "uuid": "GPU-1", "name": "x"}], {"immich": {"profiles": ["ml"]}})


def test_driver_capabilities_combine_compute_video_and_utility() -> None:
    assert gpu_assign.driver_capabilities(["ml", "h264"]) == "compute,video,utility"
    assert gpu_assign.driver_capabilities(["decode"]) == "video,utility"


# --- the catalog's requests with the inventory's overrides, and the GPU nodes' results merged per service ---

CATALOG_REQUESTS = {"jellyfin": {"profiles": ["h264", "h265", "av1"], "count": 1}, "immich": {"profiles": ["ml"], "count": 1}}


def test_override_pins_a_gpu_and_drops_the_catalog_count() -> None:
    # GPU 1 (an Ampere card) has no AV1 encoder, so the override narrows the profiles too
    merged = gpu_assign.merge_requests(CATALOG_REQUESTS, {"jellyfin": {"gpu": 1, "profiles": ["h264", "h265"]}})
    assert merged["jellyfin"] == {"profiles": ["h264", "h265"], "gpu": 1}
    assert merged["immich"] == CATALOG_REQUESTS["immich"]
    facts = gpus(fake_2gpu())
    result = gpu_assign.assign(facts, merged)
    assert result["assignments"]["jellyfin"]["gpu_uuids"] == [facts[1]["uuid"]]
    assert result["assignments"]["immich"]["gpu_uuids"] == [facts[0]["uuid"]]


def test_override_for_a_service_without_a_catalog_gpu_is_refused() -> None:
    with pytest.raises(gpu_assign.GpuAssignError) as excinfo:
        gpu_assign.merge_requests(CATALOG_REQUESTS, {"navidrome": {"gpu": 0}, "immich": "GPU-0"})
    text = problems(excinfo)
    assert "nvidia_gpu_services: navidrome is not a GPU service of the catalog (those are: immich, jellyfin)" in text
    assert "services_catalog_overrides" in text
    assert "nvidia_gpu_services: immich must be a mapping" in text


def test_no_overrides_keeps_the_requests() -> None:
    assert gpu_assign.merge_requests(CATALOG_REQUESTS, None) == CATALOG_REQUESTS
    with pytest.raises(gpu_assign.GpuAssignError, match="nvidia_gpu_services must be a mapping"):
        gpu_assign.merge_requests(CATALOG_REQUESTS, ["jellyfin"])


def entry(uuid: str, shared: bool = False, profiles: tuple = ("h264",)) -> Dict[str, Any]:
    return {"gpu_uuids": [uuid], "profiles": list(profiles), "shared": shared,
            "env": {"NVIDIA_VISIBLE_DEVICES": uuid, "NVIDIA_DRIVER_CAPABILITIES": gpu_assign.driver_capabilities(profiles)},
            "generic_resources": [] if shared else [{"kind": "NVIDIA-GPU", "value": 1}]}


def test_one_gpu_node_gives_its_entry_and_its_name() -> None:
    merged = gpu_assign.merge_node_assignments({"w1": {"jellyfin": entry("GPU-1")}, "m1": {}})
    assert merged == {"jellyfin": dict(entry("GPU-1"), node="w1")}


def test_several_gpu_nodes_leave_the_device_to_swarm() -> None:
    merged = gpu_assign.merge_node_assignments({"w2": {"jellyfin": entry("GPU-2")}, "w1": {"jellyfin": entry("GPU-1")}})
    jellyfin = merged["jellyfin"]
    assert jellyfin["node"] is None and jellyfin["gpu_uuids"] == ["GPU-1", "GPU-2"]
    assert "NVIDIA_VISIBLE_DEVICES" not in jellyfin["env"]
    assert jellyfin["env"]["NVIDIA_DRIVER_CAPABILITIES"] == "video,utility"
    assert jellyfin["generic_resources"] == [{"kind": "NVIDIA-GPU", "value": 1}]


def test_a_shared_gpu_keeps_the_service_on_its_node() -> None:
    merged = gpu_assign.merge_node_assignments({"w1": {"jellyfin": entry("GPU-1")}, "w2": {"jellyfin": entry("GPU-2", shared=True)}})
    assert merged["jellyfin"]["node"] == "w2" and merged["jellyfin"]["env"]["NVIDIA_VISIBLE_DEVICES"] == "GPU-2"
    assert merged["jellyfin"]["generic_resources"] == []


def test_a_node_without_gpus_for_the_service_is_left_out_and_bad_entries_are_named() -> None:
    assert gpu_assign.merge_node_assignments({"w1": {"jellyfin": dict(entry("GPU-1"), gpu_uuids=[])}}) == {}
    with pytest.raises(gpu_assign.GpuAssignError, match="jellyfin: the assignment of jellyfin on w1"):
        gpu_assign.merge_node_assignments({"w1": {"jellyfin": "GPU-1"}})
