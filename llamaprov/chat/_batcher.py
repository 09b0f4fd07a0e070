"""The batch queue: requests decoded together as parallel sequences of one context.

A :class:`_Batcher` takes requests from any thread; one worker thread keeps admitting queued
requests into free sequences of a shared context between decode steps (continuous batching) and
resolves each request's future with what its ``finish`` callback makes of the completion, or
goes on decoding the request with the generation the callback returns instead (a request in
phases: the thinking of a reasoning model, then its answer; or an answer decoded in place of a
reply that only repeated calls). It knows nothing of providers: the
model and its settings are given to it.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import CancelledError, Future
from typing import Any, Generic, Protocol, TypeVar

from llamaprov.chat.turns import Turn
from llamaprov.engine import Completion, LoraAdapter, Model, SamplingParams
from llamaprov.errors import ClosedError


class Generation(Protocol):
    """What the queue needs of a request: the prompt's tokens and how to decode them, and the KV
    cells the whole request may fill (``cells``: its prompt and every token any of its phases
    may add)."""

    @property
    def tokens(self) -> list[int]: ...
    @property
    def cells(self) -> int: ...
    @property
    def max_tokens(self) -> int: ...
    @property
    def stop(self) -> Sequence[str]: ...
    @property
    def sampling(self) -> SamplingParams: ...
    @property
    def special(self) -> bool: ...
    @property
    def lora(self) -> Mapping[LoraAdapter, float] | None: ...


G = TypeVar("G", bound=Generation)


# a request's watcher: called with its plan and its completion after each decode step
Watch = Callable[[Any, Completion], None]


class _Job(Generic[G]):
    __slots__ = ("future", "plan", "reserved", "watch")

    def __init__(self, plan: G, n_ctx: int, watch: Watch | None = None) -> None:
        self.plan = plan
        self.future: Future[Turn] = Future()
        self.reserved = min(plan.cells, n_ctx)
        self.watch = watch


# seconds the exit hook waits for a worker to finish its decode step (one step, normally)
_EXIT_WAIT = 60.0
_live: weakref.WeakSet[_Batcher] = weakref.WeakSet()
_exit_hook_lock = threading.Lock()
_exit_hooked = False


def _close_at_exit() -> None:
    for batcher in list(_live):
        batcher.close("the interpreter is exiting", timeout=_EXIT_WAIT)


def _hook_exit() -> None:
    """Register :func:`_close_at_exit` once, when the first worker starts (atexit runs the
    latest registration first, so this runs before hooks registered at import time)."""
    global _exit_hooked
    with _exit_hook_lock:
        if not _exit_hooked:
            atexit.register(_close_at_exit)
            _exit_hooked = True


class _Batcher(Generic[G]):
    """The queue and worker thread behind :meth:`LlamaProvider.submit`.

    Its contexts are created on ``model`` with ``n_ctx`` tokens, ``max_parallel`` sequences and
    ``n_threads`` threads (None: the engine's default); ``finish(request, completion)`` makes the
    turn a request's future resolves to, or returns the request's next generation, which goes on
    in the same sequence: it reuses the cache of what was decoded so far as far as its tokens
    agree (the scheduler drops the rest, e.g. a reply decoded again from its prompt), and needs
    no more cells than the request reserved.

    The worker creates the shared context when work arrives and frees it when the queue runs
    dry. The context's KV cache is unified: a request is admitted only while the cells reserved
    by the requests admitted since the cache was last emptied (prompt + max_tokens each) leave
    room for it, so decoding never runs out of cells; a request alone may use the whole
    context. Cells of finished requests stay until every running one is done: freeing them
    early would let later tokens land out of order in the cache, and greedy answers would then
    differ from those of a request decoded alone. Requests with different LoRA adapter sets
    run together too: the scheduler decodes each set in a ``llama_decode`` of its own.

    The worker is a daemon thread, and an exit hook closes every batcher when the interpreter
    exits: queued requests fail with ClosedError at once, running ones stop at the end of the
    current decode step, and the hook waits for the worker to end, so the model is never
    freed under a decode and exiting never waits for queued work.
    """

    def __init__(self, model: Model, *, n_ctx: int, max_parallel: int, n_threads: int | None,
                 finish: Callable[[G, Completion], Turn | G]) -> None:
        self._model = model
        self._n_ctx = n_ctx
        self._max_parallel = max_parallel
        self._n_threads = n_threads
        self._finish = finish
        self._cond = threading.Condition()
        self._queue: deque[_Job[G]] = deque()
        self._thread: threading.Thread | None = None
        self._closed: str | None = None  # why, once closed
        self._dropped: set[Future[Turn]] = set()  # running requests to stop (see cancel)
        # contexts created and most requests decoded together (for tests and diagnostics)
        self.contexts = 0
        self.peak = 0
        # requests being decoded and the KV cells reserved for them (for metrics)
        self.running = 0
        self.cells = 0

    @property
    def queued(self) -> int:
        """How many requests wait for a free sequence."""
        with self._cond:
            return len(self._queue)

    @property
    def n_ctx(self) -> int:
        """The size of the shared context in tokens."""
        return self._n_ctx

    def submit(self, plan: G, watch: Watch | None = None) -> Future[Turn]:
        """Queue ``plan``; returns the future of its turn. ``watch(plan, completion)`` is called
        on the worker thread after every decode step the request takes part in (also the step
        that finishes it, before its future is resolved); an exception it raises fails the
        request and stops its generation."""
        job = _Job(plan, self._n_ctx, watch)
        with self._cond:
            if self._closed:
                raise ClosedError(f"this provider is closed ({self._closed})")
            self._queue.append(job)
            if self._thread is None:
                _hook_exit()
                _live.add(self)
                self._thread = threading.Thread(target=self._work, name="llamaprov-batcher",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()
        return job.future

    def close(self, reason: str = "the provider was closed", timeout: float | None = None) -> None:
        """Fail the queued requests with ClosedError, stop the running ones at the next step and
        wait (up to ``timeout`` seconds) for the worker to end."""
        with self._cond:
            self._closed = self._closed or reason
            queued = list(self._queue)
            self._queue.clear()
            thread = self._thread
            self._cond.notify_all()
        for job in queued:
            if job.future.set_running_or_notify_cancel():
                job.future.set_exception(ClosedError(f"{reason} while the request was queued"))
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def cancel(self, futures: Iterable[Future[Turn]]) -> None:
        """Drop requests: queued ones are cancelled, running ones stop at the next step (their
        futures fail with CancelledError)."""
        wanted = set(futures)
        with self._cond:
            kept = [job for job in self._queue if job.future not in wanted]
            for job in self._queue:
                if job.future in wanted:
                    job.future.cancel()
            self._queue = deque(kept)
            self._dropped |= {f for f in wanted if not f.done()}
            self._cond.notify()

    def _stop_dropped(self, running: dict[Any, _Job[G]]) -> None:
        with self._cond:
            dropped, self._dropped = self._dropped, set()
        for completion, job in list(running.items()):
            if job.future in dropped:
                completion.close()
                del running[completion]
                job.future.set_exception(CancelledError())

    @staticmethod
    def _watch(running: dict[Any, _Job[G]]) -> None:
        """Call the watchers of the running requests; one that raises fails its request."""
        for completion, job in list(running.items()):
            if job.watch is None:
                continue
            try:
                job.watch(job.plan, completion)
            except Exception as exc:
                completion.close()
                del running[completion]
                job.future.set_exception(exc)

    def _admit(self, running: dict[Any, _Job[G]], used: int, n_ctx: int) -> list[_Job[G]]:
        """Jobs to start now (called with the lock held)."""
        taken: list[_Job[G]] = []
        while self._queue and len(running) + len(taken) < self._max_parallel:
            job = self._queue[0]
            if (running or taken) and used + job.reserved > n_ctx:
                break
            self._queue.popleft()
            if job.future.set_running_or_notify_cancel():
                taken.append(job)
                used += job.reserved
        return taken

    def _start(self, scheduler: Any, job: _Job[G], running: dict[Any, _Job[G]],
               seq_id: int | None = None) -> bool:
        """Submit the job's current generation (in ``seq_id``, else a free sequence); False
        when the scheduler refused it (the job's future then holds the error)."""
        plan = job.plan
        try:
            completion = scheduler.submit(
                plan.tokens, max_tokens=plan.max_tokens, stop=plan.stop, sampling=plan.sampling,
                special=plan.special, lora=plan.lora, seq_id=seq_id,
            )
        except Exception as exc:
            job.future.set_exception(exc)
            return False
        running[completion] = job
        return True

    def _work(self) -> None:
        n_ctx = self._n_ctx
        kwargs: dict[str, Any] = {"n_ctx": n_ctx, "n_seq_max": self._max_parallel}
        if self._n_threads is not None:
            kwargs["n_threads"] = self._n_threads
        ctx = None
        running: dict[Any, _Job[G]] = {}
        used = 0
        try:
            ctx = self._model.new_context(**kwargs)
            self.contexts += 1
            scheduler = ctx.scheduler()
            while True:
                with self._cond:
                    if self._closed:
                        raise ClosedError(f"{self._closed} before the request finished")
                    if not running and not self._queue:
                        self._thread = None
                        self.running = self.cells = 0
                        return
                    if not running and used:
                        ctx.memory.clear()
                        used = 0
                    taken = self._admit(running, used, n_ctx)
                for job in taken:
                    if self._start(scheduler, job, running):
                        used += job.reserved
                self._stop_dropped(running)
                self.peak = max(self.peak, len(running))
                self.running, self.cells = len(running), used
                finished = scheduler.step()
                self._watch(running)
                for completion in finished:
                    found = running.pop(completion, None)
                    if found is None:  # failed by its watcher
                        continue
                    job = found
                    try:
                        outcome = self._finish(job.plan, completion)
                    except Exception as exc:
                        job.future.set_exception(exc)
                        continue
                    if isinstance(outcome, Turn):
                        job.future.set_result(outcome)
                    else:  # the request goes on: its cells stay reserved
                        job.plan = outcome
                        self._start(scheduler, job, running, completion.seq_id)
        except BaseException as exc:
            with self._cond:
                self._thread = None
                self.running = self.cells = 0
                failed = [*running.values(), *self._queue]
                self._queue.clear()
            for job in failed:
                future = job.future
                if not future.done() and (future.running() or future.set_running_or_notify_cancel()):
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            for completion in running:
                completion.close()
            if ctx is not None:
                ctx.close()
