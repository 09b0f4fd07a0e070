"""Proving that schemas share no valid value (so a ``oneOf`` can compile as an ``anyOf``).

Sound, not complete: True only when no value can satisfy two of the schemas (different types,
disjoint enums or numeric ranges, a required key one forbids, a required key whose listed values
differ); False whenever that is not evident.
"""

from __future__ import annotations

from typing import Any

from ._keywords import TYPES, json_key, type_of
from ._schema import Flat


def pairwise_disjoint(schemas: list[Flat]) -> bool:
    """Whether no JSON value is valid under two of ``schemas`` (False: could not prove it)."""
    for i in range(len(schemas)):
        for j in range(i + 1, len(schemas)):
            if not _disjoint(schemas[i], schemas[j]):
                return False
    return True


def _value_types(s: Flat) -> set[str]:
    if "enum" in s.keywords and isinstance(s.keywords["enum"], list):
        out = {type_of(v) for v in s.keywords["enum"]}
        return out | ({"number"} if "integer" in out else set())
    t = s.keywords.get("type")
    if not t:
        return set(TYPES)
    out = set(t)
    if "number" in out:
        out.add("integer")
    return out


def _disjoint(a: Flat, b: Flat) -> bool:
    if a.alternatives or b.alternatives:
        return False
    ta, tb = _value_types(a), _value_types(b)
    common = ta & tb
    if not common:
        return True
    if "enum" in a.keywords and "enum" in b.keywords:
        return not ({json_key(v) for v in a.keywords["enum"]} & {json_key(v) for v in b.keywords["enum"]})
    if common <= {"object"}:
        return _objects_disjoint(a, b) or _objects_disjoint(b, a)
    if common <= {"number", "integer"}:
        return _ranges_disjoint(a, b)
    return False


def _objects_disjoint(a: Flat, b: Flat) -> bool:
    ka, kb = a.keywords, b.keywords
    pa, pb = ka.get("properties", {}), kb.get("properties", {})
    ra, rb = set(ka.get("required", [])), set(kb.get("required", []))
    # a forbids extra keys and b requires a key a does not list
    if ka.get("additionalProperties") is False and not ka.get("patternProperties") and rb - set(pa):
        return True
    for k in ra & rb:
        ea = _const_values(pa.get(k))
        eb = _const_values(pb.get(k))
        if ea is not None and eb is not None and not (ea & eb):
            return True
    return False


def _const_values(s: Any) -> set[Any] | None:
    """The values a schema allows when it lists them (const/enum, also inside allOf)."""
    if not isinstance(s, dict):
        return None
    found: set[Any] | None = None
    if "const" in s:
        found = {json_key(s["const"])}
    if isinstance(s.get("enum"), list):
        vals = {json_key(v) for v in s["enum"]}
        found = vals if found is None else found & vals
    for sub in s.get("allOf", []) if isinstance(s.get("allOf"), list) else []:
        inner = _const_values(sub)
        if inner is not None:
            found = inner if found is None else found & inner
    return found


def _ranges_disjoint(a: Flat, b: Flat) -> bool:
    def bounds(s: Flat) -> tuple[Any, Any]:
        lo = s.keywords.get("exclusiveMinimum", s.keywords.get("minimum"))
        hi = s.keywords.get("exclusiveMaximum", s.keywords.get("maximum"))
        return lo, hi

    (la, ha), (lb, hb) = bounds(a), bounds(b)
    try:
        if ha is not None and lb is not None and ha < lb:
            return True
        if hb is not None and la is not None and hb < la:
            return True
    except TypeError:
        return False
    return False
