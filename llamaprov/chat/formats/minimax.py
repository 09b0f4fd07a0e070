"""MiniMax-M2 tool calls: ``<minimax:tool_call>`` around ``<invoke name="NAME">`` elements."""

from __future__ import annotations

from llamaprov.chat.formats._registry import register_tool_format
from llamaprov.chat.formats._xml_args import XmlArgsFormat


@register_tool_format
class MiniMaxFormat(XmlArgsFormat):
    """MiniMax-M2: one ``<minimax:tool_call>\\n...\\n</minimax:tool_call>`` block holds the calls of
    a reply, each ``<invoke name="NAME">\\n<parameter name="k">v</parameter>\\n</invoke>\\n``; a
    string value is raw text, any other JSON."""

    name = "minimax"
    triggers = ("<minimax:tool_call>",)
    detect_order = 5
    wrap = ("<minimax:tool_call>\n", "</minimax:tool_call>")
    call_head = '<invoke name="{name}">\n'
    arg_head = '<parameter name="{key}">'
    value_close = "</parameter>"
    call_tail = "</invoke>\n"
    call_sep = ""

    @classmethod
    def detects(cls, template: str) -> bool:
        return "<minimax:tool_call>" in template and "<invoke name=" in template
