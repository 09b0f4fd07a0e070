"""LoRA adapters and control vectors on real (tiny, generated) GGUF files."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from llamaprov import ClosedError, InvalidArgumentError, ModelLoadError, load_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _tiny_gguf import write_control_vector, write_tiny_llama, write_tiny_lora


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("adapters")
    return {
        "model": write_tiny_llama(d / "tiny.gguf")[0],
        "wide": write_tiny_llama(d / "wide.gguf", n_embd=128)[0],
        "lora_a": write_tiny_lora(d / "lora-a.gguf", seed=1),
        "lora_b": write_tiny_lora(d / "lora-b.gguf", seed=2, targets=("attn_q",)),
        "cvec": write_control_vector(d / "cvec.gguf", seed=3),
    }


def logits(ctx, tokens) -> np.ndarray:
    ctx.memory.clear()
    ctx.decode(tokens)
    return ctx.logits()


def test_lora_scales_remove_and_stack(files) -> None:
    with load_model(files["model"]) as model, model.new_context(n_ctx=128) as ctx:
        tokens = model.tokenize("hello world")
        base = logits(ctx, tokens)
        a = model.load_lora(files["lora_a"])
        b = model.load_lora(files["lora_b"])
        assert a.meta["adapter.type"] == "lora" and a.alora_invocation_tokens == []
        ctx.apply_lora(a, 0.0)
        assert np.array_equal(logits(ctx, tokens), base)
        ctx.apply_lora(a, 1.0)
        with_a = logits(ctx, tokens)
        assert np.abs(with_a - base).max() > 1e-3
        ctx.apply_lora(b, 1.0)
        with_both = logits(ctx, tokens)
        assert np.abs(with_both - with_a).max() > 1e-3 and ctx.loras == {a: 1.0, b: 1.0}
        ctx.remove_lora(b)
        assert np.array_equal(logits(ctx, tokens), with_a)
        ctx.clear_lora()
        assert np.array_equal(logits(ctx, tokens), base) and ctx.loras == {}
        ctx.apply_lora(a, 0.5)
        a.close()  # takes itself off the context first
        assert ctx.loras == {} and np.array_equal(logits(ctx, tokens), base)
        with pytest.raises(ClosedError):
            ctx.apply_lora(a)
        with pytest.raises(InvalidArgumentError):
            ctx.apply_lora(b, float("nan"))


def test_adapters_belong_to_their_model(files) -> None:
    with load_model(files["wide"]) as wide, pytest.raises(ModelLoadError, match=r"lora-a\.gguf"):
        wide.load_lora(files["lora_a"])  # shapes for another model
    model = load_model(files["model"])
    other = load_model(files["model"])
    adapter = model.load_lora(files["lora_a"])
    with other.new_context(n_ctx=64) as ctx, pytest.raises(InvalidArgumentError, match="another model"):
        ctx.apply_lora(adapter)
    ctx = model.new_context(n_ctx=64)
    ctx.apply_lora(adapter)
    model.close()  # closes its contexts and adapters
    with pytest.raises(ClosedError):
        adapter.meta  # noqa: B018
    adapter.close()  # safe: llama.cpp freed it with the model
    other.close()


def test_control_vectors_scale_with_strength_and_clear(files) -> None:
    with load_model(files["model"]) as model, model.new_context(n_ctx=128) as ctx:
        tokens = model.tokenize("hello world")
        base = logits(ctx, tokens)
        ctx.apply_control_vector(files["cvec"], strength=0.0)
        assert np.allclose(logits(ctx, tokens), base, atol=1e-6)
        ctx.apply_control_vector(files["cvec"], strength=1.0)
        one = logits(ctx, tokens)
        ctx.apply_control_vector(files["cvec"], strength=4.0)
        four = logits(ctx, tokens)
        assert 1e-4 < np.abs(one - base).max() < np.abs(four - base).max()
        ctx.apply_control_vector(files["cvec"], strength=1.0, layer_start=2, layer_end=2)
        assert not np.allclose(logits(ctx, tokens), one)
        ctx.clear_control_vector()
        assert np.array_equal(logits(ctx, tokens), base)
        data = np.ones((2, 64), dtype=np.float32)
        ctx.apply_control_vector({1: data[0]}, strength=0.5)
        assert not np.array_equal(logits(ctx, tokens), base)
        ctx.clear_control_vector()
        bad = [({1: np.ones(3)}, "values"), ({9: data[0]}, "layer"), (np.ones((3, 64)), "shape"),
               ({1: np.full(64, np.nan)}, "NaN")]
        for value, message in bad:
            with pytest.raises(InvalidArgumentError, match=message):
                ctx.apply_control_vector(value)
        with pytest.raises(InvalidArgumentError, match="layer_start"):
            ctx.apply_control_vector(files["cvec"], layer_start=0)
        with pytest.raises(ModelLoadError):
            ctx.apply_control_vector(files["lora_a"])  # not direction.<layer> tensors
