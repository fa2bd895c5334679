#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gpu_info
short_description: Report the NVIDIA GPUs of a host through NVML
version_added: 0.1.0
description:
  - Reads the NVIDIA GPUs of the target through NVML (the C(nvidia-ml-py) binding, C(import pynvml)).
  - Per GPU it reports index, UUID, name, brand, architecture, PCI bus id, memory (NVML v2 memory
    API, falling back to v1 on old drivers), GPU/memory/encoder/decoder utilization, active encoder
    sessions, whether the card has NVENC and NVDEC, the codecs NVENC can encode (AV1 by architecture,
    Ada Lovelace and newer), the consumer NVENC session cap, MIG mode and MIG devices.
  - C(NotSupported) from the NVML encoder queries means the card has no NVENC. Datacenter GPUs such as
    the A100, H100 and H200 have NVDEC but no NVENC; they are reported with C(nvenc=false) and C(nvdec=true).
  - A host without usable NVML is not an error. When the Python library is missing, the NVIDIA
    driver is not installed or not loaded, or the driver sees no GPU, the module returns
    RV(gpus=[]), RV(available=false) where NVML could not be used, and a RV(reason). It fails only
    when a present GPU stops answering (for example a GPU that fell off the bus).
  - Reads only; it never changes the host.
author:
  - mediastack maintainers (@mediastack)
requirements:
  - nvidia-ml-py (C(pip install nvidia-ml-py)) on the target; without it the module returns no GPUs and a reason
  - the NVIDIA driver (C(libnvidia-ml.so.1)) for any GPU to be reported
options: {}
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads; it behaves the same in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
seealso:
  - module: mediastack.core.gpu_assign
notes:
  - The consumer NVENC session cap (C(nvenc_session_limit)) is NVIDIA's published per-system
    limit for GeForce/TITAN cards by driver branch (3 before 530, 5 from 530, 8 from 550); it
    counts all consumer cards of the system together.
"""

EXAMPLES = r"""
- name: Read the GPUs of the GPU nodes
  mediastack.core.gpu_info:
  register: __nvidia_gpu_info

- name: Report hosts where NVML is not usable
  ansible.builtin.debug:
    msg: "No NVIDIA GPU on {{ inventory_hostname }}: {{ __nvidia_gpu_info.reason }}"
  when: __nvidia_gpu_info.gpus | length == 0

- name: Label the node with its NVENC capability
  ansible.builtin.set_fact:
    __nvidia_has_nvenc: "{{ __nvidia_gpu_info.gpus | selectattr('nvenc') | list | length > 0 }}"
"""

RETURN = r"""
available:
  description: Whether NVML could be initialised (library and driver present).
  returned: always
  type: bool
  sample: true
reason:
  description: Why no GPU is reported; V(null) when GPUs were found.
  returned: always
  type: str
  sample: "NVIDIA driver not loaded: the kernel module is missing or not loaded (check `nvidia-smi`, `modprobe nvidia`)"
reason_code:
  description: >-
    Machine-readable form of RV(reason): V(library_missing), V(library_not_found), V(driver_not_loaded),
    V(no_permission), V(version_mismatch), V(nvml_error), V(no_gpu); V(null) when GPUs were found.
  returned: always
  type: str
  sample: driver_not_loaded
driver_version:
  description: NVIDIA driver version.
  returned: always
  type: str
  sample: "570.133.20"
cuda_driver_version:
  description: Highest CUDA version the driver supports.
  returned: always
  type: str
  sample: "12.8"
gpu_count:
  description: Number of GPUs in RV(gpus).
  returned: always
  type: int
  sample: 2
