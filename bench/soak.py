"""Soak: a mixed workload on one model for a long time, watching for errors, leaks and stalls.

Worker threads loop over a random mix of requests until the time is up: chat (short multi-turn
conversations), streaming, structured output, tool calls, embeddings, queued parallel submits,
and cancellations (a stream abandoned after a few chunks, a queued submit cancelled, an engine
completion closed mid-way). Every minute it prints the resident set size and the counts so far;
at the end: requests served (by kind), errors (by type), p50/p99 latency (overall and by kind)
and the RSS of every minute.

    python bench/soak.py [--minutes 10] [--threads 4] [--max-tokens 16] [--seed 0] [--model PATH]
                         [--n-threads N] [--max-rss-growth MB]

Exit status 1 when a request failed with an error that is not an expected outcome (see
``EXPECTED``), or when RSS grew more than ``--max-rss-growth`` MB after the first minute.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

PROMPTS = [
    "Name an ocean.", "Write the word apple.", "What is 2+2?", "Say yes or no.", "Name a planet.",
    "Greet me.", "What day comes after Monday?", "List three numbers.", "Spell dog.",
    "Tell me a fact about cats.", "Summarize: the sky is blue because of Rayleigh scattering.",
]
DOCS = ["Cats sleep a lot.", "The ocean is salty.", "Paris is in France.", "Rust is a language.",
        "Tea is a drink made from leaves.", "Mars is the fourth planet."]
# errors a request may legitimately end in (the model's own output, a deliberate cancellation)
EXPECTED = {"StructuredOutputError", "CancelledError"}


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first integer.
        b: the second integer.
    """
    return a + b


