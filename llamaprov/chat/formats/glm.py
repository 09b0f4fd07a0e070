"""GLM 4.5 / 4.6 / 4.7 tool calls: ``<tool_call>NAME<arg_key>k</arg_key><arg_value>v</arg_value>...``."""

from __future__ import annotations

from llamaprov.chat.formats._registry import register_tool_format
from llamaprov.chat.formats._xml_args import XmlArgsFormat


@register_tool_format
class GlmFormat(XmlArgsFormat):
    """GLM 4.5+: ``<tool_call>NAME\\n<arg_key>k</arg_key>\\n<arg_value>v</arg_value>\\n</tool_call>``,
    one such element per call; a string value is raw text, any other JSON. The templates differ
    in the newlines between elements (4.6 writes them, 4.7 none): the grammar leaves each optional."""

    name = "glm"
    triggers = ("<tool_call>",)
    # before hermes (10): GLM templates contain <tool_call> too
    detect_order = 5
    call_head = "<tool_call>{name}\n"
    arg_head = "<arg_key>{key}</arg_key>\n<arg_value>"
    value_close = "</arg_value>"
    call_tail = "</tool_call>"
    optional_newlines = True

    @classmethod
    def detects(cls, template: str) -> bool:
        return "<arg_key>" in template and "<tool_call>" in template
