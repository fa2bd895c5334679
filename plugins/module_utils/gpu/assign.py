# -*- coding: utf-8 -*-
# Copyright (c) mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""GPU assignment: services with profiles (h264, h265, av1, decode, ml) onto a host's GPUs.

Pure computation on the facts from ``nvml.collect_facts`` (or the ``gpus`` list that
``mediastack.core.gpu_info`` returns), so the platform can reuse it without NVML. Runs on
targets: keep the syntax Python 3.8 compatible.

Swarm model. A GPU used by one service is *exclusive*: the node advertises it as a named
generic resource (daemon.json ``node-generic-resources``: ``KIND=GPU-<uuid>``) and the service
reserves ``KIND`` x N; the NVIDIA runtime (``swarm-resource`` in its config) then exposes the
GPU Swarm handed out through ``DOCKER_RESOURCE_<KIND>``. Generic resources cannot be shared,
so a GPU used by two or more services is *shared*: it is not advertised at all and every
service on it gets it through ``NVIDIA_VISIBLE_DEVICES`` alone, without Swarm accounting.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.mediastack.core.plugins.module_utils.problems import InputError

TRANSCODE_PROFILES = ("h264", "h265", "av1")
VIDEO_PROFILES = TRANSCODE_PROFILES + ("decode",)
PROFILES = VIDEO_PROFILES + ("ml",)
PROFILE_ALIASES = {"hevc": "h265", "avc": "h264", "compute": "ml", "nvdec": "decode"}
STRATEGIES = ("spread", "share")
SERVICE_KEYS = frozenset(("gpu", "profiles", "count"))
REQUIRED_FACTS = ("index", "uuid", "name", "nvenc", "nvdec", "nvenc_codecs", "memory_free_mib", "mig_mode")
DEFAULT_KIND = "NVIDIA-GPU"
KIND_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
NVDEC_ONLY = "NVDEC only: decode offload possible, use profile `decode` or a card with NVENC"


class GpuAssignError(InputError):
    """The request cannot be met; ``problems`` holds one actionable line per problem."""


class Request:
    """One service's GPU need, normalised."""

    def __init__(self, service: str, profiles: t.List[str], refs: t.Optional[t.List[t.Union[int, str]]], count: int) -> None:
        self.service = service
        self.profiles = profiles
        self.refs = refs
        self.count = count

    @property
    def transcodes(self) -> bool:
        return any(p in TRANSCODE_PROFILES for p in self.profiles)

    @property
    def video(self) -> bool:
        return any(p in VIDEO_PROFILES for p in self.profiles)


def describe(gpu: t.Mapping[str, t.Any]) -> str:
    return "GPU %s (%s)" % (gpu["index"], gpu["name"])


def driver_capabilities(profiles: t.Iterable[str]) -> str:
    """NVIDIA_DRIVER_CAPABILITIES: compute for ML, video for NVENC/NVDEC, utility always."""
    wanted = set(profiles)
    caps = []
    if "ml" in wanted:
        caps.append("compute")
    if wanted & set(VIDEO_PROFILES):
        caps.append("video")
    caps.append("utility")
    return ",".join(caps)


def unsuitable(gpu: t.Mapping[str, t.Any], profiles: t.Iterable[str]) -> t.Optional[str]:
    """Why ``gpu`` cannot serve ``profiles``, or None when it can."""
    wanted = list(profiles)
    encode = [p for p in wanted if p in TRANSCODE_PROFILES]
    if encode and not gpu["nvenc"]:
        if gpu["nvdec"]:
            return "has no NVENC encoder (%s)" % NVDEC_ONLY
        return "has neither an NVENC encoder nor an NVDEC decoder"
    missing = [p for p in encode if p not in gpu["nvenc_codecs"]]
    if missing:
        arch = gpu.get("architecture") or "unknown"
        if "av1" in missing:
            return "cannot encode %s (AV1 NVENC needs Ada Lovelace or newer; this card is %s)" % (", ".join(missing), arch)
        return "cannot encode %s (architecture %s)" % (", ".join(missing), arch)
    if "decode" in wanted and not gpu["nvdec"]:
        return "has no NVDEC decoder"
    return None


def _normalise_profiles(service: str, raw: t.Any, problems: t.List[str]) -> t.List[str]:
    if not isinstance(raw, list) or not raw or not all(isinstance(p, str) for p in raw):
        problems.append("service %s: `profiles` must be a non-empty list of strings from %s" % (service, ", ".join(PROFILES)))
        return []
    profiles = []  # type: t.List[str]
    for item in raw:
        name = PROFILE_ALIASES.get(item.lower(), item.lower())
        if name not in PROFILES:
            problems.append(
                "service %s: unknown profile %r (known: %s; aliases: %s)"
                % (service, item, ", ".join(PROFILES), ", ".join("%s=%s" % pair for pair in sorted(PROFILE_ALIASES.items())))
            )
        elif name not in profiles:
            profiles.append(name)
    return profiles


