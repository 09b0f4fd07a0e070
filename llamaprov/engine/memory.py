"""`Memory`: a context's KV cache (``ctx.memory``), per sequence."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InvalidArgumentError
from ._checks import check_int, check_pos
from ._ffi import lib

if TYPE_CHECKING:
    from ._context import ContextCore as Context

__all__ = ["Memory"]


class Memory:
    """Operations on the KV cache of a :class:`Context`. Positions ``p1 < 0`` mean "to the end".

    It also keeps the record of which tokens each sequence holds, position by position, that
    generation reuses prompt prefixes from. The engine's decoders update it through the
    ``_record``/``_keep``/``_share`` methods while they hold the context; any direct edit here
    keeps it honest.
    """

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._held: dict[int, list[int]] = {}

    # -- the token record -----------------------------------------------------------------
    def tokens(self, seq: int) -> list[int]:
        """The tokens sequence ``seq`` holds, as far as this context decoded them itself
        (empty after a ``decode_batch``, whose positions are the caller's business)."""
        return list(self._held.get(self._seq(seq), []))

    def _records(self) -> dict[int, list[int]]:
        return self._held

    def _record(self, seq: int, tokens: list[int]) -> None:
        """``tokens`` were decoded into ``seq`` right after what it held."""
        self._held.setdefault(seq, []).extend(tokens)

    def _forget(self, seq: int, from_pos: int | None = 0) -> None:
        """Positions from ``from_pos`` on (all of them for None or < 0) left ``seq`` (-1: every one)."""
        seqs = list(self._held) if seq < 0 else [seq]
        for s in seqs:
            if from_pos is None or from_pos < 0:
                self._held.pop(s, None)
            elif s in self._held:
                del self._held[s][from_pos:]

    def _forget_all(self) -> None:
        self._held.clear()

    def _keep(self, seq: int, n: int) -> int:
        """Cut ``seq`` to its first ``n`` positions; returns how many it keeps (0 where the
        memory cannot cut a sequence, e.g. a recurrent one: then it starts over)."""
        mem = self._mem()
        held = self._held.get(seq, [])
        stale = n < len(held) or not held
        if stale and not lib.llama_memory_seq_rm(mem, seq, n, -1):
            lib.llama_memory_seq_rm(mem, seq, -1, -1)
            n = 0
        self._held[seq] = held[:n]
        return n

    def _share(self, donor: int, seq: int, n: int) -> None:
        """Make ``seq`` hold the first ``n`` positions of ``donor`` (shared cells, no decode)."""
        mem = self._mem()
        lib.llama_memory_seq_rm(mem, seq, -1, -1)
        lib.llama_memory_seq_cp(mem, donor, seq, 0, n)
        self._held[seq] = self._held[donor][:n]

    def _mem(self):  # type: ignore[no-untyped-def]
        return lib.llama_get_memory(self._ctx._ptr)

    def _seq(self, seq: int, allow_all: bool = False) -> int:
        return check_int("sequence id", seq, -1 if allow_all else 0, self._ctx.n_seq_max - 1)

    def clear(self, data: bool = True) -> None:
        """Drop every sequence."""
        with self._ctx._locked():
            lib.llama_memory_clear(self._mem(), data)
            self._held.clear()

    def seq_rm(self, seq: int, p0: int = -1, p1: int = -1) -> bool:
        """Remove positions [p0, p1) of ``seq`` (-1: every sequence). False if not possible."""
        seq, p0, p1 = self._seq(seq, True), check_pos("p0", p0), check_pos("p1", p1)
        with self._ctx._locked():
            ok = bool(lib.llama_memory_seq_rm(self._mem(), seq, p0, p1))
            if ok:
                self._forget(seq, p0)
            return ok

    def seq_cp(self, src: int, dst: int, p0: int = -1, p1: int = -1) -> None:
        """Share positions [p0, p1) of ``src`` with ``dst``.

        A context made with ``kv_unified=False`` keeps each sequence in its own cache: there
        only a whole sequence can be copied (``p0 <= 0`` and ``p1 < 0``).
        """
        src, dst, p0, p1 = self._seq(src), self._seq(dst), check_pos("p0", p0), check_pos("p1", p1)
        if not self._ctx._kv_unified and self._ctx.n_seq_max > 1 and src != dst and (p0 > 0 or p1 >= 0):
            raise InvalidArgumentError(
                f"seq_cp of positions [{p0}, {p1}) needs a unified KV cache; this context keeps "
                "each sequence apart (kv_unified=False): copy the whole sequence (p0=-1, p1=-1)")
        with self._ctx._locked():
            lib.llama_memory_seq_cp(self._mem(), src, dst, p0, p1)
            self._forget(dst, 0)

    def seq_keep(self, seq: int) -> None:
        """Remove every sequence but ``seq``."""
        with self._ctx._locked():
            lib.llama_memory_seq_keep(self._mem(), self._seq(seq))
            for other in list(self._held):
                if other != seq:
                    self._held.pop(other, None)

    def seq_add(self, seq: int, p0: int, p1: int, delta: int) -> None:
        """Shift positions [p0, p1) of ``seq`` by ``delta``."""
        seq, p0, p1 = self._seq(seq), check_pos("p0", p0), check_pos("p1", p1)
        delta = check_pos("delta", delta)
        self._check_shift("seq_add")
        with self._ctx._locked():
            lib.llama_memory_seq_add(self._mem(), seq, p0, p1, delta)
            self._forget(seq, 0)

    def seq_div(self, seq: int, p0: int, p1: int, d: int) -> None:
        """Integer-divide positions [p0, p1) of ``seq`` by ``d``."""
        d = check_int("divisor", d, 1)
        seq, p0, p1 = self._seq(seq), check_pos("p0", p0), check_pos("p1", p1)
        self._check_shift("seq_div")
        with self._ctx._locked():
            lib.llama_memory_seq_div(self._mem(), seq, p0, p1, d)
            self._forget(seq, 0)

    def seq_pos_range(self, seq: int) -> tuple[int, int]:
        """(min, max) position held for ``seq``; (-1, -1) when empty."""
        mem = self._mem()
        s = self._seq(seq)
        return int(lib.llama_memory_seq_pos_min(mem, s)), int(lib.llama_memory_seq_pos_max(mem, s))

    def _check_shift(self, what: str) -> None:
        if not self.can_shift:
            raise InvalidArgumentError(f"{what}: this model's memory cannot shift positions")

    @property
    def can_shift(self) -> bool:
        """Whether positions can be shifted (seq_add/seq_div)."""
        return bool(lib.llama_memory_can_shift(self._mem()))
