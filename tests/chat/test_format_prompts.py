"""Prompt rendering and constrained calls per tool format, with real templates on the real model."""

from __future__ import annotations

import pytest
from _templates import CHATML, LLAMA31, MISTRAL_V03, QWEN25

from llamaprov.chat import ContentToolRequest, ContentToolResult, LlamaProvider, Turn, tool
from llamaprov.grammars import validate_gbnf


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def secret_word(number: int) -> str:
    """The secret word for a number."""
    return "pineapple"


TOOLS = [tool(add), tool(secret_word)]


def _conversation() -> list[Turn]:
    return [
        Turn("system", ["You are helpful."]),
        Turn("user", ["What is 2 plus 3?"]),
        Turn("assistant", [ContentToolRequest("abcDEF123", "add", {"a": 2, "b": 3})]),
        Turn("user", [ContentToolResult("abcDEF123", value=5, name="add")]),
        Turn("assistant", ["It is 5."]),
        Turn("user", ["Thanks!"]),
    ]


EXPECTED = {
    "hermes": (
        QWEN25,
        [
            "<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"add\"",
            '<tool_call>\n{"name": "add", "arguments": {"a": 2, "b": 3}}\n</tool_call>',
            "<|im_start|>user\n<tool_response>\n5\n</tool_response><|im_end|>",
            "<|im_start|>assistant\nIt is 5.<|im_end|>",
        ],
    ),
    "llama3": (
        LLAMA31,
        [
            "Environment: ipython",
            '"name": "secret_word"',
            "<|start_header_id|>assistant<|end_header_id|>\n\n"
            '{"name": "add", "parameters": {"a": 2, "b": 3}}<|eot_id|>',
            # the template passes string contents through tojson
            '<|start_header_id|>ipython<|end_header_id|>\n\n"5"<|eot_id|>',
        ],
    ),
    "mistral": (
        MISTRAL_V03,
        [
            '[AVAILABLE_TOOLS] [{"type": "function", "function": {"name": "add"',
            '[TOOL_CALLS] [{"name": "add", "arguments": {"a": 2, "b": 3}, "id": "abcDEF123"}]',
            '[TOOL_RESULTS] {"content": 5, "call_id": "abcDEF123"}[/TOOL_RESULTS]',
            "[INST] You are helpful.\n\nThanks![/INST]",
        ],
    ),
    "generic": (
        CHATML,
        [
            "<|im_start|>system\nYou are helpful.\n\nYou can call these tools:\n{\"name\": \"add\"",
            'Reply with only JSON: {"tool_call"',
            '<|im_start|>user\nWhat is 2 plus 3?\n\nTool add({"a": 2, "b": 3}) returned: 5\n'
            'Use these results to answer the user.<|im_end|>',
            "<|im_start|>assistant\nIt is 5.<|im_end|>",
        ],
    ),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_prompt_rendering_per_format(model, name):
    template, fragments = EXPECTED[name]
    provider = LlamaProvider(model, template=template)
    assert provider.tool_format.name == name
    prompt = provider.format_turns(_conversation(), TOOLS)
    for fragment in fragments:
        assert fragment in prompt, f"{fragment!r} not in {prompt!r}"
    # without tools the template renders no tool listing
    plain = provider.format_turns([Turn("user", ["hi"])], [])
    assert "secret_word" not in plain


@pytest.mark.parametrize("name", ["hermes", "llama3", "mistral", "functionary", "generic"])
def test_call_grammar_is_valid_and_constrains_generation(model, name):
    """Each format's grammar is accepted by llama.cpp and, forced on the small model, yields a
    call that parses into schema-valid arguments for the chosen tool."""
    # Functionary's generation prompt ends with ">>>"; ChatML stands in for the rest of it
    functionary = CHATML.replace("'<|im_start|>assistant\n'", "'<|im_start|>assistant\n>>>'")
    template = {"hermes": QWEN25, "llama3": LLAMA31, "mistral": MISTRAL_V03,
                "functionary": functionary}.get(name, CHATML)
    provider = LlamaProvider(model, template=template, tool_format=name, n_ctx=2048)
    grammar = provider.tool_format.grammar(TOOLS)
    validate_gbnf(grammar)
    turns = [Turn("user", ["Add 4 and 9."])]
    turn = provider.chat_perform(
        turns, tools=TOOLS, tool_choice="add", params={"temperature": 0, "max_tokens": 48}
    )
    (request,) = turn.tool_requests
    assert request.name == "add"
    assert TOOLS[0].validate_arguments(request.arguments) == request.arguments


def test_a_format_gives_its_template_the_runtime_variables_it_expects(model) -> None:
    from llamaprov.chat.formats import HermesFormat

    class Dated(HermesFormat):
        def template_variables(self, tools):
            return {"today": "2 Dec 2026", "functions": ", ".join(t.name for t in tools)}

    template = "{{ today }}|{{ functions }}|{% for m in messages %}{{ m.content }}{% endfor %}"
    provider = LlamaProvider(model, template=template, tool_format=Dated())
    try:
        prompt = provider.format_turns([Turn("user", ["Hi"])], TOOLS)
    finally:
        provider.close()
    assert prompt == "2 Dec 2026|add, secret_word|Hi"
