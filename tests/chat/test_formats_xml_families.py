"""Tool formats that write each argument of a call in its own element (GLM, Qwen3-Coder, Seed-OSS,
MiniMax-M2, MiniCPM 5, Hunyuan 3): detection from the real templates, calls as the templates render
them in history parsed back, scripted outputs whole and streamed, and the grammar in llama.cpp."""

from __future__ import annotations

import json

import pytest
from _template_files import read_template
from _templates import QWEN25
from _templates_xml_families import (
    GLM_4_5,
    GLM_4_6,
    GLM_4_7_FLASH,
    MINIMAX_M2,
    QWEN3_CODER,
    SEED_OSS,
    UNSLOTH_MINIMAX_M2,
)

from llamaprov.chat import (
    ContentText,
    ContentToolRequest,
    TextDelta,
    ToolRequestArgumentsDelta,
    ToolRequestDone,
    ToolRequestStart,
    Turn,
)
from llamaprov.chat.formats import (
    GlmFormat,
    Hunyuan3Format,
    MiniCpm5Format,
    MiniMaxFormat,
    Qwen3CoderFormat,
    SeedOssFormat,
    StreamParser,
    detect_tool_format,
    parse_output,
)
from llamaprov.chat.tools import ToolDef
from llamaprov.engine.templates import render_jinja

WEATHER = ToolDef("get_weather", "The weather of a city.", {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "integer"},
        "metric": {"type": "boolean"},
        "where": {"type": "object", "properties": {"lat": {"type": "number"}}, "required": ["lat"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "units": {"enum": ["c", "f"]},
    },
    "required": ["city"],
})
SEARCH = ToolDef("search", "Search the web.", {
    "type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"],
})
TOOLS = [WEATHER, SEARCH]
# typed values; the string has a newline, and looks like a number
ARGS = {"city": "Paris\n75001", "days": 3, "metric": True, "where": {"lat": 48.85}, "tags": ["a", "b c"]}
NUMERIC_STRING = {"city": "42"}

