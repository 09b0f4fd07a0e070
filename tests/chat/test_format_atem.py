"""Muse Glimmer's ATEM calls (`` to=NAME<|message|><atem:function_calls>`` around an
``<atem:invoke>`` element of ``<atem:parameter>`` elements, after the prompt's
``<|start|>assistant``), with the thinking of the ``atem`` reasoning family (a `` to=self``
message) before them: detection, whole and streamed parses of scripted outputs, values by type,
malformed outputs, answers addressed to the user, the template's own rendering of a call against
the parser and the grammar, and calls on the default model."""

from __future__ import annotations

import pytest
from _family_checks import WEATHER, assert_stream_matches_whole, calls, forced_call, text
from _scripted import THOUGHT, Scripted
from _template_files import read_template

from llamaprov.chat import (
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
    LlamaProvider,
    TextDelta,
    ToolDef,
    Turn,
    tool,
)
from llamaprov.chat._reasoning import ATEM, detect_reasoning, with_tools
from llamaprov.chat.formats import AtemFormat, StreamParser, detect_tool_format, parse_output
from llamaprov.chat.formats._gbnf import gbnf_literal
from llamaprov.engine.grammar import check_gbnf

TEMPLATE = read_template("muse-glimmer.jinja")
NOTE = ToolDef("note", "Write a note.", {
    "type": "object",
    "properties": {"text": {"type": "string"}, "count": {"type": "integer"},
                   "urgent": {"type": "boolean"}, "tags": {"type": "array", "items": {"type": "string"}}},
    "required": ["text"]})


def call(tool: str, *params: tuple[str, str], header: str | None = None) -> str:
    """A call as the template renders it (the header names ``header``, else ``tool``)."""
    body = "".join(f'<atem:parameter name="{k}">{v}</atem:parameter>\n' for k, v in params)
    return (f" to={header or tool}<|message|><atem:function_calls>\n<atem:invoke name=\"{tool}\">\n"
            f"{body}</atem:invoke>\n</atem:function_calls>")


PARIS = call("get_weather", ("city", "Paris"), ("days", "1"))
# the thinking markers of a reply to a request with tools: the to=self message ends at <|eom|> and
# a new header, whose recipient the model picks
FAMILY = with_tools(ATEM, AtemFormat())
assert FAMILY is not None
TAGS = [FAMILY.tag]
THINKING = f" to=self<|message|>{THOUGHT}<|eom|><|start|>assistant"


def fmt_for(*tools: ToolDef) -> AtemFormat:
    fmt = AtemFormat().for_tools(list(tools))
    assert isinstance(fmt, AtemFormat)
    return fmt


def test_detection():
    assert detect_tool_format(TEMPLATE).name == "atem"
    assert detect_tool_format(TEMPLATE).template_tools
    family = detect_reasoning(TEMPLATE)
    assert family is ATEM and not family.default_on and not family.on and not family.off
    assert TAGS == [(" to=self<|message|>", "<|eom|><|start|>assistant")]


@pytest.mark.parametrize("space", [" ", ""])
def test_one_call_after_thinking(space):
    out = THINKING + space + PARIS.lstrip() + "<|eom|>"
    contents, error = parse_output(out, fmt_for(WEATHER), tags=TAGS)
    assert error is None, error
    assert contents[0] == ContentThinking(THOUGHT)
    assert calls(contents) == [("get_weather", {"city": "Paris", "days": 1})] and not text(contents)
    for step in (1, 4):
        parser = StreamParser(fmt_for(WEATHER), TAGS)
        for i in range(0, len(out), step):
            parser.feed(out[i:i + step])
        _, streamed = parser.finish()
        assert parser.error is None and streamed[0] == contents[0]
        assert calls(streamed) == calls(contents) and not text(streamed)


