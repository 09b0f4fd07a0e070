"""Kimi-K2 tool calls: ``<|tool_calls_section_begin|><|tool_call_begin|>functions.NAME:IDX
<|tool_call_argument_begin|>{...}<|tool_call_end|>...<|tool_calls_section_end|>``.

``functions.NAME:IDX`` is the call's id (IDX counts the calls of the conversation): the
parser keeps it as the request's id, and the history is written with ids of that form.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from llamaprov.chat.formats._base import ParsedCalls
from llamaprov.chat.formats._gbnf import gbnf_literal
from llamaprov.chat.formats._marked import MarkedCallsFormat
from llamaprov.chat.formats._registry import register_tool_format
from llamaprov.chat.tools import ToolDef
from llamaprov.chat.turns import Turn

SECTION_BEGIN = "<|tool_calls_section_begin|>"
SECTION_END = "<|tool_calls_section_end|>"
CALL_BEGIN = "<|tool_call_begin|>"
ARGS_BEGIN = "<|tool_call_argument_begin|>"
CALL_END = "<|tool_call_end|>"


@register_tool_format
class KimiK2Format(MarkedCallsFormat):
    """Kimi-K2 (Instruct and Thinking): ``<|tool_calls_section_begin|><|tool_call_begin|>functions.NAME:IDX
    <|tool_call_argument_begin|>{arguments}<|tool_call_end|><|tool_calls_section_end|>``."""

    name = "kimi-k2"
    triggers = (SECTION_BEGIN, CALL_BEGIN)
    detect_order = 7
    keeps_call_ids = True
    section_begin = SECTION_BEGIN
    section_end = SECTION_END
    call_begin = CALL_BEGIN
    call_end = CALL_END
    head_pattern = re.compile(
        rf"\s*(?P<id>(?:functions\.)?(?P<name>[^\s<:]+):\d+)\s*{re.escape(ARGS_BEGIN)}")

    @classmethod
    def detects(cls, template: str) -> bool:
        # the first Kimi-K2 template declares the tools ("tool_declare") but shows no calls
        return (SECTION_BEGIN in template and CALL_BEGIN in template) or \
            "<|im_system|>tool_declare<|im_middle|>" in template

    def call_example(self) -> str:
        return (f"{SECTION_BEGIN}{CALL_BEGIN}functions.<tool name>:<call number>{ARGS_BEGIN}"
                f"<arguments object>{CALL_END}{SECTION_END}")

    def _head_gbnf(self, tool_name: str) -> str:
        return f'{gbnf_literal(f"functions.{tool_name}:")} [0-9] [0-9]? [0-9]? {gbnf_literal(ARGS_BEGIN)}'

    def parse_calls(self, region: str) -> ParsedCalls:
        parsed = super().parse_calls(region)
        # the id as the model wrote it, with the "functions." prefix it may have left out
        parsed.calls = [(n, a, i if i is None or i.startswith("functions.") else f"functions.{i}")
                        for n, a, i in parsed.calls]
        return parsed

    def render_messages(
        self, turns: Sequence[Turn], tools: Sequence[ToolDef], *, parallel: bool | None = None,
        max_calls: int | None = None,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
        """The base messages with every call's id rewritten ``functions.NAME:IDX``, IDX counting
        the conversation's calls (as Kimi's templates number them), and each result pointed at
        its call's new id."""
        messages, tool_list = super().render_messages(turns, tools, parallel=parallel,
                                                      max_calls=max_calls)
        renamed: dict[str, str] = {}
        count = 0
        out = []
        for message in messages:
            message = dict(message)
            if message.get("tool_calls"):
                calls = []
                for call in message["tool_calls"]:
                    new_id = f"functions.{call['function']['name']}:{count}"
                    count += 1
                    renamed[call["id"]] = new_id
                    calls.append({**call, "id": new_id})
                message["tool_calls"] = calls
            elif message["role"] == "tool" and message.get("tool_call_id") in renamed:
                message["tool_call_id"] = renamed[message["tool_call_id"]]
            out.append(message)
        return out, tool_list
