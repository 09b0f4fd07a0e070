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
        "patternProperties": {"a": {"type": "number", "minimum": 10},
                              "b": {"type": "integer", "maximum": 20}},
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


def test_all_of_branches_keep_their_own_key_maps() -> None:
    # a key matching one branch's pattern also needs the other branch's additionalProperties
    schema = {"allOf": [{"additionalProperties": False}, {"patternProperties": {"x": {}}}]}
    assert _accepts(schema, [{}, {"x": 1}, {"y": 1}]) == [True, False, False]
    schema = {"allOf": [{"patternProperties": {"x": {"type": "string"}}},
                        {"additionalProperties": {"type": "integer"}}]}
    assert _accepts(schema, [{"x": 1}, {"x": "s"}, {"y": 1}, {"y": "s"}]) == [False, False, True, False]
    # patterns of both branches, no additionalProperties: one merged set
    schema = {"type": "object", "minProperties": 1, "allOf": [
        {"patternProperties": {"a": {"type": "number", "minimum": 10}}},
        {"patternProperties": {"b": {"type": "number", "minimum": 3}}}]}
    values = [{"a": 15, "b": 5}, {"a": 15, "b": 2}, {"a": 9, "b": 5}, {"ab": 9}, {"ab": 10}, {"c": "x"}]
    assert _accepts(schema, values) == [True, False, False, False, True, True]
    assert compile_schema(schema, approximate=True).exact


def _random_objects(n: int) -> list[dict[str, Any]]:
    import random

    rng = random.Random(5)
    keys = ["a", "b", "ab", "ba", "abc", "c", "cc", "abcd", "xyz", "bbbb"]
    values: list[Any] = [0, 1, 5, 12, "s", None, [], True]
    return [{rng.choice(keys): rng.choice(values) for _ in range(rng.randint(0, 4))} for _ in range(n)]


def test_key_maps_agree_with_jsonschema() -> None:
    import jsonschema

    schemas = [
        {"type": "object", "allOf": [{"patternProperties": {"^.{1,3}$": False}, "additionalProperties": True},
                                     {"patternProperties": {"a": True}, "additionalProperties": False},
                                     {"patternProperties": {"b": True}, "additionalProperties": False}]},
        {"type": "object", "properties": {"c": {"type": "string"}},
         "allOf": [{"properties": {"ab": {"type": "integer"}}, "patternProperties": {"b": {"maximum": 5}},
                    "additionalProperties": {"type": "null"}},
                   {"patternProperties": {"^a": {"type": ["integer", "string"]}}}]},
        {"type": "object", "propertyNames": {"maxLength": 3},
         "patternProperties": {"a": {"type": "integer"}, "b": {"minimum": 1}, "c": False},
         "additionalProperties": {"type": "boolean"}},
    ]
    objects = _random_objects(300)
    for schema in schemas:
        expected = [jsonschema.Draft202012Validator(schema).is_valid(o) for o in objects]
        assert _accepts(schema, objects) == expected, schema
