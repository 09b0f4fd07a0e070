"""The apertus format: ``<|tools_prefix|>[{"name": {arguments}}, ...]<|tools_suffix|>``."""

from __future__ import annotations

import pytest
from _family_checks import assert_stream_matches_whole, calls, forced_call, forced_round_trip, text
from _templates import QWEN25
from _templates_json_families import APERTUS_8B

from llamaprov.chat.formats import ApertusFormat, detect_tool_format, parse_output


@pytest.mark.parametrize(("template", "name"), [(APERTUS_8B, "apertus"), (QWEN25, "hermes")])
def test_detection(template, name):
    assert detect_tool_format(template).name == name


def test_one_call_parallel_calls_and_text_before():
    fmt = ApertusFormat()
    out = '<|tools_prefix|>[{"get_weather": {"city": "Paris", "days": 1}}]<|tools_suffix|>'
    parsed = fmt.parse_calls(out)
    assert parsed.calls == [("get_weather", {"city": "Paris", "days": 1}, None)]
    out = 'Sure. <|tools_prefix|>[{"a": {"x": "}"}}, {"b": {}}]<|tools_suffix|>'
    contents, error = parse_output(out, fmt)
    assert error is None and text(contents) == "Sure. "
    assert calls(contents) == [("a", {"x": "}"}), ("b", {})]


@pytest.mark.parametrize("out", [
    '<|tools_prefix|>[{"a": [1]}]<|tools_suffix|>',           # arguments not an object
    '<|tools_prefix|>[{"a": {}, "b": {}}]<|tools_suffix|>',   # two names in one call
    '<|tools_prefix|>[{"a": {"x": ',                          # cut off
    '<|tools_prefix|>{"a": {}}<|tools_suffix|>',              # not a list
])
def test_malformed_raises_and_is_kept_as_text(out):
    fmt = ApertusFormat()
    with pytest.raises(ValueError):
        fmt.parse_calls(out)
    contents, error = parse_output(out, fmt)
    assert not calls(contents) and error is not None and "apertus" in error and text(contents) == out


@pytest.mark.parametrize("out", [
    '<|tools_prefix|>[{"get_weather": {"city": "P\\"aris", "days": 1}}]<|tools_suffix|>',
    'Checking. <|tools_prefix|>[{"a": {"x": {"y": [1, "}"]}}}, {"b": {"z": true}}]<|tools_suffix|>',
])
def test_stream_matches_whole_parse(out):
    assert_stream_matches_whole(ApertusFormat(), out)


def test_forced_call_on_the_default_model(model):
    args = forced_call(model, ApertusFormat(), "User: What is the weather in Paris tomorrow?\nAssistant:")
    assert args["city"]


def test_forced_round_trip(model):
    forced_round_trip(model, APERTUS_8B, "apertus")