def _normalise_refs(service: str, raw: t.Any, problems: t.List[str]) -> t.Optional[t.List[t.Union[int, str]]]:
    items = raw if isinstance(raw, list) else [raw]
    refs = []  # type: t.List[t.Union[int, str]]
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool) and item >= 0:
            refs.append(item)
        elif isinstance(item, str) and item.strip().isdigit():
            refs.append(int(item.strip()))
        elif isinstance(item, str) and item.startswith("GPU-"):
            refs.append(item)
        else:
            problems.append("service %s: `gpu` must be a GPU index (0, 1, ...), a UUID (GPU-...) or a list of them, not %r" % (service, item))
            return None
    if not refs:
        problems.append("service %s: `gpu` is an empty list; name at least one GPU or drop `gpu` to let the policy choose" % service)
        return None
    return refs


def parse_services(services: t.Any) -> t.List[Request]:
    """Validate the ``services`` map (the seed's ``gpu_allocation`` shape) into requests."""
    if not isinstance(services, dict):
        raise GpuAssignError(["`services` must be a mapping of service name to {gpu, profiles, count}"])
    problems = []  # type: t.List[str]
    requests = []
    for service in sorted(services):
        spec = services[service]
        if not isinstance(spec, dict):
            problems.append("service %s: expected a mapping with `profiles` (and optionally `gpu` or `count`), got %r" % (service, spec))
            continue
        unknown = sorted(set(spec) - SERVICE_KEYS)
        if unknown:
            problems.append("service %s: unknown key(s) %s (allowed: count, gpu, profiles)" % (service, ", ".join(map(str, unknown))))
        profiles = _normalise_profiles(service, spec.get("profiles"), problems)
        refs = None
        if spec.get("gpu") is not None:
            refs = _normalise_refs(service, spec["gpu"], problems)
            if spec.get("count") is not None:
                problems.append("service %s: give either `gpu` (explicit) or `count` (policy), not both" % service)
        count = spec.get("count", 1)
        if count is None:
            count = 1
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            problems.append("service %s: `count` must be a positive integer, got %r" % (service, count))
            count = 1
        requests.append(Request(service, profiles, refs, count))
    if problems:
        raise GpuAssignError(problems)
    return requests


def _check_facts(gpus: t.Any) -> t.List[t.Dict[str, t.Any]]:
    if not isinstance(gpus, list):
        raise GpuAssignError(["`gpus` must be the list returned by mediastack.core.gpu_info"])
    problems = []
    for position, gpu in enumerate(gpus):
        missing = [key for key in REQUIRED_FACTS if not isinstance(gpu, dict) or key not in gpu]
        if missing:
            problems.append("gpus[%d] lacks %s: pass the `gpus` list returned by mediastack.core.gpu_info" % (position, ", ".join(missing)))
    if problems:
        raise GpuAssignError(problems)
    return sorted(gpus, key=lambda gpu: gpu["index"])


def _host_summary(gpus: t.List[t.Dict[str, t.Any]], reason: t.Optional[str]) -> str:
    if not gpus:
        return "this host has no usable NVIDIA GPU%s" % (" (%s)" % reason if reason else "")
    listed = ", ".join("%s: %s %s" % (g["index"], g["name"], g["uuid"]) for g in gpus)
    return "this host has %d GPU%s (%s)" % (len(gpus), "" if len(gpus) == 1 else "s", listed)


def _resolve(request: Request, gpus: t.List[t.Dict[str, t.Any]], reason: t.Optional[str], problems: t.List[str]) -> t.List[t.Dict[str, t.Any]]:
    chosen = []
    for ref in request.refs or []:
        match = [g for g in gpus if (g["index"] == ref if isinstance(ref, int) else g["uuid"] == ref)]
        if not match:
            if gpus:
                fix = "use one of the GPUs listed, or run %s on a node that has this GPU" % request.service
            else:
                fix = "remove the GPU request or run %s on a GPU node" % request.service
            problems.append("service %s: GPU %s requested, but %s; %s" % (request.service, ref, _host_summary(gpus, reason), fix))
            continue
        gpu = match[0]
        why = unsuitable(gpu, request.profiles)
        if why:
            others = [describe(g) for g in gpus if g is not gpu and unsuitable(g, request.profiles) is None]
            hint = ("assign %s instead" % " or ".join(others)) if others else "no GPU on this host can"
            problems.append(
                "service %s: %s %s; requested profiles: %s. Change the profiles, or %s"
                % (request.service, describe(gpu), why, ", ".join(request.profiles), hint)
            )
            continue
        if gpu not in chosen:
            chosen.append(gpu)
    return chosen


