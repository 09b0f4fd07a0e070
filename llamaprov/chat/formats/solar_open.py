"""Upstage Solar Open tool calls: ``<|tool_calls|><|tool_call:begin|>ID<|tool_call:name|>NAME
<|tool_call:args|>{arguments}<|tool_call:end|>...<|calls|>``.

The generation prompt ends with ``<|begin|>assistant``; the model writes ``<|content|>`` and its
answer, ``<|tool_calls|>`` and its calls, or ``<|think|>`` and its thinking up to ``<|end|>``
followed by a new ``<|begin|>assistant`` header (the ``solar-open`` family of
:mod:`llamaprov.chat._reasoning`). ID is the call's id, ten lowercase letters or digits, which a
tool's response repeats: the parser keeps it as the request's id.
"""

from __future__ import annotations

import re
from typing import Any

from llamaprov.chat.formats._gbnf import gbnf_literal
from llamaprov.chat.formats._marked import MarkedCallsFormat
from llamaprov.chat.formats._registry import register_tool_format
from llamaprov.chat.turns import Turn

ASSISTANT = "<|begin|>assistant"
SECTION_BEGIN = "<|tool_calls|>"
SECTION_END = "<|calls|>"
CALL_BEGIN = "<|tool_call:begin|>"
NAME = "<|tool_call:name|>"
ARGS = "<|tool_call:args|>"
CALL_END = "<|tool_call:end|>"
# the id the template's instructions ask for: ten lowercase letters or digits
_ID_LENGTH = 10


@register_tool_format
class SolarOpenFormat(MarkedCallsFormat):
    """Solar Open: ``<|tool_calls|>`` then per call ``<|tool_call:begin|>ID<|tool_call:name|>NAME
    <|tool_call:args|>{arguments}<|tool_call:end|>``, closed by ``<|calls|>``. An answer's
    ``<|content|>`` header and ``<|end|>`` are dropped from the text."""

    name = "solar_open"
    triggers = (SECTION_BEGIN,)
    text_markers = (ASSISTANT, "<|content|>", "<|end|>")
    keeps_call_ids = True
    detect_order = 6
    section_begin = SECTION_BEGIN
    section_end = SECTION_END
    call_begin = CALL_BEGIN
    call_end = CALL_END
    head_pattern = re.compile(
        rf"\s*(?P<id>[A-Za-z0-9_-]*){re.escape(NAME)}(?P<name>[^\s<]+){re.escape(ARGS)}")

    @classmethod
    def detects(cls, template: str) -> bool:
        return SECTION_BEGIN in template and CALL_BEGIN in template and NAME in template

    def call_example(self) -> str:
        return (f"{SECTION_BEGIN}{CALL_BEGIN}<call id>{NAME}<tool name>{ARGS}<arguments object>"
                f"{CALL_END}{SECTION_END}")

    def _head_gbnf(self, tool_name: str) -> str:
        return " ".join(["[a-z0-9]"] * _ID_LENGTH) + " " + gbnf_literal(f"{NAME}{tool_name}{ARGS}")

    def thinking_after(self, after: str) -> str:
        # the reasoning family opens an answer after the thinking; with tools shown the model
        # picks what follows the new header itself (<|content|> or <|tool_calls|>)
        return ASSISTANT if after.startswith(ASSISTANT) else after

    def assistant_message(self, turn: Turn) -> dict[str, Any]:
        # the template shows an assistant message's thinking from its "reasoning" key
        message = super().assistant_message(turn)
        if turn.thinking:
            message["reasoning"] = turn.thinking
        return message
