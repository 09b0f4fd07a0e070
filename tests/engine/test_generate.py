"""Generation: greedy determinism, sampling knobs, stops, limits, UTF-8 streaming, scheduler."""

from __future__ import annotations

import pytest

from llamaprov import (
    ContextOverflowError,
    GrammarError,
    InvalidArgumentError,
    SamplerChain,
    SamplingParams,
    sampling,
)


@pytest.fixture(scope="module")
def ctx(model):
    with model.new_context(n_ctx=1024, n_seq_max=4) as c:
        yield c


def chat_prompt(model, text: str) -> str:
    return model.apply_chat_template([{"role": "user", "content": text}])


def test_greedy_is_deterministic_and_streams_the_same_text(model, ctx):
    prompt = chat_prompt(model, "Name three fruits.")
    first = ctx.generate(prompt, max_tokens=24, temperature=0)
    second = ctx.generate(prompt, max_tokens=24, temperature=0, reuse_cache=False)
    streamed = "".join(ctx.stream(prompt, max_tokens=24, temperature=0))
    assert first and first == second == streamed


def test_completion_reports_usage_and_finish(model, ctx):
    prompt = chat_prompt(model, "Say hello.")
    n_prompt = len(model.tokenize(prompt, parse_special=True))
    c = ctx.completion(prompt, max_tokens=5, temperature=0, reuse_cache=False).result()
    assert c.finish_reason == "length"
    assert c.usage.prompt_tokens == n_prompt and c.usage.cached_tokens == 0
    assert c.usage.completion_tokens == len(c.tokens) == 5
    again = ctx.completion(prompt, max_tokens=5, temperature=0).result()
    assert again.usage.cached_tokens == n_prompt - 1  # all but the last prompt token reused
    assert again.text == c.text


def test_end_of_generation_stops(model, ctx):
    c = ctx.completion(chat_prompt(model, "Reply with the single word: yes"), max_tokens=200,
                       temperature=0).result()
    assert c.finish_reason == "eog"
    assert "<|im_end|>" not in c.text


def test_stop_strings_are_not_emitted(model, ctx):
    prompt = chat_prompt(model, "Count from 1 to 10, one number per line.")
    full = ctx.generate(prompt, max_tokens=40, temperature=0)
    assert "4" in full
    c = ctx.completion(prompt, max_tokens=40, temperature=0, stop=["4", "zzz"]).result()
    assert c.finish_reason == "stop" and c.stop_string == "4"
    assert "4" not in c.text
    assert full.startswith(c.text)
    pieces = list(ctx.stream(prompt, max_tokens=40, temperature=0, stop="4"))
    assert "".join(pieces) == c.text


def test_multichar_stop_across_tokens(model, ctx):
    prompt = chat_prompt(model, "Count from 1 to 10, one number per line.")
    full = ctx.generate(prompt, max_tokens=40, temperature=0)
    stop = full[5:9]
    out = ctx.generate(prompt, max_tokens=40, temperature=0, stop=[stop])
    assert out == full[: full.index(stop)]


@pytest.mark.parametrize("text", ["🎉🎊🥳 party", "漢字と仮名の文章"])
def test_streaming_is_utf8_safe(model, ctx, text):
    prompt = chat_prompt(model, f"Repeat exactly: {text}")
    # Force the output through the grammar so the multi-byte characters are really produced.
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    pieces = list(ctx.stream(prompt, max_tokens=40, temperature=0, grammar=f'root ::= "{escaped}"'))
    assert "".join(pieces) == text
    assert all("\ufffd" not in p for p in pieces)
    tokens = model.tokenize(text, add_special=False)
    split = [model.token_bytes(t) for t in tokens]
    assert any(len(b) and not _decodes(b) for b in split), "test needs a character split across tokens"


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def test_prompt_longer_than_context(model):
    with model.new_context(n_ctx=256) as small:
        with pytest.raises(ContextOverflowError) as info:
            small.generate("word " * 400, max_tokens=4)
        assert info.value.n_ctx == small.n_ctx and info.value.n_tokens > small.n_ctx
        assert str(small.n_ctx) in str(info.value) and str(info.value.n_tokens) in str(info.value)


