# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``quicksync_plan`` filter: is there an Intel iGPU, which generation, and does i915 need GuC/HuC set."""
from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any, Optional

from ansible.errors import AnsibleFilterError

INTEL = 0x8086
DISPLAY_CLASS = 0x03  # PCI base class "display controller" (VGA 0x0300, 3D 0x0302, other 0x0380)
GUC_MODES = ("auto", "off", "2", "3")

# Intel graphics by PCI device id range (inclusive), first match wins. ``guc`` is the i915
# ``enable_guc`` value this role writes: None means "leave the kernel default", which is right
# for generations without GuC/HuC firmware (before Gen 9), for those where i915 already loads
# GuC submission and HuC by default (Alder Lake-P/N, Raptor Lake, DG2/Arc, Meteor Lake) and for
# chips driven by the xe driver (Lunar Lake, Battlemage), where i915 options do not apply.
# Gen 9/9.5 gets 2 (HuC only: i915 does not support GuC submission there), Gen 11 and the
# first Gen 12 chips get 3 (the kernel default loads HuC only; GuC submission as Intel's media
# stack recommends).
TABLE: tuple[dict[str, Any], ...] = (
    {"first": 0x0102, "last": 0x016A, "family": "Sandy Bridge / Ivy Bridge", "generation": 7, "guc": None},
    {"first": 0x0402, "last": 0x042E, "family": "Haswell", "generation": 7.5, "guc": None},
    {"first": 0x0A02, "last": 0x0A2E, "family": "Haswell", "generation": 7.5, "guc": None},
    {"first": 0x0C02, "last": 0x0C2E, "family": "Haswell", "generation": 7.5, "guc": None},
    {"first": 0x0D02, "last": 0x0D2E, "family": "Haswell", "generation": 7.5, "guc": None},
    {"first": 0x1602, "last": 0x163E, "family": "Broadwell", "generation": 8, "guc": None},
    {"first": 0x22B0, "last": 0x22B3, "family": "Cherry View", "generation": 8, "guc": None},
    {"first": 0x1902, "last": 0x193D, "family": "Skylake", "generation": 9, "guc": 2},
    {"first": 0x0A84, "last": 0x0A84, "family": "Apollo Lake", "generation": 9, "guc": 2},
    {"first": 0x5A84, "last": 0x5A85, "family": "Apollo Lake", "generation": 9, "guc": 2},
    {"first": 0x1A84, "last": 0x1A85, "family": "Apollo Lake", "generation": 9, "guc": 2},
    {"first": 0x3184, "last": 0x3185, "family": "Gemini Lake", "generation": 9.5, "guc": 2},
    {"first": 0x5902, "last": 0x593B, "family": "Kaby Lake", "generation": 9.5, "guc": 2},
    {"first": 0x87C0, "last": 0x87CA, "family": "Amber Lake / Kaby Lake", "generation": 9.5, "guc": 2},
    {"first": 0x3E90, "last": 0x3EA9, "family": "Coffee Lake / Whiskey Lake", "generation": 9.5, "guc": 2},
    {"first": 0x9B21, "last": 0x9BCC, "family": "Comet Lake", "generation": 9.5, "guc": 2},
    {"first": 0x8A50, "last": 0x8A71, "family": "Ice Lake", "generation": 11, "guc": 3},
    {"first": 0x4500, "last": 0x4571, "family": "Elkhart Lake", "generation": 11, "guc": 3},
    {"first": 0x4E51, "last": 0x4E71, "family": "Jasper Lake", "generation": 11, "guc": 3},
    {"first": 0x9A40, "last": 0x9AF8, "family": "Tiger Lake", "generation": 12, "guc": 3},
    {"first": 0x4C8A, "last": 0x4C9A, "family": "Rocket Lake", "generation": 12, "guc": 3},
    {"first": 0x4680, "last": 0x4693, "family": "Alder Lake-S", "generation": 12, "guc": 3},
    {"first": 0x4626, "last": 0x4628, "family": "Alder Lake-P", "generation": 12, "guc": None},
    {"first": 0x46A0, "last": 0x46D4, "family": "Alder Lake-P / Alder Lake-N", "generation": 12, "guc": None},
    {"first": 0xA780, "last": 0xA78B, "family": "Raptor Lake-S", "generation": 12, "guc": None},
    {"first": 0xA720, "last": 0xA7AD, "family": "Raptor Lake-P/U", "generation": 12, "guc": None},
    {"first": 0x5690, "last": 0x56C2, "family": "DG2 / Arc Alchemist", "generation": 12.55, "guc": None},
    {"first": 0x7D40, "last": 0x7DDD, "family": "Meteor Lake / Arrow Lake", "generation": 12.7, "guc": None},
    {"first": 0x6420, "last": 0x64B0, "family": "Lunar Lake (xe driver)", "generation": 20, "guc": None},
    {"first": 0xE202, "last": 0xE212, "family": "Battlemage (xe driver)", "generation": 20, "guc": None},
)


def _fail(message: str) -> None:
    raise AnsibleFilterError("quicksync_plan: " + message)


def _hex(value: Any, what: str) -> int:
    if isinstance(value, bool):
        _fail("%s must be a hex string such as 0x8086, not %r" % (what, value))
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip(), 16)
        except ValueError:
            pass
    _fail("%s must be a hex string such as 0x8086 (the sysfs file's text), not %r" % (what, value))
    return 0  # unreachable; keeps type checkers content


