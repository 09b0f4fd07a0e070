"""Multi-turn KV reuse: time to first token over a 10-turn conversation.

A ``Chat`` keeps its context between turns and decodes only the tokens after the longest common
prefix with the KV cache, so the time to first token (TTFT) of turn 10 should stay close to that
of turn 1 (goal: <= 1.5x) although the conversation is ten times longer. Printed beside
``llama_cpp.Llama.create_chat_completion`` running the same conversation.

    python bench/bench_multiturn.py [--turns 10] [--max-tokens 16] [--threads 2] [--model PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator

WORDS = [
    "river", "stone", "garden", "window", "lantern", "harbor", "meadow", "violin", "copper",
    "forest", "morning", "candle", "village", "market", "letter", "bridge", "winter", "orchard",
    "feather", "compass", "island", "mirror", "velvet", "thunder",
]


def user_message(turn: int) -> str:
    """About 100 tokens of varied text, different for every turn."""
    sentences = []
    for i in range(9):
        a, b, c = (WORDS[(turn * 7 + i * 3 + k) % len(WORDS)] for k in range(3))
        sentences.append(f"The {a} near the {b} keeps a {c} for day {turn * 10 + i}.")
    return " ".join(sentences) + " Summarize this in a few words."


def timed_stream(pieces: Iterator[str]) -> tuple[float, str]:
    """(seconds to the first non-empty piece, whole text)."""
    start = time.perf_counter()
    first = None
    text = []
    for piece in pieces:
        if piece and first is None:
            first = time.perf_counter() - start
        text.append(piece)
    return (first if first is not None else time.perf_counter() - start), "".join(text)


def run_llamaprov(path: str, turns: int, max_tokens: int, threads: int) -> list[tuple[float, int]]:
    from llamaprov.chat import chat_llamaprov
    from llamaprov.engine import load_model

    model = load_model(path)
    chat = chat_llamaprov(
        model, params={"temperature": 0, "max_tokens": max_tokens}, n_ctx=4096, n_threads=threads
    )
    out = []
    for t in range(turns):
        ttft, _ = timed_stream(chat.stream(user_message(t)))
        usage = chat.last_turn().tokens
        out.append((ttft, usage.input))
    return out


def run_llama_cpp(path: str, turns: int, max_tokens: int, threads: int) -> list[tuple[float, int]]:
    import llama_cpp

    llm = llama_cpp.Llama(model_path=path, n_threads=threads, n_ctx=4096, verbose=False)
    messages: list[dict[str, str]] = []
    out = []
    for t in range(turns):
        messages.append({"role": "user", "content": user_message(t)})

        def pieces() -> Iterator[str]:
            for chunk in llm.create_chat_completion(
                messages, stream=True, max_tokens=max_tokens, temperature=0
            ):
                yield chunk["choices"][0]["delta"].get("content") or ""

        ttft, text = timed_stream(pieces())
        messages.append({"role": "assistant", "content": text})
        out.append((ttft, llm.n_tokens))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default=None, help="GGUF path (default: SmolLM2-135M)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per engine; medians printed")
    args = parser.parse_args(argv)
    from llamaprov.engine import default_model_path

    path = str(args.model or default_model_path())
    runners: dict[str, Callable[..., list[tuple[float, int]]]] = {
        "llamaprov": run_llamaprov,
        "llama_cpp": run_llama_cpp,
    }
    results: dict[str, list[tuple[float, int]]] = {}
    for name, runner in runners.items():
        print(f"running {name}...", file=sys.stderr, flush=True)
        runs = [runner(path, args.turns, args.max_tokens, args.threads) for _ in range(args.repeat)]
        results[name] = [
            (statistics.median(r[t][0] for r in runs), runs[0][t][1]) for t in range(args.turns)
        ]
    print(f"model: {path}\nthreads: {args.threads}, reply max_tokens: {args.max_tokens}")
    print(f"{'turn':>4} {'ctx tokens':>10} {'llamaprov TTFT ms':>18} {'llama_cpp TTFT ms':>18}")
    for t in range(args.turns):
        ours, ctx_tokens = results["llamaprov"][t]
        peer = results["llama_cpp"][t][0]
        print(f"{t + 1:>4} {ctx_tokens:>10} {ours * 1000:>18.1f} {peer * 1000:>18.1f}")
    ok = True
    for name, rows in results.items():
        ratio = rows[-1][0] / rows[0][0]
        print(f"{name}: TTFT turn {args.turns} / turn 1 = {ratio:.2f}")
        if name == "llamaprov":
            ok = ratio <= 1.5
    print("llamaprov goal (<= 1.5x):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
