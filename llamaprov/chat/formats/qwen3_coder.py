"""Qwen3-Coder tool calls: ``<tool_call>\\n<function=NAME>\\n<parameter=k>\\nv\\n</parameter>...``."""

from __future__ import annotations

from llamaprov.chat.formats._registry import register_tool_format
from llamaprov.chat.formats._xml_args import XmlArgsFormat


@register_tool_format
class Qwen3CoderFormat(XmlArgsFormat):
    """Qwen3-Coder: ``<tool_call>\\n<function=NAME>\\n<parameter=k>\\nv\\n</parameter>\\n</function>\\n
    </tool_call>``, one such element per call; a value sits between newlines (stripped once on
    each side); a string value is raw text, any other JSON."""

    name = "qwen3_coder"
    triggers = ("<tool_call>",)
    # before hermes (10): Qwen3-Coder templates contain <tool_call> too
    detect_order = 5
    call_head = "<tool_call>\n<function={name}>\n"
    arg_head = "<parameter={key}>"
    value_pad = "\n"
    value_close = "</parameter>"
    call_tail = "</function>\n</tool_call>"

    @classmethod
    def detects(cls, template: str) -> bool:
        return "<function=" in template and "<parameter=" in template and "<tool_call>" in template
