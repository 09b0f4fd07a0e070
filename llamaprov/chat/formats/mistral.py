"""Mistral v0.3 / Nemo tool calls: ``[TOOL_CALLS] [{"name": ..., "arguments": ...}, ...]``."""

from __future__ import annotations

import json
from typing import Any

from llamaprov.chat.formats._base import ParsedCalls, ToolCallFormat
from llamaprov.chat.formats._gbnf import repeated
from llamaprov.chat.formats._json import call_from_object
from llamaprov.chat.formats._registry import register_tool_format
from llamaprov.chat.turns import Turn


@register_tool_format
class MistralFormat(ToolCallFormat):
    """Mistral v0.3 / Nemo: ``[TOOL_CALLS] [{"name": ..., "arguments": {...}}, ...]``."""

    name = "mistral"
    triggers = ("[TOOL_CALLS]",)
    detect_order = 20

    @classmethod
    def detects(cls, template: str) -> bool:
        return "[TOOL_CALLS]" in template

    def call_example(self) -> str:
        return '[TOOL_CALLS] [{"name": <tool name>, "arguments": <arguments object>}]'

    def _call_rules(self, alternatives: str, max_calls: int | None) -> dict[str, str]:
        calls, chain = repeated("tc-call", '", "', max_calls, "tc-more")
        return {
            "root": f'"[TOOL_CALLS]" " "? "[" {calls} "]"',
            "tc-call": f'"{{\\"name\\": " ( {alternatives} ) "}}"',
            **chain,
        }

    def parse_calls(self, region: str) -> ParsedCalls:
        body = region[len("[TOOL_CALLS]") :] if region.startswith("[TOOL_CALLS]") else region
        value, end = json.JSONDecoder().raw_decode(body.lstrip())
        items = value if isinstance(value, list) else [value]
        return ParsedCalls([call_from_object(v) for v in items], body.lstrip()[end:])

    def assistant_message(self, turn: Turn) -> dict[str, Any]:
        message = super().assistant_message(turn)
        if "tool_calls" in message and not message["content"]:
            message.pop("content")  # Mistral templates test `content` before `tool_calls`
        return message
