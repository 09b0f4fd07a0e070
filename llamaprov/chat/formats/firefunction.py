"""firefunction v2 tool calls: `` functools[{"name": ..., "arguments": ...}, ...]``."""

from __future__ import annotations

from llamaprov.chat.formats._json_list import JsonListFormat
from llamaprov.chat.formats._registry import register_tool_format


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
