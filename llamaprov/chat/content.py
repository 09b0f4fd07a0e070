"""Contents: the typed parts a :class:`~llamaprov.chat.turns.Turn` is made of."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from llamaprov.errors import InvalidArgumentError, describe


@dataclass(frozen=True)
class ContentText:
    """Plain text."""

    text: str


@dataclass(frozen=True)
class ContentThinking:
    """The model's reasoning (``<think>...</think>`` and similar), kept apart from the answer."""

    thinking: str


@dataclass(frozen=True)
class ContentToolRequest:
    """The model asks for a tool to be called with ``arguments``."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ContentToolResult:
    """The outcome of a tool call: ``value`` on success, ``error`` (a message) on failure."""

    request_id: str
    value: Any = None
    error: str | None = None
    name: str | None = None

    @property
    def is_error(self) -> bool:
        """True when the tool failed."""
        return self.error is not None

    def as_text(self) -> str:
        """The result as the text shown to the model."""
        if self.error is not None:
            return f"Error: {self.error}"
        if isinstance(self.value, str):
            return self.value
        try:
            return json.dumps(self.value, ensure_ascii=False)
        except (TypeError, ValueError):
            return str(self.value)


@dataclass(frozen=True)
class ContentJson:
    """Structured data produced under a JSON schema."""

    data: Any


Content = ContentText | ContentThinking | ContentToolRequest | ContentToolResult | ContentJson
CONTENT_TYPES = (ContentText, ContentThinking, ContentToolRequest, ContentToolResult, ContentJson)


def as_content(value: Any) -> Content:
    """A content object as is; a string as :class:`ContentText`."""
    if isinstance(value, CONTENT_TYPES):
        return value
    if isinstance(value, str):
        return ContentText(value)
    raise InvalidArgumentError(
        f"a turn's contents must be str or Content objects, got {describe(value)}"
    )
