"""Tool-call formats: detection, parsers (whole and streaming), grammar assembly."""

from __future__ import annotations

import json

import pytest
from _templates import CHATML, LLAMA31, MISTRAL_V03, QWEN25

from llamaprov.chat import (
    ContentText,
    ContentThinking,
    ContentToolRequest,
    TextDelta,
    ToolRequestArgumentsDelta,
    ToolRequestDone,
    ToolRequestStart,
)
from llamaprov.chat.formats import (
    FunctionaryFormat,
    GenericFormat,
    HermesFormat,
    Llama3Format,
    MistralFormat,
    StreamParser,
    detect_tool_format,
    get_tool_format,
    make_parser,
    parse_output,
)
from llamaprov.chat.formats._gbnf import prefix_rules
from llamaprov.errors import InvalidArgumentError


def _calls(contents):
    return [(c.name, c.arguments) for c in contents if isinstance(c, ContentToolRequest)]


def _text(contents):
    return "".join(c.text for c in contents if isinstance(c, ContentText))


@pytest.mark.parametrize(
    ("template", "name", "template_tools"),
    [
        (QWEN25, "hermes", True),
        (LLAMA31, "llama3", True),
        (MISTRAL_V03, "mistral", True),
        (CHATML, "generic", False),
        (None, "generic", False),
        ("{{ messages }}>>>all", "functionary", False),
    ],
)
def test_detect_format(template, name, template_tools):
    fmt = detect_tool_format(template)
    assert fmt.name == name
    assert fmt.template_tools is template_tools


def test_format_override_and_bad_name():
    assert get_tool_format("hermes", CHATML).name == "hermes"
    assert get_tool_format(None, QWEN25).name == "hermes"
    with pytest.raises(InvalidArgumentError, match="nonsense"):
        get_tool_format("nonsense", None)


# ----------------------------------------------------------------------------------- parsers
def test_hermes_parallel_calls_with_text():
    out = (
        "Checking.\n<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 2, \"b\": 3}}\n"
        "</tool_call>\n<tool_call>\n{\"name\": \"mul\", \"arguments\": {\"x\": \"}\"}}\n</tool_call>"
    )
    contents, error = parse_output(out, HermesFormat())
    assert error is None
    assert _text(contents) == "Checking.\n"
    assert _calls(contents) == [("add", {"a": 2, "b": 3}), ("mul", {"x": "}"})]


def test_hermes_unclosed_last_call_and_string_arguments():
    out = '<tool_call>\n{"name": "add", "arguments": "{\\"a\\": 1}"}'
    contents, error = parse_output(out, HermesFormat())
    assert error is None
    assert _calls(contents) == [("add", {"a": 1})]


def test_llama3_json_and_python_tag():
    fmt = Llama3Format()
    for out in (
        '{"name": "add", "parameters": {"a": 1}}',
        '<|python_tag|>{"name": "add", "parameters": {"a": 1}}',
        '  {"type": "function", "name": "add", "parameters": {"a": 1}}',
    ):
        contents, error = parse_output(out, fmt)
        assert error is None, out
        assert _calls(contents) == [("add", {"a": 1})]
    contents, _ = parse_output('{"name": "a", "parameters": {}}; {"name": "b", "parameters": {}}', fmt)
    assert [n for n, _ in _calls(contents)] == ["a", "b"]


def test_mistral_parallel_calls():
    out = '[TOOL_CALLS] [{"name": "add", "arguments": {"a": 1}}, {"name": "neg", "arguments": {}}]'
    contents, error = parse_output(out, MistralFormat())
    assert error is None
    assert _calls(contents) == [("add", {"a": 1}), ("neg", {})]


def test_functionary_text_then_calls():
    fmt = FunctionaryFormat()
    out = 'all\nSure.>>>add\n{"a": 1}>>>neg\n{"x": 2}'
    contents, error = parse_output(out, fmt, prefix=fmt.reply_prefix("...>>>"))
    assert error is None
    assert _text(contents) == "Sure."
    assert _calls(contents) == [("add", {"a": 1}), ("neg", {"x": 2})]
    contents, _ = parse_output('add\n{"a": 5}', fmt, prefix=">>>")
    assert _calls(contents) == [("add", {"a": 5})]


def test_generic_call_and_plain_answer():
    fmt = GenericFormat()
    contents, error = parse_output('{"tool_call": {"name": "add", "arguments": {"a": 1}}}', fmt)
    assert error is None and _calls(contents) == [("add", {"a": 1})]
    contents, error = parse_output("The answer is 4.", fmt)
    assert error is None and _text(contents) == "The answer is 4." and not _calls(contents)


@pytest.mark.parametrize(
    ("fmt", "out"),
    [
        (HermesFormat(), '<tool_call>\n{"name": add}\n</tool_call>'),
        (HermesFormat(), "<tool_call>\n[1, 2]\n</tool_call>"),
        (Llama3Format(), '{"name": "add", "parameters": {"a": '),
        (MistralFormat(), "[TOOL_CALLS] not json"),
        (GenericFormat(), '{"tool_call": {"name": "add", "arguments": [1]}}'),
        (GenericFormat(), '{"hello": 1}'),
        (FunctionaryFormat(), "add"),
    ],
)
def test_malformed_output_falls_back_to_text(fmt, out):
    contents, error = parse_output(out, fmt, prefix=">>>" if fmt.name == "functionary" else "")
    assert not _calls(contents)
    assert error is not None and fmt.name in error
    assert out.strip() in _text(contents) or _text(contents).strip() in out