class Stats:
    """Thread-safe tallies: latencies by kind, errors by type, examples of unexpected errors."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = collections.defaultdict(list)
        self.errors: collections.Counter[str] = collections.Counter()
        self.unexpected: list[str] = []

    def ok(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.latency[kind].append(seconds)

    def failed(self, kind: str, exc: BaseException) -> None:
        name = type(exc).__name__
        with self.lock:
            self.errors[f"{kind}: {name}"] += 1
            if name not in EXPECTED and len(self.unexpected) < 20:
                self.unexpected.append(f"{kind}: {name}: {exc}\n{traceback.format_exc(limit=6)}")

    def served(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.latency.values())

    def n_errors(self) -> int:
        with self.lock:
            return sum(self.errors.values())


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by the nearest-rank method."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


class Workload:
    """The shared objects (model, embedder, a provider for queued submits) and one request of
    each kind, run by :meth:`run_one` in any worker thread."""

    def __init__(self, model: Any, max_tokens: int, n_threads: int | None = None) -> None:
        import llamaprov

        self.llamaprov = llamaprov
        self.model = model
        self.max_tokens = max_tokens
        self.n_threads = n_threads
        self.embed = llamaprov.embed_llamaprov(model, n_threads=n_threads)
        self.shared = llamaprov.LlamaProvider(model, n_ctx=2048, max_parallel=8, n_threads=n_threads)
        self.schema = {"type": "object", "properties": {"answer": {"type": "string", "maxLength": 8}},
                       "required": ["answer"]}
        self.kinds: dict[str, Callable[[Any, random.Random], None]] = {
            "chat": self.chat, "stream": self.stream, "structured": self.structured,
            "tool_call": self.tool_call, "embed": self.embeddings, "parallel_submit": self.submit,
            "cancel_stream": self.cancel_stream, "cancel_submit": self.cancel_submit,
            "cancel_completion": self.cancel_completion,
        }

    def new_chat(self) -> Any:
        """A worker's own chat (its own context on the shared model)."""
        return self.llamaprov.chat_llamaprov(
            self.model, n_ctx=1024, params={"max_tokens": self.max_tokens, "temperature": 0.7},
            tools=[add], tool_choice="none", max_tool_rounds=1, n_threads=self.n_threads)

    def _fresh(self, chat: Any, rnd: random.Random) -> None:
        if len(chat.get_turns()) >= 6 or rnd.random() < 0.3:
            chat.set_turns([])

    def chat(self, chat: Any, rnd: random.Random) -> None:
        self._fresh(chat, rnd)
        text = chat.chat(rnd.choice(PROMPTS))
        assert isinstance(text, str)

    def stream(self, chat: Any, rnd: random.Random) -> None:
        self._fresh(chat, rnd)
        pieces = list(chat.stream(rnd.choice(PROMPTS)))
        assert all(isinstance(p, str) for p in pieces)

    def structured(self, chat: Any, rnd: random.Random) -> None:
        chat.set_turns([])
        value = chat.chat_structured(rnd.choice(PROMPTS), type=self.schema)
        assert isinstance(value, dict) and "answer" in value

    def tool_call(self, chat: Any, rnd: random.Random) -> None:
        chat.set_turns([])
        a, b = rnd.randint(1, 50), rnd.randint(1, 50)
        chat.chat(f"What is {a} plus {b}? Use the add tool.", tool_choice="required")

    def embeddings(self, chat: Any, rnd: random.Random) -> None:
        vectors = self.embed(rnd.sample(DOCS, rnd.randint(1, len(DOCS))))
        assert vectors.shape[1] == self.embed.dim

    def _turns(self, prompt: str) -> list[Any]:
        from llamaprov.chat import ContentText, Turn

        return [Turn("user", [ContentText(prompt)])]

    def submit(self, chat: Any, rnd: random.Random) -> None:
        params = {"max_tokens": self.max_tokens, "temperature": 0}
        futures = [self.shared.submit(self._turns(p), params=params)
                   for p in rnd.sample(PROMPTS, rnd.randint(2, 6))]
        for f in futures:
            assert isinstance(f.result(timeout=600).text, str)

    def cancel_stream(self, chat: Any, rnd: random.Random) -> None:
        chat.set_turns([])
        stream = chat.stream("Tell me a long story about the sea.")
        for i, _ in enumerate(stream):
            if i >= rnd.randint(0, 3):
                break
        stream.close()  # abandoned: the generation must stop and free the context

    def cancel_submit(self, chat: Any, rnd: random.Random) -> None:
        params = {"max_tokens": self.max_tokens * 4, "temperature": 0.7}
        futures = [self.shared.submit(self._turns("Tell me a story."), params=params) for _ in range(3)]
        for f in futures:
            f.cancel()
        for f in futures:
            if not f.cancelled():
                f.result(timeout=600)

    def cancel_completion(self, chat: Any, rnd: random.Random) -> None:
        with self.model.new_context(n_ctx=256, n_threads=self.n_threads) as ctx:
            completion = ctx.completion("Once upon a time", max_tokens=64, temperature=0.8)
            for _ in range(rnd.randint(1, 4)):
                next(completion, None)
            completion.close()
            assert completion.finish_reason in ("cancelled", "eog", "length", "stop")

    def close(self) -> None:
        self.shared.close()


