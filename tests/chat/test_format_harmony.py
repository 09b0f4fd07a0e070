"""The harmony format (gpt-oss): ``<|channel|>commentary to=functions.NAME <|constrain|>json
<|message|>{arguments}<|call|>`` after the prompt's ``<|start|>assistant``, with the analysis
channel (thinking) of the ``gpt-oss`` reasoning family before it."""

from __future__ import annotations

import json
from dataclasses import replace

import jsonschema
import pytest
from _family_checks import WEATHER, assert_stream_matches_whole, calls, forced_call, text
from _scripted import THOUGHT, Scripted
from _template_files import read_template
from _templates import GPT_OSS, QWEN25

from llamaprov.chat import (
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
    LlamaProvider,
    Turn,
    TurnDone,
    tool,
)
from llamaprov.chat._reasoning import GPT_OSS as GPT_OSS_FAMILY
from llamaprov.chat.formats import HarmonyFormat, StreamParser, detect_tool_format, parse_output
from llamaprov.engine.grammar import check_gbnf

TEMPLATE = read_template("openai-gpt-oss-120b.jinja")
CALL = '<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>' \
       '{"city": "Paris", "days": 1}<|call|>'
# the thinking markers of a reply to a request with tools: the analysis ends at <|end|> and the
# next message's header, whose channel the model picks
TAGS = [replace(GPT_OSS_FAMILY, after=HarmonyFormat().thinking_after(GPT_OSS_FAMILY.after)).tag]


def get_temperature(city: str) -> str:
    """The temperature in a city, in degrees Celsius."""
    return "18"


@pytest.mark.parametrize(("template", "name"),
                         [(TEMPLATE, "harmony"), (GPT_OSS, "harmony"), (QWEN25, "hermes")])
def test_detection(template, name):
    assert detect_tool_format(template).name == name


def test_a_call_the_templates_form_and_an_answer():
    fmt = HarmonyFormat()
    assert fmt.parse_calls(CALL).calls == [("get_weather", {"city": "Paris", "days": 1}, None)]
    # as the template shows calls in history (recipient first, " json"), and without <|call|>
    # (an end-of-generation token the output may not render)
    out = ' to=functions.get_weather<|channel|>commentary json<|message|>{"city": "Rome", "days": 2}'
    assert fmt.parse_calls(out).calls == [("get_weather", {"city": "Rome", "days": 2}, None)]
    contents, error = parse_output("<|channel|>final<|message|>It is sunny.", fmt, tags=TAGS)
    assert error is None and contents == [ContentText("It is sunny.")]


def test_a_call_after_an_analysis_message():
    out = f"<|channel|>analysis<|message|>{THOUGHT}<|end|><|start|>assistant{CALL}"
    contents, error = parse_output(out, HarmonyFormat(), tags=TAGS)
    assert error is None
    assert contents[0] == ContentThinking(THOUGHT)
    assert calls(contents) == [("get_weather", {"city": "Paris", "days": 1})] and not text(contents)


@pytest.mark.parametrize("out", [
    CALL.replace('{"city": "Paris", "days": 1}', "[1]"),                     # arguments not an object
    CALL[:CALL.index('"days"')],                                             # cut off
    '<|channel|>commentary to=functions. <|constrain|>json<|message|>{}',    # no name
    '<|channel|>commentary to=functions.a json {}',                          # no <|message|>
    CALL + ' junk to=functions.b<|channel|>commentary<|message|>{',         # a broken second call
])
def test_malformed_raises_and_is_kept_as_text(out):
    fmt = HarmonyFormat()
    with pytest.raises(ValueError):
        fmt.parse_calls(out)
    contents, error = parse_output(out, fmt)
    assert error is not None and "harmony" in error and text(contents) == out


@pytest.mark.parametrize("out", [
    CALL,
    CALL.replace('"Paris"', '"P\\"a}ris"'),
    '<|channel|>commentary to=functions.a <|constrain|>json<|message|>{"x": {"y": [1, "}"]}}<|call|>',
])
def test_stream_matches_whole_parse(out):
    assert_stream_matches_whole(HarmonyFormat(), out)


def test_stream_after_an_analysis_message_char_by_char():
    out = f"<|channel|>analysis<|message|>{THOUGHT}<|end|><|start|>assistant{CALL}"
    whole, error = parse_output(out, HarmonyFormat(), tags=TAGS)
    parser = StreamParser(HarmonyFormat(), TAGS)
    for ch in out:
        parser.feed(ch)
    _, contents = parser.finish()
    assert error is None and parser.error is None
    assert contents[0] == whole[0] == ContentThinking(THOUGHT)
    assert calls(contents) == calls(whole) and text(contents) == text(whole) == ""


