"""`ContextCore`: a llama.cpp context (KV cache, threads, decode, outputs, locks, abort).

:class:`~llamaprov.engine.Context` adds generation and embedding on top; the modules that
implement those (``generate``, ``embed``) build on this core and never import ``context``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ContextError, ContextOverflowError, InvalidArgumentError
from ._checks import INT32_MAX, check_allocation, check_int
from ._ffi import capture_log, lib, recent_log
from ._handle import _Handle
from .batch import MAX_BATCH, Batch
from .footprint import BUFFER_LINE, parse_buffers
from .memory import Memory

if TYPE_CHECKING:
    from .model import Model

__all__ = ["ContextCore", "DecodeAborted"]

POOLING = {"none": 0, "mean": 1, "cls": 2, "last": 3, "rank": 4}
_POOLING_NAMES = {v: k for k, v in POOLING.items()}
_FLASH_ATTN = {"auto": -1, False: 0, True: 1, "off": 0, "on": 1}
_GGML_TYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8, "bf16": 30}


def _default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# GGML_MAX_N_THREADS: ggml sizes per-thread state by it, and more threads than that crashed
_MAX_THREADS = 512


def _positive_int(name: str, value: Any, *, allow_none: bool = True, hi: int = INT32_MAX) -> int | None:
    if value is None and allow_none:
        return None
    return check_int(name, value, 1, hi)


def _kv_bytes(model: Model, n_ctx: int, type_k: str | None, type_v: str | None) -> int:
    """An estimate of the KV cache llama.cpp allocates for ``n_ctx`` cells (f16 by default)."""
    ptr = model._weights()  # a vocab-only model has no layers to ask about (llama.cpp aborts)
    arch = model.meta_get("general.architecture", "") or ""
    n_head = max(int(lib.llama_model_n_head(ptr)), 1)
    n_head_kv = int(lib.llama_model_n_head_kv(ptr))
    n_layer = int(lib.llama_model_n_layer(ptr))
    head_k = int(model.meta_get(f"{arch}.attention.key_length", "0") or 0) or model.n_embd // n_head
    head_v = int(model.meta_get(f"{arch}.attention.value_length", "0") or 0) or head_k
    per = {"f32": 4.0, "f16": 2.0, "bf16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32, "q4_1": 20 / 32,
           "q5_0": 22 / 32, "q5_1": 24 / 32}
    k = per.get(type_k or "f16", 2.0) * head_k
    v = per.get(type_v or "f16", 2.0) * head_v
    return int(n_ctx * n_layer * n_head_kv * (k + v))


# strlen as a ggml_abort_callback (bool (*)(void *)): called on abort()'s flag it answers
# "stop" once the flag holds a character, without entering Python
_STRLEN = ctypes.cast(ctypes.CDLL(None).strlen, ctypes.c_void_p).value
_FLAG_CALLBACK = lib.ggml_abort_callback(int(_STRLEN or 0))


class DecodeAborted(ContextError):
    """``llama_decode`` stopped early: :meth:`Context.abort` or the abort callback."""


class _CpuBudget:
    """Process-wide cap on the CPU threads that llama.cpp computes with at once.

    ggml's CPU threads busy-wait at every barrier of a graph; when two contexts decode at the
    same time with more threads than cores, each decode stalls on descheduled peers and both
    slow down tens of times. Each decode takes as many units as it has threads (at most the
    number of cores), so concurrent contexts share the cores instead of fighting over them.
    """

    def __init__(self, units: int) -> None:
        self.units = units
        self._free = units
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def hold(self, n: int) -> Iterator[None]:
        n = min(max(n, 1), self.units)
        with self._cond:
            while self._free < n:
                self._cond.wait()
            self._free -= n
        try:
            yield
        finally:
            with self._cond:
                self._free += n
                self._cond.notify_all()


_CPU = _CpuBudget(_default_threads())


class _SessionLock:
    """Serializes work on one context. Ownership may pass to a newer job of the same thread.

    A generation holds the context from its first step to its end; if the thread that owns
    it starts another job (an abandoned stream, say), the old one is cancelled rather than
    deadlocking. Other threads wait.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._owner: object | None = None
        self._thread: int | None = None

    def acquire(self, owner: object) -> None:
        me = threading.get_ident()
        with self._cond:
            while self._owner is not None and self._owner is not owner:
                if self._thread == me:
                    cancel = getattr(self._owner, "_cancel", None)
                    if cancel is not None:
                        cancel()
                    break
                self._cond.wait()
            self._owner = owner
            self._thread = me

    def release(self, owner: object) -> None:
        with self._cond:
            if self._owner is owner:
                self._owner = None
                self._thread = None
                self._cond.notify_all()

    def owned_by(self, owner: object) -> bool:
        return self._owner is owner

    @property
    def busy(self) -> bool:
        """Whether a job holds the context."""
        return self._owner is not None


