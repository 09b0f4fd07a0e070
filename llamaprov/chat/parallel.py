"""Parallel chats: one reply per prompt, each a separate continuation of a chat, decoded together.

Built on :meth:`Provider.submit` of any provider that supports it (for a :class:`LlamaProvider`,
its batch queue, which LangChain's ``batch``/``abatch`` use too).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from llamaprov.chat.chat import Chat
from llamaprov.chat.content import ContentText
from llamaprov.chat.provider import Provider
from llamaprov.chat.turns import Turn
from llamaprov.chat.types import parse_structured
from llamaprov.errors import InvalidArgumentError, describe


def _max_parallel(max_parallel: Any, max_active: Any) -> Any:
    """``max_parallel``, or the value of its deprecated alias ``max_active``."""
    if max_active is None:
        return max_parallel
    warnings.warn("max_active= is deprecated; use max_parallel=", DeprecationWarning, stacklevel=3)
    if max_parallel is not None:
        raise InvalidArgumentError(
            f"give max_parallel or its deprecated alias max_active, not both (got {describe(max_parallel)} "
            f"and {describe(max_active)})")
    return max_active


def _check(chat: Any, prompts: Any, max_parallel: Any) -> Provider:
    if not isinstance(chat, Chat):
        raise InvalidArgumentError(f"parallel chats need a Chat, got {describe(chat)}")
    if not chat.provider.supports_submit:
        raise InvalidArgumentError(
            f"parallel chats need a provider that supports submit, got {describe(chat.provider)}")
    if isinstance(prompts, str) or not isinstance(prompts, Sequence):
        raise InvalidArgumentError(f"prompts must be a list of str, got {describe(prompts)}")
    if not all(isinstance(p, str) and p for p in prompts):
        raise InvalidArgumentError(f"prompts must be non-empty strings, got {describe(prompts)}")
    if max_parallel is not None and (
        isinstance(max_parallel, bool) or not isinstance(max_parallel, int) or max_parallel < 1
    ):
        raise InvalidArgumentError(f"max_parallel must be an int >= 1, got {describe(max_parallel)}")
    return chat.provider


def _run_parallel(chat: Chat, prompts: Sequence[str], max_parallel: int | None, type: Any,
                  check: Callable[[Turn], Any] | None = None) -> list[Any]:
    """One reply per prompt, each continuing ``chat``'s conversation independently; with
    ``check``, what it returns for each reply.

    The first failure (a request's, or ``check``'s, in prompt order) cancels the requests still
    queued, stops the running ones, and is raised.
    """
    provider = _check(chat, prompts, max_parallel)
    base = chat.get_turns(include_system_prompt=True)
    settings = chat.params()
    futures: list[Future[Turn]] = []
    results: list[Any] = []
    window = max_parallel or len(prompts)

    def take_next() -> None:
        turn = futures[len(results)].result()
        results.append(turn if check is None else check(turn))

    try:
        for prompt in prompts:
            if len(futures) - len(results) >= window:
                take_next()
            turns_in = [*base, Turn("user", [ContentText(prompt)])]
            futures.append(provider.submit(turns_in, type=type, params=settings))
        while len(results) < len(futures):
            take_next()
    except BaseException:
        provider.cancel(futures[len(results):])
        raise
    return results


def parallel_chat(chat: Chat, prompts: Sequence[str], *, max_parallel: int | None = None,
                  max_active: int | None = None) -> list[str]:
    """Reply to each prompt as a separate continuation of ``chat`` (which is not modified).

    The prompts are decoded together as parallel sequences of one context (up to the
    provider's ``max_parallel``; ``max_parallel`` here lowers it). Tools are not offered.
    ``max_active`` is a deprecated alias of ``max_parallel``."""
    limit = _max_parallel(max_parallel, max_active)
    return [t.text for t in _run_parallel(chat, prompts, limit, None)]


def parallel_chat_structured(
    chat: Chat, prompts: Sequence[str], *, type: Any, max_parallel: int | None = None,
    max_active: int | None = None,
) -> list[Any]:
    """Extract data of ``type`` from each prompt in parallel (see :func:`parallel_chat`).
    Raises StructuredOutputError (with ``raw``) for the first result that does not validate
    (as :meth:`Provider.structured_output` does), and stops the requests after it."""

    def validate(turn: Turn) -> Any:
        return parse_structured(turn, type)[0]

    return _run_parallel(chat, prompts, _max_parallel(max_parallel, max_active), type, validate)
