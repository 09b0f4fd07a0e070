"""``json_schema_to_gbnf(..., rule_prefix=...)``: every rule name carries the prefix, so grammars
compiled with different prefixes can share one grammar text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llamaprov.errors import InvalidArgumentError
from llamaprov.grammars import GrammarMatcher, json_schema_to_gbnf, validate_gbnf

# one schema per part of the compiler that makes rules
SCHEMAS: list[Any] = [
    True,
    {"type": "integer", "minimum": -5, "maximum": 1234},
    {"type": "number", "exclusiveMinimum": 0.5, "maximum": 10.25},
    {"type": "integer", "multipleOf": 7, "minimum": -100},
    {"type": "number", "multipleOf": 0.01},
    {"type": "string", "minLength": 2, "maxLength": 300},
    {"type": "string", "pattern": "^[a-z]{2,5}(-[0-9]+)?$"},
    {"type": "string", "format": "date-time"},
    {"enum": ["a", 1, None, {"k": [True]}]},
    {"type": "array", "prefixItems": [{"type": "string"}], "items": {"type": "integer"}, "maxItems": 60},
    {"type": "array", "items": {"type": "integer"}, "contains": {"const": 3}, "minContains": 2},
    {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}, "c": {}},
        "required": ["a"],
        "additionalProperties": {"type": "boolean"},
        "dependentRequired": {"b": ["c"]},
    },
    {"type": "object", "patternProperties": {"^x-": {"type": "string"}}, "additionalProperties": False},
    {"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}, "maxProperties": 3},
    {
        "type": "object",
        "properties": {"a": {}, "b": {}, "c": {}},
        "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
    },
    {"anyOf": [{"type": "string"}, {"type": "array", "items": {"$ref": "#"}}]},
    {
        "$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}}},
        "allOf": [{"$ref": "#/$defs/node"}, {"required": ["next"]}],
    },
]


def _names(text: str) -> tuple[list[str], list[str]]:
    """(defined rule names, referenced rule names) of a GBNF text, literals and classes skipped."""
    defined, used = [], []
    for line in text.splitlines():
        name, _, body = line.partition(" ::= ")
        defined.append(name)
        i = 0
        while i < len(body):
            c = body[i]
            if c in "\"[":
                close = '"' if c == '"' else "]"
                i += 1
                while body[i] != close:
                    i += 2 if body[i] == "\\" else 1
                i += 1
            elif c.isalnum() or c == "-":
                j = i
                while j < len(body) and (body[j].isalnum() or body[j] == "-"):
                    j += 1
                used.append(body[i:j])
                i = j
            else:
                i += 1
    return defined, used


def _unprefixed(text: str, prefix: str) -> str:
    """``text`` with ``prefix`` taken off every rule name (checking each has it)."""
    defined, used = _names(text)
    for name in defined + used:
        assert name.startswith(prefix), f"rule {name!r} lacks the prefix {prefix!r}"
    out = []
    for line in text.splitlines():
        name, _, body = line.partition(" ::= ")
        # a reference follows a space or "(" (or starts the body); no literal here holds the prefix
        body = (" " + body).replace(f" {prefix}", " ").replace(f"({prefix}", "(")[1:]
        out.append(f"{name[len(prefix):]} ::= {body}")
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: json.dumps(s)[:50])
@pytest.mark.parametrize("whitespace", ["compact", "bounded", "flexible"])
def test_every_rule_name_carries_the_prefix(schema: Any, whitespace: str) -> None:
    plain = json_schema_to_gbnf(schema, whitespace=whitespace, property_order="any")
    prefixed = json_schema_to_gbnf(schema, whitespace=whitespace, property_order="any", rule_prefix="tool7-")
    assert prefixed.startswith("tool7-root ::= ")
    defined, used = _names(prefixed)
    assert len(set(defined)) == len(defined)
    assert set(used) <= set(defined)
    # the same grammar otherwise, rule for rule
    assert _unprefixed(prefixed, "tool7-") == plain
    validate_gbnf(prefixed, root="tool7-root")


def test_prefixed_grammars_concatenate() -> None:
    person = {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 8}, "age": {"type": "integer", "minimum": 0}},
        "required": ["name"],
        "additionalProperties": False,
    }
    tree = {"$defs": {"t": {"type": "array", "items": {"$ref": "#/$defs/t"}}}, "$ref": "#/$defs/t"}
    parts = [
        json_schema_to_gbnf(s, whitespace="compact", rule_prefix=p)
        for s, p in ((person, "tool0-"), (tree, "tool1-"), (True, "tool2-"))
    ]
    grammar = "root ::= tool0-root | tool1-root\n" + "".join(parts)
    defined, used = _names(grammar)
    assert len(set(defined)) == len(defined), "rule names clash"
    assert set(used) <= set(defined)
    validate_gbnf(grammar)
    with GrammarMatcher(grammar) as m:
        assert m.accepts('{"name":"ann","age":3}')
        assert m.accepts("[[],[[]]]")
        assert not m.accepts('{"age":3}')
        assert not m.accepts('{"name":"ann","x":1}')
        assert not m.accepts("[1]")
        assert not m.accepts('"text"')  # tool2-root is in the text but not reachable from root


def test_default_prefix_is_none() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    assert json_schema_to_gbnf(schema, rule_prefix="") == json_schema_to_gbnf(schema)


@pytest.mark.parametrize("bad", ["a b", "x_", "é-", "a\n", "root ::= ", 7, None])
def test_bad_prefix(bad: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="rule_prefix"):
        json_schema_to_gbnf({}, rule_prefix=bad)
