"""JSON Schema keywords: which ones constrain instances, the JSON type each must have, and
reading their values (pointers, counts, decimals, JSON equality)."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from ..errors import UnsupportedSchemaError, describe

# The JSON Schema type names.
TYPES = ("null", "boolean", "object", "array", "string", "number", "integer")
# counts (minLength, maxItems, ...) beyond this would make a grammar of gigabytes
MAX_COUNT = 2**32

# What the compiler does with a keyword it cannot enforce, given (keyword, JSON pointer, why):
# raise UnsupportedSchemaError (strict) or note it and go on (lenient).
Unsupported = Callable[[str, str, str], None]

# Keywords that constrain instances; anything else is an annotation (ignored).
VALIDATION = frozenset(
    [
        "type",
        "enum",
        "const",
        "properties",
        "required",
        "additionalProperties",
        "patternProperties",
        "propertyNames",
        "minProperties",
        "maxProperties",
        "dependentRequired",
        "dependencies",
        "dependentSchemas",
        "items",
        "prefixItems",
        "additionalItems",
        "minItems",
        "maxItems",
        "contains",
        "minContains",
        "maxContains",
        "uniqueItems",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "anyOf",
        "oneOf",
        "allOf",
        "$ref",
        "not",
        "if",
        "then",
        "else",
        "unevaluatedProperties",
        "unevaluatedItems",
        "$dynamicRef",
        "$recursiveRef",
        "nullable",
    ]
)
# Keywords about strings and numbers (an enum value is checked against them one by one).
SCALAR_KEYWORDS = frozenset(
    [
        "type",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
    ]
)
# Keywords about arrays and objects.
CONTAINER_KEYWORDS = frozenset(
    [
        "properties",
        "required",
        "additionalProperties",
        "patternProperties",
        "propertyNames",
        "minProperties",
        "maxProperties",
        "dependentRequired",
        "dependentSchemas",
        "items",
        "prefixItems",
        "minItems",
        "maxItems",
        "contains",
        "minContains",
        "maxContains",
        "uniqueItems",
    ]
)
# Keywords whose value holds subschemas: an object of them, an array of them, or one.
SCHEMA_DICTS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SCHEMA_SINGLE = (
    "additionalProperties",
    "additionalItems",
    "contains",
    "not",
    "if",
    "then",
    "else",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
)

_COUNT_KEYWORDS = (
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "minContains",
    "maxContains",
)


def _is_schema(value: Any) -> bool:
    return isinstance(value, (dict, bool))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return _is_number(value) and value >= 0 and (isinstance(value, int) or value.is_integer())


def _is_strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_schema_dict(value: Any) -> bool:
    return isinstance(value, dict) and all(map(_is_schema, value.values()))


def _is_schema_list(value: Any) -> bool:
    return isinstance(value, list) and all(map(_is_schema, value))


def _is_type(value: Any) -> bool:
    names = value if isinstance(value, list) else [value]
    return all(isinstance(t, str) and t in TYPES for t in names)


# The JSON type each keyword the compiler reads must have: (test, what it expects).
_KEYWORD_SHAPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "type": (_is_type, f"one of {', '.join(TYPES)} or an array of them"),
    "enum": (lambda v: isinstance(v, list), "an array"),
    "required": (_is_strings, "an array of strings"),
    "$ref": (lambda v: isinstance(v, str), "a string"),
    "pattern": (lambda v: isinstance(v, str), "a string"),
    "format": (lambda v: isinstance(v, str), "a string"),
    "uniqueItems": (lambda v: isinstance(v, bool), "a boolean"),
    "nullable": (lambda v: isinstance(v, bool), "a boolean"),
    "items": (lambda v: _is_schema(v) or _is_schema_list(v), "a schema or an array of schemas"),
    "dependentRequired": (
        lambda v: isinstance(v, dict) and all(map(_is_strings, v.values())),
        "an object of string arrays",
    ),
    "dependencies": (
        lambda v: isinstance(v, dict) and all(_is_schema(d) or _is_strings(d) for d in v.values()),
        "an object of schemas or string arrays",
    ),
    **{k: (_is_schema_dict, "an object of schemas") for k in SCHEMA_DICTS},
    **{k: (_is_schema_list, "an array of schemas") for k in SCHEMA_LISTS},
    **{k: (_is_schema, "a schema (an object or a boolean)") for k in SCHEMA_SINGLE},
    **{k: (_is_count, "a non-negative integer") for k in _COUNT_KEYWORDS},
    "minimum": (_is_number, "a number"),
    "maximum": (_is_number, "a number"),
    # a boolean in draft 4 (it makes minimum/maximum exclusive)
    "exclusiveMinimum": (lambda v: _is_number(v) or isinstance(v, bool), "a number"),
    "exclusiveMaximum": (lambda v: _is_number(v) or isinstance(v, bool), "a number"),
    "multipleOf": (lambda v: _is_number(v) and v > 0, "a number > 0"),
}


def check_keyword_values(schema: dict[str, Any], ptr: str) -> None:
    """Refuse a keyword whose value has the wrong JSON type (``{"type": 7}``, ``{"required":
    "a"}``): the compiler reads every value below as the specification says it is."""
    for keyword, value in schema.items():
        shape = _KEYWORD_SHAPES.get(keyword)
        if shape is not None and not shape[0](value):
            raise UnsupportedSchemaError(keyword, ptr, f"expected {shape[1]}, got {describe(value)}")


def pointer(base: str, *parts: object) -> str:
    """``base`` (a JSON pointer) extended by ``parts``, each escaped."""
    out = base
    for p in parts:
        out += "/" + str(p).replace("~", "~0").replace("/", "~1")
    return out


def json_key(value: Any) -> Any:
    """Hashable identity of a JSON value under JSON Schema equality (1 == 1.0, True != 1)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, (int, float)):
        return (
            "num",
            Fraction(value) if not isinstance(value, float) or math.isfinite(value) else value,
        )
    if isinstance(value, list):
        return ("list", tuple(json_key(v) for v in value))
    if isinstance(value, dict):
        return ("dict", frozenset((k, json_key(v)) for k, v in value.items()))
    return ("other", repr(value))


