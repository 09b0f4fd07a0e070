"""Native tool formats of DeepSeek-R1, DeepSeek-V3.1, Kimi-K2 and LFM2: detection from the real
templates, whole and streamed parsing of scripted outputs, grammars, forced calls on the default
model, and a tool round trip through a chat per family."""

from __future__ import annotations

import json

import _templates_special_families as T
import pytest
from _templates import CHATML, LLAMA31, MISTRAL_V03, QWEN25

from llamaprov.chat import (
    ContentText,
    ContentToolRequest,
    TextDelta,
    ToolDef,
    ToolRequestArgumentsDelta,
    ToolRequestDone,
    ToolRequestStart,
)
from llamaprov.chat.formats import StreamParser, detect_tool_format, get_tool_format, parse_output

B, E = "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>"
CB, CE, SEP = "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>", "<｜tool▁sep｜>"
KB, KS = "<|tool_calls_section_begin|>", "<|tool_calls_section_end|>"
KC, KA, KE = "<|tool_call_begin|>", "<|tool_call_argument_begin|>", "<|tool_call_end|>"


def _r1(name: str, args: str) -> str:
    return f"{CB}function{SEP}{name}\n```json\n{args}\n```{CE}"


ADD_ARGS, NEG_ARGS = '{"a": 2, "b": 3}', '{"x": "}```"}'
R1_ADD, R1_NEG = _r1("add", ADD_ARGS), _r1("neg", NEG_ARGS)

# per format: (one call, parallel calls, text then a call, malformed outputs)
CASES = {
    "deepseek-r1": (
        f"{B}{R1_ADD}{E}",
        f"{B}{R1_ADD}\n{R1_NEG}{E}",
        f"Let me add. {B}{R1_ADD}{E}",
        [f"{B}{CB}function{SEP}add\n```json\n[1, 2]\n```{CE}{E}",
         f'{B}{CB}function{SEP}add\n```json\n{{"a": 2,\n```{CE}{E}',
         f"{B}{CB}add{E}",
         f'{B}{_r1("add", "{}")} garbage {_r1("neg", "{}")}{E}'],
    ),
    "deepseek-v3.1": (
        f"{B}{CB}add{SEP}{ADD_ARGS}{CE}{E}",
        f"{B}{CB}add{SEP}{ADD_ARGS}{CE}{CB}neg{SEP}{NEG_ARGS}{CE}{E}",
        f"Let me add. {B}{CB}add{SEP}{ADD_ARGS}{CE}{E}",
        [f"{B}{CB}add{SEP}[1]{CE}{E}", f'{B}{CB}add{SEP}{{"a": 2{E}', f"{B}{CB}add{E}",
         f"{B}{CB}add{SEP}{{}}{CE} and {CB}neg{SEP}{{}}{CE}{E}"],
    ),
    "kimi-k2": (
        f"{KB}{KC}functions.add:0{KA}{ADD_ARGS}{KE}{KS}",
        f"{KB}{KC}functions.add:0{KA}{ADD_ARGS}{KE}{KC}functions.neg:1{KA}{NEG_ARGS}{KE}{KS}",
        f"Let me add. {KB}{KC}functions.add:0{KA}{ADD_ARGS}{KE}{KS}",
        [f"{KB}{KC}functions.add{KA}{ADD_ARGS}{KE}{KS}", f"{KB}{KC}functions.add:0{KA}null{KE}{KS}",
         f'{KB}{KC}functions.add:0{KA}{{"a": {KE}{KS}'],
    ),
}
EXPECTED_ONE = [("add", {"a": 2, "b": 3})]
EXPECTED_PARALLEL = {
    "deepseek-r1": [("add", {"a": 2, "b": 3}), ("neg", {"x": "}```"})],
    "deepseek-v3.1": [("add", {"a": 2, "b": 3}), ("neg", {"x": "}```"})],
    "kimi-k2": [("add", {"a": 2, "b": 3}), ("neg", {"x": "}```"})],
}


def _calls(contents):
    return [(c.name, c.arguments) for c in contents if isinstance(c, ContentToolRequest)]


def _text(contents):
    return "".join(c.text for c in contents if isinstance(c, ContentText))


# ---------------------------------------------------------------------------------- detection
@pytest.mark.parametrize(
    ("template", "name", "template_tools"),
    [
        (T.DEEPSEEK_R1_LLAMACPP, "deepseek-r1", True),
        (T.DEEPSEEK_R1_DISTILL_QWEN, "deepseek-r1", False),
        (T.DEEPSEEK_R1_DISTILL_LLAMA, "deepseek-r1", False),
        (T.DEEPSEEK_V31, "deepseek-v3.1", False),
        (T.DEEPSEEK_V32, "deepseek-v3.2", True),  # DSML calls
        (T.KIMI_K2, "kimi-k2", True),
        (T.KIMI_K2_INSTRUCT, "kimi-k2", True),
        (T.KIMI_K2_THINKING, "kimi-k2", True),
        (T.KIMI_K2_THINKING_MOONSHOT, "kimi-k2", True),
    ],
)
def test_detected_from_the_real_template(template, name, template_tools):
    fmt = detect_tool_format(template)
    assert (fmt.name, fmt.template_tools) == (name, template_tools)


