"""Apertus tool calls: ``<|tools_prefix|>[{"name": {arguments}}, ...]<|tools_suffix|>``."""

from __future__ import annotations

import json
import re
from typing import Any

from llamaprov.chat.formats._gbnf import gbnf_literal
from llamaprov.chat.formats._json import PartialCall, json_value_end
from llamaprov.chat.formats._json_list import JsonListFormat
from llamaprov.chat.formats._registry import register_tool_format
from llamaprov.errors import describe

# one call: an object whose only key is the tool's name
_ITEM = re.compile(r'\s*,?\s*\{\s*"((?:[^"\\]|\\.)*)"\s*:\s*')


@register_tool_format
class ApertusFormat(JsonListFormat):
    """Swiss AI Apertus: ``<|tools_prefix|>[{"name": {...}}, ...]<|tools_suffix|>``, each call an
    object keyed by the tool's name."""

    name = "apertus"
    triggers = ("<|tools_prefix|>",)
    opening = "<|tools_prefix|>"
    closing = "<|tools_suffix|>"
    detect_order = 16

    @classmethod
    def detects(cls, template: str) -> bool:
        return "<|tools_prefix|>" in template

    def call_example(self) -> str:
        return '<|tools_prefix|>[{"<tool name>": <arguments object>}]<|tools_suffix|>'

    def _name_args(self, tool_name: str, args_root: str) -> str:
        return f"{gbnf_literal(json.dumps(tool_name) + ': ')} {args_root}"

    def _item_rule(self, alternatives: str) -> str:
        return f'"{{" ( {alternatives} ) "}}"'

    def _item_call(self, item: Any) -> tuple[str, dict[str, Any], str | None]:
        if not isinstance(item, dict) or len(item) != 1:
            raise ValueError(f"an apertus call is an object of one key, the tool's name; "
                             f"got {describe(item)}")
        ((name, args),) = item.items()
        if not name or not isinstance(args, dict):
            raise ValueError(f"tool call {name!r}: arguments must be an object, got {describe(args)}")
        return name, args, None

    def scan_calls(self, region: str) -> list[PartialCall]:
        body = self._list_text(region)
        found: list[PartialCall] = []
        pos = 1
        while True:
            m = _ITEM.match(body, pos)
            if m is None:
                return found
            end = json_value_end(body, m.end())
            args = body[m.end():end] if end is not None else body[m.end():]
            # done once the item's object closes
            closed = end is not None and body[end:].lstrip().startswith("}")
            found.append(PartialCall(json.loads(f'"{m.group(1)}"'), args.lstrip(), closed))
            if not closed:
                return found
            pos = body.index("}", end) + 1
