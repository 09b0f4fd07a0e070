"""Idle chat providers of a :class:`~llamaprov.integrations.langchain.ChatLlamaProv` (private)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llamaprov.chat import LlamaProvider


class ProviderPool:
    """Idle :class:`LlamaProvider` objects (one engine context each) on one model.

    A call takes one (or makes a new one) and gives it back when done, so concurrent calls never
    share a context, and a finished conversation's KV cache is reused by the next call.
    """

    def __init__(self, factory: Callable[[], LlamaProvider], keep: int = 4) -> None:
        self._factory = factory
        self._keep = keep
        self._idle: list[LlamaProvider] = []
        self._lock = threading.Lock()

    def acquire(self) -> LlamaProvider:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._factory()

    def release(self, provider: LlamaProvider) -> None:
        with self._lock:
            if len(self._idle) < self._keep:
                self._idle.append(provider)
                return
        provider.close()
