"""The batch queue (LlamaProvider.submit) never keeps the process alive, and parallel chats stop
at their first failure."""

from __future__ import annotations

import time
from concurrent.futures import CancelledError

import pytest

from llamaprov.chat import Chat, ContentText, LlamaProvider, Turn, parallel_chat_structured
from llamaprov.errors import StructuredOutputError

EXIT_CHILD = """
import time
from llamaprov.chat import LlamaProvider, Turn
provider = LlamaProvider(load_model(default_model_path()), n_ctx=4096, max_parallel=4)
futures = [provider.submit([Turn("user", [f"Write a long story about the number {i}."])],
                           params={"temperature": 0, "max_tokens": 400}) for i in range(24)]

def report(future):
    exc = future.exception()
    print("FUTURE", type(exc).__name__ if exc else "ok", flush=True)

for f in futures:
    f.add_done_callback(report)
while not any(f.running() for f in futures):
    time.sleep(0.01)
time.sleep(0.5)  # a few decode steps into the first batch
print("EXIT_AT", time.time(), flush=True)
raise SystemExit(3)
"""


def test_exit_with_queued_requests_does_not_wait_for_them(isolated):
    # before the fix the worker thread decoded all 24 requests (minutes) before the exit
    result = isolated(EXIT_CHILD, timeout=120, expect_ok=False)
    ended = time.time()
    assert result.returncode == 3, result.stderr[-2000:]
    exit_at = float(next(line.split()[1] for line in result.lines if line.startswith("EXIT_AT")))
    outcomes = [line.split()[1] for line in result.lines if line.startswith("FUTURE")]
    # every request failed with ClosedError: the queued ones at once, the running ones at the
    # end of the decode step they were in
    assert outcomes == ["ClosedError"] * 24, outcomes
    assert ended - exit_at < 10, ended - exit_at
    assert "Traceback" not in result.stderr.replace("SystemExit", ""), result.stderr[-2000:]


def _user(text: str) -> list[Turn]:
    return [Turn("user", [ContentText(text)])]


def test_cancel_stops_running_and_queued_requests(model):
    provider = LlamaProvider(model, n_ctx=2048, max_parallel=2)
    futures = [provider.submit(_user(f"Write a long story about the number {i}."),
                               params={"temperature": 0, "max_tokens": 400}) for i in range(5)]
    while sum(f.running() for f in futures) < 2:
        time.sleep(0.01)
    provider._batcher.cancel(futures)
    deadline = time.monotonic() + 10
    while not all(f.done() for f in futures) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert all(f.done() for f in futures)
    queued = [f for f in futures if f.cancelled()]
    stopped = [f for f in futures if not f.cancelled()]
    assert len(queued) == 3 and len(stopped) == 2
    assert all(isinstance(f.exception(), CancelledError) for f in stopped)
    # the queue stays usable
    assert provider.submit(_user("Hi."), params={"temperature": 0, "max_tokens": 4}).result(60).text
    provider.close()


def test_parallel_structured_stops_at_the_first_failure(model):
    provider = LlamaProvider(model, n_ctx=2048, max_parallel=2)
    chat = Chat(provider, params={"temperature": 0, "max_tokens": 3})
    submitted = []
    submit = provider.submit

    def spy(*args, **kwargs):
        future = submit(*args, **kwargs)
        submitted.append(future)
        return future

    provider.submit = spy  # type: ignore[method-assign]
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    with pytest.raises(StructuredOutputError, match="cut off"):
        parallel_chat_structured(chat, [f"Rex number {i} is a dog." for i in range(12)], type=schema)
    assert len(submitted) == 12
    deadline = time.monotonic() + 10
    while not all(f.done() for f in submitted) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert all(f.done() for f in submitted)
    # at most the requests admitted by the time the first one failed ran to their end
    assert sum(f.cancelled() for f in submitted) >= 6, [f._state for f in submitted]
    provider.close()
