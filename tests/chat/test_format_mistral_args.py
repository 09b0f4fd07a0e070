"""The mistral_args format (Mistral Small 3.2 / Devstral / Magistral / Ministral 3):
``[TOOL_CALLS]name[ARGS]{...}``."""

from __future__ import annotations

import pytest
from _family_checks import assert_stream_matches_whole, calls, forced_call, forced_round_trip, text
from _templates import MISTRAL_V03
from _templates_json_families import (
    DEVSTRAL_SMALL_2507,
    MINISTRAL_3_REASONING,
    MISTRAL_NEMO,
    MISTRAL_SMALL_32,
)

from llamaprov.chat.formats import MistralArgsFormat, detect_tool_format, parse_output


@pytest.mark.parametrize(
    ("template", "name"),
    [(MISTRAL_SMALL_32, "mistral_args"), (DEVSTRAL_SMALL_2507, "mistral_args"),
     (MINISTRAL_3_REASONING, "mistral_args"), (MISTRAL_NEMO, "mistral"), (MISTRAL_V03, "mistral")],
)
def test_detection(template, name):
    fmt = detect_tool_format(template)
    assert fmt.name == name and fmt.template_tools


def test_one_call_parallel_calls_call_id_and_text_before():
    fmt = MistralArgsFormat()
    parsed = fmt.parse_calls('[TOOL_CALLS]get_weather[ARGS]{"city": "Paris", "days": 1}')
    assert parsed.calls == [("get_weather", {"city": "Paris", "days": 1}, None)]
    parsed = fmt.parse_calls('[TOOL_CALLS]a[CALL_ID]abc123XYZ[ARGS]{"x": "[ARGS]"}\n[TOOL_CALLS]b[ARGS]{}')
    assert parsed.calls == [("a", {"x": "[ARGS]"}, "abc123XYZ"), ("b", {}, None)]
    out = 'Let me check.[TOOL_CALLS]a[ARGS]{"x": 1}[TOOL_CALLS]b[ARGS]{"y": [2]}'
    contents, error = parse_output(out, fmt)
    assert error is None and text(contents) == "Let me check."
    assert calls(contents) == [("a", {"x": 1}), ("b", {"y": [2]})]
    # the Nemo list, which some fine-tunes keep, still parses
    assert fmt.parse_calls('[TOOL_CALLS][{"name": "a", "arguments": {}}]').calls == [("a", {}, None)]


@pytest.mark.parametrize("out", [
    "[TOOL_CALLS]get_weather",                       # no [ARGS]
    "[TOOL_CALLS]get_weather[ARGS][1, 2]",           # arguments not an object
    '[TOOL_CALLS]get_weather[ARGS]{"city": ',        # cut off
    "[TOOL_CALLS] not a call",
])
def test_malformed_raises_and_is_kept_as_text(out):
    fmt = MistralArgsFormat()
    with pytest.raises(ValueError):
        fmt.parse_calls(out)
    contents, error = parse_output(out, fmt)
    assert not calls(contents) and error is not None and "mistral_args" in error
    assert text(contents) == out
    with pytest.raises(ValueError, match="between tool calls"):
        fmt.parse_calls("[TOOL_CALLS]a[ARGS]{} junk [TOOL_CALLS]b[ARGS]{}")


@pytest.mark.parametrize("out", [
    '[TOOL_CALLS]get_weather[ARGS]{"city": "Pa\\"ris", "days": 2}',
    'Sure. [TOOL_CALLS]a[CALL_ID]abc123XYZ[ARGS]{"x": {"y": "}"}}[TOOL_CALLS]b[ARGS]{"z": -1.5}',
])
def test_stream_matches_whole_parse(out):
    assert_stream_matches_whole(MistralArgsFormat(), out)


def test_history_renders_name_args_in_each_template():
    from llamaprov.chat import ContentText, ContentToolRequest, ContentToolResult, Turn
    from llamaprov.engine.templates import render_jinja

    turns = [Turn("user", [ContentText("Weather?")]),
             Turn("assistant", [ContentToolRequest("abc123XYZ", "get_weather",
                                                   {"city": "Paris", "days": 1})]),
             Turn("user", [ContentToolResult("abc123XYZ", "sunny", name="get_weather")])]
    for template in (MISTRAL_SMALL_32, DEVSTRAL_SMALL_2507, MINISTRAL_3_REASONING):
        messages, _ = MistralArgsFormat().render_messages(turns, [])
        prompt = render_jinja(template, messages=messages, add_generation_prompt=True, bos_token="<s>",
                              eos_token="</s>")
        assert '[TOOL_CALLS]get_weather' in prompt
        assert '[ARGS]{"city": "Paris", "days": 1}' in prompt
        assert "sunny" in prompt


def test_forced_call_on_the_default_model(model):
    args = forced_call(model, MistralArgsFormat(), "[INST]What is the weather in Paris tomorrow?[/INST]")
    assert args["city"]


@pytest.mark.parametrize("template", [MISTRAL_SMALL_32, DEVSTRAL_SMALL_2507])
def test_forced_round_trip(model, template):
    forced_round_trip(model, template, "mistral_args")