def lookup(device_id: int) -> Optional[dict[str, Any]]:
    """The TABLE row for an Intel graphics PCI device id, or None."""
    for row in TABLE:
        if row["first"] <= device_id <= row["last"]:
            return row
    return None


def sysfs_devices(files: Mapping) -> list[dict[str, str]]:
    """Group ``{"/sys/bus/pci/devices/<slot>/<attr>": text}`` into ``[{slot, vendor, device, class}]``."""
    grouped: dict[str, dict[str, str]] = {}
    for path, text in files.items():
        if not isinstance(path, str) or not isinstance(text, str):
            _fail("a sysfs mapping must map paths to the files' text")
        folder, attr = posixpath.split(path.rstrip("/"))
        if attr in ("vendor", "device", "class"):
            grouped.setdefault(folder, {"slot": posixpath.basename(folder)})[attr] = text.strip()
    return [grouped[k] for k in sorted(grouped)]


def quicksync_plan(devices: Any, render_nodes: Any = None, guc: Any = "auto") -> dict[str, Any]:
    """Decide what the quicksync role does on a host.

    ``devices`` lists the host's PCI functions as read from sysfs: ``{slot, vendor, device, class}``
    with the files' hex text (``0x8086``, ``0x9bc8``, ``0x030000``), or maps sysfs file paths
    (``/sys/bus/pci/devices/<slot>/vendor``) to their text. ``render_nodes`` lists the paths of
    ``/dev/dri/renderD*``. ``guc`` is ``auto`` (the table decides), ``off`` or ``2``/``3``.
    """
    if devices is None:
        devices = []
    if isinstance(devices, Mapping):
        devices = sysfs_devices(devices)
    if not isinstance(devices, list):
        _fail("devices must be a list of {slot, vendor, device, class} mappings")
    if render_nodes is None:
        render_nodes = []
    if not isinstance(render_nodes, list) or not all(isinstance(n, str) for n in render_nodes):
        _fail("render_nodes must be a list of paths such as /dev/dri/renderD128")
    guc = str(guc).lower() if not isinstance(guc, bool) else ("off" if not guc else "bad")
    if guc not in GUC_MODES:
        _fail("guc must be one of %s (quicksync_guc), not %r" % (", ".join(GUC_MODES), guc))

    igpus = []
    for index, dev in enumerate(devices):
        if not isinstance(dev, Mapping):
            _fail("devices[%d] must be a mapping with vendor, device and class" % index)
        for key in ("vendor", "device", "class"):
            if key not in dev:
                _fail("devices[%d] (%s) lacks %s" % (index, dev.get("slot", "?"), key))
        vendor = _hex(dev["vendor"], "devices[%d].vendor" % index)
        pci_class = _hex(dev["class"], "devices[%d].class" % index)
        if vendor != INTEL or (pci_class >> 16) != DISPLAY_CLASS:
            continue
        device_id = _hex(dev["device"], "devices[%d].device" % index)
        row = lookup(device_id)
        igpus.append({
            "slot": str(dev.get("slot", "")),
            "device_id": "0x%04x" % device_id,
            "family": row["family"] if row else "unknown",
            "generation": row["generation"] if row else None,
            "table_guc": row["guc"] if row else None,
            "known": row is not None,
        })
    igpus.sort(key=lambda g: g["slot"])
    nodes = sorted(render_nodes)
    notes = []
    present = bool(igpus) and bool(nodes)
    if igpus and not nodes:
        reason = ("an Intel display device (%s) is on the PCI bus but there is no /dev/dri/renderD* node: the i915/xe driver "
                  "is not loaded (check `dmesg | grep -i i915`, a BIOS setting that disables the iGPU, or a blacklist)"
                  % ", ".join("%s %s" % (g["device_id"], g["family"]) for g in igpus))
    elif not igpus:
        reason = "no Intel display device (PCI vendor 0x8086, class 0x03xxxx) on this host"
    else:
        reason = None

    primary = igpus[0] if igpus else None
    if guc == "off":
        enable_guc = None
    elif guc in ("2", "3"):
        enable_guc = int(guc)
    else:
        enable_guc = primary["table_guc"] if primary else None
        if primary and not primary["known"]:
            notes.append("device %s is not in quicksync_plan's table (newer than this collection?): no i915 enable_guc option "
                         "is written and the kernel default applies; set quicksync_guc to 2 or 3 to force one" % primary["device_id"])
    if present and enable_guc is None and guc == "auto" and primary and primary["known"]:
        notes.append("%s (Gen %s): no i915 enable_guc option needed (%s)" % (
            primary["family"], primary["generation"],
            "no GuC/HuC firmware before Gen 9" if (primary["generation"] or 0) < 9
            else "the xe driver manages the firmware" if (primary["generation"] or 0) >= 20
            else "the kernel already loads GuC and HuC"))
    return {
        "present": present,
        "reason": reason,
        "igpus": igpus,
        "render_nodes": nodes,
        "render_node": nodes[0] if nodes else None,
        "family": primary["family"] if primary else None,
        "generation": primary["generation"] if primary else None,
        "enable_guc": enable_guc if present else None,
        "modprobe_options": ("options i915 enable_guc=%d" % enable_guc) if present and enable_guc is not None else None,
        "notes": notes,
    }


class FilterModule:
    """Intel QuickSync filters."""

    def filters(self) -> dict[str, Any]:
        return {"quicksync_plan": quicksync_plan}
