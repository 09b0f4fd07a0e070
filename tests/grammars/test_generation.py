"""Greedy generation with the default model under compiled grammars yields schema-valid JSON."""

from __future__ import annotations

import json
import os
import pathlib
import random
import time
from typing import Any

import jsonschema
import pytest

from llamaprov.errors import UnsupportedSchemaError
from llamaprov.grammars import json_schema_to_gbnf

DATA = pathlib.Path(os.environ.get("LLAMAPROV_MASKBENCH_DIR", "/work/shared/jsonschemabench/maskbench"))
N_SCHEMAS = 50


def _sample() -> list[tuple[str, Any, str]]:
    files = sorted(DATA.iterdir())
    random.Random(7).shuffle(files)
    out = []
    for f in files:
        schema = json.loads(f.read_text(encoding="utf-8"))["schema"]
        try:
            grammar = json_schema_to_gbnf(schema, whitespace="compact")
        except UnsupportedSchemaError:
            continue
        out.append((f.name, schema, grammar))
        if len(out) == N_SCHEMAS:
            break
    return out


@pytest.mark.skipif(not DATA.is_dir(), reason=f"MaskBench data not found at {DATA}")
def test_greedy_generation_is_valid(model: Any) -> None:
    from llamaprov.engine import SamplingParams

    ctx = model.new_context(n_ctx=2048)
    finished = 0
    failures = []
    start = time.perf_counter()
    for name, schema, grammar in _sample():
        title = schema.get("title") or schema.get("description") or name if isinstance(schema, dict) else name
        prompt = (
            f"<|im_start|>user\nWrite one JSON value for: {str(title)[:80]}<|im_end|>\n"
            "<|im_start|>assistant\n"
        )
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
            jsonschema.validators.validator_for(schema)(schema).validate(value)
        except (ValueError, jsonschema.ValidationError) as exc:
            failures.append(f"{name}: {completion.text!r}: {str(exc)[:200]}")
    elapsed = time.perf_counter() - start
    assert not failures, "\n".join(failures)
    assert finished >= N_SCHEMAS // 2, f"only {finished} of {N_SCHEMAS} generations finished"
    print(f"{finished}/{N_SCHEMAS} finished and valid in {elapsed:.1f} s")
