"""The normalized schema the compiler works on: plain keywords plus typed combinators.

Flattening a JSON Schema (any draft) gives a :class:`Flat`: ``$ref`` and ``allOf`` merged in,
draft differences removed, and what does not merge into single keyword values kept in fields of
its own: ``anyOf``/``oneOf`` groups, ``not`` subschemas, patterns (all must match), key sets an
object must not hold all of, the member schemas by key of ``allOf`` branches that do not merge
into one ``properties``/``patternProperties``/``additionalProperties`` set, and whether the
schema is false (accepts nothing).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ._keywords import VALIDATION


@dataclass(frozen=True, eq=False)
class Alternatives:
    """One ``anyOf`` or ``oneOf`` of a schema, with where it was written (for its branches)."""

    kind: str  # "anyOf" or "oneOf"
    branches: list[Any]  # the raw subschemas
    ptr: str  # JSON pointer of the schema holding the keyword
    base: str  # base URI the branches' references resolve against


@dataclass(frozen=True, eq=False)
class Negation:
    """A ``not`` subschema (raw) and its JSON pointer."""

    schema: Any
    ptr: str


@dataclass(frozen=True, eq=False)
class KeyMap:
    """An ``allOf`` branch's ``properties``/``patternProperties``/``additionalProperties`` (only
    those keywords, raw) that must hold next to the flat schema's own: each member's value must
    also satisfy the schema this map gives its key."""

    keywords: dict[str, Any]
    ptr: str  # JSON pointer of the schema holding the keywords
    base: str  # base URI their references resolve against


@dataclass(eq=False, slots=True)
class Flat:
    """A flattened schema: an instance is valid when it satisfies all of these at once.

    ``keywords`` holds the remaining JSON Schema keywords in normalized form (``type`` a list,
    ``const`` folded into ``enum``, draft 4 exclusive bounds as numbers, array ``items`` split
    into ``prefixItems``/``items``, ``dependencies`` split).

    Nothing changes a Flat (or its ``keywords``) once built: each step that needs a different one
    makes a new one with :meth:`replace`. (Not a frozen dataclass only because that costs twice
    as much to build, and the compiler builds one per flattened subschema.)
    """

    keywords: dict[str, Any] = field(default_factory=dict)
    false: bool = False  # accepts no value at all
    alternatives: tuple[Alternatives, ...] = ()  # each group must match
    negations: tuple[Negation, ...] = ()  # none may match
    patterns: tuple[str, ...] = ()  # a string must match every one
    absent_all: tuple[tuple[str, ...], ...] = ()  # an object must not hold all keys of any
    key_maps: tuple[KeyMap, ...] = ()  # member schemas by key that must hold as well

    def constrains(self) -> bool:
        """Whether anything here constrains instances (else any JSON value is valid)."""
        return (
            self.false
            or bool(self.alternatives or self.negations or self.patterns or self.absent_all or self.key_maps)
            or any(k in VALIDATION for k in self.keywords)
        )

    def replace(self, **changes: Any) -> Flat:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)
