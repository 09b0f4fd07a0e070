"""The shape several families share: a marker, then a JSON list of calls, then an optional closing
marker (``<TOOLCALL>[{"name": ..., "arguments": ...}, ...]</TOOLCALL>``)."""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from llamaprov.chat.formats._base import ParsedCalls, ToolCallFormat
from llamaprov.chat.formats._gbnf import gbnf_literal, repeated
from llamaprov.chat.formats._json import PartialCall, call_from_object, json_value_end, scan_json_calls
from llamaprov.errors import describe

# a Cohere call's name and the start of its parameters: "tool_name": "...", "parameters":
_TOOL_NAME = re.compile(r'"tool_name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"parameters"\s*:\s*')


class JsonListFormat(ToolCallFormat):
    """Calls as one JSON list after :attr:`opening` (the trigger), closed by :attr:`closing`
    (empty: nothing closes it). Items are ``{"name": ..., "arguments": ...}`` unless a subclass
    overrides :meth:`_name_args`, :meth:`_item_call` and :meth:`scan_calls`."""

    opening: ClassVar[str] = ""
    closing: ClassVar[str] = ""
    # GBNF before the opening in a grammar that is not lazy (a space the model writes first)
    lead: ClassVar[str] = ""

    def call_example(self) -> str:
        return f'{self.opening}[{{"name": <tool name>, "arguments": <arguments object>}}]{self.closing}'

    def _item_rule(self, alternatives: str) -> str:
        return f'"{{\\"name\\": " ( {alternatives} ) "}}"'

    def _call_rules(self, alternatives: str, max_calls: int | None) -> dict[str, str]:
        calls, chain = repeated("tc-call", '", "', max_calls, "tc-more")
        root = f'{gbnf_literal(self.opening)} "[" {calls} "]"'
        if self.closing:
            root += f" {gbnf_literal(self.closing)}"
        return {"root": f"{self.lead} {root}".strip(), "tc-call": self._item_rule(alternatives), **chain}

    def _item_call(self, item: Any) -> tuple[str, dict[str, Any], str | None]:
        return call_from_object(item)

    def _list_text(self, region: str) -> str:
        """The text after the opening marker when it starts a JSON list, else ""."""
        body = region.lstrip()
        body = body[len(self.opening):].lstrip() if body.startswith(self.opening) else ""
        return body if body.startswith("[") else ""

    def scan_calls(self, region: str) -> list[PartialCall]:
        return scan_json_calls(self._list_text(region))

    def parse_calls(self, region: str) -> ParsedCalls:
        body = region.lstrip()
        if not body.startswith(self.opening):
            raise ValueError(f"a {self.name} call starts with {self.opening!r}, got {region[:40]!r}")
        body = body[len(self.opening):].lstrip()
        value, end = json.JSONDecoder().raw_decode(body)
        if not isinstance(value, list) or not value:
            raise ValueError(f"expected a non-empty JSON list of calls after {self.opening!r}, got {value!r}")
        rest = body[end:]
        if self.closing:
            if rest.lstrip().startswith(self.closing):
                rest = rest.lstrip()[len(self.closing):]
            elif rest.strip():
                raise ValueError(f"expected {self.closing!r} after the calls, got {rest[:40]!r}")
        return ParsedCalls([self._item_call(v) for v in value], rest)


def tool_name_call(item: Any) -> tuple[str, dict[str, Any], str | None]:
    """(name, arguments, id) from a Cohere list item, ``{"tool_call_id": ..., "tool_name": ...,
    "parameters": ...}`` (the id is optional)."""
    if not isinstance(item, dict):
        raise ValueError(f"a tool call must be a JSON object, got {describe(item)}")
    return call_from_object({"name": item.get("tool_name"), "arguments": item.get("parameters", {}),
                             "id": item.get("tool_call_id")})


def scan_tool_name_calls(body: str) -> list[PartialCall]:
    """Partial calls in ``body``, a list of Cohere items (``"tool_name"`` then ``"parameters"``),
    as far as it has been generated."""
    found: list[PartialCall] = []
    pos = 0
    while True:
        m = _TOOL_NAME.search(body, pos)
        if m is None:
            return found
        end = json_value_end(body, m.end())
        args = body[m.end():end] if end is not None else body[m.end():]
        found.append(PartialCall(json.loads(f'"{m.group(1)}"'), args.lstrip(), end is not None))
        if end is None:
            return found
        pos = end
