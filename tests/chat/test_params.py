"""ChatParams: every sampling knob of the engine, validated by the engine, passed through to it."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest

from llamaprov.chat import ChatParams, ContentText, LlamaProvider, Turn, params
from llamaprov.engine import SamplingParams
from llamaprov.errors import InvalidArgumentError

# the grammar itself is the chat's to set (tools, structured output); grammar_close* and
# grammar_ngram_* are knobs
GRAMMAR_SPEC = {"grammar", "grammar_root", "grammar_lazy", "grammar_trigger_patterns",
                "grammar_trigger_words", "grammar_trigger_tokens"}
SAMPLING_KNOBS = [f.name for f in dataclasses.fields(SamplingParams)
                  if f.name not in GRAMMAR_SPEC]


def test_every_sampling_knob_of_the_engine_is_a_chat_param() -> None:
    chat_fields = {f.name for f in dataclasses.fields(ChatParams)}
    assert set(SAMPLING_KNOBS) <= chat_fields
    assert chat_fields - set(SAMPLING_KNOBS) == {"stop", "max_tokens", "lora", "schema_in_prompt",
                                                 "reasoning", "reasoning_budget"}


@pytest.mark.parametrize("knob, value", [
    ("temperature", -1), ("temperature", math.nan), ("top_p", 1.5), ("min_p", "x"), ("typical_p", 2),
    ("top_k", 1.5), ("seed", 2**32), ("seed", True), ("repeat_penalty", -0.5),
    ("frequency_penalty", math.inf), ("penalty_last_n", -2), ("mirostat", 3), ("mirostat_tau", -1),
    ("dry_multiplier", -1), ("dry_base", math.nan), ("dry_allowed_length", -1), ("dry_penalty_last_n", 2**21),
    ("xtc_probability", 2), ("xtc_threshold", -0.1), ("top_n_sigma", math.nan), ("dynatemp_range", -1),
    ("dynatemp_exponent", math.inf), ("logit_bias", [1]), ("logit_bias", {"a": 1.0}),
    ("logit_bias", {1: math.nan}), ("grammar_ngram_limit", -1), ("grammar_ngram_limit", 2.0),
    ("grammar_ngram_size", 0), ("grammar_ngram_size", True),
])
def test_a_knob_is_refused_exactly_when_the_engine_refuses_it(knob: str, value: object) -> None:
    with pytest.raises(InvalidArgumentError) as engine:
        SamplingParams(**{knob: value})
    with pytest.raises(InvalidArgumentError) as chat:
        params(**{knob: value})
    assert str(chat.value) == f"params: {engine.value}"


def test_values_the_engine_takes_are_taken() -> None:
    values = {"temperature": 0.7, "top_k": -1, "top_p": 0.9, "min_p": 0.0, "typical_p": 0.95,
              "repeat_penalty": 1.1, "frequency_penalty": -0.5, "presence_penalty": 0.5,
              "penalty_last_n": -1, "mirostat": 2, "mirostat_tau": 4.0, "mirostat_eta": 0.2,
              "dry_multiplier": 0.8, "dry_base": 1.5, "dry_allowed_length": 3, "dry_penalty_last_n": 128,
              "xtc_probability": 0.5, "xtc_threshold": 0.2, "top_n_sigma": 1.0, "dynatemp_range": 0.3,
              "dynatemp_exponent": 1.5, "logit_bias": {5: -math.inf}, "seed": 2**32 - 1}
    settings = params(**values, stop="END", max_tokens=7)
    assert settings.sampling_kwargs() == values
    assert SamplingParams(**settings.sampling_kwargs()) == SamplingParams(**values)
    merged = settings.merged({"top_k": 3}).as_dict()
    assert merged == {**values, "top_k": 3, "stop": ("END",), "max_tokens": 7}
    with pytest.raises(InvalidArgumentError, match="max_tokens"):
        params(max_tokens=0)
    with pytest.raises(InvalidArgumentError, match="unknown params"):
        params(grammar='root ::= "a"')  # the chat builds grammars itself


@pytest.mark.parametrize("name, value", [
    ("reasoning", "maybe"), ("reasoning", True), ("reasoning", ""), ("reasoning_budget", -1),
    ("reasoning_budget", True), ("reasoning_budget", 2.0), ("reasoning_budget", "8"),
])
def test_reasoning_settings_are_checked(name: str, value: object) -> None:
    with pytest.raises(InvalidArgumentError, match=rf"params: {name} .*got {re.escape(repr(value))}"):
        params(**{name: value})


def test_reasoning_settings_are_not_sampling_knobs() -> None:
    settings = params(reasoning="off", reasoning_budget=0, temperature=0)
    assert settings.sampling_kwargs() == {"temperature": 0}
    assert settings.merged({"reasoning": "on"}).as_dict() == {
        "reasoning": "on", "reasoning_budget": 0, "temperature": 0}


def test_the_knobs_reach_the_engine(model) -> None:
    provider = LlamaProvider(model, n_ctx=512)
    turns = [Turn("user", [ContentText("Say something.")])]
    knobs = {"temperature": 0, "mirostat": 2, "mirostat_tau": 3.0, "dry_multiplier": 0.5,
             "xtc_probability": 0.1, "dynatemp_range": 0.2, "typical_p": 0.9, "penalty_last_n": 32}
    assert provider._plan(turns, (), None, knobs, "auto").sampling == SamplingParams(**knobs)
    # a token pushed to the top by logit_bias is what a greedy reply starts with
    token = model.tokenize("Banana", add_special=False)[0]
    greedy_one = {"temperature": 0, "max_tokens": 1, "logit_bias": {token: 100.0}}
    turn = provider.chat_perform(turns, params=greedy_one)
    assert turn.text == model.token_to_piece(token)
