#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: node_features
short_description: Read what a node's kernel and PCI bus offer the platform, changing nothing
version_added: 0.2.0
description:
  - Reads the running kernel's build configuration (C(/proc/config.gz), else C(/boot/config-<release>)) for the
    options the platform needs, the PCI display functions under C(/sys/bus/pci/devices) (NVIDIA GPUs among them),
    and the render nodes under C(/dev/dri), in one call.
  - The preflight play of C(mediastack.core.site) runs it on every node and hands the result to the filter
    C(mediastack.core.catalog_capacity_problems), which names each missing kernel feature and each GPU service
    without a GPU before anything changes on any host.
  - Reads only; never fails because something is absent (a kernel without a readable configuration reports
    RV(kernel.config_source) null and no options, which the checks treat as unknown, not as missing).
author:
  - mediastack maintainers (@mediastack)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reads only; the same result in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
options:
  kernel_options:
    description:
      - The kernel configuration options to report, without the C(CONFIG_) prefix.
      - The default is every option the platform's checks read.
    type: list
    elements: str
    default: [OVERLAY_FS, VXLAN, BRIDGE, VETH, MEMCG, CFS_BANDWIDTH, IP_VS, INET_ESP, XFRM_USER, VLAN_8021Q]
  kernel_config:
    description:
      - The kernel configuration file to read (gzip-compressed when it ends in C(.gz)).
      - Empty reads C(/proc/config.gz) when the kernel offers it, else C(/boot/config-<release>).
    type: path
  pci_root:
    description: Where the PCI functions are listed (a directory per function holding C(vendor), C(device), C(class)).
    type: path
    default: /sys/bus/pci/devices
  dri_root:
    description: Where the DRM render nodes are (C(renderD*)).
    type: path
    default: /dev/dri
seealso:
  - module: mediastack.core.gpu_info
"""

EXAMPLES = r"""
- name: Read the kernel features and the GPUs
  mediastack.core.node_features:
  register: __node_features
"""

RETURN = r"""
kernel:
  description: The running kernel and the requested options of its build configuration.
  returned: always
  type: dict
  contains:
    release:
      description: C(uname -r).
      type: str
      sample: 6.1.0-28-amd64
    config_source:
      description: The file the options were read from; null when the kernel's configuration could not be read.
      type: str
      sample: /boot/config-6.1.0-28-amd64
    options:
      description: Per requested option V(y) (built in), V(m) (a module), V(n) (not set) or another value as the
        configuration gives it; empty when RV(kernel.config_source) is null.
      type: dict
      sample: {VXLAN: m, IP_VS: m, VLAN_8021Q: n}
pci_display:
  description: The PCI display functions (class 0x03xxxx), sorted by slot (the PCI address), in the form the filter C(mediastack.core.quicksync_plan) reads.
  returned: always
  type: list
  elements: dict
  sample: [{slot: "0000:01:00.0", vendor: "0x10de", device: "0x2204", class: "0x030000"}]
nvidia_gpus:
  description: The PCI addresses of the NVIDIA display functions (vendor 0x10de); a card's audio function does not count.
  returned: always
  type: list
  elements: str
  sample: ["0000:01:00.0"]
render_nodes:
  description: The DRM render nodes, sorted.
  returned: always
  type: list
  elements: str
  sample: [/dev/dri/renderD128]
"""

import gzip
import os

from ansible.module_utils.basic import AnsibleModule

NVIDIA_VENDOR = "0x10de"


def read_kernel_config(path):
    """{NAME: value} of a kernel configuration file (``# CONFIG_X is not set`` reads as ``n``)."""
    opener = gzip.open if path.endswith(".gz") else open
    options = {}
    with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            line = line.strip()
            if line.startswith("CONFIG_") and "=" in line:
                name, value = line[len("CONFIG_"):].split("=", 1)
                options[name] = value.strip('"')
            elif line.startswith("# CONFIG_") and line.endswith(" is not set"):
                options[line[len("# CONFIG_"):-len(" is not set")]] = "n"
    return options


def kernel_config_path(configured, release):
    """The configuration file to read, or None when the kernel offers none."""
    if configured:
        return configured
    for candidate in ("/proc/config.gz", "/boot/config-%s" % release):
        if os.path.isfile(candidate):
            return candidate
    return None


def _read(path):
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read().strip().lower()
    except OSError:
        return ""


def pci_display_functions(root):
    """[{slot, vendor, device, class}] of the display functions (class 0x03xxxx) under ``root``."""
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    out = []
    for name in names:
        function = os.path.join(root, name)
        klass = _read(os.path.join(function, "class"))
        if klass.startswith("0x03"):
            out.append({"slot": name, "vendor": _read(os.path.join(function, "vendor")),
                        "device": _read(os.path.join(function, "device")), "class": klass})
    return out


def render_nodes(root):
    try:
        return sorted(os.path.join(root, n) for n in os.listdir(root) if n.startswith("renderD"))
    except OSError:
        return []


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kernel_options=dict(type="list", elements="str",
                                default=["OVERLAY_FS", "VXLAN", "BRIDGE", "VETH", "MEMCG", "CFS_BANDWIDTH", "IP_VS",
                                         "INET_ESP", "XFRM_USER", "VLAN_8021Q"]),
            kernel_config=dict(type="path"),
            pci_root=dict(type="path", default="/sys/bus/pci/devices"),
            dri_root=dict(type="path", default="/dev/dri"),
        ),
        supports_check_mode=True,
    )
    release = os.uname().release
    wanted = [o[len("CONFIG_"):] if o.startswith("CONFIG_") else o for o in module.params["kernel_options"]]
    source = kernel_config_path(module.params["kernel_config"], release)
    options = {}
    if source:
        try:
            config = read_kernel_config(source)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            if module.params["kernel_config"]:
                module.fail_json(msg="node_features: cannot read kernel_config %s: %s" % (source, exc))
            source = None  # an unreadable default is unknown, not missing
        else:
            options = {name: config.get(name, "n") for name in wanted}
    display = pci_display_functions(module.params["pci_root"])
    module.exit_json(
        changed=False,
        kernel={"release": release, "config_source": source, "options": options},
        pci_display=display,
        nvidia_gpus=[f["slot"] for f in display if f["vendor"] == NVIDIA_VENDOR],
        render_nodes=render_nodes(module.params["dri_root"]),
    )


if __name__ == "__main__":
    main()
