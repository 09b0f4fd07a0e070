"""Fit before you load: how many layers and how much context fit in memory, from the GGUF header.

:func:`fit_params` reads a model's header in Python (no llama.cpp load), adds up what llama.cpp
will allocate for it layer by layer (weights, KV cache, compute and output buffers, vocabulary
tables) and returns the largest ``n_gpu_layers`` and ``n_ctx`` that fit in the free memory of
the devices. It replaces llama.cpp's ``llama_params_fit``, which its C API no longer offers.
"""

from __future__ import annotations

import bisect
import os
import pathlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgumentError, ModelLoadError, NotSupportedError, describe
from . import files
from ._checks import INT32_MAX, available_memory, check_int
from ._ggml_types import KV_CACHE_TYPES, row_bytes
from .backend import BackendDevice, backend_devices

__all__ = ["DeviceFit", "FitResult", "fit_params"]

# llama.cpp's sliding-window layer pattern per architecture (set_swa_pattern): layer il slides
# when il % n < n - 1; an architecture not listed here gets full attention in every layer
_SWA_PATTERNS = {"gemma2": 2, "gemma3": 6, "cohere2": 4, "gpt-oss": 2}
_PAD = 256  # llama.cpp rounds the context (the KV cache's cells) up to a multiple of this
# Host bytes of llama.cpp's vocabulary tables, from its containers (64-bit libstdc++): a token is
# a token_data (std::string + score + attr, 40), a token_to_id hash node with its bucket (72),
# a token-to-piece cache string (32) and the loader's GGUF string (32); a BPE merge is a
# bpe_ranks map node (112) and its GGUF string (32). Text past 15 bytes (the short-string
# buffer) is heap-allocated in three of those copies, with 8 bytes of malloc header.
_TOKEN_BYTES, _MERGE_BYTES, _SSO, _MALLOC_HEADER = 176, 144, 15, 8
# Bytes per weight-matrix input element the CPU backend quantizes activations to (Q8_K, the
# largest of its vec_dot types) in its work buffer before a quantized matrix product
_WORK_BYTES_PER_ELEMENT = 292 / 256
_GPU_TYPES = ("gpu", "igpu")
_GPU_MARGIN = 1 << 30  # left free on each GPU by default, as llama.cpp's own fit does
_MIN_PREFERRED_CTX = 4096  # fewer GPU layers rather than a context below this (llama.cpp's fit)
_MAX_BYTES = 2**63 - 1