def type_of(value: Any) -> str:
    """The JSON Schema type of a JSON value (``"integer"`` for 2.0 too)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def as_count(value: Any, keyword: str, ptr: str) -> int:
    """A count keyword's value (minLength, maxItems, ...) as an int no larger than :data:`MAX_COUNT`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise UnsupportedSchemaError(keyword, ptr, f"expected a non-negative integer, got {describe(value)}")
    if isinstance(value, float):
        if not value.is_integer():
            raise UnsupportedSchemaError(keyword, ptr, f"expected an integer, got {value}")
        value = int(value)
    if value > MAX_COUNT:
        raise UnsupportedSchemaError(keyword, ptr, f"{value} is more than a grammar can count ({MAX_COUNT})")
    return int(value)


def as_decimal(value: Any, keyword: str, ptr: str) -> Decimal:
    """A numeric keyword's value (minimum, multipleOf, ...) as an exact, finite Decimal."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UnsupportedSchemaError(keyword, ptr, f"expected a number, got {describe(value)}")
    try:
        d = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise UnsupportedSchemaError(keyword, ptr, f"bad number {value!r}") from None
    if not d.is_finite():
        raise UnsupportedSchemaError(keyword, ptr, f"bad number {value!r}")
    return d


def trivial(schema: Any) -> bool:
    """Whether a schema accepts every value (``true``, ``{}``, annotations only)."""
    return schema is True or schema == {} or (isinstance(schema, dict) and not has_validation(schema))


def has_validation(schema: dict[str, Any], skip: tuple[str, ...] = ()) -> bool:
    """Whether a schema object has a keyword that constrains instances (other than ``skip``)."""
    return any(k in VALIDATION and k not in skip for k in schema)
