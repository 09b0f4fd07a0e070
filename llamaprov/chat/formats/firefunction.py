"""firefunction v2 tool calls: `` functools[{"name": ..., "arguments": ...}, ...]``."""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from typing import Any

from llamaprov.chat.formats._json_list import JsonListFormat
from llamaprov.chat.formats._registry import register_tool_format
from llamaprov.chat.tools import ToolDef


@register_tool_format
class FirefunctionFormat(JsonListFormat):
    """Fireworks firefunction v2 (Llama 3 based): `` functools[{"name": ..., "arguments": {...}}, ...]``,
    nothing closing the list.

    Its template reads the tools from a ``functions`` variable (a JSON text) and the date from
    ``datetime``, not from ``tools``.
    """

    name = "firefunction"
    triggers = ("functools[",)
    opening = "functools"
    # the template writes " functools[" after the reply's text
    lead = '" "?'
    # before llama3, whose header markers its template also holds
    detect_order = 13

    @classmethod
    def detects(cls, template: str) -> bool:
        return " functools[" in template

    def template_variables(self, tools: Sequence[ToolDef]) -> dict[str, Any]:
        functions = [{"name": t.name, "description": t.description, "parameters": t.parameters}
                     for t in tools]
        now = datetime.datetime.now(datetime.timezone.utc)
        return {"functions": json.dumps(functions, ensure_ascii=False, indent=2),
                "datetime": now.strftime("%b %d %Y %H:%M:%S GMT")}
