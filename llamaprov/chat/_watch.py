"""Stream events of a request decoded in the batch queue (:meth:`LlamaProvider.submit` with
``on_event``): :class:`StreamWatch` is the request's watcher in the :class:`_Batcher`; after each
decode step it parses the text the step added into the events
:meth:`LlamaProvider.stream_perform` yields for the same request, in the same order, and hands
them to a callback (on the queue's worker thread)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from llamaprov.chat._plan import _Plan
from llamaprov.chat._run import withhold_calls
from llamaprov.chat.events import StreamEvent, ThinkingDelta, TurnDone
from llamaprov.chat.turns import Turn
from llamaprov.engine import Completion


class StreamWatch:
    """The watcher of one queued request: ``on_event`` gets its text, thinking and tool-call
    events as they are decoded, then ``TurnDone`` with the turn the request's future resolves
    to (see :meth:`done`); nothing more when the request fails or is cancelled.

    ``parser_for(plan)`` makes the stream parser of a phase that is parsed (the provider's). A
    thinking phase (``plan.answer`` set) yields its text as ``ThinkingDelta``; under
    ``tool_choice="auto"`` with an answer form, the tool-call events wait until the reply
    stands, as in ``stream_perform`` (a reply that only repeats answered calls is replaced).
    """

    def __init__(self, parser_for: Callable[[_Plan], Any], on_event: Callable[[StreamEvent], None]) -> None:
        self._parser_for = parser_for
        self._emit = on_event
        self._completion: Completion | None = None
        self._parser: Any = None
        self._seen = 0  # characters of the completion's text already parsed
        self._held: list[StreamEvent] = []

    def __call__(self, plan: _Plan, completion: Completion) -> None:
        if completion is not self._completion:  # a new phase of the request
            if plan.spent is not None:  # an answer replacing a reply: its calls never come
                self._held.clear()
            self._completion, self._seen = completion, 0
            self._parser = None if plan.answer is not None else self._parser_for(plan)
        text = completion.text
        new, self._seen = text[self._seen:], len(text)
        hold = self._held if plan.instead is not None else None
        if new:
            if self._parser is None:
                self._emit(ThinkingDelta(new))
            else:
                for event in withhold_calls(self._parser.feed(new), hold):
                    self._emit(event)
        if completion.done and self._parser is not None:
            final, _ = self._parser.finish()
            for event in withhold_calls(final, hold):
                self._emit(event)

    def done(self, future: Future[Turn]) -> None:
        """The future's done-callback: the held tool-call events and ``TurnDone``."""
        if future.cancelled() or future.exception() is not None:
            return
        for event in self._held:
            self._emit(event)
        self._emit(TurnDone(future.result()))


__all__ = ["StreamWatch"]
