"""Process-wide facts about the llama.cpp build and the hardware it sees."""

from __future__ import annotations

import ctypes
import logging
from dataclasses import dataclass

from ..errors import InvalidArgumentError
from ._ffi import ggml, lib, log_threshold, set_log_threshold

__all__ = [
    "BackendDevice",
    "backend_devices",
    "flash_attn_type_name",
    "get_verbosity",
    "max_devices",
    "max_parallel_sequences",
    "max_tensor_buft_overrides",
    "numa_init",
    "set_verbosity",
    "supports_gpu",
    "supports_mlock",
    "supports_mmap",
    "supports_rpc",
    "system_info",
    "time_us",
]

_DEVICE_TYPES = {0: "cpu", 1: "gpu", 2: "igpu", 3: "accel"}
_NUMA = {"disabled": 0, "distribute": 1, "isolate": 2, "numactl": 3, "mirror": 4}
_VERBOSITY = {"none": logging.CRITICAL + 10, "error": logging.ERROR, "warning": logging.WARNING,
              "info": logging.INFO, "debug": logging.DEBUG}


@dataclass(frozen=True)
class BackendDevice:
    """One ggml backend device (CPU, GPU, ...), with its memory in bytes."""

    index: int
    name: str
    description: str
    type: str
    memory_free: int
    memory_total: int


def backend_devices() -> list[BackendDevice]:
    """The devices llama.cpp can place a model on, in ggml's order."""
    devices = []
    for i in range(ggml.ggml_backend_dev_count()):
        dev = ggml.ggml_backend_dev_get(i)
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        ggml.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
        devices.append(BackendDevice(
            index=i,
            name=(ggml.ggml_backend_dev_name(dev) or b"").decode(),
            description=(ggml.ggml_backend_dev_description(dev) or b"").decode(),
            type=_DEVICE_TYPES.get(ggml.ggml_backend_dev_type(dev), "unknown"),
            memory_free=free.value,
            memory_total=total.value,
        ))
    return devices


def _device_handle(name_or_index: str | int) -> int:
    """The ggml device pointer for a device name (case-insensitive) or index."""
    count = ggml.ggml_backend_dev_count()
    if isinstance(name_or_index, int):
        if not 0 <= name_or_index < count:
            raise InvalidArgumentError(f"device index {name_or_index} out of range (0..{count - 1})")
        return int(ggml.ggml_backend_dev_get(name_or_index))
    for i in range(count):
        dev = ggml.ggml_backend_dev_get(i)
        if (ggml.ggml_backend_dev_name(dev) or b"").decode().lower() == name_or_index.lower():
            return int(dev)
    names = [d.name for d in backend_devices()]
    raise InvalidArgumentError(f"unknown device {name_or_index!r}; available: {names}")


def supports_gpu() -> bool:
    """Whether this build can offload layers to a GPU."""
    return bool(lib.llama_supports_gpu_offload())


def supports_mmap() -> bool:
    """Whether models can be memory-mapped."""
    return bool(lib.llama_supports_mmap())


def supports_mlock() -> bool:
    """Whether model memory can be locked in RAM."""
    return bool(lib.llama_supports_mlock())


def supports_rpc() -> bool:
    """Whether this build includes the RPC backend."""
    return bool(lib.llama_supports_rpc())


def max_devices() -> int:
    """The most devices a model can be split across."""
    return int(lib.llama_max_devices())


def max_parallel_sequences() -> int:
    """The most sequences one context can hold (``n_seq_max`` limit)."""
    return int(lib.llama_max_parallel_sequences())


def max_tensor_buft_overrides() -> int:
    """The most tensor buffer-type overrides a model load accepts."""
    return int(lib.llama_max_tensor_buft_overrides())


def system_info() -> str:
    """llama.cpp's description of the CPU features and backends in use."""
    return (lib.llama_print_system_info() or b"").decode().strip()


_FLASH_ATTN_TYPES = {"auto": -1, "off": 0, "on": 1, False: 0, True: 1}


def flash_attn_type_name(value: str | bool | int) -> str:
    """llama.cpp's name of a flash-attention setting ("auto", "disabled", "enabled"), from the
    values :meth:`Model.new_context` takes ("auto", True, False, "on", "off") or llama.cpp's int."""
    code = value if isinstance(value, int) and not isinstance(value, bool) else _FLASH_ATTN_TYPES.get(value)
    if code not in (-1, 0, 1):
        raise InvalidArgumentError(f"flash_attn must be 'auto', True, False, 'on', 'off', -1, 0 or 1, "
                                   f"got {value!r}")
    return (lib.llama_flash_attn_type_name(code) or b"").decode()


def _extra_buffers_safe() -> bool:
    """Whether the CPU backend's extra buffer types (weight repacking) are safe to use here.

    Not where the build multiplies with Intel AMX tiles: its AMX matrix multiplication crashed
    the process (SIGSEGV in ggml_backend_amx_mul_mat) on the first decode on a Xeon VM that
    reports amx_tile, with the default model.
    """
    return "AMX_INT8 = 1" not in system_info()


def time_us() -> int:
    """llama.cpp's monotonic clock, in microseconds."""
    return int(lib.llama_time_us())


def numa_init(strategy: str = "distribute") -> None:
    """Set llama.cpp's NUMA strategy: disabled, distribute, isolate, numactl or mirror."""
    if strategy not in _NUMA:
        raise InvalidArgumentError(f"unknown NUMA strategy {strategy!r}; use one of {list(_NUMA)}")
    lib.llama_numa_init(_NUMA[strategy])


def set_verbosity(level: str | int) -> None:
    """Route llama.cpp's log lines at ``level`` or above to the ``llamaprov.llama_cpp`` logger.

    ``level`` is ``"none"`` (the default: silent), ``"error"``, ``"warning"``, ``"info"``,
    ``"debug"`` or a :mod:`logging` level number.
    """
    if isinstance(level, bool) or not isinstance(level, (str, int)):
        raise InvalidArgumentError(f"verbosity must be a level name or number, got {level!r}")
    if isinstance(level, str):
        if level.lower() not in _VERBOSITY:
            raise InvalidArgumentError(f"unknown verbosity {level!r}; use one of {list(_VERBOSITY)}")
        level = _VERBOSITY[level.lower()]
    set_log_threshold(level)


def get_verbosity() -> str:
    """The current verbosity as a level name ("none" when silent)."""
    current = log_threshold()
    for name, value in _VERBOSITY.items():
        if value == current:
            return name
    return logging.getLevelName(current).lower()
