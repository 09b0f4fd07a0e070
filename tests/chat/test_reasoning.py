"""Reasoning models: real templates of the families that think before answering, rendered in
the sandbox, on the default model."""

from __future__ import annotations

import pytest
from _templates import DEEPSEEK_R1, GPT_OSS, QWEN3, SMOLLM3

from llamaprov.chat import (
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
    LlamaProvider,
    Turn,
    tool,
)


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


TOOLS = [tool(add)]

FAMILIES = {"qwen3": QWEN3, "deepseek-r1": DEEPSEEK_R1, "smollm3": SMOLLM3, "gpt-oss": GPT_OSS}


def _agent_history() -> list[Turn]:
    return [
        Turn("system", ["Be brief."]),
        Turn("user", ["What is 2 plus 3?"]),
        Turn("assistant", [ContentToolRequest("call1", "add", {"a": 2, "b": 3})]),
        Turn("user", [ContentToolResult("call1", value=5, name="add")]),
        Turn("assistant", ["It is 5."]),
        Turn("user", ["And 3 plus 4?"]),
    ]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_real_templates_render_in_the_sandbox(model, family):
    provider = LlamaProvider(model, template=FAMILIES[family])
    prompt = provider.format_turns(_agent_history(), TOOLS)
    assert "And 3 plus 4?" in prompt and "It is 5." in prompt


def _thinking_history() -> list[Turn]:
    """An earlier exchange and the current one, each with thinking; the current one is a tool
    round still going on."""
    return [
        Turn("user", ["What is 1 plus 1?"]),
        Turn("assistant", [ContentThinking("Old thought."), ContentText("2.")]),
        Turn("user", ["What is 2 plus 3?"]),
        Turn("assistant", [ContentThinking("I should call add."),
                           ContentToolRequest("call1", "add", {"a": 2, "b": 3})]),
        Turn("user", [ContentToolResult("call1", value=5, name="add")]),
    ]


def test_thinking_goes_back_apart_from_the_text_as_the_template_wants(model):
    # Qwen3 keeps the thinking of the tool round in progress and drops that of earlier exchanges
    prompt = LlamaProvider(model, template=QWEN3).format_turns(_thinking_history(), TOOLS)
    assert "<|im_start|>assistant\n<think>\nI should call add.\n</think>\n\n<tool_call>" in prompt
    assert "<|im_start|>assistant\n2.<|im_end|>" in prompt
    assert "Old thought." not in prompt
    # a template that does not read thinking never sees it in the text (DeepSeek-R1 drops it)
    prompt = LlamaProvider(model, template=DEEPSEEK_R1).format_turns(_thinking_history()[:2])
    assert "<｜Assistant｜>2.<｜end▁of▁sentence｜>" in prompt and "Old thought." not in prompt
