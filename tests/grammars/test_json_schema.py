"""Per-keyword tests of the JSON Schema -> GBNF compiler, checked with llama.cpp's grammar engine.

Each case lists instances the grammar must accept and instances it must reject; every case is
also cross-checked against the ``jsonschema`` validator so the expectations themselves are right.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from llamaprov.errors import InvalidArgumentError, UnsupportedSchemaError
from llamaprov.grammars import GrammarMatcher, json_schema_to_gbnf, validate_gbnf

D4 = "http://json-schema.org/draft-04/schema#"

# (id, schema, valid instances, invalid instances)
CASES: list[tuple[str, Any, list[Any], list[Any]]] = [
    # types
    ("null", {"type": "null"}, [None], [0, "null", False]),
    ("boolean", {"type": "boolean"}, [True, False], [0, "true", None]),
    ("type-list", {"type": ["string", "null"]}, ["a", None], [1, [], {}]),
    ("nullable", {"type": "integer", "nullable": True}, [1, None], ["1"]),
    ("true-schema", True, [1, "a", None, {"a": [1]}], []),
    ("empty-schema", {}, [1, "a", None, [{}]], []),
    (
        "unknown-keys-are-annotations",  # once the compiler's own markers, misread as keywords
        {"type": "string", "_false": True, "_alts": 1, "_nots": [[{}, "#"]], "_patterns": ["^a$"]},
        ["a", "b", ""],
        [1, None],
    ),
    (
        "enum-any",
        {"enum": ["a", 1, None, {"x": [1, 2]}, [True]]},
        ["a", 1, None, {"x": [1, 2]}, [True]],
        ["b", 2, {"x": [1]}, [False], True],
    ),
    ("const", {"const": {"k": "v"}}, [{"k": "v"}], [{"k": "w"}, {}, "v"]),
    ("enum-with-type", {"type": "string", "enum": ["a", 1]}, ["a"], [1]),
    # strings
    (
        "minLength-maxLength",
        {"type": "string", "minLength": 2, "maxLength": 3},
        ["ab", "abc", "é\n"],
        ["a", "abcd", 12],
    ),
    ("maxLength-untyped", {"maxLength": 2}, ["ab", 12345, None], ["abc"]),
    ("large-maxLength", {"type": "string", "maxLength": 3000}, ["a" * 3000, ""], ["a" * 3001]),
    ("escapes", {"type": "string"}, ['q"uote', "back\\slash", "tab\t", "\u0001", "/", "ünï"], [1]),
    (
        "pattern-anchored",
        {"type": "string", "pattern": "^[a-z]+\\d{2}$"},
        ["ab12", "x00"],
        ["ab1", "AB12", "ab123", ""],
    ),
    (
        "pattern-unanchored",
        {"type": "string", "pattern": "cat"},
        ["cat", "a cat!", "concatenate"],
        ["dog", "ca t"],
    ),
    (
        "pattern-classes",
        {"type": "string", "pattern": "^\\w+\\s\\S\\W$"},
        ["ab c!", "_1\tx "],
        ["ab cd", "a c"],
    ),
    (
        "pattern-alternation",
        {"type": "string", "pattern": "^(foo|ba[rz])(-\\d{1,3})?$"},
        ["foo", "bar-1", "baz-123"],
        ["ba", "foo-1234", "qux"],
    ),
    ("pattern-quote", {"type": "string", "pattern": '^[^"]*"$'}, ['say"', '"'], ["say", 'a"b']),
    ("pattern-escape-newline", {"type": "string", "pattern": "^a\\nb$"}, ["a\nb"], ["a\\nb", "ab"]),
    ("pattern-dot", {"type": "string", "pattern": "^.$"}, ["x", "é"], ["\n", "xy"]),
    (
        "pattern-with-length",
        {"type": "string", "pattern": "^[a-z]+$", "maxLength": 3},
        ["abc", "a"],
        ["abcd", ""],
    ),
    (
        "format-date",
        {"type": "string", "format": "date"},
        ["2020-02-29", "1999-12-31"],
        ["2021-02-29", "2021-13-01", "2021-1-01"],
    ),
    (
        "format-time",
        {"type": "string", "format": "time"},
        ["12:30:00Z", "23:59:59.5+01:00"],
        ["24:00:00Z", "12:30", "12:30:00"],
    ),
    (
        "format-date-time",
        {"type": "string", "format": "date-time"},
        ["2020-01-01T00:00:00Z"],
        ["2020-01-01 00:00:00Z", "2020-01-01"],
    ),
    (
        "format-duration",
        {"type": "string", "format": "duration"},
        ["P1Y2M", "PT5S", "P3W", "P1DT2H"],
        ["P", "PT", "1Y", "P1S"],
    ),
    (
        "format-email",
        {"type": "string", "format": "email"},
        ["a.b@example.com"],
        ["ab.example.com", "@x.com"],
    ),
    (
        "format-hostname",
        {"type": "string", "format": "hostname"},
        ["example.com", "a-b"],
        ["-ab", "a..b"],
    ),
    (
        "format-ipv4",
        {"type": "string", "format": "ipv4"},
        ["192.168.0.1", "0.0.0.0"],
        ["256.1.1.1", "1.2.3"],
    ),
    (
        "format-ipv6",
        {"type": "string", "format": "ipv6"},
        ["::1", "2001:db8::8a2e:370:7334", "::"],
        ["1:::2", "12345::"],
    ),
    (
        "format-uuid",
        {"type": "string", "format": "uuid"},
        ["123e4567-e89b-12d3-a456-426614174000"],
        ["123e4567e89b12d3a456426614174000"],
    ),
    (
        "format-uri",
        {"type": "string", "format": "uri"},
        ["https://example.com/a?b=c#d"],
        ["no scheme", "/rel"],
    ),
    # numbers
    ("integer", {"type": "integer"}, [0, -7, 123456789], [1.5, "1", True]),
    (
        "integer-bounds",
        {"type": "integer", "minimum": -15, "maximum": 123},
        [-15, 0, 99, 123],
        [-16, 124, 1000],
    ),
    (
        "integer-exclusive",
        {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10},
        [1, 9],
        [0, 10],
    ),
    (
        "integer-draft4-exclusive",
        {"$schema": D4, "type": "integer", "minimum": 5, "exclusiveMinimum": True},
        [6],
        [5],
    ),
    ("integer-decimal-bound", {"type": "integer", "minimum": 1.5, "maximum": 3.5}, [2, 3], [1, 4]),
    ("number", {"type": "number"}, [0, -1.5, 2.5e10, 1e-05], ["1", None]),
    (
        "number-decimal-bounds",
        {"type": "number", "minimum": 0.5, "exclusiveMaximum": 2.25},
        [0.5, 1, 2, 2.2, 2.249],
        [0.49, 2.25, 3, -1, 0],
    ),
    (
        "number-negative",
        {"type": "number", "minimum": -1.25, "maximum": -0.5},
        [-1.25, -1, -0.5, -0.75],
        [-1.26, -0.4, 0, 1],
    ),
    ("multipleOf-int", {"type": "integer", "multipleOf": 7}, [0, 7, -14, 700], [1, 8, -15]),
    (
        "multipleOf-bounded",
        {"type": "integer", "multipleOf": 5, "minimum": 3, "maximum": 21},
        [5, 10, 20],
        [0, 3, 25, 21],
    ),
    ("multipleOf-number", {"type": "number", "multipleOf": 0.01}, [1, 1.5, 2.25], [1.001]),
    (
        "multipleOf-lower-bound",
        {"type": "integer", "multipleOf": 11, "minimum": 100},
        [110, 121, 1100, 99990],
        [99, 0, 111, -110],
    ),
    (
        "pattern-optional-with-maxLength",
        {"type": "string", "pattern": "^https?://.+$", "maxLength": 12},
        ["http://abcde", "https://abcd"],
        ["https://abcde", "http://"],
    ),
    # arrays
    ("items", {"type": "array", "items": {"type": "integer"}}, [[], [1, 2, 3]], [[1, "a"], {}]),
    (
        "min-maxItems",
        {"type": "array", "minItems": 1, "maxItems": 3},
        [[1], [1, "a", None]],
        [[], [1, 2, 3, 4]],
    ),
    (
        "large-maxItems",
        {"type": "array", "items": {"type": "integer"}, "maxItems": 1000},
        [[0] * 1000, []],
        [[0] * 1001],
    ),
    (
        "prefixItems",
        {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": False},
        [[], [1], [1, "a"]],
        [[1, "a", 2], ["a"], [1, 2]],
    ),
    (
        "draft4-tuple",
        {
            "$schema": D4,
            "type": "array",
            "items": [{"type": "integer"}],
            "additionalItems": {"type": "string"},
            "minItems": 2,
        },
        [[1, "a"], [1, "a", "b"]],
        [[1], [1, 2], ["a", "b"]],
    ),
    (
        "contains",
        {"type": "array", "contains": {"type": "string"}},
        [["a"], [1, "a", 2]],
        [[], [1, 2]],
    ),
    (
        "minContains",
        {"type": "array", "contains": {"const": 1}, "minContains": 2},
        [[1, 1], [1, 0, 1]],
        [[1], [0, 1, 0]],
    ),
    (
        "uniqueItems-single",
        {"type": "array", "uniqueItems": True, "maxItems": 1},
        [[], [1]],
        [[1, 1]],
    ),
    # objects
    (
        "properties-order",
        {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
            "required": ["a"],
        },
        [
            {"a": 1},
            {"a": 1, "b": "x"},
            {"a": -5, "b": "x", "c": [1, 2]},
            {"a": 1, "c": None, "b": "y"},
        ],
        [{"b": "x"}, {"a": "1"}, {"a": 1, "b": 2}, {}],
    ),
    (
        "additionalProperties-false",
        {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False},
        [{}, {"a": 1}],
        [{"b": 1}, {"a": 1, "b": 2}],
    ),
    (
        "additionalProperties-schema",
        {"type": "object", "additionalProperties": {"type": "integer"}},
        [{}, {"x": 1, "y": 2}],
        [{"x": "1"}],
    ),
    (
        "extra-key-not-a-listed-key",
        {"type": "object", "properties": {"ab": {"type": "integer"}}},
        [{"a": "s"}, {"abc": "s"}, {"ab": 1}],
        [{"ab": "s"}],
    ),
    (
        "required-not-listed",
        {"type": "object", "required": ["z"]},
        [{"z": 1}, {"a": 1, "z": 2}],
        [{}, {"a": 1}],
    ),
    (
        "patternProperties",
        {
            "type": "object",
            "patternProperties": {"^x-": {"type": "integer"}},
            "additionalProperties": False,
        },
        [{}, {"x-a": 1}],
        [{"x-a": "1"}, {"y": 1}],
    ),
    (
        "propertyNames",
        {"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}},
        [{"ab": 1}, {}],
        [{"aB": 1}, {"1": 2}],
    ),
    (
        "min-maxProperties",
        {"type": "object", "minProperties": 1, "maxProperties": 2},
        [{"a": 1}, {"a": 1, "b": 2}],
        [{}, {"a": 1, "b": 2, "c": 3}],
    ),
    (
        "dependentRequired",
        {
            "type": "object",
            "properties": {"a": {}, "b": {}},
            "dependentRequired": {"a": ["b"]},
            "additionalProperties": False,
        },
        [{}, {"b": 1}, {"a": 1, "b": 2}],
        [{"a": 1}],
    ),
    (
        "forced-additional-false",
        {"type": "object", "properties": {"a": {"type": "integer"}}},
        [{"a": 1}],
        [{"b": 1}],
    ),
    (
        "dependentRequired-unlisted",
        {"type": "object", "dependentRequired": {"a": ["b"]}},
        [{}, {"b": 1}, {"a": 1, "b": 2}, {"c": 1}],
        [{"a": 1}, {"a": 1, "c": 2}],
    ),
    (
        "dependencies-schema-required",
        {
            "$schema": D4,
            "type": "object",
            "properties": {"a": {}, "b": {}},
            "dependencies": {"a": {"required": ["b"]}},
        },
        [{"b": 1}, {"a": 1, "b": 2}],
        [{"a": 1}],
    ),
    (
        "not-required-several",
        {"type": "object", "properties": {"a": {}, "b": {}}, "not": {"required": ["a", "b"]}},
        [{}, {"a": 1}, {"b": 1}],
        [{"a": 1, "b": 2}, 3],
    ),
    (
        "patternProperties-with-additional",  # keys matching no pattern are refused (a subset)
        {"type": "object", "patternProperties": {"^x-": {"type": "integer"}}},
        [{}, {"x-a": 1}],
        [{"x-a": "1"}],
    ),
    # combinators
    (
        "anyOf",
        {"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 1}]},
        [1, "a"],
        ["ab", None],
    ),
    ("oneOf-disjoint", {"oneOf": [{"type": "integer"}, {"type": "string"}]}, [1, "a"], [None, 1.5]),
    (
        "oneOf-discriminator",
        {
            "oneOf": [
                {
                    "type": "object",
                    "properties": {"kind": {"const": "a"}, "x": {"type": "integer"}},
                    "required": ["kind"],
                },
                {
                    "type": "object",
                    "properties": {"kind": {"const": "b"}, "y": {"type": "string"}},
                    "required": ["kind"],
                },
            ]
        },
        [{"kind": "a", "x": 1}, {"kind": "b", "y": "s"}],
        [{"kind": "a", "x": "s"}, {"kind": "c"}],
    ),
    (
        "oneOf-required",
        {
            "type": "object",
            "properties": {"a": {}, "b": {}, "c": {}},
            "oneOf": [{"required": ["a"]}, {"required": ["b", "c"]}],
        },
        [{"a": 1}, {"b": 1, "c": 2}, {"a": 1, "b": 2}],
        [{"a": 1, "b": 1, "c": 1}, {}, {"b": 1}, "x"],
    ),
    (
        "allOf-merge",
        {
            "allOf": [
                {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
                {"properties": {"b": {"type": "string"}}, "required": ["b"]},
            ]
        },
        [{"a": 1, "b": "x"}],
        [{"a": 1}, {"b": "x"}, {"a": "1", "b": "x"}],
    ),
    (
        "allOf-additional-false",
        {
            "allOf": [
                {"properties": {"a": {}}, "additionalProperties": False},
                {"properties": {"b": {}}},
            ]
        },
        [{}, {"a": 1}],
        [{"b": 1}],
    ),
    (
        "allOf-anyOf",
        {"type": "integer", "anyOf": [{"minimum": 10}, {"maximum": 0}]},
        [10, 0, -3],
        [5, "a"],
    ),
    ("not-type", {"not": {"type": "string"}}, [1, None, [1]], ["a"]),
    (
        "ref-defs",
        {
            "$defs": {"pos": {"type": "integer", "minimum": 1}},
            "type": "array",
            "items": {"$ref": "#/$defs/pos"},
        },
        [[1, 2]],
        [[0]],
    ),
    (
        "ref-definitions-recursive",
        {
            "definitions": {
                "node": {
                    "type": "object",
                    "properties": {
                        "v": {"type": "integer"},
                        "next": {"$ref": "#/definitions/node"},
                    },
                    "additionalProperties": False,
                }
            },
            "$ref": "#/definitions/node",
        },
        [{"v": 1, "next": {"v": 2, "next": {}}}],
        [{"v": 1, "next": {"v": "x"}}],
    ),
    (
        "ref-id-relative",
        {
            "$id": "https://example.com/root.json",
            "type": "object",
            "properties": {"p": {"$ref": "item.json"}},
            "$defs": {"i": {"$id": "item.json", "type": "boolean"}},
        },
        [{"p": True}],
        [{"p": 1}],
    ),
    (
        "ref-siblings",
        {"$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s", "maxLength": 2},
        ["ab"],
        ["abc", 1],
    ),
    ("false-property", {"type": "object", "properties": {"a": False}}, [{}, {"b": 1}], [{"a": 1}]),
]


def _matcher(schema: Any, **kw: Any) -> GrammarMatcher:
    return GrammarMatcher(json_schema_to_gbnf(schema, **kw))


# Cases whose expectations differ from plain JSON Schema: OpenAPI's nullable, a forced default.
_NOT_PLAIN_JSON_SCHEMA = {"nullable", "forced-additional-false"}


@pytest.mark.parametrize(
    ("case", "schema", "valid", "invalid", "whitespace"),
    [
        pytest.param(c[0], c[1], c[2], c[3], ws, id=f"{c[0]}-{ws}")
        for c in CASES
        for ws in ("flexible", "compact")
    ],
)
def test_keyword(case: str, schema: Any, valid: list[Any], invalid: list[Any], whitespace: str) -> None:
    forced = {"additional_properties": False} if case == "forced-additional-false" else {}
    if case not in _NOT_PLAIN_JSON_SCHEMA:
        # jsonschema checks some formats only with optional packages: format cases are checked
        # against the RFCs by hand
        formats = None if case.startswith("format-") else jsonschema.Draft202012Validator.FORMAT_CHECKER
        check = jsonschema.validators.validator_for(schema if isinstance(schema, dict) else {})(
            schema, format_checker=formats
        )
        for v in valid:
            assert check.is_valid(v), f"bad test: {v!r} is not valid"
        for v in invalid if formats else []:
            assert not check.is_valid(v), f"bad test: {v!r} is valid"
    with _matcher(schema, whitespace=whitespace, **forced) as m:
        sep = (",", ":") if whitespace == "compact" else None
        for v in valid:
            assert m.accepts(json.dumps(v, ensure_ascii=False, separators=sep)), f"rejected valid {v!r}"
        for v in invalid:
            assert not m.accepts(json.dumps(v, ensure_ascii=False, separators=sep)), f"accepted invalid {v!r}"


def test_forced_default_spares_objects_without_declared_keys() -> None:
    # A bare {"type": "object"} (JSON mode) must not shrink to {} when tools force false.
    with _matcher({"type": "object"}, whitespace="compact", additional_properties=False) as m:
        assert m.accepts('{"setup":"a","n":[1]}') and m.accepts("{}")
        assert not m.accepts("[]")
    with _matcher({"type": "object", "properties": {}}, whitespace="compact",
                  additional_properties=False) as m:
        assert m.accepts("{}") and not m.accepts('{"a":1}')


def test_whitespace_modes() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "array"}}}
    with _matcher(schema, whitespace="compact") as m:
        assert m.accepts('{"a":[1]}')
        assert not m.accepts('{"a": [1]}')
    with _matcher(schema, whitespace="bounded") as m:
        assert m.accepts('{"a": [1]}')
        assert m.accepts('{\n  "a": [\n    1\n  ]\n}')
        assert not m.accepts('{"a":' + " " * 40 + "[1]}")
    with _matcher(schema, whitespace="flexible") as m:
        assert m.accepts('{"a":' + " \t\r\n" * 40 + "[1]}")


def test_definition_order_kept() -> None:
    schema = {
        "type": "object",
        "properties": {"b": {"type": "integer"}, "a": {"type": "integer"}},
        "required": ["a", "b"],
        "additionalProperties": False,
    }
    with _matcher(schema) as m:
        assert m.accepts('{"b": 1, "a": 2}')
        assert not m.accepts('{"a": 2, "b": 1}')


_ORDERED = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "string"}, "c": {"type": "boolean"}},
    "required": ["a", "b"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("schema", "valid", "invalid"),
    [
        (
            _ORDERED,
            ['{"b":"x","a":1}', '{"c":true,"b":"x","a":1}', '{"a":1,"c":false,"b":"x"}'],
            [
                '{"b":"x"}',
                '{"a":1,"a":2,"b":"x"}',
                '{"a":1,"b":"x","c":true,"c":false}',
                '{"b":"x","d":1,"a":1}',
            ],
        ),
        (  # extras between listed keys, never a listed key twice through the extras
            {**_ORDERED, "additionalProperties": {"type": "integer"}},
            ['{"d":4,"b":"x","e":5,"a":1}'],
            ['{"d":"s","b":"x","a":1}', '{"b":"x","a":1,"a":2}'],
        ),
        (  # maxProperties and dependentRequired hold whatever the order
            {**_ORDERED, "required": [], "maxProperties": 2, "dependentRequired": {"c": ["a"]}},
            ['{"c":true,"a":1}', '{"b":"x"}', "{}"],
            ['{"c":true,"b":"x","a":1}', '{"c":true,"b":"x"}'],
        ),
    ],
)
def test_any_property_order(schema: dict[str, Any], valid: list[str], invalid: list[str]) -> None:
    check = jsonschema.Draft202012Validator(schema)
    for v in valid:
        assert check.is_valid(json.loads(v)), f"bad test: {v}"
    with _matcher(schema, whitespace="compact", property_order="any") as m:
        for v in valid:
            assert m.accepts(v), f"rejected valid {v}"
        for v in invalid:
            assert not m.accepts(v), f"accepted invalid {v}"


def test_any_order_falls_back_to_definition_order_for_many_properties() -> None:
    schema = {"type": "object", "properties": {f"p{i}": {"type": "integer"} for i in range(9)}}
    with _matcher(schema, whitespace="compact", property_order="any") as m:
        assert m.accepts('{"p0":0,"p8":8}')
        assert not m.accepts('{"p8":8,"p0":0}')


def test_unicode_escape_in_free_string() -> None:
    with _matcher({"type": "string"}) as m:
        assert m.accepts('"\\u00e9\\/"')
        assert not m.accepts('"\\ud800"')  # a lone surrogate never decodes
    with _matcher({"type": "string", "maxLength": 1}) as m:
        assert m.accepts('"\\u00e9"')
        assert not m.accepts('"\\u00e9x"')


@pytest.mark.parametrize(
    ("schema", "keyword", "pointer"),
    [
        ({"not": {"pattern": "a"}}, "not", "#/not"),
        (
            {
                "type": "object",
                "properties": {"x": {"if": {"type": "string"}, "then": {"maxLength": 2}}},
            },
            "if",
            "#/properties/x",
        ),
        ({"type": "array", "uniqueItems": True}, "uniqueItems", "#"),
        ({"type": "string", "pattern": "^(?=a)"}, "pattern", "#"),
        ({"type": "string", "pattern": "(a)\\1"}, "pattern", "#"),
        ({"oneOf": [{"type": "string"}, {"maxLength": 3}]}, "oneOf", "#"),
        ({"type": "string", "format": "regex"}, "format", "#"),
        ({"$ref": "https://example.com/remote.json"}, "$ref", "#"),
        (
            {
                "$defs": {"a": {"anyOf": [{"$ref": "#/$defs/a"}, {"type": "null"}]}},
                "$ref": "#/$defs/a",
            },
            "$ref",
            "#/$defs/a/anyOf/0",
        ),
        ({"type": "array", "contains": {"type": "string"}, "maxContains": 2}, "contains", "#"),
    ],
)
def test_unsupported_raises(schema: Any, keyword: str, pointer: str) -> None:
    with pytest.raises(UnsupportedSchemaError) as info:
        json_schema_to_gbnf(schema)
    assert info.value.keyword == keyword
    assert info.value.pointer == pointer


def test_lenient_mode_warns_and_compiles() -> None:
    with pytest.warns(UserWarning, match="not"):
        grammar = json_schema_to_gbnf({"type": "string", "not": {"pattern": "a"}}, strict=False)
    validate_gbnf(grammar)


def test_unsatisfiable_root_raises() -> None:
    with pytest.raises(UnsupportedSchemaError):
        json_schema_to_gbnf(False)
    with pytest.raises(UnsupportedSchemaError):
        json_schema_to_gbnf({"type": "string", "enum": [1, 2]})


@pytest.mark.parametrize("bad", [None, 1, "schema", [1]])
def test_bad_schema_argument(bad: Any) -> None:
    with pytest.raises(InvalidArgumentError):
        json_schema_to_gbnf(bad)


def _nested_items(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer"}
    for _ in range(depth):
        schema = {"type": "array", "items": schema}
    return schema


# A keyword value of the wrong JSON type used to escape as TypeError/AttributeError/ValueError
# (F9 of issue 11: {"type": 7, "const": False} -> "argument of type 'int' is not iterable").
MALFORMED = [
    {"type": 7, "const": False},
    {"type": 7, "enum": [1]},
    {"type": ["string", 7]},
    {"type": "any"},
    {"type": None},
    {"allOf": [{"type": "object"}, {"type": 1.5}]},
    {"type": "object", "anyOf": [{"type": 7}]},
    {"not": {"type": [7]}},
    {"enum": 7},
    {"allOf": [{"enum": [1]}, {"enum": None}]},
    {"required": "a"},
    {"required": [{}]},
    {"type": "object", "required": [["a"]]},
    {"allOf": [{"required": 7}, {"required": ["a"]}]},
    {"not": {"required": [[1]]}},
    {"not": {"required": ["a", 1]}},
    {"oneOf": [{"required": [1]}, {"required": ["b"]}]},
    {"type": "object", "properties": [1]},
    {"properties": {"a": 7}},
    {"patternProperties": 7},
    {"type": "object", "properties": {"a": {}}, "additionalProperties": False, "patternProperties": "x"},
    {"additionalProperties": 7},
    {"prefixItems": 7},
    {"items": [1]},
    {"items": "x"},
    {"type": "array", "contains": 7},
    {"propertyNames": []},
    {"allOf": [{"minLength": "a"}, {"minLength": 1}]},
    {"allOf": [{"minContains": {}}, {"minContains": 1}]},
    {"maxItems": -1},
    {"minLength": 1.5},
    {"minItems": 1e308},
    {"type": "string", "maxLength": 1e308},
    {"type": "string", "maxLength": 2**63 - 1},
    {"allOf": [{"pattern": []}, {"pattern": "a"}]},
    {"type": "string", "pattern": 7},
    {"allOf": [{"multipleOf": "x"}, {"multipleOf": 2}]},
    {"allOf": [{"multipleOf": 0.5}, {"multipleOf": 0}]},
    {"minimum": "0"},
    {"exclusiveMaximum": None},
    {"allOf": [{"dependentRequired": {"a": ["b"]}}, {"dependentRequired": 7}]},
    {"dependentRequired": {"a": "b"}},
    {"dependencies": {"a": 7}},
    {"dependentSchemas": {"a": {"required": 7}}},
    {"$ref": 7},
    {"$ref": "#/$defs/x", "$defs": {"x": {"type": 7, "enum": [1]}}},
    {"$ref": "#/x", "x": {"not": {"required": [[1]]}}},
    {"$defs": {"x": "not a schema"}},
    {"anyOf": 7},
    {"oneOf": [7]},
    {"allOf": {"type": "string"}},
    {"format": 7},
    {"uniqueItems": "yes"},
    {"nullable": 1},
    pytest.param(_nested_items(3000), id="3000 nested arrays"),
]


@pytest.mark.parametrize("schema", MALFORMED, ids=lambda s: json.dumps(s)[:60])
def test_malformed_schema_raises_a_llamaprov_error(schema: dict[str, Any]) -> None:
    for options in ({}, {"strict": False}, {"property_order": "any", "whitespace": "flexible"}):
        with pytest.raises((UnsupportedSchemaError, InvalidArgumentError)):
            json_schema_to_gbnf(schema, **options)


def test_malformed_value_is_named() -> None:
    with pytest.raises(UnsupportedSchemaError, match=r"'type' at #/properties/a: expected .*got 7"):
        json_schema_to_gbnf({"type": "object", "properties": {"a": {"type": 7, "const": False}}})
    with pytest.raises(UnsupportedSchemaError, match=r"'maxLength' at #: .*4294967296"):
        json_schema_to_gbnf({"type": "string", "maxLength": 2**40})
    with pytest.raises(UnsupportedSchemaError, match="'type' at additional_properties"):
        json_schema_to_gbnf({"type": "object"}, additional_properties={"type": 7, "enum": [1]})


def test_bad_options() -> None:
    with pytest.raises(InvalidArgumentError, match="whitespace"):
        json_schema_to_gbnf({}, whitespace="lots")
    with pytest.raises(InvalidArgumentError, match="'sorted'"):
        json_schema_to_gbnf({}, property_order="sorted")
    with pytest.raises(InvalidArgumentError, match="additional_properties"):
        json_schema_to_gbnf({}, additional_properties="no")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        json_schema_to_gbnf({"enum": [float("nan")]})


def test_deeply_nested_schema_parses_in_llama_cpp() -> None:
    schema: dict[str, Any] = {"type": "integer"}
    for _ in range(60):
        schema = {"type": "object", "properties": {"x": schema}, "required": ["x"]}
    grammar = json_schema_to_gbnf(schema, whitespace="compact")
    text = '{"x":' * 60 + "1" + "}" * 60
    with GrammarMatcher(grammar) as m:
        assert m.accepts(text)
        assert not m.accepts(text[:-1])


def test_compile_is_cached_and_fast() -> None:
    import time

    schema = {
        "type": "object",
        "properties": {f"p{i}": {"type": "string", "maxLength": 40} for i in range(30)},
    }
    start = time.perf_counter()
    first = json_schema_to_gbnf(schema)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    assert json_schema_to_gbnf(schema) == first
    assert time.perf_counter() - start < max(cold, 0.002)


@pytest.mark.parametrize("schema", [
    {"type": "string", "not": {}},
    {"type": ["string", "integer"], "not": True},
    {"type": "object", "properties": {"a": {"type": "string", "not": {}}}, "required": ["a"]},
])
def test_a_negation_of_everything_accepts_nothing(schema: dict) -> None:
    # "not": {} next to other keywords compiled to "any string": the grammar accepted what the
    # schema forbids. Such a schema accepts no value at all, like {"not": {}} alone.
    with pytest.raises(UnsupportedSchemaError, match="no value"):
        json_schema_to_gbnf(schema)