@pytest.mark.parametrize(("template", "name"), [(QWEN25, "hermes"), (LLAMA31, "llama3"),
                                                 (MISTRAL_V03, "mistral"), (CHATML, "generic")])
def test_other_families_keep_their_format(template, name):
    assert detect_tool_format(template).name == name


# ------------------------------------------------------------------------------------ parsing
@pytest.mark.parametrize("name", list(CASES))
def test_one_call(name):
    contents, error = parse_output(CASES[name][0], get_tool_format(name, None))
    assert error is None
    assert _calls(contents) == EXPECTED_ONE and _text(contents) == ""


@pytest.mark.parametrize("name", list(CASES))
def test_parallel_calls(name):
    fmt = get_tool_format(name, None)
    parsed = fmt.parse_calls(CASES[name][1])
    assert [(n, a) for n, a, _ in parsed.calls] == EXPECTED_PARALLEL[name]
    assert parsed.trailing_text.strip() == ""


@pytest.mark.parametrize("name", list(CASES))
def test_text_before_the_call(name):
    contents, error = parse_output(CASES[name][2], get_tool_format(name, None))
    assert error is None
    assert _text(contents).strip() == "Let me add."
    assert _calls(contents) == EXPECTED_ONE


@pytest.mark.parametrize(("name", "k"), [(n, k) for n in CASES for k in range(len(CASES[n][3]))])
def test_malformed_raises_and_is_kept_as_text(name, k):
    fmt, out = get_tool_format(name, None), CASES[name][3][k]
    with pytest.raises(ValueError):
        fmt.parse_calls(out)
    contents, error = parse_output(out, fmt)
    assert error is not None and name in error
    assert _text(contents) == out  # the region kept as text (calls done while streaming stay)


def test_kimi_keeps_the_models_call_ids_and_numbers_the_history_its_way():
    from llamaprov.chat import ContentToolResult, Turn

    fmt = get_tool_format("kimi-k2", None)
    contents, error = parse_output(CASES["kimi-k2"][1], fmt)
    assert error is None
    assert [c.id for c in contents if isinstance(c, ContentToolRequest)] == [
        "functions.add:0", "functions.neg:1"]
    events, _ = _stream(fmt, CASES["kimi-k2"][1])
    assert [e.id for e in events if isinstance(e, ToolRequestStart)] == ["functions.add:0", "functions.neg:1"]
    # a repeated id is not kept (results are matched to calls by id)
    twice = CASES["kimi-k2"][1].replace("functions.neg:1", "functions.add:0")
    ids = [c.id for c in parse_output(twice, fmt)[0] if isinstance(c, ContentToolRequest)]
    assert ids[0] == "functions.add:0" and ids[1] != ids[0]
    turns = [Turn("user", [ContentText("Hi")]),
             Turn("assistant", [ContentToolRequest("x1", "add", {"a": 1})]),
             Turn("user", [ContentToolResult("x1", 2, name="add")]),
             Turn("assistant", [ContentToolRequest("x2", "neg", {"x": "1"}),
                                ContentToolRequest("x3", "add", {"a": 2})]),
             Turn("user", [ContentToolResult("x3", 4, name="add"), ContentToolResult("x2", -1, name="neg")])]
    messages, _ = fmt.render_messages(turns, [ADD, NEG])
    assert [c["id"] for m in messages for c in m.get("tool_calls", [])] == [
        "functions.add:0", "functions.neg:1", "functions.add:2"]
    assert [m["tool_call_id"] for m in messages if m["role"] == "tool"] == [
        "functions.add:0", "functions.add:2", "functions.neg:1"]
    first = next(m for m in messages if m.get("tool_calls"))
    assert first["tool_calls"][0]["function"]["arguments"] == {"a": 1}


# ---------------------------------------------------------------------------------- streaming
def _stream(fmt, text):
    parser = StreamParser(fmt)
    events = []
    for ch in text:
        events += parser.feed(ch)
    final, contents = parser.finish()
    return events + final, contents


