"""The server's metrics, rendered in Prometheus' text format for ``GET /metrics``: requests by
endpoint and status, tokens, requests in flight, time to first token, and the batch queue
(queued and running requests, KV cells reserved of the shared context)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping

_PREFIX = "llamaprov"


class Metrics:
    """Counters updated by the routes (from any thread) and ``queue()``: a callable returning the
    provider's :meth:`~llamaprov.chat.LlamaProvider.batch_stats`."""

    def __init__(self, queue: Callable[[], Mapping[str, int]]) -> None:
        self._queue = queue
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, int]] = Counter()
        self._prompt_tokens = 0
        self._completion_tokens = 0
        self._in_flight = 0
        self._ttft_sum = 0.0
        self._ttft_count = 0
        self._disconnects = 0

    def started(self) -> None:
        """A generation request began."""
        with self._lock:
            self._in_flight += 1

    def ended(self) -> None:
        """A generation request ended (however it did)."""
        with self._lock:
            self._in_flight -= 1

    def request(self, endpoint: str, status: int) -> None:
        """A request to ``endpoint`` was answered with ``status``."""
        with self._lock:
            self._requests[(endpoint, status)] += 1

    def tokens(self, prompt: int, completion: int) -> None:
        """Tokens a request used."""
        with self._lock:
            self._prompt_tokens += prompt
            self._completion_tokens += completion

    def first_token(self, seconds: float) -> None:
        """A streamed reply sent its first token ``seconds`` after the request came."""
        with self._lock:
            self._ttft_sum += seconds
            self._ttft_count += 1

    def disconnect(self) -> None:
        """A client left before its reply was complete (its sequence was freed)."""
        with self._lock:
            self._disconnects += 1

    def render(self) -> str:
        """The metrics in Prometheus' text exposition format (0.0.4)."""
        stats = dict(self._queue())
        n_ctx = max(1, stats.get("n_ctx", 1))
        lines: list[str] = []

        def metric(name: str, kind: str, doc: str, samples: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP {_PREFIX}_{name} {doc}")
            lines.append(f"# TYPE {_PREFIX}_{name} {kind}")
            lines.extend(f"{_PREFIX}_{name}{labels} {value:g}" for labels, value in samples)

        with self._lock:
            requests = sorted(self._requests.items())
            metric("requests_total", "counter", "HTTP requests answered, by endpoint and status.",
                   [(f'{{endpoint="{e}",status="{s}"}}', n) for (e, s), n in requests])
            metric("prompt_tokens_total", "counter", "Prompt tokens of finished requests.",
                   [("", self._prompt_tokens)])
            metric("completion_tokens_total", "counter", "Tokens generated for finished requests.",
                   [("", self._completion_tokens)])
            metric("requests_in_flight", "gauge", "Generation requests being served.",
                   [("", self._in_flight)])
            metric("client_disconnects_total", "counter",
                   "Clients that left before their reply was complete.", [("", self._disconnects)])
            metric("time_to_first_token_seconds", "summary",
                   "Seconds from a streamed request to its first token.",
                   [("_sum", self._ttft_sum), ("_count", self._ttft_count)])
        metric("queue_depth", "gauge", "Requests waiting for a free sequence of the batch.",
               [("", stats.get("queued", 0))])
        metric("running_sequences", "gauge", "Requests being decoded together.",
               [("", stats.get("running", 0))])
        metric("kv_cells_used", "gauge", "KV cache cells reserved by the running requests.",
               [("", stats.get("cells", 0))])
        metric("kv_cells_total", "gauge", "KV cache cells of the shared context.", [("", n_ctx)])
        metric("kv_cache_usage_ratio", "gauge", "Share of the KV cache reserved (0 to 1).",
               [("", stats.get("cells", 0) / n_ctx)])
        return "\n".join(lines) + "\n"


__all__ = ["Metrics"]
