"""Type specs: the JSON-schema types of structured output and tool parameters (ellmer's ``type_*``).

A type is a pydantic model, a JSON-schema dict, a :class:`TypeSpec` built by the ``type_*``
helpers, or a Python annotation (``int``, ``list[str]``, a ``TypedDict``...).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema
import pydantic

from llamaprov.chat.turns import Turn
from llamaprov.errors import InvalidArgumentError, StructuredOutputError, TruncatedOutputError, describe


@dataclass(frozen=True)
class TypeSpec:
    """A JSON-schema type built by the ``type_*`` helpers; ``required`` applies inside objects."""

    schema: dict[str, Any]
    required: bool = True


def _with_description(schema: dict[str, Any], description: str | None) -> dict[str, Any]:
    if description is not None:
        schema["description"] = description
    return schema


def type_string(description: str | None = None, *, required: bool = True) -> TypeSpec:
    """A string."""
    return TypeSpec(_with_description({"type": "string"}, description), required)


def type_integer(description: str | None = None, *, required: bool = True) -> TypeSpec:
    """An integer."""
    return TypeSpec(_with_description({"type": "integer"}, description), required)


def type_number(description: str | None = None, *, required: bool = True) -> TypeSpec:
    """A number (integer or float)."""
    return TypeSpec(_with_description({"type": "number"}, description), required)


def type_boolean(description: str | None = None, *, required: bool = True) -> TypeSpec:
    """true or false."""
    return TypeSpec(_with_description({"type": "boolean"}, description), required)


def type_enum(
    values: Sequence[str | int | float | bool],
    description: str | None = None,
    *,
    required: bool = True,
) -> TypeSpec:
    """One of ``values``."""
    if isinstance(values, (str, bytes)) or not values:
        raise InvalidArgumentError(f"type_enum needs a non-empty list of values, got {describe(values)}")
    return TypeSpec(_with_description({"enum": list(values)}, description), required)


def type_array(
    items: Any,
    description: str | None = None,
    *,
    min_items: int | None = None,
    max_items: int | None = None,
    required: bool = True,
) -> TypeSpec:
    """A list whose elements are of type ``items`` (any accepted type spec)."""
    schema: dict[str, Any] = {"type": "array", "items": to_json_schema(items)}
    if min_items is not None:
        schema["minItems"] = min_items
    if max_items is not None:
        schema["maxItems"] = max_items
    return TypeSpec(_with_description(schema, description), required)


def type_object(
    properties: Mapping[str, Any] | None = None,
    /,
    *,
    description: str | None = None,
    additional_properties: bool = False,
    required: bool = True,
    **props: Any,
) -> TypeSpec:
    """An object; each property is a type spec, given as keywords or as a mapping.

    A property is required unless its spec says ``required=False``.
    """
    merged = {**(properties or {}), **props}
    schema_props: dict[str, Any] = {}
    required_names: list[str] = []
    for name, spec in merged.items():
        schema_props[name] = to_json_schema(spec)
        if not isinstance(spec, TypeSpec) or spec.required:
            required_names.append(name)
    schema: dict[str, Any] = {
        "type": "object",
        "properties": schema_props,
        "required": required_names,
        "additionalProperties": additional_properties,
    }
    return TypeSpec(_with_description(schema, description), required)


def _is_pydantic_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, pydantic.BaseModel)


def to_json_schema(type_: Any) -> dict[str, Any]:
    """The JSON schema of a type spec: a pydantic model, a JSON-schema dict, a ``type_*`` helper
    result, or a Python annotation (``int``, ``list[str]``, a ``TypedDict``...)."""
    if isinstance(type_, TypeSpec):
        return copy.deepcopy(type_.schema)
    if isinstance(type_, Mapping):
        schema = dict(type_)
        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise InvalidArgumentError(f"invalid JSON schema {describe(schema)}: {exc.message}") from exc
        return copy.deepcopy(schema)
    if _is_pydantic_model(type_):
        return type_.model_json_schema()
    try:
        return pydantic.TypeAdapter(type_).json_schema()
    except (pydantic.PydanticSchemaGenerationError, TypeError, pydantic.PydanticUserError) as exc:
        raise InvalidArgumentError(
            f"expected a pydantic model, a JSON-schema dict or a type spec, got {describe(type_)}"
        ) from exc


def validate_against_type(data: Any, type_: Any) -> Any:
    """Validate parsed JSON ``data`` against ``type_``; return a pydantic instance for a pydantic
    model, the (validated) data otherwise. Raises ``ValueError`` with the reason when invalid."""
    if _is_pydantic_model(type_):
        try:
            return type_.model_validate(data)
        except pydantic.ValidationError as exc:
            raise ValueError(str(exc)) from exc
    if isinstance(type_, (TypeSpec, Mapping)):
        schema = to_json_schema(type_)
        try:
            jsonschema.validate(data, schema)
        except jsonschema.ValidationError as exc:
            raise ValueError(exc.message) from exc
        return data
    try:
        return pydantic.TypeAdapter(type_).validate_python(data)
    except pydantic.ValidationError as exc:
        raise ValueError(str(exc)) from exc


def parse_structured(turn: Turn, type_: Any) -> tuple[Any, Any]:
    """(validated value, parsed JSON) of an assistant turn generated as structured output of
    ``type_`` (see :func:`validate_against_type` for the value).

    Raises :class:`~llamaprov.errors.StructuredOutputError` (with ``raw``) when the output is
    not JSON or does not match the type, :class:`~llamaprov.errors.TruncatedOutputError` when
    max_tokens cut it off (a value the grammar closed within max_tokens, ``grammar_close``, is
    complete: its turn ends with finish_reason "length" all the same).
    """
    raw = turn.text
    try:
        data = json.loads(raw)
    except ValueError as exc:
        if turn.finish_reason == "length":
            raise TruncatedOutputError(
                "structured output was cut off by max_tokens before the JSON was complete: "
                f"{describe(raw, 200)}",
                raw=raw, max_tokens=turn.tokens.output if turn.tokens is not None else None,
            ) from None
        raise StructuredOutputError(f"structured output is not valid JSON: {exc}", raw=raw) from exc
    try:
        value = validate_against_type(data, type_)
    except ValueError as exc:
        raise StructuredOutputError(f"structured output does not match the type: {exc}", raw=raw) from exc
    return value, data


__all__ = [
    "TypeSpec",
    "parse_structured",
    "to_json_schema",
    "type_array",
    "type_boolean",
    "type_enum",
    "type_integer",
    "type_number",
    "type_object",
    "type_string",
    "validate_against_type",
]