def test_generation_stops_at_context_end(model):
    with model.new_context(n_ctx=256) as small:
        prompt = chat_prompt(model, "Tell a long story. " * 20)
        # A grammar with no end: only the context limit can stop it.
        c = small.completion(prompt, max_tokens=1000, temperature=0,
                             grammar='root ::= "la " root').result()
        assert c.finish_reason == "length" and c.usage.completion_tokens < 256
        assert c.usage.prompt_tokens + c.usage.completion_tokens <= small.n_ctx


def test_max_tokens_and_bad_arguments(model, ctx):
    assert len(ctx.completion("Hello", max_tokens=3, temperature=0).result().tokens) <= 3
    with pytest.raises(InvalidArgumentError):
        ctx.generate("Hello", max_tokens=0)
    with pytest.raises(InvalidArgumentError):
        ctx.generate("", max_tokens=3)
    with pytest.raises(InvalidArgumentError):
        ctx.generate("Hello", stop=[3])  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentError):
        ctx.generate("Hello", temperature=-1)
    with pytest.raises(InvalidArgumentError):
        ctx.generate("Hello", top_p=2.0)
    with pytest.raises(TypeError):
        ctx.generate("Hello", no_such_knob=1)
    with pytest.raises(InvalidArgumentError):
        ctx.generate([10**7])


def test_seeded_sampling_is_reproducible(model, ctx):
    prompt = chat_prompt(model, "Write a word.")
    params = SamplingParams(temperature=1.0, seed=1234)
    a = ctx.generate(prompt, max_tokens=16, sampling=params)
    b = ctx.generate(prompt, max_tokens=16, sampling=params)
    assert a == b


@pytest.mark.parametrize("knobs", [
    {"temperature": 0.7, "top_k": 10, "top_p": 0.9, "min_p": 0.1, "seed": 1},
    {"temperature": 0.7, "typical_p": 0.8, "seed": 2},
    {"temperature": 0.0, "repeat_penalty": 1.3, "frequency_penalty": 0.5, "presence_penalty": 0.5,
     "penalty_last_n": 32},
    {"temperature": 0.8, "mirostat": 1, "seed": 3},
    {"temperature": 0.8, "mirostat": 2, "seed": 4},
    {"temperature": 0.8, "dry_multiplier": 0.8, "seed": 5},
    {"temperature": 0.8, "xtc_probability": 0.5, "xtc_threshold": 0.1, "seed": 6},
    {"temperature": 0.8, "top_n_sigma": 1.5, "seed": 7},
    {"temperature": 0.8, "dynatemp_range": 0.5, "seed": 8},
])
def test_sampling_knobs_generate(model, ctx, knobs):
    out = ctx.completion(chat_prompt(model, "Name a color."), max_tokens=8, **knobs).result()
    assert out.usage.completion_tokens >= 1


def test_logit_bias_bans_a_token(model, ctx):
    prompt = chat_prompt(model, "Say hello.")
    first = ctx.completion(prompt, max_tokens=1, temperature=0).result().tokens[0]
    banned = ctx.completion(prompt, max_tokens=1, temperature=0,
                            logit_bias={first: float("-inf")}).result().tokens[0]
    assert banned != first


def test_grammar_constrains_output(model, ctx):
    g = 'root ::= "{\\"answer\\": " [0-9]+ "}"'
    out = ctx.generate(chat_prompt(model, "What is 2+2? Answer in JSON."), max_tokens=20,
                       temperature=0, grammar=g)
    assert out.startswith('{"answer": ') and out.endswith("}")


