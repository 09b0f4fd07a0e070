"""From the batch queue to the event loop and to the client: :class:`Pending` is a request
submitted to :meth:`LlamaProvider.submit` (its events cross from the queue's worker thread into
an asyncio queue), :class:`ChatChunks` and :class:`TextChunks` make OpenAI's streamed chunks of
the events, and :func:`sse` streams them as server-sent events. A client that leaves (the SSE
task is cancelled, or a waiting request sees the disconnect) cancels its request, which frees
its sequence at the next decode step."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from typing import Any

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from llamaprov.chat import (
    LlamaProvider,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolRequestArgumentsDelta,
    ToolRequestDone,
    ToolRequestStart,
    Turn,
    TurnDone,
)
from llamaprov.errors import LlamaProvError
from llamaprov.serve import _convert
from llamaprov.serve._errors import APIError, from_llamaprov, internal_error
from llamaprov.serve._metrics import Metrics

_END = object()  # the request's future is done
# how often a request that is not streamed checks whether its client is still there
_DISCONNECT_POLL = 0.25


class ClientGone(Exception):
    """The client left before its reply was complete (nothing more is sent)."""


class Pending:
    """A request in the batch queue, seen from the event loop."""

    def __init__(self, provider: LlamaProvider, metrics: Metrics) -> None:
        self.provider = provider
        self.metrics = metrics
        self.loop = asyncio.get_running_loop()
        self.events: asyncio.Queue[Any] = asyncio.Queue()
        self.future: Future[Turn] | None = None
        self.started = time.monotonic()
        self._ended = False
        self._cancelled = False

    def _post(self, item: Any) -> None:
        # on the queue's worker thread; a closed loop raises, which fails the request (its
        # watcher raised), so a server shutting down stops decoding for it
        self.loop.call_soon_threadsafe(self.events.put_nowait, item)

    async def submit(self, call: Callable[..., Future[Turn]], *, stream: bool) -> None:
        """Submit with ``call(on_event=...)`` (in a worker thread: the prompt is rendered and
        tokenized there); llamaprov's errors become OpenAI-shaped ones."""
        def go() -> Future[Turn]:
            return call(on_event=self._post if stream else None)

        try:
            future = await run_in_threadpool(go)
        except LlamaProvError as exc:
            raise from_llamaprov(exc) from None
        self.future = future
        future.add_done_callback(lambda _: self._post(_END))

    def cancel(self) -> None:
        """Drop the request (a client that left): its sequence is freed at the next step."""
        if self.future is not None and not self.future.done() and not self._cancelled:
            self._cancelled = True
            self.provider.cancel([self.future])
            self.metrics.disconnect()

    def end(self) -> None:
        """The request is over for the client (finished, failed or left; counted once); one
        still decoding is cancelled."""
        self.cancel()
        if not self._ended:
            self._ended = True
            self.metrics.ended()

    async def events_until_done(self) -> AsyncIterator[Any]:
        """The request's events as they come; at the end, its turn's errors are raised."""
        while True:
            item = await self.events.get()
            if item is _END:
                break
            yield item
        self.turn()

    def turn(self) -> Turn:
        """The finished turn (raises the request's error as an :class:`APIError`)."""
        assert self.future is not None and self.future.done()
        try:
            turn = self.future.result()
        except LlamaProvError as exc:
            raise from_llamaprov(exc) from None
        except Exception:
            raise internal_error() from None
        tokens = turn.tokens
        if tokens is not None:
            self.metrics.tokens(tokens.input, tokens.output)
        return turn

    async def wait(self, request: Request) -> Turn:
        """The turn of a request that is not streamed; a client that leaves meanwhile cancels
        it (:class:`ClientGone`)."""
        assert self.future is not None
        wrapped = asyncio.wrap_future(self.future)
        try:
            while True:
                done, _ = await asyncio.wait({wrapped}, timeout=_DISCONNECT_POLL)
                if done:
                    return self.turn()
                if await request.is_disconnected():
                    self.cancel()
                    raise ClientGone
        except asyncio.CancelledError:
            self.cancel()
            raise


