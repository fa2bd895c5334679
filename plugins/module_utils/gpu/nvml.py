# -*- coding: utf-8 -*-
# Copyright (c) mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A thin, typed layer over ``pynvml`` (PyPI ``nvidia-ml-py``) that collects GPU facts.

The NVML binding is passed in (``Nvml(lib)``), so tests drive this code with a fake layer that
exposes the same functions, constants and exception classes. This file runs on targets: keep
its syntax Python 3.8 compatible (annotations are strings thanks to the ``__future__`` import).
"""

from __future__ import annotations

import re
import traceback
import typing as t

try:
    import pynvml
except ImportError:
    pynvml = None
    PYNVML_IMPORT_ERROR = traceback.format_exc()  # type: t.Optional[str]
else:
    PYNVML_IMPORT_ERROR = None
HAS_PYNVML = pynvml is not None

MIB = 1024 * 1024

# nvmlDeviceArchitecture_t values (stable in the NVML ABI).
ARCHITECTURES = {
    2: "kepler",
    3: "maxwell",
    4: "pascal",
    5: "volta",
    6: "turing",
    7: "ampere",
    8: "ada",
    9: "hopper",
    10: "blackwell",
    13: "rubin",
}
ARCH_PASCAL = 4
ARCH_HOPPER = 9
# AV1 NVENC arrived with Ada Lovelace (8) and is in consumer/pro Blackwell (10). Turing and
# Ampere encode H.264/HEVC only; Hopper has no NVENC at all.
AV1_ENCODE_ARCHITECTURES = frozenset((8, 10))
NO_AV1_ENCODE_ARCHITECTURES = frozenset((2, 3, 4, 5, 6, 7, 9))

# nvmlBrandType_t values.
BRANDS = {
    0: "unknown",
    1: "quadro",
    2: "tesla",
    3: "nvs",
    4: "grid",
    5: "geforce",
    6: "titan",
    7: "nvidia_vapps",
    8: "nvidia_vpc",
    9: "nvidia_vcs",
    10: "nvidia_vws",
    11: "nvidia_cloud_gaming",
    12: "quadro_rtx",
    13: "nvidia_rtx",
    14: "nvidia",
    15: "geforce_rtx",
    16: "titan_rtx",
}
# Consumer brands whose NVENC concurrent-session count is capped by the driver, per system,
# across all such cards together. Professional and datacenter cards are limited only by capacity.
CONSUMER_BRANDS = frozenset(("geforce", "titan", "geforce_rtx", "titan_rtx"))
# (first driver major version, sessions) newest first; NVIDIA raised the cap to 5 with the
# 530 drivers (March 2023) and to 8 with the 550 drivers (January 2024). Before that: 3.
NVENC_CONSUMER_SESSION_LIMITS = ((550, 8), (530, 5), (0, 3))

# Datacenter chips with NVDEC/NVJPG but no NVENC (GA100, GH100). NVML normally says so with
# NotSupported from the encoder calls; the name check covers drivers that answer anyway.
NO_NVENC_NAME = re.compile(r"\b(A100|A30|A800|H100|H200|H800|H20|GH200)\b")

ENCODE_CODECS = ("h264", "h265", "av1")


class NvmlUnavailable(Exception):
    """NVML cannot be used on this host (library missing, driver not loaded, no permission)."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class NvmlFailure(Exception):
    """NVML answered with an error for a query every GPU must answer (UUID, name, ...)."""


class _NeverRaised(Exception):
    """Stands in for an NVML error class that an old binding does not define."""


