"""Saving and restoring context state: whole context, one sequence, files and bytes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from llamaprov import InvalidArgumentError, StateError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _tiny_gguf import write_tiny_llama


@pytest.fixture
def primed(model):
    """A context holding a prompt and a few generated tokens, and the greedy tokens that follow."""
    ctx = model.new_context(n_ctx=512, n_seq_max=2)
    prompt = model.apply_chat_template([{"role": "user", "content": "Name three rivers."}])
    ctx.completion(prompt, max_tokens=8, temperature=0).result()
    held = ctx.memory.tokens(0)
    yield ctx, held
    ctx.close()


def continuation(ctx, held: list[int]) -> tuple[list[int], int]:
    c = ctx.completion(held, max_tokens=12, temperature=0).result()
    return c.tokens, c.usage.cached_tokens


def test_a_saved_state_continues_exactly_in_a_fresh_context(model, primed, tmp_path) -> None:
    ctx, held = primed
    ctx.save_state(tmp_path / "s.bin", held)
    data = ctx.get_state()
    assert len(data) == ctx.state_size() > 0
    expected, _ = continuation(ctx, held)
    for restore in ("file", "bytes"):
        fresh = model.new_context(n_ctx=512, n_seq_max=2)
        if restore == "file":
            assert fresh.load_state(tmp_path / "s.bin") == held
            tokens, cached = continuation(fresh, held)
            assert cached == len(held) - 1  # the prompt was not decoded again
        else:
            fresh.set_state(data)
            tokens, _ = continuation(fresh, held)
        assert tokens == expected
        fresh.close()


def test_a_sequence_state_copies_into_another_sequence(model, primed, tmp_path) -> None:
    ctx, held = primed
    blob = ctx.get_seq_state(0)
    assert len(blob) == ctx.seq_state_size(0)
    ctx.set_seq_state(blob, 1)
    assert ctx.memory.seq_pos_range(1) == ctx.memory.seq_pos_range(0)
    written = ctx.save_seq_state(tmp_path / "q.bin", 0, held)
    assert written > len(held) * 4
    fresh = model.new_context(n_ctx=512, n_seq_max=2)
    assert fresh.load_seq_state(tmp_path / "q.bin", 1) == held
    assert fresh.memory.seq_pos_range(1) == (0, len(held) - 1)
    assert fresh.get_seq_state(1, flags=[]) and fresh.seq_state_size(1, "partial_only") >= 0
    fresh.close()


def test_bad_state_raises_and_leaves_the_context_usable(model, primed, tmp_path) -> None:
    ctx, held = primed
    ctx.save_state(tmp_path / "s.bin", held)
    raw = (tmp_path / "s.bin").read_bytes()
    tiny = write_tiny_llama(tmp_path / "tiny.gguf")[0]
    from llamaprov import load_model

    with load_model(tiny) as other:
        octx = other.new_context(n_ctx=128)
        octx.decode(other.tokenize("hello world"))
        octx.save_state(tmp_path / "other.bin", other.tokenize("hello world"))
        octx.close()
    bad = {
        "truncated.bin": raw[: len(raw) // 2],
        "flipped.bin": raw[:20] + bytes(b ^ 0x5A for b in raw[20:400]) + raw[400:],
        "header.bin": raw[:12],
        "foreign.bin": b"not a state file at all",
        "other-model.bin": (tmp_path / "other.bin").read_bytes(),
    }
    fresh = model.new_context(n_ctx=512, n_seq_max=2)
    for name, blob in bad.items():
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(StateError):
            fresh.load_state(tmp_path / name)
        with pytest.raises(StateError):
            fresh.set_state(blob)
        with pytest.raises(StateError):
            fresh.set_seq_state(blob[12:] or b"x", 0)
        assert fresh.memory.tokens(0) == [] and fresh.memory.seq_pos_range(0) == (-1, -1)
        assert fresh.generate("Hello", max_tokens=3, temperature=0)  # still usable
    with pytest.raises(StateError):
        fresh.load_state(tmp_path / "missing.bin")
    with pytest.raises(InvalidArgumentError):
        fresh.get_seq_state(0, flags="everything")
    with pytest.raises(InvalidArgumentError):
        fresh.set_seq_state("text", 0)  # type: ignore[arg-type]
    fresh.close()
