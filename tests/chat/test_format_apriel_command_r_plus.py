"""The apriel format (``<tool_calls>[{"name": ..., "arguments": ...}]</tool_calls>`` after thinking
that ends at ``[BEGIN FINAL RESPONSE]``) and the command_r_plus format (``Action:`` and a fenced
list of ``{"tool_name": ..., "parameters": ...}``, ``directly-answer`` being no call)."""

from __future__ import annotations

import pytest
from _family_checks import WEATHER, assert_stream_matches_whole, calls, forced_call, text
from _template_files import read_template, template_files
from _templates import QWEN25
from _templates_json_families import COHERE2_MOE, COMMAND_R7B, COMMAND_R_PLUS

from llamaprov.chat import (
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
    LlamaProvider,
    ToolDef,
    Turn,
)
from llamaprov.chat._reasoning import detect_reasoning
from llamaprov.chat.formats import (
    AprielFormat,
    CommandRPlusFormat,
    StreamParser,
    detect_tool_format,
    make_parser,
    parse_output,
    thinking_tags,
)
from llamaprov.engine.grammar import check_gbnf

APRIEL_16 = read_template("Apriel-1.6-15b-Thinker-fixed.jinja")
APRIEL_15 = read_template("unsloth-Apriel-1.5.jinja")

A_ONE = '<tool_calls>[{"name": "get_weather", "arguments": {"city": "Pa]ris", "days": 1}}]</tool_calls>'
A_TWO = ('<tool_calls>[{"name": "a", "arguments": {"x": {"y": "}"}}, "id": "call1"}, '
         '{"name": "b", "arguments": {}}]</tool_calls>')
R_ONE = ('Action:\n```json\n[\n    {\n        "tool_name": "get_weather",\n        "parameters": '
         '{"city": "Pa]ris", "days": 1}\n    }\n]```')
R_TWO = ('Action: ```json\n[{"tool_name": "a", "parameters": {"x": {"y": "}"}}},\n'
         ' {"tool_name": "directly-answer", "parameters": {}},\n {"tool_name": "b", "parameters": {}}]\n```')


# ---- detection

@pytest.mark.parametrize(("template", "name"), [
    (APRIEL_16, "apriel"), (APRIEL_15, "apriel"), (COMMAND_R_PLUS, "command_r_plus"),
    (COMMAND_R7B, "command_r7b"), (COHERE2_MOE, "command_r7b"), (QWEN25, "hermes"),
])
def test_detection(template, name):
    assert detect_tool_format(template).name == name


def test_only_the_apriel_and_command_r_plus_templates_are_claimed():
    claimed = {p.name: detect_tool_format(read_template(p.name)).name for p in template_files()}
    assert {n for n, f in claimed.items() if f in ("apriel", "command_r_plus")} == {
        "Apriel-1.6-15b-Thinker-fixed.jinja", "unsloth-Apriel-1.5.jinja",
        "CohereForAI-c4ai-command-r-plus-tool_use.jinja"}


def test_apriel_reasoning_family_and_its_history_key():
    family16, family15 = detect_reasoning(APRIEL_16), detect_reasoning(APRIEL_15)
    assert family16 is not None and family15 is not None
    assert (family16.name, family16.open, family16.close) == (
        "apriel", "Here are my reasoning steps:", "[BEGIN FINAL RESPONSE]")
    # 1.6 shows the last turn's reasoning_content; 1.5 reads message['thought']
    assert family16.history_key == "reasoning_content" and family15.history_key == "thought"
    assert detect_reasoning(COMMAND_R_PLUS) is None


# ---- apriel parsing

def test_apriel_one_and_parallel_calls_with_text_before():
    fmt = AprielFormat()
    assert fmt.parse_calls(A_ONE).calls == [("get_weather", {"city": "Pa]ris", "days": 1}, None)]
    contents, error = parse_output("Let me see.\n" + A_TWO + "\n[END FINAL RESPONSE]", fmt)
    assert error is None and text(contents).strip() == "Let me see."
    assert calls(contents) == [("a", {"x": {"y": "}"}}), ("b", {})]


