"""Functionary v3.1 (Llama 3.1 based) tool calls: ``<function=name>{arguments}</function>``, and
``<|python_tag|>`` followed by code for the ``python`` tool."""

from __future__ import annotations

import json
import re
from typing import Any

from llamaprov.chat.formats._base import ParsedCalls, ToolCallFormat
from llamaprov.chat.formats._gbnf import gbnf_literal, repeated
from llamaprov.chat.formats._json import PartialCall, json_value_end
from llamaprov.chat.formats._registry import register_tool_format

_FUNCTION = re.compile(r"\s*<function=([^>\s]+)>")
_CLOSE = "</function>"
_PYTHON_TAG = "<|python_tag|>"


@register_tool_format
class FunctionaryV31Format(ToolCallFormat):
    """Functionary v3.1: ``<function=name>{...}</function>`` per call; ``<|python_tag|>code``
    calls the ``python`` tool with ``{"code": code}``."""

    name = "functionary_v31"
    # its template asks for one call at a time; a reply may still hold several
    parallel = False
    triggers = ("<function=", _PYTHON_TAG)
    # before llama3, whose <|python_tag|> its template also holds
    detect_order = 35

    @classmethod
    def detects(cls, template: str) -> bool:
        return "<function=" in template and "<|start_header_id|>" in template

    def call_example(self) -> str:
        return "<function=<tool name>><arguments object></function>"

    def _name_args(self, tool_name: str, args_root: str) -> str:
        return f'{gbnf_literal(f"<function={tool_name}>")} {args_root} "{_CLOSE}"'

    def _call_rules(self, alternatives: str, max_calls: int | None) -> dict[str, str]:
        calls, chain = repeated("tc-call", "", max_calls, "tc-more")
        return {"root": calls, "tc-call": f"( {alternatives} )", **chain}

    def parse_calls(self, region: str) -> ParsedCalls:
        calls: list[tuple[str, dict[str, Any], str | None]] = []
        pos = 0
        while True:
            if region.startswith(_PYTHON_TAG, pos) or region[pos:].lstrip().startswith(_PYTHON_TAG):
                code = region[region.index(_PYTHON_TAG, pos) + len(_PYTHON_TAG):]
                calls.append(("python", {"code": code}, None))
                return ParsedCalls(calls, "")
            m = _FUNCTION.match(region, pos)
            if m is None:
                break
            value, end = json.JSONDecoder().raw_decode(region, m.end())
            if not isinstance(value, dict):
                raise ValueError(f"tool call {m.group(1)!r}: arguments must be an object, got {value!r}")
            calls.append((m.group(1), value, None))
            rest = region[end:]
            if rest.lstrip().startswith(_CLOSE):
                pos = len(region) - len(rest.lstrip()) + len(_CLOSE)
            elif rest.strip():
                raise ValueError(f"expected {_CLOSE} after the arguments of {m.group(1)!r}, "
                                 f"got {rest[:40]!r}")
            else:
                pos = len(region)
        if not calls:
            raise ValueError(f"expected <function=name> or {_PYTHON_TAG}, got {region[:60]!r}")
        return ParsedCalls(calls, region[pos:])

    def scan_calls(self, region: str) -> list[PartialCall]:
        found: list[PartialCall] = []
        pos = 0
        while True:
            m = _FUNCTION.match(region, pos)
            if m is None:
                return found
            end = json_value_end(region, m.end())
            args = region[m.end():end] if end is not None else region[m.end():]
            rest = region[end:].lstrip() if end is not None else ""
            # done once closed: text after the arguments that is not </function> is malformed
            found.append(PartialCall(m.group(1), args.lstrip(), rest.startswith(_CLOSE)))
            if not rest.startswith(_CLOSE):
                return found
            pos = len(region) - len(rest) + len(_CLOSE)
