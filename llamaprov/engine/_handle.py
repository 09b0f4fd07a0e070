"""A base for objects that own a llama.cpp pointer: close(), context manager, GC finalizer."""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import ClosedError


class _Handle:
    """Owns one native pointer; freed once by ``close()``, ``with``-exit, or garbage collection.

    Subclasses call ``_set_handle(ptr, free_fn)`` and read the pointer through ``_ptr``, which
    raises :class:`ClosedError` after close instead of handing a dangling pointer to C.
    """

    _kind = "object"

    def _set_handle(self, ptr: Any, free: Callable[[Any], None]) -> None:
        self._raw = ptr
        self._close_lock = threading.Lock()
        # calls running under _using(); close() waits for them and refuses new ones
        self._users = 0
        self._closing = False
        self._idle = threading.Condition(self._close_lock)
        self._finalizer = weakref.finalize(self, free, ptr)

    @contextlib.contextmanager
    def _using(self) -> Iterator[Any]:
        """Hold the pointer for one native call: a close() from another thread waits for it."""
        with self._close_lock:
            if getattr(self, "_raw", None) is None or self._closing:
                raise ClosedError(f"this {self._kind} is closed")
            self._users += 1
        try:
            yield self._raw
        finally:
            with self._close_lock:
                self._users -= 1
                if not self._users:
                    self._idle.notify_all()

    @property
    def _ptr(self) -> Any:
        raw = getattr(self, "_raw", None)
        if raw is None:
            raise ClosedError(f"this {self._kind} is closed")
        return raw

    @property
    def closed(self) -> bool:
        """True once the native object has been freed."""
        return getattr(self, "_raw", None) is None

    def close(self) -> None:
        """Free the native object now. Safe to call twice."""
        if getattr(self, "_raw", None) is None:
            return
        with self._close_lock:
            if self._raw is None or self._closing:
                return
            self._closing = True
            while self._users:
                self._idle.wait()
        # no lock of ours is held from here: dependents closed by _before_close (a model's
        # contexts) may be finishing a call that waits on us
        with self._native_guard():
            try:
                self._before_close()
            finally:
                self._raw = None
                self._finalizer()

    def _before_close(self) -> None:
        """Hook for subclasses: release dependents before the pointer is freed."""

    def _native_guard(self) -> contextlib.AbstractContextManager[Any]:
        """Held while the pointer is freed: subclasses return the lock their native calls hold,
        so a close from another thread waits for a running call instead of freeing under it."""
        return contextlib.nullcontext()

    def __enter__(self) -> Any:
        self._ptr  # noqa: B018 - raises ClosedError when already closed
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
