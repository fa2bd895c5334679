"""node_features: the kernel's build options and the GPUs, read from a fake sysfs, /dev/dri and kernel configuration."""
from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from ansible_collections.mediastack.core.plugins.modules import node_features
from ansible_collections.mediastack.core.tests.unit.plugins.modules.conftest import module_result

CONFIG = """#
# Automatically generated file; DO NOT EDIT.
CONFIG_OVERLAY_FS=y
CONFIG_VXLAN=m
CONFIG_BRIDGE=y
CONFIG_VETH=y
CONFIG_MEMCG=y
CONFIG_CFS_BANDWIDTH=y
# CONFIG_IP_VS is not set
CONFIG_LOCALVERSION="-lab"
"""


def pci_function(root: Path, address: str, vendor: str, device: str, klass: str) -> None:
    function = root / address
    function.mkdir(parents=True)
    for name, value in (("vendor", vendor), ("device", device), ("class", klass)):
        (function / name).write_text(value + "\n")


@pytest.fixture(name="host")
def fake_host(tmp_path: Path) -> dict:
    pci, dri = tmp_path / "pci", tmp_path / "dri"
    pci_function(pci, "0000:01:00.0", "0x10de", "0x2204", "0x030000")  # an NVIDIA GPU
    pci_function(pci, "0000:01:00.1", "0x10de", "0x1aef", "0x040300")  # its audio function
    pci_function(pci, "0000:00:02.0", "0x8086", "0x4680", "0x030000")  # an Intel iGPU
    pci_function(pci, "0000:00:1f.6", "0x8086", "0x15fa", "0x020000")  # a network card
    dri.mkdir()
    for name in ("card0", "renderD129", "renderD128"):
        (dri / name).write_text("")
    config = tmp_path / "config-6.1.0-lab"
    config.write_text(CONFIG)
    return {"pci_root": str(pci), "dri_root": str(dri), "kernel_config": str(config)}


def test_reads_the_kernel_options_and_the_display_functions(capsys, host):
    out = module_result(node_features, capsys, {**host, "kernel_options": ["VXLAN", "CONFIG_IP_VS", "VLAN_8021Q", "LOCALVERSION"]})
    assert out["changed"] is False
    # built in, a module, "is not set", absent from the file (n), a string option without its quotes
    assert out["kernel"]["options"] == {"VXLAN": "m", "IP_VS": "n", "VLAN_8021Q": "n", "LOCALVERSION": "-lab"}
    assert out["kernel"]["config_source"] == host["kernel_config"]
    assert [f["slot"] for f in out["pci_display"]] == ["0000:00:02.0", "0000:01:00.0"]  # the audio and network functions are not displays
    assert out["nvidia_gpus"] == ["0000:01:00.0"]
    assert out["render_nodes"] == [host["dri_root"] + "/renderD128", host["dri_root"] + "/renderD129"]


def test_a_gzip_configuration_and_the_default_option_list(capsys, host, tmp_path: Path):
    gz = tmp_path / "config.gz"
    with gzip.open(gz, "wt") as handle:
        handle.write(CONFIG)
    out = module_result(node_features, capsys, {**host, "kernel_config": str(gz)})
    assert out["kernel"]["options"]["OVERLAY_FS"] == "y" and out["kernel"]["options"]["IP_VS"] == "n"
    defaults = {"OVERLAY_FS", "VXLAN", "BRIDGE", "VETH", "MEMCG", "CFS_BANDWIDTH", "IP_VS", "INET_ESP", "XFRM_USER", "VLAN_8021Q"}
    assert set(out["kernel"]["options"]) == defaults


def test_a_host_without_gpus_or_readable_configuration_reports_unknown_not_missing(capsys, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(node_features.os.path, "isfile", lambda _path: False)  # neither /proc/config.gz nor /boot/config-*
    out = module_result(node_features, capsys, {"pci_root": str(tmp_path / "none"), "dri_root": str(tmp_path / "none")})
    assert out["kernel"]["config_source"] is None and out["kernel"]["options"] == {}
    assert out["pci_display"] == [] and out["nvidia_gpus"] == [] and out["render_nodes"] == []


def test_a_named_configuration_that_cannot_be_read_is_an_error(capsys, host, tmp_path: Path):
    bad = tmp_path / "config.gz"
    bad.write_text("not gzip")
    out = module_result(node_features, capsys, {**host, "kernel_config": str(bad)})
    assert out["failed"] and out["msg"].startswith("node_features: cannot read kernel_config %s" % bad)
