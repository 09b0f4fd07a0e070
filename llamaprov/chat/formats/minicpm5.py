"""MiniCPM 5 tool calls: ``<function name="NAME"><param name="k">v</param>...</function>``."""

from __future__ import annotations

import dataclasses
from typing import Any

from llamaprov.chat.formats._json import PartialCall
from llamaprov.chat.formats._registry import register_tool_format
from llamaprov.chat.formats._xml_args import XmlArgsFormat, _RawCall
from llamaprov.engine._text import holdback

_CDATA = ("<![CDATA[", "]]>")


@register_tool_format
class MiniCpm5Format(XmlArgsFormat):
    """MiniCPM 5: one ``<function name="NAME">`` element per call, each argument a
    ``<param name="k">`` element; a string value is raw text (the template wraps one holding
    ``<``, ``&`` or a newline in ``<![CDATA[...]]>``), any other JSON."""

    name = "minicpm5"
    triggers = ('<function name="',)
    detect_order = 5
    call_head = '<function name="{name}">'
    arg_head = '<param name="{key}">'
    value_close = "</param>"
    arg_gap = ""
    call_tail = "</function>"

    @classmethod
    def detects(cls, template: str) -> bool:
        return "<function name=" in template and "<param name=" in template

    def decode_value(self, tool: str, key: str, text: str) -> Any:
        if text.startswith(_CDATA[0]) and text.endswith(_CDATA[1]):
            text = text[len(_CDATA[0]):-len(_CDATA[1])]
            if self._is_text(tool, key) is not False:
                return text
        return super().decode_value(tool, key, text)

    def _partial(self, call: _RawCall) -> PartialCall:
        # a value under way streams without its CDATA markers, as decode_value will give it
        if call.args and not call.args[-1][2]:
            key, text, closed = call.args[-1]
            if _CDATA[0].startswith(text):
                text = ""
            elif text.startswith(_CDATA[0]):
                text = text[len(_CDATA[0]):]
                text = text[: len(text) - holdback(text, [_CDATA[1] + self.value_close])]
            call = dataclasses.replace(call, args=[*call.args[:-1], (key, text, closed)])
        return super()._partial(call)