@pytest.mark.parametrize("step", [1, 100])
def test_thinking_then_an_answer(step):
    out = THINKING + " to=user<|message|>It is sunny.<|eot|>"
    parser = StreamParser(fmt_for(WEATHER), TAGS)
    for i in range(0, len(out), step):
        parser.feed(out[i:i + step])
    _, contents = parser.finish()
    assert parser.error is None
    assert contents == [ContentThinking(THOUGHT), ContentText("It is sunny.")]
    # without tools the family's own closing addresses the answer to the user
    contents, error = parse_output(THINKING + " to=user<|message|>It is sunny.", None, tags=[ATEM.tag])
    assert error is None and contents == [ContentThinking(THOUGHT), ContentText("It is sunny.")]


@pytest.mark.parametrize("before", ["", "<|start|>assistant", "Let me check."])
@pytest.mark.parametrize("space", [" ", ""])
@pytest.mark.parametrize("end", ["", "<|eom|>", "<|eot|>"])
def test_one_call_parses_whole(before, space, end):
    out = before + space + PARIS.lstrip() + end
    contents, error = parse_output(out, fmt_for(WEATHER))
    assert error is None, error
    assert calls(contents) == [("get_weather", {"city": "Paris", "days": 1})]
    assert text(contents).strip() == ("Let me check." if before == "Let me check." else "")
    # the call region alone, as a trigger starts it (with or without the header's space)
    region = out[len(before):] if before != "<|start|>assistant" else out
    assert fmt_for(WEATHER).parse_calls(region).calls == [("get_weather", {"city": "Paris", "days": 1}, None)]


def test_values_by_type():
    fmt = fmt_for(NOTE)
    out = call("note", ("text", " two\nlines, a </b> and </atem:param "), ("count", "3"), ("urgent", "true"),
               ("tags", '["a", "b"]'))
    assert fmt.parse_calls(out).calls == [
        ("note", {"text": " two\nlines, a </b> and </atem:param ", "count": 3, "urgent": True,
                  "tags": ["a", "b"]}, None)]
    # a string parameter's value is the text even where it reads as JSON
    out = call("note", ("text", "42"))
    assert fmt.parse_calls(out).calls == [("note", {"text": "42"}, None)]


@pytest.mark.parametrize("out", [
    PARIS,
    "<|start|>assistant" + PARIS + "<|eom|>",
    call("note", ("text", "Pa</ris\n<"), ("count", "2"), ("tags", '["</"]')),
    "Checking." + PARIS + "<|eot|>",
])
def test_stream_matches_whole_parse(out):
    assert_stream_matches_whole(fmt_for(WEATHER, NOTE), out)


@pytest.mark.parametrize("broken", [
    lambda c: c.replace('name="get_weather"', 'name="get_wetter"'),       # header and invoke differ
    lambda c: c.replace("</atem:invoke>\n", ""),                           # invoke not closed
    lambda c: c[:-len("</atem:function_calls>")],                          # cut off
    lambda c: c.replace('"days">1', '"city">Rome'),                          # a parameter twice
    lambda c: c + "<|eom|><|start|>assistant" + c,                         # a second call
    lambda c: c.split("<atem:invoke")[0] + "</atem:function_calls>",        # no invocation
])
def test_malformed_raises_and_is_kept_as_text(broken):
    out = broken(PARIS)
    fmt = fmt_for(WEATHER)
    with pytest.raises(ValueError):
        fmt.parse_calls(out)
    contents, error = parse_output(out, fmt)
    assert error is not None and "atem" in error and text(contents) == out


@pytest.mark.parametrize("step", [1, 3, 100])
def test_an_answer_to_the_user_is_its_text(step):
    out = " to=user<|message|>It is sunny.<|eot|>"
    parser = StreamParser(fmt_for(WEATHER))
    events = []
    for i in range(0, len(out), step):
        events += parser.feed(out[i:i + step])
    final, contents = parser.finish()
    assert parser.error is None
    assert contents == [ContentText("It is sunny.")]
    assert "".join(e.text for e in events + final if isinstance(e, TextDelta)) == "It is sunny."


