"""Hunyuan 3 (Hy3) tool calls: GLM-like ``<arg_key>``/``<arg_value>`` elements whose tags carry
the ``:opensource`` suffix, in a ``<tool_calls:opensource>`` block."""

from __future__ import annotations

from llamaprov.chat.formats._registry import register_tool_format
from llamaprov.chat.formats._xml_args import XmlArgsFormat

# the suffix Hy3's template gives every special tag (its ``HYTK`` variable)
SUFFIX = ":opensource"


@register_tool_format
class Hunyuan3Format(XmlArgsFormat):
    """Hunyuan 3: ``<tool_calls:opensource>`` holds the calls of a reply, each
    ``<tool_call:opensource>NAME<tool_sep:opensource>`` then, per argument,
    ``<arg_key:opensource>k</arg_key:opensource>`` and ``<arg_value:opensource>v</arg_value:opensource>``;
    a string value is raw text, any other JSON."""

    name = "hunyuan3"
    triggers = (f"<tool_calls{SUFFIX}>",)
    detect_order = 5
    wrap = (f"<tool_calls{SUFFIX}>\n", f"</tool_calls{SUFFIX}>")
    call_head = f"<tool_call{SUFFIX}>{{name}}<tool_sep{SUFFIX}>\n"
    arg_head = f"<arg_key{SUFFIX}>{{key}}</arg_key{SUFFIX}>\n<arg_value{SUFFIX}>"
    value_close = f"</arg_value{SUFFIX}>"
    call_tail = f"</tool_call{SUFFIX}>\n"
    call_sep = ""

    @classmethod
    def detects(cls, template: str) -> bool:
        # the template builds its tags with str.format: '<tool_calls{}>'.format(HYTK)
        return f"HYTK = '{SUFFIX}'" in template and "'<arg_key{}>'" in template
