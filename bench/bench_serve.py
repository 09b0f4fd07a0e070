"""The OpenAI-compatible server under concurrent clients, against llama-cpp-python's server.

Each server runs alone, one after the other, as a child process on 127.0.0.1 on the same model
with the same context size and threads: llamaprov's (``llamaprov.serve``, continuous batching of
up to ``--max-parallel`` sequences) and ``python -m llama_cpp.server --model M`` (one request at a
time; ``--interrupt_requests False``, else a new request cuts the running one off). At each level
of concurrent clients (``--clients``), every client sends ``--requests`` streamed chat requests
one after another (greedy, ``--max-tokens``); the table gives the aggregate generated tokens per
second (all clients' completion tokens over the level's wall time) and the p50/p99 time to first
token, with llamaprov's number over the peer's.

    python bench/bench_serve.py [--clients 1,8,32] [--requests 4] [--max-tokens 32]
                                [--n-ctx 4096] [--threads N] [--max-parallel 32] [--model PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

PROMPTS = [
    "Name a color.", "Say hello.", "Name a fruit.", "Count to five.", "Name an ocean.",
    "Name a planet.", "Give a greeting.", "Name a tree.", "Name a bird.", "Name a metal.",
    "Name a city.", "Name a river.", "Name a flower.", "Name a sport.", "Name a tool.", "Name a dance.",
]
START_TIMEOUT = 180.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_llamaprov(model: str, port: int, n_ctx: int, threads: int, max_parallel: int) -> None:
    """The child process of llamaprov's server (``--serve-llamaprov``)."""
    import uvicorn

    from llamaprov.chat import LlamaProvider
    from llamaprov.models import resolve_model
    from llamaprov.serve import create_app

    provider = LlamaProvider(resolve_model(model), n_ctx=n_ctx, max_parallel=max_parallel, n_threads=threads)
    uvicorn.run(create_app(provider, max_tokens_limit=n_ctx), host="127.0.0.1", port=port,
                log_level="warning")


def start(kind: str, args: argparse.Namespace) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    if kind == "llamaprov":
        cmd = [sys.executable, __file__, "--serve-llamaprov", str(port), "--model", args.model,
               "--n-ctx", str(args.n_ctx), "--threads", str(args.threads),
               "--max-parallel", str(args.max_parallel)]
    else:
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", args.model, "--host", "127.0.0.1",
               "--port", str(port), "--n_ctx", str(args.n_ctx), "--n_threads", str(args.threads),
               "--n_threads_batch", str(args.threads),
               # its default stops a running request when another one comes
               "--interrupt_requests", "False"]
        if args.peer_ubatch:
            cmd += ["--n_ubatch", str(args.peer_ubatch)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, f"http://127.0.0.1:{port}"


async def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> str:
    """The served model's id, once the server answers."""
    import httpx

    deadline = time.monotonic() + START_TIMEOUT
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"the server at {url} exited with {proc.returncode}")
            try:
                response = await client.get(url + "/v1/models")
                if response.status_code == 200:
                    return str(response.json()["data"][0]["id"])
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"the server at {url} did not start in {START_TIMEOUT:.0f} s")


async def one_request(client: Any, model: str, prompt: str, max_tokens: int) -> tuple[float | None, int]:
    """(seconds to the first content chunk, completion tokens) of one streamed chat request."""
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens,
            "temperature": 0, "stream": True, "stream_options": {"include_usage": True}}
    started = time.monotonic()
    first: float | None = None
    chunks = 0
    usage = None
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[len("data: "):])
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or ():
                if (choice.get("delta") or {}).get("content"):
                    chunks += 1
                    if first is None:
                        first = time.monotonic() - started
    # the usage chunk where a server sends one; else one chunk per token (llama.cpp streams so)
    tokens = int(usage["completion_tokens"]) if usage else chunks
    return first, tokens


async def level(url: str, model: str, clients: int, requests: int, max_tokens: int) -> dict[str, float]:
    import httpx

    limits = httpx.Limits(max_connections=clients + 4)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:
        async def run_client(i: int) -> list[tuple[float | None, int]]:
            return [await one_request(client, model, PROMPTS[(i + r) % len(PROMPTS)], max_tokens)
                    for r in range(requests)]

        started = time.monotonic()
        results = await asyncio.gather(*(run_client(i) for i in range(clients)))
        wall = time.monotonic() - started
    flat = [r for rs in results for r in rs]
    ttfts = sorted(t for t, _ in flat if t is not None)
    tokens = sum(n for _, n in flat)
    return {"tok_s": tokens / wall, "p50": statistics.median(ttfts) if ttfts else math.nan,
            "p99": ttfts[min(len(ttfts) - 1, math.ceil(0.99 * len(ttfts)) - 1)] if ttfts else math.nan,
            "tokens": tokens, "wall": wall}


async def bench(kind: str, args: argparse.Namespace, levels: list[int]) -> dict[int, dict[str, float]]:
    proc, url = start(kind, args)
    try:
        model = await wait_ready(url, proc)
        await level(url, model, 1, 1, 4)  # warm-up
        out = {}
        for clients in levels:
            out[clients] = await level(url, model, clients, args.requests, args.max_tokens)
            print(f"  {kind:<10} {clients:>3} clients: {out[clients]['tok_s']:8.1f} tok/s, "
                  f"TTFT p50 {out[clients]['p50'] * 1000:7.0f} ms, p99 {out[clients]['p99'] * 1000:7.0f} ms",
                  flush=True)
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--requests", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    parser.add_argument("--max-parallel", type=int, default=32)
    parser.add_argument("--model", default=None)
    parser.add_argument("--peer-ubatch", type=int, default=0,
                        help="the peer's --n_ubatch (0: its default); llama-cpp-python 0.3.36's "
                             "Llama segfaulted on multi-token prompt batches on one test machine, "
                             "and ran with 1 (slower prompts: it favours llamaprov's TTFT)")
    parser.add_argument("--serve-llamaprov", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.model is None:
        from llamaprov import default_model_path

        args.model = str(default_model_path())
    if args.serve_llamaprov is not None:
        serve_llamaprov(args.model, args.serve_llamaprov, args.n_ctx, args.threads, args.max_parallel)
        return
    levels = [int(x) for x in args.clients.split(",")]
    print(f"model {os.path.basename(args.model)}, n_ctx {args.n_ctx}, {args.threads} thread(s), "
          f"{args.requests} request(s) per client, max_tokens {args.max_tokens}, "
          f"peer n_ubatch {args.peer_ubatch or 'default'}")
    ours = asyncio.run(bench("llamaprov", args, levels))
    peer = asyncio.run(bench("llama_cpp", args, levels))
    print()
    print(f"{'clients':>7} | {'tok/s ours':>10} {'peer':>8} {'ratio':>6} | {'TTFT p50 ours':>13} {'peer':>8} "
          f"{'ratio':>6} | {'p99 ours':>8} {'peer':>8} {'ratio':>6}")
    for n in levels:
        a, b = ours[n], peer[n]
        print(f"{n:>7} | {a['tok_s']:10.1f} {b['tok_s']:8.1f} {a['tok_s'] / b['tok_s']:6.2f} | "
              f"{a['p50'] * 1000:11.0f}ms {b['p50'] * 1000:6.0f}ms {a['p50'] / b['p50']:6.2f} | "
              f"{a['p99'] * 1000:6.0f}ms {b['p99'] * 1000:6.0f}ms {a['p99'] / b['p99']:6.2f}")
    print("ratio: llamaprov / llama_cpp.server (tok/s: higher is better for llamaprov; TTFT: lower)")


if __name__ == "__main__":
    main()