def test_an_answer_after_a_call_is_its_text():
    out = PARIS + "<|eom|><|start|>assistant to=user<|message|>Checked.<|eot|>"
    contents, error = parse_output(out, fmt_for(WEATHER))
    assert error is None and calls(contents) == [("get_weather", {"city": "Paris", "days": 1})]
    assert text(contents) == "Checked."


def test_only_an_offered_tool_s_header_starts_a_call():
    fmt = fmt_for(WEATHER)
    assert fmt.trigger_words([WEATHER, NOTE]) == ["to=get_weather<|message|>", "to=note<|message|>"]
    assert all("to=get_weather" in t for t in fmt.triggers)
    assert not AtemFormat().triggers  # no tools, no calls
    # the header of another recipient is no call
    out = " to=calendar<|message|>Hello"
    contents, error = parse_output(out, fmt)
    assert error is None and not calls(contents) and text(contents) == out


def test_grammar_starts_at_the_header_and_holds_one_call():
    fmt = AtemFormat()
    grammar = fmt.grammar([WEATHER, NOTE], parallel=True)
    check_gbnf(grammar)
    assert fmt.call_limit(parallel=True) == 1
    sampling = fmt.auto_sampling([WEATHER])
    assert sampling["grammar_lazy"] and sampling["grammar_trigger_words"] == ("to=get_weather<|message|>",)
    from llamaprov.grammars import GrammarMatcher

    with GrammarMatcher(grammar) as matcher:
        assert matcher.accepts(PARIS) and matcher.accepts(PARIS.lstrip())
        assert matcher.accepts(call("note", ("text", "a\n</b")))
        assert not matcher.accepts(PARIS + PARIS)
        assert not matcher.accepts(call("get_weather", ("city", "Paris"), ("days", "1"), header="note"))
        assert not matcher.accepts(" to=user<|message|>Hi")


# ---- the template's own rendering of a call (llama.cpp renders the template: needs the model)
HISTORY = [
    Turn("user", ["Weather in Paris?"]),
    Turn("assistant", [ContentThinking("Paris, two days."),
                       ContentToolRequest("call00001", "get_weather", {"city": "Paris", "days": 2})]),
    Turn("user", [ContentToolResult("call00001", value="rainy", name="get_weather")]),
    Turn("assistant", ["It is rainy."]),
    Turn("user", ["And Rome?"]),
]


def test_history_renders_as_the_model_writes_and_the_grammar_accepts_it(model):
    from llamaprov.grammars import GrammarMatcher

    provider = LlamaProvider(model, template=TEMPLATE, n_ctx=4096)
    try:
        fmt, prompt = provider.tool_format, provider.format_turns(HISTORY, [WEATHER])
        on = provider.format_turns(HISTORY, [WEATHER], reasoning="on")
        off = provider.format_turns(HISTORY, [WEATHER], reasoning="off")
    finally:
        provider.close()
    # the thinking goes back as the to=self message the family reads
    thought = f"<|start|>assistant{ATEM.open}Paris, two days.{ATEM.close}"
    assert thought + "<|start|>assistant to=get_weather<|message|>" in prompt
    # the model decides whether to think; "on" opens the to=self message, "off" closes it empty
    assert prompt.endswith("And Rome?<|eot|><|start|>assistant")
    assert on.endswith("And Rome?<|eot|><|start|>assistant to=self<|message|>")
    assert off.endswith("<|start|>assistant to=self<|message|><|eom|><|start|>assistant")
    # the call is in the history, not only in the tools' description of the system prompt
    start = prompt.index("<|start|>assistant to=get_weather", prompt.index("Weather in Paris?"))
    end = prompt.index("</atem:function_calls>", start) + len("</atem:function_calls>")
    region = prompt[start:end]
    assert fmt.for_tools([WEATHER]).parse_calls(region).calls == [
        ("get_weather", {"city": "Paris", "days": 2}, None)]
    assert 'name="days">2<' in region  # the integer as the template writes it, not as a JSON string
    assert "<|start|>tool get_weather<|message|>" in prompt[end:]  # the result, by the tool's name
    assert "<|start|>assistant to=user<|message|>It is rainy.<|eot|>" in prompt
    header = len("<|start|>assistant")
    with GrammarMatcher(fmt.grammar([WEATHER], parallel=False)) as matcher:
        assert matcher.accepts(region[header:])
        assert not matcher.accepts(region[header:].replace("get_weather", "get_wetter", 1))


