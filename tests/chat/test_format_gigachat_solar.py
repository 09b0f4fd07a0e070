"""The GigaChat 3.x formats (3.0's ``function call`` role, 3.1's ``<|function_call|>``, 3.5's GCML
block) and Solar Open's (``<|tool_calls|>...<|calls|>``, thinking in ``<|think|>`` messages):
detection, whole and streamed parses of scripted outputs, malformed outputs, the grammar against
each template's own rendering of a call, and a forced call on the default model."""

from __future__ import annotations

import pytest
from _family_checks import HISTORY, WEATHER, assert_stream_matches_whole, calls, forced_call, text
from _template_files import read_template

from llamaprov.chat import (
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
    LlamaProvider,
    ToolDef,
    Turn,
)
from llamaprov.chat._reasoning import detect_reasoning, tool_tags, with_tools
from llamaprov.chat.formats import (
    GigaChatV3Format,
    GigaChatV31Format,
    GigaChatV35Format,
    SolarOpenFormat,
    StreamParser,
    ToolCallFormat,
    detect_tool_format,
    parse_output,
    thinking_tags,
)

GIGA30, GIGA31, GIGA35 = "GigaChat3-10B-A1.8B.jinja", "GigaChat3.1-10B-A1.8B.jinja", "GigaChat3.5.jinja"
SEARCH = ToolDef("search", "Search the web.", {
    "type": "object",
    "properties": {"query": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}},
    "required": ["query"]})

CALL_JSON = '{"name": "get_weather", "arguments": {"city": "Paris", "days": 1}}'
V30_CALL = "<|message_sep|>\n\nfunction call<|role_sep|>\n" + CALL_JSON
V31_CALL = "<|function_call|>" + CALL_JSON


def gcml(*invokes: str) -> str:
    return "<｜GCML｜tool_calls>\n" + "\n".join(invokes) + "\n</｜GCML｜tool_calls>"


def invoke(name: str, *params: tuple[str, str, str]) -> str:
    body = "".join(f'<｜GCML｜parameter name="{k}" string="{s}">{v}</｜GCML｜parameter>\n'
                   for k, s, v in params)
    return f'<｜GCML｜invoke name="{name}">\n{body}</｜GCML｜invoke>'


V35_CALL = gcml(invoke("get_weather", ("city", "true", "Paris"), ("days", "false", "1")))


SOLAR = "upstage-Solar-Open-100B.jinja"


@pytest.mark.parametrize(("name", "fmt"), [(GIGA30, "gigachat-v3"), (GIGA31, "gigachat-v3.1"),
                                           (GIGA35, "gigachat-v3.5"), (SOLAR, "solar_open")])
def test_detection(name, fmt):
    assert detect_tool_format(read_template(name)).name == fmt


@pytest.mark.parametrize(("fmt", "out"), [
    (GigaChatV3Format(), V30_CALL),
    (GigaChatV3Format(), "Let me check." + V30_CALL + "<|message_sep|>\n\n"),
    (GigaChatV31Format(), V31_CALL),
    (GigaChatV31Format(), "Let me check." + V31_CALL),
    (GigaChatV35Format(), V35_CALL),
    (GigaChatV35Format(), "<think>Paris, one day.</think>\n\nLet me check.\n\n" + V35_CALL),
])
def test_one_call_parses_whole(fmt, out):
    contents, error = parse_output(out, fmt.for_tools([WEATHER]))
    assert error is None, error
    assert calls(contents) == [("get_weather", {"city": "Paris", "days": 1})]
    assert text(contents).strip() == ("Let me check." if "Let me" in out else "")


def test_gcml_parallel_calls_and_values_by_kind():
    fmt = GigaChatV35Format().for_tools([WEATHER, SEARCH])
    out = gcml(invoke("get_weather", ("city", "true", "New\nYork"), ("days", "false", "3")),
               invoke("search", ("query", "true", '{"not": "json"} 42'), ("tags", "false", '["a", "b"]')))
    assert fmt.parse_calls(out).calls == [
        ("get_weather", {"city": "New\nYork", "days": 3}, None),
        ("search", {"query": '{"not": "json"} 42', "tags": ["a", "b"]}, None)]
    assert GigaChatV35Format().call_limit() == 1 and GigaChatV35Format().call_limit(True) is None
    assert GigaChatV3Format().call_limit(True) == 1 and GigaChatV31Format().call_limit(True) == 1


