"""LlamaProvider.submit with ``on_event``: a queued request streams the events stream_perform
yields for it; submit_text queues a plain text completion."""

from __future__ import annotations

import json
import threading

from llamaprov.chat import (
    LlamaProvider,
    TextDelta,
    ToolRequestArgumentsDelta,
    ToolRequestDone,
    ToolRequestStart,
    Turn,
    TurnDone,
    tool,
)


def get_weather(city: str) -> str:
    """The weather of a city."""
    return "sunny"


def _events(provider: LlamaProvider, turns: list[Turn], **kwargs) -> list:
    events: list = []
    done = threading.Event()
    future = provider.submit(turns, on_event=lambda e: (events.append(e), isinstance(e, TurnDone)
                                                         and done.set()), **kwargs)
    turn = future.result(timeout=120)
    assert done.wait(10)
    assert isinstance(events[-1], TurnDone) and events[-1].turn is turn
    return events


def test_text_events_join_to_the_turn_and_match_stream_perform(model) -> None:
    provider = LlamaProvider(model, n_ctx=1024)
    turns = [Turn("user", "Name three colors.")]
    greedy = {"temperature": 0, "max_tokens": 16}
    events = _events(provider, turns, params=greedy)
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == events[-1].turn.text and len([e for e in events if isinstance(e, TextDelta)]) > 1
    streamed = list(provider.stream_perform(turns, params=greedy))
    assert streamed[-1].turn.text == text
    assert provider.batch_stats()["n_ctx"] == 1024
    provider.close()


def test_tool_call_events_stream_the_call(model) -> None:
    provider = LlamaProvider(model, n_ctx=1024)
    events = _events(provider, [Turn("user", "Weather in Paris?")], tools=[tool(get_weather)],
                     tool_choice="get_weather", params={"temperature": 0, "max_tokens": 48})
    start = next(e for e in events if isinstance(e, ToolRequestStart))
    args = "".join(e.delta for e in events if isinstance(e, ToolRequestArgumentsDelta))
    done = next(e for e in events if isinstance(e, ToolRequestDone))
    assert start.name == "get_weather" == done.request.name
    final = events[-1].turn.tool_requests[0].arguments
    assert json.loads(args) == done.request.arguments == final
    provider.close()


def test_a_failing_watcher_fails_only_its_request(model) -> None:
    provider = LlamaProvider(model, n_ctx=1024)

    def boom(event: object) -> None:
        raise RuntimeError("consumer gone")

    bad = provider.submit([Turn("user", "Count to ten.")], params={"max_tokens": 32}, on_event=boom)
    good = provider.submit([Turn("user", "Count to five.")], params={"max_tokens": 8})
    assert good.result(timeout=120).tokens.output > 0
    try:
        bad.result(timeout=120)
    except RuntimeError as exc:
        assert "consumer gone" in str(exc)
    else:
        raise AssertionError("the request of a failing watcher succeeded")
    provider.close()


def test_submit_text_completes_the_raw_prompt(model) -> None:
    provider = LlamaProvider(model, n_ctx=1024)
    events: list = []
    turn = provider.submit_text("The capital of France is", params={"temperature": 0, "max_tokens": 6},
                                on_event=events.append).result(timeout=120)
    assert turn.text and turn.tokens.output <= 6
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == turn.text
    provider.close()
