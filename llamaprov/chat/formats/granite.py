"""Granite 3.3 tool calls: ``<|tool_call|>[{"name": ..., "arguments": ...}, ...]``."""

from __future__ import annotations

import json
from typing import Any

from llamaprov.chat.formats._json_list import JsonListFormat
from llamaprov.chat.formats._registry import register_tool_format
from llamaprov.chat.turns import Turn


@register_tool_format
class GraniteFormat(JsonListFormat):
    """IBM Granite 3.x: ``<|tool_call|>[{"name": ..., "arguments": {...}}, ...]`` (Granite 4.x
    templates write Hermes ``<tool_call>`` and are detected as ``hermes``)."""

    name = "granite"
    triggers = ("<|tool_call|>",)
    opening = "<|tool_call|>"
    detect_order = 14

    @classmethod
    def detects(cls, template: str) -> bool:
        return "<|tool_call|>" in template and "<|start_of_role|>" in template

    def assistant_message(self, turn: Turn) -> dict[str, Any]:
        # the template renders only `content`: the calls go there, as the model writes them
        message = super().assistant_message(turn)
        requests = message.pop("tool_calls", None)
        if requests:
            items = ", ".join(
                json.dumps({"name": r["function"]["name"], "arguments": r["function"]["arguments"]},
                           ensure_ascii=False)
                for r in requests
            )
            message["content"] = f"{message['content']}{self.opening}[{items}]"
        return message