# per format: its class, the templates written for it, and an output with text before two calls
# (get_weather with ARGS-like values, then search), as the model writes it
FAMILIES = {
    "glm": (GlmFormat, [GLM_4_5, GLM_4_6, GLM_4_7_FLASH],
            "Let me check.\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris\n75001"
            "</arg_value>\n<arg_key>days</arg_key>\n<arg_value>3</arg_value>\n<arg_key>metric</arg_key>\n"
            "<arg_value>true</arg_value>\n<arg_key>where</arg_key>\n<arg_value>{\"lat\": 48.85}</arg_value>\n"
            "<arg_key>tags</arg_key>\n<arg_value>[\"a\", \"b c\"]</arg_value>\n</tool_call>\n"
            "<tool_call>search<arg_key>query</arg_key><arg_value>42</arg_value></tool_call>"),
    "qwen3_coder": (Qwen3CoderFormat, [QWEN3_CODER],
                    "Let me check.\n<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n75001\n"
                    "</parameter>\n<parameter=days>\n3\n</parameter>\n<parameter=metric>\ntrue\n</parameter>\n"
                    "<parameter=where>\n{\"lat\": 48.85}\n</parameter>\n<parameter=tags>\n[\"a\", \"b c\"]\n"
                    "</parameter>\n</function>\n</tool_call>\n<tool_call>\n<function=search>\n<parameter=query>\n"
                    "42\n</parameter>\n</function>\n</tool_call>"),
    "seed_oss": (SeedOssFormat, [SEED_OSS],
                 "Let me check.\n<seed:tool_call>\n<function=get_weather>\n<parameter=city>Paris\n75001"
                 "</parameter>\n<parameter=days>3</parameter>\n<parameter=metric>True</parameter>\n"
                 "<parameter=where>{\"lat\": 48.85}</parameter>\n"
                 "<parameter=tags>[\"a\", \"b c\"]</parameter>\n</function>\n</seed:tool_call>\n"
                 "<seed:tool_call>\n<function=search>\n"
                 "<parameter=query>42</parameter>\n</function>\n</seed:tool_call>"),
    "minimax": (MiniMaxFormat, [MINIMAX_M2, UNSLOTH_MINIMAX_M2],
                "Let me check.\n<minimax:tool_call>\n<invoke name=\"get_weather\">\n"
                "<parameter name=\"city\">Paris\n75001</parameter>\n<parameter name=\"days\">3</parameter>\n"
                "<parameter name=\"metric\">true</parameter>\n<parameter name=\"where\">{\"lat\": 48.85}"
                "</parameter>\n<parameter name=\"tags\">[\"a\", \"b c\"]</parameter>\n</invoke>\n"
                "<invoke name=\"search\">\n<parameter name=\"query\">42</parameter>\n</invoke>\n"
                "</minimax:tool_call>"),
    # MiniCPM 5's template wraps a string holding "<", "&" or a newline in CDATA
    "minicpm5": (MiniCpm5Format, [read_template("openbmb-MiniCPM5-1B")],
                 "Let me check.\n<function name=\"get_weather\"><param name=\"city\">"
                 "<![CDATA[Paris\n75001]]></param><param name=\"days\">3</param>"
                 "<param name=\"metric\">true</param><param name=\"where\">{\"lat\": 48.85}</param>"
                 "<param name=\"tags\">[\"a\", \"b c\"]</param></function>\n"
                 "<function name=\"search\"><param name=\"query\">42</param></function>"),
    "hunyuan3": (Hunyuan3Format, [read_template("tencent-Hy3")],
                 "Let me check.\n<tool_calls:opensource>\n<tool_call:opensource>get_weather"
                 "<tool_sep:opensource>\n"
                 "<arg_key:opensource>city</arg_key:opensource>\n<arg_value:opensource>Paris\n75001"
                 "</arg_value:opensource>\n<arg_key:opensource>days</arg_key:opensource>\n"
                 "<arg_value:opensource>3</arg_value:opensource>\n"
                 "<arg_key:opensource>metric</arg_key:opensource>\n"
                 "<arg_value:opensource>true</arg_value:opensource>\n"
                 "<arg_key:opensource>where</arg_key:opensource>\n"
                 "<arg_value:opensource>{\"lat\": 48.85}</arg_value:opensource>\n"
                 "<arg_key:opensource>tags</arg_key:opensource>\n<arg_value:opensource>[\"a\", \"b c\"]"
                 "</arg_value:opensource>\n</tool_call:opensource>\n<tool_call:opensource>search"
                 "<tool_sep:opensource>\n<arg_key:opensource>query</arg_key:opensource>\n"
                 "<arg_value:opensource>42</arg_value:opensource>\n</tool_call:opensource>\n"
                 "</tool_calls:opensource>"),
}


def _fmt(name):
    return FAMILIES[name][0]().for_tools(TOOLS)


def _calls(contents):
    return [(c.name, c.arguments) for c in contents if isinstance(c, ContentToolRequest)]


def _region(fmt, rendered):
    """The calls of a rendered conversation: from the first trigger after the user's message (the
    system prompt may show an example) to the end of the last call."""
    start = rendered.index(fmt.triggers[0], rendered.rindex("Hi"))
    end = rendered.rindex(fmt.wrap[1] or fmt.call_tail) + len(fmt.wrap[1] or fmt.call_tail)
    return rendered[start:end]


def _history(fmt, template, calls):
    """The template's rendering of an assistant turn holding ``calls`` (as the format gives it)."""
    turn = Turn("assistant", [ContentToolRequest(f"call{i}", n, a) for i, (n, a) in enumerate(calls)])
    messages = [{"role": "user", "content": "Hi"}, fmt.assistant_message(turn)]
    return render_jinja(template, messages=messages, tools=[t.to_openai() for t in TOOLS],
                        add_generation_prompt=False, bos_token="", eos_token="")


CASES = [(name, i) for name, (_, templates, _) in FAMILIES.items() for i in range(len(templates))]


@pytest.mark.parametrize(("name", "i"), CASES)
def test_detected_from_the_template(name, i):
    fmt = detect_tool_format(FAMILIES[name][1][i])
    assert fmt.name == name and fmt.template_tools


def test_qwen25_stays_hermes():
    assert detect_tool_format(QWEN25).name == "hermes"


