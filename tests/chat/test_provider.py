"""The Provider interface without a model: submit is an optional capability that parallel chats use."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from typing import Any

import pytest
from _stub_provider import StubProvider

from llamaprov.chat import Chat, ToolDef, Turn, TurnDone, parallel_chat
from llamaprov.errors import InvalidArgumentError, NotSupportedError


class Echo(StubProvider):
    """Replies with the last user message, upper-cased (no ``submit``, no ``value_turn``)."""

    def stream_perform(self, turns: Sequence[Turn], *, tools: Sequence[ToolDef] = (), type: Any = None,
                       params: Any = None, tool_choice: str = "auto", parallel_tool_calls: bool | None = None,
                       max_tool_calls: int | None = None) -> Iterator[Any]:
        yield TurnDone(Turn("assistant", [turns[-1].text.upper()], finish_reason="eog"))


class QueuedEcho(Echo):
    """Echo with ``submit``: each request resolves at once."""

    def submit(self, turns: Sequence[Turn], *, tools: Sequence[ToolDef] = (), type: Any = None,
               params: Any = None, tool_choice: str = "auto", parallel_tool_calls: bool | None = None,
               max_tool_calls: int | None = None) -> Future[Turn]:
        future: Future[Turn] = Future()
        future.set_result(self.chat_perform(turns, tools=tools, type=type, params=params,
                                            tool_choice=tool_choice,
                                            parallel_tool_calls=parallel_tool_calls,
                                            max_tool_calls=max_tool_calls))
        return future


def test_submit_is_an_optional_capability() -> None:
    plain, queued = Echo(), QueuedEcho()
    assert not plain.supports_submit and queued.supports_submit
    with pytest.raises(NotSupportedError, match="Echo does not support submit"):
        plain.submit([Turn("user", ["hi"])])
    assert queued.submit([Turn("user", ["hi"])]).result().text == "HI"
    pending: Future[Turn] = Future()
    plain.cancel([pending])
    assert pending.cancelled()


def test_parallel_chat_works_on_any_provider_with_submit() -> None:
    assert parallel_chat(Chat(QueuedEcho()), ["one", "two"]) == ["ONE", "TWO"]
    with pytest.raises(InvalidArgumentError, match="supports submit"):
        parallel_chat(Chat(Echo()), ["one"])
    with pytest.raises(InvalidArgumentError, match="need a Chat"):
        parallel_chat(QueuedEcho(), ["one"])  # type: ignore[arg-type]


def test_tool_choice_is_checked_once_and_passed_on_as_checked() -> None:
    from llamaprov.chat import tool
    from llamaprov.chat.tools import check_tool_choice

    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    tools = [tool(add)]
    checked = check_tool_choice("add", tools)
    assert checked == "add" and check_tool_choice(checked, tools) is checked
    with pytest.raises(InvalidArgumentError, match="'add'"):
        check_tool_choice(checked, [])  # checked for other tools: checked again

    seen: list[str] = []

    class Recording(Echo):
        def stream_perform(self, turns: Sequence[Turn], *, tool_choice: str = "auto",
                           **kwargs: Any) -> Iterator[Any]:
            seen.append(tool_choice)
            return super().stream_perform(turns, tool_choice=tool_choice, **kwargs)

    chat = Chat(Recording(), tools=tools, tool_choice="none")
    chat.chat("hi")
    assert seen == ["none"] and seen[0] is chat.tool_choice


def test_structured_output_is_validated_the_same_way_alone_and_in_parallel() -> None:
    from llamaprov.chat import parallel_chat_structured
    from llamaprov.errors import StructuredOutputError

    chat = Chat(QueuedEcho())
    errors = []
    for call in (lambda: chat.chat_structured("not json", type=dict),
                 lambda: parallel_chat_structured(chat, ["not json"], type=dict)):
        with pytest.raises(StructuredOutputError) as info:
            call()
        errors.append((str(info.value), info.value.raw))
    assert errors[0] == errors[1] and errors[0][0].startswith("structured output is not valid JSON")
    assert parallel_chat_structured(chat, ["[1, 2]"], type=list[int]) == [[1, 2]]


def test_max_parallel_is_the_one_name_and_max_active_a_deprecated_alias() -> None:
    from llamaprov.chat import parallel_chat_structured

    chat = Chat(QueuedEcho())
    assert parallel_chat(chat, ["a", "b"], max_parallel=1) == ["A", "B"]
    assert parallel_chat_structured(chat, ["[1]"], type=list[int], max_parallel=1) == [[1]]
    with pytest.warns(DeprecationWarning, match="max_parallel"):
        assert parallel_chat(chat, ["a"], max_active=1) == ["A"]
    with pytest.warns(DeprecationWarning, match="max_parallel"):
        assert parallel_chat_structured(chat, ["[1]"], type=list[int], max_active=1) == [[1]]
    with pytest.warns(DeprecationWarning), pytest.raises(InvalidArgumentError, match="not both"):
        parallel_chat(chat, ["a"], max_parallel=1, max_active=1)
    with pytest.raises(InvalidArgumentError, match="max_parallel must be an int >= 1, got 0"):
        parallel_chat(chat, ["a"], max_parallel=0)