def test_history_arguments_keep_their_types():
    # the template refuses a JSON string and writes booleans, null and objects itself
    args = {"text": "x", "count": 2, "urgent": False, "tags": ["a"], "extra": None}
    message = AtemFormat().assistant_message(Turn("assistant", [ContentToolRequest("c1", "note", args)]))
    assert message["tool_calls"][0]["function"]["arguments"] == args


# a call in history, as the template renders it, then the question
ATEM_PROMPT = ("<|start|>user<|message|>What is the weather in London today?<|eot|><|start|>assistant"
               + call("get_weather", ("city", "London"), ("days", "0"))
               + "<|eot|><|start|>tool get_weather<|message|>rain<|eot|>"
               "<|start|>user<|message|>What is the weather in Paris tomorrow?<|eot|><|start|>assistant")


def test_forced_call_on_the_default_model(model):
    args = forced_call(model, fmt_for(WEATHER), ATEM_PROMPT, max_tokens=200)
    assert args["city"]


def get_temperature(city: str) -> str:
    """The temperature in a city, in degrees Celsius."""
    return "18"


CALL_ROME = call("get_temperature", ("city", "Rome"))


@pytest.mark.parametrize("reasoning", ["auto", "on"])
def test_a_call_after_thinking_through_the_provider(model, reasoning):
    # "auto": the model opens the to=self message itself; "on": the prompt opens it, and the
    # answer phase follows the closing the family writes (<|eom|><|start|>assistant)
    thinking, answer = (None, THINKING + CALL_ROME) if reasoning == "auto" else \
        (THOUGHT + "<|eom|>", CALL_ROME)
    provider = Scripted(model, template=TEMPLATE, n_ctx=4096,
                        thinking=thinking and f"root ::= {gbnf_literal(thinking)}",
                        answer=f"root ::= {gbnf_literal(answer)}")
    try:
        events = list(provider.stream_perform([Turn("user", ["How warm is it in Rome?"])],
                                              tools=[tool(get_temperature)],
                                              params={"max_tokens": 160, "reasoning": reasoning}))
    finally:
        provider.close()
    turn = events[-1].turn
    assert turn.contents[0] == ContentThinking(THOUGHT)
    assert [(r.name, r.arguments) for r in turn.tool_requests] == [("get_temperature", {"city": "Rome"})]
    assert turn.finish_reason == "tool_calls" and not turn.text


@pytest.mark.parametrize("stream", [True, False])
def test_an_answer_without_tools_loses_its_header(model, stream):
    # no tools: the reply is parsed with no tool format, but the answer is still a message to
    # the user, whose header and end are no part of its text
    provider = Scripted(model, template=TEMPLATE, n_ctx=4096,
                        answer=f"root ::= {gbnf_literal(' to=user<|message|>It is sunny.<|eot|>')}")
    try:
        if stream:
            turn = list(provider.stream_perform([Turn("user", ["Weather?"])],
                                                params={"max_tokens": 40}))[-1].turn
        else:
            turn = provider.submit([Turn("user", ["Weather?"])], params={"max_tokens": 40}).result()
    finally:
        provider.close()
    assert turn.text == "It is sunny." and not turn.tool_requests