def _reply(template: str, out: str) -> tuple[list, str | None]:
    """``out`` parsed as the reply to a prompt that ends as the template's generation prompt with
    Apriel's thinking opened, fed char by char."""
    family = detect_reasoning(template)
    assert family is not None
    parser = make_parser(AprielFormat(), [family.tag, *thinking_tags(template)],
                         family.prepare("<|begin_assistant|>\n", "auto"))
    for ch in out:
        parser.feed(ch)
    _, contents = parser.finish()
    return contents, parser.error


@pytest.mark.parametrize("template", [APRIEL_16, APRIEL_15], ids=["1.6", "1.5"])
def test_apriel_thinking_ends_at_the_final_response_marker(template):
    out = "The user wants the weather.\n[BEGIN FINAL RESPONSE]\nChecking.\n" + A_ONE
    contents, error = _reply(template, out)
    assert error is None
    assert contents[0] == ContentThinking("The user wants the weather.\n")
    assert text(contents).strip() == "Checking."
    assert calls(contents) == [("get_weather", {"city": "Pa]ris", "days": 1})]
    # an answer closed by 1.5's end marker: the marker is not text
    contents, error = _reply(template, "Think.\n[BEGIN FINAL RESPONSE]\nIt is sunny.[END FINAL RESPONSE]")
    assert error is None and text(contents) == "It is sunny." and not calls(contents)


@pytest.mark.parametrize("out", [A_ONE, "Let me see. " + A_TWO, A_TWO + "\n[END FINAL RESPONSE]"])
def test_apriel_stream_matches_whole_parse(out):
    assert_stream_matches_whole(AprielFormat(), out)


@pytest.mark.parametrize("out", [
    '<tool_calls>[{"name": "a", "arguments": [1]}]</tool_calls>',
    '<tool_calls>[{"arguments": {}}]</tool_calls>',                       # no name
    '<tool_calls>[{"name": "a", "arguments": {"x": ',                     # cut off
    '<tool_calls>{"name": "a", "arguments": {}}</tool_calls>',             # not a list
    '<tool_calls>[]</tool_calls>',
])
def test_apriel_malformed_raises_and_is_kept_as_text(out):
    fmt = AprielFormat()
    with pytest.raises(ValueError):
        fmt.parse_calls(out)
    contents, error = parse_output(out, fmt)
    assert not calls(contents) and error is not None and "apriel" in error and text(contents) == out


def test_apriel_list_without_its_closing_marker_raises():
    with pytest.raises(ValueError, match="</tool_calls>"):
        AprielFormat().parse_calls('<tool_calls>[{"name": "a", "arguments": {}}] and more')


# ---- command_r_plus parsing

def test_command_r_plus_calls_and_directly_answer():
    fmt = CommandRPlusFormat()
    assert fmt.parse_calls(R_ONE).calls == [("get_weather", {"city": "Pa]ris", "days": 1}, None)]
    contents, error = parse_output("I will look.\n" + R_TWO, fmt)
    assert error is None and text(contents).strip() == "I will look."
    assert calls(contents) == [("a", {"x": {"y": "}"}}), ("b", {})]
    # only directly-answer: no call, and the text after the block is the answer
    only = 'Action: ```json\n[{"tool_name": "directly-answer", "parameters": {}}]\n```\nHello there.'
    contents, error = parse_output(only, fmt)
    assert error is None and not calls(contents) and text(contents).strip() == "Hello there."


def test_command_r_plus_action_in_prose_is_not_a_call():
    contents, error = parse_output("The next Action: is yours.", CommandRPlusFormat())
    assert error is None and not calls(contents) and text(contents) == "The next Action: is yours."


@pytest.mark.parametrize("out", [R_ONE, "I will look.\n" + R_TWO])
def test_command_r_plus_stream_matches_whole_parse(out):
    assert_stream_matches_whole(CommandRPlusFormat(), out)