class ChatChunks:
    """The ``chat.completion.chunk`` objects of a streamed chat reply."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{time.time_ns():x}"
        self.model = model
        self.created = int(time.time())
        self._args: dict[int, str] = {}  # argument text streamed per call index

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.model, "system_fingerprint": None,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    def delta(self, event: Any) -> dict[str, Any] | None:
        """The delta of a stream event (None: nothing to send)."""
        if isinstance(event, TextDelta):
            return {"content": event.text} if event.text else None
        if isinstance(event, ThinkingDelta):
            return {"reasoning_content": event.text} if event.text else None
        if isinstance(event, ToolRequestStart):
            self._args[event.index] = ""
            return {"tool_calls": [{"index": event.index, "id": event.id, "type": "function",
                                    "function": {"name": event.name, "arguments": ""}}]}
        if isinstance(event, ToolRequestArgumentsDelta):
            self._args[event.index] = self._args.get(event.index, "") + event.delta
            return {"tool_calls": [{"index": event.index, "function": {"arguments": event.delta}}]}
        if isinstance(event, ToolRequestDone):
            streamed = self._args.get(event.index)
            if streamed is None:  # a call whose start was not announced: send it whole
                return {"tool_calls": [_convert.tool_call(event.request, event.index)]}
            if not streamed:  # a format that streams no argument text: send the arguments
                args = json.dumps(event.request.arguments, ensure_ascii=False)
                return {"tool_calls": [{"index": event.index, "function": {"arguments": args}}]}
        return None

    def usage(self, turn: Turn) -> dict[str, Any]:
        """The last chunk with ``stream_options.include_usage``: no choices, the usage."""
        out = self.chunk({})
        out["choices"] = []
        out["usage"] = _convert.usage(turn.tokens)
        return out


class TextChunks:
    """The ``text_completion`` chunks of a streamed text completion."""

    def __init__(self, model: str) -> None:
        self.id = f"cmpl-{time.time_ns():x}"
        self.model = model
        self.created = int(time.time())

    def chunk(self, text: str, finish: str | None = None) -> dict[str, Any]:
        return {"id": self.id, "object": "text_completion", "created": self.created, "model": self.model,
                "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}]}

    def delta(self, event: Any) -> dict[str, Any] | None:
        if isinstance(event, TextDelta) and event.text:
            return self.chunk(event.text)
        return None

    def usage(self, turn: Turn) -> dict[str, Any]:
        out = self.chunk("")
        out["choices"] = []
        out["usage"] = _convert.usage(turn.tokens)
        return out


async def _deltas(pending: Pending, convert: Callable[[StreamEvent], Any],
                  done: list[Turn]) -> AsyncIterator[Any]:
    """The events of ``pending`` as ``convert`` makes them deltas (None: nothing to send), as
    they are decoded; the first one's time is the request's time to first token. ``done``
    receives the finished turn."""
    first = True
    async for event in pending.events_until_done():
        if isinstance(event, TurnDone):
            done.append(event.turn)
            continue
        delta = convert(event)
        if delta is not None:
            if first:
                pending.metrics.first_token(time.monotonic() - pending.started)
                first = False
            yield delta


async def chat_stream(pending: Pending, chunks: ChatChunks,
                      include_usage: bool) -> AsyncIterator[dict[str, Any]]:
    """The chunks of a streamed chat reply (the first one announces the role)."""
    yield chunks.chunk({"role": "assistant", "content": ""})
    done: list[Turn] = []
    async for delta in _deltas(pending, chunks.delta, done):
        yield chunks.chunk(delta)
    turn = done[0] if done else pending.turn()
    yield chunks.chunk({}, _convert.finish_reason(turn))
    if include_usage:
        yield chunks.usage(turn)


async def text_stream(pending: Pending, chunks: TextChunks,
                      include_usage: bool) -> AsyncIterator[dict[str, Any]]:
    """The chunks of a streamed text completion."""
    done: list[Turn] = []
    async for chunk in _deltas(pending, chunks.delta, done):
        yield chunk
    turn = done[0] if done else pending.turn()
    yield chunks.chunk("", _convert.finish_reason(turn))
    if include_usage:
        yield chunks.usage(turn)


def sse(pending: Pending, chunks: AsyncIterator[dict[str, Any]]) -> Any:
    """A server-sent-events response of ``chunks``, ended by ``[DONE]``; an error after the
    stream began is sent as an ``{"error": ...}`` event; a client that leaves cancels the
    request."""
    from sse_starlette.sse import EventSourceResponse

    async def events() -> AsyncIterator[dict[str, str]]:
        try:
            async for chunk in chunks:
                yield {"data": json.dumps(chunk, ensure_ascii=False)}
        except APIError as exc:
            yield {"data": json.dumps(exc.body())}
        except Exception:
            yield {"data": json.dumps(internal_error().body())}
        finally:
            pending.end()
        yield {"data": "[DONE]"}

    async def after() -> None:  # also when the client left before the stream began
        pending.end()

    return EventSourceResponse(events(), ping=15, background=BackgroundTask(after))


__all__ = ["ChatChunks", "ClientGone", "Pending", "TextChunks", "chat_stream", "sse", "text_stream"]
