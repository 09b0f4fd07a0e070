"""Flattening: a JSON Schema (any draft) to the :class:`~._schema.Flat` the compiler works on.

``$ref`` siblings and ``allOf`` are merged into one set of keywords (bounds tightened, types and
enums intersected, required lists joined, subschemas of the same keyword combined with
:func:`all_of`); ``anyOf``/``oneOf``/``not``/``pattern`` are kept as typed combinators, and so are
the member schemas by key of branches whose ``properties``/``patternProperties``/
``additionalProperties`` do not merge into one set (:class:`~._schema.KeyMap`). What cannot be
merged exactly is refused through the compiler's ``unsupported`` policy.
"""

from __future__ import annotations

import json
import math
import re
from fractions import Fraction
from typing import Any

from ..errors import UnsupportedSchemaError, describe
from ._keywords import TYPES, VALIDATION, Unsupported, json_key, pointer, trivial
from ._refs import SchemaIndex
from ._schema import Alternatives, Flat, KeyMap, Negation

# $ref chains and allOf nesting deeper than this are refused
MAX_DEPTH = 40


class Normalizer:
    """Flattens and merges schemas of one document; refuses what it cannot merge via ``unsupported``."""

    def __init__(
        self, refs: SchemaIndex, unsupported: Unsupported, approximate: Unsupported | None = None
    ) -> None:
        self.refs = refs
        self.unsupported = unsupported
        # a constraint that can only be dropped (a superset, checked after generation)
        self.approximate = approximate or unsupported

    def flatten(self, schema: Any, ptr: str, base: str, depth: int = 0) -> Flat:
        """The schema with ``$ref`` siblings and ``allOf`` merged in, normalized across drafts."""
        if depth > MAX_DEPTH:
            raise UnsupportedSchemaError("$ref", ptr, "references nest too deeply")
        if schema is True:
            return Flat()
        if schema is False:
            return Flat(false=True)
        if not isinstance(schema, dict):
            raise UnsupportedSchemaError(
                "schema", ptr, f"expected an object or boolean, got {describe(schema)}"
            )
        base = self.refs.base_of(schema, base)
        s = dict(schema)
        parts: list[Flat] = []
        ref = s.pop("$ref", None)
        if isinstance(ref, str):
            target, tbase, tptr = self.refs.resolve(ref, ptr, base)
            parts.append(self.flatten(target, tptr, tbase, depth + 1))
        conjuncts = s.pop("allOf", None)
        if isinstance(conjuncts, list):
            for i, sub in enumerate(conjuncts):
                parts.append(self.flatten(sub, pointer(ptr, "allOf", i), base, depth + 1))
        flat = self._normalize(s, ptr, base)
        for p in parts:
            flat = self.merge(flat, p, ptr, base)
        return flat

    def _normalize(self, s: dict[str, Any], ptr: str, base: str) -> Flat:
        """One schema object's own keywords (``$ref`` and ``allOf`` taken out), across drafts."""
        for bound, excl in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
            if isinstance(s.get(excl), bool) and s.pop(excl) and bound in s:
                s[excl] = s.pop(bound)
        if "const" in s:
            c = s.pop("const")
            if "enum" in s and isinstance(s["enum"], list):
                s["enum"] = [v for v in s["enum"] if json_key(v) == json_key(c)]
            else:
                s["enum"] = [c]
        t = s.get("type")
        if isinstance(t, str):
            s["type"] = [t]
        if s.pop("nullable", False) is True and isinstance(s.get("type"), list):
            s["type"] = [*s["type"], "null"]
        items = s.get("items")
        if isinstance(items, list):
            s["prefixItems"] = items
            extra = s.pop("additionalItems", True)
            s["items"] = extra
        else:
            s.pop("additionalItems", None)
        deps = s.pop("dependencies", None)
        if isinstance(deps, dict):
            for k, v in deps.items():
                if isinstance(v, list):
                    s.setdefault("dependentRequired", {})[k] = v
                else:
                    s.setdefault("dependentSchemas", {})[k] = v
        dep_schemas = s.get("dependentSchemas")
        if isinstance(dep_schemas, dict):
            # a dependent schema that only requires keys is a dependentRequired entry
            rest = {}
            for k, v in dep_schemas.items():
                if v is True or v == {}:
                    continue
                if isinstance(v, dict) and {x for x in v if x in VALIDATION} == {"required"}:
                    req = s.setdefault("dependentRequired", {})
                    req[k] = [*req.get(k, []), *v["required"]]
                else:
                    rest[k] = v
            if rest:
                s["dependentSchemas"] = rest
            else:
                del s["dependentSchemas"]
        alternatives = []
        for kind in ("anyOf", "oneOf"):
            branches = s.pop(kind, None)
            if isinstance(branches, list):
                alternatives.append(Alternatives(kind, branches, ptr, base))
        negations = (Negation(s.pop("not"), pointer(ptr, "not")),) if "not" in s else ()
        patterns = (s.pop("pattern"),) if "pattern" in s else ()
        return Flat(s, alternatives=tuple(alternatives), negations=negations, patterns=patterns)

    def merge(self, a: Flat, b: Flat, ptr: str, base: str = "") -> Flat:
        """Schema accepting what both ``a`` and ``b`` accept."""
        out = {k: v for k, v in a.keywords.items() if k not in _KEY_MAP}
        for key, vb in b.keywords.items():
            if key in _KEY_MAP:
                continue
            if key not in out:
                out[key] = vb
                continue
            va = out[key]
            if key == "type":
                out[key] = _merge_types(va, vb)
            elif key == "enum":
                keys = {json_key(v) for v in vb}
                out[key] = [v for v in va if json_key(v) in keys]
            elif key == "required":
                out[key] = list(dict.fromkeys([*va, *vb]))
            elif key in (
                "minimum",
                "exclusiveMinimum",
                "minLength",
                "minItems",
                "minProperties",
                "minContains",
            ):
                out[key] = max(va, vb)
            elif key in (
                "maximum",
                "exclusiveMaximum",
                "maxLength",
                "maxItems",
                "maxProperties",
                "maxContains",
            ):
                out[key] = min(va, vb)
            elif key in ("items", "propertyNames", "contains"):
                out[key] = all_of(va, vb)
            elif key == "uniqueItems":
                out[key] = bool(va) or bool(vb)
            elif key == "dependentRequired":
                merged = dict(va)
                for k, v in vb.items():
                    merged[k] = list(dict.fromkeys([*merged.get(k, []), *v]))
                out[key] = merged
            elif key == "multipleOf":
                merged_step = _merge_multiple(va, vb)
                if merged_step is None:
                    self.approximate("multipleOf", ptr, f"cannot combine multipleOf {va} and {vb}")
                    merged_step = va
                out[key] = merged_step
            elif key in ("format", "prefixItems", "dependentSchemas") and (
                json.dumps(va, sort_keys=True) != json.dumps(vb, sort_keys=True)
            ):
                (self.unsupported if key == "format" else self.approximate)(
                    key, ptr, "two different values in allOf"
                )
        apart = self._merge_key_maps(a.keywords, b.keywords, out, ptr, base)
        return Flat(
            out,
            false=a.false or b.false,
            alternatives=a.alternatives + b.alternatives,
            negations=a.negations + b.negations,
            patterns=a.patterns + b.patterns,
            absent_all=a.absent_all + b.absent_all,
            key_maps=a.key_maps + b.key_maps + apart,
        )

    def _merge_key_maps(
        self, ka: dict[str, Any], kb: dict[str, Any], out: dict[str, Any], ptr: str, base: str
    ) -> tuple[KeyMap, ...]:
        """Put the merged ``properties``/``patternProperties``/``additionalProperties`` of ``ka``
        and ``kb`` into ``out``; when they do not make one set (a key matching a pattern of one
        side and none of the other's also needs the other's ``additionalProperties``), ``out``
        keeps ``ka``'s and ``kb``'s are returned as a :class:`KeyMap` to hold as well.

        In the merged set a listed key gets both sides' schema for it (a side that does not list
        it: nothing when one of its patterns matches, since patterns apply to listed keys anyway,
        else its ``additionalProperties``); patterns are joined; ``additionalProperties`` of both
        hold for keys listed nowhere that match no pattern."""
        ma = {k: ka[k] for k in _KEY_MAP if k in ka}
        mb = {k: kb[k] for k in _KEY_MAP if k in kb}
        if not ma or not mb:
            out.update(ma or mb)
            return ()
        pa, pb = ma.get("properties", {}), mb.get("properties", {})
        ppa, ppb = ma.get("patternProperties", {}), mb.get("patternProperties", {})
        for name, value in (("properties", pa), ("properties", pb), ("patternProperties", ppa),
                            ("patternProperties", ppb)):
            if not isinstance(value, dict):
                raise UnsupportedSchemaError(name, ptr, f"expected an object, got {describe(value)}")
        adda, addb = ma.get("additionalProperties", True), mb.get("additionalProperties", True)
        apart = (KeyMap(mb, ptr, base),)
        if (ppa and not trivial(addb)) or (ppb and not trivial(adda)):
            out.update(ma)
            return apart
        props: dict[str, Any] = {}
        for k in dict.fromkeys([*pa, *pb]):
            sa, sb = _key_schema(pa, ppa, adda, k), _key_schema(pb, ppb, addb, k)
            if sa is _UNKNOWN or sb is _UNKNOWN:
                out.update(ma)
                return apart
            props[k] = all_of(sa, sb)
        patterns = dict(ppa)
        for pat, sub in ppb.items():
            patterns[pat] = all_of(patterns[pat], sub) if pat in patterns else sub
        if props or "properties" in ma or "properties" in mb:
            out["properties"] = props
        if patterns:
            out["patternProperties"] = patterns
        if "additionalProperties" in ma or "additionalProperties" in mb:
            out["additionalProperties"] = all_of(adda, addb)
        return ()

    def fold_negations(self, s: Flat) -> Flat:
        """``s`` with the ``not`` forms we can express folded into its keywords; refuse the others."""
        keywords = dict(s.keywords)
        false = s.false
        absent_all = list(s.absent_all)
        for negation in s.negations:
            sub, nptr = negation.schema, negation.ptr
            if sub is True or sub == {}:
                false = True
                continue
            if sub is False:
                continue
            if isinstance(sub, dict) and set(sub) <= {"type", "description", "title"} and "type" in sub:
                banned = sub["type"] if isinstance(sub["type"], list) else [sub["type"]]
                types = keywords.get("type")
                types = list(TYPES) if types is None else types
                kept = [t for t in types if t not in banned]
                if "number" in banned:
                    kept = [t for t in kept if t != "integer"]
                if "integer" in banned and "number" in kept:
                    self.approximate("not", nptr, "'not integer' for numbers")
                    continue
                keywords["type"] = kept
                continue
            if (
                isinstance(sub, dict)
                and set(sub) <= {"required", "description", "title"}
                and isinstance(sub.get("required"), list)
                and len(sub["required"]) > 1
            ):
                # objects must not have all these keys; other types pass
                absent_all.append(tuple(sub["required"]))
                continue
            if (
                isinstance(sub, dict)
                and set(sub) <= {"required", "description", "title"}
                and isinstance(sub.get("required"), list)
                and len(sub["required"]) == 1
            ):
                k = sub["required"][0]
                props = dict(keywords.get("properties", {}))
                props[k] = False
                keywords["properties"] = props
                if k in keywords.get("required", []):
                    false = True
                continue
            self.approximate("not", nptr, f"cannot express {json.dumps(sub)[:80]}")
        return s.replace(keywords=keywords, false=false, negations=(), absent_all=tuple(absent_all))


