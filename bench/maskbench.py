"""MaskBench conformance harness for the JSON Schema -> GBNF compiler.

``python bench/maskbench.py DIR [--limit N] [--seed S] [--json] [--details FILE]``

Each MaskBench file holds ``{"schema": ..., "tests": [{"valid": bool, "data": ...}, ...]}``.
Every schema is compiled (strict, flexible whitespace, the specification's additionalProperties
default, properties in any order: key order carries no meaning in JSON, and the instances list
keys as they come; ``--property-order definition`` measures the generation default) and every
test instance, serialized with ``json.dumps(data, ensure_ascii=False)``, is run through
llama.cpp's grammar engine token by token (the default model's vocabulary). A schema passes when
it compiles, every valid instance is accepted and every invalid one rejected.

Schemas run in worker processes: a grammar that crashes llama.cpp counts as a crash and the run
goes on; a schema that takes longer than the timeout (10 s) counts as a timeout.

Approximations: schemas compile with ``compile_schema(..., approximate=True)`` (``--exact``:
without), as the chat layer's post-generation check allows: where a keyword can only be widened
(``oneOf`` that may overlap, ``not``, ``if``/``then``/``else``...) the grammar accepts a superset
and an instance counts as accepted only when the grammar accepts it AND the caller's check passes
(``CompiledSchema.check``: ``jsonschema``, and no duplicate keys). Such schemas are counted
apart ("approximated"), with the keywords taken that route.

``--engine llguidance`` runs the reference engine instead (LLGuidance, a dev dependency:
``bench/_llg.py``); ``--compare`` runs both and lists the schemas LLGuidance passes and
llamaprov does not, grouped by cause.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import pathlib
import random
import re
import sys
import time
from multiprocessing.connection import Connection, wait
from typing import Any

__all__ = ["check_schema", "main", "run"]

STATUSES = (
    "passing",
    "compile_error",
    "validation_error",
    "invalidation_error",
    "crash",
    "timeout",
)


def check_schema(
    case: dict[str, Any],
    *,
    property_order: str = "any",
    engine: str = "llamaprov",
    approximate: bool = True,
) -> dict[str, Any]:
    """Compile one MaskBench case and check all its instances (runs in the current process)."""
    if engine == "llguidance":
        import _llg

        return _llg.check_schema(case)
    from llamaprov.errors import LlamaProvError
    from llamaprov.grammars import GrammarMatcher, compile_schema

    tests = case.get("tests", [])
    n_valid = sum(1 for t in tests if t.get("valid"))
    out: dict[str, Any] = {"n_valid": n_valid, "valid_rejected": 0, "invalid_accepted": 0}
    start = time.perf_counter()
    try:
        compiled = compile_schema(
            case["schema"], whitespace="flexible", property_order=property_order, approximate=approximate
        )
    except LlamaProvError as exc:
        out.update(status="compile_error", error=str(exc)[:300])
        return out
    except RecursionError:
        out.update(status="compile_error", error="RecursionError")
        return out
    out["compile_ms"] = (time.perf_counter() - start) * 1000
    if compiled.approximated:
        out["approximated"] = list(compiled.approximated_keywords)
        out["post_check_rejected"] = 0
    try:
        matcher = GrammarMatcher(compiled.grammar)
    except LlamaProvError as exc:
        out.update(status="compile_error", error=f"llama.cpp: {exc}"[:300])
        return out
    with matcher:
        for i, t in enumerate(tests):
            text = json.dumps(t["data"], ensure_ascii=False)
            ok = matcher.accepts(text)
            if ok and compiled.approximated:
                try:
                    compiled.check(text, case["schema"])
                except ValueError:
                    ok = False
                    out["post_check_rejected"] += 1
            if t.get("valid") and not ok:
                out["valid_rejected"] += 1
                out.setdefault("rejected", []).append(i)
            elif not t.get("valid") and ok:
                out["invalid_accepted"] += 1
                out.setdefault("accepted", []).append(i)
    if out["invalid_accepted"]:
        out["status"] = "invalidation_error"
    elif out["valid_rejected"]:
        out["status"] = "validation_error"
    else:
        out["status"] = "passing"
    return out


def _worker(conn: Connection, engine: str) -> None:
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # bench/_llg.py
    from llamaprov.grammars.gbnf import _vocab_model

    _vocab_model()  # load the vocabulary before the first timed schema
    if engine == "llguidance":
        import _llg

        _llg.tokenizer()
    conn.send("ready")
    while True:
        task = conn.recv()
        if task is None:
            return
        path, property_order, approximate = task
        try:
            case = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
            result = check_schema(
                case, property_order=property_order, engine=engine, approximate=approximate
            )
        except Exception as exc:  # a harness bug must not stop the run
            result = {
                "status": "compile_error",
                "error": f"{type(exc).__name__}: {exc}"[:300],
                "n_valid": 0,
                "valid_rejected": 0,
                "invalid_accepted": 0,
            }
        conn.send(result)


class _Slot:
    def __init__(self, ctx: Any, engine: str) -> None:
        self.ctx = ctx
        self.engine = engine
        self.start()

    def start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child, self.engine), daemon=True)
        self.proc.start()
        child.close()
        self.conn.recv()  # "ready"
        self.task: str | None = None
        self.deadline = 0.0

    def restart(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()
        self.conn.close()
        self.start()


def run(
    directory: str | pathlib.Path,
    *,
    limit: int | None = None,
    seed: int = 0,
    workers: int = 2,
    timeout: float = 10.0,
    property_order: str = "any",
    progress: bool = False,
    engine: str = "llamaprov",
    approximate: bool = True,
) -> dict[str, Any]:
    """Run the harness over a MaskBench directory; returns the summary and per-schema results."""
    files = sorted(str(p) for p in pathlib.Path(directory).iterdir() if p.is_file())
    if not files:
        from llamaprov.errors import InvalidArgumentError

        raise InvalidArgumentError(f"no MaskBench files in {directory}")
    if limit is not None and limit < len(files):
        files = sorted(random.Random(seed).sample(files, limit))
    ctx = mp.get_context("spawn")
    slots = [_Slot(ctx, engine) for _ in range(max(1, min(workers, len(files))))]
    pending = list(reversed(files))
    results: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    while pending or any(s.task for s in slots):
        for s in slots:
            if s.task is None and pending:
                s.task = pending.pop()
                s.deadline = time.monotonic() + timeout
                s.conn.send((s.task, property_order, approximate))
        busy = [s for s in slots if s.task]
        waitables: list[Any] = [s.conn for s in busy] + [s.proc.sentinel for s in busy]
        wait_for = max(0.0, min(s.deadline for s in busy) - time.monotonic())
        ready = wait(waitables, timeout=wait_for)
        for s in busy:
            task = s.task
            assert task is not None
            if s.conn in ready:
                try:
                    results[task] = s.conn.recv()
                    s.task = None
                    continue
                except (EOFError, OSError):
                    pass
            if s.proc.sentinel in ready or not s.proc.is_alive():
                results[task] = {
                    "status": "crash",
                    "n_valid": 0,
                    "valid_rejected": 0,
                    "invalid_accepted": 0,
                    "error": f"exit code {s.proc.exitcode}",
                }
                s.task = None
                s.restart()
            elif time.monotonic() > s.deadline:
                results[task] = {
                    "status": "timeout",
                    "n_valid": 0,
                    "valid_rejected": 0,
                    "invalid_accepted": 0,
                }
                s.task = None
                s.restart()
        if progress:
            print(f"\r{len(results)}/{len(files)}", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    for s in slots:
        s.conn.send(None)
        s.proc.join(timeout=5)
        if s.proc.is_alive():
            s.proc.kill()
    return _summary(results, time.perf_counter() - started)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    idx = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[idx]


def _summary(results: dict[str, dict[str, Any]], seconds: float) -> dict[str, Any]:
    counts = dict.fromkeys(STATUSES, 0)
    for r in results.values():
        counts[r["status"]] += 1
    times = [r["compile_ms"] for r in results.values() if "compile_ms" in r]
    n_valid = sum(r["n_valid"] for r in results.values() if r["status"] != "compile_error")
    rejected = sum(r["valid_rejected"] for r in results.values())
    approx = [r for r in results.values() if r.get("approximated")]
    by_keyword: dict[str, int] = {}
    for r in approx:
        for k in r["approximated"]:
            by_keyword[k] = by_keyword.get(k, 0) + 1
    return {
        "schemas": len(results),
        **counts,
        "valid_instances": n_valid,
        "valid_rejected": rejected,
        "invalid_accepted": sum(r["invalid_accepted"] for r in results.values()),
        "approximated": len(approx),
        "approximated_passing": sum(1 for r in approx if r["status"] == "passing"),
        "approximated_keywords": dict(sorted(by_keyword.items(), key=lambda kv: -kv[1])),
        "post_check_rejected": sum(r.get("post_check_rejected", 0) for r in approx),
        "compile_ms_p50": round(_percentile(times, 50), 3),
        "compile_ms_p90": round(_percentile(times, 90), 3),
        "compile_ms_p99": round(_percentile(times, 99), 3),
        "seconds": round(seconds, 1),
        "results": {pathlib.Path(k).name: v for k, v in sorted(results.items())},
    }


def format_table(summary: dict[str, Any]) -> str:
    n = summary["schemas"] or 1
    valid = max(1, summary["valid_instances"])

    def row(label: str, value: int) -> str:
        return f"{label:<38}{value:>7}  {100 * value / n:6.2f}%"

    lines = [
        f"{'schemas':<38}{summary['schemas']:>7}",
        row("passing", summary["passing"]),
        row("compile error", summary["compile_error"]),
        row("validation error (valid rejected)", summary["validation_error"]),
        row("invalidation error (invalid accepted)", summary["invalidation_error"]),
        row("crash", summary["crash"]),
        row("timeout", summary["timeout"]),
        f"{'valid instances rejected':<38}{summary['valid_rejected']:>7} of "
        f"{summary['valid_instances']} ({100 * summary['valid_rejected'] / valid:.2f}%)",
        row("approximated (grammar + jsonschema)", summary.get("approximated", 0)),
        f"{'  of them passing':<38}{summary.get('approximated_passing', 0):>7}",
        f"{'  keywords approximated':<38}"
        + ", ".join(f"{k} {v}" for k, v in summary.get("approximated_keywords", {}).items()),
        f"{'  instances the post-check rejected':<38}{summary.get('post_check_rejected', 0):>7}",
        f"{'compile ms p50 / p90 / p99':<38}{summary['compile_ms_p50']:>7} / "
        f"{summary['compile_ms_p90']} / {summary['compile_ms_p99']}",
        f"{'wall time (s)':<38}{summary['seconds']:>7}",
    ]
    return "\n".join(lines)


_UNSUPPORTED = re.compile(r"unsupported JSON Schema keyword '([^']+)' at [^:]*(?:: ?(.*))?", re.S)


def cause(result: dict[str, Any]) -> str:
    """Why a schema did not pass, in a few words (the keyword and kind of refusal)."""
    status = result["status"]
    if status == "validation_error":
        return "valid instance rejected"
    if status == "invalidation_error":
        return "invalid instance accepted"
    if status != "compile_error":
        return status
    error = result.get("error", "")
    m = _UNSUPPORTED.match(error)
    if not m:
        return "error: " + re.sub(r"'[^']*'|\d+", "_", error)[:60]
    detail = re.sub(r"\s+in\s+'.*", "", m.group(2) or "", flags=re.S)
    detail = re.sub(r"'[^']*'|\{.*|\d+(\.\d+)?", "_", detail)[:60]
    return f"{m.group(1)}: {detail}".rstrip(": ")


def gap_report(ours: dict[str, Any], ref: dict[str, Any], ref_name: str = "LLGuidance") -> str:
    """The schemas ``ref`` passes and ``ours`` does not, grouped by cause (most first)."""
    gap = [k for k, r in ref["results"].items() if r["status"] == "passing"
           and ours["results"].get(k, {}).get("status") != "passing"]
    groups: dict[str, list[str]] = {}
    for k in gap:
        groups.setdefault(cause(ours["results"][k]), []).append(k)
    other = sum(1 for k, r in ours["results"].items() if r["status"] == "passing"
                and ref["results"].get(k, {}).get("status") != "passing")
    lines = [f"schemas {ref_name} passes and llamaprov does not: {len(gap)} "
             f"(the other way round: {other})"]
    for c, names in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        lines.append(f"{len(names):>6}  {c}   e.g. {', '.join(names[:3])}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python bench/maskbench.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("directory")
    parser.add_argument("--limit", type=int, default=None, help="check a random sample of N schemas")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per schema")
    parser.add_argument("--details", help="also write per-schema results to this JSON file")
    parser.add_argument(
        "--property-order",
        choices=("any", "definition"),
        default="any",
        help="object keys in any order (the schema's language; default) or in definition order",
    )
    parser.add_argument(
        "--engine", choices=("llamaprov", "llguidance"), default="llamaprov",
        help="the engine to check (llguidance: the reference, a dev dependency)",
    )
    parser.add_argument(
        "--exact", action="store_true", help="no approximations (every grammar exact or refused)"
    )
    parser.add_argument(
        "--compare", action="store_true",
        help="run llamaprov and LLGuidance; list what LLGuidance passes and llamaprov does not",
    )
    args = parser.parse_args(argv)

    def one(engine: str) -> dict[str, Any]:
        return run(
            args.directory,
            limit=args.limit,
            seed=args.seed,
            workers=args.workers,
            timeout=args.timeout,
            property_order=args.property_order,
            progress=not args.json and sys.stderr.isatty(),
            engine=engine,
            approximate=not args.exact,
        )

    summary = one("llamaprov" if args.compare else args.engine)
    if args.details:
        pathlib.Path(args.details).write_text(json.dumps(summary["results"], indent=1))
    brief = {k: v for k, v in summary.items() if k != "results"}
    if not args.compare:
        print(json.dumps(brief) if args.json else format_table(summary))
        return 0
    ref = one("llguidance")
    if args.json:
        brief_ref = {k: v for k, v in ref.items() if k != "results"}
        print(json.dumps({"llamaprov": brief, "llguidance": brief_ref}))
    else:
        print("llamaprov\n" + format_table(summary) + "\n\nLLGuidance\n" + format_table(ref))
        print("\n" + gap_report(summary, ref))
    return 0


if __name__ == "__main__":
    sys.exit(main())
