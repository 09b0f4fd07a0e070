"""Python-call syntax for tool calls: a list ``[name(key=value, ...), ...]`` whose values are
Python or JSON literals, as LFM2 writes it.

Parsing never evaluates anything: the list is split into calls and keyword arguments by a
scanner that knows brackets and quotes, and each value is read by :func:`literal` from the
syntax tree of :func:`ast.parse`, accepting only literal nodes (strings, numbers, lists, tuples,
dicts, and the names ``true``/``false``/``null``/``True``/``False``/``None``).
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llamaprov import grammars
from llamaprov.chat.formats._gbnf import _ARGS_WHITESPACE, gbnf_literal, prefix_rules
from llamaprov.chat.formats._json import PartialCall, call_from_object, clean_json
from llamaprov.chat.tools import ToolDef
from llamaprov.errors import ToolError

_NAMES = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}
_CALL_HEAD = re.compile(r"\s*([A-Za-z_][\w.\-]*)\s*\(")
_KEY = re.compile(r"\s*([A-Za-z_$][\w.\-$]*)\s*=(?!=)\s*")
_JSON_NAME = re.compile(r'"name"\s*:\s*"((?:[^"\\]|\\.)*)"')
_OPEN = {"(": ")", "[": "]", "{": "}"}


# ------------------------------------------------------------------------------------ values
def literal(source: str) -> Any:
    """The value of one Python or JSON literal; ``ValueError`` for anything else."""
    try:
        with warnings.catch_warnings():  # "invalid escape sequence" in JSON-style strings
            warnings.simplefilter("ignore")
            tree = ast.parse(source.strip(), mode="eval")
        return _value(tree.body, source.strip())
    except (SyntaxError, RecursionError, MemoryError) as exc:
        raise ValueError(f"not a literal: {source[:80]!r} ({type(exc).__name__})") from exc


def _value(node: ast.AST, source: str) -> Any:
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, str):
            # a double-quoted string read as JSON where it is valid JSON: "\/" and surrogate
            # pairs ("\ud83d\ude00") mean what the grammar's JSON strings meant
            segment = ast.get_source_segment(source, node) or ""
            if segment.startswith('"') and not segment.startswith('"""'):
                try:
                    return json.loads(segment)
                except ValueError:
                    pass
            return value
        if value is None or isinstance(value, (bool, int, float)):
            return value
        raise ValueError(f"unsupported literal {value!r}")
    if isinstance(node, ast.Name) and node.id in _NAMES:
        return _NAMES[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _value(node.operand, source)
        if isinstance(operand, bool) or not isinstance(operand, (int, float)):
            raise ValueError("a sign applies to numbers only")
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_value(e, source) for e in node.elts]
    if isinstance(node, ast.Dict):
        out: dict[str, Any] = {}
        for k, v in zip(node.keys, node.values, strict=True):
            key = None if k is None else _value(k, source)
            if not isinstance(key, str):
                raise ValueError(f"object keys must be strings, got {key!r}")
            out[key] = _value(v, source)
        return out
    raise ValueError(f"not a literal: {type(node).__name__} node")


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _stop(text: str, pos: int, stops: str) -> int | None:
    """Index of the first of ``stops`` at ``pos``'s nesting level outside strings (where one
    value ends); None when the text ends first."""
    closers: list[str] = []
    i, n = pos, len(text)
    while i < n:
        c = text[i]
        if c in "'\"":
            i += 1
            while i < n and text[i] != c:
                i += 2 if text[i] == "\\" else 1
            if i >= n:
                return None
        elif c in _OPEN:
            closers.append(_OPEN[c])
        elif closers and c == closers[-1]:
            closers.pop()
        elif not closers and c in stops:
            return i
        i += 1
    return None


# ------------------------------------------------------------------------------------ calls
@dataclass
class CallList:
    """The calls of a ``[...]`` list as far as they are complete (``calls``), the name of the one
    still being written (``pending``), and where the list ends (``end``, past its ``]``; None
    while it is open)."""

    calls: list[tuple[str, dict[str, Any]]]
    pending: str | None = None
    end: int | None = None


def scan_call_list(text: str, pos: int, *, whole: bool) -> CallList:
    """The call list at ``text[pos]`` (``[``, after spaces). ``whole``: the text is complete, and
    anything but a well-formed list of calls raises ``ValueError``; otherwise the scan stops at
    the first call that is incomplete or malformed."""
    found = CallList([])
    pos = _skip_space(text, pos)
    if not text.startswith("[", pos):
        if whole:
            raise ValueError(f"expected a list of calls, got {text[pos:pos + 40]!r}")
        return found
    pos += 1
    while True:
        pos = _skip_space(text, pos)
        if text.startswith("]", pos) and found.calls:
            found.end = pos + 1
            return found
        try:
            step = _call_at(text, pos, found)
        except ValueError:
            if whole:
                raise
            return found
        if step is None:
            if whole:
                raise ValueError(f"incomplete call: {text[pos:pos + 80]!r}")
            return found
        pos = _skip_space(text, step)
        if text.startswith(",", pos):
            pos += 1
        elif not text.startswith("]", pos):
            if whole:
                raise ValueError(f"expected ',' or ']' after a call, got {text[pos:pos + 40]!r}")
            return found


