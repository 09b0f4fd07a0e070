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
after any emitted property. With ``property_order="any"`` an object listing up to 7 properties
accepts them in any order, each at most once (one grammar state per set of emitted keys); a larger
one tracks only the keys that must be counted (required ones and those of dependencies) in any
order, its other optional keys interleaved in definition order among themselves (strict: this
only ever rejects, never accepts, more) or, with ``approximate=True``, in any order where one
may repeat (approximated: :meth:`CompiledSchema.check` refuses duplicate keys).
"""

from __future__ import annotations

import functools
import json
import re
import warnings
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgumentError, UnsupportedSchemaError, describe
from ._compiler import Compiler

__all__ = ["PROPERTY_ORDERS", "WHITESPACE_MODES", "CompiledSchema", "compile_schema", "json_schema_to_gbnf"]

# The values json_schema_to_gbnf accepts for whitespace= and property_order=.
WHITESPACE_MODES = ("compact", "bounded", "flexible")
PROPERTY_ORDERS = ("definition", "any")
_RULE_PREFIX = re.compile(r"[a-zA-Z0-9-]*")


@dataclass(frozen=True)
class CompiledSchema:
    """A compiled JSON Schema: the grammar and what it only approximates.

    ``approximated`` lists ``(keyword, JSON pointer, why)`` for each constraint the grammar does
    not enforce exactly but widens (accepts a superset; empty unless compiled with
    ``approximate=True``): ``oneOf`` whose branches may overlap (compiled as ``anyOf``), ``not``
    forms a grammar cannot express, ``if``/``then``/``else``, ``uniqueItems``,
    ``unevaluatedProperties``/``unevaluatedItems``, ``dependentSchemas``, ``multipleOf`` the
    number grammars cannot count, patterns using lookaround/backreferences, a pattern or length
    bounds next to a pattern or format when their intersection is too large, several
    ``patternProperties`` with different schemas. Output generated under such a grammar must be
    validated with ``jsonschema`` against the schema (``parse_structured`` and tool argument
    validation do): that check rejects the rest. ``format`` is never approximated, since
    ``jsonschema`` does not assert formats by default.
    """

    grammar: str
    approximated: tuple[tuple[str, str, str], ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def exact(self) -> bool:
        """Whether the grammar accepts no value the schema forbids."""
        return not self.approximated

    @property
    def approximated_keywords(self) -> tuple[str, ...]:
        """The keywords in :attr:`approximated`, each once."""
        return tuple(dict.fromkeys(k for k, _, _ in self.approximated))

    def check(self, text: str, schema: Any) -> Any:
        """The JSON value of ``text`` (output generated under this grammar), checked for what the
        grammar may have let through: duplicate object keys, and when :attr:`approximated`, the
        schema (``jsonschema``). Raises :class:`ValueError` saying what is wrong."""
        data = json.loads(text, object_pairs_hook=_unique_keys)
        if self.approximated:
            import jsonschema

            error = jsonschema.exceptions.best_match(
                jsonschema.validators.validator_for(schema)(schema).iter_errors(data)
            )
            if error is not None:
                raise ValueError(f"not valid under the schema: {error.message}")
        return data


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r} in a JSON object")
        out[k] = v
    return out


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

    Compiled grammars are cached per process by the schema's JSON text and the options, so a
    tool schema compiles once. Never approximates: see :func:`compile_schema` for that.
    """
    compiled = _compile(schema, whitespace, additional_properties, strict, property_order, rule_prefix, False)
    for note in compiled.notes:
        warnings.warn(note, stacklevel=2)
    return compiled.grammar


def compile_schema(
    schema: Any,
    *,
    whitespace: str = "bounded",
    additional_properties: bool | dict[str, Any] | None = None,
    strict: bool = True,
    property_order: str = "definition",
    rule_prefix: str = "",
    approximate: bool = False,
) -> CompiledSchema:
    """Compile a JSON Schema to a :class:`CompiledSchema` (the options are those of
    :func:`json_schema_to_gbnf`).

    With ``approximate=True`` a keyword a grammar can only widen (see
    :attr:`CompiledSchema.approximated`) no longer raises :class:`UnsupportedSchemaError`: the
    grammar accepts a superset and says so; validate the output against the schema. Everything
    else stays strict (or lenient with ``strict=False``).
    """
    compiled = _compile(
        schema, whitespace, additional_properties, strict, property_order, rule_prefix, approximate
    )
    for note in compiled.notes:
        warnings.warn(note, stacklevel=2)
    return compiled


def _compile(
    schema: Any,
    whitespace: str,
    additional_properties: bool | dict[str, Any] | None,
    strict: bool,
    property_order: str,
    rule_prefix: str,
    approximate: bool,
) -> CompiledSchema:
    """Check the options, then compile (cached by the schema's JSON text and the options)."""
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
    return _compile_cached(key, whitespace, strict, property_order, rule_prefix, bool(approximate))


@functools.lru_cache(maxsize=512)
def _compile_cached(
    key: str, whitespace: str, strict: bool, property_order: str, rule_prefix: str, approximate: bool
) -> CompiledSchema:
    schema, additional = json.loads(key)
    try:
        comp = Compiler(
            schema, whitespace, additional, strict, property_order == "any", rule_prefix, approximate
        )
        grammar = comp.compile()
        return CompiledSchema(grammar, tuple(comp.approximated), tuple(comp.notes))
    except RecursionError:
        raise UnsupportedSchemaError("$ref", "#", "the schema nests too deeply") from None
