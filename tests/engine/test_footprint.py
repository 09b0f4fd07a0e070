"""memory_breakdown: llama.cpp's own buffer sizes, per device."""

from __future__ import annotations

import io

import pytest

from llamaprov import ClosedError, InvalidArgumentError, load_model
from llamaprov.engine import memory_breakdown, memory_breakdown_print


def test_breakdown_of_weights_kv_compute_and_output(model, default_model_path) -> None:
    (weights_only,) = memory_breakdown(model)
    size = default_model_path.stat().st_size
    assert weights_only["device"] == "CPU" and 0.9 * size < weights_only["weights"] <= size
    assert weights_only["kv"] == weights_only["compute"] == 0
    with model.new_context(n_ctx=1024) as small, model.new_context(n_ctx=2048) as big:
        (a,) = memory_breakdown(model, small)
        (b,) = memory_breakdown(model, big)
        assert a["kv"] > 0 and b["kv"] == 2 * a["kv"]  # f16 K and V for every cell of every layer
        assert a["compute"] > 0 and a["output"] > 0
        assert b["total"] == b["weights"] + b["kv"] + b["compute"] + b["output"]
        out = io.StringIO()
        memory_breakdown_print(model, big, file=out)
        assert "CPU" in out.getvalue() and "weights" in out.getvalue()


def test_breakdown_checks_its_arguments(model, default_model_path) -> None:
    with pytest.raises(InvalidArgumentError):
        memory_breakdown("model.gguf")  # type: ignore[arg-type]
    other = load_model(default_model_path)
    ctx = other.new_context(n_ctx=256)
    with pytest.raises(InvalidArgumentError, match="another model"):
        memory_breakdown(model, ctx)
    other.close()
    with pytest.raises(ClosedError):
        memory_breakdown(other)
