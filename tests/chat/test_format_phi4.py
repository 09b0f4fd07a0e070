"""The phi4 format (Phi-4-mini): ``<|tool_call|>{...}<|/tool_call|>`` per call, or ``functools[...]``."""

from __future__ import annotations

import pytest
from _family_checks import assert_stream_matches_whole, calls, forced_call, forced_round_trip, text
from _templates import QWEN25
from _templates_json_families import GRANITE_33, PHI4_MINI

from llamaprov.chat.formats import Phi4Format, detect_tool_format, parse_output


@pytest.mark.parametrize(("template", "name"),
                         [(PHI4_MINI, "phi4"), (GRANITE_33, "granite"), (QWEN25, "hermes")])
def test_detection(template, name):
    assert detect_tool_format(template).name == name


def test_one_call_parallel_calls_text_before_and_functools_lists():
    fmt = Phi4Format()
    out = '<|tool_call|>{"name": "get_weather", "arguments": {"city": "Paris", "days": 1}}<|/tool_call|>'
    assert fmt.parse_calls(out).calls == [("get_weather", {"city": "Paris", "days": 1}, None)]
    out = 'Sure. <|tool_call|>{"name": "a", "arguments": {"x": "}"}}<|/tool_call|><|tool_call|>' \
          '{"name": "b", "arguments": {}}<|/tool_call|>'
    contents, error = parse_output(out, fmt)
    assert error is None and text(contents) == "Sure. "
    assert calls(contents) == [("a", {"x": "}"}), ("b", {})]
    contents, error = parse_output('functools[{"name": "a", "arguments": {"t": [1]}}, {"name": "b", '
                                   '"arguments": {}}]', fmt)
    assert error is None and calls(contents) == [("a", {"t": [1]}), ("b", {})]


@pytest.mark.parametrize("out", [
    '<|tool_call|>{"name": "a", "arguments": [1]}<|/tool_call|>',   # arguments not an object
    '<|tool_call|>{"name": "a", "arguments": {"x": ',               # cut off
    '<|tool_call|>{"arguments": {}}<|/tool_call|>',                 # no name
    '<|tool_call|>{"name": "a", "arguments": {}} junk',              # no closing tag
    'functools[{"name": "a", "arguments": 3}]',                     # arguments not an object
])
def test_malformed_raises_and_is_kept_as_text(out):
    fmt = Phi4Format()
    with pytest.raises(ValueError):
        fmt.parse_calls(out)
    contents, error = parse_output(out, fmt)
    assert error is not None and "phi4" in error and text(contents) == out


@pytest.mark.parametrize("out", [
    '<|tool_call|>{"name": "get_weather", "arguments": {"city": "P\\"aris", "days": 1}}<|/tool_call|>',
    'Checking. <|tool_call|>{"name": "a", "arguments": {"x": {"y": [1, "}"]}}}<|/tool_call|>'
    '<|tool_call|>{"name": "b", "arguments": {"z": true}}<|/tool_call|>',
])
def test_stream_matches_whole_parse(out):
    assert_stream_matches_whole(Phi4Format(), out)


def test_forced_call_on_the_default_model(model):
    prompt = "<|user|>What is the weather in Paris tomorrow?<|end|><|assistant|>"
    args = forced_call(model, Phi4Format(), prompt)
    assert args["city"]


def test_forced_round_trip(model):
    forced_round_trip(model, PHI4_MINI, "phi4")
