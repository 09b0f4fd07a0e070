"""The KV cache of a :class:`~llamaprov.chat.LlamaProvider`'s conversation to and from a file, for
``Chat.save`` / ``Chat.load`` (see :mod:`llamaprov.chat._persist`): a mixin of the provider."""

from __future__ import annotations

import os
import pathlib
import struct
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llamaprov.chat._plan import DEFAULT_MAX_TOKENS
from llamaprov.chat.tools import ToolDef
from llamaprov.chat.turns import Turn
from llamaprov.engine import LoraAdapter
from llamaprov.errors import LlamaProvError, StateError


class KvFilesMixin:
    """Writes the cached prefix of the conversation's prompt as a sequence-state file and
    restores one as the context's cache."""

    if TYPE_CHECKING:  # what the provider has
        _lock: threading.Lock
        _closed: bool
        _stale: bool
        _ctx: Any
        _kv_lora: dict[LoraAdapter, float] | None

        @property
        def context(self) -> Any: ...

        def _fit(self, turns: Sequence[Turn], tools: Sequence[ToolDef], max_tokens: int,
                 reasoning: str = "auto", calls: Mapping[str, Any] = ...) -> tuple[str, list[int]]: ...

    def _kv_export(self, turns: Sequence[Turn], tools: Sequence[ToolDef], max_tokens: int | None,
                   path: os.PathLike[str], last_prompt: int, *, parallel_tool_calls: bool | None = None,
                   max_tool_calls: int | None = None) -> int:
        """Write the KV cache of the context's prefix of the prompt for ``turns`` (the cached
        tokens it shares with that prompt) to ``path`` as a sequence-state file; returns how
        many tokens it holds. 0 (nothing written): nothing cached, or a cache that was decoded
        with LoRA adapters, interrupted, or changed by another request meanwhile.

        Cached tokens past the shared prefix are dropped from the context first when they are
        the conversation's own (the prefix covers ``last_prompt``, the prompt of its last reply:
        they are that reply's tokens, which its next request drops too); otherwise the cache is
        another conversation's, and is left alone (nothing is written)."""
        with self._lock:
            ctx = None if self._closed or self._stale else self._ctx
        if ctx is None or not turns:
            return 0
        if self._kv_lora if self._kv_lora is not None else ctx.loras:
            return 0
        cached = ctx.memory.tokens(0)
        try:
            calls = {"parallel": parallel_tool_calls, "max_calls": max_tool_calls}
            _, tokens = self._fit(turns, tools, max_tokens or DEFAULT_MAX_TOKENS,
                                 calls=calls)
        except LlamaProvError:
            return 0
        n = 0
        for a, b in zip(cached, tokens, strict=False):
            if a != b:
                break
            n += 1
        if n == 0 or (n < len(cached) and (n < last_prompt or not ctx.memory.seq_rm(0, n, -1))):
            return 0
        ctx.save_seq_state(path, 0, cached[:n])
        return n if ctx.memory.tokens(0) == cached[:n] else 0

    def _kv_import(self, path: os.PathLike[str], n_tokens: int) -> int:
        """Restore a :meth:`_kv_export` file of ``n_tokens`` tokens as the context's cache;
        returns how many tokens the next request may reuse (0: not restored, the context's own
        LoRA adapters or its size stand in the way). Raises StateError when llama.cpp refuses
        the data (the context's cache is then empty)."""
        ctx = self.context
        if ctx.loras or n_tokens >= ctx.n_ctx:
            return 0
        with pathlib.Path(path).open("rb") as fh:
            head = fh.read(12)  # magic, version, token count
        if len(head) < 12 or struct.unpack_from("<I", head, 8)[0] != n_tokens:
            raise StateError(f"the saved cache does not hold the {n_tokens} tokens announced")
        tokens = ctx.load_seq_state(path, 0)
        self._stale, self._kv_lora = False, None
        if len(tokens) != n_tokens or ctx.memory.tokens(0) != tokens:
            ctx.memory.seq_rm(0, -1, -1)
            raise StateError(f"the saved cache holds {len(tokens)} tokens, not the {n_tokens} announced")
        return n_tokens
