"""Chat-layer robustness: an interrupted tool round leaves a well-formed conversation."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from llamaprov.chat import (
    Chat,
    ContentText,
    ContentToolRequest,
    Provider,
    TokenUsage,
    ToolDef,
    Turn,
    TurnDone,
)


class Scripted(Provider):
    """A provider that replies with prepared turns, as a plain iterator (no ``close``)."""

    def __init__(self, replies: Sequence[Turn]) -> None:
        self.replies = list(replies)
        self.prompts: list[list[Turn]] = []

    def stream_perform(self, turns: Sequence[Turn], *, tools: Sequence[ToolDef] = (), type: Any = None,
                       params: Any = None, tool_choice: str = "auto") -> Iterator[Any]:
        self.prompts.append(list(turns))
        return iter([TurnDone(self.replies.pop(0))])

    def value_turn(self, result: Any, *, tools: Sequence[ToolDef] = ()) -> Turn:
        return Turn("assistant", [str(result)])

    def format_turns(self, turns: Sequence[Turn], tools: Sequence[ToolDef] = ()) -> Any:
        return turns

    def tokens_used(self) -> TokenUsage:
        return TokenUsage()

    def model_info(self) -> dict[str, Any]:
        return {}


def calls(n: int) -> Turn:
    requests = [ContentToolRequest(f"id{i}", "send", {"n": i}) for i in range(n)]
    return Turn("assistant", requests, finish_reason="tool_calls")


def test_interrupted_tool_round_is_answered_and_marked():
    ran: list[int] = []

    def send(n: int) -> str:
        """Send message number n."""
        if n == 1:
            raise KeyboardInterrupt
        ran.append(n)
        return "sent"

    provider = Scripted([calls(3), Turn("assistant", ["fine"], finish_reason="eog")])
    chat = Chat(provider, tools=[send])
    with pytest.raises(KeyboardInterrupt):
        chat.chat("Send three messages.")
    user, request, results, partial = chat.get_turns()
    assert user.text == "Send three messages." and len(request.tool_requests) == 3
    assert [r.is_error for r in results.tool_results] == [False, True, True]
    assert "interrupted" in results.tool_results[1].error and ran == [0]
    assert partial.role == "assistant" and partial.incomplete and partial.contents == []
    # the conversation goes on from there
    assert chat.chat("Never mind.") == "fine" and len(chat.get_turns()) == 6


def test_engine_cancelled_reply_is_kept_without_its_tool_calls():
    # what ctx.abort() produces: a reply that ends with finish_reason "cancelled"
    cut = Turn("assistant", [ContentText("Let me "), ContentToolRequest("x", "send", {"n": 1})],
               tokens=TokenUsage(10, 3, 0), finish_reason="cancelled")
    chat = Chat(Scripted([cut]), tools=[ToolDef("send", "", {"type": "object"}, lambda **kw: 1)])
    assert chat.chat("Go.") == "Let me "
    last = chat.last_turn()
    assert last.incomplete and last.contents == [ContentText("Let me ")]
    assert last.tokens == TokenUsage(10, 3, 0)