@pytest.mark.parametrize(("fmt", "out"), [
    (GigaChatV3Format(), V30_CALL),
    (GigaChatV3Format(), 'Checking "x".' + V30_CALL.replace("Paris", 'P\\"ar}is')),
    (GigaChatV31Format(), 'Checking.' + V31_CALL.replace("Paris", "Par{is")),
    (GigaChatV35Format(), "<think>a</think>\n\nChecking.\n\n" + V35_CALL),
    (GigaChatV35Format(), gcml(invoke("get_weather", ("city", "true", "Pa</ris"), ("days", "false", "2")),
                               invoke("search", ("query", "true", "q"), ("tags", "false", '["</"]')))),
])
def test_stream_matches_whole_parse(fmt, out):
    assert_stream_matches_whole(fmt.for_tools([WEATHER, SEARCH]), out)


@pytest.mark.parametrize(("fmt", "out"), [
    (GigaChatV3Format(), V30_CALL.replace('{"city": "Paris", "days": 1}', "[1]")),  # args not an object
    (GigaChatV3Format(), V30_CALL[:-12]),                                           # cut off
    (GigaChatV3Format(), V30_CALL.replace('"name": "get_weather", ', "")),          # no name
    (GigaChatV3Format(), V30_CALL + V30_CALL),                                      # two calls
    (GigaChatV31Format(), V31_CALL.replace("{", "(", 1)),                           # not JSON
    (GigaChatV31Format(), V31_CALL + V31_CALL),                                     # two calls
    (GigaChatV35Format(), V35_CALL[:-len("</｜GCML｜tool_calls>")]),                # block not closed
    (GigaChatV35Format(), V35_CALL.replace("</｜GCML｜invoke>", "")),                 # call not closed
    (GigaChatV35Format(), gcml(invoke("get_weather", ("city", "true", "a"), ("city", "true", "b")))),
    (GigaChatV35Format(), "<｜GCML｜tool_calls>\n</｜GCML｜tool_calls>"),                 # no call
])
def test_malformed_raises_and_is_kept_as_text(fmt, out):
    fmt = fmt.for_tools([WEATHER])
    with pytest.raises(ValueError):
        fmt.parse_calls(out)
    contents, error = parse_output(out, fmt)
    assert error is not None and fmt.name in error and text(contents) == out


# ---- the templates' own rendering of a call (needs the model: llama.cpp renders the templates)
# where the template's rendering of the call ends (3.0 and 3.1: the message's end, excluded)
REGION_END = {GIGA30: ("<|message_sep|>", 0), GIGA31: ("<|message_sep|>", 0),
              GIGA35: ("</｜GCML｜tool_calls>", len("</｜GCML｜tool_calls>"))}


def _rendered(model, name: str) -> tuple[ToolCallFormat, str]:
    provider = LlamaProvider(model, template=read_template(name), n_ctx=4096)
    try:
        return provider.tool_format, provider.format_turns(HISTORY, [WEATHER])
    finally:
        provider.close()


@pytest.mark.parametrize("name", [GIGA30, GIGA31, GIGA35])
def test_history_renders_as_the_model_writes_and_the_grammar_accepts_it(model, name):
    from llamaprov.grammars import GrammarMatcher

    fmt, prompt = _rendered(model, name)
    start = prompt.index(fmt.triggers[0])
    end_marker, keep = REGION_END[name]
    end = prompt.index(end_marker, start + len(fmt.triggers[0])) + keep
    region = prompt[start:end]
    assert fmt.for_tools([WEATHER]).parse_calls(region).calls == [
        ("get_weather", {"city": "Paris", "days": 2}, None)]
    assert "rainy" in prompt[end:] and "Let me check." in prompt[:start]
    with GrammarMatcher(fmt.grammar([WEATHER], parallel=False)) as matcher:
        assert matcher.accepts(region)
        assert not matcher.accepts(region.replace("get_weather", "get_wetter", 1))


