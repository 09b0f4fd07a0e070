"""JSON Schema -> GBNF compiler: the public entry point and its options.

:func:`json_schema_to_gbnf` turns a JSON Schema (drafts 4 to 2020-12) into a GBNF grammar for
llama.cpp that accepts exactly the JSON texts valid under the schema, or a subset of them where
exactness would need features a context-free grammar lacks (then only in harmless ways: a value
serialized in an unusual but valid form may be rejected). A keyword that cannot be enforced raises
:class:`~llamaprov.errors.UnsupportedSchemaError` in strict mode; the grammar never accepts what
the schema forbids.

Design: the schema is flattened into a typed normalized form (:mod:`._normalize`, :mod:`._schema`:
``allOf`` and ``$ref`` siblings merged, sibling keywords pushed into ``anyOf``/``oneOf``
branches), then compiled per JSON type (:mod:`._compiler` and the ``_compile_*`` modules).
``$ref`` targets become named rules (recursion works); references that would recurse without
consuming input are refused. Objects keep the definition order of ``properties`` by default (what
a model should generate); optional ones may be skipped and extra keys (when allowed) may appear
after any emitted property. With ``property_order="any"`` an object with few enough listed
properties accepts them in any order, each at most once (one grammar state per set of emitted
keys); larger ones keep the definition order, which only ever rejects, never accepts, more.
"""

from __future__ import annotations

import functools
import json
import re
import warnings
from typing import Any

from ..errors import InvalidArgumentError, UnsupportedSchemaError, describe
from ._compiler import Compiler

__all__ = ["PROPERTY_ORDERS", "WHITESPACE_MODES", "json_schema_to_gbnf"]

# The values json_schema_to_gbnf accepts for whitespace= and property_order=.
WHITESPACE_MODES = ("compact", "bounded", "flexible")
PROPERTY_ORDERS = ("definition", "any")
_RULE_PREFIX = re.compile(r"[a-zA-Z0-9-]*")


def json_schema_to_gbnf(
    schema: Any,
    *,
    whitespace: str = "bounded",
    additional_properties: bool | dict[str, Any] | None = None,
    strict: bool = True,
    property_order: str = "definition",
    rule_prefix: str = "",
) -> str:
    """Compile a JSON Schema to a GBNF grammar (root rule ``root``, or ``<rule_prefix>root``).

    Args:
        schema: the schema, a dict or a boolean.
        whitespace: ``"compact"`` (no whitespace), ``"bounded"`` (a little, so a model cannot emit
            endless whitespace; the default) or ``"flexible"`` (everything JSON allows).
        additional_properties: what an object without ``additionalProperties`` allows; None means
            the specification's default (``true``); pass False for tool arguments. An object that
            declares neither ``properties`` nor ``patternProperties`` always allows any keys.
        strict: raise :class:`UnsupportedSchemaError` for keywords that cannot be enforced; with
            False they are ignored with a warning (the grammar may then accept invalid values).
        property_order: ``"definition"`` (listed properties appear in the order the schema lists
            them; the default, and what generation wants) or ``"any"`` (any order, each key at most
            once, for objects listing up to 7 properties, to check existing JSON against a schema).
        rule_prefix: put in front of every rule name of the grammar, ``root`` included (letters,
            digits and ``-``). Grammars compiled with different prefixes, none of which starts
            another (``tool0-``, ``tool1-``), can be concatenated into one grammar without clashing
            names; refer to each by ``<prefix>root`` (and pass that as the root to llama.cpp when
            one is used alone).

    A malformed schema (a keyword value of the wrong JSON type, such as ``{"type": 7}`` or
    ``{"required": "a"}``, a count beyond 2**32, nesting too deep) raises
    :class:`UnsupportedSchemaError` in either mode, naming the keyword, where it is and the value.
    """
    if whitespace not in WHITESPACE_MODES:
        raise InvalidArgumentError(
            f"whitespace must be one of {WHITESPACE_MODES}, got {describe(whitespace)}"
        )
    if property_order not in PROPERTY_ORDERS:
        raise InvalidArgumentError(
            f"property_order must be one of {PROPERTY_ORDERS}, got {describe(property_order)}"
        )
    if not isinstance(rule_prefix, str) or not _RULE_PREFIX.fullmatch(rule_prefix):
        raise InvalidArgumentError(
            f"rule_prefix must be a str of letters, digits and '-', got {describe(rule_prefix)}"
        )
    if not isinstance(schema, (dict, bool)):
        raise InvalidArgumentError(f"a JSON Schema is a dict or a bool, got {describe(schema)}")
    if additional_properties is not None and not isinstance(additional_properties, (bool, dict)):
        raise InvalidArgumentError(
            f"additional_properties must be None, a bool or a schema dict, "
            f"got {describe(additional_properties)}"
        )
    try:
        key = json.dumps([schema, additional_properties], allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"schema is not JSON-serializable: {exc}") from None
    except RecursionError:
        raise UnsupportedSchemaError("schema", "#", "the schema nests too deeply") from None
    grammar, notes = _compile_cached(key, whitespace, strict, property_order, rule_prefix)
    for note in notes:
        warnings.warn(note, stacklevel=2)
    return grammar


@functools.lru_cache(maxsize=512)
def _compile_cached(
    key: str, whitespace: str, strict: bool, property_order: str, rule_prefix: str
) -> tuple[str, tuple[str, ...]]:
    schema, additional = json.loads(key)
    try:
        comp = Compiler(schema, whitespace, additional, strict, property_order == "any", rule_prefix)
        return comp.compile(), tuple(comp.notes)
    except RecursionError:
        raise UnsupportedSchemaError("$ref", "#", "the schema nests too deeply") from None
