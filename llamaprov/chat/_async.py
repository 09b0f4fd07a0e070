"""Async iteration over a blocking event stream, produced on a worker thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
_DONE = object()


async def iterate_in_thread(start: Callable[[threading.Event], Iterator[T]], *,
                            name: str) -> AsyncGenerator[T, None]:
    """Yield the items of ``start(stop)`` while a worker thread produces them.

    The event loop never blocks on llama.cpp: the worker hands each item over as soon as it is
    decoded. When the consumer leaves early, ``stop`` is set and the iterator is closed, which
    ends the engine generation at once.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    stop = threading.Event()

    def produce() -> None:
        events: Iterator[T] | None = None
        try:
            events = start(stop)
            for event in events:
                loop.call_soon_threadsafe(queue.put_nowait, event)
                if stop.is_set():
                    break
            loop.call_soon_threadsafe(queue.put_nowait, _DONE)
        except BaseException as exc:
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        if worker.is_alive():
            await asyncio.to_thread(worker.join)