def _text(value: t.Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _mib(value: t.Any) -> int:
    return int(value) // MIB


def format_cuda_version(value: int) -> str:
    """NVML encodes CUDA 12.4 as 12040."""
    return "%d.%d" % (value // 1000, (value % 1000) // 10)


def nvenc_session_limit(brand: str, driver_version: t.Optional[str]) -> t.Optional[int]:
    """The driver's cap on concurrent NVENC sessions for consumer brands, None where uncapped/unknown."""
    if brand not in CONSUMER_BRANDS:
        return None
    try:
        major = int((driver_version or "").split(".")[0])
    except ValueError:
        major = 0
    for first_major, sessions in NVENC_CONSUMER_SESSION_LIMITS:
        if major >= first_major:
            return sessions
    return None


def unavailable_from_error(lib: t.Any, exc: Exception) -> NvmlUnavailable:
    """Turn an nvmlInit()/nvmlDeviceGetCount() error into a reason a person can act on."""
    if isinstance(exc, _error_class(lib, "LibraryNotFound")):
        return NvmlUnavailable(
            "NVML library (libnvidia-ml.so.1) not found: the NVIDIA driver is not installed on this host",
            "library_not_found",
        )
    if isinstance(exc, _error_class(lib, "DriverNotLoaded")):
        return NvmlUnavailable(
            "NVIDIA driver not loaded: the kernel module is missing or not loaded (check `nvidia-smi`, `modprobe nvidia`)",
            "driver_not_loaded",
        )
    if isinstance(exc, _error_class(lib, "NoPermission")):
        return NvmlUnavailable("no permission to query NVML: run as root or fix /dev/nvidia* permissions", "no_permission")
    if isinstance(exc, _error_class(lib, "LibRmVersionMismatch")):
        return NvmlUnavailable(
            "NVML library and kernel driver versions differ (driver updated without reboot?): reboot or reload the nvidia module",
            "version_mismatch",
        )
    return NvmlUnavailable("NVML failed: %s" % _describe(exc), "nvml_error")


def _error_class(lib: t.Any, name: str) -> t.Type[BaseException]:
    return getattr(lib, "NVMLError_" + name, _NeverRaised)


def _describe(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:  # pylint: disable=broad-exception-caught
        # pynvml's NVMLError.__str__ calls into the library, which may be the thing that is broken.
        text = ""
    return "%s%s" % (type(exc).__name__, (": " + text) if text else "")


class Nvml:
    """Collects facts from an NVML binding (``pynvml`` or a fake exposing the same API)."""

    def __init__(self, lib: t.Any) -> None:
        self.lib = lib
        self._not_supported = _error_class(lib, "NotSupported")
        self._nvml_error = getattr(lib, "NVMLError", _NeverRaised)

    def collect(self) -> t.Dict[str, t.Any]:
        """Facts for the host and each GPU. Raises NvmlUnavailable when NVML cannot be used."""
        lib = self.lib
        try:
            lib.nvmlInit()
        except self._nvml_error as exc:
            raise unavailable_from_error(lib, exc) from exc
        try:
            try:
                count = int(lib.nvmlDeviceGetCount())
            except self._nvml_error as exc:
                raise unavailable_from_error(lib, exc) from exc
            driver_version = self._optional(lib.nvmlSystemGetDriverVersion)[0]
            cuda = self._optional(lib.nvmlSystemGetCudaDriverVersion)[0]
            driver = _text(driver_version) if driver_version is not None else None
            gpus = [self._gpu(index, driver) for index in range(count)]
        finally:
            try:
                lib.nvmlShutdown()
            except self._nvml_error:
                pass
        return {
            "driver_version": driver,
            "cuda_driver_version": format_cuda_version(int(cuda)) if cuda is not None else None,
            "gpus": gpus,
        }

    # -- helpers -------------------------------------------------------------------------------

    def _optional(self, func: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> t.Tuple[t.Any, t.Optional[str]]:
        """(value, None) on success; (None, 'not_supported' | error text) when NVML says no."""
        try:
            return func(*args, **kwargs), None
        except self._not_supported:
            return None, "not_supported"
        except self._nvml_error as exc:
            return None, "%s: %s" % (getattr(func, "__name__", "nvml"), _describe(exc))

    def _required(self, index: int, func: t.Callable[..., t.Any], *args: t.Any) -> t.Any:
        try:
            return func(*args)
        except self._nvml_error as exc:
            raise NvmlFailure("NVML failed on GPU %d (%s): %s" % (index, getattr(func, "__name__", "nvml"), _describe(exc))) from exc

    def _memory(self, handle: t.Any) -> t.Tuple[t.Any, str]:
        """Memory info from the v2 API (reserved memory split out), else the v1 API."""
        version = getattr(self.lib, "nvmlMemory_v2", None)
        if version is not None:
            try:
                return self.lib.nvmlDeviceGetMemoryInfo(handle, version=version), "v2"
            except (self._nvml_error, TypeError):
                pass  # old driver (FunctionNotFound / ArgumentVersionMismatch) or old binding
        return self.lib.nvmlDeviceGetMemoryInfo(handle), "v1"

    # -- one GPU -------------------------------------------------------------------------------

    def _gpu(self, index: int, driver_version: t.Optional[str]) -> t.Dict[str, t.Any]:
        lib = self.lib
        notes = []  # type: t.List[str]
        handle = self._required(index, lib.nvmlDeviceGetHandleByIndex, index)
        name = _text(self._required(index, lib.nvmlDeviceGetName, handle))
        uuid = _text(self._required(index, lib.nvmlDeviceGetUUID, handle))
        pci, error = self._optional(lib.nvmlDeviceGetPciInfo, handle)
        self._note(notes, error)
        try:
            memory, memory_api = self._memory(handle)
        except self._nvml_error as exc:
            raise NvmlFailure("NVML failed on GPU %d (nvmlDeviceGetMemoryInfo): %s" % (index, _describe(exc))) from exc

        brand_value, error = self._optional(lib.nvmlDeviceGetBrand, handle)
        self._note(notes, error)
        brand = BRANDS.get(brand_value, "unknown") if brand_value is not None else "unknown"
        arch_value, error = self._optional(lib.nvmlDeviceGetArchitecture, handle)
        self._note(notes, error)
        architecture = ARCHITECTURES.get(arch_value, "unknown") if arch_value is not None else "unknown"
        capability, error = self._optional(lib.nvmlDeviceGetCudaComputeCapability, handle)
        self._note(notes, error)

        utilization, error = self._optional(lib.nvmlDeviceGetUtilizationRates, handle)
        self._note(notes, error)
        decoder, decoder_error = self._optional(lib.nvmlDeviceGetDecoderUtilization, handle)
        self._note(notes, decoder_error)

        nvenc, encoder = self._encoder(handle, name, arch_value, notes)
        codecs = self._encode_codecs(handle, arch_value) if nvenc else []
        mig_mode, mig_pending, mig_devices = self._mig(handle, notes)

        return {
            "index": index,
            "uuid": uuid,
            "name": name,
            "brand": brand,
            "architecture": architecture,
            "compute_capability": "%d.%d" % tuple(capability) if capability is not None else None,
            "pci_bus_id": _text(pci.busId) if pci is not None else None,
            "memory_api": memory_api,
            "memory_total_mib": _mib(memory.total),
            "memory_used_mib": _mib(memory.used),
            "memory_free_mib": _mib(memory.free),
            "memory_reserved_mib": _mib(memory.reserved) if memory_api == "v2" else None,
            "utilization_gpu": int(utilization.gpu) if utilization is not None else None,
            "utilization_memory": int(utilization.memory) if utilization is not None else None,
            "encoder_utilization": encoder["utilization"],
            "decoder_utilization": int(decoder[0]) if decoder is not None else None,
            "encoder_sessions": encoder["sessions"],
            "encoder_average_fps": encoder["fps"],
            "nvenc": nvenc,
            "nvdec": decoder_error != "not_supported",
            "nvenc_codecs": codecs,
            "av1_encode": "av1" in codecs,
            "nvenc_session_limit": nvenc_session_limit(brand, driver_version) if nvenc else None,
            "mig_mode": mig_mode,
            "mig_mode_pending": mig_pending,
            "mig_devices": mig_devices,
            "notes": notes,
        }

    @staticmethod
    def _note(notes: t.List[str], error: t.Optional[str]) -> None:
        if error is not None and error != "not_supported":
            notes.append(error)

    def _encoder(self, handle: t.Any, name: str, arch: t.Optional[int], notes: t.List[str]) -> t.Tuple[bool, t.Dict[str, t.Any]]:
        """Whether the GPU has NVENC, and its load. NotSupported from any encoder call means no NVENC."""
        lib = self.lib
        capacity, capacity_error = self._optional(lib.nvmlDeviceGetEncoderCapacity, handle, lib.NVML_ENCODER_QUERY_H264)
        utilization, utilization_error = self._optional(lib.nvmlDeviceGetEncoderUtilization, handle)
        stats, stats_error = self._optional(lib.nvmlDeviceGetEncoderStats, handle)
        sessions = None  # type: t.Optional[int]
        if stats is not None:
            sessions = int(stats[0])
        elif stats_error != "not_supported":
            listed, error = self._optional(lib.nvmlDeviceGetEncoderSessions, handle)
            sessions = len(listed) if listed is not None else None
            stats_error = error or stats_error
        errors = (capacity_error, utilization_error, stats_error)
        if capacity_error == "not_supported":
            nvenc = False
        elif capacity is not None:
            nvenc = True
        else:  # the capacity query failed for another reason: let the utilization query decide
            nvenc = utilization is not None
        if nvenc and (arch == ARCH_HOPPER or NO_NVENC_NAME.search(name)):
            nvenc = False
            notes.append("NVML answered the encoder queries, but %s is a datacenter GPU without NVENC" % name)
        for error in errors:
            self._note(notes, error)
        return nvenc, {
            "utilization": int(utilization[0]) if utilization is not None and nvenc else None,
            "sessions": sessions if nvenc else None,
            "fps": int(stats[1]) if stats is not None and nvenc else None,
        }

    def _encode_codecs(self, handle: t.Any, arch: t.Optional[int]) -> t.List[str]:
        """Codecs NVENC encodes: by architecture; by asking NVML where the architecture is unknown."""
        lib = self.lib
        codecs = ["h264"]
        if arch is not None and arch in ARCHITECTURES:
            if arch >= ARCH_PASCAL:
                codecs.append("h265")
        elif self._optional(lib.nvmlDeviceGetEncoderCapacity, handle, lib.NVML_ENCODER_QUERY_HEVC)[0] is not None:
            codecs.append("h265")
        if arch in AV1_ENCODE_ARCHITECTURES:
            codecs.append("av1")
        elif arch not in NO_AV1_ENCODE_ARCHITECTURES:
            query = getattr(lib, "NVML_ENCODER_QUERY_AV1", None)
            if query is not None and self._optional(lib.nvmlDeviceGetEncoderCapacity, handle, query)[0] is not None:
                codecs.append("av1")
        return codecs

    def _mig(self, handle: t.Any, notes: t.List[str]) -> t.Tuple[str, t.Optional[str], t.List[t.Dict[str, t.Any]]]:
        lib = self.lib
        modes, error = self._optional(lib.nvmlDeviceGetMigMode, handle)
        if modes is None:
            self._note(notes, error)
            return "unsupported", None, []
        current, pending = ("enabled" if mode else "disabled" for mode in modes)
        devices = []  # type: t.List[t.Dict[str, t.Any]]
        if current == "enabled":
            slots, error = self._optional(lib.nvmlDeviceGetMaxMigDeviceCount, handle)
            self._note(notes, error)
            for slot in range(slots or 0):
                mig, error = self._optional(lib.nvmlDeviceGetMigDeviceHandleByIndex, handle, slot)
                if mig is None:
                    continue  # NotFound: an empty slot
                uuid, error = self._optional(lib.nvmlDeviceGetUUID, mig)
                memory = self._optional(lib.nvmlDeviceGetMemoryInfo, mig)[0]
                if uuid is not None:
                    devices.append({"uuid": _text(uuid), "memory_total_mib": _mib(memory.total) if memory is not None else None})
        return current, pending, devices


def collect_facts(lib: t.Any) -> t.Dict[str, t.Any]:
    """Facts for this host; NVML being unusable gives ``gpus: []`` and a ``reason``, not an error.

    Returns ``available`` (bool), ``reason`` (None or text), ``reason_code``, ``driver_version``,
    ``cuda_driver_version`` and ``gpus``. Raises NvmlFailure only when a present GPU fails a query
    every GPU answers (a lost GPU, for example).
    """
    empty = {"available": False, "driver_version": None, "cuda_driver_version": None, "gpus": []}  # type: t.Dict[str, t.Any]
    if lib is None:
        empty.update(reason="the Python library nvidia-ml-py (import pynvml) is not installed on this host", reason_code="library_missing")
        return empty
    try:
        facts = Nvml(lib).collect()
    except NvmlUnavailable as exc:
        empty.update(reason=exc.reason, reason_code=exc.code)
        return empty
    facts["available"] = True
    if facts["gpus"]:
        facts.update(reason=None, reason_code=None)
    else:
        facts.update(reason="the NVIDIA driver is loaded but reports no GPU", reason_code="no_gpu")
    return facts
