"""The kimi-k3 format: Kimi-K3's tagged syntax, ``<|open|>tools<|sep|><|open|>call tool="NAME"
index="1"<|sep|><|open|>argument key="k" type="string"<|sep|>v<|close|>argument<|sep|>...``, its
thinking element, and the history its template renders."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _family_checks import WEATHER, assert_stream_matches_whole, calls, forced_call, text
from _template_files import read_template, template_files

from llamaprov.chat import (
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
    LlamaProvider,
    ToolDef,
    Turn,
    tool,
)
from llamaprov.chat._reasoning import KIMI_K3, detect_reasoning
from llamaprov.chat.formats import KimiK3Format, detect_tool_format, make_parser, parse_output, thinking_tags
from llamaprov.engine.grammar import check_gbnf

K3 = read_template("Kimi-K3.jinja")
K2_TEMPLATES = ["Kimi-K2-Instruct", "Kimi-K2-Thinking", "moonshotai-Kimi-K2-Thinking", "moonshotai-Kimi-K2"]

TOOLS, TOOLS_END = "<|open|>tools<|sep|>", "<|close|>tools<|sep|>"
END = "<|close|>tools<|sep|><|close|>message<|sep|><|end_of_msg|>"


def call(name: str, *args: tuple[str, str, str], index: int = 1) -> str:
    """A call element as the template writes it: (key, type, value text) per argument."""
    body = "".join(f'<|open|>argument key="{k}" type="{t}"<|sep|>{v}<|close|>argument<|sep|>'
                   for k, t, v in args)
    return f'<|open|>call tool="{name}" index="{index}"<|sep|>{body}<|close|>call<|sep|>'


def json_call(name: str, block: str, index: int = 1) -> str:
    return (f'<|open|>call tool="{name}" index="{index}"<|sep|><|open|>json type="object"<|sep|>'
            f"{block}<|close|>json<|sep|><|close|>call<|sep|>")


WEATHER_CALL = call("get_weather", ("city", "string", "Paris"), ("days", "number", "2"))


# ------------------------------------------------------------------------------------ detection
def test_detection_from_the_kimi_k3_template():
    fmt = detect_tool_format(K3)
    assert isinstance(fmt, KimiK3Format) and fmt.name == "kimi-k3" and fmt.template_tools


def test_detection_claims_no_other_template_and_kimi_k2_stays():
    claimed = {p.stem for p in template_files()
               if detect_tool_format(read_template(p.name)).name == "kimi-k3"}
    assert claimed == {"Kimi-K3"}
    for name in K2_TEMPLATES:
        assert detect_tool_format(read_template(name)).name == "kimi-k2"


def test_the_thinking_element_is_a_reasoning_family():
    assert detect_reasoning(K3) is KIMI_K3
    others = {p.stem for p in template_files() if detect_reasoning(read_template(p.name)) is KIMI_K3}
    assert others == {"Kimi-K3"}


# ------------------------------------------------------------------------------------ parsing
def test_one_call_whole():
    parsed = KimiK3Format().parse_calls(TOOLS + WEATHER_CALL + END)
    assert parsed.calls == [("get_weather", {"city": "Paris", "days": 2}, None)]
    assert parsed.trailing_text == ""  # the message's closing is not text


def test_each_type_attribute_and_text_around_the_calls():
    out = ("Let me check.<|close|>response<|sep|>" + TOOLS
           + call("f", ("s", "string", 'it\'s "raw" {not json}\nline'), ("n", "number", "-1.5"),
                  ("b", "boolean", "true"), ("z", "null", "null"), ("o", "object", '{"k": [1, "<"]}'),
                  ("a", "array", '["x", 2]'), ("q", "string", "42"))
           + call("g", index=2) + END)
    contents, error = parse_output(out, KimiK3Format())
    assert error is None
    assert text(contents) == "Let me check."
    assert calls(contents) == [
        ("f", {"s": 'it\'s "raw" {not json}\nline', "n": -1.5, "b": True, "z": None,
               "o": {"k": [1, "<"]}, "a": ["x", 2], "q": "42"}),
        ("g", {}),
    ]


def test_a_json_block_of_arguments_and_escaped_attributes():
    out = TOOLS + json_call("get_weather", '{"city": "Rome", "days": 1}') + \
        call("we&quot;ird&amp;name", ("k&amp;ey", "string", "v"), index=2) + TOOLS_END
    parsed = KimiK3Format().parse_calls(out)
    assert [(n, a) for n, a, _ in parsed.calls] == [("get_weather", {"city": "Rome", "days": 1}),
                                                    ('we"ird&name', {"k&ey": "v"})]


def test_without_a_type_attribute_the_schema_decides():
    out = TOOLS + '<|open|>call tool="get_weather"<|sep|><|open|>argument key="city"<|sep|>42' \
        '<|close|>argument<|sep|><|open|>argument key="days"<|sep|>3<|close|>argument<|sep|>' \
        "<|close|>call<|sep|>" + TOOLS_END
    ((_, args, _),) = KimiK3Format().for_tools([WEATHER]).parse_calls(out).calls
    assert args == {"city": "42", "days": 3}


@pytest.mark.parametrize("out", [
    TOOLS + TOOLS_END,                                                   # no call
    TOOLS + WEATHER_CALL,                                                # tools not closed
    TOOLS + WEATHER_CALL[:-len("<|close|>call<|sep|>")] + TOOLS_END,     # call not closed
    TOOLS + '<|open|>call tool="f" index="1"<|sep|><|open|>argument key="x" type="number"<|sep|>1',
    TOOLS + call("f", ("x", "number", "one")) + TOOLS_END,               # not JSON
    TOOLS + call("f", ("x", "string", "1"), ("x", "string", "2")) + TOOLS_END,  # twice
    TOOLS + json_call("f", "[1, 2]") + TOOLS_END,                        # not an object
    TOOLS + json_call("f", '{"a": ') + TOOLS_END,                        # not JSON
    TOOLS + '<|open|>call index="1"<|sep|><|close|>call<|sep|>' + TOOLS_END,    # no tool name
    TOOLS + '<|open|>call tool="f"<|sep|><|open|>argument type="string"<|sep|>v'
            "<|close|>argument<|sep|><|close|>call<|sep|>" + TOOLS_END,  # no key
    TOOLS + call("f") + "stray text" + call("g") + TOOLS_END,            # text between calls
    TOOLS + call("f", ("x", "number", "1")).replace("<|close|>call", "<|open|>json type=\"object\""
                                                    "<|sep|>{}<|close|>json<|sep|><|close|>call")
          + TOOLS_END,                                                   # both argument forms
    TOOLS + call("f", ("a", "array", "[" * 5000 + "]" * 5000)) + TOOLS_END,     # nested past the stack
    TOOLS + json_call("f", '{"a": ' + "[" * 5000 + "]" * 5000 + "}") + TOOLS_END,
])
def test_malformed_raises_and_is_kept_as_text(out):
    fmt = KimiK3Format()
    with pytest.raises(ValueError):
        fmt.parse_calls(out)
    contents, error = parse_output(out, fmt)
    assert error is not None and "kimi-k3" in error and TOOLS in text(contents)


@pytest.mark.parametrize("out", [
    TOOLS + WEATHER_CALL + END,
    "Checking both.<|close|>response<|sep|>" + TOOLS + WEATHER_CALL
    + call("f", ("s", "string", "a <|close|>arg b < c"), ("o", "object", '{"x": {"y": [true]}}'),
           index=2) + END,
    TOOLS + json_call("get_weather", ' {"city": "Paris", "days": 1} ') + call("g", index=2) + TOOLS_END,
    TOOLS + call("f", ("s", "string", "\u00e9\U0001f600 \"q\"\\n")) + TOOLS_END + "\nA note after.",
])
def test_stream_matches_whole_parse(out):
    assert_stream_matches_whole(KimiK3Format(), out)


def test_stream_names_a_call_before_its_arguments_close_and_streams_a_string():
    fmt = KimiK3Format()
    partial = fmt.scan_calls(TOOLS + WEATHER_CALL + '<|open|>call tool="f" index="2"<|sep|>'
                             '<|open|>argument key="s" type="string"<|sep|>Hello wor<|clo')
    assert [(p.name, p.complete) for p in partial] == [("get_weather", True), ("f", False)]
    assert json.loads(partial[0].arguments_text) == {"city": "Paris", "days": 2}
    assert partial[1].arguments_text == '{"s": "Hello wor'  # the start of the closing is held
    # a head still being written is no call yet
    assert fmt.scan_calls(TOOLS + '<|open|>call tool="get_wea') == []


def _reply(out: str) -> list[Any]:
    """The contents of ``out``, the reply to a prompt that opened the thinking element."""
    parser = make_parser(KimiK3Format(), [*thinking_tags(K3), KIMI_K3.tag],
                         '<|open|>message role="assistant"<|sep|><|open|>think<|sep|>')
    for c in out:
        parser.feed(c)
    _, contents = parser.finish()
    assert parser.error is None, parser.error
    return contents


def test_thinking_then_the_answer():
    out = ("Plan.<|close|>think<|sep|><|open|>response<|sep|>Hi.<|close|>response<|sep|>"
           "<|close|>message<|sep|>")
    contents = _reply(out)
    assert [c.thinking for c in contents if isinstance(c, ContentThinking)] == ["Plan."]
    assert text(contents) == "Hi." and not calls(contents)
    contents = _reply(out.replace("<|close|>message<|sep|>", TOOLS + WEATHER_CALL + END))
    assert [c.thinking for c in contents if isinstance(c, ContentThinking)] == ["Plan."]
    assert text(contents) == "Hi."
    assert calls(contents) == [("get_weather", {"city": "Paris", "days": 2})]


# ------------------------------------------------------------------------------------ grammar
def test_grammar_types_each_argument_by_its_schema():
    t = ToolDef("t", "", {"type": "object", "properties": {
        "s": {"type": "string"}, "n": {"type": "integer"}, "o": {"type": ["object", "null"]},
        "e": {"enum": ["a", "b"]}, "any": {}}, "required": ["n"]})
    grammar = KimiK3Format().grammar([t, WEATHER], parallel=True)
    check_gbnf(grammar)
    assert grammar.startswith('root ::= ( "<|close|>response<|sep|>" )? "<|open|>tools<|sep|>" tc-call')
    assert '"<|close|>tools<|sep|>" ( "<|close|>message<|sep|>" )?' in grammar
    assert grammar.count('"<|close|>call<|sep|>"\n') == 2  # each tool's call is closed
    assert '"<|open|>call tool=\\"t\\" index=\\"" [1-9] [0-9]? "\\"<|sep|>"' in grammar
    assert '"<|open|>argument key=\\"s\\" type=\\"" ( "string" ) "\\"<|sep|>" xml-raw' in grammar
    assert '"<|open|>argument key=\\"n\\" type=\\"" ( "number" ) "\\"<|sep|>" tool0-p1-root' in grammar
    assert 'key=\\"o\\" type=\\"" ( "object" | "null" )' in grammar
    assert 'key=\\"e\\" type=\\"" ( "string" ) "\\"<|sep|>" ( "a" | "b" )' in grammar
    assert 'key=\\"any\\" type=\\"" ( "number" | "boolean" | "null" | "object" | "array" )' in grammar
    # n is required, the others optional
    assert '( "<|open|>argument key=\\"s\\"' in grammar and '( "<|open|>argument key=\\"n\\"' not in grammar
    assert "tc-call )*" in grammar
    assert "tc-call )*" not in KimiK3Format().grammar([WEATHER], parallel=False)


def test_auto_sampling_is_lazy_at_the_tools_element():
    sampling = KimiK3Format().auto_sampling([WEATHER])
    assert sampling["grammar_lazy"] and sampling["grammar_trigger_words"] == (TOOLS,)


# ------------------------------------------------------------------------------------ history
def get_temperature(city: str, days: int = 0) -> str:
    """The temperature in a city, in degrees Celsius."""
    return "18"


def test_the_history_renders_the_calls_natively(model):
    provider = LlamaProvider(model, template=K3, n_ctx=4096)
    turns = [Turn("user", ["How warm is it in Paris and Rome?"]),
             Turn("assistant", [ContentThinking("Two calls."),
                                ContentToolRequest("c1", "get_temperature", {"city": "Paris", "days": 1}),
                                ContentToolRequest("c2", "get_temperature", {"city": "Rome"})]),
             Turn("user", [ContentToolResult("c2", value="19", name="get_temperature"),
                           ContentToolResult("c1", value="18", name="get_temperature")]),
             Turn("user", ["Thanks."])]
    try:
        prompt = provider.format_turns(turns, [tool(get_temperature)])
        off = provider.format_turns(turns[:1], [], reasoning="off")
    finally:
        provider.close()
    expected = (TOOLS + call("get_temperature", ("city", "string", "Paris"), ("days", "number", "1"))
                + call("get_temperature", ("city", "string", "Rome"), index=2) + TOOLS_END)
    assert "<|open|>think<|sep|>Two calls.<|close|>think<|sep|>" in prompt
    assert expected in prompt
    # the results in the order of their calls, each named by its call
    assert ('<|open|>message role="tool" tool="get_temperature" index="1"<|sep|>18<|close|>message'
            '<|sep|><|end_of_msg|><|open|>message role="tool" tool="get_temperature" index="2"<|sep|>19'
            in prompt)
    # the history parses back into the calls it was made of
    region = prompt[prompt.index(TOOLS):]
    assert [(n, a) for n, a, _ in KimiK3Format().parse_calls(region).calls] == \
        [(r.name, r.arguments) for r in turns[1].tool_requests]
    assert prompt.endswith('<|open|>message role="assistant"<|sep|><|open|>think<|sep|>')
    assert off.endswith("<|open|>think<|sep|><|close|>think<|sep|><|open|>response<|sep|>")


# ------------------------------------------------------------------------------------ model
# values the grammar bounds: a raw-text string lets the default model (which does not know the
# syntax) write on until max_tokens; the round trip of test_template_round_trips covers one
FORECAST = ToolDef("get_forecast", "The forecast for a city.", {
    "type": "object",
    "properties": {"city": {"enum": ["Paris", "Rome", "Oslo"]}, "days": {"type": "integer"},
                   "metric": {"type": "boolean"}},
    "required": ["city", "days", "metric"],
})


def test_forced_call_on_the_default_model(model):
    prompt = ('<|open|>message role="user"<|sep|>What is the weather in Paris tomorrow?<|close|>message'
              '<|sep|><|end_of_msg|><|open|>message role="assistant"<|sep|><|open|>response<|sep|>')
    # each marker is several of the default model's tokens: the call takes about 200
    args = forced_call(model, KimiK3Format(), prompt, FORECAST, max_tokens=320)
    assert args["city"] in ("Paris", "Rome", "Oslo") and isinstance(args["days"], int)
