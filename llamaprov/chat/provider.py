"""The :class:`Provider` interface: what a :class:`~llamaprov.chat.chat.Chat` talks to (ellmer's
vocabulary). :class:`~llamaprov.chat.provider_llama.LlamaProvider` implements it on a local model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from typing import Any

from llamaprov.chat.content import (
    ContentJson,
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
)
from llamaprov.chat.events import StreamEvent, TurnDone
from llamaprov.chat.params import ChatParams
from llamaprov.chat.tools import ToolDef, run_tool, tool
from llamaprov.chat.turns import TokenUsage, Turn, as_turn
from llamaprov.chat.types import parse_structured
from llamaprov.errors import LlamaProvError, NotSupportedError


class Provider(ABC):
    """The interface between a Chat and a model backend.

    A backend implements :meth:`stream_perform`, :meth:`format_turns`, :meth:`tokens_used` and
    :meth:`model_info`; one that can queue requests from any thread also overrides
    :meth:`submit` (and :meth:`cancel`), which :func:`~llamaprov.chat.parallel.parallel_chat`
    builds on.
    """

    @abstractmethod
    def stream_perform(
        self,
        turns: Sequence[Turn],
        *,
        tools: Sequence[ToolDef] = (),
        type: Any = None,
        params: ChatParams | dict[str, Any] | None = None,
        tool_choice: str = "auto",
        parallel_tool_calls: bool | None = None,
        max_tool_calls: int | None = None,
    ) -> Iterator[StreamEvent]:
        """Generate the next assistant turn, yielding events; the last is ``TurnDone``.

        ``parallel_tool_calls``: whether the reply may hold several tool calls (None: the
        backend's default); ``max_tool_calls``: at most how many when it may (None: no bound).
        """

    def chat_perform(
        self,
        turns: Sequence[Turn],
        *,
        tools: Sequence[ToolDef] = (),
        type: Any = None,
        params: ChatParams | dict[str, Any] | None = None,
        tool_choice: str = "auto",
        parallel_tool_calls: bool | None = None,
        max_tool_calls: int | None = None,
    ) -> Turn:
        """Generate the next assistant turn (the arguments of :meth:`stream_perform`)."""
        turn: Turn | None = None
        for event in self.stream_perform(
            turns, tools=tools, type=type, params=params, tool_choice=tool_choice,
            parallel_tool_calls=parallel_tool_calls, max_tool_calls=max_tool_calls,
        ):
            if isinstance(event, TurnDone):
                turn = event.turn
        if turn is None:  # pragma: no cover - stream_perform always ends with TurnDone
            raise LlamaProvError("the provider produced no turn")
        return turn

    def submit(
        self,
        turns: Sequence[Turn],
        *,
        tools: Sequence[ToolDef] = (),
        type: Any = None,
        params: ChatParams | dict[str, Any] | None = None,
        tool_choice: str = "auto",
        parallel_tool_calls: bool | None = None,
        max_tool_calls: int | None = None,
    ) -> Future[Turn]:
        """Queue a request from any thread (the arguments of :meth:`stream_perform`); returns a
        future of the assistant turn.

        An optional capability (see :attr:`supports_submit`): a provider that offers it overrides
        this method; here it raises :class:`~llamaprov.errors.NotSupportedError`.
        """
        raise NotSupportedError(f"{self.__class__.__name__} does not support submit (queued requests)")

    @property
    def supports_submit(self) -> bool:
        """Whether this provider queues requests with :meth:`submit` (parallel chats need it)."""
        return self.__class__.submit is not Provider.submit

    def cancel(self, futures: Iterable[Future[Turn]]) -> None:
        """Drop submitted requests: queued ones are cancelled; a provider that can stop running
        ones overrides this to stop them too."""
        for future in futures:
            future.cancel()

    def as_turn(self, value: Any, *, role: str = "user") -> Turn:
        """A Turn from a string, content(s) or Turn."""
        return as_turn(value, role=role)

    @abstractmethod
    def format_turns(self, turns: Sequence[Turn], tools: Sequence[ToolDef] = ()) -> Any:
        """The backend's request for ``turns`` (for a local model: the prompt text)."""

    def as_tool(self, func: Callable[..., Any] | ToolDef) -> ToolDef:
        """A ToolDef from a function (or a ToolDef as is)."""
        return func if isinstance(func, ToolDef) else tool(func)

    def tool_call(
        self, request: ContentToolRequest, tools: Sequence[ToolDef], **kwargs: Any
    ) -> ContentToolResult:
        """Run the tool a request names; every failure becomes an error result."""
        for td in tools:
            if td.name == request.name:
                return run_tool(td, request, **kwargs)
        known = ", ".join(t.name for t in tools) or "none"
        return ContentToolResult(
            request.id, error=f"unknown tool {request.name!r} (tools: {known})", name=request.name
        )

    def structured_output(
        self,
        turns: Sequence[Turn],
        *,
        type: Any,
        params: ChatParams | dict[str, Any] | None = None,
    ) -> tuple[Any, Turn]:
        """Generate JSON for ``type``; returns (validated value, assistant turn: the data, after
        the thinking of a reasoning model if it thought).

        Raises :class:`~llamaprov.errors.StructuredOutputError` (with ``raw``) when the output
        does not parse or validate.
        """
        turn = self.chat_perform(turns, type=type, params=params)
        value, data = parse_structured(turn, type)
        thinking = [c for c in turn.contents if isinstance(c, ContentThinking)]
        turn.contents = [*thinking, ContentJson(data)]
        return value, turn

    @abstractmethod
    def tokens_used(self) -> TokenUsage:
        """Tokens used by every request of this provider."""

    @abstractmethod
    def model_info(self) -> dict[str, Any]:
        """Facts about the model behind this provider."""


__all__ = ["Provider"]
