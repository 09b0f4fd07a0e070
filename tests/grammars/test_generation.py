"""Greedy generation with the default model under compiled grammars yields schema-valid JSON."""

from __future__ import annotations

import json
import os
import pathlib
import time
from typing import Any

import jsonschema

from llamaprov.errors import UnsupportedSchemaError
from llamaprov.grammars import json_schema_to_gbnf

# ../shared beside the repository (as on CI), or LLAMAPROV_MASKBENCH_DIR.
DATA = pathlib.Path(os.environ.get(
    "LLAMAPROV_MASKBENCH_DIR",
    pathlib.Path(__file__).resolve().parents[3] / "shared" / "jsonschemabench" / "maskbench"))
assert DATA.is_dir(), f"MaskBench data not found at {DATA} (set LLAMAPROV_MASKBENCH_DIR)"
N_SCHEMAS = 50


def _sample() -> list[tuple[str, Any, str]]:
    """The shared schemas with the smallest grammars (short outputs: the run stays quick)."""
    found = []
    for f in sorted(DATA.iterdir()):
        schema = json.loads(f.read_text(encoding="utf-8"))["schema"]
        try:
            grammar = json_schema_to_gbnf(schema, whitespace="compact")
        except UnsupportedSchemaError:
            continue
        found.append((len(grammar), f.name, schema, grammar))
    found.sort(key=lambda x: (x[0], x[1]))
    # every sixth of the 300 smallest: varied, yet short enough to finish within max_tokens
    return [(name, schema, grammar) for _, name, schema, grammar in found[:300:6]][:N_SCHEMAS]


def _request(schema: Any) -> str:
    """A short instruction naming the top-level keys, so the small model rarely fights the grammar."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    if isinstance(props, dict) and props:
        return "Reply with a short JSON object with the keys: " + ", ".join(list(props)[:8])
    return "Reply with a short JSON value."


def test_greedy_generation_is_valid(model: Any) -> None:
    from llamaprov.engine import SamplingParams

    ctx = model.new_context(n_ctx=2048)
    finished = 0
    failures = []
    start = time.perf_counter()
    for name, schema, grammar in _sample():
        prompt = f"<|im_start|>user\n{_request(schema)}<|im_end|>\n<|im_start|>assistant\n"
        completion = ctx.completion(
            prompt, max_tokens=48, sampling=SamplingParams(temperature=0, grammar=grammar)
        )
        for _ in completion:
            pass
        if completion.finish_reason == "length":
            continue
        finished += 1
        try:
            value = json.loads(completion.text)
            validator = jsonschema.validators.validator_for(schema)
            validator(schema, format_checker=validator.FORMAT_CHECKER).validate(value)
        except (ValueError, jsonschema.ValidationError) as exc:
            failures.append(f"{name}: {completion.text!r}: {str(exc)[:200]}")
    elapsed = time.perf_counter() - start
    assert not failures, "\n".join(failures)
    assert finished >= N_SCHEMAS // 5, f"only {finished} of {N_SCHEMAS} generations finished"
    print(f"{finished}/{N_SCHEMAS} finished and valid in {elapsed:.1f} s")
