"""String constraints that hold together (automata), multipleOf steps between bounds, the
approximate mode of compile_schema, and the bound on compile work."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from llamaprov.errors import UnsupportedSchemaError
from llamaprov.grammars import GrammarMatcher, _automaton, _compiler, compile_schema, json_schema_to_gbnf


def _accepts(schema: Any, values: list[Any], **kw: Any) -> list[bool]:
    grammar = json_schema_to_gbnf(schema, whitespace="flexible", **kw)
    with GrammarMatcher(grammar) as m:
        return [m.accepts(json.dumps(v)) for v in values]


def test_pattern_with_lengths_is_exact() -> None:
    schema = {"type": "string", "pattern": "^[0-9a-f]+$", "minLength": 4, "maxLength": 6}
    assert _accepts(schema, ["abc", "abcd", "abcdef", "abcdef0", "abcx"]) == [False, True, True, False, False]
    schema = {"type": "string", "pattern": "^[a-z]+(?:-[a-z0-9]+)*$", "minLength": 3}
    assert _accepts(schema, ["ab", "abc", "a-b", "a-"]) == [False, True, True, False]


def test_format_with_pattern_or_lengths() -> None:
    schema = {"type": "string", "format": "uri", "pattern": "^(https|file)://"}
    assert _accepts(schema, ["https://a.b", "http://a.b", "file:///x"]) == [True, False, True]
    schema = {"type": "string", "format": "email", "maxLength": 10}
    assert _accepts(schema, ["a@b.cd", "abcdef@b.cd", "a@b"]) == [True, False, False]


def test_several_patterns() -> None:
    schema = {"type": "string", "allOf": [{"pattern": "^a"}, {"pattern": "b$"}]}
    assert _accepts(schema, ["ab", "axb", "ba", "a"]) == [True, True, False, False]


def test_pattern_properties_exclude_listed_keys() -> None:
    schema = {
        "type": "object",
        "properties": {"basic": {"type": "string"}},
        "patternProperties": {".*": {"type": "integer"}},
    }
    # "basic" must satisfy both its schema and the pattern's: no value does
    values = [{"basic": "x"}, {"basic": 1}, {"a": 1}, {"a": "x"}, {"basi": 2, "basicx": 3}]
    assert _accepts(schema, values, property_order="any") == [False, False, True, False, True]


def test_multiple_of_decimal_step_between_bounds() -> None:
    schema = {"type": "number", "multipleOf": 0.01, "minimum": -5.5, "exclusiveMaximum": 3}
    texts = ["0", "0.01", "0.001", "0.010", "1.5", "-5.5", "-5.51", "2.99", "3", "3.0", "12.3"]
    grammar = json_schema_to_gbnf(schema, whitespace="flexible")
    with GrammarMatcher(grammar) as m:
        got = [m.accepts(t) for t in texts]
    assert got == [True, True, False, True, True, True, False, True, False, False, False]


def test_automaton_size_is_bounded() -> None:
    with pytest.raises(_automaton.TooLarge):
        _automaton.length(0, _automaton.MAX_STATES + 5)


def test_approximate_mode_lists_what_it_widens() -> None:
    schema = {"oneOf": [{"type": "string"}, {"type": "string", "minLength": 2}]}
    with pytest.raises(UnsupportedSchemaError):
        json_schema_to_gbnf(schema)
    compiled = compile_schema(schema, approximate=True)
    assert not compiled.exact
    assert compiled.approximated_keywords == ("oneOf",)
    assert compiled.approximated[0][1] == "#"
    exact = compile_schema({"type": "integer"}, approximate=True)
    assert exact.exact and exact.approximated == ()
    # format is never approximated: jsonschema does not assert it by default
    with pytest.raises(UnsupportedSchemaError):
        compile_schema({"type": "string", "format": "iri"}, approximate=True)


def test_compile_cache_returns_the_same_grammar() -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}}
    a = compile_schema(schema, approximate=True)
    b = compile_schema(json.loads(json.dumps(schema)), approximate=True)
    assert a is b


RECURSIVE_CONTAINS = {
    "$defs": {
        "n": {
            "type": "object",
            "properties": {
                "kids": {"type": "array", "items": {"$ref": "#/$defs/n"}, "contains": {"$ref": "#/$defs/n"}}
            },
        }
    },
    "$ref": "#/$defs/n",
}


def test_recursive_contains_compiles_quickly() -> None:
    # it once ran for minutes: compile in a child so a regression fails instead of hanging
    code = (
        "import json, sys; from llamaprov.grammars import json_schema_to_gbnf; "
        "json_schema_to_gbnf(json.loads(sys.argv[1])); print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(RECURSIVE_CONTAINS)],
        capture_output=True, text=True, timeout=60,
    )
    assert out.stdout.strip() == "ok", out.stderr


def test_compile_work_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_compiler, "MAX_WORK", 3)
    schema = {"type": "object", "properties": {k: {"type": "string", "minLength": 1} for k in "abcdef"}}
    comp = _compiler.Compiler(schema, "compact", None, True)
    with pytest.raises(UnsupportedSchemaError, match="too much work"):
        comp.compile()