def _rank(request: Request) -> t.Callable[[t.Dict[str, t.Any]], t.Tuple[t.Any, ...]]:
    if request.transcodes:
        # Fewest encode sessions, least busy encoder, then the most free memory.
        return lambda g: (g.get("encoder_sessions") or 0, g.get("encoder_utilization") or 0, -g["memory_free_mib"], g["index"])
    if "decode" in request.profiles and "ml" not in request.profiles:
        return lambda g: (g.get("decoder_utilization") or 0, -g["memory_free_mib"], g["index"])
    return lambda g: (-g["memory_free_mib"], g["index"])


def _pick(
    request: Request,
    gpus: t.List[t.Dict[str, t.Any]],
    strategy: str,
    taken: t.Dict[str, t.List[str]],
    reason: t.Optional[str],
    problems: t.List[str],
    warnings: t.List[str],
) -> t.List[t.Dict[str, t.Any]]:
    if not gpus:
        problems.append(
            "service %s: profiles %s need a GPU, but %s; remove the GPU need or run %s on a GPU node"
            % (request.service, ", ".join(request.profiles), _host_summary(gpus, reason), request.service)
        )
        return []
    fit = [g for g in gpus if unsuitable(g, request.profiles) is None]
    if not fit:
        reasons = "; ".join("%s %s" % (describe(g), unsuitable(g, request.profiles)) for g in gpus)
        problems.append("service %s: no GPU on this host can serve profiles %s: %s" % (request.service, ", ".join(request.profiles), reasons))
        return []
    whole = [g for g in fit if g.get("mig_mode") != "enabled"]
    if whole:
        fit = whole
    if strategy == "spread":
        free = [g for g in fit if g["uuid"] not in taken]
        if len(free) < request.count:
            busy = ", ".join("%s taken by %s" % (describe(g), ", ".join(taken[g["uuid"]])) for g in fit if g["uuid"] in taken)
            problems.append(
                "service %s: needs %d unused GPU(s) for %s but %d remain%s; set strategy: share to let services share a GPU, "
                "lower `count`, or add a GPU" % (request.service, request.count, ", ".join(request.profiles), len(free), " (%s)" % busy if busy else "")
            )
            return []
        fit = free
    elif len(fit) < request.count:
        problems.append(
            "service %s: needs %d GPU(s) for %s but this host has %d that fit; lower `count`"
            % (request.service, request.count, ", ".join(request.profiles), len(fit))
        )
        return []
    chosen = sorted(fit, key=_rank(request))[: request.count]
    for gpu in chosen:
        if gpu.get("mig_mode") == "enabled":
            warnings.append(_mig_warning(request.service, gpu))
    return chosen


def _mig_warning(service: str, gpu: t.Mapping[str, t.Any]) -> str:
    return (
        "%s: %s has MIG enabled; the service gets the whole GPU with all its MIG instances. To give it one instance, "
        "disable MIG or use a MIG device UUID from gpu_info's mig_devices" % (service, describe(gpu))
    )


def assign(
    gpus: t.List[t.Dict[str, t.Any]],
    services: t.Any,
    strategy: str = "spread",
    resource_kind: str = DEFAULT_KIND,
    kind_per_gpu: bool = False,
    reason: t.Optional[str] = None,
) -> t.Dict[str, t.Any]:
    """Assign GPUs to services. Raises GpuAssignError listing every problem found.

    ``services`` maps a service name to ``{profiles: [...], gpu: <index|uuid|list>}`` (explicit)
    or ``{profiles: [...], count: N}`` (policy). ``reason`` explains an empty ``gpus`` list.
    """
    if strategy not in STRATEGIES:
        raise GpuAssignError(["strategy must be one of %s, not %r" % (", ".join(STRATEGIES), strategy)])
    if not isinstance(resource_kind, str) or not KIND_PATTERN.match(resource_kind):
        raise GpuAssignError(["resource_kind %r is not a valid Swarm generic-resource kind (letters, digits, '.', '_', '-')" % (resource_kind,)])
    requests = parse_services(services)
    gpus = _check_facts(gpus)
    problems = []  # type: t.List[str]
    warnings = []  # type: t.List[str]
    chosen = {}  # type: t.Dict[str, t.List[t.Dict[str, t.Any]]]
    taken = {}  # type: t.Dict[str, t.List[str]]

    for request in (r for r in requests if r.refs is not None):
        chosen[request.service] = _resolve(request, gpus, reason, problems)
        for gpu in chosen[request.service]:
            taken.setdefault(gpu["uuid"], []).append(request.service)
            if gpu.get("mig_mode") == "enabled":
                warnings.append(_mig_warning(request.service, gpu))

    # Policy requests, most constrained first so a flexible ML service does not take the only AV1
    # card; on a tie transcoders go first (they need an encoder, ML runs anywhere).
    policy = [r for r in requests if r.refs is None]
    policy.sort(key=lambda r: (sum(1 for g in gpus if unsuitable(g, r.profiles) is None), 0 if r.transcodes else 1 if r.video else 2, r.service))
    for request in policy:
        chosen[request.service] = _pick(request, gpus, strategy, taken, reason, problems, warnings)
        for gpu in chosen[request.service]:
            taken.setdefault(gpu["uuid"], []).append(request.service)

    if problems:
        raise GpuAssignError(problems)
    return _result(gpus, requests, chosen, taken, resource_kind, kind_per_gpu, warnings)


