"""The functionary_v31 format (Functionary v3.1, Llama 3.1 based): ``<function=name>{...}</function>``."""

from __future__ import annotations

import pytest
from _family_checks import assert_stream_matches_whole, calls, forced_call, forced_round_trip, text
from _templates import LLAMA31, QWEN25
from _templates_json_families import FUNCTIONARY_V31

from llamaprov.chat.formats import FunctionaryV31Format, detect_tool_format, parse_output


@pytest.mark.parametrize(("template", "name"),
                         [(FUNCTIONARY_V31, "functionary_v31"), (LLAMA31, "llama3"), (QWEN25, "hermes")])
def test_detection(template, name):
    assert detect_tool_format(template).name == name


def test_one_call_parallel_calls_text_before_and_python_code():
    fmt = FunctionaryV31Format()
    parsed = fmt.parse_calls('<function=get_weather>{"city": "Paris", "days": 1}</function>')
    assert parsed.calls == [("get_weather", {"city": "Paris", "days": 1}, None)]
    out = 'Sure. <function=a>{"x": "</function>"}</function><function=b>{}</function>'
    contents, error = parse_output(out, fmt)
    assert error is None and text(contents) == "Sure. "
    assert calls(contents) == [("a", {"x": "</function>"}), ("b", {})]
    contents, error = parse_output("<|python_tag|>print(1 + 1)", fmt)
    assert error is None and calls(contents) == [("python", {"code": "print(1 + 1)"})]


@pytest.mark.parametrize("out", [
    "<function=a>[1]</function>",          # arguments not an object
    '<function=a>{"x": ',                  # cut off
    '<function=a>{"x": 1} trailing junk',  # no closing tag
    "<function=>{}</function>",            # no name
])
def test_malformed_raises_and_is_kept_as_text(out):
    fmt = FunctionaryV31Format()
    with pytest.raises(ValueError):
        fmt.parse_calls(out)
    contents, error = parse_output(out, fmt)
    assert not calls(contents) and error is not None and "functionary_v31" in error
    assert text(contents) == out


@pytest.mark.parametrize("out", [
    '<function=get_weather>{"city": "P\\"aris", "days": 1}</function>',
    'Checking. <function=a>{"x": {"y": [1, "}"]}}</function>\n<function=b>{"z": true}</function>',
])
def test_stream_matches_whole_parse(out):
    assert_stream_matches_whole(FunctionaryV31Format(), out)


def test_forced_call_on_the_default_model(model):
    prompt = "User: What is the weather in Paris tomorrow?\nAssistant:"
    args = forced_call(model, FunctionaryV31Format(), prompt)
    assert args["city"]


def test_forced_round_trip(model):
    turns = forced_round_trip(model, FUNCTIONARY_V31, "functionary_v31")
    assert turns[1].tool_requests[0].name == "get_weather"
