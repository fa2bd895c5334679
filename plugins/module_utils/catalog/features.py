# -*- coding: utf-8 -*-
# Copyright (c) mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the nodes' kernels and GPUs must offer the service plan, checked against what mediastack.core.node_features read.

Pure Python; ``capacity_problems`` (plan.py) calls ``feature_problems`` with the same nodes mapping, each node with
``kernel`` (node_features' kernel result, or None when not read) and ``gpus`` (NVIDIA GPUs, real or simulated, or None).
A kernel whose configuration could not be read is unknown, never reported as missing.
"""
from __future__ import annotations

import typing as t

# (options, what needs them, the fix). Every option of a tuple must be y or m.
KERNEL_BASE = (
    (("OVERLAY_FS",), "the overlay filesystem (Docker's overlay2 storage driver)",
     "use a kernel built with CONFIG_OVERLAY_FS (every Debian and Ubuntu kernel is)"),
    (("VXLAN",), "VXLAN (Swarm's overlay networks carry the services' traffic between nodes over it)",
     "use a kernel built with CONFIG_VXLAN"),
    (("BRIDGE", "VETH"), "bridges and veth pairs (every container's network interface)",
     "use a kernel built with CONFIG_BRIDGE and CONFIG_VETH"),
    (("MEMCG",), "the memory cgroup controller (the services' memory limits and reservations)",
     "use a kernel built with CONFIG_MEMCG"),
    (("CFS_BANDWIDTH",), "CFS bandwidth control (the services' CPU limits, resources.cpus)",
     "use a kernel built with CONFIG_CFS_BANDWIDTH"),
)
KERNEL_VIP = (("IP_VS",), "IPVS (Swarm's VIP load balancing and ingress routing mesh, swarm_service_endpoint_mode vip)",
              "set swarm_service_endpoint_mode: dnsrr (published ports then use mode host), or use a kernel built with CONFIG_IP_VS")
KERNEL_ENCRYPTED = (("INET_ESP", "XFRM_USER"), "IPsec ESP and XFRM (the encrypted overlay networks in swarm_networks: %s)",
                    "set encrypted: false on those networks in swarm_networks, or use a kernel built with CONFIG_INET_ESP and CONFIG_XFRM_USER")


def kernel_requirements(plan: t.Mapping[str, t.Any], encrypted_networks: t.Iterable[str] = ()) -> t.List[t.Tuple[t.Tuple[str, ...], str, str]]:
    """The kernel options every Swarm node needs for this plan: the base, IPVS with VIP endpoints, ESP with encryption."""
    needs = list(KERNEL_BASE)
    if str(plan.get("endpoint_mode") or "vip") == "vip":
        needs.append(KERNEL_VIP)
    encrypted = sorted(set(encrypted_networks))
    if encrypted:
        options, what, fix = KERNEL_ENCRYPTED
        needs.append((options, what % ", ".join(encrypted), fix))
    return needs


def _missing(kernel: t.Optional[t.Mapping[str, t.Any]], options: t.Iterable[str]) -> t.List[str]:
    """The options a read kernel configuration lacks; [] when the configuration is unknown."""
    if not kernel or not kernel.get("config_source"):
        return []
    read = kernel.get("options") or {}
    return [o for o in options if o in read and str(read[o]) not in ("y", "m")]


def feature_problems(plan: t.Mapping[str, t.Any], nodes: t.Mapping[str, t.Mapping[str, t.Any]],
                     encrypted_networks: t.Iterable[str] = (),
                     matches: t.Optional[t.Callable[..., bool]] = None, gpu_strategy: str = "spread") -> t.List[str]:
    """Missing kernel features (one line per feature with the nodes that lack it), GPU services without a GPU (and, with
    the nvidia role's strategy spread, more GPUs wanted in all than the GPU nodes have), QuickSync services without an
    Intel iGPU."""
    problems = []  # type: t.List[str]
    for options, what, fix in kernel_requirements(plan, encrypted_networks):
        lacking = {}  # type: t.Dict[str, t.List[str]]
        for host, node in sorted(nodes.items()):
            missing = _missing(node.get("kernel"), options)
            if missing:
                lacking[host] = missing
        if lacking:
            described = ", ".join("%s (%s, %s)" % (h, nodes[h]["kernel"].get("release"), nodes[h]["kernel"].get("config_source"))
                                  for h in sorted(lacking))
            unset = sorted({"CONFIG_%s" % o for m in lacking.values() for o in m})
            problems.append("%s: the kernel has no %s (%s not set); %s" % (described, what, ", ".join(unset), fix))
    requests = plan.get("gpu_requests") or {}
    for entry in plan.get("capacity", []):
        request = requests.get(entry["service"])
        if not request:
            continue
        eligible = {h: n for h, n in nodes.items()
                    if matches is None or matches(entry["constraints"], h, n["role"], n.get("labels") or {})}
        known = {h: n["gpus"] for h, n in eligible.items() if n.get("gpus") is not None}
        if not eligible or len(known) < len(eligible):
            continue  # no node at all is the placement check's; a node not read may have them
        count = int(request.get("count") or 1)
        if max(known.values()) < count:
            problems.append("%s: needs %d NVIDIA GPU%s (gpu.count) and no node it may run on has %s (%s); its task would stay "
                            "pending. Install the GPU (and rerun), remove the gpu label from nodes without one "
                            "(swarm_node_labels), or disable the service"
                            % (entry["service"], count, "" if count == 1 else "s", "one" if count == 1 else "that many",
                               ", ".join("%s: %d" % (h, g) for h, g in sorted(known.items()))))
    problems.extend(_gpu_total(plan, nodes, matches, gpu_strategy))
    for entry in plan.get("quicksync", []):
        eligible = {h: n for h, n in nodes.items()
                    if matches is None or matches(entry["constraints"], h, n["role"], n.get("labels") or {})}
        known = {h: n["quicksync"] for h, n in eligible.items() if n.get("quicksync") is not None}
        if not eligible or len(known) < len(eligible) or any(known.values()):
            continue
        problems.append("%s: needs Intel QuickSync (quicksync: true), and no node it may run on has an Intel iGPU with a "
                        "render node (%s); it would never start. Run it on a node with one (placement), or drop quicksync "
                        "(it then transcodes on the CPU), or disable the service"
                        % (entry["service"], ", ".join(sorted(eligible))))
    return problems


def has_quicksync(read: t.Mapping[str, t.Any]) -> bool:
    """An Intel display function (PCI vendor 0x8086) and a DRM render node, as mediastack.core.node_features reads them."""
    intel = any(str(f.get("vendor", "")).lower() in ("0x8086", "8086") for f in read.get("pci_display") or [])
    return intel and bool(read.get("render_nodes"))


def _gpu_total(plan: t.Mapping[str, t.Any], nodes: t.Mapping[str, t.Mapping[str, t.Any]],
               matches: t.Optional[t.Callable[..., bool]], gpu_strategy: str) -> t.List[str]:
    """With strategy spread every GPU service gets GPUs of its own (gpu_assign): the GPU nodes must have them all."""
    requests = plan.get("gpu_requests") or {}
    if gpu_strategy != "spread" or len(requests) < 2:
        return []
    constraints = {e["service"]: e["constraints"] for e in plan.get("capacity", []) if e["service"] in requests}
    gpu_nodes = {h: n for h, n in nodes.items()
                 if any(matches is None or matches(c, h, n["role"], n.get("labels") or {}) for c in constraints.values())}
    if not gpu_nodes or any(n.get("gpus") is None for n in gpu_nodes.values()):
        return []  # none (the placement check's) or not read (they may have them)
    wanted = sum(int(r.get("count") or 1) for r in requests.values())
    have = sum(int(n["gpus"]) for n in gpu_nodes.values())
    if wanted <= have:
        return []
    return ["%s: need %d NVIDIA GPUs in all (nvidia_gpu_strategy spread gives each its own), and the GPU nodes have %d (%s); "
            "set nvidia_gpu_strategy: share to let them share, add a GPU, or disable one of them"
            % (", ".join(sorted(requests)), wanted, have, ", ".join("%s: %d" % (h, int(n["gpus"])) for h, n in sorted(gpu_nodes.items())))]
