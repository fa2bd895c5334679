#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gpu_assign
short_description: Assign a host's NVIDIA GPUs to services and derive their Swarm settings
version_added: 0.1.0
description:
  - Takes GPU requests per service and returns, per service, the GPU UUID(s) and indexes,
    C(NVIDIA_VISIBLE_DEVICES), C(NVIDIA_DRIVER_CAPABILITIES) and the Docker Swarm generic-resource
    reservation, plus the node's C(node-generic-resources) list for C(daemon.json).
  - A request is explicit (C(gpu) in its O(services) entry, the seed's C(gpu_allocation) shape) or left to
    the policy (C(count)). The policy puts transcoders on GPUs whose NVENC encodes every
    requested codec (fewest encoder sessions first), ML on the GPU with the most free memory, and avoids
    MIG-enabled GPUs while others fit. With O(strategy=spread) every policy service gets GPUs no other
    service uses; with O(strategy=share) services may share a GPU.
  - Swarm generic resources are exclusive. A GPU used by one service is advertised to Swarm and reserved
    by that service. A GPU used by two or more services is reported as shared (C(shared) in RV(assignments),
    RV(shared_gpus)) and is B(not) advertised; its services reach it through C(NVIDIA_VISIBLE_DEVICES)
    without a reservation, so Swarm neither counts nor places them by GPU. A warning says so.
  - Impossible requests fail and name the service, the GPU and what to change, for example a GPU index the host
    does not have, AV1 on a card without AV1 NVENC, transcoding on a card without NVENC (NVDEC only).
  - GPU facts come from O(gpus) (the RV(mediastack.core.gpu_info#module:gpus) list) or, when omitted,
    from NVML on the target.
  - Computes only; it never changes the host.
author:
  - mediastack maintainers (@mediastack)
requirements:
  - nvidia-ml-py (C(pip install nvidia-ml-py)) on the target when O(gpus) is not given
options:
  services:
    description:
      - Map of service name to its GPU request.
      - Each value has C(profiles) (required, list of V(h264), V(h265), V(av1), V(decode), V(ml); aliases
        V(hevc)=V(h265), V(avc)=V(h264), V(compute)=V(ml), V(nvdec)=V(decode)) and either C(gpu)
        (a GPU index, a C(GPU-...) UUID, or a list of them) or C(count) (GPUs the policy picks; default 1).
      - V(h264), V(h265) and V(av1) need NVENC with that codec; V(decode) needs NVDEC only; V(ml) needs any GPU.
    type: dict
    required: true
  overrides:
    description:
      - Per-service changes on top of O(services), in the same shape (the inventory's C(nvidia_gpu_services)).
      - A C(gpu) here pins the service to that GPU and replaces its C(count); an override for a service that
        O(services) does not list is refused.
    type: dict
    default: {}
  strategy:
    description:
      - How the policy places services without an explicit C(gpu).
      - V(spread) gives each policy service GPUs no other service uses and fails when too few remain.
      - V(share) picks the best GPU for each service even when another service already uses it.
    type: str
    choices: [spread, share]
    default: spread
  gpus:
    description:
      - GPU facts, the RV(mediastack.core.gpu_info#module:gpus) list. When omitted the module queries NVML itself.
    type: list
    elements: dict
  resource_kind:
    description:
      - Swarm generic-resource kind for NVIDIA GPUs; must match the C(swarm-resource) setting of the
        NVIDIA container runtime (RV(swarm_resource)).
    type: str
    default: NVIDIA-GPU
  kind_per_gpu:
    description:
      - Advertise each GPU under its own kind (V(NVIDIA-GPU-0), V(NVIDIA-GPU-1), ...) so that a reservation
        names exactly the GPU chosen here.
      - With one kind for all GPUs Swarm decides which of the node's GPUs a task gets; on a node with
        different cards that can be one that cannot serve the service, and the module warns.
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: The module only computes; it behaves the same in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
seealso:
  - module: mediastack.core.gpu_info
notes:
  - The NVIDIA runtime prefers C(DOCKER_RESOURCE_<KIND>) over C(NVIDIA_VISIBLE_DEVICES) when its
    C(swarm-resource) setting names that variable and the container has it, so for an exclusive
    service the reservation decides the GPU and C(NVIDIA_VISIBLE_DEVICES) is the fallback.
"""

EXAMPLES = r"""
- name: Read the GPUs
  mediastack.core.gpu_info:
  register: __nvidia_gpu_info

- name: Assign the seed's explicit allocation
  mediastack.core.gpu_assign:
    gpus: "{{ __nvidia_gpu_info.gpus }}"
    services:
      jellyfin:
        gpu: 0
        profiles: [h264, h265, av1]
      immich:
        gpu: 1
        profiles: [ml]
  register: __nvidia_gpu_assignment

- name: The catalog's requests (the service plan's gpu_requests), Jellyfin pinned to GPU 0 by the inventory
  mediastack.core.gpu_assign:
    services: "{{ hostvars[groups['swarm_managers'][0]].__services_plan.gpu_requests }}"
    overrides:
      jellyfin:
        gpu: 0
  register: __nvidia_gpu_assignment

- name: Let the policy choose, allowing services to share a GPU
  mediastack.core.gpu_assign:
    strategy: share
    services:
      jellyfin:
        profiles: [h264, h265]
      immich:
        profiles: [ml]
  register: __nvidia_gpu_assignment

- name: Merge the node's generic resources into daemon.json (through the docker role's merge)
  ansible.builtin.set_fact:
    docker_daemon_options_gpu:
      node-generic-resources: "{{ __nvidia_gpu_assignment.node_generic_resources }}"
"""

RETURN = r"""
assignments:
  description: Per service, the GPUs and the settings for its Swarm service.
  returned: always
  type: dict
  sample:
    jellyfin:
      source: explicit
      profiles: [h264, h265, av1]
      gpu_indexes: [0]
      gpu_uuids: [GPU-5a1c7f0e-3b9d-4c2a-8e61-0f4d2b7c9a10]
      gpu_names: [NVIDIA RTX 4000 Ada Generation]
      env:
        NVIDIA_VISIBLE_DEVICES: GPU-5a1c7f0e-3b9d-4c2a-8e61-0f4d2b7c9a10
        NVIDIA_DRIVER_CAPABILITIES: video,utility
      generic_resources: [{kind: NVIDIA-GPU, value: 1}]
      shared: false
      shared_with: []
      nvenc_session_limit: null
  contains:
    source:
      description: V(explicit) (from C(gpu)) or V(policy).
      type: str
      returned: always
    profiles:
      description: Normalised profiles.
      type: list
      elements: str
      returned: always
    gpu_indexes:
      description: NVML indexes of the assigned GPUs.
      type: list
      elements: int
      returned: always
    gpu_uuids:
      description: UUIDs of the assigned GPUs.
      type: list
      elements: str
      returned: always
    gpu_names:
      description: Product names of the assigned GPUs.
      type: list
      elements: str
      returned: always
    env:
      description: C(NVIDIA_VISIBLE_DEVICES) (UUIDs) and C(NVIDIA_DRIVER_CAPABILITIES) (compute for ML, video for NVENC/NVDEC, utility always).
      type: dict
      returned: always
    generic_resources:
      description: Swarm reservations (C(deploy.resources.reservations.generic_resources) discrete specs); empty for a shared service.
      type: list
      elements: dict
      returned: always
    shared:
      description: Whether the service shares a GPU with another service (and therefore has no reservation).
      type: bool
      returned: always
    shared_with:
      description: The services it shares GPUs with.
      type: list
      elements: str
      returned: always
    nvenc_session_limit:
      description: Consumer NVENC session cap that applies to this transcoding service, else V(null).
      type: int
      returned: always
node_generic_resources:
  description: The node's C(node-generic-resources) for C(daemon.json); shared GPUs are left out.
  returned: always
  type: list
  elements: str
  sample: [NVIDIA-GPU=GPU-5a1c7f0e-3b9d-4c2a-8e61-0f4d2b7c9a10, NVIDIA-GPU=GPU-9e2d4b61-7a0c-4f1e-b3d5-6c8a0e2f4b17]
swarm_resource:
  description: Value for C(swarm-resource) in the NVIDIA container runtime config (C(/etc/nvidia-container-runtime/config.toml)).
  returned: always
  type: str
  sample: DOCKER_RESOURCE_NVIDIA-GPU
shared_gpus:
  description: GPUs used by more than one service.
  returned: always
  type: list
  elements: dict
  sample: [{index: 0, uuid: GPU-5a1c7f0e-3b9d-4c2a-8e61-0f4d2b7c9a10, services: [immich, jellyfin]}]
gpu_count:
  description: Number of GPUs the assignment was computed against.
  returned: always
  type: int
  sample: 2
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.mediastack.core.plugins.module_utils.gpu.assign import (
    DEFAULT_KIND,
    STRATEGIES,
    GpuAssignError,
    assign,
    merge_requests,
)
from ansible_collections.mediastack.core.plugins.module_utils.gpu.nvml import (
    PYNVML_IMPORT_ERROR,
    NvmlFailure,
    collect_facts,
    pynvml,
)


class GpuAssign:
    """Gets the GPU facts (given or from NVML) and runs the assignment."""

    def __init__(self, module: AnsibleModule, lib: object) -> None:
        self.module = module
        self.lib = lib

    def facts(self) -> tuple:
        """(gpus, reason why the list is empty or None)."""
        params = self.module.params
        if params["gpus"] is not None:
            return params["gpus"], None
        if not params["services"]:
            return [], None
        if self.lib is None:
            self.module.fail_json(
                msg="services %s request a GPU, no `gpus` facts were given, and NVML cannot be queried here. %s"
                % (", ".join(sorted(params["services"])), missing_required_lib("nvidia-ml-py")),
                exception=PYNVML_IMPORT_ERROR,
            )
        try:
            facts = collect_facts(self.lib)
        except NvmlFailure as exc:
            self.module.fail_json(msg="%s; check `nvidia-smi` and the kernel log (Xid errors)" % exc)
        return facts["gpus"], facts["reason"]

    def run(self) -> dict:
        params = self.module.params
        try:
            services = merge_requests(params["services"], params["overrides"])
        except GpuAssignError as exc:
            self.module.fail_json(msg=str(exc), problems=exc.problems)
        params["services"] = services
        gpus, reason = self.facts()
        try:
            result = assign(
                gpus,
                services,
                strategy=params["strategy"],
                resource_kind=params["resource_kind"],
                kind_per_gpu=params["kind_per_gpu"],
                reason=reason,
            )
        except GpuAssignError as exc:
            self.module.fail_json(msg=str(exc), problems=exc.problems)
        for warning in result.pop("warnings"):
            self.module.warn(warning)
        result["gpu_count"] = len(gpus)
        return result


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            services=dict(type="dict", required=True),
            overrides=dict(type="dict", default={}),
            strategy=dict(type="str", choices=list(STRATEGIES), default="spread"),
            gpus=dict(type="list", elements="dict"),
            resource_kind=dict(type="str", default=DEFAULT_KIND),
            kind_per_gpu=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    result = GpuAssign(module, pynvml).run()
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
