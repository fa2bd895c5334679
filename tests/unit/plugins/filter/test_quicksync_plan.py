"""Unit tests of the quicksync_plan filter: Intel iGPU detection and the i915 GuC/HuC table."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.filter.quicksync_plan import TABLE, lookup, quicksync_plan

ROOT = Path(__file__).resolve().parents[4]
RENDER = ["/dev/dri/renderD128"]


def igpu(device: str, slot: str = "0000:00:02.0", cls: str = "0x030000") -> dict:
    return {"slot": slot, "vendor": "0x8086", "device": device, "class": cls}


HOST_BRIDGE = {"slot": "0000:00:00.0", "vendor": "0x8086", "device": "0x3e30", "class": "0x060000"}
NVIDIA = {"slot": "0000:01:00.0", "vendor": "0x10de", "device": "0x2504", "class": "0x030000"}


@pytest.mark.parametrize(
    ("device", "family", "generation", "guc"),
    [
        ("0x0412", "Haswell", 7.5, None),  # i7-4770 HD 4600: no GuC/HuC firmware
        ("0x1616", "Broadwell", 8, None),
        ("0x1912", "Skylake", 9, 2),  # HD 530: HuC only, no GuC submission on Gen 9
        ("0x5912", "Kaby Lake", 9.5, 2),
        ("0x3e92", "Coffee Lake / Whiskey Lake", 9.5, 2),  # UHD 630
        ("0x9bc8", "Comet Lake", 9.5, 2),
        ("0x3185", "Gemini Lake", 9.5, 2),
        ("0x5a85", "Apollo Lake", 9, 2),
        ("0x0a84", "Apollo Lake", 9, 2),  # not Haswell, although 0x0Axx is Haswell's range
        ("0x8a52", "Ice Lake", 11, 3),
        ("0x4e71", "Jasper Lake", 11, 3),
        ("0x9a49", "Tiger Lake", 12, 3),
        ("0x4c8a", "Rocket Lake", 12, 3),
        ("0x4680", "Alder Lake-S", 12, 3),
        ("0x46a6", "Alder Lake-P / Alder Lake-N", 12, None),  # kernel default already GuC + HuC
        ("0x46d1", "Alder Lake-P / Alder Lake-N", 12, None),  # N100
        ("0xa780", "Raptor Lake-S", 12, None),
        ("0x56a0", "DG2 / Arc Alchemist", 12.55, None),
        ("0x7d55", "Meteor Lake / Arrow Lake", 12.7, None),
        ("0x64a0", "Lunar Lake (xe driver)", 20, None),
    ],
)
def test_generation_table_decides_guc(device, family, generation, guc):
    plan = quicksync_plan([HOST_BRIDGE, igpu(device)], RENDER)
    assert plan["present"] is True
    assert plan["reason"] is None
    assert (plan["family"], plan["generation"], plan["enable_guc"]) == (family, generation, guc)
    assert plan["modprobe_options"] == (None if guc is None else "options i915 enable_guc=%d" % guc)
    assert plan["render_node"] == "/dev/dri/renderD128"


def test_gen9_and_newer_with_i915_get_an_option_or_a_reason_for_none():
    for row in TABLE:
        if 9 <= row["generation"] < 12 or row["family"] in ("Tiger Lake", "Rocket Lake", "Alder Lake-S"):
            assert row["guc"] in (2, 3), row
        if row["generation"] < 9:
            assert row["guc"] is None, row
        if row["generation"] < 11:
            assert row["guc"] != 3, row  # i915 does not support GuC submission before Gen 11


def test_table_rows_do_not_overlap_across_generations():
    for row in TABLE:
        for device in (row["first"], row["last"]):
            assert lookup(device)["generation"] == row["generation"], (hex(device), row)


def test_no_intel_display_device_is_not_present():
    plan = quicksync_plan([HOST_BRIDGE, NVIDIA], ["/dev/dri/renderD128"])
    assert plan["present"] is False
    assert "no Intel display device" in plan["reason"]
    assert plan["modprobe_options"] is None and plan["enable_guc"] is None
    assert quicksync_plan([], [])["present"] is False
    assert quicksync_plan(None)["present"] is False


def test_intel_device_without_render_node_names_the_cause():
    plan = quicksync_plan([igpu("0x9bc8")], [])
    assert plan["present"] is False
    assert "0x9bc8 Comet Lake" in plan["reason"] and "not loaded" in plan["reason"]
    assert plan["modprobe_options"] is None


def test_unknown_device_writes_nothing_and_says_so():
    plan = quicksync_plan([igpu("0xfff0")], RENDER)
    assert plan["present"] is True
    assert plan["family"] == "unknown" and plan["enable_guc"] is None
    assert any("not in quicksync_plan's table" in note for note in plan["notes"])


@pytest.mark.parametrize(("guc", "expected"), [("off", None), ("2", 2), ("3", 3), (3, 3), ("auto", 2)])
def test_guc_override(guc, expected):
    assert quicksync_plan([igpu("0x9bc8")], RENDER, guc)["enable_guc"] == expected


def test_sysfs_path_mapping_is_grouped_by_device():
    files = {
        "/sys/bus/pci/devices/0000:00:02.0/vendor": "0x8086\n",
        "/sys/bus/pci/devices/0000:00:02.0/device": "0x4692\n",
        "/sys/bus/pci/devices/0000:00:02.0/class": "0x030000\n",
        "/sys/bus/pci/devices/0000:01:00.0/vendor": "0x10de\n",
        "/sys/bus/pci/devices/0000:01:00.0/device": "0x2504\n",
        "/sys/bus/pci/devices/0000:01:00.0/class": "0x030000\n",
    }
    plan = quicksync_plan(files, ["/dev/dri/renderD129", "/dev/dri/renderD128"])
    assert plan["present"] is True
    assert plan["igpus"] == [{"slot": "0000:00:02.0", "device_id": "0x4692", "family": "Alder Lake-S", "generation": 12,
                              "table_guc": 3, "known": True}]
    assert plan["render_nodes"] == ["/dev/dri/renderD128", "/dev/dri/renderD129"]
    assert plan["modprobe_options"] == "options i915 enable_guc=3"


def test_display_class_other_than_vga_counts():
    assert quicksync_plan([igpu("0x9bc8", cls="0x038000")], RENDER)["present"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("not a list",), "devices must be a list"),
        (([{"vendor": "0x8086"}],), "lacks device"),
        (([igpu("zz")],), "hex string"),
        (([igpu("0x9bc8")], "/dev/dri/renderD128"), "render_nodes must be a list"),
        (([igpu("0x9bc8")], RENDER, "1"), "guc must be one of"),
        (([igpu("0x9bc8")], RENDER, True), "guc must be one of"),
        (([5],), "must be a mapping"),
    ],
)
def test_bad_input_raises_filter_error(args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        quicksync_plan(*args)


def test_sidecar_doc_parses_and_names_the_options():
    text = (ROOT / "plugins" / "filter" / "quicksync_plan.yml").read_text()
    assert text.startswith("---\n")
    doc = yaml.safe_load(text)["DOCUMENTATION"]
    assert doc["name"] == "quicksync_plan"
    assert set(doc["options"]) == {"_input", "render_nodes", "guc"}
