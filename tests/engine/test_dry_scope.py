"""dry_scope: the DRY penalty over the whole output, or only inside a grammar's span."""

from __future__ import annotations

import pytest

from llamaprov import InvalidArgumentError, SamplingParams

STRING = 'root ::= "\\"" [a-z ,0-9]* "\\""'
PROMPT = "Repeat after me ten times: sampu, sampu, sampu"


@pytest.fixture(scope="module")
def ctx(model):
    with model.new_context(n_ctx=1024) as c:
        yield c


def run(model, ctx, **knobs) -> str:
    prompt = model.apply_chat_template([{"role": "user", "content": PROMPT}])
    sampling = SamplingParams(temperature=0, **knobs)
    return ctx.completion(prompt, max_tokens=40, sampling=sampling).result().text


def names(model, **knobs) -> list[str]:
    with SamplingParams(temperature=0, **knobs).build(model) as chain:
        return [chain[i].name for i in range(len(chain))]


def test_scope_grammar_puts_dry_in_a_native_chain_only_with_a_grammar(model) -> None:
    assert "dry" in names(model, dry_multiplier=0.8)
    assert "dry" not in names(model, dry_multiplier=0.8, dry_scope="grammar")
    assert "dry" in names(model, dry_multiplier=0.8, dry_scope="grammar", grammar=STRING)
    with pytest.raises(InvalidArgumentError, match="dry_scope"):
        SamplingParams(dry_scope="json")


def test_inside_a_strict_grammar_both_scopes_stop_the_loop(model, ctx) -> None:
    looping = run(model, ctx, grammar=STRING)
    assert looping.count("sampu") >= 8 and not looping.endswith('"')  # cut off by max_tokens
    whole = run(model, ctx, grammar=STRING, dry_multiplier=0.8)
    span = run(model, ctx, grammar=STRING, dry_multiplier=0.8, dry_scope="grammar")
    assert span == whole and span.endswith('"') and span.count("sampu") < 5


def test_before_a_lazy_trigger_the_prose_is_untouched(model, ctx) -> None:
    plain = run(model, ctx)
    lazy = {"grammar": STRING, "grammar_lazy": True, "grammar_trigger_words": ("<never>",)}
    assert run(model, ctx, dry_multiplier=0.8, dry_scope="grammar", **lazy) == plain
    assert run(model, ctx, dry_multiplier=0.8, **lazy) != plain  # scope "all" reaches the prose


def test_sequence_breakers_are_a_knob_checked_before_llama_cpp(model, ctx) -> None:
    with pytest.raises(InvalidArgumentError, match="dry_sequence_breakers"):
        SamplingParams(dry_sequence_breakers=["", "x"])
    with pytest.raises(InvalidArgumentError, match="dry_sequence_breakers"):
        SamplingParams(dry_sequence_breakers="\n")
    with pytest.raises(InvalidArgumentError, match="dry_sequence_breakers"):
        SamplingParams(dry_sequence_breakers=["a\x00b"])
    assert SamplingParams(dry_sequence_breakers=["\n"]).dry_sequence_breakers == ("\n",)
    # "," breaks every repeat of "sampu, " into pieces shorter than the allowed length
    default = run(model, ctx, dry_multiplier=0.8)
    broken = run(model, ctx, dry_multiplier=0.8, dry_sequence_breakers=[",", " "])
    assert broken != default
