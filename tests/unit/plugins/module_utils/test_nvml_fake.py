"""A fake NVML layer (the slice of ``pynvml`` that ``module_utils/gpu/nvml.py`` uses) and card presets.

The GPU tests import it by its package path; the tests at the bottom prove that every function,
constant and exception class the fake exposes exists in the real ``pynvml`` with the same value,
so the fake cannot drift into an API that real NVML does not have.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import pytest

# --- exception classes, mirroring pynvml's generated NVMLError_* hierarchy -------------------


class NVMLError(Exception):
    value = 999

    def __str__(self) -> str:
        return type(self).__name__.replace("NVMLError_", "")


def _error(name: str, value: int) -> type:
    return type("NVMLError_" + name, (NVMLError,), {"value": value})


ERRORS = {
    "Uninitialized": 1,
    "NotSupported": 3,
    "NoPermission": 4,
    "NotFound": 6,
    "DriverNotLoaded": 9,
    "LibraryNotFound": 12,
    "FunctionNotFound": 13,
    "GpuIsLost": 15,
    "LibRmVersionMismatch": 18,
    "ArgumentVersionMismatch": 25,
}
ERROR_CLASSES = {name: _error(name, value) for name, value in ERRORS.items()}

# nvmlDeviceArchitecture_t / nvmlBrandType_t values used by the presets.
ARCH_TURING, ARCH_AMPERE, ARCH_ADA, ARCH_HOPPER, ARCH_UNKNOWN = 6, 7, 8, 9, 0xFFFFFFFF
BRAND_TESLA, BRAND_GEFORCE, BRAND_NVIDIA_RTX, BRAND_NVIDIA = 2, 5, 13, 14
MIB = 1024 * 1024


@dataclass
class FakeCard:
    """One GPU as the fake driver reports it."""

    name: str
    brand: int
    arch: int
    memory_total_mib: int
    compute_capability: Tuple[int, int]
    memory_used_mib: int = 300
    nvenc: bool = True
    nvdec: bool = True
    av1_query: bool = False  # answers nvmlDeviceGetEncoderCapacity(AV1) (only consulted for unknown architectures)
    encoder_sessions: int = 0
    encoder_utilization: int = 0
    mig: Optional[Tuple[int, int]] = None  # (current, pending); None: MIG unsupported
    mig_devices: List[Tuple[str, int]] = field(default_factory=list)
    memory_v2: bool = True
    lost: bool = False
    uuid: str = ""
    pci_bus_id: str = ""


@dataclass
class _Handle:
    card: FakeCard
    mig_uuid: Optional[str] = None
    mig_memory_mib: int = 0


class _Struct:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


class FakeNvml:
    """Exposes the pynvml functions, constants and exceptions used by module_utils/gpu/nvml.py."""

    NVMLError = NVMLError
    NVML_ENCODER_QUERY_H264 = 0
    NVML_ENCODER_QUERY_HEVC = 1
    NVML_ENCODER_QUERY_AV1 = 2
    nvmlMemory_v2 = 0x02000028

    def __init__(self, cards: List[FakeCard], driver: str = "570.133.20", cuda: int = 12080, init_error: Optional[str] = None) -> None:
        for index, card in enumerate(cards):
            card.uuid = card.uuid or "GPU-%08x-1111-4222-8333-%012x" % (0xA0000000 + index, index)
            card.pci_bus_id = card.pci_bus_id or "00000000:%02X:00.0" % (index + 1)
        self.cards = cards
        self.driver = driver
        self.cuda = cuda
        self.init_error = init_error
        self.initialised = False
        self.shutdowns = 0
        for name, cls in ERROR_CLASSES.items():
            setattr(self, "NVMLError_" + name, cls)

    def _raise(self, name: str) -> None:
        raise ERROR_CLASSES[name]()

    def _card(self, handle: _Handle) -> FakeCard:
        if not self.initialised:
            self._raise("Uninitialized")
        if handle.card.lost:
            self._raise("GpuIsLost")
        return handle.card

    # -- library -------------------------------------------------------------------------------
    def nvmlInit(self) -> None:
        if self.init_error:
            self._raise(self.init_error)
        self.initialised = True

    def nvmlShutdown(self) -> None:
        self.initialised = False
        self.shutdowns += 1

    def nvmlSystemGetDriverVersion(self) -> str:
        return self.driver

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        return self.cuda

    def nvmlDeviceGetCount(self) -> int:
        if not self.initialised:
            self._raise("Uninitialized")
        return len(self.cards)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> _Handle:
        return _Handle(self.cards[index])

    # -- identity ------------------------------------------------------------------------------
    def nvmlDeviceGetName(self, handle: _Handle) -> str:
        return self._card(handle).name

    def nvmlDeviceGetUUID(self, handle: _Handle) -> str:
        card = self._card(handle)
        return handle.mig_uuid or card.uuid

    def nvmlDeviceGetPciInfo(self, handle: _Handle) -> _Struct:
        return _Struct(busId=self._card(handle).pci_bus_id.encode())

    def nvmlDeviceGetBrand(self, handle: _Handle) -> int:
        return self._card(handle).brand

    def nvmlDeviceGetArchitecture(self, device: _Handle) -> int:
        return self._card(device).arch

    def nvmlDeviceGetCudaComputeCapability(self, handle: _Handle) -> Tuple[int, int]:
        return self._card(handle).compute_capability

    # -- memory and load -----------------------------------------------------------------------
    def nvmlDeviceGetMemoryInfo(self, handle: _Handle, version: Optional[int] = None) -> _Struct:
        card = self._card(handle)
        if handle.mig_uuid:
            total, used = handle.mig_memory_mib * MIB, 0
        else:
            total, used = card.memory_total_mib * MIB, card.memory_used_mib * MIB
        if version is None:
            return _Struct(total=total, used=used, free=total - used)
        if not card.memory_v2:
            self._raise("FunctionNotFound")
        reserved = 316 * MIB
        return _Struct(version=version, total=total, reserved=reserved, used=used - reserved if used > reserved else used, free=total - used)

    def nvmlDeviceGetUtilizationRates(self, handle: _Handle) -> _Struct:
        card = self._card(handle)
        if card.mig and card.mig[0]:
            self._raise("NotSupported")
        return _Struct(gpu=7, memory=2)

    def nvmlDeviceGetEncoderUtilization(self, handle: _Handle) -> List[int]:
        card = self._card(handle)
        if not card.nvenc:
            self._raise("NotSupported")
        return [card.encoder_utilization, 167000]

    def nvmlDeviceGetDecoderUtilization(self, handle: _Handle) -> List[int]:
        if not self._card(handle).nvdec:
            self._raise("NotSupported")
        return [4, 167000]

    def nvmlDeviceGetEncoderCapacity(self, handle: _Handle, encoderQueryType: int) -> int:
        card = self._card(handle)
        if not card.nvenc:
            self._raise("NotSupported")
        if encoderQueryType == self.NVML_ENCODER_QUERY_AV1 and not card.av1_query:
            self._raise("NotSupported")
        return 100

    def nvmlDeviceGetEncoderStats(self, handle: _Handle) -> Tuple[int, int, int]:
        card = self._card(handle)
        if not card.nvenc:
            self._raise("NotSupported")
        return (card.encoder_sessions, 60 if card.encoder_sessions else 0, 900 if card.encoder_sessions else 0)

    def nvmlDeviceGetEncoderSessions(self, handle: _Handle) -> List[_Struct]:
        card = self._card(handle)
        if not card.nvenc:
            self._raise("NotSupported")
        return [_Struct(sessionId=n) for n in range(card.encoder_sessions)]

    # -- MIG -------------------------------------------------------------------------------------
    def nvmlDeviceGetMigMode(self, device: _Handle) -> List[int]:
        card = self._card(device)
        if card.mig is None:
            self._raise("NotSupported")
        return list(card.mig)

    def nvmlDeviceGetMaxMigDeviceCount(self, device: _Handle) -> int:
        self._card(device)
        return 7

    def nvmlDeviceGetMigDeviceHandleByIndex(self, device: _Handle, index: int) -> _Handle:
        card = self._card(device)
        if index >= len(card.mig_devices):
            self._raise("NotFound")
        uuid, memory = card.mig_devices[index]
        return _Handle(card, mig_uuid=uuid, mig_memory_mib=memory)


# --- card presets (memory sizes as NVML reports them) ----------------------------------------

def rtx_4000_ada() -> FakeCard:
    return FakeCard("NVIDIA RTX 4000 Ada Generation", BRAND_NVIDIA_RTX, ARCH_ADA, 20475, (8, 9))


def rtx_a4000() -> FakeCard:
    return FakeCard("NVIDIA RTX A4000", BRAND_NVIDIA_RTX, ARCH_AMPERE, 16376, (8, 6), memory_used_mib=2100)


def geforce_rtx_3060() -> FakeCard:
    return FakeCard("NVIDIA GeForce RTX 3060", BRAND_GEFORCE, ARCH_AMPERE, 12288, (8, 6))


def l4() -> FakeCard:
    return FakeCard("NVIDIA L4", BRAND_NVIDIA, ARCH_ADA, 23034, (8, 9))


def h100() -> FakeCard:
    return FakeCard("NVIDIA H100 80GB HBM3", BRAND_NVIDIA, ARCH_HOPPER, 81559, (9, 0), nvenc=False, mig=(0, 0))


def a100_mig() -> FakeCard:
    return FakeCard(
        "NVIDIA A100-SXM4-40GB", BRAND_NVIDIA, ARCH_AMPERE, 40960, (8, 0), nvenc=False, mig=(1, 1),
        mig_devices=[("MIG-6b3f2e4a-0000-5000-8000-000000000001", 19968), ("MIG-6b3f2e4a-0000-5000-8000-000000000002", 9856)],
    )


def fake_2gpu() -> FakeNvml:
    """The documented example host: an RTX 4000 Ada (AV1 NVENC) and an RTX A4000 (no AV1)."""
    return FakeNvml([rtx_4000_ada(), rtx_a4000()])


# --- the fake must only speak real pynvml ----------------------------------------------------

def _fake_api() -> Dict[str, Any]:
    fake = FakeNvml([])
    names = [n for n in dir(fake) if n.startswith(("nvml", "NVML"))]
    return {name: getattr(fake, name) for name in names}


def test_fake_exposes_only_real_pynvml_names_and_values() -> None:
    pynvml = pytest.importorskip("pynvml")
    api = _fake_api()
    assert "nvmlDeviceGetEncoderCapacity" in api and "NVMLError_NotSupported" in api
    for name, value in api.items():
        assert hasattr(pynvml, name), "fake exposes %s, which pynvml does not have" % name
        if isinstance(value, int):
            assert getattr(pynvml, name) == value, name
        if name.startswith("NVMLError_"):
            assert getattr(pynvml, "NVML_ERROR_" + _snake(name[len("NVMLError_"):])) == value.value, name


def test_fake_functions_take_the_same_parameters_as_pynvml() -> None:
    pynvml = pytest.importorskip("pynvml")
    for name, value in _fake_api().items():
        if name.startswith("nvml") and callable(value) and inspect.isfunction(getattr(pynvml, name)):
            real = list(inspect.signature(getattr(pynvml, name)).parameters)
            mine = list(inspect.signature(value).parameters)
            assert mine == real, "%s%s differs from pynvml's %s" % (name, mine, real)


def _snake(camel: str) -> str:
    out = ""
    for char in camel:
        out += ("_" + char) if char.isupper() and out else char
    return out.upper()
