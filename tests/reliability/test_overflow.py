"""A conversation that outgrows the context raises ContextOverflowError, or with
``context_policy="truncate_oldest"`` keeps the system prompt and drops the oldest exchanges
whole; the model never decodes into a full context."""

from __future__ import annotations

import pytest

from llamaprov.chat import (
    ContentText,
    ContentToolRequest,
    ContentToolResult,
    LlamaProvider,
    Turn,
    chat_llamaprov,
    tool,
)
from llamaprov.chat._plan import _exchanges
from llamaprov.errors import ContextOverflowError, InvalidArgumentError

N_CTX = 256
MAX_TOKENS = 16
SYSTEM = "You are terse. Marker: ZEBRA."


def message(i: int) -> str:
    return f"Message {i}: " + "please remember the color blue and the number seven. " * 3


def assert_within_context(chat) -> None:
    for turn in chat.get_turns():
        if turn.role == "assistant":
            assert turn.tokens.input + MAX_TOKENS <= N_CTX, turn.tokens
            assert turn.tokens.output <= MAX_TOKENS


def test_overflow_raises_and_leaves_the_conversation_alone(model):
    chat = chat_llamaprov(model, n_ctx=N_CTX, system_prompt=SYSTEM, n_threads=1,
                          params={"temperature": 0, "max_tokens": MAX_TOKENS})
    with pytest.raises(ContextOverflowError) as info:
        for i in range(20):
            chat.chat(message(i))
    assert 0 < i < 19  # some turns fit, then the conversation outgrew the context
    error = info.value
    assert error.n_ctx == N_CTX and error.n_tokens > N_CTX
    assert "truncate_oldest" in str(error) and f"{N_CTX} tokens" in str(error)
    assert len(chat.get_turns()) == 2 * i  # the failed call added nothing
    assert_within_context(chat)


def test_truncate_oldest_keeps_the_system_prompt_and_whole_exchanges(model):
    chat = chat_llamaprov(model, n_ctx=N_CTX, system_prompt=SYSTEM, n_threads=1,
                          context_policy="truncate_oldest",
                          params={"temperature": 0, "max_tokens": MAX_TOKENS})
    for i in range(8):
        assert chat.chat(message(i))
    assert len(chat.get_turns()) == 16  # the conversation keeps everything
    assert_within_context(chat)
    provider = chat.provider
    turns = [*chat.get_turns(include_system_prompt=True), Turn("user", ["And now?"])]
    prompt, tokens = provider._fit(turns, [], MAX_TOKENS)
    assert len(tokens) + MAX_TOKENS <= N_CTX
    assert prompt.startswith(f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\nMessage ")
    assert "Message 0:" not in prompt and "Message 7:" in prompt and "And now?" in prompt
    # the latest exchange alone too big is still an error
    with pytest.raises(ContextOverflowError, match="latest exchange alone"):
        chat.chat("word " * 400)
    assert len(chat.get_turns()) == 16


def test_exchanges_keep_tool_calls_with_their_results():
    call = ContentToolRequest("c1", "add", {"a": 1, "b": 2})
    turns = [
        Turn("system", ["sys"]),
        Turn("user", ["add 1 and 2"]),
        Turn("assistant", [call], finish_reason="tool_calls"),
        Turn("user", [ContentToolResult("c1", value=3, name="add")]),
        Turn("assistant", ["3"]),
        Turn("user", ["thanks"]),
        Turn("assistant", ["welcome"]),
    ]
    head, groups = _exchanges(turns)
    assert head == turns[:1]
    assert groups == [turns[1:5], turns[5:]]
    assert _exchanges(turns[1:])[0] == []
    assert _exchanges([Turn("assistant", ["hello"]), *turns[1:3]])[1] == [[Turn("assistant", ["hello"])],
                                                                         turns[1:3]]


def test_truncation_never_splits_a_tool_call_from_its_result(model):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chat"))
    from _templates import QWEN25

    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    # (Qwen's tool instructions alone take about 250 tokens)
    provider = LlamaProvider(model, n_ctx=512, template=QWEN25, context_policy="truncate_oldest")
    tools = [tool(add)]
    turns = [Turn("system", ["sys"])]
    for i in range(6):
        call = ContentToolRequest(f"c{i}", "add", {"a": i, "b": 100 + i})
        turns += [
            Turn("user", [ContentText(f"Question {i}: add {i} and {100 + i}.")]),
            Turn("assistant", [call], finish_reason="tool_calls"),
            Turn("user", [ContentToolResult(f"c{i}", value=200 + 2 * i, name="add")]),
            Turn("assistant", [f"It is {200 + 2 * i}."]),
        ]
    prompt, tokens = provider._fit(turns, tools, MAX_TOKENS)
    assert len(tokens) + MAX_TOKENS <= 512
    kept = [i for i in range(6) if f"Question {i}:" in prompt]
    assert kept and kept == list(range(kept[0], 6)) and kept[0] > 0
    for i in range(6):
        # a call, its result and the answer are there together or not at all
        parts = [f"Question {i}:", f'"a": {i}, "b": {100 + i}', f"\n{200 + 2 * i}\n", f"It is {200 + 2 * i}."]
        assert len({p in prompt for p in parts}) == 1, (i, [p in prompt for p in parts])
    assert prompt.count('<tool_call>\n{"name": "add"') == prompt.count("<tool_response>") == len(kept)


def test_submit_truncates_too(model):
    provider = LlamaProvider(model, n_ctx=N_CTX, context_policy="truncate_oldest")
    turns = [Turn("system", [SYSTEM])]
    for i in range(8):
        turns += [Turn("user", [message(i)]), Turn("assistant", ["Noted."])]
    turns.append(Turn("user", ["What color?"]))
    reply = provider.submit(turns, params={"temperature": 0, "max_tokens": MAX_TOKENS}).result(120)
    assert reply.text and reply.tokens.input + MAX_TOKENS <= N_CTX
    provider.close()
    with pytest.raises(ContextOverflowError):
        LlamaProvider(model, n_ctx=N_CTX).submit(turns, params={"max_tokens": MAX_TOKENS})


def test_context_policy_is_validated(model):
    for bad in ("truncate", None, 1):
        with pytest.raises(InvalidArgumentError, match="context_policy"):
            LlamaProvider(model, context_policy=bad)
    with pytest.raises(InvalidArgumentError, match="'drop'"):
        chat_llamaprov(model, context_policy="drop")
