"""LlamaProvider.submit: queued requests decoded together as sequences of one context."""

from __future__ import annotations

import threading

import pytest

from llamaprov.chat import ContentText, ContentToolRequest, LlamaProvider, Turn
from llamaprov.errors import ClosedError, ContextOverflowError, InvalidArgumentError

GREEDY = {"temperature": 0, "max_tokens": 12}


def user(text: str) -> list[Turn]:
    return [Turn("user", [ContentText(text)])]


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def test_requests_from_several_threads_share_one_context(model) -> None:
    provider = LlamaProvider(model, n_ctx=1024, max_parallel=4)
    turns: dict[int, Turn] = {}
    start = threading.Barrier(4)

    def ask(i: int) -> None:
        start.wait()
        turns[i] = provider.submit(user(f"Count to {i + 2}."), params=GREEDY).result(timeout=120)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(turns) == [0, 1, 2, 3]
    assert all(t.text and t.tokens.output > 0 for t in turns.values())
    assert provider._batcher.contexts == 1 and provider._batcher.peak >= 2
    assert provider.tokens_used().output == sum(t.tokens.output for t in turns.values())
    provider.close()


def test_tool_calls_and_structured_output_are_parsed(model) -> None:
    from llamaprov.chat import tool

    provider = LlamaProvider(model, n_ctx=1024)
    calls = provider.submit(user("Add 2 and 3."), tools=[tool(add)], tool_choice="required",
                            params={"temperature": 0, "max_tokens": 48})
    data = provider.submit(
        user("A point with x 1 and y 2."),
        type={"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}},
              "required": ["x", "y"]},
        params={"temperature": 0, "max_tokens": 24},
    )
    call_turn = calls.result(timeout=120)
    assert call_turn.finish_reason == "tool_calls"
    assert any(isinstance(c, ContentToolRequest) and c.name == "add" for c in call_turn.contents)
    assert set(__import__("json").loads(data.result(timeout=120).text)) == {"x", "y"}
    provider.close()


def test_kv_budget_limits_how_many_run_together(model) -> None:
    # each request reserves prompt + max_tokens cells: in 256 cells only one fits at a time
    provider = LlamaProvider(model, n_ctx=256, max_parallel=4)
    futures = [provider.submit(user(f"Say {w}."), params={"temperature": 0, "max_tokens": 200})
               for w in ("yes", "no")]
    assert all(f.result(timeout=120).text for f in futures)
    assert provider._batcher.peak == 1
    provider.close()


def test_bad_requests_fail_alone(model) -> None:
    provider = LlamaProvider(model, n_ctx=64)
    with pytest.raises(InvalidArgumentError):
        provider.submit([])
    with pytest.raises(InvalidArgumentError, match="tool_choice"):
        provider.submit(user("hi"), tool_choice="maybe")
    with pytest.raises(ContextOverflowError):  # checked before it is queued
        provider.submit(user("word " * 600), params=GREEDY)
    fine = provider.submit(user("Hi."), params={"temperature": 0, "max_tokens": 4})
    assert fine.result(timeout=120).tokens.output > 0
    # closing fails what is still queued or running, never leaves a caller waiting
    pending = provider.submit(user("Tell a long story."), params={"temperature": 0, "max_tokens": 200})
    provider.close()
    with pytest.raises(ClosedError):
        pending.result(timeout=120)
    # a closed provider stays closed: later requests raise at once
    with pytest.raises(ClosedError):
        provider.submit(user("Hi."), params={"temperature": 0, "max_tokens": 4})
    provider.close()
    with pytest.raises(InvalidArgumentError, match="max_parallel"):
        LlamaProvider(model, max_parallel=0)
