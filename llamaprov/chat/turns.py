"""Turns: one message of a conversation (``system``, ``user`` or ``assistant``) and its token usage.

Tool results travel in ``user`` turns, as in ellmer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from llamaprov.chat.content import (
    CONTENT_TYPES,
    Content,
    ContentJson,
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
    as_content,
)
from llamaprov.errors import InvalidArgumentError, describe

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class TokenUsage:
    """Tokens of one request (or a sum of requests).

    ``input`` counts every prompt token, ``cached`` how many of them were reused from the KV cache
    instead of being decoded again (a subset of ``input``), ``output`` the generated tokens.
    """

    input: int = 0
    output: int = 0
    cached: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        if not isinstance(other, TokenUsage):
            return NotImplemented
        return TokenUsage(
            self.input + other.input, self.output + other.output, self.cached + other.cached
        )

    @property
    def total(self) -> int:
        """Prompt plus generated tokens."""
        return self.input + self.output



@dataclass
class Turn:
    """One message of a conversation.

    An assistant turn's ``finish_reason`` says why its generation ended: ``"eog"`` (the model
    ended it), ``"stop"`` (a stop string), ``"length"`` (max_tokens or the context's end),
    ``"tool_calls"`` (it requested tools), or ``"cancelled"``: the generation was interrupted
    (a stream closed early, ``KeyboardInterrupt``, asyncio task cancellation,
    ``ctx.abort()``) and the turn holds what was generated until then (see :attr:`incomplete`).
    """

    role: str
    contents: list[Content] = field(default_factory=list)
    tokens: TokenUsage | None = None
    finish_reason: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise InvalidArgumentError(f"Turn role must be one of {ROLES}, got {describe(self.role)}")
        if isinstance(self.contents, (str, *CONTENT_TYPES)):
            self.contents = [self.contents]  # type: ignore[list-item]
        self.contents = [as_content(c) for c in self.contents]

    @property
    def text(self) -> str:
        """The text contents joined (JSON data rendered as JSON)."""
        parts: list[str] = []
        for c in self.contents:
            if isinstance(c, ContentText):
                parts.append(c.text)
            elif isinstance(c, ContentJson):
                parts.append(json.dumps(c.data, ensure_ascii=False))
        return "".join(parts)

    @property
    def incomplete(self) -> bool:
        """True for an assistant turn cut short by a cancellation (``finish_reason ==
        "cancelled"``): its text is partial, and tool calls it was making were not run."""
        return self.finish_reason == "cancelled"

    @property
    def thinking(self) -> str:
        """The thinking contents joined."""
        return "".join(c.thinking for c in self.contents if isinstance(c, ContentThinking))

    @property
    def tool_requests(self) -> list[ContentToolRequest]:
        """The tool requests of this turn, in order."""
        return [c for c in self.contents if isinstance(c, ContentToolRequest)]

    @property
    def tool_results(self) -> list[ContentToolResult]:
        """The tool results of this turn, in order."""
        return [c for c in self.contents if isinstance(c, ContentToolResult)]


def as_turn(value: Any, *, role: str = "user") -> Turn:
    """Turn ``value`` into a :class:`Turn`.

    A ``Turn`` is returned as is; a string or a content object (or a list of them) becomes a turn
    of ``role``; a finished engine ``Completion`` becomes an assistant turn with its text and usage.
    """
    if isinstance(value, Turn):
        return value
    if isinstance(value, (str, *CONTENT_TYPES)):
        return Turn(role, [as_content(value)])
    if isinstance(value, (list, tuple)):
        return Turn(role, list(value))
    usage = getattr(value, "usage", None)
    if hasattr(value, "finish_reason") and hasattr(value, "text") and usage is not None:
        return Turn(
            "assistant",
            [ContentText(value.text)],
            tokens=TokenUsage(usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens),
            finish_reason=value.finish_reason,
        )
    raise InvalidArgumentError(f"cannot make a Turn from {describe(value)}")
