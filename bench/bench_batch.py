"""LangChain ``batch``: parallel sequences of one context against one call after another.

``ChatLlamaProv.batch`` decodes its inputs together (up to ``max_parallel`` sequences per
``llama_decode``); the peer is the same inputs through ``invoke`` one by one on the same model
(langchain-community's ``ChatLlamaCpp`` cannot be compared: its ``batch`` aborts the process).
Each side runs ``--rounds`` times interleaved; medians are printed with their ratio.

    python bench/bench_batch.py [--inputs 8] [--max-tokens 48] [--rounds 3] [--max-parallel 8] [--model PATH]
"""

from __future__ import annotations

import argparse
import statistics
import time

PROMPTS = [
    "Name a color.", "Say hello.", "Name a fruit.", "Count to five.", "Name an ocean.",
    "Name a planet.", "Give a greeting.", "Name a tree.", "Name a bird.", "Name a metal.",
    "Name a city.", "Name a river.", "Name a flower.", "Name a sport.", "Name a tool.", "Name a dance.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-parallel", type=int, default=8)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()

    from llamaprov import ChatLlamaProv, default_model_path

    model = args.model or str(default_model_path())
    llm = ChatLlamaProv(model=model, temperature=0, max_tokens=args.max_tokens,
                        max_parallel=args.max_parallel)
    prompts = (PROMPTS * (args.inputs // len(PROMPTS) + 1))[: args.inputs]
    llm.invoke("warm up")
    batch_s: list[float] = []
    serial_s: list[float] = []
    tokens = 0
    for _ in range(args.rounds):
        start = time.perf_counter()
        results = llm.batch(prompts, config={"max_concurrency": len(prompts)})
        batch_s.append(time.perf_counter() - start)
        tokens = sum(r.usage_metadata["output_tokens"] for r in results)
        start = time.perf_counter()
        for p in prompts:
            llm.invoke(p)
        serial_s.append(time.perf_counter() - start)
    b, s = statistics.median(batch_s), statistics.median(serial_s)
    print(f"{len(prompts)} inputs, {tokens} output tokens, max_parallel={args.max_parallel}")
    print(f"batch (parallel sequences)  {b:7.2f} s   {tokens / b:7.1f} tok/s")
    print(f"invoke one after another    {s:7.2f} s   {tokens / s:7.1f} tok/s")
    print(f"speed-up                    {s / b:7.2f}x")


if __name__ == "__main__":
    main()
