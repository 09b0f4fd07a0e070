"""grammar_ngram_limit: no n-gram of constrained output occurs more often than the limit where
the grammar leaves a choice; the token that would pass it ends the looping value instead."""

from __future__ import annotations

import collections
import re

import pytest

from llamaprov import InvalidArgumentError, SamplingParams
from llamaprov.engine._ngram import NgramLimit

STRING = 'root ::= "\\"" [a-z ,0-9]* "\\""'
PROMPT = "Repeat after me ten times: sampu, sampu, sampu"


@pytest.fixture(scope="module")
def ctx(model):
    with model.new_context(n_ctx=1024) as c:
        yield c


def most_repeated(tokens: list[int], n: int) -> int:
    counts = collections.Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    return max(counts.values(), default=0)


def run(model, ctx, grammar: str = STRING, **knobs):
    prompt = model.apply_chat_template([{"role": "user", "content": PROMPT}])
    sampling = SamplingParams(temperature=0, grammar=grammar, **knobs)
    return ctx.completion(prompt, max_tokens=60, sampling=sampling).result()


def test_the_limit_counts_n_grams_from_the_first_call() -> None:
    limit = NgramLimit(size=2, limit=2)
    assert limit.banned([9]) == []  # the span starts after token 9
    assert limit.banned([9, 1, 2, 1, 2]) == []  # (2, 1) occurred once
    assert limit.banned([9, 1, 2, 1, 2, 1]) == [2]  # a third (1, 2) would pass the limit
    assert NgramLimit(size=1, limit=3).banned([5, 5, 5]) == []  # before the span
    unigrams = NgramLimit(size=1, limit=3)
    assert unigrams.banned([]) == [] and unigrams.banned([5, 5, 5, 6]) == [5]


@pytest.mark.parametrize("size, limit", [(4, 4), (3, 2)])
def test_a_greedy_loop_inside_a_grammar_is_ended(model, ctx, size: int, limit: int) -> None:
    looping = run(model, ctx)
    assert looping.finish_reason == "length" and most_repeated(looping.tokens, size) > limit
    limited = run(model, ctx, grammar_ngram_limit=limit, grammar_ngram_size=size)
    assert most_repeated(limited.tokens, size) <= limit
    assert limited.finish_reason == "eog" and re.fullmatch(r'"[a-z ,0-9]*"', limited.text)
    # the same text up to the limit; then the way out of the string: its closing quote
    assert looping.text.startswith(limited.text[:-1]) and len(limited.text) > 10


def test_a_token_the_grammar_forces_is_never_banned(model, ctx) -> None:
    forced = 'root ::= ("x" [0-9]){8}'  # "x" is forced eight times, past a limit of 2
    out = run(model, ctx, forced, grammar_ngram_limit=2, grammar_ngram_size=1)
    assert out.finish_reason == "eog" and re.fullmatch(r"(x[0-9]){8}", out.text)
    assert max(out.text.count(d) for d in "0123456789") <= 2


def test_the_limit_is_off_by_default_and_outside_a_grammar(model, ctx) -> None:
    assert SamplingParams().grammar_ngram_limit == 0
    prompt = model.apply_chat_template([{"role": "user", "content": PROMPT}])
    plain = ctx.completion(prompt, max_tokens=30, sampling=SamplingParams(temperature=0)).result()
    limited = ctx.completion(prompt, max_tokens=30, sampling=SamplingParams(
        temperature=0, grammar_ngram_limit=1, grammar_ngram_size=1)).result()
    assert limited.text == plain.text  # without a grammar there is no span to limit


@pytest.mark.parametrize("knobs", [
    {"grammar_ngram_limit": -1}, {"grammar_ngram_limit": 1.5}, {"grammar_ngram_limit": True},
    {"grammar_ngram_size": 0}, {"grammar_ngram_size": 2000}, {"grammar_ngram_size": "4"},
])
def test_the_knobs_are_checked(knobs) -> None:
    name = next(iter(knobs))
    with pytest.raises(InvalidArgumentError, match=name):
        SamplingParams(**knobs)


def test_the_grammar_s_own_syntax_may_repeat_past_the_limit(model, ctx) -> None:
    # items whose syntax between values is longer than an n-gram ("</item>\n<item>", an XML
    # tool format's parameter after parameter): it repeats by design, and the limit must not
    # end the list there (it closed this one after 4 of its 12 items: lost data)
    grammar = 'root ::= "<list>\\n" ( "<item>" [a-z]{1,12} "</item>\\n" )* "</list>"'
    prompt = model.apply_chat_template([{"role": "user", "content": "List twenty fruits, one per item."}])
    # the model would rather go on than close the list
    closing = {t: -5.0 for t in range(len(model.vocab))
               if model.token_bytes(t).startswith((b"/", b"</l"))}
    outputs = [ctx.completion(prompt, max_tokens=160, sampling=SamplingParams(
        temperature=0, grammar=grammar, grammar_close=True, grammar_ngram_limit=limit,
        logit_bias=closing)).result() for limit in (0, 4)]
    unlimited, limited = (out.text.count("<item>") for out in outputs)
    assert unlimited > 5 and limited == unlimited
