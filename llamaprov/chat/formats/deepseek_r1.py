"""DeepSeek-R1 (and its Qwen and Llama distills) tool calls: a section of calls, each the name and a
fenced JSON block, between fullwidth-bar markers::

    <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME
    ```json
    {...}
    ```<｜tool▁call▁end｜>
    <｜tool▁call▁begin｜>...<｜tool▁call▁end｜><｜tool▁calls▁end｜>
"""

from __future__ import annotations

import json
import re
from typing import Any

from llamaprov.chat.formats._gbnf import gbnf_literal
from llamaprov.chat.formats._marked import MarkedCallsFormat
from llamaprov.chat.formats._registry import register_tool_format
from llamaprov.chat.turns import Turn

CALLS_BEGIN = "<｜tool▁calls▁begin｜>"
CALLS_END = "<｜tool▁calls▁end｜>"
CALL_BEGIN = "<｜tool▁call▁begin｜>"
CALL_END = "<｜tool▁call▁end｜>"
SEP = "<｜tool▁sep｜>"


class JsonArguments(dict[str, Any]):
    """A call's arguments for DeepSeek templates: a mapping (``| tojson`` writes the object) that
    a template may also concatenate as its JSON text (``'...' + arguments``: the Llama distill's
    template does, the Qwen one applies ``tojson``)."""

    def _text(self) -> str:
        return json.dumps(self, ensure_ascii=False)

    def __add__(self, other: Any) -> Any:
        return self._text() + other if isinstance(other, str) else NotImplemented

    def __radd__(self, other: Any) -> Any:
        return other + self._text() if isinstance(other, str) else NotImplemented


@register_tool_format
class DeepSeekR1Format(MarkedCallsFormat):
    """DeepSeek-R1: ``<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\\n```json\\n{...}
    \\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>``, several calls a newline apart."""

    name = "deepseek-r1"
    triggers = (CALLS_BEGIN, CALL_BEGIN)
    detect_order = 5
    section_begin = CALLS_BEGIN
    section_end = CALLS_END
    call_begin = CALL_BEGIN
    call_end = CALL_END
    call_separator = "\n"
    head_pattern = re.compile(
        rf"\s*(?:function)?\s*{SEP}(?P<name>[^\n<]+?)[ \t]*\n\s*```(?:json)?[ \t]*\n")
    tail_pattern = re.compile(r"\s*```\s*")

    @classmethod
    def detects(cls, template: str) -> bool:
        return CALLS_BEGIN in template and "```json" in template

    def call_example(self) -> str:
        return (f"{CALLS_BEGIN}{CALL_BEGIN}function{SEP}<tool name>\n```json\n<arguments object>\n```"
                f"{CALL_END}{CALLS_END}")

    def _head_gbnf(self, tool_name: str) -> str:
        return gbnf_literal(f"function{SEP}{tool_name}\n```json\n")

    def _tail(self) -> str:
        return "\n```"

    def assistant_message(self, turn: Turn) -> dict[str, Any]:
        message = super().assistant_message(turn)
        if "tool_calls" in message:
            # the Llama distill renders calls only for a message whose content is none
            if not message["content"]:
                message["content"] = None
            for call in message["tool_calls"]:
                call["function"]["arguments"] = JsonArguments(call["function"]["arguments"])
        return message
