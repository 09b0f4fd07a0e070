"""Generation speed: llamaprov's ctx.stream against llama-cpp-python and a bare decode loop.

In one run, on the default model, with the same threads and greedy decoding:
  - decode tokens/s of ``ctx.stream`` vs ``llama_cpp.Llama.create_completion(stream=True)``
  - vs a bare ctypes loop that only calls ``llama_decode`` one token at a time (no sampling,
    no detokenization): the ceiling for any Python-driven loop
  - prompt tokens/s (time to first token on a long prompt) of both libraries

Targets: stream >= 1.0x create_completion, >= 0.95x the bare loop, prompt >= 1.0x.
Run: python bench/bench_generate.py [--tokens 128] [--rounds 7] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import llama_cpp
import llama_cpp.llama_cpp as lib

import llamaprov

PROMPT = "Write a long story about a lighthouse keeper and a storm."


def bench_llamaprov(model: llamaprov.Model, ctx: llamaprov.Context, prompt: str, n: int,
                    eos: list[int]) -> float:
    """Decode tokens/s after the first token, through ctx.stream."""
    bias = {t: float("-inf") for t in eos}
    stream = ctx.stream(prompt, max_tokens=n, temperature=0, logit_bias=bias, reuse_cache=False)
    next(stream)
    t0 = time.perf_counter()
    pieces = 1 + sum(1 for _ in stream)
    dt = time.perf_counter() - t0
    assert pieces >= n // 2, pieces
    return (n - 1) / dt


def bench_peer(llm: llama_cpp.Llama, prompt: str, n: int, eos: list[int]) -> float:
    """Decode tokens/s after the first token, through Llama.create_completion(stream=True)."""
    llm.reset()
    bias = {t: float("-inf") for t in eos}
    it = llm.create_completion(prompt, max_tokens=n, temperature=0, top_k=1, stream=True,
                               logit_bias=bias)
    next(it)
    t0 = time.perf_counter()
    count = 1 + sum(1 for _ in it)
    dt = time.perf_counter() - t0
    assert count >= n // 2, count
    return (n - 1) / dt


def bench_bare(ctx: llamaprov.Context, prompt_tokens: list[int], n: int) -> float:
    """llama_decode of one token at a time on the same context: nothing else in the loop."""
    ctx.memory.clear()
    ctx.decode(prompt_tokens)
    batch = lib.llama_batch_init(1, 0, 1)
    try:
        raw = ctx._ptr
        pos = len(prompt_tokens)
        token = prompt_tokens[-1]
        t0 = time.perf_counter()
        for i in range(n - 1):
            batch.n_tokens = 1
            batch.token[0] = token
            batch.pos[0] = pos + i
            batch.n_seq_id[0] = 1
            batch.seq_id[0][0] = 0
            batch.logits[0] = 1
            lib.llama_decode(raw, batch)
        dt = time.perf_counter() - t0
    finally:
        lib.llama_batch_free(batch)
        ctx.memory.clear()
    return (n - 1) / dt


def prompt_speed_llamaprov(ctx: llamaprov.Context, tokens: list[int]) -> float:
    t0 = time.perf_counter()
    ctx.completion(tokens, max_tokens=1, temperature=0, reuse_cache=False).result()
    return len(tokens) / (time.perf_counter() - t0)


def prompt_speed_peer(llm: llama_cpp.Llama, tokens: list[int]) -> float:
    llm.reset()
    t0 = time.perf_counter()
    llm.create_completion(tokens, max_tokens=1, temperature=0, top_k=1)
    return len(tokens) / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--prompt-tokens", type=int, default=512)
    args = parser.parse_args()

    path = llamaprov.default_model_path()
    model = llamaprov.load_model(path)
    ctx = model.new_context(n_ctx=2048, n_batch=512, n_threads=args.threads)
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=2048, n_batch=512, n_threads=args.threads,
                          n_threads_batch=args.threads, verbose=False)
    prompt = model.apply_chat_template([{"role": "user", "content": PROMPT}])
    prompt_tokens = model.tokenize(prompt, parse_special=True)
    long_tokens = (model.tokenize("The quick brown fox jumps over the lazy dog. " * 60,
                                  add_special=False))[: args.prompt_tokens]
    eos = sorted(model.vocab.eog_tokens())

    ours, peer, bare, pp_ours, pp_peer = [], [], [], [], []
    for _ in range(args.rounds):  # interleaved, so drift hits all alike
        ours.append(bench_llamaprov(model, ctx, prompt, args.tokens, eos))
        peer.append(bench_peer(llm, prompt, args.tokens, eos))
        bare.append(bench_bare(ctx, prompt_tokens, args.tokens))
        pp_ours.append(prompt_speed_llamaprov(ctx, long_tokens))
        pp_peer.append(prompt_speed_peer(llm, long_tokens))

    def med(xs: list[float]) -> float:
        return statistics.median(xs)

    print(f"model {path.name}, {args.threads} threads, greedy, {args.tokens} tokens, "
          f"{args.rounds} rounds (median)")
    print(f"  llamaprov ctx.stream          {med(ours):8.1f} tok/s")
    print(f"  llama_cpp create_completion   {med(peer):8.1f} tok/s")
    print(f"  bare llama_decode loop        {med(bare):8.1f} tok/s")
    print(f"  prompt ({len(long_tokens)} tok) llamaprov     {med(pp_ours):8.1f} tok/s")
    print(f"  prompt ({len(long_tokens)} tok) llama_cpp     {med(pp_peer):8.1f} tok/s")
    print(f"ratio stream / create_completion : {med(ours) / med(peer):.3f}  (target >= 1.0)")
    print(f"ratio stream / bare decode loop  : {med(ours) / med(bare):.3f}  (target >= 0.95)")
    print(f"ratio prompt llamaprov / llama_cpp: {med(pp_ours) / med(pp_peer):.3f}  (target >= 1.0)")


if __name__ == "__main__":
    main()
