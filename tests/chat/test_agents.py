"""Agent behaviour on the default model: no silent truncation, no call loops."""

from __future__ import annotations

import json

import pytest

from llamaprov import TruncatedOutputError
from llamaprov.chat import chat_llamaprov


def secret_word(number: int) -> str:
    """The secret word for a number.

    Args:
        number: which secret word
    """
    return {7: "pineapple"}.get(number, "unknown")


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def test_a_tool_call_cut_by_max_tokens_raises_and_the_chat_is_unchanged(model):
    chat = chat_llamaprov(model, tools=[secret_word], params={"temperature": 0, "max_tokens": 8})
    with pytest.raises(TruncatedOutputError, match="max_tokens=8") as info:
        chat.chat("What is the secret word for number 7?", tool_choice="required")
    assert info.value.max_tokens == 8 and info.value.raw.startswith('{"tool_call"')
    assert chat.get_turns() == []
    chat.close()


def test_structured_output_cut_by_max_tokens_raises(model):
    chat = chat_llamaprov(model, params={"temperature": 0, "max_tokens": 6})
    schema = {"type": "object", "properties": {"story": {"type": "string"}}, "required": ["story"]}
    with pytest.raises(TruncatedOutputError) as info:
        chat.chat_structured("Tell me a long story.", type=schema)
    assert info.value.max_tokens == 6
    chat.close()


def test_a_repeated_call_is_followed_by_the_answer(model):
    # greedy, the 135M model calls add(7, 7) again after its result instead of answering
    chat = chat_llamaprov(model, n_ctx=2048, tools=[add, secret_word],
                          params={"temperature": 0, "max_tokens": 64})
    chat.chat("What is the secret word for number 7?", tool_choice="auto")
    turns = chat.get_turns()
    calls = [(r.name, json.dumps(r.arguments, sort_keys=True)) for t in turns for r in t.tool_requests]
    assert len(calls) == 2 and calls[0] == calls[1]  # it did repeat, once: then it had to answer
    assert not turns[-1].tool_requests and turns[-1].text
    chat.close()
