"""The gemma4 format: ``<|tool_call>call:name{key:<|"|>text<|"|>,...}<tool_call|>`` per call,
its arguments in Gemma's own dictionary syntax, tool results as the call message's
``tool_responses``."""

from __future__ import annotations

import json

import pytest
from _family_checks import assert_stream_matches_whole, calls, forced_call, text
from _template_files import read_template

from llamaprov.chat import (
    ContentToolRequest,
    ContentToolResult,
    LlamaProvider,
    ToolDef,
    Turn,
)
from llamaprov.chat.formats import Gemma4Format, detect_tool_format, parse_output
from llamaprov.chat.formats.gemma4 import format_gemma_value, gemma_to_json
from llamaprov.engine.grammar import check_gbnf

GEMMA4 = ["gemma4.jinja", "google-gemma-4-31B-it.jinja", "google-gemma-4-31B-it-interleaved.jinja"]
Q = '<|"|>'

NESTED = ToolDef(
    "plan", "Plan a trip.",
    {"type": "object",
     "properties": {
         "city": {"type": "string"},
         "days": {"type": "integer", "minimum": 1},
         "unit": {"enum": ["c", "f"]},
         "stops": {"type": "array", "items": {"type": "object",
                                              "properties": {"name": {"type": "string"},
                                                             "hours": {"type": "number"}},
                                              "required": ["name"]}},
         "note": {"type": ["string", "null"]},
         "fast": {"type": "boolean"}},
     "required": ["city", "days"]},
)


@pytest.mark.parametrize("name", GEMMA4)
def test_detection(name):
    assert detect_tool_format(read_template(name)).name == "gemma4"


def test_gemma2_has_no_tools_and_stays_generic():
    assert detect_tool_format(read_template("google-gemma-2-2b-it.jinja")).name == "generic"


def test_one_call_parallel_calls_and_text_before():
    fmt = Gemma4Format()
    out = f"<|tool_call>call:get_weather{{city:{Q}Paris{Q},days:1}}<tool_call|>"
    assert fmt.parse_calls(out).calls == [("get_weather", {"city": "Paris", "days": 1}, None)]
    out = (f"Let me check. <|tool_call>call:a{{x:{Q}1{Q}}}<tool_call|>"
           f"<|tool_call>call:b{{}}<tool_call|><|tool_response>")
    contents, error = parse_output(out, fmt)
    assert error is None and text(contents) == "Let me check. "
    assert calls(contents) == [("a", {"x": "1"}), ("b", {})]


def test_strings_with_quotes_and_braces_and_nested_values():
    fmt = Gemma4Format()
    out = (f'<|tool_call>call:f{{q:{Q}say "hi" {{x}} [y], z: <|"{Q}, n: -2.5e3 ,'
           f" deep:{{a:[1,true,null,{Q}}}{Q},{{b:false}}],e:{{}}}},l:[]}}<tool_call|>")
    ((name, args, _),) = fmt.parse_calls(out).calls
    assert name == "f"
    assert args == {"q": 'say "hi" {x} [y], z: <|"', "n": -2500.0,
                    "deep": {"a": [1, True, None, "}", {"b": False}], "e": {}}, "l": []}


@pytest.mark.parametrize("value", [
    {"city": "Paris", "days": 3},
    {"s": 'a "quoted" {brace} ]', "x": [1, 2.5, False, None, {"k": ["v"]}], "e": {}},
])
def test_values_written_as_the_template_writes_them_parse_back(value):
    assert json.loads(gemma_to_json(format_gemma_value(value))) == value


@pytest.mark.parametrize("out", [
    f"<|tool_call>call:a{{x:{Q}cut",                          # cut off in a string
    "<|tool_call>call:a{x:1",                                 # cut off in the arguments
    "<|tool_call>call:a{x:1}",                                # no closing marker
    "<|tool_call>call:a{x:1} junk<tool_call|>",               # text before the closing marker
    "<|tool_call>call:a{x 1}<tool_call|>",                    # key without a colon
    "<|tool_call>call:a{x:nope}<tool_call|>",                 # not a value
    "<|tool_call>call:a{x:1,}<tool_call|>",                   # trailing comma
    "<|tool_call>call:{x:1}<tool_call|>",                     # no name
    "<|tool_call>{x:1}<tool_call|>",                          # no call: head
])
def test_malformed_raises_and_is_kept_as_text(out):
    fmt = Gemma4Format()
    with pytest.raises(ValueError):
        fmt.parse_calls(out)
    contents, error = parse_output(out, fmt)
    assert error is not None and "gemma4" in error and text(contents) == out


