"""Where a model's and a context's memory goes, per device.

llama.cpp reports the size of every buffer it allocates while it loads a model (weights) and
creates a context (KV cache, compute and output buffers). The engine keeps those reports;
:func:`memory_breakdown` adds them up per device. The numbers are llama.cpp's allocations, not
estimates: the process's resident memory is this plus the interpreter, and mapped weights count
as they are read.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Any, TextIO

from ..errors import InvalidArgumentError, describe

if TYPE_CHECKING:
    from ._context import ContextCore
    from .model import Model

__all__ = ["BUFFER_LINE", "memory_breakdown", "memory_breakdown_print", "parse_buffers"]

# what the lines llama.cpp reports a buffer's size in contain (see _ffi.capture_log)
BUFFER_LINE = b"buffer size"
_LINE = re.compile(r"(\S+)\s+(model|KV|compute|output|RS)\s+buffer size\s*=\s*([\d.]+)\s*MiB")
_KINDS = {"model": "weights", "KV": "kv", "RS": "kv", "compute": "compute", "output": "output"}


def parse_buffers(lines: list[str]) -> list[tuple[str, str, int]]:
    """(buffer type, kind, bytes) for each buffer size llama.cpp logged in ``lines``; kind is
    "weights", "kv", "compute" or "output"."""
    found = []
    for line in lines:
        m = _LINE.search(line)
        if m is not None:
            found.append((m.group(1), _KINDS[m.group(2)], int(float(m.group(3)) * 2**20)))
    return found


def _device(buffer_type: str) -> str:
    # "CPU_Mapped", "CPU_REPACK", "CUDA0", "CUDA_Host" -> the device that holds it
    name = buffer_type.split("_")[0]
    return "CPU" if name.upper().startswith("CPU") or buffer_type.endswith("_Host") else name


def memory_breakdown(model: Model, ctx: ContextCore | None = None) -> list[dict[str, Any]]:
    """Bytes of weights, KV cache, compute and output buffers per device, for ``model`` and
    (optionally) one of its contexts; one dict per device, with a ``total``."""
    if not hasattr(model, "_buffers") or not hasattr(model, "_contexts"):  # a Model (no import cycle)
        raise InvalidArgumentError(f"memory_breakdown needs a Model, got {describe(model)}")
    model._ptr  # noqa: B018 - ClosedError after close
    buffers = list(model._buffers)
    if ctx is not None:
        if ctx.model is not model:
            raise InvalidArgumentError("the context belongs to another model")
        ctx._ptr  # noqa: B018 - ClosedError after close
        buffers += ctx._buffers
    rows: dict[str, dict[str, Any]] = {}
    for buffer_type, kind, size in buffers:
        row = rows.setdefault(_device(buffer_type), {"device": _device(buffer_type), "weights": 0, "kv": 0,
                                                    "compute": 0, "output": 0, "buffers": []})
        row[kind] += size
        row["buffers"].append((buffer_type, kind, size))
    for row in rows.values():
        row["total"] = row["weights"] + row["kv"] + row["compute"] + row["output"]
    return list(rows.values())


def memory_breakdown_print(model: Model, ctx: ContextCore | None = None, file: TextIO | None = None) -> None:
    """Print :func:`memory_breakdown` as a table (MiB)."""
    out = file or sys.stdout
    heads = "".join(f"{h:>10}" for h in ("weights", "kv", "compute", "output", "total"))
    print(f"{'device':<10}{heads}  (MiB)", file=out)
    for row in memory_breakdown(model, ctx):
        cells = "".join(f"{row[k] / 2**20:>10.1f}" for k in ("weights", "kv", "compute", "output", "total"))
        print(f"{row['device']:<10}{cells}", file=out)
