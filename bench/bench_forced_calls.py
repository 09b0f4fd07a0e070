"""Forced tool calls on the default model: schema validity and degenerate repetition.

Takes the BFCL and Glaive function schemas of MaskBench, writes one prompt per schema (from the
function's name and descriptions, as a user would ask), forces a call to that function with
what a user writes (``temperature=0``, the default ``max_tokens``) and counts:
  - valid: the turn holds exactly one call of that function and its arguments validate against
    the schema (a cut-off call, an error or plain text counts as invalid);
  - looping: the call's text (the arguments, or the raw reply when no call was parsed) holds a
    4-gram of model tokens repeated 5 or more times;
  - ran to the budget: the output ended within 4 tokens of max_tokens (closed there by
    grammar_close, or cut), i.e. the model did not end it: a loop that a 4-gram count can miss
    (one that varies) and that a list of similar objects (keys repeated per item) is not.

Run on a quiet machine: python bench/bench_forced_calls.py [DIR] [--n 200] [--seed 0]
Extra sampling settings for a comparison: --params '{"dry_multiplier": 0.8}'.
"""

from __future__ import annotations

import argparse
import collections
import json
import pathlib
import random
import re
import time
from typing import Any

DEFAULT_DIR = str(pathlib.Path(__file__).resolve().parents[2] / "shared" / "jsonschemabench" / "maskbench")
_NAME = re.compile(r"[^A-Za-z0-9_.-]")
_PROMPTS = (
    "Please {action}. Use the {name} function.",
    "I need to {action} — call {name} with sensible values.",
    "Can you {action} for me? Fill in every argument of {name}.",
    "{Action} using {name}; make up realistic inputs.",
)


def _tool_from_case(path: pathlib.Path) -> tuple[str, dict[str, Any]] | None:
    """(function name, arguments schema) of a MaskBench case, or None when it is not a function."""
    schema = json.loads(path.read_text())["schema"]
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        return None
    props = schema.get("properties")
    if path.name.startswith("BFCL_"):
        # BFCL wraps the arguments: {"properties": {"module.function": {arguments schema}}}
        if not isinstance(props, dict) or len(props) != 1:
            return None
        (name, params), = props.items()
        if not isinstance(params, dict) or params.get("type") != "object":
            return None
        return _NAME.sub("_", name)[:64], params
    name = path.stem.split("---", 1)[1].rsplit("_", 1)[0]
    return _NAME.sub("_", name)[:64], {**schema, "type": "object"}


def _action(name: str, params: dict[str, Any]) -> str:
    words = re.sub(r"[._]+", " ", name.rsplit(".", 1)[-1])
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", words).lower()
    described = [
        str(p.get("description", "")).rstrip(".").lower()
        for p in (params.get("properties") or {}).values()
        if isinstance(p, dict) and p.get("description")
    ]
    return f"{words} ({described[0]})" if described else words


def cases(folder: str, n: int, seed: int) -> list[tuple[str, dict[str, Any], str]]:
    """``n`` (name, schema, prompt) triples, half BFCL and half Glaive, drawn with ``seed``."""
    rng = random.Random(seed)
    pools: dict[str, list[tuple[str, dict[str, Any]]]] = {"BFCL_": [], "Glaiveai2K": []}
    for path in sorted(pathlib.Path(folder).glob("*.json")):
        for prefix, pool in pools.items():
            if path.name.startswith(prefix) and (tool := _tool_from_case(path)) is not None:
                pool.append(tool)
    out = []
    for i, pool in enumerate(pools.values()):
        k = n // 2 + (n % 2 if i == 0 else 0)
        for name, params in rng.sample(pool, min(k, len(pool))):
            template = rng.choice(_PROMPTS)
            action = _action(name, params)
            prompt = template.format(action=action, Action=action[:1].upper() + action[1:], name=name)
            out.append((name, params, prompt))
    return out


def repeated_ngram(tokens: list[int], n: int = 4, times: int = 5) -> bool:
    """Whether some ``n``-gram occurs ``times`` or more times in ``tokens``."""
    counts = collections.Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    return bool(counts) and max(counts.values()) >= times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", default=DEFAULT_DIR)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--params", default="{}", help="extra chat params as JSON")
    parser.add_argument("--show", type=int, default=3, help="print this many invalid outputs")
    parser.add_argument("--dump", help="write each case's outcome to this JSON-lines file")
    args = parser.parse_args()

    import jsonschema

    from llamaprov import LlamaProvError, default_model_path, load_model
    from llamaprov.chat import LlamaProvider, ToolDef, Turn
    from llamaprov.chat.content import ContentText
    from llamaprov.chat.provider_llama import DEFAULT_MAX_TOKENS

    params = {"temperature": 0, **json.loads(args.params)}
    todo = cases(args.dir, args.n, args.seed)
    model = load_model(default_model_path())
    provider = LlamaProvider(model)
    valid = looping = ran_out = 0
    budget = int(params.get("max_tokens", DEFAULT_MAX_TOKENS))
    failures: collections.Counter[str] = collections.Counter()
    shown = 0
    dump = open(args.dump, "w", encoding="utf-8") if args.dump else None  # noqa: SIM115
    start = time.perf_counter()
    for name, schema, prompt in todo:
        tool = ToolDef(name=name, description=str(schema.get("description", "")), parameters=schema)
        raw, outcome, used = "", "valid", budget
        try:
            turn = provider.chat_perform([Turn("user", [ContentText(prompt)])], tools=[tool],
                                         tool_choice=name, params=params)
            used = turn.tokens.output if turn.tokens is not None else budget
            calls = turn.tool_requests
            if len(calls) == 1 and calls[0].name == name:
                raw = json.dumps(calls[0].arguments, ensure_ascii=False, separators=(",", ":"))
                jsonschema.validate(calls[0].arguments, schema)
                valid += 1
            else:
                raw = turn.text
                outcome = "no call parsed"
        except jsonschema.ValidationError as exc:
            outcome = "schema-invalid arguments"
            raw = raw or str(exc.instance)
        except LlamaProvError as exc:
            outcome = type(exc).__name__
            raw = getattr(exc, "raw", "") or str(exc)  # the output so far, when there was one
        if outcome != "valid":
            failures[outcome] += 1
        loops = repeated_ngram(model.tokenize(raw, add_special=False))
        looping += loops
        ran_out += used >= budget - 4
        if dump is not None:
            dump.write(json.dumps({"name": name, "prompt": prompt, "outcome": outcome,
                                   "looping": loops, "tokens": used, "raw": raw}, ensure_ascii=False) + "\n")
        if shown < args.show and sum(failures.values()) > shown:
            print(f"  invalid [{name}] {prompt!r}\n    -> {raw[:100]!r} ... {raw[-100:]!r}")
            shown += 1
    elapsed = time.perf_counter() - start
    n = len(todo)
    print(f"forced calls, default model, params {params}: {n} prompts in {elapsed:.0f} s")
    print(f"  schema-valid: {valid}/{n} = {100 * valid / n:.1f}%")
    print(f"  repeated 4-gram >= 5 times: {looping}/{n} = {100 * looping / n:.1f}%")
    print(f"  ran to the budget ({budget} tokens): {ran_out}/{n} = {100 * ran_out / n:.1f}%")
    for kind, count in failures.most_common():
        print(f"  invalid: {kind}: {count}")
    if dump is not None:
        dump.close()
    provider.close()
    model.close()


if __name__ == "__main__":
    main()