def _result(
    gpus: t.List[t.Dict[str, t.Any]],
    requests: t.List[Request],
    chosen: t.Dict[str, t.List[t.Dict[str, t.Any]]],
    taken: t.Dict[str, t.List[str]],
    kind: str,
    kind_per_gpu: bool,
    warnings: t.List[str],
) -> t.Dict[str, t.Any]:
    shared_uuids = {uuid for uuid, users in taken.items() if len(users) > 1}
    shared_services = {r.service for r in requests if any(g["uuid"] in shared_uuids for g in chosen[r.service])}
    # A shared service reaches all of its GPUs by NVIDIA_VISIBLE_DEVICES (the runtime prefers
    # DOCKER_RESOURCE_* when present, so a service cannot mix both): keep them all out of Swarm.
    withheld = {g["uuid"] for r in requests if r.service in shared_services for g in chosen[r.service]}
    advertised = [g for g in gpus if g["uuid"] not in withheld]

    def gpu_kind(gpu: t.Mapping[str, t.Any]) -> str:
        return "%s-%s" % (kind, gpu["index"]) if kind_per_gpu else kind

    shared = []
    for gpu in gpus:
        if gpu["uuid"] in shared_uuids:
            users = sorted(taken[gpu["uuid"]])
            shared.append({"index": gpu["index"], "uuid": gpu["uuid"], "services": users})
            warnings.append(
                "%s is shared by %s: Swarm generic resources are exclusive, so this GPU is not advertised to Swarm; "
                "the services reach it through NVIDIA_VISIBLE_DEVICES without a reservation, Swarm does not count it, "
                "and they need a placement constraint that keeps them on this node" % (describe(gpu), ", ".join(users))
            )

    assignments = {}
    for request in requests:
        mine = chosen[request.service]
        is_shared = request.service in shared_services
        if is_shared or not mine:
            resources = []  # type: t.List[t.Dict[str, t.Any]]
        elif kind_per_gpu:
            resources = [{"kind": gpu_kind(g), "value": 1} for g in mine]
        else:
            resources = [{"kind": kind, "value": len(mine)}]
            wrong = [g for g in advertised if g not in mine and unsuitable(g, request.profiles)]
            if wrong:
                warnings.append(
                    "%s: Swarm picks which %s of the node the task gets, and %s %s; set kind_per_gpu: true "
                    "to reserve exactly %s" % (
                        request.service, kind, describe(wrong[0]), unsuitable(wrong[0], request.profiles), ", ".join(describe(g) for g in mine)
                    )
                )
        limits = [g.get("nvenc_session_limit") for g in mine if request.transcodes and g.get("nvenc_session_limit")]
        if limits:
            warnings.append(
                "%s: %s is a consumer card; the driver allows %d concurrent NVENC sessions per system (all consumer cards together), "
                "further simultaneous transcodes fail" % (request.service, describe(mine[0]), min(limits))
            )
        users = set()  # type: t.Set[str]
        for gpu in mine:
            users.update(taken[gpu["uuid"]])
        assignments[request.service] = {
            "source": "explicit" if request.refs is not None else "policy",
            "profiles": request.profiles,
            "gpu_indexes": [g["index"] for g in mine],
            "gpu_uuids": [g["uuid"] for g in mine],
            "gpu_names": [g["name"] for g in mine],
            "env": {
                "NVIDIA_VISIBLE_DEVICES": ",".join(g["uuid"] for g in mine),
                "NVIDIA_DRIVER_CAPABILITIES": driver_capabilities(request.profiles),
            },
            "generic_resources": resources,
            "shared": is_shared,
            "shared_with": sorted(users - {request.service}),
            "nvenc_session_limit": min(limits) if limits else None,
        }

    kinds = []  # type: t.List[str]
    for gpu in advertised:
        if gpu_kind(gpu) not in kinds:
            kinds.append(gpu_kind(gpu))
    return {
        "assignments": assignments,
        "node_generic_resources": ["%s=%s" % (gpu_kind(g), g["uuid"]) for g in advertised],
        "swarm_resource": ",".join("DOCKER_RESOURCE_%s" % k.upper() for k in (kinds or [kind])),
        "shared_gpus": shared,
        "warnings": warnings,
    }


