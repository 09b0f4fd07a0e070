"""Stream events: what a provider yields while it generates, and what a chat adds (tool results)."""

from __future__ import annotations

from dataclasses import dataclass

from llamaprov.chat.content import (
    Content,
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
)
from llamaprov.chat.turns import Turn


@dataclass(frozen=True)
class TextDelta:
    """A piece of answer text."""

    text: str


@dataclass(frozen=True)
class ThinkingDelta:
    """A piece of the model's reasoning."""

    text: str


@dataclass(frozen=True)
class ToolRequestStart:
    """A tool call began; its name is known."""

    index: int
    id: str
    name: str


@dataclass(frozen=True)
class ToolRequestArgumentsDelta:
    """More raw JSON text of a tool call's arguments."""

    index: int
    id: str
    delta: str


@dataclass(frozen=True)
class ToolRequestDone:
    """A tool call is complete and parsed."""

    index: int
    request: ContentToolRequest


ParseEvent = (
    TextDelta | ThinkingDelta | ToolRequestStart | ToolRequestArgumentsDelta | ToolRequestDone
)


@dataclass(frozen=True)
class ToolResultEvent:
    """A tool ran (or failed); its result goes back to the model."""

    result: ContentToolResult


@dataclass(frozen=True)
class TurnDone:
    """An assistant turn is complete; ``turn.tokens`` holds its usage."""

    turn: Turn


StreamEvent = ParseEvent | ToolResultEvent | TurnDone


def add_delta(contents: list[Content], event: object) -> None:
    """Add a streamed piece of text or thinking to ``contents``, joined to the last content of
    its kind (other events are left alone)."""
    last = contents[-1] if contents else None
    if isinstance(event, TextDelta):
        if isinstance(last, ContentText):
            contents[-1] = ContentText(last.text + event.text)
        else:
            contents.append(ContentText(event.text))
    elif isinstance(event, ThinkingDelta):
        if isinstance(last, ContentThinking):
            contents[-1] = ContentThinking(last.thinking + event.text)
        else:
            contents.append(ContentThinking(event.text))
