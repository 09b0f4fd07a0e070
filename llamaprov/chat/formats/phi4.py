"""Phi-4-mini tool calls: ``<|tool_call|>{"name": ..., "arguments": ...}<|/tool_call|>`` per call
(llama.cpp's Phi-4-mini template), or the ``functools[{...}, ...]`` list the model card shows."""

from __future__ import annotations

import json
from typing import Any

from llamaprov.chat.formats._base import ParsedCalls, ToolCallFormat
from llamaprov.chat.formats._gbnf import repeated
from llamaprov.chat.formats._json import call_from_object
from llamaprov.chat.formats._registry import register_tool_format

_OPEN, _CLOSE, _LIST = "<|tool_call|>", "<|/tool_call|>", "functools"


@register_tool_format
class Phi4Format(ToolCallFormat):
    """Microsoft Phi-4-mini: ``<|tool_call|>{"name": ..., "arguments": {...}}<|/tool_call|>`` per
    call, as its template writes calls back; ``functools[...]`` lists parse too."""

    name = "phi4"
    triggers = (_OPEN, "functools[")
    # before granite, whose <|tool_call|> its template shares (granite's has no closing tag)
    detect_order = 13

    @classmethod
    def detects(cls, template: str) -> bool:
        return _OPEN in template and _CLOSE in template

    def call_example(self) -> str:
        return f'{_OPEN}{{"name": <tool name>, "arguments": <arguments object>}}{_CLOSE}'

    def _call_rules(self, alternatives: str, max_calls: int | None) -> dict[str, str]:
        calls, chain = repeated("tc-call", "", max_calls, "tc-more")
        return {
            "root": calls,
            "tc-call": f'"{_OPEN}{{\\"name\\": " ( {alternatives} ) "}}{_CLOSE}"',
            **chain,
        }

    def parse_calls(self, region: str) -> ParsedCalls:
        calls: list[tuple[str, dict[str, Any], str | None]] = []
        decoder = json.JSONDecoder()
        rest = region.lstrip()
        while rest.startswith((_OPEN, _LIST)):
            tagged = rest.startswith(_OPEN)
            body = rest[len(_OPEN if tagged else _LIST):].lstrip()
            value, end = decoder.raw_decode(body)
            if not tagged and not isinstance(value, list):
                raise ValueError(f"expected a JSON list after {_LIST}, got {value!r}")
            items = value if isinstance(value, list) else [value]
            if not items:
                raise ValueError(f"no tool call in {region[:60]!r}")
            calls += [call_from_object(v) for v in items]
            rest = body[end:].lstrip()
            if tagged:
                if rest.startswith(_CLOSE):
                    rest = rest[len(_CLOSE):].lstrip()
                elif rest:
                    raise ValueError(f"expected {_CLOSE} after a call, got {rest[:40]!r}")
        if not calls:
            raise ValueError(f"expected {_OPEN} or {_LIST}[ at the start of {region[:60]!r}")
        return ParsedCalls(calls, rest)