def merge_node_assignments(nodes: t.Mapping[str, t.Any]) -> t.Dict[str, t.Dict[str, t.Any]]:
    """One assignment per service from the GPU nodes' ``gpu_assign`` results.

    ``nodes`` maps a node (its Swarm hostname) to that node's ``assignments``. A service assigned on
    one node keeps its entry as is, with ``node`` set to that node. A service assigned on several nodes
    may run on any of them: Swarm picks the GPU (``DOCKER_RESOURCE_<KIND>``), so the entry keeps the
    reservation and the capabilities but no ``NVIDIA_VISIBLE_DEVICES`` (it would name another node's
    GPU). A *shared* GPU is not advertised to Swarm and nothing reserves it, so a shared service stays on
    the first node (by name) that shares a GPU with it: ``node`` is set and the catalog pins it there.
    """
    per_service = {}  # type: t.Dict[str, t.List[t.Tuple[str, t.Mapping[str, t.Any]]]]
    for node in sorted(nodes):
        for service, entry in sorted(dict(nodes[node] or {}).items()):
            if not isinstance(entry, t.Mapping):
                raise GpuAssignError(["%s: the assignment of %s on %s is not gpu_assign's entry" % (service, service, node)])
            if entry.get("gpu_uuids"):
                per_service.setdefault(service, []).append((node, entry))
    merged = {}
    for service, found in per_service.items():
        if len(found) == 1 or any(pair[1].get("shared") for pair in found):
            node, entry = next((pair for pair in found if pair[1].get("shared")), found[0])
            merged[service] = dict(entry, node=node)
            continue
        first = dict(found[0][1])
        env = dict(first.get("env") or {})
        env.pop("NVIDIA_VISIBLE_DEVICES", None)
        merged[service] = dict(first, env=env, node=None, gpu_uuids=[u for pair in found for u in pair[1].get("gpu_uuids", [])])
    return merged


def merge_requests(requests: t.Any, overrides: t.Any) -> t.Dict[str, t.Dict[str, t.Any]]:
    """The catalog's GPU requests with the inventory's per-service overrides on top.

    ``requests`` is the service plan's ``gpu_requests`` ({service: {profiles, count}}); ``overrides`` has the
    same shape and may also pin a GPU (``gpu``: index, UUID or a list), which replaces the request's ``count``.
    An override for a service the catalog does not ask a GPU for is refused: the catalog entry's ``gpu`` is
    where a service asks for one, and a request nobody deploys would only take a GPU away from the others.
    """
    problems = []  # type: t.List[str]
    if not isinstance(requests, t.Mapping):
        raise GpuAssignError(["the catalog's GPU requests must be a mapping of service to {profiles, count}, got %r" % (requests,)])
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, t.Mapping):
        raise GpuAssignError(["nvidia_gpu_services must be a mapping of service to {gpu, profiles, count}, got %r" % (overrides,)])
    merged = {str(name): dict(spec) if isinstance(spec, t.Mapping) else spec for name, spec in requests.items()}
    for name, spec in overrides.items():
        if name not in merged:
            problems.append("nvidia_gpu_services: %s is not a GPU service of the catalog (those are: %s); ask for the GPU in its catalog "
                            "entry (services_catalog_overrides: {%s: {gpu: {profiles: [...]}}}) or drop it here"
                            % (name, ", ".join(sorted(merged)) or "none", name))
            continue
        if not isinstance(spec, t.Mapping):
            problems.append("nvidia_gpu_services: %s must be a mapping such as {gpu: 0}, got %r" % (name, spec))
            continue
        entry = dict(merged[name]) if isinstance(merged[name], t.Mapping) else {}
        if spec.get("gpu") is not None:
            entry.pop("count", None)
        entry.update(spec)
        merged[name] = entry
    if problems:
        raise GpuAssignError(problems)
    return merged