def test_bad_grammar_raises(ctx):
    with pytest.raises(GrammarError, match="foo"):
        ctx.generate("Hi", max_tokens=2, grammar="root ::= foo")
    with pytest.raises(GrammarError):
        ctx.generate("Hi", max_tokens=2, grammar="")


def test_lazy_grammar_leaves_plain_text_free(model, ctx):
    prompt = chat_prompt(model, "Say hello.")
    plain = ctx.generate(prompt, max_tokens=12, temperature=0)
    lazy = ctx.generate(prompt, max_tokens=12, temperature=0,
                        grammar='root ::= "<call>" [a-z]+ "</call>"', grammar_lazy=True,
                        grammar_trigger_patterns=[r"[\s\S]*?(<call>)[\s\S]*"])
    assert lazy == plain


def test_custom_sampler_chain(model, ctx):
    chain = SamplerChain([sampling.top_k(1), sampling.greedy()])
    assert len(chain) == 2 and chain[0].name == "top-k" and chain[1].name == "greedy"
    prompt = chat_prompt(model, "Say hello.")
    assert ctx.generate(prompt, max_tokens=8, sampling=chain) == ctx.generate(prompt, max_tokens=8,
                                                                            temperature=0)
    removed = chain.remove(0)
    assert len(chain) == 1 and removed.name == "top-k"
    removed.close()
    clone = chain.clone()
    assert len(clone) == 1
    clone.close()
    chain.close()


def test_scheduler_runs_sequences_together(model, ctx):
    prompts = [chat_prompt(model, q) for q in ("Say hi.", "Name a fruit.", "Name a color.")]
    sched = ctx.scheduler()
    completions = [sched.submit(p, max_tokens=12, temperature=0) for p in prompts]
    assert len({c.seq_id for c in completions}) == 3
    sched.run()
    assert all(c.done and c.text for c in completions)
    sequential = [ctx.generate(p, max_tokens=12, temperature=0) for p in prompts]
    # Batched matmuls round differently from one-at-a-time ones, so compare the opening.
    for c, alone in zip(completions, sequential, strict=True):
        assert c.text.split()[:1] == alone.split()[:1]


def test_parallel_prompts_share_their_common_prefix(model):
    system = "You are a careful assistant who answers in one short sentence. " * 3
    prompts = [model.apply_chat_template([{"role": "system", "content": system},
                                          {"role": "user", "content": q}])
               for q in ("Say hi.", "Name a fruit.", "Name a color.")]
    shared = len(system.split())  # far more tokens than the minimum worth sharing
    with model.new_context(n_ctx=1024, n_seq_max=3) as ctx:
        sched = ctx.scheduler()
        completions = [sched.submit(p, max_tokens=8, temperature=0) for p in prompts]
        sched.run()
    # the first decodes the whole prompt; the others copy its prefix cells and decode the rest
    assert completions[0].usage.cached_tokens == 0
    assert all(c.usage.cached_tokens > shared for c in completions[1:])
    assert all(c.text for c in completions)
    with model.new_context(n_ctx=1024, n_seq_max=3, kv_unified=False) as split:
        sched = split.scheduler()
        separate = [sched.submit(p, max_tokens=8, temperature=0) for p in prompts]
        sched.run()
    assert all(c.usage.cached_tokens == 0 for c in separate)  # separate caches: nothing shared


def test_scheduler_rejects_more_sequences_than_context(model, ctx):
    sched = ctx.scheduler()
    for _ in range(ctx.n_seq_max):
        sched.submit("Hi", max_tokens=1)
    with pytest.raises(InvalidArgumentError, match="busy"):
        sched.submit("Hi", max_tokens=1)
    sched.run()


def test_abandoned_stream_does_not_deadlock(model, ctx):
    prompt = chat_prompt(model, "Tell a story.")
    stream = ctx.stream(prompt, max_tokens=50, temperature=0)
    next(stream)
    # The same thread starting another generation cancels the abandoned one.
    assert ctx.generate(prompt, max_tokens=4, temperature=0)
    stream.close()
