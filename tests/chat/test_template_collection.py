"""llama.cpp's collection of real chat templates (tests/data/chat_templates/) through the chat
layer on the default model: each renders a tool conversation and completes a forced tool round
trip with ``chat_llamaprov(template=T)``, and its family is detected."""

from __future__ import annotations

import json

import pytest
from _template_files import read_template, template_files

from llamaprov.chat import (
    ContentToolRequest,
    ContentToolResult,
    LlamaProvider,
    Turn,
    chat_llamaprov,
    tool,
)
from llamaprov.chat.formats import detect_tool_format

NAMES = [p.name for p in template_files()]


def get_temperature(city: str) -> str:
    """The temperature in a city, in degrees Celsius."""
    return "18"


TOOLS = [tool(get_temperature)]


def conversation() -> list[Turn]:
    return [
        Turn("system", ["You are a weather assistant."]),
        Turn("user", ["How warm is it in Paris?"]),
        Turn("assistant", [ContentToolRequest("call00001", "get_temperature", {"city": "Paris"})]),
        Turn("user", [ContentToolResult("call00001", value="18", name="get_temperature")]),
        Turn("assistant", ["It is 18 degrees in Paris."]),
        Turn("user", ["And in Rome?"]),
    ]


@pytest.mark.parametrize("name", NAMES)
def test_a_tool_conversation_renders(model, name: str) -> None:
    provider = LlamaProvider(model, template=read_template(name), n_ctx=4096)
    try:
        prompt = provider.format_turns(conversation(), TOOLS)
    finally:
        provider.close()
    # every message reaches the prompt: the system text, both questions, the call, its result
    for text in ("weather assistant", "How warm is it in Paris?", "And in Rome?", "18"):
        assert text in prompt, f"{text!r} missing from the prompt"
    assert "Paris" in prompt.split("How warm is it in Paris?", 1)[1]  # the call's argument


@pytest.mark.parametrize("name", NAMES)
def test_a_forced_tool_round_trip(model, name: str) -> None:
    # the default model does not think: where the template opens a thinking block, a budget
    # closes it and the forced call follows (without one the thinking takes max_tokens)
    chat = chat_llamaprov(model, template=read_template(name), system_prompt="You are a weather assistant.",
                          params={"temperature": 0, "max_tokens": 96, "reasoning_budget": 8},
                          n_ctx=4096, max_tool_rounds=2)
    chat.register_tool(get_temperature)
    try:
        answer = chat.chat("What is the temperature in Paris?", tool_choice="get_temperature")
        turns = chat.get_turns()
    finally:
        chat.close()
    calls = [c for t in turns for c in t.contents if isinstance(c, ContentToolRequest)]
    results = [c for t in turns for c in t.contents if isinstance(c, ContentToolResult)]
    assert calls and calls[0].name == "get_temperature" and isinstance(calls[0].arguments.get("city"), str)
    assert results and results[0].error is None and json.dumps(results[0].value) == '"18"'
    assert turns[-1].role == "assistant" and not turns[-1].tool_requests and answer == turns[-1].text


def test_detection_picks_a_native_family_for_each_template_with_tool_calls() -> None:
    generic = [n for n in NAMES if "tool_calls" in read_template(n)
               and detect_tool_format(read_template(n)).name == "generic"]
    assert not generic, f"templates with tool calls detected as generic: {generic}"