def _call_at(text: str, pos: int, found: CallList) -> int | None:
    """Read the call at ``pos`` into ``found``; where it ends, None while incomplete (the name,
    once known, goes to ``found.pending``)."""
    found.pending = None
    if text.startswith("{", pos):  # the JSON form {"name": ..., "arguments": ...}
        end = _stop(text, pos, ",]")
        if end is None:
            m = _JSON_NAME.search(text, pos)
            found.pending = json.loads(f'"{m.group(1)}"') if m else None
            return None
        obj_name, obj_args, _ = call_from_object(literal(text[pos:end]))
        found.calls.append((obj_name, obj_args))
        return end
    head = _CALL_HEAD.match(text, pos)
    if head is None:
        if re.fullmatch(r"\s*[A-Za-z_][\w.\-]*\s*", text[pos:]):
            return None  # a name still being written
        raise ValueError(f"expected a call name(key=value, ...), got {text[pos:pos + 40]!r}")
    name, pos = head.group(1), head.end()
    found.pending = name
    args: dict[str, Any] = {}
    while True:
        pos = _skip_space(text, pos)
        if pos >= len(text):
            return None
        if text[pos] == ")":
            found.calls.append((name, args))
            found.pending = None
            return pos + 1
        key = _KEY.match(text, pos)
        if key is None:
            if re.fullmatch(r"\s*[\w.\-$]*\s*", text[pos:]):
                return None
            raise ValueError(f"tool call {name!r}: expected key=value, got {text[pos:pos + 40]!r}")
        end = _stop(text, key.end(), ",)")
        if end is None:
            return None
        if key.group(1) in args:
            raise ValueError(f"tool call {name!r}: argument {key.group(1)!r} given twice")
        args[key.group(1)] = literal(text[key.end():end])
        pos = end + 1 if text[end] == "," else end


def partial_calls(found: CallList) -> list[PartialCall]:
    """The scan of a call list as streaming :class:`PartialCall`s: complete calls with their
    arguments as JSON text, then the one being written by its name alone."""
    out = [PartialCall(name, json.dumps(clean_json(args), ensure_ascii=False), True)
           for name, args in found.calls]
    if found.pending is not None and found.end is None:
        out.append(PartialCall(found.pending))
    return out


def format_call(name: str, arguments: dict[str, Any]) -> str:
    """One call in Python-call syntax, values as JSON literals (what the grammar writes)."""
    args = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in arguments.items())
    return f"{name}({args})"


# ------------------------------------------------------------------------------------ grammar
def kwargs_grammars(tools: Sequence[ToolDef]) -> tuple[list[str], list[str]]:
    """For each tool, a rule of its call ``name(key=value, ...)`` (the schema's properties in
    their order, the required ones always, values as JSON); returns (rule names, grammar texts)."""
    roots: list[str] = []
    texts: list[str] = []
    for i, td in enumerate(tools):
        schema = td.parameters if isinstance(td.parameters, dict) else {}
        props = schema.get("properties") or {}
        required = set(schema.get("required") or ())
        defs = {k: schema[k] for k in ("$defs", "definitions") if k in schema}
        rules: list[str] = []
        items: list[tuple[str, bool]] = []
        for j, (key, sub) in enumerate(props.items()):
            if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_$][\w.\-$]*", key):
                raise ToolError(f"tool {td.name!r}: property {key!r} cannot be written as a "
                                f"keyword argument")
            value_schema = {**defs, **sub} if isinstance(sub, dict) else sub
            try:
                gbnf = grammars.compile_schema(
                    value_schema, whitespace=_ARGS_WHITESPACE, additional_properties=False,
                    approximate=True).grammar
            except Exception as exc:
                raise ToolError(f"tool {td.name!r}: cannot compile the schema of {key!r}: "
                                f"{exc}") from exc
            prefix = f"tool{i}-p{j}-"
            texts.append(prefix_rules(gbnf, prefix))
            rules.append(f"{prefix}kw ::= {gbnf_literal(key + '=')} {prefix}root")
            items.append((f"{prefix}kw", key in required))
        # head-j: the arguments from property j on, none written yet; tail-j: after one was
        head, tail = f"tool{i}-head", f"tool{i}-tail"
        n = len(items)
        rules.append(f'{head}-{n} ::= ""')
        rules.append(f'{tail}-{n} ::= ""')
        for j in range(n - 1, -1, -1):
            kw, req = items[j]
            more = f'", " {kw} {tail}-{j + 1}'
            rules.append(f"{tail}-{j} ::= {more}" if req else f"{tail}-{j} ::= ( {more} )? ")
            first = f"{kw} {tail}-{j + 1}"
            rules.append(f"{head}-{j} ::= {first}" if req else f"{head}-{j} ::= {first} | {head}-{j + 1}")
        root = f"tool{i}-call"
        rules.append(f'{root} ::= {gbnf_literal(td.name + "(")} {head}-0 ")"')
        roots.append(root)
        texts.append("\n".join(rules))
    return roots, texts
