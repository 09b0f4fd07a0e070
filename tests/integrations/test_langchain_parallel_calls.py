"""ChatLlamaProv's ``parallel_tool_calls``: ``bind_tools``, the call keyword and the field reach
the grammar, each checked the same way; several calls of one reply become tool calls (and
tool-call chunks) of their own index, in order."""

from __future__ import annotations

import operator
import pathlib
from functools import reduce
from typing import Any

import langchain_core  # noqa: F401 - a dev dependency: fail loudly if missing
import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage
from pydantic import ValidationError

from llamaprov.chat import Turn
from llamaprov.chat.formats import GenericFormat, StreamParser
from llamaprov.errors import InvalidArgumentError
from llamaprov.grammars import GrammarMatcher
from llamaprov.integrations.langchain import ChatLlamaProv
from llamaprov.integrations.langchain._messages import event_to_chunk, turn_to_message


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


ONE = '<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>'
TWO = ONE + "\n" + ONE.replace('"a": 1, "b": 2', '"a": 3, "b": 4')


@pytest.fixture(scope="module")
def hermes_llm(default_model_path: pathlib.Path) -> ChatLlamaProv:
    # the Hermes format: several calls in one reply by default
    return ChatLlamaProv(model=str(default_model_path), temperature=0, max_tokens=64, tool_format="hermes")


def _grammar(llm: ChatLlamaProv, kwargs: dict[str, Any]) -> str:
    """The grammar of a call of ``llm`` with the call arguments ``kwargs``."""
    request = llm._request([HumanMessage("Add 1 and 2, and add 3 and 4.")], None, kwargs)
    pool = llm._provider_pool()
    provider = pool.acquire()
    try:
        grammar = provider._plan(**request).sampling.grammar
    finally:
        pool.release(provider)
    assert grammar is not None
    return grammar


def _accepts(grammar: str, text: str) -> bool:
    with GrammarMatcher(grammar) as matcher:
        return matcher.accepts(text)


def test_bind_tools_parallel_tool_calls_reaches_the_grammar(
    hermes_llm: ChatLlamaProv, default_model_path: pathlib.Path
) -> None:
    single = hermes_llm.bind_tools([add], tool_choice="any", parallel_tool_calls=False)
    assert single.kwargs["parallel_tool_calls"] is False  # type: ignore[attr-defined]
    grammar = _grammar(hermes_llm, single.kwargs)  # type: ignore[attr-defined]
    assert _accepts(grammar, ONE) and not _accepts(grammar, TWO)
    default = hermes_llm.bind_tools([add], tool_choice="any")
    assert "parallel_tool_calls" not in default.kwargs  # type: ignore[attr-defined]
    assert _accepts(_grammar(hermes_llm, default.kwargs), TWO)  # type: ignore[attr-defined]
    # the call keyword overrides what was bound
    overridden = {**single.kwargs, "parallel_tool_calls": True}  # type: ignore[attr-defined]
    assert _accepts(_grammar(hermes_llm, overridden), TWO)
    # the field is the default of both
    strict = ChatLlamaProv(model=str(default_model_path), tool_format="hermes", parallel_tool_calls=False)
    grammar = _grammar(strict, strict.bind_tools([add], tool_choice="any").kwargs)  # type: ignore[attr-defined]
    assert _accepts(grammar, ONE) and not _accepts(grammar, TWO)


def test_parallel_tool_calls_is_checked_the_same_way_everywhere(hermes_llm: ChatLlamaProv) -> None:
    message = "parallel_tool_calls must be True, False or None, got "
    with pytest.raises(InvalidArgumentError, match=message + "1"):
        hermes_llm.bind_tools([add], parallel_tool_calls=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=message + "'yes'"):
        hermes_llm.bind_tools([add]).invoke("Add 1 and 2.", parallel_tool_calls="yes")
    with pytest.raises(ValidationError, match=message + "'true'"):
        ChatLlamaProv(parallel_tool_calls="true")


def test_two_calls_of_a_reply_become_tool_calls_of_their_own_index_in_order() -> None:
    text = ('{"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}, '
            '{"name": "add", "arguments": {"a": 3, "b": 4}}]}')
    parser = StreamParser(GenericFormat())
    events = [e for ch in text for e in parser.feed(ch)]
    final, contents = parser.finish()
    chunks = [c for c in map(event_to_chunk, [*events, *final]) if c is not None]
    streamed = reduce(operator.add, chunks)
    assert isinstance(streamed, AIMessageChunk)
    assert [(c["name"], c["args"]) for c in streamed.tool_calls] == [
        ("add", {"a": 1, "b": 2}), ("add", {"a": 3, "b": 4})]
    assert [c["index"] for c in streamed.tool_call_chunks] == [0, 1]
    message = turn_to_message(Turn("assistant", contents, finish_reason="tool_calls"), {})
    assert [(c["id"], c["args"]) for c in message.tool_calls] == [
        (c["id"], c["args"]) for c in streamed.tool_calls]
    assert len({c["id"] for c in message.tool_calls}) == 2
