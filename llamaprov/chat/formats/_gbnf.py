"""GBNF helpers shared by the formats: a call grammar assembled from the tools' argument grammars.

Each tool's arguments schema is compiled by :func:`llamaprov.grammars.json_schema_to_gbnf`; its rule
names are prefixed per tool by :func:`prefix_rules`, the one mechanism every format uses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from llamaprov import grammars
from llamaprov.chat.tools import ToolDef
from llamaprov.errors import ToolError

# Whitespace style of tool-argument grammars: "bounded" lets the model keep its natural
# `{"a": 1, "b": 2}` spacing without letting it ramble in whitespace.
_ARGS_WHITESPACE = "bounded"

_RULE_DEF = re.compile(r"^[ \t]*([A-Za-z0-9_-]+)[ \t]*::=", re.MULTILINE)
_WORD = re.compile(r"[A-Za-z0-9_-]+")


def prefix_rules(gbnf: str, prefix: str) -> str:
    """Rename every rule defined in ``gbnf`` to ``prefix + name`` (definitions and references).

    String literals, character classes, token literals (``<...>``), repetition counts and
    comments are left untouched, so the renamed grammar can be embedded in a larger one.
    """
    defined = set(_RULE_DEF.findall(gbnf))
    out: list[str] = []
    i, n = 0, len(gbnf)
    while i < n:
        c = gbnf[i]
        if c == '"' or c == "[":
            close = '"' if c == '"' else "]"
            j = i + 1
            while j < n and gbnf[j] != close:
                j += 2 if gbnf[j] == "\\" else 1
            out.append(gbnf[i : j + 1])
            i = j + 1
        elif c in "{<#":
            close = {"{": "}", "<": ">", "#": "\n"}[c]
            j = gbnf.find(close, i + 1)
            j = n - 1 if j < 0 else j
            out.append(gbnf[i : j + 1])
            i = j + 1
        else:
            m = _WORD.match(gbnf, i)
            if m:
                word = m.group(0)
                out.append(prefix + word if word in defined else word)
                i = m.end()
            else:
                out.append(c)
                i += 1
    return "".join(out)


def gbnf_literal(text: str) -> str:
    """A GBNF string literal matching ``text`` exactly."""
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


def args_grammars(tools: Sequence[ToolDef]) -> tuple[list[str], list[str]]:
    """Compile each tool's arguments schema; return (root rule names, prefixed grammar texts)."""
    roots: list[str] = []
    texts: list[str] = []
    for i, td in enumerate(tools):
        try:
            # keywords a grammar can only widen compile to a superset: the arguments are
            # validated against the schema before the tool runs (ToolDef.validate_arguments)
            gbnf = grammars.compile_schema(
                td.parameters, whitespace=_ARGS_WHITESPACE, additional_properties=False,
                approximate=True,
            ).grammar
        except Exception as exc:
            raise ToolError(f"tool {td.name!r}: cannot compile its parameters schema: {exc}") from exc
        prefix = f"tool{i}-"
        roots.append(prefix + "root")
        texts.append(prefix_rules(gbnf, prefix))
    return roots, texts


def repeated(item: str, separator: str, max_count: int | None, name: str) -> tuple[str, dict[str, str]]:
    """An expression of 1 to ``max_count`` (None: any number of) ``item``, ``separator`` (a GBNF
    expression) between two, and the rules it needs, named ``name-1``, ``name-2``...

    A bound is spelled out as a chain of optional rules rather than GBNF's ``{m,n}`` (see
    :mod:`llamaprov.grammars`: no grammar of this project uses it).
    """
    more = f"{separator} {item}"
    if max_count is None:
        return f"{item} ( {more} )*", {}
    rules: dict[str, str] = {}
    tail = ""
    for j in range(1, max_count):
        rules[f"{name}-{j}"] = f"( {more}{' ' + tail if tail else ''} )?"
        tail = f"{name}-{j}"
    return f"{item}{' ' + tail if tail else ''}", rules


def assemble_grammar(rules: dict[str, str], parts: list[str]) -> str:
    head = "\n".join(f"{name} ::= {body}" for name, body in rules.items())
    return head + "\n" + "\n".join(parts) + "\n"