@pytest.mark.parametrize(("name", "i"), CASES)
def test_calls_rendered_by_the_template_parse_back(name, i):
    fmt = _fmt(name)
    calls = [("get_weather", ARGS), ("search", {"query": "x < y"}), ("get_weather", NUMERIC_STRING)]
    region = _region(fmt, _history(fmt, FAMILIES[name][1][i], calls))
    parsed = fmt.parse_calls(region)
    assert [(n, a) for n, a, _ in parsed.calls] == calls
    assert parsed.trailing_text.strip() == ""


@pytest.mark.parametrize(("name", "i"), CASES)
def test_the_grammar_accepts_the_template_rendering(name, i):
    from llamaprov.grammars import GrammarMatcher

    fmt = _fmt(name)
    calls = [("get_weather", ARGS), ("search", {"query": "q"})]
    region = _region(fmt, _history(fmt, FAMILIES[name][1][i], calls))
    with GrammarMatcher(fmt.grammar(TOOLS)) as matcher:
        assert matcher.accepts(region)
        assert not matcher.accepts(region.replace("get_weather", "get_wetter", 1))
    with GrammarMatcher(fmt.grammar(TOOLS, max_calls=1)) as matcher:
        assert not matcher.accepts(region)  # two calls


@pytest.mark.parametrize("name", FAMILIES)
def test_scripted_output_with_text_and_parallel_calls(name):
    contents, error = parse_output(FAMILIES[name][2], _fmt(name))
    assert error is None
    assert "".join(c.text for c in contents if isinstance(c, ContentText)).strip() == "Let me check."
    assert _calls(contents) == [("get_weather", ARGS), ("search", {"query": "42"})]
    for call_name, args in _calls(contents):
        next(t for t in TOOLS if t.name == call_name).validate_arguments(args)


@pytest.mark.parametrize("name", FAMILIES)
def test_without_the_tools_values_are_json_when_they_parse(name):
    contents, _ = parse_output(FAMILIES[name][2], FAMILIES[name][0]())
    assert _calls(contents)[1] == ("search", {"query": 42})


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("step", [1, 4, 1000])
def test_streaming_equals_the_whole_parse(name, step):
    fmt, out = _fmt(name), FAMILIES[name][2]
    parser = StreamParser(fmt)
    events = []
    for k in range(0, len(out), step):
        events += parser.feed(out[k:k + step])
    final, contents = parser.finish()
    events += final
    whole, _ = parse_output(out, fmt)
    assert _calls(contents) == _calls(whole)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)).strip() == "Let me check."
    for index in (0, 1):
        mine = [e for e in events if getattr(e, "index", None) == index]
        assert isinstance(mine[0], ToolRequestStart) and isinstance(mine[-1], ToolRequestDone)
        deltas = "".join(e.delta for e in mine if isinstance(e, ToolRequestArgumentsDelta))
        assert json.loads(deltas) == mine[-1].request.arguments
    if step == 1:  # the string value streams before its element closes
        first = [e.delta for e in events if isinstance(e, ToolRequestArgumentsDelta) and e.index == 0]
        so_far = ["".join(first[:k]) for k in range(len(first))]
        assert any(t.endswith('"Paris') for t in so_far)


@pytest.mark.parametrize("name", FAMILIES)
def test_malformed_output_raises(name):
    fmt = _fmt(name)
    out = FAMILIES[name][2]
    region = out[out.index(fmt.triggers[0]):]
    with pytest.raises(ValueError):
        fmt.parse_calls(region[: len(region) - 3])  # cut off
    with pytest.raises(ValueError):
        fmt.parse_calls("".join(region.rsplit(fmt.value_close, 1)))  # a value never closed
    with pytest.raises(ValueError):
        fmt.parse_calls(fmt.triggers[0] + " nothing here")
    first_arg = region.index(fmt.value_close) + len(fmt.value_close)
    with pytest.raises(ValueError):  # stray text between arguments
        fmt.parse_calls(region[:first_arg] + " stray " + region[first_arg:])
    # the calls closed before the cut stay (MiniMax's second call closes before its block does)
    contents, error = parse_output("Hi " + region[:-3], fmt)
    closed = [("get_weather", ARGS)] + ([("search", {"query": "42"})] if fmt.wrap[0] else [])
    assert error and _calls(contents) == closed and "Hi" in contents[0].text

