"""`Batch`: a reusable ``llama_batch`` of tokens (or embeddings) for ``llama_decode``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import InvalidArgumentError
from ._ffi import lib
from ._handle import _Handle

__all__ = ["Batch"]


def _batch_free(batch: Any) -> None:
    lib.llama_batch_free(batch)


class Batch(_Handle):
    """Room for ``n_tokens`` tokens, each in up to ``n_seq_max`` sequences.

    With ``embd > 0`` the batch carries embedding vectors of that width instead of token ids.
    Fill it with :meth:`add`, pass it to :meth:`Context.decode_batch`, then :meth:`clear` it.
    """

    _kind = "batch"

    def __init__(self, n_tokens: int, embd: int = 0, n_seq_max: int = 1) -> None:
        for name, value, lo in (("n_tokens", n_tokens, 1), ("embd", embd, 0), ("n_seq_max", n_seq_max, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < lo:
                raise InvalidArgumentError(f"{name} must be an int >= {lo}, got {value!r}")
        self.capacity = n_tokens
        self.embd = embd
        self.n_seq_max = n_seq_max
        self._set_handle(lib.llama_batch_init(n_tokens, embd, n_seq_max), _batch_free)

    def __len__(self) -> int:
        return int(self._ptr.n_tokens)

    @property
    def n_tokens(self) -> int:
        """Tokens currently in the batch."""
        return len(self)

    def clear(self) -> None:
        """Empty the batch (keeps its memory)."""
        self._ptr.n_tokens = 0

    def add(self, token: int, pos: int, seq_ids: int | Sequence[int] = 0, logits: bool = False) -> int:
        """Append one token at ``pos`` in ``seq_ids``; returns its index (for logits_ith)."""
        if self.embd:
            raise InvalidArgumentError("this batch carries embeddings; use add_embedding")
        i = self._next_slot()
        self._ptr.token[i] = token
        return self._place(i, pos, seq_ids, logits)

    def add_embedding(self, vector: Sequence[float], pos: int, seq_ids: int | Sequence[int] = 0,
                      logits: bool = False) -> int:
        """Append one embedding vector (a batch made with ``embd > 0``)."""
        if not self.embd:
            raise InvalidArgumentError("this batch carries token ids; use add")
        if len(vector) != self.embd:
            raise InvalidArgumentError(f"embedding has {len(vector)} values, batch expects {self.embd}")
        i = self._next_slot()
        base = i * self.embd
        for k, x in enumerate(vector):
            self._ptr.embd[base + k] = float(x)
        return self._place(i, pos, seq_ids, logits)

    def _next_slot(self) -> int:
        i = int(self._ptr.n_tokens)
        if i >= self.capacity:
            raise InvalidArgumentError(f"batch is full ({self.capacity} tokens)")
        return i

    def _place(self, i: int, pos: int, seq_ids: int | Sequence[int], logits: bool) -> int:
        ids = (seq_ids,) if isinstance(seq_ids, int) else tuple(seq_ids)
        if not 1 <= len(ids) <= self.n_seq_max:
            raise InvalidArgumentError(f"a token belongs to 1..{self.n_seq_max} sequences, got {ids}")
        b = self._ptr
        b.pos[i] = pos
        b.n_seq_id[i] = len(ids)
        for k, s in enumerate(ids):
            b.seq_id[i][k] = s
        b.logits[i] = logits
        b.n_tokens = i + 1
        return i

    def set_logits(self, i: int, value: bool = True) -> None:
        """Ask (or stop asking) for the logits of token ``i``."""
        if not 0 <= i < len(self):
            raise InvalidArgumentError(f"token index {i} out of range for a batch of {len(self)}")
        self._ptr.logits[i] = value
