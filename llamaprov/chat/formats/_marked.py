"""Calls between special markers: a section of calls, each a head (the tool's name, maybe an id),
JSON arguments and a closing marker, as DeepSeek and Kimi-K2 write them.

``SECTION_BEGIN CALL_BEGIN head {arguments} tail CALL_END [separator CALL_BEGIN ...] SECTION_END``
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from llamaprov.chat.formats._base import ParsedCalls, ToolCallFormat
from llamaprov.chat.formats._gbnf import gbnf_literal, repeated
from llamaprov.chat.formats._json import PartialCall, finished_calls, json_value_end
from llamaprov.chat.tools import ToolDef


class MarkedCallsFormat(ToolCallFormat):
    """A section of calls between markers; subclasses set the markers and the head's syntax.

    ``head_pattern`` matches a call's head right after ``call_begin`` up to its arguments
    (group ``name``; group ``id`` where the model writes ids), ``tail_pattern`` what may
    follow the arguments before ``call_end``. Both whole: a head still being generated does not
    match, so a streamed call starts once its name is complete.
    """

    section_begin: ClassVar[str] = ""
    section_end: ClassVar[str] = ""
    call_begin: ClassVar[str] = ""
    call_end: ClassVar[str] = ""
    # what the template writes between two calls
    call_separator: ClassVar[str] = ""
    head_pattern: ClassVar[re.Pattern[str]]
    tail_pattern: ClassVar[re.Pattern[str]] = re.compile(r"\s*")

    def _head_gbnf(self, tool_name: str) -> str:
        """GBNF of the head of a call to ``tool_name``."""
        raise NotImplementedError

    def _tail(self) -> str:
        """The text the grammar writes between the arguments and ``call_end``."""
        return ""

    def _name_args(self, tool_name: str, args_root: str) -> str:
        tail = self._tail()
        return f"{self._head_gbnf(tool_name)} {args_root}" + (f" {gbnf_literal(tail)}" if tail else "")

    def _call_rules(self, alternatives: str, max_calls: int | None) -> dict[str, str]:
        calls, chain = repeated("tc-call", gbnf_literal(self.call_separator), max_calls, "tc-more")
        return {
            "root": f"{gbnf_literal(self.section_begin)} {calls} {gbnf_literal(self.section_end)}",
            "tc-call": f"{gbnf_literal(self.call_begin)} ( {alternatives} ) {gbnf_literal(self.call_end)}",
            **chain,
        }

    def trigger_words(self, tools: Sequence[ToolDef]) -> list[str]:
        return [self.section_begin]

    # ---- parsing
    def _calls(self, region: str, *, whole: bool) -> tuple[list[PartialCall], int]:
        """The calls of ``region`` and where they end; ``whole``: the region is complete, and
        anything but a well-formed call raises ``ValueError``."""
        pos = _skip_space(region, 0)
        if region.startswith(self.section_begin, pos):
            pos += len(self.section_begin)
        calls: list[PartialCall] = []
        while True:
            start = _skip_space(region, pos)
            if not region.startswith(self.call_begin, start):
                return calls, pos
            head = self.head_pattern.match(region, start + len(self.call_begin))
            if head is None:
                if whole:
                    raise ValueError(f"malformed call head: {region[start:start + 120]!r}")
                return calls, pos
            name, call_id = head.group("name").strip(), head.groupdict().get("id")
            end = json_value_end(region, head.end())
            if end is None:
                if whole:
                    raise ValueError(f"tool call {name!r}: incomplete arguments")
                calls.append(PartialCall(name, region[head.end():].lstrip(), False, call_id))
                return calls, len(region)
            calls.append(PartialCall(name, region[head.end():end].lstrip(), True, call_id))
            tail = self.tail_pattern.match(region, end)
            pos = tail.end() if tail else end
            if region.startswith(self.call_end, pos):
                pos += len(self.call_end)
            elif whole and region[pos:].strip():
                raise ValueError(f"tool call {name!r}: expected {self.call_end!r} after its "
                                 f"arguments, got {region[pos:pos + 60]!r}")

    def parse_calls(self, region: str) -> ParsedCalls:
        partials, pos = self._calls(region, whole=True)
        if not partials:
            raise ValueError(f"no tool call found in {region[:200]!r}")
        calls = finished_calls(partials)
        rest = _skip_space(region, pos)
        if region.startswith(self.section_end, rest):
            pos = rest + len(self.section_end)
        elif self.call_begin in region[pos:]:
            raise ValueError(f"unexpected text between tool calls: {region[pos:pos + 60]!r}")
        return ParsedCalls(calls, region[pos:])

    def scan_calls(self, region: str) -> list[PartialCall]:
        return self._calls(region, whole=False)[0]


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos
