"""The lfm2 format: ``<|tool_call_start|>[name(key=value, ...), ...]<|tool_call_end|>``, Python-call
syntax (and the JSON form) parsed without evaluating anything."""

from __future__ import annotations

import json

import pytest
from _family_checks import WEATHER, assert_stream_matches_whole, calls, forced_call, text
from _template_files import read_template, template_files
from _templates import QWEN25

from llamaprov.chat import (
    ContentToolRequest,
    ContentToolResult,
    LlamaProvider,
    ToolDef,
    Turn,
    tool,
)
from llamaprov.chat.formats import Lfm2Format, detect_tool_format, parse_output
from llamaprov.engine.grammar import check_gbnf

LFM2_TEMPLATES = ["llama-cpp-lfm2", "LFM2-8B-A1B", "LFM2.5-8B-A1B", "LFM2.5-Instruct"]


@pytest.mark.parametrize("name", LFM2_TEMPLATES)
def test_detection_from_each_lfm2_template(name):
    assert detect_tool_format(read_template(name)).name == "lfm2"


def test_detection_claims_no_other_template():
    claimed = {p.stem for p in template_files() if detect_tool_format(read_template(p.name)).name == "lfm2"}
    assert claimed == set(LFM2_TEMPLATES)
    assert detect_tool_format(QWEN25).name == "hermes"


# ------------------------------------------------------------------------------------ parsing
def test_one_call_parallel_calls_and_text_before():
    fmt = Lfm2Format()
    parsed = fmt.parse_calls('<|tool_call_start|>[get_weather(city="Paris", days=1)]<|tool_call_end|>')
    assert parsed.calls == [("get_weather", {"city": "Paris", "days": 1}, None)]
    out = "Sure. <|tool_call_start|>[a(x='Rome'), my-tool.v2(), b(n=-2, f=1.5e1)]<|tool_call_end|> Done."
    contents, error = parse_output(out, fmt)
    assert error is None
    assert text(contents) == "Sure.  Done."
    assert calls(contents) == [("a", {"x": "Rome"}), ("my-tool.v2", {}), ("b", {"n": -2, "f": 15.0})]


def test_strings_with_quotes_and_escapes():
    fmt = Lfm2Format()
    out = ("<|tool_call_start|>[a(s='it\\'s (a) [test], ok', d=\"say \\\"hi\\\"\\n\\u00e9\\/\", "
           "e=\"\\ud83d\\ude00\")]<|tool_call_end|>")
    ((name, args, _),) = fmt.parse_calls(out).calls
    assert name == "a"
    assert args == {"s": "it's (a) [test], ok", "d": 'say "hi"\n\u00e9/', "e": "\U0001f600"}


def test_nested_arguments_and_both_spellings_of_constants():
    fmt = Lfm2Format()
    out = ('<|tool_call_start|>[f(obj={"k": [1, {"z": null}], "t": true}, lst=[True, False, None, '
           "(1, 2)], flag=false)]<|tool_call_end|>")
    ((_, args, _),) = fmt.parse_calls(out).calls
    assert args == {"obj": {"k": [1, {"z": None}], "t": True}, "lst": [True, False, None, [1, 2]],
                    "flag": False}


def test_json_form():
    fmt = Lfm2Format()
    out = ('<|tool_call_start|>[{"name": "a", "arguments": {"x": 1}}, '
           '{"name": "b", "arguments": {"y": "]"}, "id": "c1"}]<|tool_call_end|>')
    contents, error = parse_output(out, fmt)
    assert error is None
    assert calls(contents) == [("a", {"x": 1}), ("b", {"y": "]"})]


@pytest.mark.parametrize("out", [
    "<|tool_call_start|>[a(x=__import__('os').system('true'))]<|tool_call_end|>",  # code
    "<|tool_call_start|>[a(x=open('f'))]<|tool_call_end|>",
    "<|tool_call_start|>[a(x=1 + 2)]<|tool_call_end|>",
    "<|tool_call_start|>[a(x=y)]<|tool_call_end|>",                   # a name, not a literal
    "<|tool_call_start|>[a(x=f'{1}')]<|tool_call_end|>",
    "<|tool_call_start|>[a(x=[i for i in (1, 2)])]<|tool_call_end|>",
    "<|tool_call_start|>[a(1)]<|tool_call_end|>",                     # positional argument
    "<|tool_call_start|>[a(x=1, x=2)]<|tool_call_end|>",              # repeated argument
    "<|tool_call_start|>[a(x={1: 2})]<|tool_call_end|>",              # non-string key
    "<|tool_call_start|>a(x=1)<|tool_call_end|>",                     # not a list
    "<|tool_call_start|>[]<|tool_call_end|>",                         # no call
    "<|tool_call_start|>[a(x=",                                       # cut off
    "<|tool_call_start|>[a(x=" + "[" * 5000 + "]" * 5000 + ")]<|tool_call_end|>",  # deep nesting
    "<|tool_call_start|>[{\"name\": \"a\", \"arguments\": [1]}]<|tool_call_end|>",
])
def test_malformed_raises_and_is_kept_as_text(out):
    fmt = Lfm2Format()
    with pytest.raises(ValueError):
        fmt.parse_calls(out)
    contents, error = parse_output(out, fmt)
    assert not calls(contents) and error is not None and "lfm2" in error and text(contents) == out


