"""Gemma 4 tool calls: ``<|tool_call>call:name{key:value,...}<tool_call|>`` per call.

The arguments are not JSON but Gemma's own dictionary syntax, as its template renders them: keys
bare, strings between ``<|"|>`` markers (no escapes), numbers, ``true``/``false``/``null``, and
nested ``{...}`` / ``[...]`` written the same way. Tool results go back on the assistant message
that made the calls (``tool_responses``), which the templates render as
``<|tool_response>response:name{...}<tool_response|>`` right after the calls, in the same turn.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from llamaprov import grammars
from llamaprov.chat.formats._base import ParsedCalls, ToolCallFormat
from llamaprov.chat.formats._gbnf import gbnf_literal, prefix_rules, repeated
from llamaprov.chat.formats._json import PartialCall
from llamaprov.chat.formats._registry import register_tool_format
from llamaprov.chat.formats._xml_args import raw_text_rules, resolve
from llamaprov.chat.tools import ToolDef
from llamaprov.chat.turns import Turn
from llamaprov.engine._text import holdback
from llamaprov.errors import ToolError, describe

_OPEN = "<|tool_call>"
_CLOSE = "<tool_call|>"
_CALL = "call:"
_QUOTE = '<|"|>'
# what a Gemma 4 model writes after its calls to end its turn (the template's 31B-it version
# leaves it open after calls that have no response yet)
_RESPONSE_OPEN = "<|tool_response>"
_NAME = re.compile(r"\s*([^\s{}<>]+)\{")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
# what a number may start as, up to the end of the text
_NUMBER_START = re.compile(r"-?\d*(?:\.\d*)?(?:[eE][-+]?\d*)?")
_WORDS = ("true", "false", "null")
_SPACE = " \t\r\n"


class _Incomplete(Exception):
    """The text ends inside the value being read."""


class _ValueReader:
    """Reads one Gemma value and writes it as JSON text, piece by piece, so that what it wrote
    before the text ran out is a prefix of the whole value's JSON (for streaming)."""

    def __init__(self, text: str, *, final: bool) -> None:
        self.text = text
        self.final = final
        self.out: list[str] = []

    def _space(self, pos: int) -> int:
        while pos < len(self.text) and self.text[pos] in _SPACE:
            pos += 1
        if pos >= len(self.text):
            raise _Incomplete
        return pos

    def value(self, pos: int) -> int:
        """Read the value at ``pos`` (after spaces); return where it ends."""
        pos = self._space(pos)
        c = self.text[pos]
        if c == "{":
            return self._dict(pos + 1)
        if c == "[":
            return self._list(pos + 1)
        if self.text.startswith(_QUOTE, pos):
            return self._string(pos + len(_QUOTE))
        if _QUOTE.startswith(self.text[pos:]):
            raise _Incomplete
        if not self.final and _NUMBER_START.fullmatch(self.text, pos):
            raise _Incomplete  # a number whose digits may go on
        m = _NUMBER.match(self.text, pos)
        if m:
            self.out.append(m.group(0))
            return m.end()
        for word in _WORDS:
            if self.text.startswith(word, pos):
                self.out.append(word)
                return pos + len(word)
            if word.startswith(self.text[pos:]):
                raise _Incomplete
        raise ValueError(f"expected a value at {self.text[pos:pos + 40]!r}")

    def _string(self, pos: int) -> int:
        self.out.append('"')
        end = self.text.find(_QUOTE, pos)
        body = self.text[pos:] if end < 0 else self.text[pos:end]
        if end < 0:
            body = body[:len(body) - holdback(body, [_QUOTE])]
        self.out.append(json.dumps(body, ensure_ascii=False)[1:-1])
        if end < 0:
            raise _Incomplete
        self.out.append('"')
        return end + len(_QUOTE)

    def _key(self, pos: int) -> int:
        """Read a key and its colon (bare, or between markers as the templates write nested
        keys of tool declarations); write it as a JSON key."""
        if self.text.startswith(_QUOTE, pos):
            end = self.text.find(_QUOTE, pos + len(_QUOTE))
            if end < 0:
                raise _Incomplete
            key, pos = self.text[pos + len(_QUOTE):end], self._space(end + len(_QUOTE))
            if self.text[pos] != ":":
                raise ValueError(f"expected ':' after key {key!r}, got {self.text[pos:pos + 40]!r}")
            colon = pos
        else:
            colon = pos
            while colon < len(self.text) and self.text[colon] not in ":{}[],":
                colon += 1
            if colon >= len(self.text):
                raise _Incomplete
            key = self.text[pos:colon].strip()
            if self.text[colon] != ":" or not key:
                raise ValueError(f"expected key: at {self.text[pos:pos + 40]!r}")
        self.out.append(json.dumps(key, ensure_ascii=False) + ": ")
        return colon + 1

    def _dict(self, pos: int) -> int:
        self.out.append("{")
        pos = self._space(pos)
        if self.text[pos] == "}":
            self.out.append("}")
            return pos + 1
        while True:
            pos = self.value(self._key(pos))
            pos = self._space(pos)
            c = self.text[pos]
            if c == "}":
                self.out.append("}")
                return pos + 1
            if c != ",":
                raise ValueError(f"expected ',' or '}}' in a dictionary, got {self.text[pos:pos + 40]!r}")
            self.out.append(", ")
            pos = self._space(pos + 1)

    def _list(self, pos: int) -> int:
        self.out.append("[")
        pos = self._space(pos)
        if self.text[pos] == "]":
            self.out.append("]")
            return pos + 1
        while True:
            pos = self._space(self.value(pos))
            c = self.text[pos]
            if c == "]":
                self.out.append("]")
                return pos + 1
            if c != ",":
                raise ValueError(f"expected ',' or ']' in a list, got {self.text[pos:pos + 40]!r}")
            self.out.append(", ")
            pos += 1