class ContextCore(_Handle):
    """A llama.cpp context without the generation and embedding front (see :class:`Context`):
    KV cache, threads, decode, outputs, locks. The engine's generation and embedding code is
    built on it."""

    _kind = "context"

    def __init__(self, model: Model, *, n_ctx: int | None = None, n_batch: int | None = None,
                 n_ubatch: int | None = None, n_seq_max: int = 1, n_threads: int | None = None,
                 n_threads_batch: int | None = None, embeddings: bool = False,
                 pooling: str | None = None, flash_attn: str | bool = "auto",
                 type_k: str | None = None, type_v: str | None = None, seed: int | None = None,
                 kv_unified: bool = True) -> None:
        from .sampling import _seed

        model._weights()  # InvalidArgumentError for a vocab-only model
        params = lib.llama_context_default_params()
        n_ctx_train = model.n_ctx_train
        n_ctx = _positive_int("n_ctx", n_ctx) or min(n_ctx_train or 4096, 4096)
        # llama.cpp clamps the batch to the context and the micro-batch to the batch; the
        # Python side must size its batch buffer the same way
        n_batch = min(_positive_int("n_batch", n_batch, hi=MAX_BATCH) or 2048, n_ctx)
        n_ubatch = min(_positive_int("n_ubatch", n_ubatch) or 512, n_batch)
        limit = lib.llama_max_parallel_sequences()
        n_seq_max = _positive_int("n_seq_max", n_seq_max, allow_none=False, hi=limit) or 1
        if n_seq_max > n_batch:
            raise InvalidArgumentError(
                f"n_seq_max {n_seq_max} exceeds the batch size {n_batch} (n_batch, at most n_ctx): "
                "every sequence needs room for one token per decode")
        if embeddings:
            n_ubatch = n_batch  # every token of a sequence in one ubatch
        n_threads = _positive_int("n_threads", n_threads, hi=_MAX_THREADS) or _default_threads()
        n_threads_batch = _positive_int("n_threads_batch", n_threads_batch, hi=_MAX_THREADS) or n_threads
        if flash_attn not in _FLASH_ATTN:
            raise InvalidArgumentError(f"flash_attn must be 'auto', True or False, got {flash_attn!r}")
        if pooling is not None and pooling not in POOLING:
            raise InvalidArgumentError(f"pooling must be one of {list(POOLING)} or None, got {pooling!r}")
        self.seed = None if seed is None else _seed(seed)
        params.n_ctx = n_ctx
        params.n_batch = n_batch
        params.n_ubatch = n_ubatch
        params.n_seq_max = n_seq_max
        params.n_threads = n_threads
        params.n_threads_batch = n_threads_batch
        params.embeddings = bool(embeddings)
        params.flash_attn_type = _FLASH_ATTN[flash_attn]
        params.kv_unified = bool(kv_unified)
        params.no_perf = False
        # Pooling: llama.cpp pools "rank" itself (it needs the classifier head). Mean, cls and
        # last are pooled here from token embeddings: llama.cpp's own graph reservation aborts
        # for pooled contexts with n_seq_max > 1 unless n_ubatch is a multiple of it.
        declared = model.meta_get(f"{model.meta_get('general.architecture', '')}.pooling_type")
        if pooling is None:
            pooling = _POOLING_NAMES.get(int(declared), "mean") if declared and declared != "0" else "mean"
        self._pooling = pooling
        if embeddings or pooling == "rank":
            params.pooling_type = POOLING["rank"] if pooling == "rank" else POOLING["none"]
        for name, value in (("type_k", type_k), ("type_v", type_v)):
            if value is not None:
                if value not in _GGML_TYPES:
                    raise InvalidArgumentError(f"{name} must be one of {list(_GGML_TYPES)}, got {value!r}")
                setattr(params, name, _GGML_TYPES[value])
        check_allocation(f"a KV cache of {n_ctx} tokens", _kv_bytes(model, n_ctx, type_k, type_v))
        recent_log(clear=True)
        with capture_log(BUFFER_LINE) as lines:
            ptr = lib.llama_init_from_model(model._weights(), params)
        if not ptr:
            reason = "; ".join(recent_log(clear=True)[-3:]) or "llama.cpp could not create it"
            raise ContextError(f"failed to create a context (n_ctx={n_ctx}): {reason}")
        # held by every llama_decode/encode and each scheduler step; close() takes it too, so
        # a close from another thread waits for the running call instead of freeing under it
        self._native = threading.RLock()
        self._set_handle(ptr, lib.llama_free)
        self.model = model
        model._contexts.add(self)
        self.embeddings = bool(embeddings)
        self._session = _SessionLock()
        self._batch = Batch(int(lib.llama_n_batch(ptr)), 0, n_seq_max)
        # set by abort(): a non-empty C string stops the running decode (see abort callback)
        self._abort_flag = ctypes.create_string_buffer(2)
        # one KV pool for all sequences: cells can be shared (prefix copies are free)
        self._kv_unified = bool(kv_unified)
        self.memory = Memory(self)
        self._abort_cb: Any = None
        self._user_abort: Any = None
        self._loras: dict[Any, float] = {}  # LoraAdapter -> scale, see engine.adapters
        self._buffers = parse_buffers(lines)  # what llama.cpp allocated, see engine.footprint
        self._install_abort_callback()
        self._threads, self._threads_batch = n_threads, n_threads_batch

    def _before_close(self) -> None:
        self._batch.close()

    def _native_guard(self) -> contextlib.AbstractContextManager[Any]:
        return self._native

    def __repr__(self) -> str:
        return f"<Context {'closed' if self.closed else f'n_ctx={self.n_ctx}'}>"

    # -- locking --------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        token = object()
        self._session.acquire(token)
        try:
            yield
        finally:
            self._take_abort()  # an abort of this job ends with it
            self._session.release(token)

    # -- configuration ----------------------------------------------------------------------
    n_ctx = property(lambda self: int(lib.llama_n_ctx(self._ptr)), doc="Context window in tokens.")
    n_ctx_seq = property(lambda self: int(lib.llama_n_ctx_seq(self._ptr)),
                         doc="Context window available to one sequence.")
    n_batch = property(lambda self: int(lib.llama_n_batch(self._ptr)), doc="Logical batch size.")
    n_ubatch = property(lambda self: int(lib.llama_n_ubatch(self._ptr)), doc="Physical batch size.")
    n_seq_max = property(lambda self: int(lib.llama_n_seq_max(self._ptr)),
                         doc="Most sequences this context can hold.")
    n_threads = property(lambda self: int(lib.llama_n_threads(self._ptr)),
                         doc="Threads used for generation.")
    n_threads_batch = property(lambda self: int(lib.llama_n_threads_batch(self._ptr)),
                               doc="Threads used for prompt processing.")

    @property
    def pooling_type(self) -> str:
        """Embedding pooling used by :meth:`embed`: none, mean, cls, last or rank."""
        return self._pooling

    def set_threads(self, n: int, n_batch: int | None = None) -> None:
        """Set generation threads (and prompt-processing threads, default the same)."""
        n = _positive_int("n", n, allow_none=False, hi=_MAX_THREADS) or 1
        nb = _positive_int("n_batch", n_batch, hi=_MAX_THREADS) or n
        lib.llama_set_n_threads(self._ptr, n, nb)
        self._threads, self._threads_batch = n, nb

    def set_causal_attn(self, causal: bool) -> None:
        """Switch causal attention on or off (off for some embedding models)."""
        lib.llama_set_causal_attn(self._ptr, bool(causal))

    def set_embeddings(self, on: bool) -> None:
        """Switch embedding extraction on or off."""
        lib.llama_set_embeddings(self._ptr, bool(on))
        self.embeddings = bool(on)

    def set_warmup(self, on: bool) -> None:
        """Warm-up mode (all experts active) — deprecated upstream, kept for completeness."""
        lib.llama_set_warmup(self._ptr, bool(on))

    def set_abort_callback(self, fn: Any) -> None:
        """Call ``fn()`` during decode; returning True aborts it (``None`` removes it).

        ``fn`` runs between the graph's operations, hundreds of times per decode, in
        llama.cpp's threads: keep it cheap. :meth:`abort` works without one.
        """
        if fn is not None and not callable(fn):
            raise InvalidArgumentError(f"abort callback must be callable, got {fn!r}")
        self._user_abort = fn
        self._install_abort_callback()

    def _install_abort_callback(self) -> None:
        fn = self._user_abort
        if fn is None:
            # No Python in the decode loop: llama.cpp calls C's strlen on a two-byte flag that
            # abort() sets, which returns non-zero (true: stop) only once it is set.
            lib.llama_set_abort_callback(self._ptr, _FLAG_CALLBACK, ctypes.addressof(self._abort_flag))
            self._abort_cb = None
            return

        def check(_data: Any) -> bool:
            if self._abort_flag.raw[0]:
                return True
            try:
                return bool(fn())
            except Exception:  # an exception cannot cross into C: treat it as "go on"
                return False

        cb = lib.ggml_abort_callback(check)
        self._abort_cb = cb  # referenced as long as llama.cpp may call it
        lib.llama_set_abort_callback(self._ptr, cb, None)

    def abort(self) -> None:
        """Stop the job running on this context, from any thread.

        A running decode stops between two operations of its graph; a generation then ends
        with finish_reason "cancelled" and a plain ``decode`` raises :class:`ContextError`.
        The context stays usable. Nothing happens when no job is running.
        """
        self._ptr  # noqa: B018 - ClosedError after close
        if self._session.busy:
            self._abort_flag[0] = b"x"

    def _take_abort(self) -> bool:
        """Whether an abort was requested; clears the request."""
        if not self._abort_flag.raw[0]:
            return False
        self._abort_flag[0] = b"\x00"
        return True

    def synchronize(self) -> None:
        """Wait until pending device work is done."""
        lib.llama_synchronize(self._ptr)

    # -- decode -----------------------------------------------------------------------------
    def _decode_batch(self, batch: Batch) -> None:
        if batch.embd and batch.embd != int(lib.llama_model_n_embd_inp(self.model._ptr)):
            raise InvalidArgumentError(
                f"the batch carries embeddings of width {batch.embd}; this model takes "
                f"{int(lib.llama_model_n_embd_inp(self.model._ptr))}")
        if len(batch) > self.n_batch:
            raise InvalidArgumentError(f"a batch of {len(batch)} tokens exceeds n_batch={self.n_batch}")
        threads = self._threads if len(batch) == 1 else self._threads_batch
        with self._native, _CPU.hold(threads):
            rc = lib.llama_decode(self._ptr, batch._ptr)
        if rc == 0:
            return
        if rc == 1:
            raise ContextOverflowError(
                f"no room in the KV cache for {len(batch)} more tokens (n_ctx={self.n_ctx})",
                n_tokens=len(batch), n_ctx=self.n_ctx)
        if rc == 2:
            raise DecodeAborted("decode aborted (abort() or the abort callback)")
        reason = "; ".join(recent_log(clear=True)[-2:])
        raise ContextError(f"llama_decode failed with code {rc}{': ' + reason if reason else ''}")

    def decode_batch(self, batch: Batch) -> None:
        """Decode a filled :class:`Batch` (the caller manages positions and sequences)."""
        if not isinstance(batch, Batch):
            raise InvalidArgumentError(f"decode_batch expects a Batch, got {type(batch).__name__}")
        with self._locked():
            self._decode_batch(batch)
            self.memory._forget_all()  # positions are the caller's business now

    def decode(self, tokens: Sequence[int], *, seq_id: int = 0, logits_all: bool = False) -> None:
        """Append ``tokens`` to sequence ``seq_id`` in the KV cache (positions continue it)."""
        toks = self.model._check_tokens(tokens)
        if not toks:
            raise InvalidArgumentError("decode needs at least one token")
        seq_id = check_int("seq_id", seq_id, 0, self.n_seq_max - 1)
        with self._locked():
            pos = int(lib.llama_memory_seq_pos_max(lib.llama_get_memory(self._ptr), seq_id)) + 1
            if pos + len(toks) > self.n_ctx_seq:
                raise ContextOverflowError(
                    f"{pos + len(toks)} tokens do not fit in the context ({self.n_ctx_seq})",
                    n_tokens=pos + len(toks), n_ctx=self.n_ctx_seq)
            batch = self._batch
            step = batch.capacity
            for start in range(0, len(toks), step):
                batch.clear()
                chunk = toks[start:start + step]
                last = start + len(chunk) == len(toks)
                for k, t in enumerate(chunk):
                    batch.add(t, pos + start + k, seq_id, logits_all or (last and k == len(chunk) - 1))
                try:
                    self._decode_batch(batch)
                except BaseException:
                    # keep the cache and the record in step: the tokens decoded so far stay
                    lib.llama_memory_seq_rm(lib.llama_get_memory(self._ptr), seq_id, pos + start, -1)
                    self.memory._record(seq_id, toks[:start])
                    raise
            self.memory._record(seq_id, toks)

    def encode(self, tokens: Sequence[int]) -> None:
        """Run the encoder of an encoder-decoder model over ``tokens``."""
        self._ptr  # noqa: B018 - ClosedError after close
        toks = self.model._check_tokens(tokens)
        if not toks:
            raise InvalidArgumentError("encode needs at least one token")
        if not lib.llama_model_has_encoder(self.model._ptr):
            raise ContextError(f"model {self.model.path.name!r} has no encoder")
        with self._locked():
            batch = self._batch
            if len(toks) > batch.capacity:
                raise ContextOverflowError(f"{len(toks)} tokens exceed the batch size {batch.capacity}",
                                           n_tokens=len(toks), n_ctx=batch.capacity)
            batch.clear()
            for k, t in enumerate(toks):
                batch.add(t, k, 0, True)
            with self._native, _CPU.hold(self._threads_batch):
                rc = lib.llama_encode(self._ptr, batch._ptr)
            if rc != 0:
                raise ContextError(f"llama_encode failed with code {rc}")

    # -- outputs ----------------------------------------------------------------------------
    def logits(self) -> np.ndarray:
        """Logits of the last output of the last decode (a copy, n_vocab floats)."""
        return self.logits_ith(-1)

    def logits_ith(self, i: int) -> np.ndarray:
        """Logits of output ``i`` of the last decode (negative counts from the end)."""
        i = check_int("output index", i, -INT32_MAX, INT32_MAX)
        ptr = lib.llama_get_logits_ith(self._ptr, i)
        if not ptr:
            raise InvalidArgumentError(f"no logits for output {i} of the last decode")
        n = lib.llama_vocab_n_tokens(self.model._vocab_ptr)
        return np.ctypeslib.as_array(ptr, shape=(n,)).copy()

    def _embd_width(self) -> int:
        return int(lib.llama_model_n_embd_out(self.model._ptr)) or self.model.n_embd

    def embeddings_ith(self, i: int) -> np.ndarray:
        """Token embedding of output ``i`` of the last decode (pooling "none")."""
        i = check_int("output index", i, -INT32_MAX, INT32_MAX)
        ptr = lib.llama_get_embeddings_ith(self._ptr, i)
        if not ptr:
            raise InvalidArgumentError(
                f"no embedding for output {i}; was the context made with embeddings=True?")
        return np.ctypeslib.as_array(ptr, shape=(self._embd_width(),)).copy()

    def embeddings_seq(self, seq: int) -> np.ndarray:
        """Pooled embedding of sequence ``seq`` after the last decode."""
        seq = check_int("seq", seq, 0, self.n_seq_max - 1)
        ptr = lib.llama_get_embeddings_seq(self._ptr, seq)
        if not ptr:
            raise InvalidArgumentError(f"no pooled embedding for sequence {seq}")
        width = int(lib.llama_model_n_cls_out(self.model._ptr)) if self._pooling == "rank" else 0
        return np.ctypeslib.as_array(ptr, shape=(width or self._embd_width(),)).copy()

    def embeddings_all(self) -> np.ndarray:
        """Embeddings of every output of the last decode, one row per output token."""
        ptr = lib.llama_get_embeddings(self._ptr)
        if not ptr:
            raise InvalidArgumentError("no embeddings; was the context made with embeddings=True?")
        n_out = sum(1 for i in range(len(self._batch)) if self._batch._ptr.logits[i])
        return np.ctypeslib.as_array(ptr, shape=(n_out, self._embd_width())).copy()

    # -- performance ------------------------------------------------------------------------
    def perf(self) -> dict[str, float]:
        """Timings: load, prompt eval and eval milliseconds and token counts."""
        d = lib.llama_perf_context(self._ptr)
        return {"t_start_ms": d.t_start_ms, "t_load_ms": d.t_load_ms, "t_p_eval_ms": d.t_p_eval_ms,
                "t_eval_ms": d.t_eval_ms, "n_p_eval": d.n_p_eval, "n_eval": d.n_eval,
                "n_reused": d.n_reused}

    def perf_reset(self) -> None:
        """Zero the timings."""
        lib.llama_perf_context_reset(self._ptr)

    def perf_print(self) -> None:
        """Log the timings through llama.cpp's logger."""
        lib.llama_perf_context_print(self._ptr)
