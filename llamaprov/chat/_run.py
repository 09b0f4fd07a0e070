"""One chat call in progress (:class:`Run`): the turns it added so far, so that an interruption
can keep them; and the helpers of tool rounds: of :class:`~llamaprov.chat.chat.Chat`'s, and
those a provider needs to tell a repeated call (:func:`only_repeats`, :func:`withhold_calls`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from llamaprov.chat.content import (
    Content,
    ContentToolRequest,
    ContentToolResult,
)
from llamaprov.chat.events import (
    StreamEvent,
    ToolRequestArgumentsDelta,
    ToolRequestDone,
    ToolRequestStart,
    add_delta,
)
from llamaprov.chat.turns import Turn


def call_key(request: ContentToolRequest) -> tuple[str, str]:
    """A call as (tool name, arguments as canonical JSON): equal for the same call."""
    return request.name, json.dumps(request.arguments, sort_keys=True, default=str)


def only_repeats(requests: Sequence[ContentToolRequest], made: frozenset[tuple[str, str]]) -> bool:
    """Whether ``requests`` are calls and each repeats one of ``made`` (see :func:`call_key`):
    small models ask again for results they have instead of answering."""
    return bool(requests) and all(call_key(r) in made for r in requests)


def withhold_calls(events: Iterable[StreamEvent], held: list[StreamEvent] | None) -> Iterator[StreamEvent]:
    """``events``, but the tool-call events go to ``held`` when it is a list (those of a reply
    that may yet be replaced: they come out once it stands, or never)."""
    for event in events:
        if held is not None and isinstance(event, (ToolRequestStart, ToolRequestArgumentsDelta,
                                                   ToolRequestDone)):
            held.append(event)
        else:
            yield event


class Run:
    """One chat call in progress: the turns it added so far and where it stands, so that an
    interruption can keep them (see :meth:`interrupted`)."""

    __slots__ = ("contents", "requests", "results", "settled", "turns")

    def __init__(self, user: Turn) -> None:
        self.turns: list[Turn] = [user]
        self.contents: list[Content] | None = None  # the reply so far, while one is generated
        self.requests: list[ContentToolRequest] | None = None  # the tool calls being run
        self.results: list[Content] = []
        self.settled = False  # its turns are in the conversation (or were discarded)

    def record(self, event: StreamEvent) -> None:
        """Keep the reply's text and thinking as they stream in."""
        if self.contents is None:
            return
        add_delta(self.contents, event)

    def repeats(self, requests: Sequence[ContentToolRequest]) -> bool:
        """Whether every one of ``requests`` repeats a call this chat call already made (the
        same tool with the same arguments): small models loop on a call instead of answering."""
        return only_repeats(requests, frozenset(call_key(r) for t in self.turns for r in t.tool_requests))

    def interrupted(self) -> list[Turn]:
        """The turns to keep when the call stops now: those so far, tool calls that did not run
        answered with an error, and last the partial assistant reply marked cancelled."""
        turns = list(self.turns)
        if self.requests is not None:
            missing = [
                ContentToolResult(r.id, error="not run: the chat was interrupted", name=r.name)
                for r in self.requests[len(self.results):]
            ]
            results: list[Content] = [*self.results, *missing]
            turns.append(Turn("user", results))
        turns.append(Turn("assistant", list(self.contents or []), finish_reason="cancelled"))
        return turns


@contextmanager
def closing_events(events: Iterator[StreamEvent]) -> Iterator[Iterator[StreamEvent]]:
    """Close a provider's event stream when leaving (if it can be closed)."""
    try:
        yield events
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()


def cancelled(turn: Turn) -> Turn:
    """A reply the engine cancelled (``ctx.abort()``), without the tool calls it was making."""
    contents: list[Content] = [c for c in turn.contents if not isinstance(c, ContentToolRequest)]
    return Turn("assistant", contents, tokens=turn.tokens, finish_reason="cancelled")
