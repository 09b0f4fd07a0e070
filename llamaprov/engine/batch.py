"""`Batch`: a reusable ``llama_batch`` of tokens (or embeddings) for ``llama_decode``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import InvalidArgumentError
from ._checks import check_allocation, check_float, check_int, check_pos
from ._ffi import lib
from ._handle import _Handle

__all__ = ["MAX_BATCH", "Batch"]

# Most tokens one batch may hold: llama_batch_init allocates per token (10**8 took minutes)
MAX_BATCH = 1 << 22
MAX_EMBD = 1 << 20


def _batch_free(batch: Any) -> None:
    lib.llama_batch_free(batch)


class Batch(_Handle):
    """Room for ``n_tokens`` tokens, each in up to ``n_seq_max`` sequences.

    With ``embd > 0`` the batch carries embedding vectors of that width instead of token ids.
    Fill it with :meth:`add`, pass it to :meth:`Context.decode_batch`, then :meth:`clear` it.
    """

    _kind = "batch"

    def __init__(self, n_tokens: int, embd: int = 0, n_seq_max: int = 1) -> None:
        check_int("n_tokens", n_tokens, 1, MAX_BATCH)
        check_int("embd", embd, 0, MAX_EMBD)
        check_int("n_seq_max", n_seq_max, 1, int(lib.llama_max_parallel_sequences()))
        # llama_batch_init makes one allocation per token and does not check any of them
        per_token = 4 * (embd or 1) + 4 + 4 + 8 + 4 * n_seq_max + 8 + 1
        check_allocation(f"a batch of {n_tokens} tokens", n_tokens * per_token)
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
        token = check_int("token", token)  # llama_decode checks it against the vocabulary
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
        values = [check_float("embedding value", x) for x in vector]
        i = self._next_slot()
        base = i * self.embd
        for k, x in enumerate(values):
            self._ptr.embd[base + k] = x
        return self._place(i, pos, seq_ids, logits)

    def _next_slot(self) -> int:
        i = int(self._ptr.n_tokens)
        if i >= self.capacity:
            raise InvalidArgumentError(f"batch is full ({self.capacity} tokens)")
        return i

    def _place(self, i: int, pos: int, seq_ids: int | Sequence[int], logits: bool) -> int:
        pos = check_pos("pos", pos)
        if isinstance(seq_ids, (str, bytes)) or not isinstance(seq_ids, (int, Sequence)):
            raise InvalidArgumentError(f"seq_ids must be an int or a list of int, got {seq_ids!r}")
        ids = (seq_ids,) if isinstance(seq_ids, int) else tuple(seq_ids)
        if not 1 <= len(ids) <= self.n_seq_max:
            raise InvalidArgumentError(f"a token belongs to 1..{self.n_seq_max} sequences, got {ids}")
        for sid in ids:
            check_int("seq_id", sid, 0, int(lib.llama_max_parallel_sequences()) - 1)
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
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(self):
            raise InvalidArgumentError(f"token index {i!r} out of range for a batch of {len(self)}")
        self._ptr.logits[i] = value