_ALL_OF_CACHE: dict[tuple[int, int], tuple[Any, Any, dict[str, Any]]] = {}
# the keywords that give each object member its schema by key
_KEY_MAP = ("properties", "patternProperties", "additionalProperties")
_UNKNOWN = object()  # _key_schema: a pattern Python cannot evaluate


def _key_schema(props: dict[str, Any], patterns: dict[str, Any], additional: Any, key: str) -> Any:
    """What one side of a merge asks of member ``key`` beyond its patterns (which the object
    grammar applies to every key): its listed schema, nothing when a pattern matches, else its
    ``additionalProperties``."""
    if key in props:
        return props[key]
    for pat in patterns:
        try:
            if re.search(pat, key):
                return True
        except re.error:
            return _UNKNOWN
    return additional


def all_of(a: Any, b: Any) -> Any:
    """``{"allOf": [a, b]}``, the same object for the same pair (so recursion can be named)."""
    if a is True or a == {}:
        return b
    if b is True or b == {}:
        return a
    if a is False or b is False:
        return False
    if a is b:  # (nesting allOf [x, x] again and again would never reach a named rule)
        return a
    key = (id(a), id(b))
    hit = _ALL_OF_CACHE.get(key)
    if hit is not None and hit[0] is a and hit[1] is b:
        return hit[2]
    out = {"allOf": [a, b]}
    if len(_ALL_OF_CACHE) > 4096:
        _ALL_OF_CACHE.clear()
    _ALL_OF_CACHE[key] = (a, b, out)
    return out


def _merge_types(a: list[str], b: list[str]) -> list[str]:
    out = [t for t in a if t in b]
    if "integer" in a and "number" in b and "integer" not in out:
        out.append("integer")
    if "number" in a and "integer" in b and "integer" not in out:
        out.append("integer")
    return out


def _merge_multiple(a: Any, b: Any) -> Any:
    """A multipleOf implying both (None when neither is a multiple of the other)."""
    fa, fb = Fraction(str(a)), Fraction(str(b))
    if fa == fb:
        return a
    if fa.denominator == 1 and fb.denominator == 1:
        return math.lcm(int(fa), int(fb))
    if (fa / fb).denominator == 1:
        return a
    if (fb / fa).denominator == 1:
        return b
    return None