def gemma_to_json(text: str) -> str:
    """A whole Gemma 4 value (``{city:<|"|>Paris<|"|>}``) as JSON text. Raises ``ValueError``."""
    reader = _ValueReader(text, final=True)
    try:
        end = reader.value(0)
    except _Incomplete:
        raise ValueError(f"incomplete value: {text[:80]!r}") from None
    if text[end:].strip():
        raise ValueError(f"unexpected text after the value: {text[end:end + 40]!r}")
    return "".join(reader.out)


def format_gemma_value(value: Any) -> str:
    """``value`` (JSON data) written in Gemma 4's syntax, keys bare, as its templates do."""
    if isinstance(value, str):
        return _QUOTE + value + _QUOTE
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}:{format_gemma_value(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_gemma_value(v) for v in value) + "]"
    raise ToolError(f"cannot write {describe(value)} as a Gemma 4 value")


@register_tool_format
class Gemma4Format(ToolCallFormat):
    """Gemma 4: ``<|tool_call>call:name{key:<|"|>text<|"|>,n:1}<tool_call|>``; parallel calls
    follow one another with nothing between them."""

    name = "gemma4"
    triggers = (_OPEN,)
    detect_order = 12

    @classmethod
    def detects(cls, template: str) -> bool:
        return _OPEN + _CALL in template

    def call_example(self) -> str:
        return f"{_OPEN}{_CALL}<tool name>{{key:{_QUOTE}text{_QUOTE},number:1}}{_CLOSE}"

    # ---- grammar
    def _call_rules(self, alternatives: str, max_calls: int | None) -> dict[str, str]:
        calls, chain = repeated("tc-call", "", max_calls, "tc-more")
        return {
            "root": calls,
            "tc-call": f"{gbnf_literal(_OPEN + _CALL)} ( {alternatives} ) {gbnf_literal(_CLOSE)}",
            **chain,
        }

    def _grammar_parts(self, tools: Sequence[ToolDef],
                       max_calls: int | None) -> tuple[dict[str, str], list[str]]:
        if not tools:
            raise ToolError("a tool-call grammar needs at least one tool")
        values = _ValueGrammar()
        alternatives = []
        for i, td in enumerate(tools):
            root = values.rule(td.parameters, td.parameters, f"t{i}", td.name)
            alternatives.append(f"( {gbnf_literal(td.name)} {root} )")
        return self._call_rules(" | ".join(alternatives), max_calls), values.texts()

    # ---- parsing
    def _calls(self, region: str, *, whole: bool) -> tuple[list[PartialCall], int]:
        """The calls of ``region`` and where they end; ``whole``: anything but well-formed calls
        raises ``ValueError``."""
        calls: list[PartialCall] = []
        pos = 0
        while True:
            start = _skip_space(region, pos)
            if not region.startswith(_OPEN + _CALL, start):
                if whole and region.startswith(_OPEN, start):
                    raise ValueError(f"expected {_OPEN + _CALL!r}, got {region[start:start + 40]!r}")
                return calls, pos
            head = _NAME.match(region, start + len(_OPEN + _CALL))
            if head is None:  # the name is still being written, or malformed
                if whole:
                    raise ValueError(f"malformed call head: {region[start:start + 80]!r}")
                return calls, pos
            reader = _ValueReader(region, final=whole)
            try:
                end = reader.value(head.end() - 1)
            except _Incomplete:
                if whole:
                    raise ValueError(f"tool call {head.group(1)!r}: incomplete arguments") from None
                calls.append(PartialCall(head.group(1), "".join(reader.out)))
                return calls, len(region)
            calls.append(PartialCall(head.group(1), "".join(reader.out), True))
            pos = _skip_space(region, end)
            if region.startswith(_CLOSE, pos):
                pos += len(_CLOSE)
            elif whole:
                raise ValueError(f"tool call {head.group(1)!r}: expected {_CLOSE!r} after its "
                                 f"arguments, got {region[pos:pos + 40]!r}")
            else:
                return calls, pos

    def parse_calls(self, region: str) -> ParsedCalls:
        partials, pos = self._calls(region, whole=True)
        if not partials:
            raise ValueError(f"no tool call found in {region[:200]!r}")
        calls: list[tuple[str, dict[str, Any], str | None]] = []
        for partial in partials:
            args = json.loads(partial.arguments_text)
            if not isinstance(args, dict):  # the name's "{" opens the arguments: always a dict
                raise ValueError(f"tool call {partial.name!r}: arguments must be a dictionary")
            calls.append((str(partial.name), args, None))
        rest = region[pos:]
        if rest.lstrip().startswith(_RESPONSE_OPEN):
            rest = rest.lstrip()[len(_RESPONSE_OPEN):]
        if _OPEN in rest:
            raise ValueError(f"unexpected text between tool calls: {rest[:60]!r}")
        return ParsedCalls(calls, rest)

    def scan_calls(self, region: str) -> list[PartialCall]:
        return self._calls(region, whole=False)[0]

    # ---- history
    def render_messages(
        self, turns: Sequence[Turn], tools: Sequence[ToolDef], *, parallel: bool | None = None,
        max_calls: int | None = None,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
        """As the base class, then each call's results (and the answer that followed them) moved
        onto the assistant message of the calls, as ``tool_responses``: the Gemma 4 templates
        show results only there (the 31B-it one also reads ``tool`` messages, the others not)."""
        messages, tool_list = super().render_messages(turns, tools, parallel=parallel,
                                                      max_calls=max_calls)
        return merge_tool_responses(messages), tool_list


def merge_tool_responses(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` with each assistant message that makes calls taking the ``tool`` messages
    after it as ``tool_responses`` (``{"name", "response"}``: a result that is a JSON object as
    a dictionary, any other as its text), and the plain answer after them as its ``content``
    when it has none: the model's turn as Gemma 4 writes it, calls, results, answer."""
    out: list[dict[str, Any]] = []
    i = 0
    while i < len(messages):
        message = messages[i]
        i += 1
        if message["role"] != "assistant" or not message.get("tool_calls"):
            out.append(message)
            continue
        message = dict(message)
        names = {c.get("id"): c["function"]["name"] for c in message["tool_calls"]}
        responses = []
        while i < len(messages) and messages[i]["role"] == "tool":
            result = messages[i]
            i += 1
            name = names.get(result.get("tool_call_id")) or result.get("name") or "unknown"
            responses.append({"name": name,
                              "response": _response_value(str(result.get("content") or ""))})
        if responses:
            message["tool_responses"] = responses
            after = messages[i] if i < len(messages) else None
            if (after is not None and after["role"] == "assistant" and not after.get("tool_calls")
                    and after.get("content") and not message.get("content")):
                message["content"] = after["content"]
                i += 1
        out.append(message)
    return out


def _response_value(text: str) -> Any:
    if text.lstrip().startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            return text
        if isinstance(value, dict):
            return value
    return text


class _ValueGrammar:
    """GBNF of Gemma 4 values from JSON schemas: the keywords that shape the syntax (types,
    properties, required, items, enum, const, anyOf/oneOf, local $ref); others widen to a
    superset, as the arguments are validated against the schema before the tool runs."""

    def __init__(self) -> None:
        self.rules: dict[str, str] = {}
        self._n = 0
        self._any = False

    def texts(self) -> list[str]:
        return [f"{name} ::= {body}" for name, body in self.rules.items()]

    def _new(self, prefix: str, body: str) -> str:
        self._n += 1
        name = f"{prefix}-{self._n}"
        self.rules[name] = body
        return name

    def any_value(self) -> str:
        """The rule of any value (a schema that does not say)."""
        if not self._any:
            self._any = True
            self.rules.update(raw_text_rules(_QUOTE, "g4-raw"))
            self.rules["g4-string"] = f"{gbnf_literal(_QUOTE)} g4-raw {gbnf_literal(_QUOTE)}"
            self.rules["g4-number"] = '"-"? ([0-9] | [1-9] [0-9]*) ("." [0-9]+)? ([eE] [-+]? [0-9]+)?'
            self.rules["g4-key"] = "[^:{}\\[\\],<\\x20\\t\\r\\n] [^:{}\\[\\],<]*"
            self.rules["g4-dict"] = '"{" ( g4-key ":" g4-value ( "," g4-key ":" g4-value )* )? "}"'
            self.rules["g4-list"] = '"[" ( g4-value ( "," g4-value )* )? "]"'
            self.rules["g4-value"] = ('g4-string | g4-number | g4-dict | g4-list | "true" | "false" '
                                      '| "null"')
        return "g4-value"

    def rule(self, schema: Any, root: Any, prefix: str, where: str) -> str:
        """A rule name (or expression) matching the Gemma values of ``schema``."""
        schema = resolve(schema, root if isinstance(root, Mapping) else {})
        if schema is True or schema == {} or not isinstance(schema, Mapping):
            return self.any_value()
        for key in ("enum", "const"):
            if key in schema:
                values = schema[key] if key == "enum" else [schema[key]]
                if isinstance(values, list) and values:
                    return "( " + " | ".join(gbnf_literal(format_gemma_value(v)) for v in values) + " )"
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and branches:
                return "( " + " | ".join(self.rule(b, root, prefix, where) for b in branches) + " )"
        kind = schema.get("type")
        if isinstance(kind, list) and kind:
            return "( " + " | ".join(self.rule({**schema, "type": k}, root, prefix, where)
                                     for k in kind) + " )"
        if kind == "string":
            self.any_value()
            return "g4-string"
        if kind == "object" or (kind is None and "properties" in schema):
            return self._object(schema, root, prefix, where)
        if kind == "array":
            items = self.rule(schema.get("items", {}), root, prefix, where)
            if isinstance(schema.get("minItems"), int) and schema["minItems"] > 0:
                return self._new(prefix, f'"[" {items} ( "," {items} )* "]"')
            return self._new(prefix, f'"[" ( {items} ( "," {items} )* )? "]"')
        if kind in ("integer", "number", "boolean", "null"):
            return self._scalar(schema, root, prefix, where)
        return self.any_value()

    def _scalar(self, schema: Mapping[str, Any], root: Any, prefix: str, where: str) -> str:
        # numbers, booleans and null are written as in JSON: their JSON grammar serves as is
        try:
            gbnf = grammars.compile_schema(dict(schema), whitespace="compact", approximate=True).grammar
        except Exception as exc:
            raise ToolError(f"tool {where!r}: cannot compile {describe(dict(schema))}: {exc}") from exc
        self._n += 1
        name = f"{prefix}-j{self._n}-"
        for line in prefix_rules(gbnf, name).splitlines():
            head, sep, body = line.partition("::=")
            if sep and head.strip():
                self.rules[head.strip()] = body.strip()
            elif line.strip() and not line.lstrip().startswith("#"):
                raise ToolError(f"tool {where!r}: unexpected grammar line {line!r}")
        return name + "root"

    def _object(self, schema: Mapping[str, Any], root: Any, prefix: str, where: str) -> str:
        props = schema.get("properties")
        if not isinstance(props, Mapping) or not props:
            if schema.get("additionalProperties") is False:
                return '( "{" "}" )'
            self.any_value()
            return "g4-dict"
        required = set(schema.get("required") or ())
        # the templates write keys sorted (dictsort): the model has seen them so.
        # rest: the members from j on, each after a comma; first: the same, the first one
        # written without its comma (None: nothing left)
        rest: str | None = None
        first: str | None = None
        for key, value in sorted(props.items(), reverse=True):
            member = f"{gbnf_literal(key + ':')} {self.rule(value, root, prefix, where)}"
            tail = f" {rest}" if rest else ""
            if key in required:
                first = self._new(prefix, f"{member}{tail}")
                rest = self._new(prefix, f'"," {member}{tail}')
            else:
                first = self._new(prefix, f"( {member}{tail} | {first} )" if first
                                  else f"( {member}{tail} )?")
                rest = self._new(prefix, f'( "," {member} )?{tail}')
        return self._new(prefix, f'"{{" {first} "}}"')


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _SPACE:
        pos += 1
    return pos


__all__ = ["Gemma4Format", "format_gemma_value", "gemma_to_json", "merge_tool_responses"]
