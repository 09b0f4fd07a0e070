"""Adapters: LoRA adapters and control vectors applied to a context.

A :class:`LoraAdapter` is loaded for one model (:meth:`Model.load_lora`) and applied to any of
that model's contexts with a scale (``ctx.apply_lora(adapter, 0.5)``). llama.cpp frees adapters
together with their model, so closing the model closes its adapters; closing an adapter first
takes it off every context it is applied to. A control vector adds a direction to the hidden
state of chosen layers (``ctx.apply_control_vector(path_or_data, strength=...)``), read from
llama.cpp's control-vector GGUF format (tensors ``direction.<layer>``, layers counted from 1).
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import pathlib
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ClosedError, InvalidArgumentError, ModelLoadError, describe
from ._checks import check_float
from ._ffi import c_str, lib, recent_log
from ._handle import _Handle
from .files import check_gguf_file

if TYPE_CHECKING:
    from ._context import ContextCore
    from .model import Model

__all__ = ["LoraAdapter", "control_vector_data", "load_lora"]


def _no_free(_ptr: Any) -> None:
    """Adapters are freed by llama.cpp with their model (see :meth:`LoraAdapter.close`)."""


class LoraAdapter(_Handle):
    """A LoRA adapter loaded for one model; apply it with ``ctx.apply_lora(adapter, scale)``."""

    _kind = "LoRA adapter"

    def __init__(self, model: Model, ptr: Any, path: pathlib.Path) -> None:
        self._set_handle(ptr, _no_free)
        self.model = model
        self.path = path
        self._contexts: weakref.WeakSet[ContextCore] = weakref.WeakSet()

    def __repr__(self) -> str:
        return f"<LoraAdapter {self.path.name!r}{' closed' if self.closed else ''}>"

    def _before_close(self) -> None:
        for ctx in list(self._contexts):
            if not ctx.closed:
                _remove(ctx, self)
        if not self.model.closed:
            lib.llama_adapter_lora_free(self._raw)

    def _orphan(self) -> None:
        """The model freed the adapter itself: forget the pointer without freeing it."""
        self._raw = None

    @property
    def meta(self) -> dict[str, str]:
        """The adapter's GGUF metadata as strings."""
        ptr = self._ptr
        out: dict[str, str] = {}
        buf = ctypes.create_string_buffer(1 << 14)
        for i in range(int(lib.llama_adapter_meta_count(ptr))):
            lib.llama_adapter_meta_key_by_index(ptr, i, buf, len(buf))
            key = buf.value.decode("utf-8", errors="replace")
            lib.llama_adapter_meta_val_str_by_index(ptr, i, buf, len(buf))
            out[key] = buf.value.decode("utf-8", errors="replace")
        return out

    @property
    def alora_invocation_tokens(self) -> list[int]:
        """The tokens that switch an activated LoRA (aLoRA) on; empty for a plain LoRA."""
        ptr = self._ptr
        n = int(lib.llama_adapter_get_alora_n_invocation_tokens(ptr))
        if n == 0:
            return []
        tokens = lib.llama_adapter_get_alora_invocation_tokens(ptr)
        return [int(tokens[i]) for i in range(n)] if tokens else []


def load_lora(model: Model, path: str | os.PathLike[str]) -> LoraAdapter:
    """Load the LoRA adapter GGUF at ``path`` for ``model``; one made for another model (other
    tensor names or shapes) raises :class:`~llamaprov.errors.ModelLoadError`."""
    source = pathlib.Path(path)
    check_gguf_file(source)
    recent_log(clear=True)
    with model._using() as mptr:
        ptr = lib.llama_adapter_lora_init(mptr, c_str(str(source), "adapter path"))
    if not ptr:
        reason = "; ".join(recent_log(clear=True)[-3:]) or "llama.cpp could not load it"
        raise ModelLoadError(f"failed to load the LoRA adapter {str(source)!r} for "
                             f"{model.path.name!r}: {reason}")
    adapter = LoraAdapter(model, ptr, source)
    model._adapters.add(adapter)
    return adapter


def _set_all(ctx: ContextCore, loras: Mapping[LoraAdapter, float], *, lock: bool = True,
             skip_closed: bool = False) -> dict[LoraAdapter, float]:
    """Apply exactly ``loras`` to ``ctx``; returns the set applied. A caller that is not already
    inside a job of the context (the scheduler is) passes ``lock=True``.

    Each adapter is held while llama.cpp takes its pointer, so a ``close()`` from another thread
    waits instead of freeing it under the call. A closed adapter raises :class:`ClosedError`
    (``skip_closed``: it is left out instead).
    """
    with contextlib.ExitStack() as stack:
        held: list[tuple[LoraAdapter, float, Any]] = []
        for adapter, scale in loras.items():
            try:
                held.append((adapter, scale, stack.enter_context(adapter._using())))
            except ClosedError:
                if not skip_closed:
                    raise ClosedError(f"the LoRA adapter {adapter.path.name!r} is closed") from None
        n = len(held)
        arr = (lib.llama_adapter_lora_p_ctypes * max(1, n))(*[p for _, _, p in held])
        scales = (ctypes.c_float * max(1, n))(*[s for _, s, _ in held])
        with ctx._locked() if lock else contextlib.nullcontext(), ctx._native:
            rc = lib.llama_set_adapters_lora(ctx._ptr, arr, n, scales)
        if rc != 0:
            raise InvalidArgumentError(f"llama.cpp refused the LoRA adapters (code {rc})")
    return {a: s for a, s, _ in held}


