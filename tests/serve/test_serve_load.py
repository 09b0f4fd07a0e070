"""A bounded load test: 64 concurrent streaming clients, 4 requests each, some leaving midway.

Every response that completes is whole (a finish reason, usage, ``[DONE]``) and correct: half
the clients ask for structured output whose schema allows one value only, their own id, so a
reply must be exactly that id (a chunk of another stream, or a lost one, shows); the others get
free text, which must not be empty. (Greedy free text is not compared with the reply the request
gets alone: llama.cpp's numbers depend on how many sequences a batch decodes, so a greedy reply
may differ.) Nothing hangs (each client and the whole run have timeouts; afterwards nothing is
queued, running or in flight); the server's memory stays roughly flat.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import time

import pytest

httpx = pytest.importorskip("httpx")

from _served import API_KEY, Served  # noqa: E402

pytestmark = pytest.mark.load

CLIENTS = 64
ROUNDS = 4
MAX_TOKENS = 8
MAX_PARALLEL = 32  # sequences decoded together (read by the served fixture)
LEAVE_EVERY = 8  # one client in 8 leaves after its first two chunks
PROMPTS = ["Name a fruit.", "Name a color.", "Name an animal.", "Name a country."]
CLIENT_TIMEOUT = 60.0
RUN_TIMEOUT = 150.0
# Allowed RSS growth over the measured rounds, after a warm-up round. The worker frees the batch
# context whenever the queue runs dry and makes a new one for the next burst, so the allocator may
# keep up to about one context's worth of freed pages (KV cache of 2048 cells, ~47 MiB for this
# model, plus compute buffers); a leak of per-request state (192 requests after the warm-up, each holding a
# completion, a parser and its SSE buffers) of a third of a MiB a request would exceed it.
RSS_TOLERANCE = 64 * 1024 * 1024


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def body(served: Served, prompt: str, tag: str | None) -> dict:
    """A streamed chat request; with ``tag``, structured output that can only be ``tag``."""
    out = {"model": served.model_id, "messages": [{"role": "user", "content": prompt}],
           "max_tokens": MAX_TOKENS, "temperature": 0, "stream": True,
           "stream_options": {"include_usage": True}}
    if tag is not None:
        out["response_format"] = {"type": "json_schema", "json_schema": {
            "name": "tag", "strict": True, "schema": {"type": "string", "enum": [tag]}}}
        out["schema_in_prompt"] = False  # a llamaprov knob: keeps the prompt short
    return out


async def stream_one(client: httpx.AsyncClient, served: Served, prompt: str, tag: str | None,
                     leave: bool) -> str | None:
    """The streamed reply's text; None for a client that left midway."""
    text, finish, usage, done, chunks = "", None, None, False, 0
    async with client.stream("POST", "/v1/chat/completions", json=body(served, prompt, tag)) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            data = line[len("data: "):]
            if data == "[DONE]":
                done = True
                break
            chunk = json.loads(data)
            assert "error" not in chunk, chunk
            chunks += 1
            if leave and chunks == 2:
                return None  # leaving the block closes the connection
            if chunk.get("usage"):
                usage = chunk["usage"]
            for choice in chunk["choices"]:
                text += choice["delta"].get("content") or ""
                finish = choice["finish_reason"] or finish
    assert done and finish in ("stop", "length"), (done, finish)
    assert usage is not None and 0 < usage["completion_tokens"] <= MAX_TOKENS
    return text


async def run_round(served: Served, round_no: int, clients: int) -> int:
    """One round of ``clients`` concurrent streams; returns how many completed (each checked)."""
    limits = httpx.Limits(max_connections=clients + 8, max_keepalive_connections=clients + 8)
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(clients)]
    tags = [f"c{i}r{round_no}" if i % 2 == 0 else None for i in range(clients)]
    leaving = [i % LEAVE_EVERY == LEAVE_EVERY - 1 for i in range(clients)]
    async with httpx.AsyncClient(base_url=served.url, headers={"Authorization": f"Bearer {API_KEY}"},
                                 timeout=CLIENT_TIMEOUT, limits=limits) as client:
        texts = await asyncio.gather(*(stream_one(client, served, p, tag, leave)
                                       for p, tag, leave in zip(prompts, tags, leaving, strict=True)))
    completed = 0
    for text, tag, leave in zip(texts, tags, leaving, strict=True):
        if leave:
            assert text is None
            continue
        if tag is not None:
            assert text is not None and json.loads(text) == tag, (text, tag)
        else:
            assert text, "an empty free-text reply"
        completed += 1
    return completed


async def test_concurrent_streaming_clients(served: Served) -> None:
    started = time.monotonic()

    async def rounds() -> tuple[int, int]:
        # the first round warms up (contexts, buffers, thread pools): RSS is measured after it
        completed = await run_round(served, 0, CLIENTS)
        gc.collect()
        before = rss()
        for round_no in range(1, ROUNDS):
            completed += await run_round(served, round_no, CLIENTS)
        gc.collect()
        growth = rss() - before
        assert growth < RSS_TOLERANCE, f"RSS grew by {growth / 2**20:.1f} MiB over {ROUNDS - 1} rounds"
        return completed, growth

    completed, growth = await asyncio.wait_for(rounds(), RUN_TIMEOUT)
    assert completed == ROUNDS * (CLIENTS - CLIENTS // LEAVE_EVERY)
    deadline = time.monotonic() + 10
    while served.provider.batch_stats()["running"] and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    stats = served.provider.batch_stats()
    assert stats["running"] == 0 and stats["queued"] == 0
    print(f"load: {completed} streams completed in {time.monotonic() - started:.1f} s, "
          f"RSS {growth / 2**20:+.1f} MiB after the warm-up")
