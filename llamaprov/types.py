"""Type specs for structured output and tool parameters (ellmer's ``type_*`` helpers)."""

from llamaprov.chat.types import (
    TypeSpec,
    to_json_schema,
    type_array,
    type_boolean,
    type_enum,
    type_integer,
    type_number,
    type_object,
    type_string,
)

__all__ = [
    "TypeSpec",
    "to_json_schema",
    "type_array",
    "type_boolean",
    "type_enum",
    "type_integer",
    "type_number",
    "type_object",
    "type_string",
]