def apply(ctx: ContextCore, adapter: LoraAdapter, scale: float) -> None:
    """Apply ``adapter`` to ``ctx`` at ``scale`` (replacing its previous scale)."""
    if not isinstance(adapter, LoraAdapter):
        raise InvalidArgumentError(f"expected a LoraAdapter, got {describe(adapter)}")
    adapter._ptr  # noqa: B018 - ClosedError after close
    if adapter.model is not ctx.model:
        raise InvalidArgumentError(f"the adapter {adapter.path.name!r} was loaded for another model")
    scale = check_float("LoRA scale", scale, -1e6, 1e6)
    loras = dict(ctx._loras)
    loras[adapter] = scale
    _set_all(ctx, loras)
    ctx._loras = loras
    adapter._contexts.add(ctx)
    ctx.memory._forget_all()  # cached prefixes were computed without it


def _remove(ctx: ContextCore, adapter: LoraAdapter) -> None:
    if adapter in ctx._loras:
        loras = {a: s for a, s in ctx._loras.items() if a is not adapter}
        _set_all(ctx, loras)
        ctx._loras = loras
        ctx.memory._forget_all()
    adapter._contexts.discard(ctx)


def remove(ctx: ContextCore, adapter: LoraAdapter) -> None:
    """Take ``adapter`` off ``ctx`` (nothing happens when it is not applied)."""
    if not isinstance(adapter, LoraAdapter):
        raise InvalidArgumentError(f"expected a LoraAdapter, got {describe(adapter)}")
    _remove(ctx, adapter)


def clear(ctx: ContextCore) -> None:
    """Take every LoRA adapter off ``ctx``."""
    for adapter in list(ctx._loras):
        _remove(ctx, adapter)


def control_vector_data(model: Model, source: Any) -> np.ndarray:
    """A control vector as an ``(n_layer, n_embd)`` float32 array, row ``i`` for layer ``i + 1``.

    ``source``: a path to llama.cpp's control-vector GGUF (tensors ``direction.<layer>``), a
    mapping ``{layer: vector}`` (layers from 1), or an array of shape (n_layer, n_embd).
    """
    from .files import read_f32_tensors

    n_layer, n_embd = int(lib.llama_model_n_layer(model._weights())), model.n_embd
    out = np.zeros((n_layer, n_embd), dtype=np.float32)
    if isinstance(source, (str, os.PathLike)):
        _, tensors = read_f32_tensors(source)
        layers: Mapping[Any, Any] = {}
        parsed: dict[int, Any] = {}
        for name, values in tensors.items():
            prefix, _, number = name.partition(".")
            if prefix != "direction" or not number.isdigit():
                raise ModelLoadError(f"{str(source)!r} holds a tensor {name!r}; a control vector has "
                                     "only direction.<layer> tensors")
            parsed[int(number)] = values
        layers = parsed
        if not layers:
            raise ModelLoadError(f"{str(source)!r} holds no direction.<layer> tensors")
    elif isinstance(source, Mapping):
        layers = source
    else:
        array = np.asarray(source, dtype=np.float32)
        if array.shape != (n_layer, n_embd):
            raise InvalidArgumentError(f"a control vector array must have shape ({n_layer}, {n_embd}), "
                                       f"got {array.shape}")
        layers = {i + 1: row for i, row in enumerate(array)}
    for layer, vector in layers.items():
        if isinstance(layer, bool) or not isinstance(layer, int) or not 1 <= layer <= n_layer:
            raise InvalidArgumentError(f"control vector layer {describe(layer)} is not in 1..{n_layer}")
        row = np.asarray(vector, dtype=np.float32).reshape(-1)
        if row.shape != (n_embd,):
            raise InvalidArgumentError(f"the control vector of layer {layer} has {row.size} values; "
                                       f"this model's layers take {n_embd}")
        out[layer - 1] = row
    if not np.isfinite(out).all():
        raise InvalidArgumentError("a control vector holds NaN or infinite values")
    return out


def apply_control_vector(ctx: ContextCore, source: Any, strength: float = 1.0,
                         layer_start: int | None = None, layer_end: int | None = None) -> None:
    """Add ``strength`` times the control vector to layers ``layer_start..layer_end`` (inclusive,
    from 1; default all) of every later decode in ``ctx``."""
    model = ctx.model
    data = control_vector_data(model, source)
    n_layer, n_embd = data.shape
    strength = check_float("strength", strength, -1e6, 1e6)
    start = 1 if layer_start is None else layer_start
    end = n_layer if layer_end is None else layer_end
    for name, value in (("layer_start", start), ("layer_end", end)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= n_layer:
            raise InvalidArgumentError(f"{name} must be a layer in 1..{n_layer}, got {describe(value)}")
    if start > end:
        raise InvalidArgumentError(f"layer_start {start} is after layer_end {end}")
    scaled = np.ascontiguousarray(data * strength, dtype=np.float32)
    if not math.isfinite(float(np.abs(scaled).max(initial=0.0))):
        raise InvalidArgumentError("the control vector times strength overflows float32")
    buf = scaled.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    with ctx._locked(), ctx._native:
        rc = lib.llama_set_adapter_cvec(ctx._ptr, buf, scaled.size, n_embd, start, end)
    if rc != 0:
        raise InvalidArgumentError(f"llama.cpp refused the control vector (code {rc})")
    ctx.memory._forget_all()


def clear_control_vector(ctx: ContextCore) -> None:
    """Remove the control vector from ``ctx``."""
    with ctx._locked(), ctx._native:
        lib.llama_set_adapter_cvec(ctx._ptr, None, 0, ctx.model.n_embd, 0, 0)
    ctx.memory._forget_all()
