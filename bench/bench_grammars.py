"""JSON Schema -> GBNF: llamaprov's compiler against llama-cpp-python's converter (the peer).

On the shared MaskBench schemas, in one process, one after another:
  - how many schemas each compiles, and compile time p50/p90/p99 (cold: caches cleared);
  - how many of the compiled grammars llama.cpp's parser accepts.
Conformance (valid accepted, invalid rejected) is measured by the harness:
``python bench/maskbench.py DIR``.

Run: python bench/bench_grammars.py [DIR] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import time
from collections.abc import Callable
from typing import Any

DEFAULT_DIR = str(pathlib.Path(__file__).resolve().parents[2] / "shared" / "jsonschemabench" / "maskbench")


def _percentiles(ms: list[float]) -> str:
    if not ms:
        return "-"
    q = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else [ms[0]] * 99
    return f"p50 {q[49]:.2f} ms, p90 {q[89]:.2f} ms, p99 {q[98]:.2f} ms"


def measure(name: str, compile_fn: Callable[[Any], str], schemas: list[Any]) -> None:
    from llamaprov.errors import GrammarError
    from llamaprov.grammars import validate_gbnf

    times: list[float] = []
    parsed = failed = 0
    for schema in schemas:
        start = time.perf_counter()
        try:
            grammar = compile_fn(schema)
        except Exception:
            failed += 1
            continue
        times.append((time.perf_counter() - start) * 1000)
        try:
            validate_gbnf(grammar)
            parsed += 1
        except GrammarError:
            pass
    print(
        f"{name:<28} compiled {len(times):>5}/{len(schemas)}  parsed by llama.cpp {parsed:>5}  "
        f"{_percentiles(times)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("directory", nargs="?", default=DEFAULT_DIR)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    files = sorted(pathlib.Path(args.directory).iterdir())[: args.limit]
    schemas = [json.loads(f.read_text(encoding="utf-8"))["schema"] for f in files]

    from llama_cpp.llama_grammar import json_schema_to_gbnf as peer

    from llamaprov.grammars import json_schema as ours

    def ours_cold(schema: Any) -> str:
        ours._compile_cached.cache_clear()
        return ours.json_schema_to_gbnf(schema, whitespace="flexible")

    measure("llamaprov (strict, cold)", ours_cold, schemas)
    measure("llama-cpp-python converter", lambda s: peer(json.dumps(s)), schemas)


if __name__ == "__main__":
    main()
