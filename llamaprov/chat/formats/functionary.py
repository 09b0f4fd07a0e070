"""Functionary v3.2 tool calls: ``>>>name\\n{arguments}``."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from llamaprov.chat.formats._base import ParsedCalls, ToolCallFormat
from llamaprov.chat.formats._gbnf import gbnf_literal, repeated
from llamaprov.chat.formats._json import PartialCall, json_value_end
from llamaprov.chat.formats._registry import register_tool_format
from llamaprov.chat.tools import ToolDef
from llamaprov.chat.turns import Turn


@register_tool_format
class FunctionaryFormat(ToolCallFormat):
    """Functionary v3.2: the prompt ends with ``>>>``; a reply is ``all\\ntext`` or
    ``name\\n{arguments}``, further calls follow as ``>>>name\\n{arguments}``."""

    name = "functionary"
    triggers = (">>>",)
    detect_order = 30

    @classmethod
    def detects(cls, template: str) -> bool:
        return ">>>all" in template or (">>>" in template and "recipient" in template)

    def call_example(self) -> str:
        return ">>>tool name\n<arguments object>"

    def _name_args(self, tool_name: str, args_root: str) -> str:
        return f"{gbnf_literal(tool_name + chr(10))} {args_root}"

    def _call_rules(self, alternatives: str, max_calls: int | None) -> dict[str, str]:
        calls, chain = repeated("tc-call", '">>>"', max_calls, "tc-more")
        return {
            # a lazy grammar may start at the ">>>" of a later call (see trigger_words)
            "root": f'">>>"? {calls}',
            "tc-call": f"( {alternatives} )",
            **chain,
        }

    def trigger_words(self, tools: Sequence[ToolDef]) -> list[str]:
        return [f">>>{t.name}\n" for t in tools]

    def trigger_patterns(self, tools: Sequence[ToolDef]) -> list[str]:
        names = "|".join(re.escape(t.name) for t in tools)
        return [rf"((?:{names})\n)[\s\S]*"]

    def text_prefix(self) -> str:
        return "all\n"

    def reply_prefix(self, prompt: str) -> str:
        return ">>>" if prompt.endswith(">>>") else ""

    def _segments(self, region: str) -> list[str]:
        return [s for s in region.split(">>>") if s]

    def parse_calls(self, region: str) -> ParsedCalls:
        calls: list[tuple[str, dict[str, Any], str | None]] = []
        trailing = ""
        for seg in self._segments(region):
            name, sep, rest = seg.partition("\n")
            if name == "all":
                trailing += rest
                continue
            if not sep:
                raise ValueError(f"functionary call without arguments: {seg!r}")
            value, end = json.JSONDecoder().raw_decode(rest.strip() or "{}")
            if not isinstance(value, dict):
                raise ValueError(f"tool call {name!r}: arguments must be an object, got {value!r}")
            calls.append((name.strip(), value, None))
            trailing += rest.strip()[end:]
        return ParsedCalls(calls, trailing)

    def scan_calls(self, region: str) -> list[PartialCall]:
        calls = []
        for seg in self._segments(region):
            name, sep, rest = seg.partition("\n")
            if not sep or name == "all":
                continue
            end = json_value_end(rest, 0)
            calls.append(PartialCall(name, rest[:end].lstrip() if end else rest.lstrip(), end is not None))
        return calls

    def assistant_message(self, turn: Turn) -> dict[str, Any]:
        message = super().assistant_message(turn)
        for call in message.get("tool_calls", []):  # the template writes arguments verbatim
            call["function"]["arguments"] = json.dumps(call["function"]["arguments"])
        return message
