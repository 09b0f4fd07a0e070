"""Apriel (ServiceNow) tool calls: ``<tool_calls>[{"name": ..., "arguments": {...}}, ...]</tool_calls>``
after the answer's text; the reply thinks first and answers after ``[BEGIN FINAL RESPONSE]`` (see
:mod:`llamaprov.chat._reasoning`)."""

from __future__ import annotations

from llamaprov.chat.formats._base import ParsedCalls
from llamaprov.chat.formats._json_list import JsonListFormat
from llamaprov.chat.formats._registry import register_tool_format

# Apriel 1.5 closes its answer with this marker; not part of the reply's text
_END_RESPONSE = "[END FINAL RESPONSE]"


@register_tool_format
class AprielFormat(JsonListFormat):
    """Apriel 1.5 / 1.6 Thinker: one JSON list of ``{"name": ..., "arguments": ...}`` in
    ``<tool_calls>...</tool_calls>``."""

    name = "apriel"
    triggers = ("<tool_calls>",)
    opening = "<tool_calls>"
    closing = "</tool_calls>"
    text_markers = (_END_RESPONSE,)
    # before hermes: the Apriel 1.5 template also says <tool_call>
    detect_order = 9

    @classmethod
    def detects(cls, template: str) -> bool:
        return "<tool_calls>[" in template and "[BEGIN FINAL RESPONSE]" in template

    def parse_calls(self, region: str) -> ParsedCalls:
        parsed = super().parse_calls(region)
        if _END_RESPONSE in parsed.trailing_text:
            parsed.trailing_text = parsed.trailing_text.replace(_END_RESPONSE, "")
        return parsed
