"""LoRA adapters per request: in the engine's scheduler (one decode per adapter set, prefixes
reused only under their own set) and in the chat layer (``lora=`` per call, per chat, and on
requests queued with ``submit``), on a tiny generated model and adapters made for it."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from llamaprov import ClosedError, InvalidArgumentError, load_model
from llamaprov.chat import Chat, LlamaProvider, Turn, parallel_chat, params
from llamaprov.engine import _loraset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _tiny_gguf import write_tiny_llama, write_tiny_lora

# ChatML; the tiny model has no template of its own
CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
GREEDY = {"temperature": 0, "max_tokens": 12}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("chat-lora")
    return {
        "model": write_tiny_llama(d / "tiny.gguf")[0],
        "lora_a": write_tiny_lora(d / "lora-a.gguf", seed=1),
        "lora_b": write_tiny_lora(d / "lora-b.gguf", seed=2, targets=("attn_q",)),
    }


@pytest.fixture(scope="module")
def tiny(files):
    with load_model(files["model"]) as model:
        yield model, model.load_lora(files["lora_a"]), model.load_lora(files["lora_b"])


def user(text: str) -> list[Turn]:
    return [Turn("user", [text])]


# ------------------------------------------------------------------------------------ engine
def test_each_adapter_set_decodes_apart_and_matches_its_run_alone(tiny) -> None:
    model, a, b = tiny
    prompt = model.tokenize("hello world how are you")
    sets = [None, {a: 1.0}, {a: 0.5}, {a: 1.0, b: 1.0}, {}]
    with model.new_context(n_ctx=512, n_seq_max=len(sets)) as ctx:
        alone = [ctx.completion(prompt, max_tokens=12, temperature=0, reuse_cache=False,
                                lora=lora).result().tokens for lora in sets]
        assert alone[0] == alone[4] != alone[1] != alone[2] and alone[1] != alone[3]
        sched = ctx.scheduler()
        together = [sched.submit(prompt, max_tokens=12, temperature=0, lora=lora) for lora in sets]
        sched.run()
        assert [c.tokens for c in together] == alone
        assert ctx.loras == {}  # the context's own set is back
        ctx.apply_lora(b, 1.0)  # now the context's own set: the default of a generation
        own = ctx.completion(prompt, max_tokens=12, temperature=0, reuse_cache=False).result()
        assert own.tokens == ctx.completion(prompt, max_tokens=12, temperature=0, reuse_cache=False,
                                            lora={b: 1.0}).result().tokens != alone[0]
        assert ctx.completion(prompt, max_tokens=12, temperature=0, reuse_cache=False,
                              lora={}).result().tokens == alone[0]
        assert ctx.loras == {b: 1.0}


def test_the_adapters_are_switched_only_when_the_set_changes(tiny, monkeypatch) -> None:
    model, a, _ = tiny
    calls: list[tuple] = []
    real = _loraset.activate

    def counted(ctx, lora, **kw):
        calls.append(lora)
        return real(ctx, lora, **kw)

    monkeypatch.setattr(_loraset, "activate", counted)
    prompt = model.tokenize("hello world")
    with model.new_context(n_ctx=256, n_seq_max=2) as ctx:
        ctx.completion(prompt, max_tokens=8, temperature=0).result()
        ctx.completion(prompt, max_tokens=8, temperature=0, lora={}).result()
        assert calls == []  # the set applied already
        ctx.completion(prompt, max_tokens=8, temperature=0, lora={a: 1.0}).result()
        assert calls == [((a, 1.0),), ()]  # on for the generation, off when it is done
        calls.clear()
        sched = ctx.scheduler()
        sched.submit(prompt, max_tokens=8, temperature=0, lora={a: 1.0})
        sched.submit(prompt, max_tokens=8, temperature=0)
        sched.run()
        assert len(calls) <= 2 * 8 + 1  # at most one switch per step (the applied set goes first)


def test_a_cached_prefix_is_reused_only_under_its_own_adapters(tiny) -> None:
    model, a, _ = tiny
    prompt = model.tokenize("hello world how are you today")
    with model.new_context(n_ctx=1024, n_seq_max=3) as ctx:
        plain = ctx.completion(prompt, max_tokens=4, temperature=0).result()
        with_a = ctx.completion(prompt, max_tokens=4, temperature=0, lora={a: 1.0}).result()
        again = ctx.completion(prompt, max_tokens=4, temperature=0, lora={a: 1.0}).result()
        scaled = ctx.completion(prompt, max_tokens=4, temperature=0, lora={a: 0.5}).result()
        assert with_a.usage.cached_tokens == 0 and scaled.usage.cached_tokens == 0
        assert again.usage.cached_tokens == len(prompt) - 1 and again.tokens == with_a.tokens
        assert plain.tokens != with_a.tokens
        # a prefix decoded under one set is not shared with a sequence of another set
        long = model.tokenize("hello world " * 6)
        sched = ctx.scheduler()
        first = sched.submit(long, max_tokens=2, temperature=0, seq_id=0)
        sched.run()
        other = sched.submit(long + prompt, max_tokens=2, temperature=0, seq_id=1, lora={a: 1.0})
        same = sched.submit(long + prompt, max_tokens=2, temperature=0, seq_id=2)
        sched.run()
        assert first.usage.cached_tokens == 0 and other.usage.cached_tokens == 0
        assert same.usage.cached_tokens >= len(long) - 1


def test_bad_adapter_sets_are_refused_before_anything_runs(tiny, files) -> None:
    model, _, _ = tiny
    with load_model(files["model"]) as other, other.new_context(n_ctx=256, n_seq_max=2) as ctx:
        foreign = other.load_lora(files["lora_a"])
        bad = [({model.load_lora(files["lora_a"]): 1.0}, InvalidArgumentError, r"lora-a\.gguf"),
               ({foreign: math.nan}, InvalidArgumentError, "scale"),
               ({foreign: 1e9}, InvalidArgumentError, "scale"),
               (["x"], InvalidArgumentError, "mapping"),
               ({"x": 1.0}, InvalidArgumentError, "LoraAdapter")]
        for lora, error, message in bad:
            with pytest.raises(error, match=message):
                ctx.completion("hi", max_tokens=2, lora=lora)
        gone = other.load_lora(files["lora_a"])
        gone.close()
        with pytest.raises(ClosedError, match=r"lora-a\.gguf"):
            ctx.completion("hi", max_tokens=2, lora={gone: 1.0})
        # closed between submit and its first step: that generation fails, the other goes on
        doomed = other.load_lora(files["lora_a"])
        sched = ctx.scheduler()
        lost = sched.submit("hi there", max_tokens=3, temperature=0, lora={doomed: 1.0})
        kept = sched.submit("hi there", max_tokens=3, temperature=0)
        doomed.close()
        sched.run()
        assert lost.finish_reason == "error" and isinstance(lost.error, ClosedError)
        assert kept.finish_reason in ("eog", "length") and ctx.loras == {}


# -------------------------------------------------------------------------------------- chat
def test_chat_lora_per_call_per_chat_and_off(tiny) -> None:
    model, a, _ = tiny
    provider = LlamaProvider(model, template=CHATML, n_ctx=512)
    plain = Chat(provider, params=GREEDY).chat("hello there")
    adapted = Chat(provider, params=GREEDY).chat("hello there", lora={a: 1.0})
    assert adapted != plain
    chat = Chat(provider, params=GREEDY, lora={a: 1.0})
    assert chat.params().lora == {a: 1.0}
    assert chat.chat("hello there") == adapted
    chat.set_turns([])
    assert chat.chat("hello there", lora={}) == plain  # a call's own set replaces the chat's
    assert Chat(provider, params={**GREEDY, "lora": {a: 1.0}}).chat("hello there") == adapted
    assert params(lora={a: 1}).lora == {a: 1.0}
    # the conversation's cached prompt is not reused under other adapters
    chat = Chat(provider, params=GREEDY)
    chat.chat("hello there")
    chat.chat("and now?", lora={a: 1.0})
    chat.chat("and then?", lora={a: 1.0})
    usage = chat.tokens_used(per_turn=True)
    assert usage[1].cached == 0 and usage[2].cached > usage[1].input // 2
    provider.close()


def test_requests_with_different_adapters_run_together_and_match_alone(tiny) -> None:
    model, a, b = tiny
    provider = LlamaProvider(model, template=CHATML, n_ctx=1024, max_parallel=4)
    sets = [None, {a: 1.0}, {a: 1.0, b: 0.5}, {}]
    alone = [provider.submit(user("hello there"), params={**GREEDY, "lora": lora}).result(timeout=60).text
             for lora in sets]
    assert alone[0] == alone[3] and len({alone[0], alone[1], alone[2]}) == 3
    futures = [provider.submit(user("hello there"), params={**GREEDY, "lora": lora}) for lora in sets]
    assert [f.result(timeout=60).text for f in futures] == alone
    assert provider._batcher.peak >= 2  # decoded together
    chat = Chat(provider, params=GREEDY, lora={a: 1.0})
    assert parallel_chat(chat, ["hello there", "hello there"]) == [alone[1], alone[1]]
    provider.close()


def test_chat_lora_errors_leave_the_conversation_as_it_was(tiny, files) -> None:
    model, a, _ = tiny
    provider = LlamaProvider(model, template=CHATML, n_ctx=512)
    chat = Chat(provider, params=GREEDY)
    chat.chat("hello there")
    with load_model(files["model"]) as other:
        foreign = other.load_lora(files["lora_a"])
        with pytest.raises(InvalidArgumentError, match=r"lora-a\.gguf.*not for this provider"):
            chat.chat("again", lora={foreign: 1.0})
        with pytest.raises(InvalidArgumentError, match=r"lora-a\.gguf.*not for this provider"):
            provider.submit(user("hi"), params={"lora": {foreign: 1.0}})
    with pytest.raises(InvalidArgumentError, match="finite"):
        chat.chat("again", lora={a: math.inf})
    with pytest.raises(InvalidArgumentError, match="LoraAdapter"):
        Chat(provider, lora={"a": 1.0})
    gone = model.load_lora(files["lora_a"])
    gone.close()
    with pytest.raises(ClosedError, match="closed"):
        chat.chat("again", lora={gone: 1.0})
    assert len(chat.get_turns()) == 2
    assert chat.chat("again", lora={a: 1.0})
    provider.close()
