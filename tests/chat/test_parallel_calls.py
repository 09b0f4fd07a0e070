"""Parallel tool calls: several calls in one reply, per format (grammar, prompt note, parsing and
streaming), through the provider to the grammar, and run in order by the Chat loop."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from _stub_provider import StubProvider

from llamaprov.chat import (
    Chat,
    ContentText,
    ContentToolRequest,
    LlamaProvider,
    ToolDef,
    ToolRequestArgumentsDelta,
    ToolRequestDone,
    ToolRequestStart,
    ToolResultEvent,
    Turn,
    TurnDone,
    chat_llamaprov,
    tool,
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


# -------------------------------------------------------------------------------- the provider
def _plan(provider: LlamaProvider, tool_choice: str = "required", **calls: Any) -> tuple[str, str]:
    """(the grammar, the prompt) of a request to ``provider``."""
    turns = [Turn("user", [ContentText("Add 1 and 2, and negate 3.")])]
    plan = provider._plan(turns, TOOLS, None, {}, tool_choice, **calls)
    assert plan.sampling.grammar is not None
    return plan.sampling.grammar, plan.prompt


def test_the_provider_takes_parallel_tool_calls_to_the_grammar(model: Any) -> None:
    _, write = WRITERS["hermes"]
    two, three = write(CALLS[:2], True), write(CALLS[:3], True)
    provider = LlamaProvider(model, tool_format="hermes")
    try:
        assert _accepts(_plan(provider)[0], three)  # the format's default: no bound
        single = _plan(provider, parallel_tool_calls=False)[0]
        assert _accepts(single, write(CALLS[:1], False)) and not _accepts(single, two)
        bounded = _plan(provider, parallel_tool_calls=True, max_tool_calls=2)[0]
        assert _accepts(bounded, two) and not _accepts(bounded, three)
        # a named tool is one call of it, whatever the request allows
        named = _plan(provider, "add", parallel_tool_calls=True)[0]
        assert _accepts(named, write(CALLS[:1], False))
        assert not _accepts(named, write([CALLS[0], CALLS[2]], True))
    finally:
        provider.close()


def test_the_generic_prompt_and_auto_grammar_follow_the_request(model: Any) -> None:
    provider = LlamaProvider(model)
    try:
        assert provider.tool_format.name == "generic"
        grammar, prompt = _plan(provider, "auto", parallel_tool_calls=True, max_tool_calls=2)
        assert '{"tool_calls": [{"name": "<tool name>"' in prompt
        assert _accepts(grammar, _generic(CALLS[:2], True)) and _accepts(grammar, '{"response": "3"}')
        grammar, prompt = _plan(provider, "auto")
        assert "tool_calls" not in prompt and '{"tool_call": {"name": "<tool name>"' in prompt
        assert _accepts(grammar, _generic(CALLS[:1], False))
        assert not _accepts(grammar, _generic(CALLS[:2], True))
    finally:
        provider.close()


def test_the_provider_refuses_bad_parallel_settings(model: Any) -> None:
    turns = [Turn("user", [ContentText("Hi.")])]
    provider = LlamaProvider(model)
    with pytest.raises(InvalidArgumentError, match="parallel_tool_calls must be True, False or None"):
        provider.submit(turns, tools=TOOLS, parallel_tool_calls="yes")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="max_tool_calls must be an int >= 1 or None, got 0"):
        next(iter(provider.stream_perform(turns, tools=TOOLS, max_tool_calls=0)))
    provider.close()


# ---------------------------------------------------------------------------------- the Chat
class Scripted(StubProvider):
    """Replies with prepared generic-format outputs, parsed and streamed by the real parser; records
    the tool settings of each request."""

    def __init__(self, outputs: Sequence[str]) -> None:
        self.outputs = list(outputs)
        self.requests: list[tuple[str, bool | None, int | None]] = []

    def stream_perform(self, turns: Sequence[Turn], *, tools: Sequence[ToolDef] = (), type: Any = None,
                       params: Any = None, tool_choice: str = "auto", parallel_tool_calls: bool | None = None,
                       max_tool_calls: int | None = None) -> Iterator[Any]:
        self.requests.append((str(tool_choice), parallel_tool_calls, max_tool_calls))
        parser = StreamParser(GenericFormat())
        yield from parser.feed(self.outputs.pop(0))
        final, contents = parser.finish()
        yield from final
        calls = any(isinstance(c, ContentToolRequest) for c in contents)
        yield TurnDone(Turn("assistant", contents, finish_reason="tool_calls" if calls else "eog"))


def _ran_tools(ran: list[Any]) -> list[ToolDef]:
    def add(a: int, b: int) -> int:
        """Add two integers."""
        ran.append(("add", a, b))
        return a + b

    def neg(x: int) -> int:
        """Negate an integer."""
        ran.append(("neg", x))
        return -x

    return [tool(add), tool(neg)]


def test_the_calls_of_a_reply_run_in_order_and_their_results_come_back_in_order() -> None:
    ran: list[Any] = []
    provider = Scripted([_generic(CALLS[:3], True), '{"response": "3, -3 and 9."}'])
    chat = Chat(provider, tools=_ran_tools(ran), parallel_tool_calls=True, max_calls_per_round=4)
    events = list(chat.stream("Add 1 and 2, negate 3, add 4 and 5.", content=True))
    assert ran == [("add", 1, 2), ("neg", 3), ("add", 4, 5)]
    _, calls, results, answer = chat.get_turns()
    requests = calls.tool_requests
    assert [(r.name, r.arguments) for r in requests] == CALLS[:3]
    starts = [e for e in events if isinstance(e, ToolRequestStart)]
    assert [(e.index, e.id) for e in starts] == [(i, r.id) for i, r in enumerate(requests)]
    streamed = [e.result for e in events if isinstance(e, ToolResultEvent)]
    assert streamed == results.tool_results
    assert [r.request_id for r in streamed] == [r.id for r in requests]
    assert [r.value for r in streamed] == [3, -3, 9]
    assert answer.text == "3, -3 and 9."
    # every request is told the chat's setting and its bound on calls
    assert provider.requests == [("auto", True, 4), ("auto", True, 4)]


def test_parallel_tool_calls_per_chat_and_per_call() -> None:
    provider = Scripted(['{"response": "a"}', '{"response": "b"}', '{"response": "c"}'])
    chat = Chat(provider, tools=_ran_tools([]))
    assert chat.parallel_tool_calls is None
    chat.chat("one")
    chat.chat("two", parallel_tool_calls=False)
    chat.parallel_tool_calls = True
    chat.max_calls_per_round = 3
    chat.chat("three")
    assert [r[1:] for r in provider.requests] == [(None, 16), (False, 16), (True, 3)]
    assert chat.parallel_tool_calls is True
    with pytest.raises(InvalidArgumentError, match="parallel_tool_calls must be True, False or None, got 1"):
        chat.parallel_tool_calls = 1  # type: ignore[assignment]
    with pytest.raises(InvalidArgumentError, match=r"parallel_tool_calls.*got 'no'"):
        chat.chat("four", parallel_tool_calls="no")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="parallel_tool_calls"):
        Chat(provider, parallel_tool_calls="yes")  # type: ignore[arg-type]
    assert len(chat.get_turns()) == 6 and chat.parallel_tool_calls is True


def get_temperature(city: str) -> str:
    """Get the current temperature of a city in degrees Celsius.

    Args:
        city: the city's name, e.g. "Paris".
    """
    celsius = {"paris": 18, "oslo": 4}.get(city.strip().lower())
    return f"{celsius} °C in {city}" if celsius is not None else f"no data for {city}"


def test_two_calls_on_the_default_model_run_and_come_back_in_order(model: Any) -> None:
    # greedy, the 135M model writes the calls for Paris and Oslo, then the same two again and
    # again: the grammar ends the array at max_calls_per_round
    chat = chat_llamaprov(model, tools=[get_temperature], params={"temperature": 0, "max_tokens": 96},
                          parallel_tool_calls=True, max_calls_per_round=2, max_tool_rounds=1)
    assert chat.parallel_tool_calls is True
    events = list(chat.stream("What is the temperature in Paris and in Oslo?", tool_choice="required",
                              content=True))
    _, calls, results, answer = chat.get_turns()
    requests = calls.tool_requests
    assert [(r.name, r.arguments) for r in requests] == [
        ("get_temperature", {"city": "Paris"}), ("get_temperature", {"city": "Oslo"})]
    starts = [e for e in events if isinstance(e, ToolRequestStart)]
    assert [(e.index, e.id) for e in starts] == [(0, requests[0].id), (1, requests[1].id)]
    assert [(r.request_id, r.value) for r in results.tool_results] == [
        (requests[0].id, "18 °C in Paris"), (requests[1].id, "4 °C in Oslo")]
    assert "18" in answer.text and "4" in answer.text and not answer.tool_requests
    chat.close()