def test_grammar_starts_at_the_channel_and_holds_one_call():
    fmt = HarmonyFormat()
    grammar = fmt.grammar([WEATHER])
    check_gbnf(grammar)
    assert grammar.startswith('root ::= "<|channel|>commentary to=functions."')
    assert fmt.call_limit(parallel=True) == 1  # <|call|> ends the output: one call a reply
    sampling = fmt.auto_sampling([WEATHER])
    assert sampling["grammar_lazy"] and sampling["grammar_trigger_words"] == (fmt.triggers[0],)


def test_forced_call_on_the_default_model(model):
    prompt = ("<|start|>user<|message|>What is the weather in Paris tomorrow?<|end|>"
              "<|start|>assistant")
    args = forced_call(model, HarmonyFormat(), prompt)
    assert args["city"]


def _conversation() -> list[Turn]:
    return [
        Turn("system", ["You are a weather assistant."]),
        Turn("user", ["How warm is it in Paris?"]),
        Turn("assistant", [ContentToolRequest("call00001", "get_temperature", {"city": "Paris"})]),
        Turn("user", [ContentToolResult("call00001", value="18", name="get_temperature")]),
        Turn("assistant", ["It is 18 degrees in Paris."]),
        Turn("user", ["And in Rome?"]),
    ]


def test_history_and_where_the_reply_starts(model):
    provider = LlamaProvider(model, template=TEMPLATE, n_ctx=4096)
    tools = [tool(get_temperature)]
    try:
        auto = provider.format_turns(_conversation(), tools)
        off = provider.format_turns(_conversation(), tools, reasoning="off")
        plain_off = provider.format_turns(_conversation(), reasoning="off")
    finally:
        provider.close()
    assert ('<|start|>assistant to=functions.get_temperature<|channel|>commentary json<|message|>'
            '{"city": "Paris"}<|call|>') in auto
    assert ('<|start|>functions.get_temperature to=assistant<|channel|>commentary<|message|>"18"'
            '<|end|>') in auto
    assert "<|channel|>final<|message|>It is 18 degrees in Paris.<|end|>" in auto
    # thinking first (analysis); with tools, an empty analysis leaves the channel to the model,
    # without them it opens the final one
    assert auto.endswith("<|start|>assistant<|channel|>analysis<|message|>")
    assert off.endswith("<|channel|>analysis<|message|><|end|><|start|>assistant")
    assert plain_off.endswith("<|end|><|start|>assistant<|channel|>final<|message|>")


def test_a_forced_call_follows_the_analysis(model):
    provider = LlamaProvider(model, template=TEMPLATE, n_ctx=4096)
    try:
        events = list(provider.stream_perform(
            [Turn("user", ["How warm is it in Rome?"])], tools=[tool(get_temperature)],
            tool_choice="get_temperature",
            params={"temperature": 0, "max_tokens": 64, "reasoning_budget": 4}))
        cached = model.detokenize(provider.context.memory.tokens(0))
    finally:
        provider.close()
    turn = events[-1].turn
    assert isinstance(events[-1], TurnDone) and turn.finish_reason == "tool_calls"
    assert isinstance(turn.contents[0], ContentThinking)
    (request,) = turn.tool_requests
    jsonschema.validate(request.arguments, tool(get_temperature).parameters)
    assert ("<|end|><|start|>assistant<|channel|>commentary to=functions.get_temperature "
            "<|constrain|>json<|message|>{") in cached


def test_an_unforced_call_after_thinking_is_recognised(model):
    # the model thinks, then picks the commentary channel itself (tool_choice="auto")
    args = '{"city": "Rome"}'
    provider = Scripted(
        model, template=TEMPLATE, thinking=f'root ::= "{THOUGHT}<|end|>"',
        answer='root ::= "<|channel|>commentary to=functions.get_temperature <|constrain|>json'
               f'<|message|>{json.dumps(args)[1:-1]}"')
    try:
        events = list(provider.stream_perform([Turn("user", ["How warm is it in Rome?"])],
                                              tools=[tool(get_temperature)],
                                              params={"max_tokens": 96}))
    finally:
        provider.close()
    turn = events[-1].turn
    assert turn.contents[0] == ContentThinking(THOUGHT)
    assert [(r.name, r.arguments) for r in turn.tool_requests] == [("get_temperature", {"city": "Rome"})]
    assert turn.finish_reason == "tool_calls"
