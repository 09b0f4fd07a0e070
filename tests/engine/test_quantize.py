"""Quantizing model files, saving a model, and the names of split models."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from llamaprov import InvalidArgumentError, ModelLoadError, ModelNotFoundError, load_model
from llamaprov.engine import quantize, split_path, split_prefix

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _tiny_gguf import write_tiny_llama


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    # 256 wide so that K-quants apply (their blocks are 256 values)
    folder = tmp_path_factory.mktemp("quantize")
    return write_tiny_llama(folder / "tiny-f32.gguf", n_embd=256, n_ff=512, n_head=4, n_head_kv=2)[0]


def top1_agreement(a_path: Path, b_path: Path, steps: int = 50) -> float:
    """Share of positions where both models predict the same next token, over the first
    model's own greedy continuation (teacher-forced)."""
    with load_model(a_path) as a, load_model(b_path) as b:
        ca, cb = a.new_context(n_ctx=256), b.new_context(n_ctx=256)
        prompt = a.tokenize("hello world this is a test")
        seq = prompt + ca.completion(prompt, max_tokens=steps, temperature=0).result().tokens
        ca.memory.clear()
        ca.decode(seq, logits_all=True)
        cb.decode(seq, logits_all=True)
        same = [np.argmax(ca.logits_ith(i)) == np.argmax(cb.logits_ith(i))
                for i in range(len(prompt) - 1, len(seq) - 1)]
        ca.close()
        cb.close()
    return float(np.mean(same))


def test_q8_0_and_q4_k_m_shrink_and_q8_0_keeps_the_predictions(tiny, tmp_path) -> None:
    size = tiny.stat().st_size
    q8 = quantize(tiny, tmp_path / "tiny-q8_0.gguf", "Q8_0")
    q4 = quantize(tiny, tmp_path / "tiny-q4_k_m.gguf", "q4_k_m")
    # F32 -> 8.5 bits, -> ~4.5-5 bits per weight (the norms stay F32)
    assert q8.stat().st_size < 0.6 * size
    assert q4.stat().st_size < 0.75 * q8.stat().st_size
    assert top1_agreement(tiny, q8) >= 0.9
    with load_model(q4) as m:
        assert "Q4_K" in m.desc


def test_bad_quantize_requests_raise(tiny, tmp_path) -> None:
    with pytest.raises(InvalidArgumentError, match="Q9_9"):
        quantize(tiny, tmp_path / "x.gguf", "Q9_9")
    with pytest.raises(InvalidArgumentError, match="importance matrix"):
        quantize(tiny, tmp_path / "x.gguf", "IQ2_XS")
    with pytest.raises(ModelNotFoundError):
        quantize(tmp_path / "missing.gguf", tmp_path / "x.gguf", "Q8_0")
    (tmp_path / "not.gguf").write_bytes(b"not a model")
    with pytest.raises(ModelLoadError):
        quantize(tmp_path / "not.gguf", tmp_path / "x.gguf", "Q8_0")
    with pytest.raises(InvalidArgumentError, match="overwrite"):
        quantize(tiny, tiny, "Q8_0")
    q8 = quantize(tiny, tmp_path / "q8.gguf", "Q8_0")
    with pytest.raises(ModelLoadError, match="requantiz"):
        quantize(q8, tmp_path / "q4.gguf", "Q4_0")  # already quantized, allow_requantize=False
    assert quantize(q8, tmp_path / "q4.gguf", "Q4_0", allow_requantize=True).exists()


def test_a_saved_model_generates_the_same_tokens(model, tmp_path) -> None:
    model.save(tmp_path / "copy.gguf")
    prompt = model.apply_chat_template([{"role": "user", "content": "Name a color."}])
    with model.new_context(n_ctx=256) as ctx:
        expected = ctx.completion(prompt, max_tokens=16, temperature=0).result().tokens
    with load_model(tmp_path / "copy.gguf") as copy, copy.new_context(n_ctx=256) as ctx:
        assert ctx.completion(prompt, max_tokens=16, temperature=0).result().tokens == expected
    with pytest.raises(InvalidArgumentError):
        model.save(tmp_path / "no-such-dir" / "x.gguf")


def test_split_names() -> None:
    assert split_path("/models/m", 0, 3) == "/models/m-00001-of-00003.gguf"
    assert split_prefix("/models/m-00002-of-00003.gguf", 1, 3) == "/models/m"
    assert split_prefix("/models/m.gguf", 0, 3) is None
    with pytest.raises(InvalidArgumentError):
        split_path("/models/m", 3, 3)


def test_a_split_model_loads_from_its_first_part_or_the_list(tmp_path) -> None:
    whole = write_tiny_llama(tmp_path / "whole.gguf", seed=3)[0]
    parts = write_tiny_llama(tmp_path / "split.gguf", seed=3, split_count=3)
    assert [p.name for p in parts] == [Path(split_path(str(tmp_path / "split"), i, 3)).name for i in range(3)]
    outputs = []
    for source in (whole, parts[0], parts):
        with load_model(source) as m, m.new_context(n_ctx=128) as ctx:
            outputs.append(ctx.completion(m.tokenize("hello"), max_tokens=8, temperature=0).result().tokens)
    assert outputs[0] == outputs[1] == outputs[2]


def test_progress_counts_every_tensor(tiny, tmp_path, monkeypatch) -> None:
    from llamaprov import _progress

    seen: list[tuple[int | None, int]] = []

    class Recorder:
        def __init__(self, total, **_):
            self.total, self.n = total, 0

        def update(self, n):
            self.n += n
            seen.append((self.total, self.n))

        def set_total(self, total):
            self.total = total

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    monkeypatch.setattr(sys.modules["llamaprov.engine.quantize"], "ProgressBar", Recorder)
    quantize(tiny, tmp_path / "q8.gguf", "Q8_0", progress=True)
    import gguf

    n_tensors = len(gguf.GGUFReader(tiny).tensors)
    assert seen and seen[-1] == (n_tensors, n_tensors)
    assert [n for _, n in seen] == sorted(n for _, n in seen)
    assert _progress.ProgressBar is not Recorder