# the templates' layout, short (their default system prompts would not fit forced_call's context)
FORCED_PROMPT = ("function descriptions<|role_sep|>\nnamespace functions {\n// The weather in a city.\n"
                 "type get_weather = (_: {\n  city: string,\n  days: integer,\n}) => any;\n"
                 "} // namespace functions<|message_sep|>\n\nuser<|role_sep|>\n"
                 "What is the weather in Paris tomorrow?<|message_sep|>\n\nassistant<|role_sep|>\n")


# 3.5's raw-text values need an example for the small default model to close them
GCML_EXAMPLE = ("user<|role_sep|>\nWeather in London today?<|message_sep|>\n\nassistant<|role_sep|>\n"
                + gcml(invoke("get_weather", ("city", "true", "London"), ("days", "false", "0")))
                + "<|message_sep|>\n\nfunction result<|role_sep|>\n<function_response name=\"get_weather\">"
                  "rainy</function_response><|message_sep|>\n\nassistant<|role_sep|>\nIt is rainy in London."
                  "<|message_sep|>\n\n")


@pytest.mark.parametrize(("fmt", "example"), [(GigaChatV3Format(), ""), (GigaChatV31Format(), ""),
                                              (GigaChatV35Format(), GCML_EXAMPLE)])
def test_forced_call_on_the_default_model(model, fmt, example):
    head, question = FORCED_PROMPT.split("user<|role_sep|>", 1)
    # GCML's fullwidth markers take the default model several tokens each
    args = forced_call(model, fmt.for_tools([WEATHER]), f"{head}{example}user<|role_sep|>{question}",
                       max_tokens=200)
    assert args["city"]


# ---- Solar Open
def solar_call(call_id: str, name: str, args: str) -> str:
    return f"<|tool_call:begin|>{call_id}<|tool_call:name|>{name}<|tool_call:args|>{args}<|tool_call:end|>"


SOLAR_CALL = ("<|tool_calls|>" + solar_call("a1b2c3d4e5", "get_weather", '{"city": "Paris", "days": 1}')
              + "<|calls|>")


def solar_tags() -> list[tuple[str, str]]:
    """The thinking markers the provider looks for in a Solar Open reply to a request with tools."""
    template = read_template(SOLAR)
    family = detect_reasoning(template)
    assert family is not None and family.name == "solar-open"
    return tool_tags([family.tag, *thinking_tags(template)], family, SolarOpenFormat())


def test_solar_calls_keep_their_ids_and_answers_lose_their_headers():
    fmt = SolarOpenFormat()
    contents, error = parse_output(SOLAR_CALL, fmt)
    assert error is None
    assert [(c.id, c.name, c.arguments) for c in contents if isinstance(c, ContentToolRequest)] == [
        ("a1b2c3d4e5", "get_weather", {"city": "Paris", "days": 1})]
    two = ("<|tool_calls|>" + solar_call("aaaaaaaaa1", "get_weather", '{"city": "Rome", "days": 2}')
           + solar_call("aaaaaaaaa2", "search", '{"query": "<|calls|> x"}') + "<|calls|>")
    assert fmt.parse_calls(two).calls == [("get_weather", {"city": "Rome", "days": 2}, "aaaaaaaaa1"),
                                          ("search", {"query": "<|calls|> x"}, "aaaaaaaaa2")]
    contents, error = parse_output("<|content|>It is sunny.<|end|>", fmt)
    assert error is None and text(contents) == "It is sunny." and not calls(contents)


@pytest.mark.parametrize(("out", "thinking", "answer", "n_calls"), [
    ("<|think|>The user wants Paris.<|end|><|begin|>assistant" + SOLAR_CALL, "The user wants Paris.", "", 1),
    ("<|think|>Easy.<|end|><|begin|>assistant<|content|>Sunny.<|end|>", "Easy.", "Sunny.", 0),
    ("<|content|>Sunny.<|end|>", "", "Sunny.", 0),
])
def test_solar_thinking_then_a_call_or_an_answer_whole_and_streamed(out, thinking, answer, n_calls):
    fmt, tags = SolarOpenFormat(), solar_tags()
    whole, error = parse_output(out, fmt, tags=tags)
    assert error is None, error
    assert "".join(c.thinking for c in whole if isinstance(c, ContentThinking)) == thinking
    assert text(whole) == answer and len(calls(whole)) == n_calls
    parser = StreamParser(fmt, tags)
    for ch in out:
        parser.feed(ch)
    _, streamed = parser.finish()
    # the calls keep the model's ids, so the contents are equal as they are
    assert parser.error is None and streamed == whole


