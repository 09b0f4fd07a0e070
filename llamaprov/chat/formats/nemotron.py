"""Nemotron Nano v2 / Llama-3.3-Nemotron-Super tool calls:
``<TOOLCALL>[{"name": ..., "arguments": ...}, ...]</TOOLCALL>``."""

from __future__ import annotations

from llamaprov.chat.formats._json_list import JsonListFormat
from llamaprov.chat.formats._registry import register_tool_format


@register_tool_format
class NemotronFormat(JsonListFormat):
    """NVIDIA Nemotron Nano v2 and Llama-3.3-Nemotron-Super v1.5:
    ``<TOOLCALL>[{"name": ..., "arguments": {...}}, ...]</TOOLCALL>``."""

    name = "nemotron"
    triggers = ("<TOOLCALL>",)
    opening = "<TOOLCALL>"
    closing = "</TOOLCALL>"
    # before llama3, whose markers the Llama-based Nemotron Super template also holds
    detect_order = 12

    @classmethod
    def detects(cls, template: str) -> bool:
        return "<TOOLCALL>" in template