def test_thinking_blocks():
    contents, _ = parse_output("<think>Let me add.</think>\n\nIt is 5.", HermesFormat())
    assert contents == [ContentThinking("Let me add."), ContentText("It is 5.")]
    # a template that prefills "<think>\n" leaves the reply inside the thinking block
    parser = make_parser(None, [("<think>", "</think>")], "<|im_start|>assistant\n<think>\n")
    parser.feed("hmm</think>ok")
    _, contents = parser.finish()
    assert contents == [ContentThinking("hmm"), ContentText("ok")]


def test_no_tools_means_no_call_detection():
    out = '<tool_call>\n{"name": "add", "arguments": {}}\n</tool_call>'
    contents, error = parse_output(out, None)
    assert error is None and _text(contents) == out


# ---------------------------------------------------------------------------------- streaming
def _stream(fmt, text, step=1, prefix=""):
    parser = StreamParser(fmt, prefix=prefix)
    events = []
    for i in range(0, len(text), step):
        events += parser.feed(text[i : i + step])
    final, contents = parser.finish()
    return events + final, contents


@pytest.mark.parametrize("step", [1, 3, 7, 1000])
def test_stream_events_in_order_and_equal_to_whole_parse(step):
    out = (
        "Let me see. <tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 2, \"b\": {\"c\": [1]}}}"
        "\n</tool_call>\n<tool_call>\n{\"name\": \"neg\", \"arguments\": {\"x\": -1}}\n</tool_call>"
    )
    events, contents = _stream(HermesFormat(), out, step)
    whole, _ = parse_output(out, HermesFormat())
    assert [(type(c), getattr(c, "text", None)) for c in contents] == [
        (type(c), getattr(c, "text", None)) for c in whole
    ]
    assert _calls(contents) == _calls(whole)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Let me see. "
    for index, name in ((0, "add"), (1, "neg")):
        mine = [e for e in events if getattr(e, "index", None) == index]
        assert isinstance(mine[0], ToolRequestStart) and mine[0].name == name
        assert isinstance(mine[-1], ToolRequestDone)
        deltas = [e.delta for e in mine if isinstance(e, ToolRequestArgumentsDelta)]
        assert all(isinstance(e, ToolRequestArgumentsDelta) for e in mine[1:-1])
        assert json.loads("".join(deltas)) == mine[-1].request.arguments
    # the first call is done before the second starts
    kinds = [(type(e).__name__, getattr(e, "index", None)) for e in events]
    assert kinds.index(("ToolRequestDone", 0)) < kinds.index(("ToolRequestStart", 1))


def test_stream_holds_back_only_possible_trigger_prefixes():
    parser = StreamParser(HermesFormat())
    assert [e.text for e in parser.feed("a < b, <tool")] == ["a < b, "]
    assert [e.text for e in parser.feed("box>")] == ["<toolbox>"]
    final, contents = parser.finish()
    assert final == [] and _text(contents) == "a < b, <toolbox>"


def test_stream_generic_start_trigger():
    events, contents = _stream(
        GenericFormat(), '  {"tool_call": {"name": "add", "arguments": {"a": 1}}}', 2
    )
    assert not any(isinstance(e, TextDelta) for e in events)
    assert _calls(contents) == [("add", {"a": 1})]
    events, contents = _stream(GenericFormat(), "Hello {there}", 1)
    assert _text(contents) == "Hello {there}"


ANSWER = '{"response": "Hi \\"you\\"\\n\\u00e9 \\ud83d\\ude00 tail\\ud83d"}'


@pytest.mark.parametrize("step", [1, 2, 5, 100])
def test_stream_generic_answer_is_unwrapped_as_it_streams(step):
    events, contents = _stream(GenericFormat(), ANSWER, step)
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    # a lone high surrogate has no UTF-8: it becomes U+FFFD rather than a str that cannot be encoded
    assert "".join(deltas) == _text(contents) == 'Hi "you"\né \U0001F600 tail\ufffd'
    if step == 1:
        assert len(deltas) > 10  # streamed, not delivered at the end


def test_generic_answer_cut_off_and_partial_prefixes():
    parser = StreamParser(GenericFormat())
    assert parser.feed(' {"resp') == []  # could still be the answer's opening
    assert [e.text for e in parser.feed('onse": "cut \\u00')] == ["cut "]
    _, contents = parser.finish()
    assert _text(contents) == "cut " and parser.error is None
    contents, error = parse_output('{"tool_call": {"name": "add", "arguments": {"a": 1}}}', GenericFormat())
    assert _calls(contents) == [("add", {"a": 1})] and error is None


