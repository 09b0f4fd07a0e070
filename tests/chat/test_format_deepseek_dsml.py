"""DeepSeek-V3.2 and V4's DSML calls (``<｜DSML｜function_calls>`` / ``<｜DSML｜tool_calls>`` blocks
of ``invoke`` elements): detection, whole and streamed parses of scripted outputs, malformed
outputs, each template's own rendering of a call against the parser and the grammar, and a
forced call on the default model."""

from __future__ import annotations

import pytest
from _family_checks import HISTORY, WEATHER, assert_stream_matches_whole, calls, forced_call, text
from _template_files import read_template

from llamaprov.chat import LlamaProvider, ToolDef
from llamaprov.chat.formats import (
    DeepSeekV4Format,
    DeepSeekV32Format,
    detect_tool_format,
    parse_output,
)

V32_TEMPLATES = ["DeepSeek-V3.2.jinja", "deepseek-ai-DeepSeek-V3.2.jinja"]
V4_TEMPLATES = ["deepseek-ai-DeepSeek-V4.jinja", "deepseek-ai-DeepSeek-V4-Flash-0731.jinja"]
SEARCH = ToolDef("search", "Search the web.", {
    "type": "object",
    "properties": {"query": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}},
    "required": ["query"]})


def block(name: str, *invokes: str) -> str:
    return f"<｜DSML｜{name}>\n" + "\n".join(invokes) + f"\n</｜DSML｜{name}>"


def invoke(tool: str, *params: tuple[str, str, str]) -> str:
    body = "".join(f'<｜DSML｜parameter name="{k}" string="{s}">{v}</｜DSML｜parameter>\n'
                   for k, s, v in params)
    return f'<｜DSML｜invoke name="{tool}">\n{body}</｜DSML｜invoke>'


PARIS = invoke("get_weather", ("city", "true", "Paris"), ("days", "false", "1"))
FORMATS = [(DeepSeekV32Format(), "function_calls"), (DeepSeekV4Format(), "tool_calls")]


@pytest.mark.parametrize("name", V32_TEMPLATES + V4_TEMPLATES)
def test_detection(name):
    expected = "deepseek-v3.2" if name in V32_TEMPLATES else "deepseek-v4"
    assert detect_tool_format(read_template(name)).name == expected


@pytest.mark.parametrize(("fmt", "tag"), FORMATS)
@pytest.mark.parametrize("before", ["", "Let me check.\n\n",
                                    "<think>Paris, one day.</think>Let me check.\n\n"])
def test_one_call_parses_whole(fmt, tag, before):
    contents, error = parse_output(before + block(tag, PARIS), fmt.for_tools([WEATHER]))
    assert error is None, error
    assert calls(contents) == [("get_weather", {"city": "Paris", "days": 1})]
    assert text(contents).strip() == ("Let me check." if before else "")


@pytest.mark.parametrize(("fmt", "tag"), FORMATS)
def test_parallel_calls_and_values_by_kind(fmt, tag):
    fmt = fmt.for_tools([WEATHER, SEARCH])
    out = block(tag, invoke("get_weather", ("city", "true", "New\nYork"), ("days", "false", "3")),
                invoke("search", ("query", "true", '{"not": "json"} 42'), ("tags", "false", '["a", "b"]')))
    assert fmt.parse_calls(out).calls == [
        ("get_weather", {"city": "New\nYork", "days": 3}, None),
        ("search", {"query": '{"not": "json"} 42', "tags": ["a", "b"]}, None)]
    assert fmt.call_limit() is None and fmt.call_limit(False) == 1


@pytest.mark.parametrize(("fmt", "tag"), FORMATS)
@pytest.mark.parametrize("before", ["", "Checking.\n\n"])
def test_stream_matches_whole_parse(fmt, tag, before):
    # values holding what looks like the start of a closing tag
    out = before + block(tag, invoke("get_weather", ("city", "true", "Pa</ris"), ("days", "false", "2")),
                         invoke("search", ("query", "true", "q"), ("tags", "false", '["</"]')))
    assert_stream_matches_whole(fmt.for_tools([WEATHER, SEARCH]), out)


@pytest.mark.parametrize(("fmt", "tag"), FORMATS)
@pytest.mark.parametrize("broken", [
    lambda b: b[:-len("</｜DSML｜x>") - 6],                         # block not closed
    lambda b: b.replace("</｜DSML｜invoke>", ""),                     # call not closed
    lambda b: b.replace('"days" string="false">1', '"city" string="true">b'),  # a parameter twice
    lambda b: b.split("<｜DSML｜invoke")[0] + "\n</" + b.rsplit("</", 1)[1],    # no call
])
def test_malformed_raises_and_is_kept_as_text(fmt, tag, broken):
    out = broken(block(tag, PARIS))
    fmt = fmt.for_tools([WEATHER])
    with pytest.raises(ValueError):
        fmt.parse_calls(out)
    contents, error = parse_output(out, fmt)
    assert error is not None and fmt.name in error and text(contents) == out


def test_each_family_reads_only_its_own_block():
    # V4's block is no V3.2 call (and the reverse): the text stays text
    for fmt, other in ((DeepSeekV32Format(), "tool_calls"), (DeepSeekV4Format(), "function_calls")):
        out = block(other, PARIS)
        contents, error = parse_output(out, fmt.for_tools([WEATHER]))
        assert error is None and not calls(contents) and text(contents) == out


# ---- the templates' own rendering of a call (llama.cpp renders the templates: needs the model)


@pytest.mark.parametrize("name", V32_TEMPLATES + V4_TEMPLATES)
def test_history_renders_as_the_model_writes_and_the_grammar_accepts_it(model, name):
    from llamaprov.grammars import GrammarMatcher

    provider = LlamaProvider(model, template=read_template(name), n_ctx=4096)
    try:
        fmt, prompt = provider.tool_format, provider.format_turns(HISTORY, [WEATHER])
    finally:
        provider.close()
    # the call is in the history, not only in the tools' description of the system prompt
    start = prompt.index(fmt.triggers[0], prompt.index("Let me check."))
    closing = "</" + fmt.triggers[0][1:]
    end = prompt.index(closing, start) + len(closing)
    region = prompt[start:end]
    assert fmt.for_tools([WEATHER]).parse_calls(region).calls == [
        ("get_weather", {"city": "Paris", "days": 2}, None)]
    assert 'string="false">2<' in region  # the integer as JSON, not as text
    assert "rainy" in prompt[end:]
    with GrammarMatcher(fmt.grammar([WEATHER], parallel=False)) as matcher:
        assert matcher.accepts(region)
        assert not matcher.accepts(region.replace("get_weather", "get_wetter", 1))


DSML_PROMPT = ("<｜begin▁of▁sentence｜>## Tools\n\nYou can invoke functions by writing a block like:\n"
               + block("function_calls",
                       invoke("get_weather", ("city", "true", "London"), ("days", "false", "0")))
               + "\n\n<｜User｜>What is the weather in Paris tomorrow?<｜Assistant｜></think>")


@pytest.mark.parametrize(("fmt", "tag"), FORMATS)
def test_forced_call_on_the_default_model(model, fmt, tag):
    # the fullwidth markers take the default model three tokens each
    args = forced_call(model, fmt.for_tools([WEATHER]), DSML_PROMPT.replace("function_calls", tag),
                       max_tokens=200)
    assert args["city"]
