"""`Sampler` and `SamplerChain`: llama.cpp samplers as owned Python objects."""

from __future__ import annotations

import ctypes
import math
import threading
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ClosedError, GrammarError, InvalidArgumentError, describe
from ._checks import INT32_MAX, check_int, check_token
from ._ffi import lib
from ._handle import _Handle

if TYPE_CHECKING:
    from .context import Context
    from .model import Model

__all__ = ["Sampler", "SamplerChain", "allows"]


class _OneCandidate(threading.local):
    def __init__(self) -> None:
        self.data = (lib.llama_token_data * 1)()
        self.array = lib.llama_token_data_array(data=self.data, size=1, selected=-1, sorted=False)
        self.ref = ctypes.byref(self.array)


_one = _OneCandidate()


def allows(grammar: Any, token: int) -> bool:
    """Whether the grammar sampler ``grammar`` (a raw pointer) accepts ``token`` next.

    Applies the grammar to a one-token candidate list; the grammar's state does not change.
    """
    one = _one
    one.data[0] = lib.llama_token_data(id=token, logit=1.0, p=0.0)
    a = one.array
    a.size = 1
    a.selected = -1
    a.sorted = False
    lib.llama_sampler_apply(grammar, one.ref)
    return not math.isinf(one.data[0].logit)


class Sampler(_Handle):
    """One llama.cpp sampler. Owned by a :class:`SamplerChain` once added to it.

    A sampler made for a model (grammar, dry, infill) reads its vocabulary: once the model is
    closed it raises :class:`ClosedError` instead of reading freed memory.
    """

    _kind = "sampler"

    def __init__(self, ptr: Any, *, what: str = "sampler", model: Model | None = None) -> None:
        if not ptr:
            raise InvalidArgumentError(f"llama.cpp refused to create the {what} sampler")
        self._set_handle(ptr, lib.llama_sampler_free)
        self._chain: SamplerChain | None = None
        self._model = model
        self._n_vocab = len(model.vocab) if model is not None else None

    @property
    def _ptr(self) -> Any:
        model = self._model
        if model is not None and model.closed:
            raise ClosedError(f"the model this {self._kind} was made for is closed")
        return super()._ptr

    def _release_ownership(self, chain: SamplerChain) -> None:
        if self._chain is not None:
            raise InvalidArgumentError("this sampler already belongs to a chain")
        self._finalizer.detach()
        self._chain = chain

    def _take_ownership(self) -> None:
        self._chain = None
        self._finalizer = weakref.finalize(self, lib.llama_sampler_free, self._raw)

    def close(self) -> None:
        """Free the sampler (a sampler inside a chain is freed with the chain)."""
        if self._chain is not None:
            raise InvalidArgumentError("remove the sampler from its chain before closing it")
        super().close()

    @property
    def name(self) -> str:
        """The sampler's llama.cpp name (``"greedy"``, ``"top-k"``, ...)."""
        return (lib.llama_sampler_name(self._ptr) or b"").decode()

    @property
    def seed(self) -> int:
        """The seed in use (for samplers with randomness)."""
        return int(lib.llama_sampler_get_seed(self._ptr))

    def reset(self) -> None:
        """Forget accepted tokens (penalties, grammar state, mirostat mu)."""
        lib.llama_sampler_reset(self._ptr)

    def _check_token(self, token: Any) -> int:
        n_vocab = self._n_vocab
        return check_token(token, n_vocab) if n_vocab is not None else check_int("token", token)

    def _grammars(self) -> list[Any]:
        """The grammar samplers whose rules ``accept`` must respect (raw pointers)."""
        return []

    def accept(self, token: int) -> None:
        """Tell the sampler a token was chosen. A token a grammar forbids raises GrammarError."""
        ptr = self._ptr
        token = self._check_token(token)
        for g in self._grammars():
            if not allows(g, token):
                raise GrammarError(f"token {token} is not allowed by the grammar here")
        lib.llama_sampler_accept(ptr, token)

    def clone(self) -> Sampler:
        """An independent copy with the same state."""
        return self._wrap_clone()

    def _wrap_clone(self) -> Sampler:
        return Sampler(lib.llama_sampler_clone(self._ptr), what="cloned", model=self._model)

    def sample(self, ctx: Context, idx: int = -1) -> int:
        """Sample a token from the logits at output ``idx`` of the last decode (and accept it).

        Raises :class:`InvalidArgumentError` when there are no such logits (no decode yet, or
        ``idx`` out of range) or when the sampler does not choose a token (a chain must end in
        a selecting sampler such as ``greedy`` or ``dist``), and :class:`GrammarError` when no
        token is left that the grammar allows.
        """
        ptr = self._ptr
        idx = check_int("idx", idx, -INT32_MAX, INT32_MAX)
        with ctx._native:
            logits = lib.llama_get_logits_ith(ctx._ptr, idx)
            if not logits:
                raise InvalidArgumentError(f"no logits for output {idx} of the last decode")
            n_vocab = len(ctx.model.vocab)
            data = (lib.llama_token_data * n_vocab)()
            view = np.ctypeslib.as_array(data)
            view["id"] = np.arange(n_vocab, dtype=np.int32)
            view["logit"] = np.ctypeslib.as_array(logits, shape=(n_vocab,))
        arr = lib.llama_token_data_array(data=data, size=n_vocab, selected=-1, sorted=False)
        lib.llama_sampler_apply(ptr, ctypes.byref(arr))
        if not 0 <= arr.selected < arr.size:
            raise InvalidArgumentError(f"sampler {self.name!r} does not choose a token; end the chain "
                                       "with a selecting sampler (greedy, dist, mirostat)")
        chosen = arr.data[arr.selected]
        if math.isinf(chosen.logit) and chosen.logit < 0:
            raise GrammarError("no token is left to choose: the grammar, logit_bias or samplers "
                               "ruled out every token")
        self.accept(int(chosen.id))
        return int(chosen.id)

    def __repr__(self) -> str:
        return f"<Sampler {'closed' if self.closed else self.name}>"