def worker(load: Workload, stats: Stats, deadline: float, seed: int, stop: threading.Event) -> None:
    """Run random requests until ``deadline``."""
    rnd = random.Random(seed)
    chat = load.new_chat()
    kinds = list(load.kinds)
    weights = [4, 3, 2, 2, 2, 2, 1, 1, 1]
    while time.monotonic() < deadline and not stop.is_set():
        kind = rnd.choices(kinds, weights)[0]
        start = time.perf_counter()
        try:
            load.kinds[kind](chat, rnd)
        except Exception as exc:
            stats.failed(kind, exc)
            if not (kind == "structured" and type(exc).__name__ == "StructuredOutputError"):
                chat.set_turns([])
        else:
            stats.ok(kind, time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default=None)
    parser.add_argument("--n-threads", type=int, default=None,
                        help="CPU threads per context (default: the engine's, one per core)")
    parser.add_argument("--max-rss-growth", type=float, default=50.0,
                        help="MB of RSS growth after the first minute that fails the soak")
    args = parser.parse_args()

    from llamaprov.engine import default_model_path, load_model

    model = load_model(args.model or default_model_path())
    load = Workload(model, args.max_tokens, args.n_threads)
    stats = Stats()
    stop = threading.Event()
    start = time.monotonic()
    deadline = start + args.minutes * 60
    rss = [(0.0, rss_mb())]
    print(f"soak: {args.minutes:g} min, {args.threads} threads, max_tokens={args.max_tokens}, "
          f"model {model.path.name}, RSS at start {rss[0][1]:.1f} MB", flush=True)
    threads = [threading.Thread(target=worker, args=(load, stats, deadline, args.seed + t, stop),
                                name=f"soak-{t}") for t in range(args.threads)]
    for th in threads:
        th.start()
    try:
        minute = 1
        while any(th.is_alive() for th in threads):
            time.sleep(0.5)
            if time.monotonic() >= start + minute * 60:
                rss.append((minute, rss_mb()))
                print(f"minute {minute:3d}: RSS {rss[-1][1]:7.1f} MB  served {stats.served():6d}  "
                      f"errors {stats.n_errors():4d}", flush=True)
                minute += 1
            if time.monotonic() > deadline + 600:
                break  # a request running ten minutes past the end: report it as stuck
        stuck = [th.name for th in threads if th.is_alive()]
    except KeyboardInterrupt:
        stop.set()
        for th in threads:
            th.join()
        stuck = []
    elapsed = time.monotonic() - start
    rss.append((elapsed / 60, rss_mb()))
    load.close()
    return report(stats, rss, elapsed, stuck, args.max_rss_growth)


def report(stats: Stats, rss: list[tuple[float, float]], elapsed: float, stuck: list[str],
           max_growth: float) -> int:
    """Print the summary; returns the exit status."""
    all_latency = [x for v in stats.latency.values() for x in v]
    print(f"\n== soak summary ({elapsed / 60:.1f} min) ==")
    print(f"requests served: {len(all_latency)} ({len(all_latency) / max(elapsed, 1e-9):.2f}/s)")
    if all_latency:
        print(f"latency overall: p50 {percentile(all_latency, 0.5):.3f} s  p99 "
              f"{percentile(all_latency, 0.99):.3f} s  max {max(all_latency):.3f} s")
    print(f"{'kind':18s} {'served':>7s} {'p50 s':>8s} {'p99 s':>8s}")
    for kind, values in sorted(stats.latency.items()):
        print(f"{kind:18s} {len(values):7d} {percentile(values, 0.5):8.3f} {percentile(values, 0.99):8.3f}")
    print(f"errors: {sum(stats.errors.values())}")
    for name, count in stats.errors.most_common():
        mark = "" if name.split(": ", 1)[1] in EXPECTED else "   <- unexpected"
        print(f"  {count:5d}  {name}{mark}")
    print("RSS per minute (MB): " + ", ".join(f"{m:.0f}:{v:.1f}" for m, v in rss))
    status = 0
    if stats.unexpected:
        print("\nunexpected errors (first ones):")
        for text in stats.unexpected[:5]:
            print(text)
        status = 1
    if stuck:
        print(f"threads still running after the deadline: {stuck}")
        status = 1
    if len(rss) > 2:  # start, minute 1, ..., end: growth after the warm-up minute
        growth = rss[-1][1] - rss[1][1]
        print(f"RSS growth after the first minute: {growth:+.1f} MB (limit {max_growth:g})")
        if growth > max_growth:
            status = 1
    else:
        print("RSS growth: run at least a minute to judge it")
    print("result:", "OK" if status == 0 else "FAILED")
    return status


if __name__ == "__main__":
    sys.exit(main())
