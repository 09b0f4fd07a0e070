"""`Sampler` and `SamplerChain`: llama.cpp samplers as owned Python objects."""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgumentError
from ._ffi import lib
from ._handle import _Handle

if TYPE_CHECKING:
    from .context import Context

__all__ = ["Sampler", "SamplerChain"]


class Sampler(_Handle):
    """One llama.cpp sampler. Owned by a :class:`SamplerChain` once added to it."""

    _kind = "sampler"

    def __init__(self, ptr: Any, *, what: str = "sampler") -> None:
        if not ptr:
            raise InvalidArgumentError(f"llama.cpp refused to create the {what} sampler")
        self._set_handle(ptr, lib.llama_sampler_free)
        self._chain: SamplerChain | None = None

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

    def accept(self, token: int) -> None:
        """Tell the sampler a token was chosen."""
        lib.llama_sampler_accept(self._ptr, int(token))

    def clone(self) -> Sampler:
        """An independent copy with the same state."""
        return Sampler(lib.llama_sampler_clone(self._ptr), what="cloned")

    def sample(self, ctx: Context, idx: int = -1) -> int:
        """Sample a token from the logits at output ``idx`` of the last decode (and accept it)."""
        return int(lib.llama_sampler_sample(self._ptr, ctx._ptr, idx))

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

    def add(self, sampler: Sampler) -> SamplerChain:
        """Append a sampler; the chain takes ownership. Returns the chain."""
        if not isinstance(sampler, Sampler):
            raise InvalidArgumentError(f"expected a Sampler, got {sampler!r}")
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

    def clone(self) -> SamplerChain:
        """An independent copy of the chain (each sampler cloned)."""
        return SamplerChain([s.clone() for s in self._items], no_perf=True)
