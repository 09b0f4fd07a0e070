"""LFM2 / LFM2.5 (Liquid AI) tool calls:
``<|tool_call_start|>[name(key=value, ...), ...]<|tool_call_end|>``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from llamaprov.chat.content import ContentJson, ContentText, ContentToolRequest
from llamaprov.chat.formats._base import ParsedCalls, ToolCallFormat
from llamaprov.chat.formats._gbnf import assemble_grammar, gbnf_literal, repeated
from llamaprov.chat.formats._json import PartialCall
from llamaprov.chat.formats._pycalls import (
    format_call,
    kwargs_grammars,
    partial_calls,
    scan_call_list,
)
from llamaprov.chat.formats._registry import register_tool_format
from llamaprov.chat.tools import ToolDef
from llamaprov.chat.turns import Turn
from llamaprov.errors import ToolError

_START = "<|tool_call_start|>"
_END = "<|tool_call_end|>"


@register_tool_format
class Lfm2Format(ToolCallFormat):
    """Liquid AI LFM2 and LFM2.5: a Python list of calls between special markers,
    ``<|tool_call_start|>[get_weather(city="Paris", days=1)]<|tool_call_end|>``.

    The grammar writes values as JSON literals (JSON strings are Python strings, booleans and
    null as ``true``/``false``/``null``, which llama.cpp's parser also reads); the parser reads
    Python literals too (``'Paris'``, ``True``, ``None``) and the JSON form
    ``[{"name": ..., "arguments": ...}]`` that llama.cpp's LFM2 template shows.

    History: calls are written into the assistant's text in that same syntax, where the
    model's chat format puts them (two of the family's templates show no ``tool_calls``, and
    LFM2.5's writes string values unescaped in single quotes).
    """

    name = "lfm2"
    triggers = (_START,)
    detect_order = 18

    @classmethod
    def detects(cls, template: str) -> bool:
        if _START in template or "<|tool_list_start|>" in template:
            return True
        # LFM2.5-Instruct lists the tools but shows no call markers
        return "List of tools: [" in template and "<|im_start|>" in template

    def call_example(self) -> str:
        return f'{_START}[<tool name>(<key>=<JSON value>, ...)]{_END}'

    # ---- grammar
    def _call_rules(self, alternatives: str, max_calls: int | None) -> dict[str, str]:
        calls, chain = repeated("tc-call", '", "', max_calls, "tc-more")
        return {"root": f'{gbnf_literal(_START)} "[" {calls} "]" {gbnf_literal(_END)}',
                "tc-call": alternatives, **chain}

    def grammar(self, tools: Sequence[ToolDef], *, parallel: bool | None = None,
                max_calls: int | None = None) -> str:
        if not tools:
            raise ToolError("a tool-call grammar needs at least one tool")
        roots, texts = kwargs_grammars(tools)
        rules = self._call_rules(" | ".join(roots), self.call_limit(parallel, max_calls))
        return assemble_grammar(rules, texts)

    # ---- parsing
    def _body_start(self, region: str) -> int:
        body = region.lstrip()
        start = len(region) - len(body)
        return start + len(_START) if body.startswith(_START) else -1

    def parse_calls(self, region: str) -> ParsedCalls:
        pos = self._body_start(region)
        if pos < 0:
            raise ValueError(f"an lfm2 call starts with {_START!r}, got {region[:40]!r}")
        found = scan_call_list(region, pos, whole=True)
        if found.end is None:  # pragma: no cover - a whole scan closes the list or raises
            raise ValueError("unclosed list of calls")
        rest = region[found.end:]
        if rest.lstrip().startswith(_END):
            rest = rest.lstrip()[len(_END):]
        elif rest.strip():
            raise ValueError(f"expected {_END!r} after the calls, got {rest[:40]!r}")
        return ParsedCalls([(name, args, None) for name, args in found.calls], rest)

    def scan_calls(self, region: str) -> list[PartialCall]:
        pos = self._body_start(region)
        return [] if pos < 0 else partial_calls(scan_call_list(region, pos, whole=False))

    # ---- history
    def assistant_message(self, turn: Turn) -> dict[str, Any]:
        message = super().assistant_message(turn)
        if not turn.tool_requests:
            return message
        message.pop("tool_calls")
        parts: list[str] = []
        block: list[str] = []
        for c in [*turn.contents, None]:
            if isinstance(c, ContentToolRequest):
                block.append(format_call(c.name, c.arguments))
                continue
            if block:
                parts.append(f"{_START}[{', '.join(block)}]{_END}")
                block = []
            if isinstance(c, ContentText):
                parts.append(c.text)
            elif isinstance(c, ContentJson):
                parts.append(json.dumps(c.data, ensure_ascii=False))
        message["content"] = "".join(parts)
        return message
