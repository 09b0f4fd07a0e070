"""ByteDance Seed-OSS tool calls: ``<seed:tool_call>\\n<function=NAME>\\n<parameter=k>v</parameter>...``."""

from __future__ import annotations

from llamaprov.chat.formats._registry import register_tool_format
from llamaprov.chat.formats._xml_args import XmlArgsFormat


@register_tool_format
class SeedOssFormat(XmlArgsFormat):
    """Seed-OSS: ``<seed:tool_call>\\n<function=NAME>\\n<parameter=k>v</parameter>\\n</function>\\n
    </seed:tool_call>``, one such element per call; a string value is raw text, any other JSON.
    (Its thinking block, ``<seed:think>``, is the reasoning parser's business.)"""

    name = "seed_oss"
    triggers = ("<seed:tool_call>",)
    detect_order = 5
    call_head = "<seed:tool_call>\n<function={name}>\n"
    arg_head = "<parameter={key}>"
    value_close = "</parameter>"
    call_tail = "</function>\n</seed:tool_call>"

    @classmethod
    def detects(cls, template: str) -> bool:
        return "<seed:tool_call>" in template