@pytest.mark.parametrize("out", [
    SOLAR_CALL,
    "<|tool_calls|>"
    + solar_call("b1b2b3b4b5", "get_weather", '{"city": "P\\"a}<|tool_call:end|>", "days": 3}')
    + solar_call("c1c2c3c4c5", "search", '{"query": "q", "tags": ["{"]}') + "<|calls|>",
])
def test_solar_stream_matches_whole_parse(out):
    assert_stream_matches_whole(SolarOpenFormat(), out)


@pytest.mark.parametrize("out", [
    SOLAR_CALL.replace('{"city": "Paris", "days": 1}', "[1]"),                   # arguments not an object
    SOLAR_CALL[:-30],                                                             # cut off
    SOLAR_CALL.replace("<|tool_call:name|>", ""),                                 # no name marker
    SOLAR_CALL.replace("<|tool_call:end|>", " junk"),                             # no call end
    "<|tool_calls|><|calls|>",                                                    # no call
])
def test_solar_malformed_raises_and_is_kept_as_text(out):
    fmt = SolarOpenFormat()
    with pytest.raises(ValueError):
        fmt.parse_calls(out)
    contents, error = parse_output(out, fmt)
    assert error is not None and "solar_open" in error and text(contents) == out


def test_solar_reasoning_off_closes_an_empty_thinking_message_as_the_template_does():
    family = detect_reasoning(read_template(SOLAR))
    assert family is not None
    prompt = "<|begin|>user<|content|>Hi<|end|><|begin|>assistant"
    # with tools the model then picks <|content|> or <|tool_calls|>, as after the template's own
    # empty thinking message (reasoning_effort="low")
    tools_family = with_tools(family, SolarOpenFormat())
    assert tools_family is not None
    assert tools_family.prepare(prompt, "off") == prompt + "<|think|><|end|><|begin|>assistant"
    assert family.prepare(prompt, "off") == prompt + "<|think|><|end|><|begin|>assistant<|content|>"
    assert family.prepare(prompt, "auto") == prompt


SOLAR_HISTORY = [
    Turn("user", ["Weather in Paris?"]),
    Turn("assistant", [ContentThinking("Paris, two days."),
                       ContentToolRequest("a1b2c3d4e5", "get_weather", {"city": "Paris", "days": 2})]),
    Turn("user", [ContentToolResult("a1b2c3d4e5", value="rainy", name="get_weather")]),
]


def test_solar_history_renders_as_the_model_writes_and_the_grammar_accepts_it(model):
    from llamaprov.grammars import GrammarMatcher

    provider = LlamaProvider(model, template=read_template(SOLAR), n_ctx=4096)
    try:
        fmt, prompt = provider.tool_format, provider.format_turns(SOLAR_HISTORY, [WEATHER])
    finally:
        provider.close()
    start = prompt.index("<|tool_calls|>")
    end = prompt.index("<|calls|>", start) + len("<|calls|>")
    region = prompt[start:end]
    assert fmt.parse_calls(region).calls == [("get_weather", {"city": "Paris", "days": 2}, "a1b2c3d4e5")]
    # the thinking of the round in progress is shown, and the result names its call
    assert prompt[:start].endswith("<|begin|>assistant<|think|>Paris, two days.<|end|><|begin|>assistant")
    assert "<|tool_response:begin|>a1b2c3d4e5<|tool_response:name|>get_weather" \
           "<|tool_response:result|>rainy<|tool_response:end|>" in prompt[end:]
    with GrammarMatcher(fmt.grammar([WEATHER], parallel=False)) as matcher:
        assert matcher.accepts(region)
        assert not matcher.accepts(region.replace("get_weather", "get_wetter", 1))


def test_solar_forced_call_on_the_default_model(model):
    prompt = "<|begin|>user<|content|>What is the weather in Paris tomorrow?<|end|><|begin|>assistant"
    # the markers are not tokens of the default model: a call takes it over 100 tokens
    args = forced_call(model, SolarOpenFormat(), prompt, max_tokens=200)
    assert args["city"]
