"""Hermes 2 Pro / Qwen 2.5+ tool calls: ``<tool_call>{"name": ..., "arguments": ...}</tool_call>``."""

from __future__ import annotations

import re

from llamaprov.chat.formats._base import ParsedCalls, ToolCallFormat
from llamaprov.chat.formats._gbnf import repeated
from llamaprov.chat.formats._json import call_from_object, decode_json_sequence
from llamaprov.chat.formats._registry import register_tool_format


@register_tool_format
class HermesFormat(ToolCallFormat):
    """Hermes 2 Pro / Qwen 2.5+: ``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>``."""

    name = "hermes"
    triggers = ("<tool_call>",)
    detect_order = 10

    @classmethod
    def detects(cls, template: str) -> bool:
        return "<tool_call>" in template

    def call_example(self) -> str:
        return '<tool_call>\n{"name": <tool name>, "arguments": <arguments object>}\n</tool_call>'

    def _call_rules(self, alternatives: str, max_calls: int | None) -> dict[str, str]:
        calls, chain = repeated("tc-call", '"\\n"', max_calls, "tc-more")
        return {
            "root": calls,
            "tc-call": f'"<tool_call>\\n{{\\"name\\": " ( {alternatives} ) "}}\\n</tool_call>"',
            **chain,
        }

    def parse_calls(self, region: str) -> ParsedCalls:
        calls = []
        pos = 0
        pattern = re.compile(r"<tool_call>([\s\S]*?)(?:</tool_call>|$)")
        for m in pattern.finditer(region):
            if region[pos : m.start()].strip():
                raise ValueError(f"unexpected text between tool calls: {region[pos:m.start()]!r}")
            body = m.group(1).strip()
            if not body and m.end() == len(region):
                break
            values = decode_json_sequence(body)
            if len(values) != 1:
                raise ValueError(f"expected one JSON object in <tool_call>, got {body!r}")
            calls.append(call_from_object(values[0]))
            pos = m.end()
        if not calls:
            raise ValueError(f"no tool call found in {region!r}")
        return ParsedCalls(calls, region[pos:])