gpus:
  description: One entry per GPU, in NVML index order; empty when NVML is unusable or sees no GPU.
  returned: always
  type: list
  elements: dict
  contains:
    index:
      description: NVML index.
      type: int
      returned: always
      sample: 0
    uuid:
      description: GPU UUID, as used by C(NVIDIA_VISIBLE_DEVICES) and Swarm generic resources.
      type: str
      returned: always
      sample: GPU-5a1c7f0e-3b9d-4c2a-8e61-0f4d2b7c9a10
    name:
      description: Product name.
      type: str
      returned: always
      sample: NVIDIA RTX 4000 Ada Generation
    brand:
      description: NVML brand (V(geforce), V(nvidia_rtx), V(tesla), V(quadro), ...).
      type: str
      returned: always
      sample: nvidia_rtx
    architecture:
      description: NVML architecture (V(turing), V(ampere), V(ada), V(hopper), V(blackwell), ... or V(unknown)).
      type: str
      returned: always
      sample: ada
    compute_capability:
      description: CUDA compute capability.
      type: str
      returned: always
      sample: "8.9"
    pci_bus_id:
      description: PCI bus id.
      type: str
      returned: always
      sample: "00000000:01:00.0"
    memory_api:
      description: NVML memory API that answered (V(v2) reports reserved memory apart, V(v1) on old drivers).
      type: str
      returned: always
      sample: v2
    memory_total_mib:
      description: Total memory in MiB.
      type: int
      returned: always
      sample: 20475
    memory_used_mib:
      description: Used memory in MiB.
      type: int
      returned: always
      sample: 312
    memory_free_mib:
      description: Free memory in MiB.
      type: int
      returned: always
      sample: 19847
    memory_reserved_mib:
      description: Memory reserved by the driver in MiB (v2 API only, else V(null)).
      type: int
      returned: always
      sample: 316
    utilization_gpu:
      description: GPU utilization percent (V(null) where not supported, for example with MIG enabled).
      type: int
      returned: always
      sample: 3
    utilization_memory:
      description: Memory controller utilization percent.
      type: int
      returned: always
      sample: 1
    encoder_utilization:
      description: NVENC utilization percent; V(null) without NVENC.
      type: int
      returned: always
      sample: 0
    decoder_utilization:
      description: NVDEC utilization percent; V(null) without NVDEC.
      type: int
      returned: always
      sample: 0
    encoder_sessions:
      description: Active NVENC sessions; V(null) without NVENC.
      type: int
      returned: always
      sample: 0
    encoder_average_fps:
      description: Average FPS over the active encoder sessions; V(null) without NVENC.
      type: int
      returned: always
      sample: 0
    nvenc:
      description: Whether the GPU has an NVENC hardware encoder.
      type: bool
      returned: always
      sample: true
    nvdec:
      description: Whether the GPU has an NVDEC hardware decoder.
      type: bool
      returned: always
      sample: true
    nvenc_codecs:
      description: Codecs NVENC encodes (V(h264), V(h265), V(av1)); empty without NVENC.
      type: list
      elements: str
      returned: always
      sample: [h264, h265, av1]
    av1_encode:
      description: Whether NVENC encodes AV1 (Ada Lovelace and newer).
      type: bool
      returned: always
      sample: true
    nvenc_session_limit:
      description: Driver cap on concurrent NVENC sessions for consumer cards (per system); V(null) where uncapped or without NVENC.
      type: int
      returned: always
      sample: 8
    mig_mode:
      description: V(enabled), V(disabled) or V(unsupported).
      type: str
      returned: always
      sample: disabled
    mig_mode_pending:
      description: MIG mode after the next GPU reset; V(null) where MIG is unsupported.
      type: str
      returned: always
      sample: disabled
    mig_devices:
      description: MIG devices (UUID, memory) when MIG is enabled.
      type: list
      elements: dict
      returned: always
      sample: [{"uuid": "MIG-0f3c...", "memory_total_mib": 9856}]
    notes:
      description: NVML queries that failed with something other than C(NotSupported).
      type: list
      elements: str
      returned: always
      sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mediastack.core.plugins.module_utils.gpu.nvml import (
    NvmlFailure,
    collect_facts,
    pynvml,
)


class GpuInfo:
    """Collects the facts and shapes the module result."""

    def __init__(self, module: AnsibleModule, lib: object) -> None:
        self.module = module
        self.lib = lib

    def run(self) -> dict:
        try:
            facts = collect_facts(self.lib)
        except NvmlFailure as exc:
            self.module.fail_json(msg="%s; check `nvidia-smi` and the kernel log (Xid errors)" % exc)
        facts["gpu_count"] = len(facts["gpus"])
        return facts


def main() -> None:
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    result = GpuInfo(module, pynvml).run()
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