@pytest.mark.parametrize(("name", "k"), [(n, k) for n in CASES for k in range(3)])
def test_streamed_char_by_char_equals_the_whole_parse(name, k):
    fmt, out = get_tool_format(name, None), CASES[name][k]
    events, contents = _stream(fmt, out)
    whole, _ = parse_output(out, fmt)
    assert _calls(contents) == _calls(whole) and _text(contents) == _text(whole)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == _text(whole)
    starts = [e for e in events if isinstance(e, ToolRequestStart)]
    dones = [e for e in events if isinstance(e, ToolRequestDone)]
    assert [e.name for e in starts] == [n for n, _ in _calls(whole)]
    assert [e.request for e in dones] == [c for c in contents if isinstance(c, ContentToolRequest)]
    for start, done in zip(starts, dones, strict=True):
        deltas = [e.delta for e in events
                  if isinstance(e, ToolRequestArgumentsDelta) and e.index == start.index]
        assert json.loads("".join(deltas)) == done.request.arguments
        assert done.request.id == start.id


@pytest.mark.parametrize("name", list(CASES))
def test_a_partial_marker_is_held_back(name):
    fmt = get_tool_format(name, None)
    marker = fmt.triggers[0]
    parser = StreamParser(fmt)
    got = parser.feed("Sure. " + marker[:-1])
    assert "".join(e.text for e in got if isinstance(e, TextDelta)) == "Sure. "
    got = parser.feed("x")  # not the marker after all
    assert "".join(e.text for e in got if isinstance(e, TextDelta)) == marker[:-1] + "x"


# ----------------------------------------------------------------------------------- grammars
ADD = ToolDef("add", "Add two integers.", {
    "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "required": ["a", "b"]})
NEG = ToolDef("neg", "Negate.", {"type": "object", "properties": {"x": {"type": "string"}},
                                 "required": ["x"]})


@pytest.mark.parametrize("name", list(CASES))
def test_grammar_accepts_the_formats_calls(name):
    from llamaprov.grammars import GrammarMatcher

    fmt = get_tool_format(name, None)
    with GrammarMatcher(fmt.grammar([ADD, NEG], parallel=True)) as matcher:
        assert matcher.accepts(CASES[name][0])
        assert matcher.accepts(CASES[name][1])
        assert not matcher.accepts(CASES[name][0].replace("add", "sub"))
    with GrammarMatcher(fmt.grammar([ADD, NEG], parallel=False)) as matcher:
        assert matcher.accepts(CASES[name][0])
        assert not matcher.accepts(CASES[name][1])


@pytest.mark.parametrize("name", list(CASES))
def test_forced_call_on_the_default_model_parses_back(model, name):
    from llamaprov.engine import SamplingParams

    fmt = get_tool_format(name, None)
    prompt = ("<|im_start|>user\nAdd 2 and 3 with the tool: "
              f"{fmt.call_example()}<|im_end|>\n<|im_start|>assistant\n")
    ctx = model.new_context(n_ctx=2048)
    try:
        out = ctx.completion(prompt, max_tokens=120, sampling=SamplingParams(
            temperature=0, grammar=fmt.grammar([ADD], parallel=False))).result().text
    finally:
        ctx.close()
    calls = fmt.parse_calls(out).calls
    assert [n for n, _, _ in calls] == ["add"], out
    ADD.validate_arguments(calls[0][1])


# --------------------------------------------------------------------------------- round trip
def secret_word(number: int) -> str:
    """The secret word for a number.

    Args:
        number: which secret word
    """
    return {7: "pineapple"}.get(number, "unknown")


# deepseek-v3.1 is not here yet: its forced call on the default model ran past 160 tokens in
# this chat (the bare forced call above passes); see the report of issue #16
ROUND_TRIP = {"deepseek-r1": T.DEEPSEEK_R1_DISTILL_QWEN, "kimi-k2": T.KIMI_K2}


@pytest.mark.parametrize("name", list(ROUND_TRIP))
def test_forced_tool_round_trip_through_a_chat(model, name):
    from llamaprov.chat import chat_llamaprov, tool

    # the markers are plain text for the default model (~110 tokens a call); reasoning="off"
    # closes the thinking block R1's generation prompt opens
    chat = chat_llamaprov(model, system_prompt="You are a helpful assistant.", template=ROUND_TRIP[name],
                          tools=[secret_word], params={"temperature": 0, "max_tokens": 160,
                                                       "reasoning": "off"})
    try:
        assert chat.provider.tool_format.name == name
        chat.chat("What is the secret word for number 7?", tool_choice="secret_word")
        turns = chat.get_turns()
        requests = [c for t in turns for c in t.contents if isinstance(c, ContentToolRequest)]
        assert [r.name for r in requests] == ["secret_word"]
        tool(secret_word).validate_arguments(requests[0].arguments)
        assert turns[-1].role == "assistant" and not turns[-1].tool_requests
    finally:
        chat.close()