@pytest.mark.parametrize("out", [
    f"<|tool_call>call:get_weather{{city:{Q}Pa\"r{{is}}<|\"{Q},days:12}}<tool_call|>",
    f"Checking. <|tool_call>call:a{{x:{{y:[1,{Q}}}]{Q},-0.5e2]}},t:true}}<tool_call|>"
    f"<|tool_call>call:b{{z:null}}<tool_call|>Done.",
])
def test_stream_matches_whole_parse(out):
    assert_stream_matches_whole(Gemma4Format(), out)


def test_grammar_is_the_syntax_and_checks():
    fmt = Gemma4Format()
    grammar = fmt.grammar([NESTED], parallel=False)
    check_gbnf(grammar)
    assert grammar.splitlines()[0].startswith("root ::= tc-call")
    assert '"<|tool_call>call:"' in grammar and '"city:"' in grammar and '"<tool_call|>"' in grammar
    several = fmt.grammar([NESTED, ToolDef("b", "b", {"type": "object", "properties": {}})],
                          max_calls=3)
    check_gbnf(several)
    assert "tc-more-2" in several and '"b"' in several


def test_history_puts_results_and_the_answer_on_the_call_message():
    fmt = Gemma4Format()
    turns = [
        Turn("system", ["Be brief."]),
        Turn("user", ["Weather in Paris?"]),
        Turn("assistant", [ContentToolRequest("c1", "get_weather", {"city": "Paris"})]),
        Turn("user", [ContentToolResult("c1", value={"temp": 18, "sky": "clear"}, name="get_weather")]),
        Turn("assistant", ["18 and clear."]),
        Turn("user", ["Thanks"]),
    ]
    messages, _ = fmt.render_messages(turns, [])
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    call = messages[2]
    assert call["tool_responses"] == [{"name": "get_weather", "response": {"temp": 18, "sky": "clear"}}]
    assert call["content"] == "18 and clear."


def conversation() -> list[Turn]:
    return [
        Turn("system", ["You are a weather assistant."]),
        Turn("user", ["How warm is it in Paris?"]),
        Turn("assistant", [ContentToolRequest("call00001", "get_temperature", {"city": "Paris"})]),
        Turn("user", [ContentToolResult("call00001", value="18 degrees", name="get_temperature")]),
        Turn("assistant", ["It is 18 degrees in Paris."]),
        Turn("user", ["And in Rome?"]),
    ]


def get_temperature(city: str) -> str:
    """The temperature in a city, in degrees Celsius."""
    return "18"


@pytest.mark.parametrize("name", GEMMA4)
def test_a_tool_conversation_renders_calls_and_results_in_the_model_turn(model, name):
    from llamaprov.chat import tool

    provider = LlamaProvider(model, template=read_template(name), n_ctx=4096)
    try:
        prompt = provider.format_turns(conversation(), [tool(get_temperature)])
    finally:
        provider.close()
    call = f"<|tool_call>call:get_temperature{{city:{Q}Paris{Q}}}<tool_call|>"
    result = f"<|tool_response>response:get_temperature{{value:{Q}18 degrees{Q}}}<tool_response|>"
    assert "You are a weather assistant." in prompt and "<|tool>declaration:get_temperature" in prompt
    # calls, result and answer in one model turn, as Gemma 4 writes them
    assert f"<|turn>model\n{call}{result}It is 18 degrees in Paris.<turn|>" in prompt
    assert prompt.index("How warm") < prompt.index(call) < prompt.index("And in Rome?")


def test_forced_call_on_the_default_model(model):
    temperature = ToolDef(
        "get_temperature", "The temperature in a city.",
        {"type": "object", "properties": {"city": {"type": "string"},
                                          "unit": {"enum": ["celsius", "fahrenheit"]}},
         "required": ["city", "unit"]})
    provider = LlamaProvider(model, template=read_template("gemma4.jinja"), n_ctx=2048)
    try:
        prompt = provider.format_turns([Turn("user", ["How warm is it in Paris, in celsius?"])],
                                       [temperature])
    finally:
        provider.close()
    args = forced_call(model, Gemma4Format(), prompt, tool=temperature)  # schema-checked there
    assert isinstance(args["city"], str) and args["unit"] in ("celsius", "fahrenheit")


def test_nested_grammar_is_accepted_by_llama_cpp(model):
    from llamaprov.engine import SamplingParams

    ctx = model.new_context(n_ctx=512)
    try:
        out = ctx.completion("Plan a trip.", max_tokens=6, sampling=SamplingParams(
            temperature=0, grammar=Gemma4Format().grammar([NESTED]))).result().text
    finally:
        ctx.close()
    assert "<|tool_call>call:plan{".startswith(out) and out
