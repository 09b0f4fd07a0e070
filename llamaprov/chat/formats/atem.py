"""Muse Glimmer's ATEM tool calls: harmony-like messages, each addressed to a recipient, whose
calls are XML invocations::

    <|start|>assistant to=NAME<|message|><atem:function_calls>
    <atem:invoke name="NAME">
    <atem:parameter name="k">v</atem:parameter>
    </atem:invoke>
    </atem:function_calls><|eom|>

The generation prompt ends with ``<|start|>assistant``; the model writes the recipient header:
`` to=user<|message|>`` and its answer (the header is dropped from the text), `` to=self<|message|>``
and its thinking up to ``<|eom|>`` (the ``atem`` family of :mod:`llamaprov.chat._reasoning`),
after which a new ``<|start|>assistant`` lets it pick the next recipient, or `` to=NAME<|message|>``
and a call of tool NAME. A value is raw text for a string parameter, JSON otherwise, as MiniMax-M2
writes them (:class:`~llamaprov.chat.formats._xml_args.XmlArgsFormat`).

The template renders each call of an assistant turn as a message of its own, so a reply holds
one call. A call starts at its header, which names the tool: the triggers are one header per
offered tool (see :meth:`AtemFormat.for_tools`), so the answer's and the thinking's headers are
no call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llamaprov.chat.formats._base import ParsedCalls, ToolCallFormat
from llamaprov.chat.formats._registry import register_tool_format
from llamaprov.chat.formats._xml_args import _KEY, _NAME, _PATTERNS, XmlArgsFormat
from llamaprov.chat.tools import ToolDef
from llamaprov.chat.turns import Turn

ASSISTANT = "<|start|>assistant"
MESSAGE = "<|message|>"
BLOCK = "<atem:function_calls>"
# what ends a message: the turn (<|eot|>) or the message alone (<|eom|>)
_ENDS = ("<|eot|>", "<|eom|>")
# a call's header and the invocation's opening, up to its first parameter; the header's name and
# the invocation's are the same tool
_CALL_OPEN = re.compile(
    rf"\s*(?:{re.escape(ASSISTANT)})?\s*to=(?P<name>{_NAME})\s*{re.escape(MESSAGE)}\s*"
    rf'{re.escape(BLOCK)}\s*<atem:invoke name="(?P=name)">\s*')


@register_tool_format
@dataclass
class AtemFormat(XmlArgsFormat):
    """Muse Glimmer (ATEM): `` to=NAME<|message|><atem:function_calls>\\n<atem:invoke
    name="NAME">\\n<atem:parameter name="k">v</atem:parameter>\\n</atem:invoke>\\n
    </atem:function_calls>`` after the ``<|start|>assistant`` the prompt ends with; one call per
    reply. An answer's `` to=user<|message|>`` header and the messages' ends are dropped from
    the text."""

    name = "atem"
    text_markers = (f" to=user{MESSAGE}", f"to=user{MESSAGE}", ASSISTANT, *_ENDS)
    parallel = False
    supports_parallel = False
    detect_order = 8
    call_head = f'to={{name}}{MESSAGE}{BLOCK}\n<atem:invoke name="{{name}}">\n'
    arg_head = '<atem:parameter name="{key}">'
    value_close = "</atem:parameter>"
    call_tail = "</atem:invoke>\n</atem:function_calls>"

    def __post_init__(self) -> None:
        # the triggers depend on the offered tools (each call's header names its tool): the
        # class variable of the other formats is set on the instance
        headers = (f"{space}to={name}{MESSAGE}" for name in self.tool_schemas for space in (" ", ""))
        object.__setattr__(self, "triggers", tuple(headers))

    @classmethod
    def detects(cls, template: str) -> bool:
        return BLOCK in template and "<atem:invoke" in template

    def thinking_after(self, after: str) -> str:
        # the reasoning family addresses the answer to the user after the thinking; with tools
        # shown the model picks the recipient itself (the user, or a tool for a call)
        return ASSISTANT if after.startswith(ASSISTANT) else after

    def trigger_words(self, tools: Sequence[ToolDef]) -> list[str]:
        return [f"to={t.name}{MESSAGE}" for t in tools]

    # ---- grammar
    def _call_rules(self, alternatives: str, max_calls: int | None) -> dict[str, str]:
        # the space the template writes after <|start|>assistant: the model's own choice where
        # the grammar is forced, not in what a trigger word starts
        return {"root": '" "? tc-call', "tc-call": f"( {alternatives} )"}

    # ---- parsing
    def _patterns(self) -> tuple[re.Pattern[str], ...]:
        cached = _PATTERNS.get(type(self))
        if cached is None:
            # the base class's regex of the head would capture {name} twice: it is written out
            # with a back reference (_CALL_OPEN)
            cached = (self._regex(""), self._regex(""), _CALL_OPEN, self._regex(self.arg_head, key=_KEY),
                      self._regex(self.call_tail))
            _PATTERNS[type(self)] = cached
        return cached

    def parse_calls(self, region: str) -> ParsedCalls:
        parsed = super().parse_calls(region)
        rest = parsed.trailing_text
        if BLOCK in rest:
            raise ValueError(f"atem writes one call per reply, got another in {rest[:120]!r}")
        # an answer after the call, in a message of its own: its text
        for marker in self.text_markers:
            rest = rest.replace(marker, "")
        return ParsedCalls(parsed.calls, rest)

    # ---- history
    def assistant_message(self, turn: Turn) -> dict[str, Any]:
        # the template refuses arguments as a JSON string and writes each value by its type
        # itself (true/false, null, JSON for objects and arrays, a number or string as it is)
        return ToolCallFormat.assistant_message(self, turn)
