"""Formats that write a JSON list of calls after a marker: nemotron (``<TOOLCALL>[...]</TOOLCALL>``),
granite (``<|tool_call|>[...]``), firefunction (`` functools[...]``)."""

from __future__ import annotations

import pytest
from _family_checks import assert_stream_matches_whole, calls, forced_call, forced_round_trip, text
from _templates import LLAMA31, QWEN25
from _templates_json_families import (
    FIREFUNCTION_V2,
    GRANITE_33,
    GRANITE_40,
    GRANITE_41,
    NEMOTRON_3_NANO,
    NEMOTRON_NANO_V2,
    NEMOTRON_SUPER_49B,
)

from llamaprov.chat.formats import (
    FirefunctionFormat,
    GraniteFormat,
    NemotronFormat,
    detect_tool_format,
    parse_output,
)

ONE = '[{"name": "get_weather", "arguments": {"city": "Pa]ris", "days": 1}}]'
TWO = '[{"name": "a", "arguments": {"x": {"y": "}"}}}, {"name": "b", "arguments": {}}]'


def _wrap(fmt, body):
    return f"{fmt.opening}{body}{fmt.closing}"


FORMATS = [NemotronFormat(), GraniteFormat(), FirefunctionFormat()]


@pytest.mark.parametrize(
    ("template", "name"),
    [(NEMOTRON_NANO_V2, "nemotron"), (NEMOTRON_SUPER_49B, "nemotron"), (GRANITE_33, "granite"),
     (FIREFUNCTION_V2, "firefunction"),
     # Nemotron 3 Nano writes Qwen3-Coder XML inside <tool_call>; Granite 4.x writes Hermes
     (NEMOTRON_3_NANO, "qwen3_coder"), (GRANITE_40, "hermes"), (GRANITE_41, "hermes"),
     (LLAMA31, "llama3"), (QWEN25, "hermes")],
)
def test_detection(template, name):
    assert detect_tool_format(template).name == name


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_parse_one_and_parallel_calls_with_text_before(fmt):
    parsed = fmt.parse_calls(_wrap(fmt, ONE))
    assert parsed.calls == [("get_weather", {"city": "Pa]ris", "days": 1}, None)]
    contents, error = parse_output("Let me see. " + _wrap(fmt, TWO), fmt)
    assert error is None and text(contents).strip() == "Let me see."
    assert calls(contents) == [("a", {"x": {"y": "}"}}), ("b", {})]


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
@pytest.mark.parametrize("body", [
    '{"name": "a", "arguments": {}}',        # not a list
    "[]",                                    # no call
    '[{"name": "a", "arguments": [1]}]',     # arguments not an object
    '[{"name": "a", "arguments": {"x": ',    # cut off
    '[{"arguments": {}}]',                   # no name
])
def test_malformed_raises_and_is_kept_as_text(fmt, body):
    out = _wrap(fmt, body)
    with pytest.raises(ValueError):
        fmt.parse_calls(out)
    contents, error = parse_output(out, fmt)
    assert not calls(contents) and text(contents) == out
    # firefunction's trigger is "functools[": "functools{" is prose
    assert (error is not None and fmt.name in error) or not any(t in out for t in fmt.triggers)


def test_nemotron_needs_its_closing_marker_before_more_text():
    with pytest.raises(ValueError, match="</TOOLCALL>"):
        NemotronFormat().parse_calls(f"<TOOLCALL>{ONE} and more")


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_stream_matches_whole_parse(fmt):
    assert_stream_matches_whole(fmt, "Checking. " + _wrap(fmt, TWO))
    assert_stream_matches_whole(fmt, _wrap(fmt, ONE))


def test_granite_history_puts_calls_in_content():
    from llamaprov.chat import ContentText, ContentToolRequest, ContentToolResult, Turn
    from llamaprov.engine.templates import render_jinja

    turns = [Turn("user", [ContentText("Weather?")]),
             Turn("assistant", [ContentText("Sure."), ContentToolRequest("abc123XYZ", "get_weather",
                                                                         {"city": "Paris", "days": 1})]),
             Turn("user", [ContentToolResult("abc123XYZ", "sunny", name="get_weather")])]
    messages, _ = GraniteFormat().render_messages(turns, [])
    prompt = render_jinja(GRANITE_33, messages=messages, add_generation_prompt=True)
    assert 'Sure.<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Paris", "days": 1}}]' in prompt
    assert "<|start_of_role|>tool<|end_of_role|>sunny" in prompt


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_forced_call_on_the_default_model(model, fmt):
    args = forced_call(model, fmt, "User: What is the weather in Paris tomorrow?\nAssistant:")
    assert args["city"]


@pytest.mark.parametrize(("template", "name", "reasoning"),
                         [(NEMOTRON_NANO_V2, "nemotron", "off"), (NEMOTRON_SUPER_49B, "nemotron", "off"),
                          (GRANITE_33, "granite", "auto")], ids=["nano-v2", "super-49b", "granite-3.3"])
def test_forced_round_trip(model, template, name, reasoning):
    forced_round_trip(model, template, name, reasoning)


def test_firefunction_round_trip_with_the_runtime_variables_of_its_template(model):
    # its template reads the tools from `functions` (JSON text) and the date from `datetime`
    forced_round_trip(model, FIREFUNCTION_V2, "firefunction")
