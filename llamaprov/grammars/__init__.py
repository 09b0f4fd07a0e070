"""Grammars: JSON Schema -> GBNF compiler, GBNF validation with llama.cpp, bundled grammars."""

from __future__ import annotations

from .gbnf import GrammarMatcher, validate_gbnf
from .json_schema import (
    PROPERTY_ORDERS,
    WHITESPACE_MODES,
    CompiledSchema,
    compile_schema,
    json_schema_to_gbnf,
)
from .library import available, load

__all__ = [
    "PROPERTY_ORDERS",
    "WHITESPACE_MODES",
    "CompiledSchema",
    "GrammarMatcher",
    "available",
    "compile_schema",
    "json_schema_to_gbnf",
    "load",
    "validate_gbnf",
]
