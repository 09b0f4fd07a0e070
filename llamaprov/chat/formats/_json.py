"""JSON scanning for tool calls: complete and partial calls in generated text."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llamaprov.errors import describe

_NAME_RE = re.compile(r'"name"\s*:\s*"((?:[^"\\]|\\.)*)"')
_ARGS_RE = re.compile(r'"(?:arguments|parameters)"\s*:\s*')


def json_value_end(text: str, start: int) -> int | None:
    """Index just past the JSON value starting at ``start`` (after spaces), None if incomplete."""
    i, n = start, len(text)
    while i < n and text[i] in " \t\r\n":
        i += 1
    if i >= n:
        return None
    if text[i] == '"':
        j = i + 1
        while j < n:
            if text[j] == "\\":
                j += 2
                continue
            if text[j] == '"':
                return j + 1
            j += 1
        return None
    if text[i] in "{[":
        depth, j, in_str = 0, i, False
        while j < n:
            ch = text[j]
            if in_str:
                if ch == "\\":
                    j += 1
                elif ch == '"':
                    in_str = False
            elif ch == '"':
                in_str = True
            elif ch in "{[":
                depth += 1
            elif ch in "}]":
                depth -= 1
                if depth == 0:
                    return j + 1
            j += 1
        return None
    m = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null").match(text, i)
    if m and m.end() < n:
        return m.end()
    return None


@dataclass
class PartialCall:
    """A tool call as far as it has been generated: name once known, raw argument text so far,
    and the id the model wrote for it (Kimi-K2's ``functions.NAME:IDX``; None: one is made up)."""

    name: str | None
    arguments_text: str = ""
    complete: bool = False
    id: str | None = None


def finished_calls(partials: Sequence[PartialCall], *, keep_ids: bool = True
                   ) -> list[tuple[str, dict[str, Any], str | None]]:
    """The calls of a parsed region's partials: each one's arguments text read as a JSON object
    (``ValueError`` otherwise), with the id the model wrote when ``keep_ids``."""
    calls: list[tuple[str, dict[str, Any], str | None]] = []
    for partial in partials:
        args = json.loads(partial.arguments_text)
        if not isinstance(args, dict):
            raise ValueError(f"tool call {partial.name!r}: arguments must be an object, "
                             f"got {describe(args)}")
        calls.append((str(partial.name), args, partial.id if keep_ids else None))
    return calls


def _json_string(body: str) -> str:
    """The value of a JSON string literal's body; the raw text when it is malformed (a model may
    write ``\\x``)."""
    try:
        return str(json.loads(f'"{body}"'))
    except ValueError:
        return body


def clean_json(value: Any) -> Any:
    """``value`` (parsed JSON) with lone surrogates, which JSON escapes can produce but UTF-8
    cannot encode, replaced by U+FFFD."""
    if isinstance(value, str):
        if value.isascii():
            return value
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, dict):
        return {clean_json(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    return value


def scan_json_calls(text: str) -> list[PartialCall]:
    """Partial calls in ``text`` written as JSON objects with "name" and "arguments"/"parameters"."""
    calls: list[PartialCall] = []
    pos = 0
    while True:
        m = _NAME_RE.search(text, pos)
        if not m:
            return calls
        name = _json_string(m.group(1))
        a = _ARGS_RE.search(text, m.end())
        if not a:
            calls.append(PartialCall(name))
            return calls
        end = json_value_end(text, a.end())
        if end is None:
            calls.append(PartialCall(name, text[a.end() :].lstrip()))
            return calls
        calls.append(PartialCall(name, text[a.end() : end].lstrip(), True))
        pos = end


def decode_json_sequence(text: str, separators: str = " \t\r\n;,") -> list[Any]:
    """All JSON values in ``text`` one after another (separated by spaces, ``;`` or ``,``)."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in separators:
            i += 1
        if i >= n:
            return values
        value, i = decoder.raw_decode(text, i)
        values.append(value)


def call_from_object(obj: Any) -> tuple[str, dict[str, Any], str | None]:
    """(name, arguments, id) from a ``{"name": ..., "arguments"|"parameters": ...}`` object."""
    if not isinstance(obj, dict):
        raise ValueError(f"a tool call must be a JSON object, got {describe(obj)}")
    if isinstance(obj.get("function"), dict):  # OpenAI style {"type": "function", "function": {...}}
        obj = {**obj["function"], "id": obj.get("id")}
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"a tool call needs a string 'name', got {describe(obj)}")
    args = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):
        args = json.loads(args) if args.strip() else {}
    if not isinstance(args, dict):
        raise ValueError(f"tool call {name!r}: arguments must be an object, got {describe(args)}")
    call_id = obj.get("id")
    return name, args, call_id if isinstance(call_id, str) and call_id else None