def test_generic_auto_grammar_is_a_call_or_an_answer():
    from llamaprov.chat import ToolDef
    from llamaprov.grammars import GrammarMatcher

    add = ToolDef("add", "Add.", {"type": "object", "properties": {"a": {"type": "integer"}},
                                  "required": ["a"]})
    sampling = GenericFormat().auto_sampling([add])
    assert set(sampling) == {"grammar"}  # the whole reply is constrained, not a lazy grammar
    with GrammarMatcher(sampling["grammar"]) as matcher:
        assert matcher.accepts('{"response": "Hi \\"you\\"\\n\\u00e9 \U0001F600"}')
        assert not matcher.accepts(ANSWER)  # escaped surrogates: the grammar writes the emoji itself
        assert matcher.accepts('{"tool_call": {"name": "add", "arguments": {"a": 1}}}')
        for wrong in ('{"response": 3}', "plain prose", '{"tool_call": {"name": "sub", "arguments": {}}}',
                      '{"response": "a"} and more'):
            assert not matcher.accepts(wrong), wrong
    assert '{"response": "<your answer>"}' in GenericFormat().tools_system_note([add])
    assert HermesFormat().auto_sampling([add])["grammar_lazy"] is True


def test_stream_functionary_text_streams_live():
    parser = StreamParser(FunctionaryFormat(), prefix=">>>")
    got = parser.feed("all\nHi th")
    assert [e.text for e in got] == ["Hi th"]
    parser.feed('ere>>>add\n{"a": 1}')
    _, contents = parser.finish()
    assert _text(contents) == "Hi there"
    assert _calls(contents) == [("add", {"a": 1})]


# ----------------------------------------------------------------------------------- grammars
def test_prefix_rules_renames_only_rule_names():
    gbnf = (
        'root ::= "{" ws "\\"a\\"" ws ":" ws value "}"  # root rule\n'
        'value ::= [a-z]{1,3} | "value" | root\n'
        "ws ::= [ \\t]?\n"
    )
    out = prefix_rules(gbnf, "t0-")
    assert out.splitlines()[0].startswith('t0-root ::= "{" t0-ws "\\"a\\"" t0-ws ":" t0-ws t0-value "}"')
    assert '[a-z]{1,3} | "value" | t0-root' in out
    assert "# root rule" in out
    assert "t0-ws ::= [ \\t]?" in out


def _fake_compiler(monkeypatch):
    """Stand-in compiler output shaped like json_schema_to_gbnf's (root + helper rules)."""
    import llamaprov.grammars as grammars

    def compile_(schema, **kwargs):
        return 'root ::= "{" ws "}"\nws ::= " "?\n'

    monkeypatch.setattr(grammars, "json_schema_to_gbnf", compile_, raising=False)


def test_grammar_assembly_every_format(monkeypatch):
    from llamaprov.chat import tool

    _fake_compiler(monkeypatch)

    def add(a: int) -> int:
        return a

    def neg(x: int) -> int:
        return -x

    tools = [tool(add), tool(neg)]
    for fmt in (HermesFormat(), Llama3Format(), MistralFormat(), FunctionaryFormat(), GenericFormat()):
        g = fmt.grammar(tools)
        assert g.startswith("root ::= "), fmt.name
        assert "tool0-root ::=" in g and "tool1-root ::=" in g and "tool1-ws" in g
        assert "\nws ::=" not in g and "\nroot ::= \"{\"" not in g
        for pattern in fmt.trigger_patterns(tools):
            assert "(" in pattern


def test_a_registered_format_is_named_and_detected_before_the_built_in_ones():
    from llamaprov.chat.formats import TOOL_FORMATS, register_tool_format

    @register_tool_format
    class BracketFormat(HermesFormat):
        name = "bracket"
        detect_order = 0

        @classmethod
        def detects(cls, template: str) -> bool:
            return "BRACKET" in template

    try:
        assert isinstance(get_tool_format("bracket", None), BracketFormat)
        assert detect_tool_format(QWEN25 + "{# BRACKET #}").name == "bracket"
        assert detect_tool_format(QWEN25).name == "hermes"
        assert list(TOOL_FORMATS)[:5] == ["hermes", "llama3", "mistral", "functionary", "generic"]
    finally:
        del TOOL_FORMATS["bracket"]
    with pytest.raises(InvalidArgumentError, match="ToolCallFormat subclass"):
        register_tool_format(dict)  # type: ignore[type-var]


def test_text_markers_are_dropped_from_the_text_as_it_streams():
    class Wrapped(HermesFormat):
        text_markers = ("<|START_RESPONSE|>", "<|END_RESPONSE|>")

    out = "<|START_RESPONSE|>It is <b>sunny</b>.<|END_RESPONSE|>"
    for step in (1, 4, 100):
        parser = StreamParser(Wrapped())
        events = []
        for i in range(0, len(out), step):
            events += parser.feed(out[i:i + step])
        final, contents = parser.finish()
        assert "".join(e.text for e in events + final if isinstance(e, TextDelta)) == "It is <b>sunny</b>."
        assert _text(contents) == "It is <b>sunny</b>." and parser.error is None
    # a format without markers keeps them as text
    contents, _ = parse_output(out, HermesFormat())
    assert _text(contents) == out
