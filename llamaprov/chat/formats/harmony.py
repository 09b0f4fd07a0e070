"""gpt-oss (OpenAI harmony) tool calls: a message on the ``commentary`` channel addressed to the
tool, ``<|channel|>commentary to=functions.NAME <|constrain|>json<|message|>{arguments}<|call|>``.

The generation prompt ends with ``<|start|>assistant``; the model picks the channel: ``analysis``
(its thinking, see the ``gpt-oss`` family of :mod:`llamaprov.chat._reasoning`), ``final`` (the
answer) or ``commentary`` with a recipient (a call). With tools shown, the thinking is followed
by ``<|start|>assistant`` alone (:meth:`HarmonyFormat.thinking_after`), so that the reply may be
a call; without them the reasoning family opens the final channel.

``<|call|>`` ends the model's output, so a reply holds one call (the template too renders only
the first call of an assistant message). Calls are parsed in the model's order (channel,
recipient, ``<|constrain|>json``) and in the template's (recipient, channel, `` json``); the
grammar and the trigger are the model's order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from llamaprov.chat.formats._base import ParsedCalls, ToolCallFormat
from llamaprov.chat.formats._gbnf import gbnf_literal
from llamaprov.chat.formats._json import PartialCall, finished_calls, json_value_end
from llamaprov.chat.formats._registry import register_tool_format
from llamaprov.chat.tools import ToolDef

ASSISTANT = "<|start|>assistant"
CALL_OPEN = "<|channel|>commentary to=functions."
# the model's order (channel, recipient, content type) and the template's (recipient first, as
# history shows calls); each whole up to <|message|>, so a streamed call starts once its name is
# complete
_HEAD = re.compile(
    r"\s*(?:<\|start\|>assistant)?\s*(?:"
    r"<\|channel\|>commentary\s+to=functions\.(?P<name>[^\s<]+)"
    r"|to=functions\.(?P<name2>[^\s<]+)\s*<\|channel\|>commentary)"
    r"\s*(?:<\|constrain\|>)?\s*(?:json)?\s*<\|message\|>"
)
_CALL_END = ("<|call|>", "<|end|>")


@register_tool_format
class HarmonyFormat(ToolCallFormat):
    """gpt-oss: ``<|channel|>commentary to=functions.NAME <|constrain|>json<|message|>{args}``,
    after the ``<|start|>assistant`` the prompt ends with; one call per reply. An answer is the
    ``final`` channel, whose header is dropped from the text."""

    name = "harmony"
    triggers = (CALL_OPEN,)
    text_markers = ("<|channel|>final<|message|>",)
    parallel = False
    supports_parallel = False
    detect_order = 8

    @classmethod
    def detects(cls, template: str) -> bool:
        # calls go to the commentary channel, addressed to "functions." + the tool's name
        return "<|channel|>commentary" in template and '"functions."' in template

    def call_example(self) -> str:
        return f"{CALL_OPEN}<tool name> <|constrain|>json<|message|><arguments object>"

    def thinking_after(self, after: str) -> str:
        # the reasoning family opens the final channel after the thinking; with tools shown the
        # model picks the channel itself (final for an answer, commentary for a call)
        return ASSISTANT if after.startswith(ASSISTANT) else after

    def _name_args(self, tool_name: str, args_root: str) -> str:
        return f"{gbnf_literal(tool_name + ' <|constrain|>json<|message|>')} {args_root}"

    def _call_rules(self, alternatives: str, max_calls: int | None) -> dict[str, str]:
        return {"root": f"{gbnf_literal(CALL_OPEN)} ( {alternatives} )"}

    def trigger_words(self, tools: Sequence[ToolDef]) -> list[str]:
        return [CALL_OPEN]

    # ---- parsing
    def _calls(self, region: str, *, whole: bool) -> tuple[list[PartialCall], int]:
        """The calls of ``region`` and where they end; ``whole``: the region is complete, and
        a call that is not well formed raises ``ValueError``."""
        calls: list[PartialCall] = []
        pos = 0
        while True:
            head = _HEAD.match(region, pos)
            if head is None:
                if whole and not calls:
                    raise ValueError(f"malformed harmony call header: {region[pos:pos + 120]!r}")
                return calls, pos
            name = head.group("name") or head.group("name2")
            end = json_value_end(region, head.end())
            if end is None:
                if whole:
                    raise ValueError(f"tool call {name!r}: incomplete arguments")
                calls.append(PartialCall(name, region[head.end():].lstrip(), False))
                return calls, len(region)
            calls.append(PartialCall(name, region[head.end():end].lstrip(), True))
            pos = end
            for marker in _CALL_END:
                if region.startswith(marker, pos):
                    pos += len(marker)
                    break

    def parse_calls(self, region: str) -> ParsedCalls:
        partials, pos = self._calls(region, whole=True)
        calls = finished_calls(partials, keep_ids=False)
        rest = region[pos:]
        if "to=functions." in rest:
            raise ValueError(f"unexpected text between tool calls: {rest[:60]!r}")
        # an answer after the call, in its own message: its text
        return ParsedCalls(calls, rest.replace(ASSISTANT, "").replace(self.text_markers[0], ""))

    def scan_calls(self, region: str) -> list[PartialCall]:
        return self._calls(region, whole=False)[0]