class SamplerChain(Sampler):
    """An ordered chain of samplers, applied in order; itself a sampler."""

    _kind = "sampler chain"

    def __init__(self, samplers: Iterable[Sampler] = (), *, no_perf: bool = True) -> None:
        params = lib.llama_sampler_chain_default_params()
        params.no_perf = no_perf
        super().__init__(lib.llama_sampler_chain_init(params), what="chain")
        self._items: list[Sampler] = []
        for s in samplers:
            self.add(s)

    def _before_close(self) -> None:
        for s in self._items:
            s._raw = None
        self._items.clear()

    @property
    def _ptr(self) -> Any:
        for s in self._items:
            if s._model is not None and s._model.closed:
                raise ClosedError(f"the model the {s.name!r} sampler of this chain was made for is closed")
        return _Handle._ptr.fget(self)  # type: ignore[attr-defined]

    def _check_token(self, token: Any) -> int:
        for s in self._items:
            if s._n_vocab is not None:
                return s._check_token(token)
        return check_int("token", token)

    def _grammars(self) -> list[Any]:
        return [g for s in self._items for g in s._grammars()]

    def add(self, sampler: Sampler) -> SamplerChain:
        """Append a sampler; the chain takes ownership. Returns the chain."""
        if not isinstance(sampler, Sampler):
            raise InvalidArgumentError(f"expected a Sampler, got {describe(sampler)}")
        if getattr(sampler, "_lazy", False):
            raise InvalidArgumentError(
                "a lazy grammar cannot join a native sampler chain: pass it to generation with "
                "SamplingParams(grammar=..., grammar_lazy=True, grammar_trigger_...)")
        ptr = sampler._ptr
        sampler._release_ownership(self)
        lib.llama_sampler_chain_add(self._ptr, ptr)
        self._items.append(sampler)
        return self

    def __len__(self) -> int:
        return int(lib.llama_sampler_chain_n(self._ptr))

    def __getitem__(self, i: int) -> Sampler:
        return self._items[self._index(i)]

    def _index(self, i: int) -> int:
        self._ptr  # noqa: B018 - ClosedError after close
        n = len(self._items)
        if isinstance(i, bool) or not isinstance(i, int) or not -n <= i < n:
            raise InvalidArgumentError(f"sampler index {i!r} out of range for a chain of {n}")
        return i % n

    def remove(self, i: int) -> Sampler:
        """Take the sampler at ``i`` out of the chain; the caller owns it again."""
        i = self._index(i)
        lib.llama_sampler_chain_remove(self._ptr, i)
        sampler = self._items.pop(i)
        sampler._take_ownership()
        return sampler

    def perf(self) -> dict[str, float]:
        """Sampling time and count (needs a chain created with ``no_perf=False``)."""
        data = lib.llama_perf_sampler(self._ptr)
        return {"t_sample_ms": float(data.t_sample_ms), "n_sample": int(data.n_sample)}

    def perf_reset(self) -> None:
        """Zero the sampling counters."""
        lib.llama_perf_sampler_reset(self._ptr)

    def perf_print(self) -> None:
        """Log the sampling time and count through llama.cpp's logger."""
        lib.llama_perf_sampler_print(self._ptr)

    def clone(self) -> SamplerChain:
        """An independent copy of the chain (each sampler cloned)."""
        self._ptr  # noqa: B018 - ClosedError after close
        return SamplerChain([s.clone() for s in self._items], no_perf=True)
