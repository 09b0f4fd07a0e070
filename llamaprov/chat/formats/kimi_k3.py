"""Kimi-K3 tool calls, in its tagged ("XTML") syntax: every element is ``<|open|>TAG attrs<|sep|>``
... ``<|close|>TAG<|sep|>``, and an assistant message is a ``think`` element, a ``response``
element (the answer) and a ``tools`` element with one ``call`` element per call::

    <|open|>tools<|sep|><|open|>call tool="NAME" index="1"<|sep|>
    <|open|>argument key="k" type="string"<|sep|>raw text<|close|>argument<|sep|>
    <|open|>argument key="n" type="number"<|sep|>3<|close|>argument<|sep|>
    <|close|>call<|sep|><|close|>tools<|sep|>

(no newlines between the elements). An argument's ``type`` attribute says how its value is
written: ``string`` as raw text, the others (``number``, ``boolean``, ``null``, ``object``,
``array``) as JSON. The template also writes arguments it got as a JSON string whole, as
``<|open|>json type="object"<|sep|>{...}<|close|>json<|sep|>``; the parser reads both, the
grammar writes the first. ``index`` counts the calls of a message from 1; calls carry no id.

The generation prompt opens the ``think`` element (or, thinking off, the ``response`` one): the
``kimi-k3`` family of :mod:`llamaprov.chat._reasoning` ends the thinking with
``<|close|>think<|sep|><|open|>response<|sep|>``, and the markers around the answer are
dropped from the reply's text (:attr:`KimiK3Format.text_markers`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llamaprov.chat.formats._base import ParsedCalls, ToolCallFormat
from llamaprov.chat.formats._gbnf import gbnf_literal
from llamaprov.chat.formats._json import PartialCall
from llamaprov.chat.formats._registry import register_tool_format
from llamaprov.chat.formats._xml_args import XmlArgsFormat, is_string_schema, resolve
from llamaprov.chat.tools import ToolDef
from llamaprov.chat.turns import Turn
from llamaprov.engine._text import holdback

OPEN, CLOSE, SEP, END_OF_MSG = "<|open|>", "<|close|>", "<|sep|>", "<|end_of_msg|>"
TOOLS_OPEN = f"{OPEN}tools{SEP}"
TOOLS_CLOSE = f"{CLOSE}tools{SEP}"
CALL_CLOSE = f"{CLOSE}call{SEP}"
ARG_CLOSE = f"{CLOSE}argument{SEP}"
JSON_CLOSE = f"{CLOSE}json{SEP}"
RESPONSE_OPEN = f"{OPEN}response{SEP}"
RESPONSE_CLOSE = f"{CLOSE}response{SEP}"
MESSAGE_CLOSE = f"{CLOSE}message{SEP}"

# the type attribute of a value written as JSON, by the JSON schema type it has
_JSON_TYPES = {"integer": "number", "number": "number", "boolean": "boolean", "null": "null",
               "object": "object", "array": "array"}
_TYPE_NAMES = ("string", "number", "boolean", "null", "object", "array")


def _head(tag: str) -> re.Pattern[str]:
    """The opening of element ``tag`` with its attributes (group ``attrs``), whole up to
    ``<|sep|>``; white space before it is skipped."""
    return re.compile(rf'\s*{re.escape(OPEN)}{tag}(?P<attrs>(?:\s+[\w-]+="[^"]*")*)\s*{re.escape(SEP)}')


# after the answer's closing where a forced call's grammar wrote it
_TOOLS_HEAD = re.compile(rf"\s*(?:{re.escape(RESPONSE_CLOSE)}\s*)?{re.escape(TOOLS_OPEN)}")
_TOOLS_TAIL = re.compile(rf"\s*{re.escape(TOOLS_CLOSE)}")
_CALL_HEAD = _head("call")
_ARG_HEAD = _head("argument")
_JSON_HEAD = _head("json")
_CALL_TAIL = re.compile(rf"\s*{re.escape(CALL_CLOSE)}")
# what may close the message after its calls
_MESSAGE_TAIL = re.compile(rf"\s*(?:{re.escape(MESSAGE_CLOSE)}|{re.escape(END_OF_MSG)})")
_ATTR = re.compile(r'([\w-]+)="([^"]*)"')
# the end of an element's last attribute
_ATTR_END = '"' + SEP


def escape_attr(value: str) -> str:
    """An attribute value as the template writes it (``&`` and ``"`` escaped)."""
    return value.replace("&", "&amp;").replace('"', "&quot;")


def _attrs(text: str) -> dict[str, str]:
    return {k: v.replace("&quot;", '"').replace("&amp;", "&") for k, v in _ATTR.findall(text)}


@dataclass
class _Item:
    """An argument (``key`` set) or a JSON block of arguments (``key`` None) of a call."""

    key: str | None
    kind: str | None
    text: str
    closed: bool


@dataclass
class _Call:
    name: str
    items: list[_Item] = field(default_factory=list)
    closed: bool = False


@register_tool_format
class KimiK3Format(XmlArgsFormat):
    """Kimi-K3: ``<|open|>tools<|sep|><|open|>call tool="NAME" index="1"<|sep|><|open|>argument
    key="k" type="string"<|sep|>v<|close|>argument<|sep|><|close|>call<|sep|><|close|>tools<|sep|>``;
    a ``string`` value is raw text, any other JSON."""

    name = "kimi-k3"
    triggers = (TOOLS_OPEN,)
    # the answer's element (and what closes the message): dropped from the reply's text
    text_markers = (RESPONSE_OPEN, RESPONSE_CLOSE, MESSAGE_CLOSE, END_OF_MSG)
    detect_order = 7
    wrap = (TOOLS_OPEN, TOOLS_CLOSE)
    value_close = ARG_CLOSE
    call_tail = CALL_CLOSE
    arg_gap = ""
    call_sep = ""

    @classmethod
    def detects(cls, template: str) -> bool:
        # the markers are written alone, the tag names apart (the template's open_tag macro)
        return all(m in template for m in (OPEN, CLOSE, SEP)) and \
            re.search(r"""['"]call['"]|<\|open\|>call\b""", template) is not None

    def call_example(self) -> str:
        return (f'{TOOLS_OPEN}{OPEN}call tool="<tool name>" index="1"{SEP}{OPEN}argument '
                f'key="<parameter name>" type="<string, number, boolean, null, object or array>"{SEP}'
                f"<value: raw text for a string, else JSON>{ARG_CLOSE}{CALL_CLOSE}{TOOLS_CLOSE}")

    # ---- grammar
    def _call_rules(self, alternatives: str, max_calls: int | None) -> dict[str, str]:
        rules = super()._call_rules(alternatives, max_calls)
        # a forced call may follow the answer's opening (the end of a thinking phase): the
        # answer is closed first; the message may be closed after the calls
        rules["root"] = (f"( {gbnf_literal(RESPONSE_CLOSE)} )? {rules['root']} "
                         f"( {gbnf_literal(MESSAGE_CLOSE)} )?")
        return rules

    def _call_head_gbnf(self, td: ToolDef) -> str:
        head = gbnf_literal(f'{OPEN}call tool="{escape_attr(td.name)}" index="')
        return f"{head} [1-9] [0-9]? {gbnf_literal(_ATTR_END)}"

    def _arg_head_gbnf(self, td: ToolDef, key: str, schema: Any) -> str:
        head = gbnf_literal(f'{OPEN}argument key="{escape_attr(key)}" type="')
        kinds = " | ".join(gbnf_literal(k) for k in self._kinds(schema, td.parameters))
        return f"{head} ( {kinds} ) {gbnf_literal(_ATTR_END)}"

    @staticmethod
    def _kinds(schema: Any, root: Mapping[str, Any]) -> list[str]:
        """The type attributes a value of ``schema`` is written with: ``string`` for a value
        written as raw text (see :func:`is_string_schema`), else the JSON kinds it allows."""
        if is_string_schema(schema, root):
            return ["string"]
        schema = resolve(schema, root)
        kind = schema.get("type") if isinstance(schema, Mapping) else None
        kinds = [kind] if isinstance(kind, str) else kind if isinstance(kind, list) else []
        names = list(dict.fromkeys(_JSON_TYPES[k] for k in kinds if k in _JSON_TYPES))
        return names or list(_TYPE_NAMES[1:])

    # ---- parsing
    def _read(self, region: str) -> tuple[list[_Call], int, bool]:
        """The calls of ``region`` as far as they go, where reading stopped, and whether the
        tools element is whole (False: cut off or malformed at that point)."""
        calls: list[_Call] = []
        m = _TOOLS_HEAD.match(region)
        if m is None:
            return calls, 0, False
        pos = m.end()
        while head := _CALL_HEAD.match(region, pos):
            name = _attrs(head["attrs"]).get("tool")
            if not name:
                return calls, pos, False
            call = _Call(name)
            calls.append(call)
            pos = head.end()
            while True:
                arg = _ARG_HEAD.match(region, pos)
                block = None if arg else _JSON_HEAD.match(region, pos)
                opened = arg or block
                if opened is None:
                    break
                attrs = _attrs(opened["attrs"])
                key = attrs.get("key") if arg else None
                if arg and not key:
                    return calls, pos, False
                close = ARG_CLOSE if arg else JSON_CLOSE
                end = region.find(close, opened.end())
                if end < 0:
                    call.items.append(_Item(key, attrs.get("type"), region[opened.end():], False))
                    return calls, pos, False
                call.items.append(_Item(key, attrs.get("type"), region[opened.end():end], True))
                pos = end + len(close)
            tail = _CALL_TAIL.match(region, pos)
            if tail is None:
                return calls, pos, False
            call.closed = True
            pos = tail.end()
        tail = _TOOLS_TAIL.match(region, pos)
        if tail is None or not calls:
            return calls, pos, False
        pos = tail.end()
        while closing := _MESSAGE_TAIL.match(region, pos):
            pos = closing.end()
        return calls, pos, True

    def _value(self, tool: str, item: _Item) -> Any:
        """The value of a whole argument: by its type attribute (a ``string`` is the text
        itself, any other kind JSON), or where it has none by the tool's schema."""
        assert item.key is not None
        if item.kind == "string":
            return item.text
        if item.kind in _TYPE_NAMES:
            try:
                return json.loads(item.text)
            except (ValueError, RecursionError) as exc:  # RecursionError: nested past the stack
                raise ValueError(f"tool call {tool!r}: argument {item.key!r} of type {item.kind!r} "
                                 f"is not JSON: {item.text[:80]!r}") from exc
        return self.decode_value(tool, item.key, item.text)

    def _arguments(self, call: _Call) -> dict[str, Any]:
        """A whole call's arguments. Raises ``ValueError``."""
        blocks = [i for i in call.items if i.key is None]
        if blocks:
            if len(call.items) > 1:
                raise ValueError(f"tool call {call.name!r}: a JSON block of arguments must be "
                                 f"the call's only content")
            try:
                args = json.loads(blocks[0].text)
            except RecursionError as exc:
                raise ValueError(f"tool call {call.name!r}: arguments nested too deep") from exc
            if not isinstance(args, dict):
                raise ValueError(f"tool call {call.name!r}: the arguments are not a JSON object")
            return args
        args = {}
        for item in call.items:
            if item.key in args:
                raise ValueError(f"tool call {call.name!r} sets parameter {item.key!r} twice")
            args[item.key] = self._value(call.name, item)
        return args

    def parse_calls(self, region: str) -> ParsedCalls:
        calls, end, whole = self._read(region)
        if not calls:
            raise ValueError(f"no kimi-k3 tool call found in {region[:200]!r}")
        if not whole:
            raise ValueError(f"malformed or unfinished kimi-k3 tool call at {region[end:end + 200]!r}")
        return ParsedCalls([(c.name, self._arguments(c), None) for c in calls], region[end:])

    def scan_calls(self, region: str) -> list[PartialCall]:
        return [self._partial_call(call) for call in self._read(region)[0]]

    def _partial_call(self, call: _Call) -> PartialCall:
        """The call's arguments as JSON text so far (whole values, then the text of a string
        value under way, held back where it may be the start of its closing tag); a JSON block
        as the model writes it."""
        if call.items and call.items[0].key is None:
            block = call.items[0]
            if block.closed:
                return PartialCall(call.name, block.text.strip(), call.closed and len(call.items) == 1)
            text = block.text.lstrip()
            return PartialCall(call.name, text[: len(text) - holdback(text, [JSON_CLOSE])])
        parts: list[str] = []
        seen: set[str] = set()
        for item in call.items:
            if item.key is None or item.key in seen:  # malformed: left to parse_calls
                return PartialCall(call.name, "{" + ", ".join(parts))
            seen.add(item.key)
            head = json.dumps(item.key, ensure_ascii=False) + ": "
            if item.closed:
                try:
                    value = self._value(call.name, item)
                except ValueError:
                    return PartialCall(call.name, "{" + ", ".join(parts))
                parts.append(head + json.dumps(value, ensure_ascii=False))
                continue
            if item.kind == "string" or (item.kind is None and self._is_text(call.name, item.key)):
                text = item.text[: len(item.text) - holdback(item.text, [ARG_CLOSE])]
                parts.append(head + json.dumps(text, ensure_ascii=False)[:-1])
            return PartialCall(call.name, "{" + ", ".join(parts))
        return PartialCall(call.name, "{" + ", ".join(parts) + ("}" if call.closed else ""), call.closed)

    # ---- history
    def assistant_message(self, turn: Turn) -> dict[str, Any]:
        # the template writes each argument's type and value itself (a string raw, others JSON)
        return ToolCallFormat.assistant_message(self, turn)
