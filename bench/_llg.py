"""LLGuidance as a reference engine for the conformance harness (a dev dependency only).

MaskBench's own ``llg_engine`` runs it this way: one ``LLMatcher`` per schema from
``{"grammars": [{"json_schema": schema}]}``, the tokenizer built from the model's llama.cpp
vocabulary (:func:`llguidance.llamacpp.lltokenizer_from_vocab`). Instances are tokenized with the
same vocabulary as llamaprov's :class:`~llamaprov.grammars.GrammarMatcher` and fed token by token;
a text is accepted when every token is and the matcher then accepts the end.

``llguidance`` is imported lazily: ``import bench._llg`` works without it, :func:`available`
says whether it is installed.
"""

from __future__ import annotations

import json
import time
import warnings
from typing import Any

__all__ = ["available", "check_schema", "compile_schema", "version"]

_tokenizer: Any = None


def available() -> bool:
    """Whether ``llguidance`` can be imported."""
    try:
        import llguidance
        import llguidance.llamacpp  # noqa: F401
    except ImportError:
        return False
    return True


def version() -> str:
    """The installed llguidance version."""
    import llguidance

    return str(getattr(llguidance, "__version__", "?"))


def _model() -> Any:
    from llamaprov.grammars.gbnf import _vocab_model

    return _vocab_model()


def tokenizer() -> Any:
    """LLGuidance's tokenizer for the default model's vocabulary (built once per process)."""
    global _tokenizer
    if _tokenizer is None:
        import llguidance.llamacpp

        model = _model()
        with model._using(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # llama_token_get_attr, per token
            _tokenizer = llguidance.llamacpp.lltokenizer_from_vocab(model._vocab_raw)
    return _tokenizer


def compile_schema(schema: Any) -> Any:
    """An ``LLMatcher`` for ``schema``; raises ValueError with LLGuidance's message when it
    refuses the schema."""
    import llguidance

    grammar = json.dumps({"grammars": [{"json_schema": schema}]})
    matcher = llguidance.LLMatcher(tokenizer(), grammar, log_level=0)
    if matcher.is_error():
        raise ValueError(matcher.get_error())
    return matcher


def accepts(matcher: Any, tokens: list[int]) -> bool:
    """Whether a copy of the (fresh) matcher takes ``tokens`` and then accepts the end (a
    matcher that refused a token stays in its error state, so each text gets its own copy)."""
    matcher = matcher.deep_copy()
    for tok in tokens:
        if not matcher.consume_token(tok):
            return False
        if matcher.is_error():
            return False
    return bool(matcher.is_accepting())


def check_schema(case: dict[str, Any]) -> dict[str, Any]:
    """One MaskBench case under LLGuidance, with the fields of ``maskbench.check_schema``."""
    tests = case.get("tests", [])
    n_valid = sum(1 for t in tests if t.get("valid"))
    out: dict[str, Any] = {"n_valid": n_valid, "valid_rejected": 0, "invalid_accepted": 0}
    tokenizer()
    start = time.perf_counter()
    try:
        matcher = compile_schema(case["schema"])
    except (ValueError, TypeError) as exc:
        out.update(status="compile_error", error=str(exc)[:300])
        return out
    out["compile_ms"] = (time.perf_counter() - start) * 1000
    model = _model()
    for i, t in enumerate(tests):
        text = json.dumps(t["data"], ensure_ascii=False)
        toks = model.tokenize(text, add_special=False, parse_special=False)
        ok = accepts(matcher, toks)
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
