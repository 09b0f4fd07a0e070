"""Small corners of the C API: flash-attention names, classifier labels, sampler perf."""

from __future__ import annotations

import pytest

from llamaprov import InvalidArgumentError, SamplingParams
from llamaprov.engine import flash_attn_type_name


def test_flash_attn_type_names() -> None:
    assert [flash_attn_type_name(v) for v in ("auto", True, False, "on", "off", -1, 0, 1)] == [
        "auto", "enabled", "disabled", "enabled", "disabled", "auto", "disabled", "enabled"]
    with pytest.raises(InvalidArgumentError):
        flash_attn_type_name(2)


def test_cls_label_of_a_model_without_labels(model) -> None:
    assert model.cls_label(0) is None  # one unnamed output
    with pytest.raises(InvalidArgumentError, match="classifier output"):
        model.cls_label(1)


def test_sampler_perf_counts_and_prints(model) -> None:
    chain = SamplingParams(temperature=0.7, seed=1).build(model)
    with model.new_context(n_ctx=128) as ctx:
        ctx.decode(model.tokenize("Hello"))
        chain.perf_reset()
        chain.sample(ctx, -1)
        chain.perf_print()  # through llama.cpp's logger; must not fail
    chain.close()