@dataclass(frozen=True)
class DeviceFit:
    """The estimate for one device: bytes of weights, KV cache, compute buffer and other host
    memory (vocabulary tables, output buffer), and the budget they must fit in."""

    name: str
    budget_bytes: int
    weights_bytes: int
    kv_bytes: int
    compute_bytes: int
    other_bytes: int
    total_bytes: int


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit_params` found: the ``n_gpu_layers`` and ``n_ctx`` to pass to
    :func:`load_model` and :meth:`Model.new_context`, and the estimate behind them.

    It is an estimate from the GGUF header, not a measurement. It counts the weights (all of
    them, as they are touched once the model has decoded), the KV cache of ``n_ctx`` cells
    (rounded up to 256 as llama.cpp does; sliding-window layers as llama.cpp sizes them),
    the compute buffer, the output buffer and llama.cpp's vocabulary tables. On a GPU every
    buffer counts in full, the compute buffer as llama.cpp reserves it for the worst batch
    (``n_ubatch`` rows of logits). On the CPU memory counts as it is touched: the compute
    buffer as a generation uses it (``n_ubatch`` tokens of activations, one row of logits per
    sequence); a batch that asks for every token's logits adds up to ``n_ubatch * n_vocab * 4``
    bytes of compute and output buffers. Not counted: the Python process itself, thread stacks
    and graph metadata (a few MiB). Flash attention is assumed (the default "auto" on CPU).
    """

    n_gpu_layers: int
    n_ctx: int
    weights_bytes: int
    kv_bytes: int
    compute_bytes: int
    other_bytes: int
    total_bytes: int
    budget_bytes: int
    devices: tuple[DeviceFit, ...]
    tensor_split: tuple[float, ...] | None = None  # for load_model, with two GPUs or more


@dataclass(frozen=True)
class ModelShape:
    """What the GGUF header says about the memory a model takes (see :func:`read_shape`)."""

    arch: str
    n_layer: int
    n_ctx_train: int
    n_embd: int
    n_vocab: int
    layer_bytes: tuple[int, ...]  # weights of each repeating layer
    input_bytes: int  # token embeddings and what else belongs to no layer: always on the CPU
    output_bytes: int  # the output layer (norm and head) as it sits on a GPU
    output_cpu_bytes: int  # the same on the CPU: a tied head shares the mapped embeddings
    kv_heads: tuple[tuple[int, int, int], ...]  # per layer: (KV heads, K head size, V head size)
    swa_layers: tuple[bool, ...] = ()
    n_swa: int = 0
    act_width: int = 0  # floats per token live at once at a layer's peak
    ffn_width: int = 0  # input width of the widest weight product (the CPU work buffer)
    vocab_bytes: int = 0
    causal: bool = True


def _row_bytes(ggml_type: int, n: int, what: str) -> int:
    size = row_bytes(ggml_type, n)
    if size is None:
        raise _unknown_size(ggml_type, what)
    return size


def _unknown_size(ggml_type: int, what: str) -> ModelLoadError:
    return ModelLoadError(f"{what} has ggml type {ggml_type}, whose size fit_params does not know")


def _read_header(path: pathlib.Path) -> tuple[dict[str, Any], list[tuple[str, int]]]:
    """The metadata (see :class:`~.files.GgufHeader`) and (name, bytes) of each tensor, whose
    data must lie within the file (:func:`~.files.read_gguf_header` checks that)."""
    files.check_gguf_file(path)
    header = files.read_gguf_header(path)
    tensors = []
    for t in header.tensors:
        if not t.dims:
            raise ModelLoadError(f"GGUF file {str(path)!r} is truncated or corrupt: tensor {t.name!r} "
                                 "has 0 dimensions (1 to 4)")
        if t.nbytes is None:
            raise _unknown_size(t.ggml_type, f"tensor {t.name!r}")
        tensors.append((t.name, t.nbytes))
    return header.metadata, tensors


def _read_all(path: pathlib.Path) -> tuple[dict[str, Any], list[tuple[str, int]]]:
    """:func:`_read_header` of a model, the tensors of every part of a split model included."""
    from .quantize import split_path, split_prefix

    meta, tensors = _read_header(path)
    count = meta.get("split.count", 1)
    if isinstance(count, int) and count > 1:
        prefix = split_prefix(path, 0, count)
        if prefix is None:
            raise ModelLoadError(f"{str(path)!r} is part of a split model but not its first part")
        for no in range(1, count):
            tensors += _read_header(pathlib.Path(split_path(prefix, no, count)))[1]
    return meta, tensors


def read_shape(path: str | os.PathLike[str]) -> ModelShape:
    """Read what :func:`fit_params` needs from a GGUF file's header (bounded: every count and
    length is checked against the file). A missing, non-GGUF or truncated file raises
    :class:`~llamaprov.errors.ModelLoadError`; a recurrent model :class:`NotSupportedError`."""
    source = pathlib.Path(path)
    meta, tensors = _read_all(source)
    arch = meta.get("general.architecture")
    if not isinstance(arch, str):
        raise ModelLoadError(f"GGUF file has no general.architecture: {str(source)!r}")
    if any(k.startswith((f"{arch}.ssm.", f"{arch}.wkv.")) for k in meta):
        raise NotSupportedError(f"fit_params estimates attention KV caches; {arch!r} keeps a recurrent state")

    def per_layer(key: str, default: int, n: int = 1) -> list[int]:
        value = meta.get(f"{arch}.{key}", default)
        values = list(value) if isinstance(value, tuple) else [value] * n
        if len(values) != n or not all(isinstance(v, int) and 0 <= v < 2**32 for v in values):
            raise ModelLoadError(f"GGUF file {str(source)!r} has a bad {arch}.{key}: {describe(value)}")
        return [int(v) for v in values]

    n_layer = per_layer("block_count", 0)[0]
    n_embd = per_layer("embedding_length", 0)[0]
    if not 0 < n_layer <= 4096 or not n_embd:
        raise ModelLoadError(f"GGUF file {str(source)!r} has no valid {arch}.block_count or embedding_length")
    n_head = per_layer("attention.head_count", 1, n_layer)
    kv_key = f"{arch}.attention.head_count_kv"
    n_head_kv = per_layer("attention.head_count_kv", 0, n_layer) if kv_key in meta else n_head
    head_k = per_layer("attention.key_length", 0)[0] or n_embd // max(max(n_head), 1)
    head_v = per_layer("attention.value_length", 0)[0] or head_k
    experts = per_layer("expert_used_count", 0)[0] * per_layer("expert_feed_forward_length", 0)[0]
    n_ff = max(*per_layer("feed_forward_length", 0, n_layer), experts)
    q, k, v = max(n_head) * head_k, max(n_head_kv) * head_k, max(n_head_kv) * head_v
    # live at once at a layer's peak: the FFN's residual, input and output beside its gate and
    # up projections; or the attention's input, Q (projected, normed, roped), K and V
    act_width = max(3 * n_ff + 3 * n_embd, n_embd + 4 * q + 3 * k + v)

    layer_bytes = [0] * n_layer
    input_bytes = output_bytes = embd_bytes = 0
    has_head = False
    for name, size in tensors:
        parts = name.split(".")
        if parts[0] == "blk" and len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < n_layer:
            layer_bytes[int(parts[1])] += size
        elif parts[0] in ("output", "output_norm", "cls"):
            output_bytes += size
            has_head = has_head or name == "output.weight"
        else:
            input_bytes += size
            embd_bytes += size if name == "token_embd.weight" else 0
    tokens, merges = (meta.get(f"tokenizer.ggml.{k}") for k in ("tokens", "merges"))
    tokens, merges = (x if isinstance(x, tuple) else () for x in (tokens, merges))
    n_vocab = len(tokens) or per_layer("vocab_size", 0)[0]
    long_text = sum(len(t) + 1 + _MALLOC_HEADER for t in tokens if isinstance(t, bytes) and len(t) > _SSO)
    vocab_bytes = n_vocab * _TOKEN_BYTES + 3 * long_text + len(merges) * _MERGE_BYTES

    n_swa = per_layer("attention.sliding_window", 0)[0]
    pattern = meta.get(f"{arch}.attention.sliding_window_pattern", _SWA_PATTERNS.get(arch, 0))
    swa = ([bool(x) for x in pattern] if isinstance(pattern, tuple) and len(pattern) == n_layer else
           [isinstance(pattern, int) and pattern > 0 and il % pattern < pattern - 1 for il in range(n_layer)])
    return ModelShape(
        arch=arch, n_layer=n_layer, n_ctx_train=per_layer("context_length", 0)[0],
        n_embd=n_embd, n_vocab=n_vocab, layer_bytes=tuple(layer_bytes), input_bytes=input_bytes,
        output_bytes=output_bytes + (0 if has_head else embd_bytes), output_cpu_bytes=output_bytes,
        kv_heads=tuple((h, head_k, head_v) for h in n_head_kv),
        swa_layers=tuple(s and n_swa > 0 for s in swa), n_swa=n_swa, act_width=act_width,
        ffn_width=max(n_ff, n_embd), vocab_bytes=vocab_bytes,
        causal=meta.get(f"{arch}.attention.causal", True) is not False)


@dataclass(frozen=True)
class Budget:
    """A device and the bytes it may hold."""

    name: str
    budget: int
    gpu: bool = True  # False: the host (the CPU)


def _pad(n: int) -> int:
    return -(-n // _PAD) * _PAD


def kv_cells(shape: ModelShape, n_ctx: int, *, n_seq_max: int = 1, n_ubatch: int = 512,
             swa_full: bool = True) -> tuple[int, int]:
    """Cells of the KV cache of full-attention and of sliding-window layers, as llama.cpp sizes
    them (one unified cache): the context rounded up to 256; a sliding-window layer keeps
    ``n_swa`` cells per sequence and a micro-batch, unless ``swa_full``."""
    cells = _pad(n_ctx)
    if swa_full or not shape.n_swa:
        return cells, cells
    return cells, min(cells, _pad(shape.n_swa * n_seq_max + min(n_ubatch, n_ctx)))


def layer_devices(n_layer: int, n_gpu_layers: int, budgets: Sequence[int]) -> list[int]:
    """The device of each layer, the output layer last (index ``n_layer``), as llama.cpp places
    them: -1 for the CPU, else the index of a GPU. The last ``n_gpu_layers`` of the
    ``n_layer + 1`` layers are offloaded (the output layer first), split across the GPUs in
    proportion to ``budgets`` (llama.cpp splits by free memory unless given a tensor_split)."""
    n = n_layer + 1
    act = min(max(n_gpu_layers, 0), n) if budgets else 0
    total = sum(budgets)
    splits, run = [], 0.0
    for i, b in enumerate(budgets):
        run += b
        splits.append(run / total if total > 0 else (i + 1) / len(budgets))
    start = n - act
    return [-1 if il < start else min(bisect.bisect_right(splits, (il - start) / act), len(budgets) - 1)
            for il in range(n)]


def estimate(shape: ModelShape, n_gpu_layers: int, n_ctx: int, devices: Sequence[Budget], *,
             n_seq_max: int = 1, n_ubatch: int = 512, type_k: str = "f16", type_v: str = "f16",
             swa_full: bool = True) -> list[DeviceFit]:
    """Bytes per device (the CPU first, then the GPUs of ``devices``) for a model loaded with
    ``n_gpu_layers`` and one context of ``n_ctx``; pure arithmetic on ``shape``."""
    gpus = [d for d in devices if d.gpu]
    host = next((d for d in devices if not d.gpu), Budget("CPU", 0, gpu=False))
    where = layer_devices(shape.n_layer, n_gpu_layers, [g.budget for g in gpus])
    n_t = min(n_ubatch, n_ctx)
    cells, swa_cells = kv_cells(shape, n_ctx, n_seq_max=n_seq_max, n_ubatch=n_ubatch, swa_full=swa_full)
    k_type, v_type = KV_CACHE_TYPES[type_k], KV_CACHE_TYPES[type_v]
    n_dev = len(gpus) + 1
    weights, kv, has_layers = [shape.input_bytes] + [0] * len(gpus), [0] * n_dev, [False] * n_dev
    for il in range(shape.n_layer):
        s = where[il] + 1
        weights[s] += shape.layer_bytes[il]
        has_layers[s] = True
        if shape.causal:
            heads, dk, dv = shape.kv_heads[il]
            n = swa_cells if shape.swa_layers and shape.swa_layers[il] else cells
            kv[s] += n * (_row_bytes(k_type, heads * dk, "type_k") + _row_bytes(v_type, heads * dv, "type_v"))
    out = where[shape.n_layer] + 1
    weights[out] += shape.output_bytes if out else shape.output_cpu_bytes
    # the attention masks (f16, one per KV cache) hold a row of cells per token of a micro-batch
    mask = 2 * n_t * (cells + (swa_cells if any(shape.swa_layers) else 0)) if shape.causal else 0
    logits = 4 * shape.n_vocab
    rows = []
    for s, dev in enumerate([host, *gpus]):
        layers = 4 * n_t * shape.act_width + mask if has_layers[s] else 0
        if s == 0:  # touched as a generation uses it: the work buffer, one row of logits a sequence
            compute = 4 * n_t * shape.n_embd + (layers + int(n_t * shape.ffn_width * _WORK_BYTES_PER_ELEMENT)
                                                if has_layers[0] else 0)
            compute += n_seq_max * logits if out == 0 else 0
            other = shape.vocab_bytes + n_seq_max * logits  # and the output buffer
        else:  # allocated in full: the reservation for n_ubatch rows of logits
            compute = max(layers, n_t * (logits + 8 * shape.n_embd)) if out == s else layers
            other = 0
        total = weights[s] + kv[s] + compute + other
        rows.append(DeviceFit(dev.name, dev.budget, weights[s], kv[s], compute, other, total))
    return rows


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def _device(d: Any, known: list[BackendDevice]) -> tuple[str, int, bool]:
    """(name, free bytes, whether layers may go to it) of one entry of ``devices``."""
    if isinstance(d, (str, int)) and not isinstance(d, bool):
        match = [k for k in known if (k.name.lower() == d.lower() if isinstance(d, str) else k.index == d)]
        if not match:
            raise InvalidArgumentError(f"unknown device {d!r}; available: {[k.name for k in known]}")
        d = match[0]
    if isinstance(d, BackendDevice):
        return d.name, d.memory_free, d.type in _GPU_TYPES
    if isinstance(d, Mapping) and isinstance(d.get("name"), str):
        name = d["name"]
        free = check_int(f"free memory of {name!r}", d.get("free", d.get("memory_free")), 0, _MAX_BYTES)
        return name, free, d.get("type", "cpu" if name.upper().startswith("CPU") else "gpu") in _GPU_TYPES
    raise InvalidArgumentError("a device must be a name, an index, a BackendDevice or a dict with 'name' "
                               f"and 'free', got {describe(d)}")


def _budgets(devices: Sequence[Any] | None, memory_budget: int | Mapping[str, int] | None,
             margin: int | None) -> list[Budget]:
    """The host, then the GPUs, with their budgets in bytes."""
    if devices is not None and (not isinstance(devices, Sequence) or isinstance(devices, (str, bytes))):
        raise InvalidArgumentError(f"devices must be a list, got {describe(devices)}")
    named = devices is None or any(isinstance(d, (str, int)) for d in devices)
    known = backend_devices() if named else []
    gpus = [(n, free) for n, free, gpu in (_device(d, known) for d in (known if devices is None else devices))
            if gpu]
    gpu_margin = _GPU_MARGIN if margin is None else check_int("margin", margin, 0, _MAX_BYTES)
    wanted: dict[str, int] = {}
    if isinstance(memory_budget, Mapping):
        wanted = {str(k).lower(): check_int(f"memory_budget[{k!r}]", v, 0, _MAX_BYTES)
                  for k, v in memory_budget.items()}
        unknown = set(wanted) - {n.lower() for n, _ in gpus} - {"cpu"}
        if unknown:
            raise InvalidArgumentError(f"memory_budget names unknown devices {sorted(unknown)}")
    elif memory_budget is not None:
        every = check_int("memory_budget", memory_budget, 0, _MAX_BYTES)
        wanted = {n.lower(): every for n in ["CPU", *(n for n, _ in gpus)]}
    return [Budget("CPU", wanted.get("cpu", available_memory()), gpu=False),
            *(Budget(n, wanted.get(n.lower(), max(free - gpu_margin, 0))) for n, free in gpus)]


def _largest_ctx(fits: Any, cap: int) -> int:
    """The largest n_ctx (a multiple of 256, or ``cap``) for which ``fits(n_ctx)``, or 0."""
    steps = range(1, -(-cap // _PAD) + 1)  # fits() holds for a first run of them
    return min(bisect.bisect_left(steps, True, key=lambda k: not fits(min(k * _PAD, cap))) * _PAD, cap)


def _result(rows: list[DeviceFit], n_gpu_layers: int, n_ctx: int) -> FitResult:
    gpus = [r.budget_bytes for r in rows[1:]]
    split = tuple(b / sum(gpus) for b in gpus) if len(gpus) > 1 and sum(gpus) > 0 else None
    return FitResult(
        n_gpu_layers=n_gpu_layers, n_ctx=n_ctx,
        weights_bytes=sum(r.weights_bytes for r in rows), kv_bytes=sum(r.kv_bytes for r in rows),
        compute_bytes=sum(r.compute_bytes for r in rows), other_bytes=sum(r.other_bytes for r in rows),
        total_bytes=sum(r.total_bytes for r in rows), budget_bytes=sum(r.budget_bytes for r in rows),
        devices=tuple(rows), tensor_split=split)


def fit_params(path: str | os.PathLike[str], *, n_ctx: int | None = None,
               memory_budget: int | Mapping[str, int] | None = None, devices: Sequence[Any] | None = None,
               n_seq_max: int = 1, n_ubatch: int = 512, type_k: str | None = None,
               type_v: str | None = None, margin: int | None = None) -> FitResult:
    """The largest ``n_gpu_layers`` and ``n_ctx`` with which the GGUF model at ``path`` and one
    context are estimated to fit in memory, read from the file's header without loading it.

    ``devices`` are the GPUs layers may go to, as :func:`load_model` takes them (names or
    indices), :class:`BackendDevice` objects, or dicts ``{"name": ..., "free": bytes}``; None:
    every GPU of :func:`backend_devices`. CPU entries are skipped: what is not offloaded stays
    on the host. ``memory_budget`` is the bytes each device may use: an int for every device
    (the host included), or a dict by device name (``"CPU"`` for the host); by default the
    host's available memory (MemAvailable) and each GPU's free memory less ``margin`` (1 GiB,
    as llama.cpp's own fit leaves). ``n_seq_max``, ``n_ubatch``, ``type_k`` and ``type_v`` are
    those of the context to be made (:meth:`Model.new_context`'s defaults).

    With ``n_ctx`` given, returns the most GPU layers that fit with it, and raises
    :class:`~llamaprov.errors.InvalidArgumentError` naming the numbers when it does not fit
    even on the host alone. With ``n_ctx=None``, offloads as many layers as leave a context of
    at least 4096 (or the trained one, if shorter), and returns the largest context (a
    multiple of 256, at most the trained context) that fits with them. A missing, non-GGUF or
    truncated file raises :class:`~llamaprov.errors.ModelLoadError`. See :class:`FitResult`
    for what the estimate counts.
    """
    from ._ffi import lib
    from .backend import max_parallel_sequences

    if n_ctx is not None:
        n_ctx = check_int("n_ctx", n_ctx, 1, INT32_MAX)
    n_seq_max = check_int("n_seq_max", n_seq_max, 1, max_parallel_sequences())
    n_ubatch = check_int("n_ubatch", n_ubatch, 1, INT32_MAX)
    for name, value in (("type_k", type_k), ("type_v", type_v)):
        if value is not None and value not in KV_CACHE_TYPES:
            raise InvalidArgumentError(f"{name} must be one of {list(KV_CACHE_TYPES)}, got {value!r}")
    budgets = _budgets(devices, memory_budget, margin)
    shape = read_shape(path)
    swa_full = bool(lib.llama_context_default_params().swa_full)  # Context keeps llama.cpp's default

    def rows(ngl: int, ctx: int) -> list[DeviceFit]:
        return estimate(shape, ngl, ctx, budgets, n_seq_max=n_seq_max, n_ubatch=n_ubatch,
                        type_k=type_k or "f16", type_v=type_v or "f16", swa_full=swa_full)

    def fits(ngl: int, ctx: int) -> bool:
        return all(r.total_bytes <= r.budget_bytes for r in rows(ngl, ctx))

    counts = range(shape.n_layer + 1, -1, -1) if len(budgets) > 1 else range(0, -1, -1)
    if n_ctx is not None:
        ngl = next((n for n in counts if fits(n, n_ctx)), None)
        if ngl is not None:
            return _result(rows(ngl, n_ctx), ngl, n_ctx)
        raise InvalidArgumentError(_too_big(f"n_ctx={n_ctx}", rows(0, n_ctx)))
    cap = shape.n_ctx_train or 4096
    best = (0, 0)
    for ngl in counts:
        ctx = _largest_ctx(lambda c, ngl=ngl: fits(ngl, c), cap)
        if ctx >= min(_MIN_PREFERRED_CTX, cap):
            return _result(rows(ngl, ctx), ngl, ctx)
        best = max(best, (ctx, ngl))
    if best[0] == 0:
        least = min(_PAD, cap)
        raise InvalidArgumentError(_too_big(f"the model (with n_ctx={least})", rows(0, least)))
    return _result(rows(best[1], best[0]), best[1], best[0])


def _too_big(what: str, rows: list[DeviceFit]) -> str:
    over = [r for r in rows if r.total_bytes > r.budget_bytes] or rows
    parts = [f"on {r.name} an estimated {_gib(r.total_bytes)} (weights {_gib(r.weights_bytes)}, KV "
             f"{_gib(r.kv_bytes)}, compute {_gib(r.compute_bytes)}, other {_gib(r.other_bytes)}) against a "
             f"budget of {_gib(r.budget_bytes)}" for r in over]
    return f"{what} does not fit even with no layers on a GPU: " + "; ".join(parts)
