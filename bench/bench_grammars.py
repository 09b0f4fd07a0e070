"""JSON Schema -> GBNF: llamaprov against LLGuidance (the MaskBench leader) and llama.cpp's
converter (llama-cpp-python's ``json_schema_to_gbnf``), side by side on the dev split.

For each engine, every MaskBench case is compiled and its instances checked token by token
(``bench/maskbench.py``'s harness, worker processes, properties in any order): schemas passing,
compile errors, schemas with a valid instance rejected (and how many instances), invalid
instances accepted, compile time p50/p99. llamaprov compiles with ``approximate=True`` (the
post-generation ``jsonschema`` check of the chat layer takes the rest): its approximated schemas
are counted apart. llama.cpp's converter runs through llama.cpp's grammar engine like llamaprov.

Run: python bench/bench_grammars.py [DIR] [--limit N] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_DIR = str(HERE.parents[1] / "shared" / "jsonschemabench" / "maskbench")
sys.path.insert(0, str(HERE))


def check_llamacpp(case: dict[str, Any]) -> dict[str, Any]:
    """One MaskBench case with llama-cpp-python's converter and llama.cpp's grammar engine."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf as peer

    from llamaprov.grammars import GrammarMatcher

    tests = case.get("tests", [])
    out: dict[str, Any] = {"n_valid": sum(1 for t in tests if t.get("valid")), "valid_rejected": 0,
                           "invalid_accepted": 0}
    start = time.perf_counter()
    try:
        grammar = peer(json.dumps(case["schema"]))
        out["compile_ms"] = (time.perf_counter() - start) * 1000
        matcher = GrammarMatcher(grammar)
    except Exception as exc:  # the converter raises whatever it meets
        out.pop("compile_ms", None)
        out.update(status="compile_error", error=f"{type(exc).__name__}: {exc}"[:300])
        return out
    with matcher:
        for t in tests:
            ok = matcher.accepts(json.dumps(t["data"], ensure_ascii=False))
            if t.get("valid") and not ok:
                out["valid_rejected"] += 1
            elif not t.get("valid") and ok:
                out["invalid_accepted"] += 1
    out["status"] = ("invalidation_error" if out["invalid_accepted"]
                     else "validation_error" if out["valid_rejected"] else "passing")
    return out


def table(rows: dict[str, dict[str, Any]]) -> str:
    """The summaries side by side."""
    names = list(rows)
    width = max(14, *(len(n) for n in names)) + 2

    def line(label: str, cells: list[str]) -> str:
        return f"{label:<34}" + "".join(f"{c:>{width}}" for c in cells)

    def cnt(key: str) -> list[str]:
        return [str(rows[n].get(key, 0)) for n in names]

    out = [line("", names), line("schemas", cnt("schemas")),
           line("passing", [f"{r['passing']} ({100 * r['passing'] / max(1, r['schemas']):.1f}%)"
                            for r in rows.values()]),
           line("  of them approximated (+check)", cnt("approximated_passing")),
           line("compile errors", cnt("compile_error")),
           line("schemas with valid rejected", cnt("validation_error")),
           line("valid instances rejected", cnt("valid_rejected")),
           line("schemas with invalid accepted", cnt("invalidation_error")),
           line("invalid instances accepted", cnt("invalid_accepted")),
           line("crash / timeout", [f"{rows[n]['crash']} / {rows[n]['timeout']}" for n in names]),
           line("compile ms p50 / p99",
                [f"{rows[n]['compile_ms_p50']:.2f} / {rows[n]['compile_ms_p99']:.2f}" for n in names])]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", nargs="?", default=DEFAULT_DIR)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-llamacpp", action="store_true", help="leave out llama.cpp's converter")
    args = parser.parse_args()
    import maskbench

    rows: dict[str, dict[str, Any]] = {}
    summaries: dict[str, dict[str, Any]] = {}
    for name, engine in (("llamaprov", "llamaprov"), ("LLGuidance", "llguidance")):
        summaries[name] = maskbench.run(args.directory, limit=args.limit, workers=args.workers, engine=engine)
        rows[name] = summaries[name]
    if not args.skip_llamacpp:
        files = sorted(pathlib.Path(args.directory).iterdir())
        if args.limit is not None and args.limit < len(files):
            import random

            files = sorted(random.Random(0).sample([str(f) for f in files], args.limit))
        results = {}
        for f in files:
            try:
                case = json.loads(pathlib.Path(f).read_text(encoding="utf-8"))
                results[str(f)] = check_llamacpp(case)
            except Exception as exc:
                results[str(f)] = {"status": "compile_error", "n_valid": 0, "valid_rejected": 0,
                                   "invalid_accepted": 0, "error": str(exc)[:300]}
        rows["llama.cpp conv."] = maskbench._summary(results, 0.0)
    print(table(rows))
    print()
    print(maskbench.gap_report(summaries["llamaprov"], summaries["LLGuidance"]))


if __name__ == "__main__":
    main()
