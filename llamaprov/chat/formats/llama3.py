"""Llama 3.1-3.3 tool calls: ``{"name": ..., "parameters": ...}``, optionally after ``<|python_tag|>``."""

from __future__ import annotations

import json

from llamaprov.chat.formats._base import ParsedCalls, ToolCallFormat
from llamaprov.chat.formats._json import call_from_object
from llamaprov.chat.formats._registry import register_tool_format


@register_tool_format
class Llama3Format(ToolCallFormat):
    """Llama 3.1-3.3: ``{"name": ..., "parameters": {...}}``, optionally after ``<|python_tag|>``."""

    name = "llama3"
    parallel = False
    # Llama 3.1-3.3 templates refuse an assistant message of several calls (as llama.cpp, one call)
    supports_parallel = False
    triggers = ("<|python_tag|>",)
    start_triggers = ("{",)
    detect_order = 40

    @classmethod
    def detects(cls, template: str) -> bool:
        return "<|python_tag|>" in template or (
            "<|start_header_id|>" in template and "ipython" in template
        )

    def call_example(self) -> str:
        return '{"name": <tool name>, "parameters": <arguments object>}'

    def _args_key(self) -> str:
        return '"parameters"'

    def _call_rules(self, alternatives: str, max_calls: int | None) -> dict[str, str]:
        return {
            "root": '"<|python_tag|>"? tc-call',
            "tc-call": f'"{{\\"name\\": " ( {alternatives} ) "}}"',
        }

    def parse_calls(self, region: str) -> ParsedCalls:
        body = region.replace("<|python_tag|>", "").strip()
        decoder = json.JSONDecoder()
        calls = []
        i = 0
        while i < len(body):
            value, i = decoder.raw_decode(body, i)
            calls.append(call_from_object(value))
            while i < len(body) and body[i] in " \t\r\n;":
                i += 1
            if i < len(body) and body[i] != "{":
                break
        return ParsedCalls(calls, body[i:])
