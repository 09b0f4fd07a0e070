"""Cancelling a chat stops decoding promptly and leaves the chat usable.

Four routes: leaving ``stream()`` early, ``ctx.abort()`` from another thread,
``KeyboardInterrupt`` (in a child process: a real SIGINT) and asyncio task cancellation. Each
keeps the user turn and the partial assistant turn (``finish_reason="cancelled"``,
``incomplete``), and the next ``chat()`` works on a KV cache that holds exactly the tokens the engine
believes it holds.

Latency. The issue asks for decoding to stop within 100 ms. Decoding stops at the end of the
decode step in flight, so the latency is at most one step plus the hand-off. On an idle machine
a step of the 135M test model takes 10-30 ms; on the shared, loaded 2-core test machine a step
can take several times that. The tests therefore measure both the cancel-to-stop latency and
the step time of the same run (n_threads=1, so no thread spins at a barrier), and assert that
the median latency over a few tries is under 100 ms plus one median step: the 100 ms budget for
everything that is not the step in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import statistics
import threading
import time

from llamaprov.chat import chat_llamaprov

PROMPT = "Count from 1 to 1000, separated by commas."
FOLLOW_UP = "Say hi."
TRIES = 3
BUDGET = 0.100


def long_chat(model):
    return chat_llamaprov(model, n_ctx=2048, n_threads=1,
                          params={"temperature": 0, "max_tokens": 1500})


def kv_consistent(chat) -> bool:
    """The KV cache holds exactly the tokens the engine believes it holds (a token decoded but
    not recorded would make the next prompt's cached prefix wrong)."""
    ctx = chat.provider.context
    return ctx.memory.seq_pos_range(0)[1] + 1 == len(ctx.memory.tokens(0))


def assert_usable(chat, pieces_text: str) -> None:
    """The conversation kept the partial reply, and the next turn works on a sound KV cache.

    (Comparing the next answer with a fresh chat's would test numerics, not cancellation: a
    prompt prefix reused from the KV cache gives slightly different logits than one decoded
    in a batch, and greedy answers of this small model can then differ after a few tokens.)
    """
    user, partial = chat.get_turns()
    assert user.text == PROMPT
    assert partial.role == "assistant" and partial.incomplete and partial.finish_reason == "cancelled"
    assert partial.text.startswith(pieces_text) and partial.text
    assert kv_consistent(chat)
    chat.params(max_tokens=12)
    assert chat.chat(FOLLOW_UP)
    assert [t.role for t in chat.get_turns()] == ["user", "assistant", "user", "assistant"]
    last = chat.last_turn()
    assert not last.incomplete and last.tokens.cached > 0 and kv_consistent(chat)


def step_time(stamps: list[float]) -> float:
    return statistics.median(b - a for a, b in itertools.pairwise(stamps))


def check_latency(latencies: list[float], steps: list[float]) -> None:
    allowed = BUDGET + statistics.median(steps)
    print(f"latencies {[round(x * 1000, 1) for x in latencies]} ms, "
          f"steps {[round(x * 1000, 1) for x in steps]} ms")
    assert statistics.median(latencies) < allowed, (latencies, steps)


def test_leaving_stream_early(model):
    latencies, steps = [], []
    for _ in range(TRIES):
        chat = long_chat(model)
        pieces, stamps = [], []
        stream = chat.stream(PROMPT)
        for piece in stream:
            pieces.append(piece)
            stamps.append(time.perf_counter())
            if len(pieces) == 6:
                break
        start = time.perf_counter()
        stream.close()  # what dropping the generator does; decoding already paused at the yield
        latencies.append(time.perf_counter() - start)
        steps.append(step_time(stamps))
        assert chat.provider.context._session._owner is None  # the context is free again
        assert chat.last_turn().text == "".join(pieces)
        assert_usable(chat, "".join(pieces))
    check_latency(latencies, steps)


def test_breaking_out_of_the_loop_keeps_the_partial_turn(model):
    chat = long_chat(model)
    first = next(iter(chat.stream(PROMPT)))  # the stream is dropped at once
    assert chat.last_turn().incomplete and chat.last_turn().text == first
    # a second chat() while a stream of this thread is still suspended settles it first
    chat2 = long_chat(model)
    stream = chat2.stream(PROMPT)
    head = next(stream)
    chat2.params(max_tokens=4)
    chat2.chat(FOLLOW_UP)
    assert [t.role for t in chat2.get_turns()] == ["user", "assistant", "user", "assistant"]
    assert chat2.get_turns()[1].incomplete and chat2.get_turns()[1].text == head
    stream.close()
    assert len(chat2.get_turns()) == 4


def test_ctx_abort_from_another_thread(model):
    latencies, steps = [], []
    for _ in range(TRIES):
        chat = long_chat(model)
        ctx = chat.provider.context
        stamps: list[float] = []
        sent: list[float] = []

        def abort_soon(stamps=stamps, sent=sent, ctx=ctx):
            while len(stamps) < 6:
                time.sleep(0.005)
            sent.append(time.perf_counter())
            ctx.abort()

        thread = threading.Thread(target=abort_soon)
        thread.start()
        pieces = []
        for piece in chat.stream(PROMPT):
            pieces.append(piece)
            stamps.append(time.perf_counter())
        stopped = time.perf_counter()
        thread.join()
        assert sent, "ctx.abort() was not called"
        latencies.append(stopped - sent[0])
        steps.append(step_time(stamps[:6]))
        last = chat.last_turn()
        assert last.incomplete and last.text == "".join(pieces) and last.tokens.output >= 6
        assert_usable(chat, "".join(pieces))
    check_latency(latencies, steps)


async def test_asyncio_task_cancellation(model):
    latencies, steps = [], []
    for _ in range(TRIES):
        chat = long_chat(model)
        pieces: list[str] = []
        stamps: list[float] = []
        enough = asyncio.Event()

        async def consume(chat=chat, pieces=pieces, stamps=stamps, enough=enough):
            async for piece in chat.stream_async(PROMPT):
                pieces.append(piece)
                stamps.append(time.perf_counter())
                if len(pieces) == 6:
                    enough.set()

        task = asyncio.create_task(consume())
        await enough.wait()
        start = time.perf_counter()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task  # returns once the worker thread ended: decoding stopped
        latencies.append(time.perf_counter() - start)
        steps.append(step_time(stamps))
        assert task.cancelled()
        await asyncio.to_thread(assert_usable, chat, "".join(pieces))
    check_latency(latencies, steps)


INTERRUPT_CHILD = """
import json, os, signal, statistics, threading, time
from llamaprov.chat import chat_llamaprov

PROMPT = "Count from 1 to 1000, separated by commas."
model = load_model(default_model_path())
results = []
for attempt in range({tries}):
    chat = chat_llamaprov(model, n_ctx=2048, n_threads=1, params={{"temperature": 0, "max_tokens": 1500}})
    stamps, sent = [], []

    def interrupt():
        while len(stamps) < 6:
            time.sleep(0.005)
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=interrupt)
    thread.start()
    pieces = []
    try:
        for piece in chat.stream(PROMPT):
            pieces.append(piece)
            stamps.append(time.perf_counter())
        outcome = "finished"
    except KeyboardInterrupt:
        outcome = "interrupted"
    stopped = time.perf_counter()
    thread.join()
    turns = chat.get_turns()
    chat.params(max_tokens=12)
    answer = chat.chat("Say hi.")
    # (the interrupt may land between a decode and its bookkeeping: the provider then starts
    # the next generation from an emptied KV cache, so check the cache after it)
    ctx = chat.provider.context
    consistent = ctx.memory.seq_pos_range(0)[1] + 1 == len(ctx.memory.tokens(0))
    results.append({{
        "outcome": outcome,
        "latency": stopped - sent[0],
        "step": statistics.median(b - a for a, b in zip(stamps[:6], stamps[1:6])),
        "roles": [t.role for t in turns],
        "incomplete": turns[-1].incomplete,
        "kept": turns[-1].text.startswith("".join(pieces)) and bool(turns[-1].text),
        "kv_consistent": consistent,
        "answered": bool(answer) and len(chat.get_turns()) == 4,
    }})
print(json.dumps(results))
"""


def test_keyboard_interrupt(isolated):
    result = isolated(INTERRUPT_CHILD.format(tries=TRIES), timeout=600)
    runs = json.loads(result.lines[-1])
    for run in runs:
        assert run["outcome"] == "interrupted", run
        assert run["roles"] == ["user", "assistant"] and run["incomplete"] and run["kept"], run
        assert run["kv_consistent"] and run["answered"], run
    check_latency([r["latency"] for r in runs], [r["step"] for r in runs])
