"""Parallel tool calls: several calls in one reply, per format (grammar, prompt note, parsing and
streaming), through the provider to the grammar, and run in order by the Chat loop."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from llamaprov.chat import (
    ContentToolRequest,
    ToolDef,
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
    ToolCallFormat,
    parse_output,
)
from llamaprov.errors import InvalidArgumentError
from llamaprov.grammars import GrammarMatcher

ADD = ToolDef("add", "Add two integers.", {
    "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "required": ["a", "b"]})
NEG = ToolDef("neg", "Negate an integer.", {
    "type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]})
TOOLS = [ADD, NEG]
# calls in the order written: (name, arguments)
CALLS = [("add", {"a": 1, "b": 2}), ("neg", {"x": 3}), ("add", {"a": 4, "b": 5}), ("neg", {"x": 6})]

Calls = list[tuple[str, dict[str, int]]]


def _json_calls(calls: Calls, key: str = "arguments") -> list[str]:
    return [f'{{"name": "{name}", "{key}": {json.dumps(args)}}}' for name, args in calls]


def _generic(calls: Calls, several: bool) -> str:
    if not several:
        (call,) = _json_calls(calls)
        return f'{{"tool_call": {call}}}'
    return '{"tool_calls": [' + ", ".join(_json_calls(calls)) + "]}"


# how each format writes the calls of one reply; ``several``: the form of a reply that may hold
# several calls (only the generic format writes one call differently)
WRITERS: dict[str, tuple[ToolCallFormat, Callable[[Calls, bool], str]]] = {
    "hermes": (HermesFormat(), lambda calls, _: "\n".join(
        f"<tool_call>\n{c}\n</tool_call>" for c in _json_calls(calls))),
    "mistral": (MistralFormat(), lambda calls, _: "[TOOL_CALLS] [" + ", ".join(_json_calls(calls)) + "]"),
    "functionary": (FunctionaryFormat(), lambda calls, _: "".join(
        f">>>{name}\n{json.dumps(args)}" for name, args in calls)),
    "generic": (GenericFormat(), _generic),
}


def _accepts(grammar: str, text: str) -> bool:
    with GrammarMatcher(grammar) as matcher:
        return matcher.accepts(text)


# ------------------------------------------------------------------------------------ grammars
@pytest.mark.parametrize("name", list(WRITERS))
def test_two_calls_are_accepted_when_parallel_and_rejected_when_not(name: str) -> None:
    fmt, write = WRITERS[name]
    parallel = fmt.grammar(TOOLS, parallel=True)
    assert _accepts(parallel, write(CALLS[:1], True))
    assert _accepts(parallel, write(CALLS[:2], True))
    single = fmt.grammar(TOOLS, parallel=False)
    assert _accepts(single, write(CALLS[:1], False))
    assert not _accepts(single, write(CALLS[:2], True))


@pytest.mark.parametrize("name", list(WRITERS))
@pytest.mark.parametrize("n", [2, 3])
def test_at_most_max_calls_when_parallel(name: str, n: int) -> None:
    fmt, write = WRITERS[name]
    grammar = fmt.grammar(TOOLS, parallel=True, max_calls=n)
    assert _accepts(grammar, write(CALLS[:n], True))
    assert not _accepts(grammar, write(CALLS[: n + 1], True))


def test_each_format_has_its_default_and_llama3_writes_one_call() -> None:
    assert [WRITERS[n][0].call_limit() for n in ("hermes", "mistral", "functionary")] == [None] * 3
    assert GenericFormat().call_limit() == 1  # small untrained models do better with one call
    assert GenericFormat().call_limit(True, 5) == 5
    assert HermesFormat().call_limit(None, 4) == 4 and HermesFormat().call_limit(False, 4) == 1
    # Llama 3.x templates refuse an assistant message with several calls
    llama3 = Llama3Format()
    assert llama3.call_limit(True) == 1
    one, two = _json_calls(CALLS[:2], key="parameters")
    grammar = llama3.grammar(TOOLS, parallel=True)
    assert _accepts(grammar, one) and not _accepts(grammar, f"{one}; {two}")
    assert _accepts(grammar, "<|python_tag|>" + one)


def test_generic_auto_grammar_offers_the_calls_array_or_an_answer_when_parallel() -> None:
    fmt = GenericFormat()
    grammar = fmt.auto_sampling(TOOLS, parallel=True, max_calls=2)["grammar"]
    assert _accepts(grammar, _generic(CALLS[:2], True))
    assert _accepts(grammar, _generic(CALLS[:1], True))
    assert _accepts(grammar, '{"response": "It is 3."}')
    assert not _accepts(grammar, _generic(CALLS[:1], False))  # one form per request
    assert not _accepts(grammar, _generic(CALLS[:3], True))
    default = fmt.auto_sampling(TOOLS)["grammar"]
    assert _accepts(default, _generic(CALLS[:1], False)) and _accepts(default, '{"response": "Hi."}')
    assert not _accepts(default, _generic(CALLS[:2], True))


def test_generic_tools_note_describes_the_form_of_the_request() -> None:
    from llamaprov.chat import ContentText, Turn

    fmt = GenericFormat()
    turns = [Turn("user", [ContentText("Add 1 and 2, and negate 3.")])]

    def note(**calls: object) -> str:
        messages, template_tools = fmt.render_messages(turns, TOOLS, **calls)  # type: ignore[arg-type]
        assert template_tools is None and messages[0]["role"] == "system"
        return str(messages[0]["content"])

    single = note()
    assert '{"tool_call": {"name": "<tool name>"' in single and "tool_calls" not in single
    several = note(parallel=True)
    assert '{"tool_calls": [{"name": "<tool name>", "arguments": {<arguments>}}, ...]}' in several
    assert '{"response": "<your answer>"}' in several
    assert note(parallel=True, max_calls=1) == single  # one call allowed: the one-call form


def test_bad_parallel_settings_raise_naming_the_value() -> None:
    with pytest.raises(InvalidArgumentError, match="parallel must be True, False or None, got 'yes'"):
        HermesFormat().grammar(TOOLS, parallel="yes")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="max_calls must be an int >= 1 or None, got 0"):
        HermesFormat().grammar(TOOLS, parallel=True, max_calls=0)
    with pytest.raises(InvalidArgumentError, match="max_calls"):
        GenericFormat().auto_sampling(TOOLS, max_calls=True)  # type: ignore[arg-type]


# ------------------------------------------------------------------------- parsing, streaming
@pytest.mark.parametrize("name", list(WRITERS))
@pytest.mark.parametrize("step", [1, 5, 1000])
def test_two_calls_stream_in_order_with_their_own_ids(name: str, step: int) -> None:
    fmt, write = WRITERS[name]
    text = write(CALLS[:2], True)
    parser = StreamParser(fmt)
    events = []
    for i in range(0, len(text), step):
        events += parser.feed(text[i:i + step])
    final, contents = parser.finish()
    events += final
    assert parser.error is None
    requests = [c for c in contents if isinstance(c, ContentToolRequest)]
    assert [(r.name, r.arguments) for r in requests] == CALLS[:2]
    assert len({r.id for r in requests}) == 2
    starts = [e for e in events if isinstance(e, ToolRequestStart)]
    done = [e for e in events if isinstance(e, ToolRequestDone)]
    assert [(e.index, e.name) for e in starts] == [(0, "add"), (1, "neg")]
    assert [(e.index, e.request) for e in done] == list(enumerate(requests))
    assert [e.id for e in starts] == [r.id for r in requests]
    for index, request in enumerate(requests):
        deltas = [e.delta for e in events if isinstance(e, ToolRequestArgumentsDelta) and e.index == index]
        assert json.loads("".join(deltas)) == request.arguments
    # the first call is done before the second starts
    assert events.index(done[0]) < events.index(starts[1])
    whole, error = parse_output(text, fmt)
    assert error is None
    assert [(c.name, c.arguments) for c in whole if isinstance(c, ContentToolRequest)] == CALLS[:2]
