"""Reasoning models: real templates of the families that think before answering, rendered in
the sandbox, on the default model."""

from __future__ import annotations

import pytest
from _templates import DEEPSEEK_R1, GPT_OSS, QWEN3, SMOLLM3

from llamaprov.chat import ContentToolRequest, ContentToolResult, LlamaProvider, Turn, tool


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
