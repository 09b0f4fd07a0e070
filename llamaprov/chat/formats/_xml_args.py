"""What the formats that write each argument of a call in its own XML-ish element share (GLM 4.5+,
Qwen3-Coder, Seed-OSS, MiniMax-M2): a string parameter's value is the raw text up to the element's
closing tag, any other value is JSON.

A format subclasses :class:`XmlArgsFormat` and describes its syntax by the canonical texts its
template renders (:attr:`~XmlArgsFormat.call_head` and the others). From them come the grammar
(those texts exactly, a value by its parameter's schema), the parser (whitespace between elements
is free) and the history (arguments as an object whose non-string values are JSON text, which
the templates print as they are).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from llamaprov import grammars
from llamaprov.chat.formats._base import ParsedCalls, ToolCallFormat
from llamaprov.chat.formats._gbnf import _ARGS_WHITESPACE, gbnf_literal, prefix_rules, repeated
from llamaprov.chat.formats._json import PartialCall
from llamaprov.chat.tools import ToolDef
from llamaprov.chat.turns import Turn
from llamaprov.engine._text import holdback
from llamaprov.errors import ToolError

# the rule of a raw-text value (any text without the value's closing tag)
_RAW_RULE = "xml-raw"
# a tool or parameter name inside a tag: up to the tag's end
_NAME = r'[^\s<>"=]+'
_KEY = r'[^<>"\n]+?'
# the parsing regexes of each format (see XmlArgsFormat._patterns)
_PATTERNS: dict[type, tuple[re.Pattern[str], ...]] = {}


def resolve(schema: Any, root: Mapping[str, Any]) -> Any:
    """``schema`` with a local ``$ref`` (``#/$defs/...``) followed into ``root``."""
    for _ in range(16):
        ref = schema.get("$ref") if isinstance(schema, Mapping) else None
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return schema
        target: Any = root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, Mapping) else None
        schema = target
    return schema


def is_string_schema(schema: Any, root: Mapping[str, Any]) -> bool:
    """Whether a parameter's value is written as raw text: its schema allows strings and nothing
    else (null aside: an optional parameter is left out rather than written as null)."""
    schema = resolve(schema, root)
    if not isinstance(schema, Mapping):
        return False
    kind = schema.get("type")
    if isinstance(kind, str):
        return kind == "string"
    if isinstance(kind, list):
        return "string" in kind and set(kind) <= {"string", "null"}
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            others = [b for b in branches if resolve(b, root) != {"type": "null"}]
            return bool(others) and all(is_string_schema(b, root) for b in others)
    values = schema.get("enum", [schema["const"]] if "const" in schema else None)
    return isinstance(values, list) and bool(values) and all(isinstance(v, str) for v in values)


def _string_choices(schema: Any, root: Mapping[str, Any]) -> list[str] | None:
    """The values of a string parameter limited to a list (``enum``, ``const``), else None."""
    schema = resolve(schema, root)
    if not isinstance(schema, Mapping):
        return None
    values = schema.get("enum", [schema["const"]] if "const" in schema else None)
    if isinstance(values, list) and values and all(isinstance(v, str) for v in values):
        return list(dict.fromkeys(values))
    return None


def raw_text_rules(close: str, name: str) -> dict[str, str]:
    """Rules of any text that does not contain ``close`` (root rule ``name``): one rule per
    length of the prefix of ``close`` the text ends with, so each character has one way to go."""
    def state(k: int) -> str:
        return name if k == 0 else f"{name}-{k}"

    def step(k: int, c: str) -> int:  # the longest prefix of `close` that ends close[:k] + c
        seen = close[:k] + c
        return next((m for m in range(len(seen), 0, -1) if seen.endswith(close[:m])), 0)

    rules: dict[str, str] = {}
    for k in range(len(close)):
        # characters that move on (or would complete `close`); any other one goes back to the start
        moving = {c: step(k, c) for c in sorted(set(close)) if step(k, c)}
        others = "".join(f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}" for c in moving)
        alternatives = [f"[^{others}] {name}"]
        alternatives += [f"{gbnf_literal(c)} {state(t)}" for c, t in moving.items() if t < len(close)]
        rules[state(k)] = "( " + " | ".join(alternatives) + " )?"
    return rules


