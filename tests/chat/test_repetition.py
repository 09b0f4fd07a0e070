"""Degenerate repetition inside constrained output (small models loop in JSON strings)."""

from __future__ import annotations

import collections

import pytest

from llamaprov import TruncatedOutputError
from llamaprov.chat import LlamaProvider, ToolDef, Turn
from llamaprov.chat.content import ContentText

# a forced call that the default model, greedy, turns into "state_county_state_county_..."
LAWSUIT = ToolDef(
    name="lawsuit_search", description="",
    parameters={"type": "object",
                "properties": {"entity": {"type": "string"}, "county": {"type": "string"},
                               "state": {"type": "string"}},
                "required": ["entity", "county"], "additionalProperties": False},
)
PROMPT = "Lawsuit search using lawsuit_search; make up realistic inputs."
MAX_TOKENS = 120


def max_4gram_count(tokens: list[int]) -> int:
    counts = collections.Counter(tuple(tokens[i:i + 4]) for i in range(len(tokens) - 3))
    return max(counts.values(), default=0)


@pytest.fixture(scope="module")
def provider(model):
    p = LlamaProvider(model)
    yield p
    p.close()


def forced_call(provider: LlamaProvider, **params) -> tuple[str, int]:
    """(the call's arguments, or the output so far when max_tokens cut it off; the tokens it
    generated)."""
    # the whole prompt decoded each time: a prompt reused from the cache is summed otherwise by
    # llama.cpp, and a greedy loop can end elsewhere
    provider.context.memory.clear()
    try:
        turn = provider.chat_perform([Turn("user", [ContentText(PROMPT)])], tools=[LAWSUIT],
                                     tool_choice=LAWSUIT.name, params={"max_tokens": MAX_TOKENS, **params})
    except TruncatedOutputError as exc:
        return exc.raw, MAX_TOKENS
    assert turn.tokens is not None
    return turn.text + "".join(str(r.arguments) for r in turn.tool_requests), turn.tokens.output


def test_dry_over_the_whole_context_is_on(provider, model) -> None:
    # llama.cpp reads a DRY window of -1 as no window (the penalty silently off); -1 means the
    # model's training context here, the same as that window given explicitly
    looping = forced_call(provider, temperature=0, dry_multiplier=0, grammar_ngram_limit=0)
    whole = forced_call(provider, temperature=0, dry_multiplier=0.8, dry_penalty_last_n=-1)
    explicit = forced_call(provider, temperature=0, dry_multiplier=0.8,
                           dry_penalty_last_n=model.n_ctx_train)
    assert whole == explicit != looping
    assert max_4gram_count(model.tokenize(looping[0], add_special=False)) >= 5
    assert max_4gram_count(model.tokenize(whole[0], add_special=False)) < 5


def test_constrained_output_gets_dry_by_default_and_a_request_can_turn_it_off(provider, model) -> None:
    (default, n_default), (off, n_off) = (
        forced_call(provider, temperature=0),
        forced_call(provider, temperature=0, dry_multiplier=0, grammar_ngram_limit=0))
    looping = max_4gram_count(model.tokenize(off, add_special=False))
    assert looping >= 5  # without DRY, "state_id_state_id_..." until max_tokens closes the call
    # the default ends the loop on its own: with the generic tools note that sets the call
    # beside the answer, its value still repeats "SCOTUS" six times, far fewer than that
    assert max_4gram_count(model.tokenize(default, add_special=False)) < looping and n_default < n_off
    plan = provider._plan([Turn("user", [ContentText("hi")])], [], None, {"temperature": 0}, "auto")
    assert plan.sampling.dry_multiplier == 0  # no grammar: prose is left alone


def test_constrained_dry_breaks_repeats_only_at_newlines(provider) -> None:
    # llama.cpp's default breakers (newline, colon, quote, asterisk) cut JSON into pieces at
    # every quote and colon, so the same array item written again and again ("data","data",
    # ...) was never a repeat long enough to penalize (bench/bench_forced_calls.py measures it)
    turns = [Turn("user", [ContentText(PROMPT)])]
    plan = provider._plan(turns, [LAWSUIT], None, {"temperature": 0}, LAWSUIT.name)
    assert plan.sampling.dry_sequence_breakers == ("\n",) and plan.sampling.dry_multiplier == 0.8
    own = provider._plan(turns, [LAWSUIT], None, {"temperature": 0, "dry_multiplier": 0.5}, LAWSUIT.name)
    assert own.sampling.dry_multiplier == 0.5 and own.sampling.dry_sequence_breakers != ("\n",)


def test_constrained_output_gets_the_ngram_limit_by_default(provider, model) -> None:
    turns = [Turn("user", [ContentText(PROMPT)])]
    plan = provider._plan(turns, [LAWSUIT], None, {"temperature": 0}, LAWSUIT.name)
    assert plan.sampling.grammar_ngram_limit == 4 and plan.sampling.grammar_ngram_size == 4
    prose = provider._plan(turns, [], None, {"temperature": 0}, "auto")
    assert prose.sampling.grammar_ngram_limit == 0  # no grammar: prose is left alone
    off = {"dry_multiplier": 0, "grammar_ngram_limit": 0}
    looping, _ = forced_call(provider, temperature=0, **off)
    limited, _ = forced_call(provider, temperature=0, dry_multiplier=0)
    assert max_4gram_count(model.tokenize(looping, add_special=False)) >= 5
    assert max_4gram_count(model.tokenize(limited, add_special=False)) <= 5
