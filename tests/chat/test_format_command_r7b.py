"""The command_r7b format (Command-R7B, Cohere2): ``<|START_ACTION|>[{"tool_call_id": ..., "tool_name": ...,
"parameters": ...}]<|END_ACTION|>``, thinking and answers in their own markers."""

from __future__ import annotations

import pytest
from _family_checks import assert_stream_matches_whole, calls, forced_call, forced_round_trip, text
from _templates import QWEN25
from _templates_json_families import COHERE2_MOE, COMMAND_R7B, COMMAND_R_PLUS

from llamaprov.chat import ContentThinking
from llamaprov.chat.formats import CommandR7BFormat, detect_tool_format, parse_output, thinking_tags

ONE = ('<|START_ACTION|>[\n    {"tool_call_id": "0", "tool_name": "get_weather", '
       '"parameters": {"city": "Paris", "days": 1}}\n]<|END_ACTION|>')
TWO = ('<|START_ACTION|>[\n    {"tool_call_id": "0", "tool_name": "a", "parameters": {"x": "}"}},\n'
       '    {"tool_call_id": "1", "tool_name": "b", "parameters": {}}\n]<|END_ACTION|>')


@pytest.mark.parametrize(("template", "name"), [
    (COMMAND_R7B, "command_r7b"), (COHERE2_MOE, "command_r7b"),
    # Command R+ writes "Action:" and a ```json list, a syntax of its own
    (COMMAND_R_PLUS, "command_r_plus"), (QWEN25, "hermes"),
])
def test_detection(template, name):
    assert detect_tool_format(template).name == name


def test_one_call_parallel_calls_thinking_and_response():
    fmt = CommandR7BFormat()
    assert fmt.parse_calls(ONE).calls == [("get_weather", {"city": "Paris", "days": 1}, "0")]
    tags = thinking_tags(COMMAND_R7B)
    out = "<|START_THINKING|>I will call a and b.<|END_THINKING|>" + TWO
    contents, error = parse_output(out, fmt, tags=tags)
    assert error is None and contents[0] == ContentThinking("I will call a and b.")
    assert calls(contents) == [("a", {"x": "}"}), ("b", {})]
    contents, error = parse_output("<|START_THINKING|><|END_THINKING|><|START_RESPONSE|>It is sunny."
                                   "<|END_RESPONSE|>", fmt, tags=tags)
    assert error is None and text(contents) == "It is sunny." and not calls(contents)


@pytest.mark.parametrize("out", [
    '<|START_ACTION|>[{"tool_call_id": "0", "tool_name": "a", "parameters": [1]}]<|END_ACTION|>',
    '<|START_ACTION|>[{"tool_call_id": "0", "parameters": {}}]<|END_ACTION|>',   # no tool_name
    '<|START_ACTION|>[{"tool_call_id": "0", "tool_name": "a", "parameters": {"x": ',
    '<|START_ACTION|>{"tool_call_id": "0", "tool_name": "a", "parameters": {}}<|END_ACTION|>',
])
def test_malformed_raises_and_is_kept_as_text(out):
    fmt = CommandR7BFormat()
    with pytest.raises(ValueError):
        fmt.parse_calls(out)
    contents, error = parse_output(out, fmt)
    assert not calls(contents) and error is not None and "command_r7b" in error and text(contents) == out


@pytest.mark.parametrize("out", [ONE, "Let me look. " + TWO])
def test_stream_matches_whole_parse(out):
    assert_stream_matches_whole(CommandR7BFormat(), out)


def test_forced_call_on_the_default_model(model):
    prompt = "User: What is the weather in Paris tomorrow?\nAssistant:"
    args = forced_call(model, CommandR7BFormat(), prompt)
    assert args["city"]


def test_forced_round_trip(model):
    # the markers are plain text to the default model: many tokens
    turns = forced_round_trip(model, COMMAND_R7B, "command_r7b", max_tokens=90)
    assert "<|START_RESPONSE|>" not in turns[-1].text and "<|END_RESPONSE|>" not in turns[-1].text
