"""ChatLlamaProv on a reasoning model: thinking as reasoning content blocks, never in the
answer's text; reasoning settings per instance, bind and call. Qwen3's real template on the
default model, scripted with grammars (tests/chat/_scripted.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import langchain_core  # noqa: F401 - a dev dependency: fail loudly if missing
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from pydantic import ValidationError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chat"))
from _scripted import ANSWER, THOUGHT, YES, Scripted
from _templates import QWEN3

from llamaprov.chat import ContentText, ContentThinking
from llamaprov.errors import InvalidArgumentError
from llamaprov.integrations.langchain import ChatLlamaProv
from llamaprov.integrations.langchain._messages import messages_to_turns


class ScriptedChat(ChatLlamaProv):
    """ChatLlamaProv whose providers think and answer as scripted."""

    thinking: str | None = None
    answer: str | None = None

    def _new_provider(self, model: Any) -> Any:
        return Scripted(model, template=self.chat_template, n_ctx=self.n_ctx,
                        thinking=self.thinking, answer=self.answer)


@pytest.fixture
def llm(model) -> ScriptedChat:
    return ScriptedChat(model=model, chat_template=QWEN3, max_tokens=64, n_ctx=1024,
                        thinking=f'root ::= "{THOUGHT}</think>"', answer=f'root ::= "{ANSWER}"')


def _reasoning(message: AIMessage) -> list[str]:
    return [b["reasoning"] for b in message.content_blocks if b["type"] == "reasoning"]


def test_thinking_is_a_reasoning_block_not_content(llm):
    message = llm.invoke("What is 2 plus 2?")
    assert message.content == ANSWER and message.text == ANSWER
    assert message.content_blocks == [{"type": "reasoning", "reasoning": THOUGHT},
                                      {"type": "text", "text": ANSWER}]


def test_streamed_thinking_comes_in_chunks_of_its_own(llm):
    chunks = list(llm.stream("What is 2 plus 2?"))
    thinking = [c for c in chunks if _reasoning(c)]
    assert thinking and all(c.content == "" for c in thinking)
    assert "".join(r for c in thinking for r in _reasoning(c)) == THOUGHT
    total = sum(chunks[1:], chunks[0])
    assert isinstance(total, AIMessageChunk) and total.content == ANSWER
    assert _reasoning(total) == [THOUGHT]


def test_content_blocks_output(model):
    llm = ScriptedChat(model=model, chat_template=QWEN3, max_tokens=64, output_version="v1",
                       thinking=f'root ::= "{THOUGHT}</think>"', answer=f'root ::= "{ANSWER}"')
    message = llm.invoke("What is 2 plus 2?")
    assert message.content == [{"type": "reasoning", "reasoning": THOUGHT},
                               {"type": "text", "text": ANSWER}]
    assert message.text == ANSWER


def test_reasoning_settings_per_instance_bind_and_call(model, llm):
    llm.thinking = YES
    assert _reasoning(llm.invoke("Hi", reasoning_budget=2)) == [" yes" * 2]
    assert _reasoning(llm.bind(reasoning_budget=3).invoke("Hi")) == [" yes" * 3]
    off = llm.invoke("Hi", reasoning="off")
    assert off.content == ANSWER and not _reasoning(off)
    with pytest.raises(ValidationError, match=r"reasoning must be one of .*got 'maybe'"):
        ChatLlamaProv(model=model, reasoning="maybe")
    with pytest.raises(ValidationError, match="reasoning_budget must be an int >= 0, got -1"):
        ChatLlamaProv(model=model, reasoning_budget=-1)
    with pytest.raises(InvalidArgumentError, match=r"reasoning must be one of .*got 'maybe'"):
        llm.invoke("Hi", reasoning="maybe")
    with pytest.raises(InvalidArgumentError, match="reasoning='on' needs a model that thinks"):
        ChatLlamaProv(model=model, max_tokens=4).invoke("Hi", reasoning="on")


def test_thinking_goes_back_in_history(llm):
    first = llm.invoke("What is 2 plus 2?")
    turns = messages_to_turns([HumanMessage("What is 2 plus 2?"), first])
    assert turns[1].contents == [ContentThinking(THOUGHT), ContentText(ANSWER)]
    # reasoning blocks in content (what output_version="v1" gives) are read the same way
    v1 = AIMessage(content=[{"type": "reasoning", "reasoning": THOUGHT}, {"type": "text", "text": ANSWER}])
    assert messages_to_turns([HumanMessage("Q"), v1])[1].contents == turns[1].contents