@pytest.mark.parametrize("out", [
    "<|tool_call_start|>[a(x=1)",                                     # cut off after a call
    "<|tool_call_start|>[a(x=1) b()]<|tool_call_end|>",               # no comma
    "<|tool_call_start|>[a(x=1)] trailing<|tool_call_end|>",          # no closing marker
])
def test_malformed_after_a_whole_call_raises(out):
    # streaming reports a call once its parenthesis closes; what follows it is an error
    fmt = Lfm2Format()
    with pytest.raises(ValueError):
        fmt.parse_calls(out)
    contents, error = parse_output(out, fmt)
    assert error is not None and "lfm2" in error and text(contents) == out
    assert calls(contents) == [("a", {"x": 1})]


@pytest.mark.parametrize("out", [
    '<|tool_call_start|>[get_weather(city="P\\"aris", days=1)]<|tool_call_end|>',
    "Checking. <|tool_call_start|>[a(x={\"y\": [1, \")\"]}, s='a,b'), b(z=True)]<|tool_call_end|>after",
    '<|tool_call_start|>[{"name": "a", "arguments": {"x": "}]"}}, b(q=null)]<|tool_call_end|>',
])
def test_stream_matches_whole_parse(out):
    assert_stream_matches_whole(Lfm2Format(), out)


def test_stream_names_a_call_before_its_arguments_close():
    fmt = Lfm2Format()
    partial = fmt.scan_calls('<|tool_call_start|>[a(x=1), get_weather(city="Par')
    assert [(p.name, p.complete) for p in partial] == [("a", True), ("get_weather", False)]
    assert json.loads(partial[0].arguments_text) == {"x": 1}


# ------------------------------------------------------------------------------------ grammar
def test_grammar_keyword_arguments_in_schema_order():
    tool = ToolDef("t", "", {"type": "object", "properties": {
        "a": {"type": "string"}, "b": {"type": "boolean"}, "c": {"type": "integer"}},
        "required": ["c"]})
    grammar = Lfm2Format().grammar([tool, WEATHER], parallel=True, max_calls=2)
    check_gbnf(grammar)
    assert grammar.startswith('root ::= "<|tool_call_start|>" "["')
    assert '"t(" tool0-head-0 ")"' in grammar and '"get_weather(" tool1-head-0 ")"' in grammar
    # c is required: every path through the arguments ends with it
    assert 'tool0-tail-2 ::= ", " tool0-p2-kw tool0-tail-3' in grammar
    assert 'tool0-head-2 ::= tool0-p2-kw tool0-tail-3' in grammar


def test_history_shows_calls_in_the_models_syntax():
    turn = Turn("assistant", ["Let me check.",
                              ContentToolRequest("c1", "get_weather", {"city": "Paris", "days": 1}),
                              ContentToolRequest("c2", "f", {"ok": True, "s": "it's"})])
    message = Lfm2Format().assistant_message(turn)
    assert "tool_calls" not in message
    assert message["content"] == ('Let me check.<|tool_call_start|>[get_weather(city="Paris", days=1), '
                                  'f(ok=true, s="it\'s")]<|tool_call_end|>')
    parsed = Lfm2Format().parse_calls(message["content"][len("Let me check."):])
    assert [(n, a) for n, a, _ in parsed.calls] == [(r.name, r.arguments) for r in turn.tool_requests]


# ------------------------------------------------------------------------------------ model
def test_forced_call_on_the_default_model(model):
    args = forced_call(model, Lfm2Format(), "User: What is the weather in Paris tomorrow?\nAssistant:")
    assert args["city"]


def get_temperature(city: str) -> str:
    """The temperature in a city, in degrees Celsius."""
    return "18"


@pytest.mark.parametrize("name", LFM2_TEMPLATES)
def test_a_tool_conversation_renders_the_call_natively(model, name):
    provider = LlamaProvider(model, template=read_template(name), n_ctx=4096)
    turns = [Turn("user", ["How warm is it in Paris?"]),
             Turn("assistant", [ContentToolRequest("call00001", "get_temperature", {"city": "Paris"})]),
             Turn("user", [ContentToolResult("call00001", value="18", name="get_temperature")]),
             Turn("user", ["And in Rome?"])]
    try:
        prompt = provider.format_turns(turns, [tool(get_temperature)])
    finally:
        provider.close()
    assert '<|tool_call_start|>[get_temperature(city="Paris")]<|tool_call_end|>' in prompt
    assert '"tool_calls"' not in prompt
