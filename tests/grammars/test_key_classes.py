"""Extra object members split into key classes (llamaprov.grammars._compile_objects): keys matching
no ``patternProperties`` pattern follow ``additionalProperties``, keys matching several patterns
satisfy each one's schema, and ``propertyNames`` holds for extra keys; all exact (strict mode)."""

from __future__ import annotations

import json
from typing import Any

from llamaprov.grammars import GrammarMatcher, compile_schema, json_schema_to_gbnf


def _accepts(schema: Any, values: list[Any], **kw: Any) -> list[bool]:
    grammar = json_schema_to_gbnf(schema, whitespace="flexible", property_order="any", **kw)
    with GrammarMatcher(grammar) as m:
        return [m.accepts(json.dumps(v)) for v in values]


def test_keys_matching_no_pattern_follow_additional_properties() -> None:
    schema = {"type": "object", "patternProperties": {"/.*/": {"type": "array", "minItems": 2}}}
    values = [{"s1": 1}, {"/x/": [1, 2]}, {"/x/": [1]}, {"/x/": 1}, {"s1": [], "/": 1, "/a/b/": [0, 0]}]
    assert _accepts(schema, values) == [True, True, False, False, True]
    schema["additionalProperties"] = {"type": "integer"}
    assert _accepts(schema, values) == [True, True, False, False, False]


def test_keys_matching_several_patterns_satisfy_each() -> None:
    schema = {
        "type": "object",
        "patternProperties": {"a": {"type": "number", "minimum": 10}, "b": {"type": "integer", "maximum": 20}},
        "additionalProperties": False,
    }
    values = [{"a": 11.5}, {"b": 3}, {"ab": 15}, {"ab": 5}, {"ab": 25}, {"ba": 11.5}, {"c": 1}, {"": 1}]
    assert _accepts(schema, values) == [True, True, True, False, False, False, False, False]
    assert compile_schema(schema, approximate=True).exact


def test_listed_keys_keep_their_own_schema() -> None:
    schema = {
        "type": "object",
        "properties": {"allow": {"type": "array"}},
        "patternProperties": {"[allow|disallow]": {"type": "array"}},
        "required": ["allow"],
    }
    values = [{"allow": []}, {"allow": [], "disallow": []}, {"allow": [], "disallow": 1},
              {"allow": [], "xyz": 1}, {"allow": [], "allow2": "x"}]
    assert _accepts(schema, values) == [True, True, False, True, False]


def test_property_names_with_pattern_properties() -> None:
    schema = {
        "type": "object",
        "propertyNames": {"pattern": "^[a-z]{2}$"},
        "patternProperties": {"x": {"type": "boolean"}},
        "additionalProperties": {"type": "integer"},
    }
    values = [{"ab": 1}, {"xa": True}, {"xa": 1}, {"abc": 1}, {"AB": 1}, {"ax": False, "cd": 2}]
    assert _accepts(schema, values) == [True, True, False, False, False, True]


def test_property_names_next_to_listed_properties() -> None:
    # extra keys must be valid names and differ from the listed ones
    schema = {
        "type": "object",
        "properties": {"id": {"type": "integer"}},
        "propertyNames": {"maxLength": 3, "not": {"const": "bad"}},
    }
    values = [{"id": 1}, {"id": "x"}, {"abc": "x"}, {"abcd": 1}, {"bad": 1}, {"id": 1, "ok": None}]
    assert _accepts(schema, values) == [True, False, True, False, False, True]
