"""DeepSeek-V3.1 tool calls: ``<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>NAME<｜tool▁sep｜>{...}
<｜tool▁call▁end｜>...<｜tool▁calls▁end｜>``, the arguments as bare JSON (no fence, unlike R1).
V3.2 writes DSML instead (see :mod:`~llamaprov.chat.formats.deepseek_dsml`)."""

from __future__ import annotations

import re

from llamaprov.chat.formats._gbnf import gbnf_literal
from llamaprov.chat.formats._marked import MarkedCallsFormat
from llamaprov.chat.formats._registry import register_tool_format
from llamaprov.chat.formats.deepseek_r1 import CALL_BEGIN, CALL_END, CALLS_BEGIN, CALLS_END, SEP


@register_tool_format
class DeepSeekV31Format(MarkedCallsFormat):
    """DeepSeek-V3.1: ``<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>NAME<｜tool▁sep｜>{arguments}
    <｜tool▁call▁end｜><｜tool▁calls▁end｜>``, calls back to back."""

    name = "deepseek-v3.1"
    triggers = (CALLS_BEGIN, CALL_BEGIN)
    detect_order = 6
    section_begin = CALLS_BEGIN
    section_end = CALLS_END
    call_begin = CALL_BEGIN
    call_end = CALL_END
    head_pattern = re.compile(rf"\s*(?P<name>[^\s<]+?)\s*{SEP}")

    @classmethod
    def detects(cls, template: str) -> bool:
        return CALLS_BEGIN in template and SEP in template and "```json" not in template

    def call_example(self) -> str:
        return f"{CALLS_BEGIN}{CALL_BEGIN}<tool name>{SEP}<arguments object>{CALL_END}{CALLS_END}"

    def _head_gbnf(self, tool_name: str) -> str:
        return gbnf_literal(f"{tool_name}{SEP}")