def test_command_r_plus_stream_skips_directly_answer():
    parser = StreamParser(CommandRPlusFormat())
    events = []
    for ch in R_TWO:
        events += parser.feed(ch)
    events += parser.finish()[0]
    names = [e.name for e in events if type(e).__name__ == "ToolRequestStart"]
    assert names == ["a", "b"] and parser.error is None


@pytest.mark.parametrize("out", [
    'Action:\n```json\n[{"tool_name": "a", "parameters": [1]}]\n```',
    'Action:\n```json\n[{"parameters": {}}]\n```',                       # no tool_name
    'Action:\n```json\n[{"tool_name": "a", "parameters": {"x": ',         # cut off
    'Action:\n```json\n{"tool_name": "a", "parameters": {}}\n```',        # not a list
    "Action: I will answer directly.",
])
def test_command_r_plus_malformed_raises_and_is_kept_as_text(out):
    fmt = CommandRPlusFormat()
    with pytest.raises(ValueError):
        fmt.parse_calls(out)
    contents, error = parse_output(out, fmt)
    assert not calls(contents) and error is not None and "command_r_plus" in error
    assert text(contents) == out


# ---- grammars

SECOND = ToolDef("get_time", "The time in a city.",
                 {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})


@pytest.mark.parametrize("fmt", [AprielFormat(), CommandRPlusFormat()], ids=lambda f: f.name)
def test_grammars_are_accepted(fmt):
    for parallel in (False, True):
        grammar = fmt.grammar([WEATHER, SECOND], parallel=parallel)
        check_gbnf(grammar)
        assert ('"get_time' in grammar) and ("tc-call )*" in grammar) == parallel
    auto = fmt.auto_sampling([WEATHER])
    check_gbnf(auto["grammar"])
    assert auto["grammar_lazy"] is True
    # Command-R+ may choose its directly-answer pseudo-tool under auto, never when a call is required
    assert ("directly-answer" in auto["grammar"]) == (fmt.name == "command_r_plus")
    assert "directly-answer" not in fmt.grammar([WEATHER])


# ---- on the default model

@pytest.mark.parametrize("fmt", [AprielFormat(), CommandRPlusFormat()], ids=lambda f: f.name)
def test_forced_call_on_the_default_model(model, fmt):
    args = forced_call(model, fmt, "User: What is the weather in Paris tomorrow?\nAssistant:")
    assert args["city"]


def _history() -> list[Turn]:
    return [
        Turn("system", ["You are a weather assistant."]),
        Turn("user", ["How warm is it in Paris and Nice?"]),
        Turn("assistant", [ContentToolRequest("call00001", "get_weather", {"city": "Paris", "days": 1}),
                           ContentToolRequest("call00002", "get_weather", {"city": "Nice", "days": 2})]),
        Turn("user", [ContentToolResult("call00001", value="18", name="get_weather"),
                      ContentToolResult("call00002", value="21", name="get_weather")]),
        Turn("assistant", ["It is 18 degrees in Paris."]),
        Turn("user", ["And in Rome?"]),
    ]


@pytest.mark.parametrize(("template", "opening"), [
    (APRIEL_16, "<tool_calls>"), (APRIEL_15, "<tool_calls>"), (COMMAND_R_PLUS, "\nAction:"),
], ids=["apriel-1.6", "apriel-1.5", "command-r-plus"])
def test_history_renders_calls_the_format_parses_back(model, template, opening):
    provider = LlamaProvider(model, template=template, n_ctx=4096)
    try:
        prompt = provider.format_turns(_history(), [WEATHER])
        fmt = provider.tool_format
    finally:
        provider.close()
    # the last one: the instructions before the history may show the syntax too
    region = prompt[prompt.rindex(opening):]
    parsed = fmt.parse_calls(region)
    assert [(n, a) for n, a, _ in parsed.calls] == [
        ("get_weather", {"city": "Paris", "days": 1}), ("get_weather", {"city": "Nice", "days": 2})]
    for result in ("18", "21", "It is 18 degrees in Paris.", "And in Rome?"):
        assert result in parsed.trailing_text
    if fmt.name == "apriel":
        # the reply starts inside Apriel's thinking
        assert prompt.rstrip().endswith("Here are my reasoning steps:")