@dataclass
class _RawCall:
    """A call as far as the region shows it: its arguments as (key, value text, closed)."""

    name: str
    args: list[tuple[str, str, bool]] = field(default_factory=list)
    closed: bool = False


@dataclass
class XmlArgsFormat(ToolCallFormat):
    """A format whose calls write each argument in its own element. Subclasses set the canonical
    texts below (``{name}``: the tool's name, ``{key}``: the parameter's; a ``\\n`` in them stands
    for any whitespace when parsing) and :attr:`triggers`.

    ``tool_schemas``: the offered tools' parameter schemas by name (see :meth:`for_tools`); a
    value of a parameter they do not describe is JSON if it parses as such, else text.
    """

    tool_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)

    # around all the calls of a reply (MiniMax's <minimax:tool_call>), else empty
    wrap: ClassVar[tuple[str, str]] = ("", "")
    # opens a call up to its first argument
    call_head: ClassVar[str] = ""
    # opens an argument up to its value
    arg_head: ClassVar[str] = ""
    # what ``{kind}`` in :attr:`arg_head` stands for: (a raw-text value, a JSON value), where
    # the opening says which (GigaChat 3.5's ``string="true"``)
    arg_kinds: ClassVar[tuple[str, str]] = ("", "")
    # the closing tag of a value (a raw value cannot contain it)
    value_close: ClassVar[str] = ""
    # around a value inside its element (Qwen3-Coder's newlines), stripped once on each side
    value_pad: ClassVar[str] = ""
    # after a value's closing tag
    arg_gap: ClassVar[str] = "\n"
    # closes a call
    call_tail: ClassVar[str] = ""
    # between two calls
    call_sep: ClassVar[str] = "\n"
    # every newline of the texts above is optional in the grammar (GLM's templates differ)
    optional_newlines: ClassVar[bool] = False

    def for_tools(self, tools: Sequence[ToolDef]) -> XmlArgsFormat:
        return dataclasses.replace(self, tool_schemas={t.name: t.parameters for t in tools})

    def call_example(self) -> str:
        arg = (self.arg_head.replace("{key}", "<parameter name>") + self.value_pad + "<value>"
               + self.value_pad + self.value_close + self.arg_gap)
        call = self.call_head.replace("{name}", "<tool name>") + arg + self.call_tail
        return self.wrap[0] + call + self.wrap[1]

    # ---- grammar
    def _g(self, text: str) -> str:
        """GBNF of a canonical text ("" when it is empty)."""
        if not self.optional_newlines:
            return gbnf_literal(text) if text else ""
        out: list[str] = []
        for i, piece in enumerate(text.split("\n")):
            if i:
                out.append('"\\n"?')
            if piece:
                out.append(gbnf_literal(piece))
        return " ".join(out)

    def _call_rules(self, alternatives: str, max_calls: int | None) -> dict[str, str]:
        calls, chain = repeated("tc-call", self._g(self.call_sep), max_calls, "tc-more")
        root = " ".join(p for p in (self._g(self.wrap[0]), calls, self._g(self.wrap[1])) if p)
        return {"root": root, "tc-call": f"( {alternatives} )", **chain}

    def _grammar_parts(self, tools: Sequence[ToolDef],
                       max_calls: int | None) -> tuple[dict[str, str], list[str]]:
        if not tools:
            raise ToolError("a tool-call grammar needs at least one tool")
        tool_rules: dict[str, str] = {}
        texts: list[str] = []
        for i, td in enumerate(tools):
            tool_rules[f"tc-tool{i}"] = self._tool_rule(td, f"tool{i}-", texts)
        rules = self._call_rules(" | ".join(tool_rules), max_calls)
        rules.update(tool_rules)
        rules.update(raw_text_rules(self.value_close, _RAW_RULE))
        return rules, texts

    def _tool_rule(self, td: ToolDef, prefix: str, texts: list[str]) -> str:
        """The rule of one call of ``td``: its parameters in the schema's order, the required
        ones always, the others optionally; ``texts`` receives the JSON values' grammars."""
        root = td.parameters
        props = root.get("properties")
        props = dict(props) if isinstance(props, Mapping) else {}
        required = root.get("required")
        required = [k for k in required if isinstance(k, str)] if isinstance(required, list) else []
        for key in required:
            props.setdefault(key, {})
        parts = [self._call_head_gbnf(td)]
        for j, (key, schema) in enumerate(props.items()):
            if schema is False:
                if key in required:
                    raise ToolError(f"tool {td.name!r}: required parameter {key!r} has the schema false")
                continue
            value = self._value_rule(td, schema, f"{prefix}p{j}-", texts)
            pad = self._g(self.value_pad)
            arg = " ".join(p for p in (self._arg_head_gbnf(td, key, schema), pad, value, pad,
                                       gbnf_literal(self.value_close), self._g(self.arg_gap)) if p)
            parts.append(arg if key in required else f"( {arg} )?")
        parts.append(self._g(self.call_tail))
        return " ".join(p for p in parts if p)

    def _call_head_gbnf(self, td: ToolDef) -> str:
        """GBNF of the text that opens a call of ``td`` (:attr:`call_head`)."""
        return self._g(self.call_head.replace("{name}", td.name))

    def _arg_head_gbnf(self, td: ToolDef, key: str, schema: Any) -> str:
        """GBNF of the text that opens the argument ``key`` of ``td`` (:attr:`arg_head`; a
        format whose head describes the value, such as Kimi-K3's type attribute, reads
        ``schema``)."""
        return self._g(self._arg_head(key, is_string_schema(schema, td.parameters)))

    def _arg_head(self, key: str, text: bool) -> str:
        """The opening of argument ``key``, whose value is raw text (``text``) or JSON."""
        return self.arg_head.replace("{key}", key).replace("{kind}", self.arg_kinds[0 if text else 1])

    def _value_rule(self, td: ToolDef, schema: Any, prefix: str, texts: list[str]) -> str:
        root = td.parameters
        if is_string_schema(schema, root):
            choices = _string_choices(schema, root)
            return f"( {' | '.join(gbnf_literal(c) for c in choices)} )" if choices else _RAW_RULE
        alone = dict(schema) if isinstance(schema, Mapping) else {}
        for key in ("$defs", "definitions"):  # what a local $ref of the property points into
            if key in root and key not in alone:
                alone[key] = root[key]
        try:
            gbnf = grammars.compile_schema(alone, whitespace=_ARGS_WHITESPACE, additional_properties=False,
                                           approximate=True).grammar
        except Exception as exc:
            raise ToolError(f"tool {td.name!r}: cannot compile a parameter's schema {schema!r}: "
                            f"{exc}") from exc
        texts.append(prefix_rules(gbnf, prefix))
        return prefix + "root"

    # ---- parsing
    def _regex(self, text: str, **groups: str) -> re.Pattern[str]:
        """A regex of a canonical text: leading and inner newlines any whitespace, each
        ``{group}`` of ``groups`` captured."""
        out = [r"\s*"]
        for piece in re.split(r"(\{\w+\}|\n)", text):
            if piece == "\n":
                out.append(r"\s*")
            elif piece.startswith("{") and piece[1:-1] in groups:
                out.append(f"(?P<{piece[1:-1]}>{groups[piece[1:-1]]})")
            elif piece:
                out.append(re.escape(piece))
        return re.compile("".join(out))

    def _patterns(self) -> tuple[re.Pattern[str], ...]:
        cached = _PATTERNS.get(type(self))
        if cached is None:
            # a name that ends the head's text must be followed by whitespace or a tag to be whole
            name = _NAME + (r"(?=[\s<])" if self.call_head.rstrip("\n").endswith("{name}") else "")
            kind = "|".join(map(re.escape, self.arg_kinds))
            cached = (self._regex(self.wrap[0]), self._regex(self.wrap[1]),
                      self._regex(self.call_head, name=name),
                      self._regex(self.arg_head, key=_KEY, kind=kind),
                      self._regex(self.call_tail))
            _PATTERNS[type(self)] = cached
        return cached

    def _walk(self, region: str) -> tuple[list[_RawCall], int, bool]:
        """The calls of ``region`` as far as they go, where reading stopped, and whether it
        stopped after whole calls (False: at something cut off or malformed)."""
        wrap_open, wrap_close, call_open, arg_open, call_close = self._patterns()
        calls: list[_RawCall] = []
        pos, done = 0, 0
        while True:
            if self.wrap[0]:
                w = wrap_open.match(region, pos)
                if not w:
                    return calls, done, bool(calls)
                pos = w.end()
            n_before = len(calls)
            while m := call_open.match(region, pos):
                call = _RawCall(m["name"])
                calls.append(call)
                pos = m.end()
                while a := arg_open.match(region, pos):
                    end = region.find(self.value_close, a.end())
                    if end < 0:
                        call.args.append((a["key"], region[a.end():], False))
                        return calls, done, False
                    call.args.append((a["key"], self._unpad(region[a.end():end]), True))
                    pos = end + len(self.value_close)
                t = call_close.match(region, pos)
                if not t:
                    return calls, done, False
                call.closed = True
                pos = t.end()
                if not self.wrap[0]:
                    done = pos
            if not self.wrap[0]:
                return calls, done, bool(calls)
            w = wrap_close.match(region, pos)
            if not w or len(calls) == n_before:
                return calls, done, False
            pos = done = w.end()

    def _unpad(self, value: str) -> str:
        pad = self.value_pad
        if pad and value.startswith(pad):
            value = value[len(pad):]
        if pad and value.endswith(pad):
            value = value[: -len(pad)]
        return value

    def _param_schema(self, tool: str, key: str) -> tuple[Any, Mapping[str, Any]] | None:
        root = self.tool_schemas.get(tool)
        props = root.get("properties") if isinstance(root, Mapping) else None
        if not isinstance(root, Mapping) or not isinstance(props, Mapping) or key not in props:
            return None
        return props[key], root

    def _is_text(self, tool: str, key: str) -> bool | None:
        """Whether the parameter's value is raw text (None: the schemas do not say)."""
        found = self._param_schema(tool, key)
        return None if found is None else is_string_schema(*found)

    def decode_value(self, tool: str, key: str, text: str) -> Any:
        """The value of an argument written as ``text``: the text itself for a string parameter,
        else its JSON (text that is not JSON stays text, for the schema check to refuse)."""
        if self._is_text(tool, key):
            return text
        try:
            return json.loads(text)
        except ValueError:
            stripped = text.strip()
            # Seed-OSS and Qwen3-Coder templates print Python's True/False for booleans
            return {"True": True, "False": False}.get(stripped, text)

    def parse_calls(self, region: str) -> ParsedCalls:
        calls, end, whole = self._walk(region)
        if not calls:
            raise ValueError(f"no {self.name} tool call found in {region[:200]!r}")
        if not whole:
            raise ValueError(f"malformed or unfinished {self.name} tool call at {region[end:end + 200]!r}")
        parsed: list[tuple[str, dict[str, Any], str | None]] = []
        for call in calls:
            args: dict[str, Any] = {}
            for key, text, _ in call.args:
                if key in args:
                    raise ValueError(f"tool call {call.name!r} sets parameter {key!r} twice")
                args[key] = self.decode_value(call.name, key, text)
            parsed.append((call.name, args, None))
        return ParsedCalls(parsed, region[end:])

    def scan_calls(self, region: str) -> list[PartialCall]:
        calls, _, _ = self._walk(region)
        return [self._partial(call) for call in calls]

    def _partial(self, call: _RawCall) -> PartialCall:
        """The call's arguments as JSON text so far: whole values, then the text of a string
        value under way (held back where it may be the start of its closing tag)."""
        items: list[str] = []
        seen: set[str] = set()
        for key, text, closed in call.args:
            if key in seen:  # malformed: left to parse_calls
                return PartialCall(call.name, "{" + ", ".join(items))
            seen.add(key)
            head = json.dumps(key, ensure_ascii=False) + ": "
            if closed:
                items.append(head + json.dumps(self.decode_value(call.name, key, text), ensure_ascii=False))
                continue
            if self._is_text(call.name, key) and len(text) >= len(self.value_pad):
                if text.startswith(self.value_pad):
                    text = text[len(self.value_pad):]
                closing = [self.value_pad + self.value_close, self.value_close]
                text = text[: len(text) - holdback(text, closing)]
                items.append(head + json.dumps(text, ensure_ascii=False)[:-1])
            return PartialCall(call.name, "{" + ", ".join(items))
        return PartialCall(call.name, "{" + ", ".join(items) + ("}" if call.closed else ""), call.closed)

    # ---- history
    def assistant_message(self, turn: Turn) -> dict[str, Any]:
        message = super().assistant_message(turn)
        for call in message.get("tool_calls", []):
            function = call["function"]
            function["arguments"] = {
                k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                for k, v in function["arguments"].items()
            }
        return message

