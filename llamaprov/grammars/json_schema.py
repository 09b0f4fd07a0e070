"""JSON Schema -> GBNF compiler.

:func:`json_schema_to_gbnf` turns a JSON Schema (drafts 4 to 2020-12) into a GBNF grammar for
llama.cpp that accepts exactly the JSON texts valid under the schema, or a subset of them where
exactness would need features a context-free grammar lacks (then only in harmless ways: a value
serialized in an unusual but valid form may be rejected). A keyword that cannot be enforced raises
:class:`~llamaprov.errors.UnsupportedSchemaError` in strict mode; the grammar never accepts what
the schema forbids.

Design: the schema is flattened (``allOf`` and ``$ref`` siblings merged, sibling keywords pushed
into ``anyOf``/``oneOf`` branches), then compiled per JSON type. ``$ref`` targets become named
rules (recursion works); references that would recurse without consuming input are refused.
Objects keep the definition order of ``properties`` by default (what a model should generate);
optional ones may be skipped and extra keys (when allowed) may appear after any emitted property.
With ``property_order="any"`` an object with few enough listed properties accepts them in any
order, each at most once (one grammar state per set of emitted keys); larger ones keep the
definition order, which only ever rejects, never accepts, more.
"""

from __future__ import annotations

import functools
import json
import math
import re
import warnings
from fractions import Fraction
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin

from ..errors import InvalidArgumentError, UnsupportedSchemaError, describe
from . import _regex
from ._builder import (
    ANY_RANGES,
    RuleSet,
    alt,
    char_class,
    contains,
    group,
    intersect,
    literal,
    subtract,
)
from ._formats import FORMAT_LENGTHS, format_rule
from ._keywords import (
    CONTAINER_KEYWORDS,
    SCALAR_KEYWORDS,
    SCHEMA_DICTS,
    SCHEMA_LISTS,
    SCHEMA_SINGLE,
    TYPES,
    VALIDATION,
    as_count,
    as_decimal,
    check_keyword_values,
    has_validation,
    json_key,
    pointer,
    trivial,
    type_of,
)
from ._numbers import decimal_range, int_range, multiples_nonneg
from ._schema import Alternatives, Flat, Negation

__all__ = ["PROPERTY_ORDERS", "WHITESPACE_MODES", "json_schema_to_gbnf"]

WHITESPACE_MODES = ("compact", "bounded", "flexible")
PROPERTY_ORDERS = ("definition", "any")
# property_order="any" needs one grammar state per subset of the listed keys: 2**7 = 128 states
# of up to 7 alternatives keeps the grammar small and llama.cpp's matcher fast
_ANY_ORDER_MAX = 7

_DEFAULT_BASE = "https://llamaprov.invalid/schema.json"
_MAX_DEPTH = 40
_MAX_BRANCHES = 512
_ENUM_EXPAND_LIMIT = 256

# Formats that validators commonly assert (jsonschema's FormatChecker) but we do not enforce;
# other unknown formats are annotations.
_ASSERTED_FORMATS = frozenset(
    [
        "regex",
        "json-pointer",
        "relative-json-pointer",
        "uri-reference",
        "iri",
        "iri-reference",
        "idn-email",
        "idn-hostname",
        "uri-template",
        "color",
    ]
)

_CONTROL = ((0, 0x1F),)
_QUOTE = 0x22
_BACKSLASH = 0x5C
_SHORT_ESCAPES = {8: "b", 9: "t", 10: "n", 12: "f", 13: "r"}
_HEX = "[0-9a-fA-F]"


def json_schema_to_gbnf(
    schema: Any,
    *,
    whitespace: str = "bounded",
    additional_properties: bool | dict[str, Any] | None = None,
    strict: bool = True,
    property_order: str = "definition",
) -> str:
    """Compile a JSON Schema to a GBNF grammar (root rule ``root``).

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
    grammar, notes = _compile_cached(key, whitespace, strict, property_order)
    for note in notes:
        warnings.warn(note, stacklevel=2)
    return grammar


@functools.lru_cache(maxsize=512)
def _compile_cached(
    key: str, whitespace: str, strict: bool, property_order: str
) -> tuple[str, tuple[str, ...]]:
    schema, additional = json.loads(key)
    try:
        comp = _Compiler(schema, whitespace, additional, strict, property_order == "any")
        return comp.compile(), tuple(comp.notes)
    except RecursionError:
        raise UnsupportedSchemaError("$ref", "#", "the schema nests too deeply") from None


class _Compiler:
    def __init__(
        self, schema: Any, whitespace: str, additional: Any, strict: bool, any_order: bool = False
    ) -> None:
        self.root = schema
        self.strict = strict
        self.any_order = any_order
        self.additional_default = True if additional is None else additional
        self.rules = RuleSet()
        self.notes: list[str] = []
        self.ids: dict[str, Any] = {}
        self.anchors: dict[str, Any] = {}
        self.bases: dict[int, str] = {}
        self.pointers: dict[int, str] = {}
        self.ref_rules: dict[int, str] = {}
        self.unsat_refs: set[int] = set()
        self.branches = 0
        self._cache: dict[str, str] = {}
        self._validators: dict[int, tuple[Flat, Any]] = {}
        base = _DEFAULT_BASE
        self.ids[base] = schema
        self._index(schema, base, "#")
        if isinstance(additional, dict):
            self._index(additional, base, "additional_properties")
        if whitespace == "compact":
            self.ws = ""
        elif whitespace == "flexible":
            self.ws = self.rules.add("ws", "[ \\t\\n\\r]*")
        else:
            indent = self.rules.upto("[ \\t]", 20, "indent")
            self.ws = self.rules.add("ws", f'| " " | "\\n" {indent}')

    # --- public driver ---

    def compile(self) -> str:
        expr = self.value(self.root, "#", _DEFAULT_BASE, frozenset())
        if expr is None:
            raise UnsupportedSchemaError("false", "#", "the schema accepts no value at all")
        return self.rules.render(expr)

    def unsupported(self, keyword: str, ptr: str, detail: str) -> None:
        """Refuse (strict) or note and ignore (lenient) a keyword we cannot enforce."""
        if self.strict:
            raise UnsupportedSchemaError(keyword, ptr, detail)
        self.notes.append(f"ignoring JSON Schema keyword {keyword!r} at {ptr}: {detail}")

    # --- $id / $ref ---

    def _index(self, schema: Any, base: str, ptr: str) -> None:
        if isinstance(schema, list):
            for i, s in enumerate(schema):
                self._index(s, base, pointer(ptr, i))
            return
        if not isinstance(schema, dict):
            return
        check_keyword_values(schema, ptr)
        sid = schema.get("$id", schema.get("id"))
        if isinstance(sid, str):
            full = urljoin(base, sid)
            doc, frag = urldefrag(full)
            if frag:
                self.anchors[full] = schema
            else:
                base = doc
                self.ids.setdefault(doc, schema)
        anchor = schema.get("$anchor")
        if isinstance(anchor, str):
            self.anchors[base + "#" + anchor] = schema
        self.bases[id(schema)] = base
        self.pointers[id(schema)] = ptr
        for key, sub in schema.items():
            if key in SCHEMA_DICTS and isinstance(sub, dict):
                for k, v in sub.items():
                    self._index(v, base, pointer(ptr, key, k))
            elif (key in SCHEMA_LISTS and isinstance(sub, list)) or key in SCHEMA_SINGLE or key == "items":
                self._index(sub, base, pointer(ptr, key))
            elif key == "dependencies" and isinstance(sub, dict):
                for k, v in sub.items():
                    if isinstance(v, dict):
                        self._index(v, base, pointer(ptr, key, k))

    def resolve(self, ref: str, ptr: str, base: str) -> tuple[Any, str, str]:
        full = urljoin(base, ref)
        doc, frag = urldefrag(full)
        target = self.ids.get(doc)
        if target is None:
            raise UnsupportedSchemaError("$ref", ptr, f"cannot resolve remote reference {ref!r}")
        if frag.startswith("/") or frag == "":
            node = target
            for raw in frag.split("/")[1:]:
                part = unquote(raw).replace("~1", "/").replace("~0", "~")
                if isinstance(node, dict) and part in node:
                    node = node[part]
                elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                    node = node[int(part)]
                else:
                    raise UnsupportedSchemaError("$ref", ptr, f"unresolvable reference {ref!r}")
            target = node
        else:
            target = self.anchors.get(full)
            if target is None:
                raise UnsupportedSchemaError("$ref", ptr, f"unresolvable reference {ref!r}")
        if isinstance(target, dict) and id(target) not in self.pointers:
            self._index(target, doc, ref)  # not below a schema keyword: check it like the others
        tbase = self.bases.get(id(target), doc)
        tptr = self.pointers.get(id(target), ref)
        return target, tbase, tptr

    def ref_rule(self, ref: str, ptr: str, base: str, guard: frozenset[int]) -> str | None:
        target, tbase, tptr = self.resolve(ref, ptr, base)
        if isinstance(target, bool):
            return self.value(target, tptr, tbase, guard)
        key = id(target)
        if key in guard:
            raise UnsupportedSchemaError(
                "$ref", ptr, f"{ref!r} recurses without consuming input (left recursion)"
            )
        if key in self.unsat_refs:
            return None
        name = self.ref_rules.get(key)
        if name is not None:
            return name
        hint = "ref-" + tptr.rsplit("/", 1)[-1]
        name = self.rules.fresh(hint)
        self.ref_rules[key] = name
        body = self.body(target, tptr, tbase, guard | {key})
        if body is None:
            self.unsat_refs.add(key)
            self.rules.define(name, "[^\\x00-\\U0010ffff]")  # matches nothing
            return None
        self.rules.define(name, body)
        return name

    # --- flattening ---

    def flatten(self, schema: Any, ptr: str, base: str, depth: int = 0) -> Flat:
        """The schema with ``$ref`` siblings and ``allOf`` merged in, normalized across drafts."""
        if depth > _MAX_DEPTH:
            raise UnsupportedSchemaError("$ref", ptr, "references nest too deeply")
        if schema is True:
            return Flat()
        if schema is False:
            return Flat(false=True)
        if not isinstance(schema, dict):
            raise UnsupportedSchemaError(
                "schema", ptr, f"expected an object or boolean, got {describe(schema)}"
            )
        base = self.bases.get(id(schema), base)
        s = dict(schema)
        parts: list[Flat] = []
        ref = s.pop("$ref", None)
        if isinstance(ref, str):
            target, tbase, tptr = self.resolve(ref, ptr, base)
            parts.append(self.flatten(target, tptr, tbase, depth + 1))
        all_of = s.pop("allOf", None)
        if isinstance(all_of, list):
            for i, sub in enumerate(all_of):
                parts.append(self.flatten(sub, pointer(ptr, "allOf", i), base, depth + 1))
        flat = self._normalize(s, ptr, base)
        for p in parts:
            flat = self.merge(flat, p, ptr)
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

    def merge(self, a: Flat, b: Flat, ptr: str) -> Flat:
        """Schema accepting what both ``a`` and ``b`` accept."""
        out = dict(a.keywords)
        for key, vb in b.keywords.items():
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
            elif key in ("items", "propertyNames", "contains", "additionalProperties"):
                out[key] = _all_of(va, vb)
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
                    self.unsupported("multipleOf", ptr, f"cannot combine multipleOf {va} and {vb}")
                    merged_step = va
                out[key] = merged_step
            elif key in ("format", "prefixItems", "patternProperties", "dependentSchemas") and (
                json.dumps(va, sort_keys=True) != json.dumps(vb, sort_keys=True)
            ):
                self.unsupported(key, ptr, "two different values in allOf")
        if ("properties" in a and "properties" in b) or (
            ("properties" in a or "properties" in b)
            and ("additionalProperties" in a or "additionalProperties" in b)
        ):
            out["properties"] = self._merge_properties(a, b, ptr)
        return Flat(
            out,
            false=a.false or b.false,
            alternatives=a.alternatives + b.alternatives,
            negations=a.negations + b.negations,
            patterns=a.patterns + b.patterns,
            absent_all=a.absent_all + b.absent_all,
        )

    def _merge_properties(self, a: Flat, b: Flat, ptr: str) -> dict[str, Any]:
        if "patternProperties" in a or "patternProperties" in b:
            self.unsupported("patternProperties", ptr, "merged with other properties in allOf")
        pa, pb = a.get("properties", {}), b.get("properties", {})
        if not isinstance(pa, dict) or not isinstance(pb, dict):
            raise UnsupportedSchemaError("properties", ptr, "expected an object")
        merged: dict[str, Any] = {}
        for k in list(dict.fromkeys([*pa, *pb])):
            sa = pa[k] if k in pa else a.get("additionalProperties", True)
            sb = pb[k] if k in pb else b.get("additionalProperties", True)
            merged[k] = _all_of(sa, sb)
        return merged

    # --- values ---

    def value(self, schema: Any, ptr: str, base: str, guard: frozenset[int]) -> str | None:
        """GBNF expression for one JSON value valid under ``schema``; None if none is."""
        if schema is True or schema == {}:
            return self.any_value()
        if schema is False:
            return None
        if not isinstance(schema, dict):
            raise UnsupportedSchemaError(
                "schema", ptr, f"expected an object or boolean, got {describe(schema)}"
            )
        base = self.bases.get(id(schema), base)
        ref = schema.get("$ref")
        if isinstance(ref, str) and not has_validation(schema, ("$ref",)):
            return self.ref_rule(ref, ptr, base, guard)
        if not has_validation(schema):
            return self.any_value()
        if "allOf" in schema or "$ref" in schema:
            # may recurse through merged references: give it a named rule like a $ref target
            return self.named(schema, ptr, base, guard)
        return self.flat(self.flatten(schema, ptr, base), ptr, base, guard)

    def body(self, schema: Any, ptr: str, base: str, guard: frozenset[int]) -> str | None:
        """Like :meth:`value`, but ``schema`` itself never gets a named rule (the caller's)."""
        if isinstance(schema, dict) and ("allOf" in schema or "$ref" in schema):
            ref = schema.get("$ref")
            if not (isinstance(ref, str) and not has_validation(schema, ("$ref",))):
                base = self.bases.get(id(schema), base)
                return self.flat(self.flatten(schema, ptr, base), ptr, base, guard)
        return self.value(schema, ptr, base, guard)

    def named(self, schema: dict[str, Any], ptr: str, base: str, guard: frozenset[int]) -> str | None:
        key = id(schema)
        if key in guard:
            raise UnsupportedSchemaError("$ref", ptr, "recursion without consuming input (left recursion)")
        if key in self.unsat_refs:
            return None
        name = self.ref_rules.get(key)
        if name is not None:
            return name
        name = self.rules.fresh("s-" + ptr.rsplit("/", 1)[-1])
        self.ref_rules[key] = name
        body = self.flat(self.flatten(schema, ptr, base), ptr, base, guard | {key})
        if body is None:
            self.unsat_refs.add(key)
            self.rules.define(name, "[^\\x00-\\U0010ffff]")  # matches nothing
            return None
        if body == name:
            raise UnsupportedSchemaError("$ref", ptr, "schema refers only to itself")
        self.rules.define(name, body)
        return name

    def flat(self, s: Flat, ptr: str, base: str, guard: frozenset[int]) -> str | None:
        """GBNF expression for one JSON value valid under a flattened schema; None if none is."""
        return self.flat_folded(s, ptr, base, guard)[0]

    def flat_folded(self, s: Flat, ptr: str, base: str, guard: frozenset[int]) -> tuple[str | None, Flat]:
        """:meth:`flat`, and ``s`` with its negations folded in when it compiled them (what a
        oneOf's disjointness check reads)."""
        if s.false:
            return None, s
        if s.alternatives:
            return self.alternatives(s, ptr, base, guard), s
        if "enum" in s:
            values = s["enum"]
            if not isinstance(values, list):
                raise UnsupportedSchemaError("enum", ptr, f"expected an array, got {describe(values)}")
            s = self.check_keywords(s, ptr)
            return self.enum(values, s, ptr), s
        s = self.check_keywords(s, ptr)
        types = s.get("type")
        if types is None:
            types = list(TYPES)
        if not isinstance(types, list) or any(t not in TYPES for t in types):
            raise UnsupportedSchemaError("type", ptr, f"unknown type {describe(s.get('type'))}")
        types = [t for t in dict.fromkeys(types)]
        if "number" in types and "integer" in types:
            types.remove("integer")
        options: list[str] = []
        for t in types:
            expr = self.typed(t, s, ptr, base)
            if expr is not None:
                options.append(expr)
        if not options:
            return None, s
        return (self.rules.add("value", alt(options)) if len(options) > 1 else options[0]), s

    def typed(self, t: str, s: Flat, ptr: str, base: str) -> str | None:
        if t == "null":
            return '"null"'
        if t == "boolean":
            return '("true" | "false")'
        if t == "string":
            return self.string(s, ptr)
        if t in ("number", "integer"):
            return self.number(s, ptr, integer=t == "integer")
        if t == "array":
            return self.array(s, ptr, base)
        return self.object(s, ptr, base)

    def check_keywords(self, s: Flat, ptr: str) -> Flat:
        """``s`` with its negations folded in; refuse the keywords a grammar cannot enforce."""
        if s.negations:
            s = self.fold_negations(s)
        if ("then" in s or "else" in s) and "if" in s:
            self.unsupported("if", ptr, "if/then/else cannot be expressed in a grammar")
        for kw in ("unevaluatedProperties", "unevaluatedItems"):
            if kw in s and s[kw] is not True and s[kw] != {}:
                self.unsupported(kw, ptr, "not supported")
        for kw in ("$dynamicRef", "$recursiveRef"):
            if kw in s:
                self.unsupported(kw, ptr, "dynamic references are not supported")
        return s

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
                    self.unsupported("not", nptr, "'not integer' for numbers")
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
            self.unsupported("not", nptr, f"cannot express {json.dumps(sub)[:80]}")
        return s.replace(keywords=keywords, false=false, negations=(), absent_all=tuple(absent_all))

    def alternatives(self, s: Flat, ptr: str, base: str, guard: frozenset[int]) -> str | None:
        """The first anyOf/oneOf group of ``s``, each branch merged with the rest of ``s``."""
        group = s.alternatives[0]
        kind, branches, gptr, gbase = group.kind, group.branches, group.ptr, group.base
        rest = s.replace(alternatives=s.alternatives[1:])
        self.branches += len(branches)
        if self.branches > _MAX_BRANCHES:
            raise UnsupportedSchemaError(kind, gptr, "too many anyOf/oneOf combinations")
        if kind == "oneOf" and len(branches) > 1:
            reqs = self._required_only(branches, gptr, gbase)
            if reqs is not None:
                return self.one_of_required(rest, reqs, gptr, gbase, guard)
        standalone = not rest.constrains()
        exprs: list[str] = []
        # oneOf: the branches that compiled, flattened (None: flattening one failed)
        flats: list[Flat | None] = []
        for i, b in enumerate(branches):
            bptr = pointer(gptr, kind, i)
            folded: Flat | None = None
            if standalone:
                e = self.value(b, bptr, gbase, guard)
            else:
                merged = self.merge(rest, self.flatten(b, bptr, gbase), bptr)
                e, folded = self.flat_folded(merged, bptr, gbase, guard)
            if e is not None:
                exprs.append(e)
                if kind == "oneOf":
                    flats.append(folded if folded is not None else self._flatten_quiet(b, bptr, gbase))
        if kind == "oneOf":
            live = [f for f in flats if f is not None]
            if len(live) < len(exprs):
                self.unsupported("oneOf", gptr, "branches may overlap")
            elif not _pairwise_disjoint(live):
                self.unsupported("oneOf", gptr, "branches may overlap (cannot prove exactly one matches)")
        if not exprs:
            return None
        return self.rules.add("alt", alt(exprs)) if len(exprs) > 1 else exprs[0]

    def _required_only(self, branches: list[Any], ptr: str, base: str) -> list[list[str]] | None:
        """The branches' ``required`` lists when that is all they say, else None."""
        out = []
        for b in branches:
            if not isinstance(b, dict) or "$ref" in b:
                return None
            keys = {k for k in b if k in VALIDATION}
            if keys != {"required"} or not isinstance(b["required"], list):
                return None
            out.append([r for r in b["required"] if isinstance(r, str)])
        return out

    def one_of_required(
        self,
        rest: Flat,
        reqs: list[list[str]],
        ptr: str,
        base: str,
        guard: frozenset[int],
    ) -> str | None:
        """oneOf of branches that only list required keys: exactly one list must be complete."""
        exprs = []
        for i, req in enumerate(reqs):
            branch = self.merge(rest, Flat({"type": ["object"], "required": req}), ptr)
            others = [r for j, r in enumerate(reqs) if j != i]
            if any(set(o) <= set(req) for o in others):
                continue  # whenever branch i matches, so does another one
            branch = branch.replace(absent_all=branch.absent_all + tuple(tuple(o) for o in others))
            e = self.flat(branch, pointer(ptr, "oneOf", i), base, guard)
            if e is not None:
                exprs.append(e)
        if not exprs:
            return None
        return self.rules.add("alt", alt(exprs)) if len(exprs) > 1 else exprs[0]

    def _flatten_quiet(self, b: Any, ptr: str, base: str) -> Flat | None:
        try:
            f = self.flatten(b, ptr, base)
        except UnsupportedSchemaError:
            return None
        return f

    # --- any JSON value ---

    def any_value(self) -> str:
        name = self._cache.get("value")
        if name:
            return name
        ws = self.ws
        name = self.rules.fresh("json-value")
        self._cache["value"] = name
        string = self.any_string()
        number = self.rules.add(
            "json-number",
            '"-"? ("0" | [1-9] [0-9]*) ("." [0-9]+)? ([eE] [-+]? [0-9]+)?',
        )
        member = self.rules.add("json-member", f'{string} {ws} ":" {ws} {name} {ws}')
        obj = self.rules.add("json-object", f'"{{" {ws} ({member} ("," {ws} {member})*)? "}}"')
        elem = self.rules.add("json-element", f"{name} {ws}")
        arr = self.rules.add("json-array", f'"[" {ws} ({elem} ("," {ws} {elem})*)? "]"')
        self.rules.define(name, f'{obj} | {arr} | {string} | {number} | "true" | "false" | "null"')
        return name

    def json_char(self) -> str:
        return self.rules.add(
            "json-char",
            '[^"\\\\\\x00-\\x1f] | "\\\\" (["\\\\/bfnrt] | "u" '
            f"([0-9a-cA-Ce-fE-F] {_HEX} {_HEX} {_HEX} | [dD] [0-7] {_HEX} {_HEX}))",
        )

    def any_string(self) -> str:
        return self.rules.add("json-string", f'"\\"" {self.json_char()}* "\\""')

    def chars(self, ranges: tuple[tuple[int, int], ...]) -> str | None:
        """Rule for one character from ``ranges`` as JSON string content (canonical escapes)."""
        if not ranges:
            return None
        cache_key = "chars:" + repr(ranges)
        hit = self._cache.get(cache_key)
        if hit:
            return hit
        raw = subtract(ranges, ((0, 0x1F), (_QUOTE, _QUOTE), (_BACKSLASH, _BACKSLASH)))
        opts = [char_class(raw)] if raw else []
        if contains(ranges, _QUOTE):
            opts.append('"\\\\\\""')
        if contains(ranges, _BACKSLASH):
            opts.append('"\\\\\\\\"')
        ctrl = intersect(ranges, _CONTROL)
        if ctrl == _CONTROL:
            opts.append('"\\\\" ([bfnrt] | "u00" ("0" [0-7be-f] | "1" [0-9a-f]))')
        else:
            for lo, hi in ctrl:
                for c in range(lo, hi + 1):
                    if c in _SHORT_ESCAPES:
                        opts.append(literal("\\" + _SHORT_ESCAPES[c]))
                    else:
                        opts.append(literal(f"\\u{c:04x}"))
        name = self.rules.add("char", " | ".join(opts))
        self._cache[cache_key] = name
        return name

    # --- enum ---

    def enum(self, values: list[Any], s: Flat, ptr: str) -> str | None:
        """The listed values that also satisfy the other keywords of ``s`` (negations folded)."""
        if s.false:
            return None
        kept = [v for v in values if self._fits(v, s, ptr)]
        if not kept:
            return None
        opts = list(dict.fromkeys(self.json_literal(v) for v in kept))
        return self.rules.add("enum", alt(opts)) if len(opts) > 1 else opts[0]

    def _fits(self, v: Any, s: Flat, ptr: str) -> bool:
        types = s.get("type")
        vt = type_of(v)
        if types is not None and vt not in types and not (vt == "integer" and "number" in types):
            return False
        checks = {k: x for k, x in s.keywords.items() if k in SCALAR_KEYWORDS and k != "type"}
        if s.patterns:
            checks["allOf"] = [{"pattern": p} for p in s.patterns]
        if isinstance(v, (list, dict)) and any(k in CONTAINER_KEYWORDS for k in s.keywords):
            self.unsupported("enum", ptr, "enum of arrays/objects next to array/object keywords")
        if not checks:
            return True
        import jsonschema

        checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
        try:
            validator = self._validators.get(id(s))
            if validator is None or validator[0] is not s:
                validator = (s, jsonschema.Draft202012Validator(checks, format_checker=checker))
                self._validators[id(s)] = validator
            return bool(validator[1].is_valid(v))
        except Exception:  # a pattern Python cannot compile: refuse rather than guess
            self.unsupported("enum", ptr, f"cannot check {describe(v)} against its sibling keywords")
            return True

    def json_literal(self, v: Any) -> str:
        ws = self.ws
        if isinstance(v, dict):
            if not v:
                return f'"{{" {ws} "}}"'
            members = [
                f'{literal(json.dumps(k, ensure_ascii=False))} {ws} ":" {ws} {self.json_literal(x)} {ws}'
                for k, x in v.items()
            ]
            return "(" + f'"{{" {ws} ' + f' "," {ws} '.join(members) + ' "}")'
        if isinstance(v, list):
            if not v:
                return f'"[" {ws} "]"'
            items = [f"{self.json_literal(x)} {ws}" for x in v]
            return "(" + f'"[" {ws} ' + f' "," {ws} '.join(items) + ' "]")'
        if isinstance(v, float) and v.is_integer():
            return alt([literal(json.dumps(v)), literal(str(int(v)))])
        if isinstance(v, int) and not isinstance(v, bool):
            return alt([literal(str(v)), literal(f"{v}.0")])
        return literal(json.dumps(v, ensure_ascii=False))

    # --- strings ---

    def string(self, s: Flat, ptr: str) -> str | None:
        min_len = as_count(s.get("minLength", 0), "minLength", ptr)
        max_len = s.get("maxLength")
        if max_len is not None:
            max_len = as_count(max_len, "maxLength", ptr)
            if max_len < min_len:
                return None
        patterns = list(s.patterns)
        fmt = s.get("format")
        quote = '"\\""'
        if isinstance(fmt, str) and fmt in _ASSERTED_FORMATS and format_rule(fmt, self.rules) is None:
            self.unsupported("format", ptr, f"format {fmt!r} cannot be enforced")
        if isinstance(fmt, str) and (rule := format_rule(fmt, self.rules)) is not None:
            if patterns:
                self.unsupported("format", ptr, "format together with pattern")
            elif min_len or max_len is not None:
                shortest, longest = FORMAT_LENGTHS[fmt]
                if max_len is not None and max_len < shortest:
                    return None
                if longest is not None and min_len > longest:
                    return None
                if min_len > shortest or (max_len is not None and (longest is None or longest > max_len)):
                    self.unsupported("format", ptr, "format together with minLength/maxLength")
            return f"{quote} {rule} {quote}"
        if len(patterns) > 1:
            if len(set(patterns)) > 1:
                self.unsupported("pattern", ptr, "several different patterns (allOf)")
            patterns = patterns[:1]
        if patterns:
            body = self.pattern(patterns[0], min_len, max_len, ptr)
            if body is None:
                return None
            return self.rules.add("string", f"{quote} {body} {quote}")
        if min_len == 0 and max_len is None:
            return self.any_string()
        body = self.rules.repeat(self.json_char(), min_len, max_len, "char")
        return self.rules.add("string", f"{quote} {body} {quote}")

    def pattern(self, pattern: Any, min_len: int, max_len: int | None, ptr: str) -> str | None:
        if not isinstance(pattern, str):
            raise UnsupportedSchemaError("pattern", ptr, f"expected a string, got {describe(pattern)}")
        cache_key = f"pattern:{min_len}:{max_len}:{pattern}"
        if cache_key in self._cache:
            return self._cache[cache_key] or None
        try:
            branches = _regex.split_anchored(_regex.parse(pattern))
        except _regex.RegexUnsupported as exc:
            self.unsupported("pattern", ptr, f"{exc} in {pattern!r}")
            return self.rules.repeat(self.json_char(), min_len, max_len, "char")
        anything: _regex.Node = ("rep", ("set", ANY_RANGES), 0, None)
        options: list[str] = []
        for start, end, body in branches:
            items = _flatten_seq(body)
            if not start:
                items.insert(0, anything)
            if not end:
                items.append(anything)
            variants = _fit_length(items, min_len, max_len)
            if variants == "refuse":
                self.unsupported("pattern", ptr, "pattern combined with minLength/maxLength")
                variants = [items]
            for variant in variants:
                expr = self.regex_expr(("seq", variant))
                if expr is not None:
                    options.append(expr)
        result = alt(options) if options else None
        self._cache[cache_key] = result or ""
        return result

    def regex_expr(self, node: _regex.Node) -> str | None:
        kind = node[0]
        if kind == "set":
            return self.chars(node[1])
        if kind == "seq":
            parts = []
            for n in node[1]:
                e = self.regex_expr(n)
                if e is None:
                    return None
                if e:
                    parts.append(e)
            return " ".join(parts)
        if kind == "alt":
            opts = [e for e in (self.regex_expr(n) for n in node[1]) if e is not None]
            return alt(opts) if opts else None
        if kind == "rep":
            inner, lo, hi = node[1], node[2], node[3]
            if _regex.length_range(inner)[0] == 0:
                inner = _nonempty(inner)
                if inner is None:
                    return ""
                lo = 0
            e = self.regex_expr(inner)
            if e is None:
                return "" if lo == 0 else None
            if e == "":
                return ""
            atom = e if group(e) == e else self.rules.add("rx", e)
            return self.rules.repeat(atom, lo, hi, "rx")
        raise _regex.RegexUnsupported(f"unexpected {kind}")

    # --- numbers ---

    def number(self, s: Flat, ptr: str, integer: bool) -> str | None:
        lo = hi = None
        lo_ex = hi_ex = False
        if "minimum" in s:
            lo = as_decimal(s["minimum"], "minimum", ptr)
        if "exclusiveMinimum" in s:
            x = as_decimal(s["exclusiveMinimum"], "exclusiveMinimum", ptr)
            if lo is None or x >= lo:
                lo, lo_ex = x, True
        if "maximum" in s:
            hi = as_decimal(s["maximum"], "maximum", ptr)
        if "exclusiveMaximum" in s:
            x = as_decimal(s["exclusiveMaximum"], "exclusiveMaximum", ptr)
            if hi is None or x <= hi:
                hi, hi_ex = x, True
        step: Fraction | None = None
        if "multipleOf" in s:
            m = as_decimal(s["multipleOf"], "multipleOf", ptr)
            if m <= 0:
                raise UnsupportedSchemaError("multipleOf", ptr, f"must be > 0, got {m}")
            step = Fraction(m)
        if integer or (step is not None and step.denominator == 1):
            ilo = None if lo is None else (math.floor(lo) + 1 if lo_ex else math.ceil(lo))
            ihi = None if hi is None else (math.ceil(hi) - 1 if hi_ex else math.floor(hi))
            k = 1 if step is None else step.numerator
            if ilo is not None and ihi is not None and ilo > ihi:
                return None
            body = self.integers(ilo, ihi, k, ptr)
            if body is None:
                return None
            if not integer:  # multiples of an integer step written as numbers: 10, 10.0
                body = f'{group(body)} ("." "0"+)?'
            return self.rules.add("integer" if integer else "number", body)
        if step is not None:
            d = _decimal_places(step)
            if d is None or lo is not None or hi is not None:
                self.unsupported("multipleOf", ptr, f"multipleOf {s['multipleOf']} for numbers")
            else:
                frac = self.rules.upto("[0-9]", d, "frac")
                return self.rules.add(
                    "number", f'"-"? ("0" | [1-9] [0-9]*) ("." {frac} "0"*)?'.replace("( ", "(")
                )
        if lo is None and hi is None:
            return self.rules.add("number", '"-"? ("0" | [1-9] [0-9]*) ("." [0-9]+)? ([eE] [-+]? [0-9]+)?')
        body = decimal_range(lo, lo_ex, hi, hi_ex)
        return None if body is None else self.rules.add("number", body)

    def integers(self, lo: int | None, hi: int | None, k: int, ptr: str) -> str | None:
        if k == 1:
            return int_range(lo, hi)
        if lo is not None and hi is not None:
            first = -((-lo) // k) * k
            if first > hi:
                return None
            if (hi - first) // k < _ENUM_EXPAND_LIMIT:
                return alt([literal(str(v)) for v in range(first, hi + 1, k)])
        if k > 1000:
            self.unsupported("multipleOf", ptr, f"multipleOf {k} with these bounds")
            return int_range(lo, hi)
        parts = []
        if hi is None or hi >= 0:
            p = multiples_nonneg(k, max(lo, 0) if lo is not None else 0, hi, self.rules, "int")
            if p:
                parts.append(p)
        if lo is None or lo < 0:
            mag_lo = 1 if hi is None or hi >= 0 else -hi
            p = multiples_nonneg(k, mag_lo, None if lo is None else -lo, self.rules, "int")
            if p:
                parts.append(f'"-" {group(p)}')
        return alt(parts) if parts else None

    # --- arrays ---

    def array(self, s: Flat, ptr: str, base: str) -> str | None:
        ws = self.ws
        prefix = s.get("prefixItems", [])
        rest = s.get("items", True)
        min_items = as_count(s.get("minItems", 0), "minItems", ptr)
        max_items = s.get("maxItems")
        if max_items is not None:
            max_items = as_count(max_items, "maxItems", ptr)
        if s.get("uniqueItems") is True and (max_items is None or max_items > 1):
            self.unsupported("uniqueItems", ptr, "uniqueItems on arrays that may hold several items")
        prefix_exprs: list[str] = []
        for i, p in enumerate(prefix):
            e = self.value(p, pointer(ptr, "prefixItems", i), base, frozenset())
            if e is None:
                max_items = i if max_items is None else min(max_items, i)
                break
            prefix_exprs.append(e)
        rest_expr = self.value(rest, pointer(ptr, "items"), base, frozenset())
        if rest_expr is None:
            max_items = len(prefix_exprs) if max_items is None else min(max_items, len(prefix_exprs))
        if max_items is not None and min_items > max_items:
            return None
        if "contains" in s:
            return self.array_contains(s, ptr, base, prefix_exprs, rest_expr, min_items, max_items)
        sep = f'"," {ws}'
        n_prefix = len(prefix_exprs)

        def item_at(j: int) -> str:
            e = prefix_exprs[j] if j < n_prefix else rest_expr
            assert e is not None
            return e

        def tail(j: int) -> str:
            if max_items is not None and j >= max_items:
                return ""
            if j >= n_prefix:
                lo = max(0, min_items - j)
                hi = None if max_items is None else max_items - j
                atom = self.rules.add("item", f"{sep} {rest_expr} {ws}")
                return self.rules.repeat(atom, lo, hi, "items")
            piece = f"{sep} {item_at(j)} {ws} {tail(j + 1)}".strip()
            if j < min_items:
                return piece
            return self.rules.add("items", f"({piece})?")

        if max_items == 0 or (n_prefix == 0 and rest_expr is None):
            body = ""
        else:
            first = f"{item_at(0)} {ws} {tail(1)}".strip()
            body = first if min_items >= 1 else f"({first})?"
        return self.rules.add("array", f'"[" {ws} {body} "]"'.replace("  ", " "))

    def array_contains(
        self,
        s: Flat,
        ptr: str,
        base: str,
        prefix: list[str],
        rest: str | None,
        min_items: int,
        max_items: int | None,
    ) -> str | None:
        ws = self.ws
        k = as_count(s.get("minContains", 1), "minContains", ptr)
        if "maxContains" in s or max_items is not None or prefix or min_items > max(k, 1):
            self.unsupported("contains", ptr, "contains with maxContains/maxItems/prefixItems/minItems")
        if k == 0:
            kept = {key: v for key, v in s.keywords.items() if key not in ("contains", "minContains")}
            return self.array(s.replace(keywords=kept), ptr, base)
        if rest is None:
            return None
        both = self.merge(
            self.flatten(s.get("items", True), pointer(ptr, "items"), base),
            self.flatten(s["contains"], pointer(ptr, "contains"), base),
            ptr,
        )
        c_expr = self.flat(both, pointer(ptr, "contains"), base, frozenset())
        if c_expr is None:
            return None
        sep = f'"," {ws}'
        any_before = self.rules.add("items-pre", f"{rest} {ws} {sep}")
        any_after = self.rules.add("items-post", f"{sep} {rest} {ws}")
        parts = [f"{any_before}*", c_expr, ws]
        for _ in range(k - 1):
            parts += [f"{any_after}*", sep, c_expr, ws]
        parts.append(f"{any_after}*")
        return self.rules.add("array", f'"[" {ws} ' + " ".join(p for p in parts if p) + ' "]"')

    # --- objects ---

    def object(self, s: Flat, ptr: str, base: str) -> str | None:
        return _ObjectBuilder(self, s, ptr, base).build()


class _ObjectBuilder:
    """Grammar for one object schema: a chain of states (next property, count, seen keys)."""

    def __init__(self, comp: _Compiler, s: Flat, ptr: str, base: str) -> None:
        self.c = comp
        self.s = s
        self.ptr = ptr
        self.base = base
        self.ws = comp.ws

    def build(self) -> str | None:
        comp, s, ptr, ws = self.c, self.s, self.ptr, self.ws
        props = s.get("properties", {})
        if not isinstance(props, dict):
            raise UnsupportedSchemaError("properties", ptr, f"expected an object, got {describe(props)}")
        required = s.get("required", [])
        if not isinstance(required, list):
            raise UnsupportedSchemaError("required", ptr, f"expected an array, got {describe(required)}")
        required = [r for r in dict.fromkeys(required) if isinstance(r, str)]
        # A forced default is for objects that list their keys; one that lists none (a bare
        # {"type": "object"}) keeps the spec's "anything", or it could only ever be {}.
        declares_keys = "properties" in s or "patternProperties" in s
        additional = s.get("additionalProperties", comp.additional_default if declares_keys else True)
        pattern_props = s.get("patternProperties", {})
        names = s.get("propertyNames")
        min_p = as_count(s.get("minProperties", 0), "minProperties", ptr)
        max_p = s.get("maxProperties")
        if max_p is not None:
            max_p = as_count(max_p, "maxProperties", ptr)
            if max_p < min_p:
                return None
        if s.get("dependentSchemas"):
            comp.unsupported("dependentSchemas", ptr, "dependent schemas are not supported")

        names_flat = None
        if names is not None and names is not True and names != {}:
            names_flat = comp.flatten(names, pointer(ptr, "propertyNames"), self.base)

        # members: (key, schema, pointer, required)
        members: list[tuple[str, Any, str, bool]] = []
        for k, sub in props.items():
            sch: Any = sub
            for pat, psub in pattern_props.items():
                if _py_search(pat, k, comp, ptr):
                    sch = _all_of(sch, psub)
            members.append((k, sch, pointer(ptr, "properties", k), k in required))
        defined = set(props)
        # keys named by required, dependencies or oneOf-of-required but not listed: listed here
        # (at the end) so the object grammar can track them
        named_keys = list(required)
        dep = s.get("dependentRequired", {})
        if isinstance(dep, dict):
            for trig, ds in dep.items():
                if isinstance(ds, list):
                    named_keys += [trig, *(d for d in ds if isinstance(d, str))]
        named_keys += [k for c in s.absent_all for k in c if isinstance(k, str)]
        for k in dict.fromkeys(named_keys):
            if k in defined:
                continue
            matching = [psub for pat, psub in pattern_props.items() if _py_search(pat, k, comp, ptr)]
            if matching:
                sch = True
                for m in matching:
                    sch = _all_of(sch, m)
            elif additional is False:
                if k in required:
                    return None
                continue
            else:
                sch = additional
            members.append((k, sch, pointer(ptr, "required"), k in required))
            defined.add(k)

        # property names: drop members whose key is not a valid name
        if names_flat is not None:
            kept = []
            for m in members:
                if self._name_ok(m[0], names):
                    kept.append(m)
                elif m[3]:
                    return None
            members = kept

        self.deps, forbidden = self._dependencies(s.get("dependentRequired", {}), {m[0] for m in members})
        combo_keys = {k for c in s.absent_all for k in c}
        hidden = (forbidden | combo_keys) - {m[0] for m in members}
        all_keys = [m[0] for m in members] + sorted(hidden)
        for m in members:
            if m[0] in forbidden and m[3]:
                return None
        members = [m for m in members if m[0] not in forbidden]
        member_exprs: list[tuple[str, str | None, bool]] = []
        for k, sch, mptr, req in members:
            e = comp.value(sch, mptr, self.base, frozenset())
            if e is None:
                if req:
                    return None
                continue
            key_lit = literal(json.dumps(k, ensure_ascii=False))
            member_exprs.append((k, comp.rules.add("kv", f'{key_lit} {ws} ":" {ws} {e} {ws}'), req))

        extras = self.extras(all_keys, additional, pattern_props, names, names_flat)

        self.members = member_exprs
        self.required = frozenset(k for k, _, req in member_exprs if req)
        self.extras_expr = extras
        self.min_p, self.max_p = min_p, max_p
        self.cap = max_p if max_p is not None else max(min_p, 1)
        listed = {m[0] for m in member_exprs}
        self.deps = {t: ds for t, ds in self.deps.items() if t in listed}
        # key sets that must not all be present (oneOf of required lists); a set with a key
        # that is not listed can never be complete because extras exclude it (see all_keys)
        self.absent = [frozenset(c) for c in s.absent_all if set(c) <= listed]
        self.relevant = frozenset(
            [k for trig, ds in self.deps.items() for k in (trig, *ds)] + [k for c in self.absent for k in c]
        )
        self.memo: dict[tuple[int, int, frozenset[str], bool], int] = {}
        self.states: list[list[tuple[str, int | None]]] = []
        if comp.any_order and 1 < len(member_exprs) <= _ANY_ORDER_MAX:
            start = self.state_any(0, frozenset())
        else:
            start = self.state(0, 0, frozenset(), True)
        body = self.emit(start)
        if body is None:
            return None
        return comp.rules.add("object", f'"{{" {ws} {body} "}}"')

    def _name_ok(self, key: str, names: Any) -> bool:
        import jsonschema

        try:
            return bool(jsonschema.Draft202012Validator(names).is_valid(key))
        except Exception:
            self.c.unsupported("propertyNames", self.ptr, "cannot check the defined property names")
            return True

    def _dependencies(self, dep: Any, keys: set[str]) -> tuple[dict[str, tuple[str, ...]], set[str]]:
        """dependentRequired among listed properties, and keys forbidden to stay exact.

        A trigger that is not a listed property, or whose dependents are not all listed, is
        forbidden outright (a subset of what the schema allows, never more).
        """
        if not isinstance(dep, dict):
            return {}, set()
        out: dict[str, tuple[str, ...]] = {}
        forbidden: set[str] = set()
        for trig, ds in dep.items():
            if not isinstance(ds, list) or not ds or ds == [trig]:
                continue
            if trig not in keys or any(d not in keys for d in ds):
                forbidden.add(trig)
                continue
            out[trig] = tuple(ds)
        return out, forbidden

    def extras(
        self,
        keys: list[str],
        additional: Any,
        pattern_props: dict[str, Any],
        names: Any,
        names_flat: Flat | None,
    ) -> str | None:
        """Rule for one extra member (key not among ``keys``), or None when none is allowed."""
        comp, ws, ptr = self.c, self.ws, self.ptr
        options: list[str] = []
        if pattern_props:
            distinct = {json.dumps(v, sort_keys=True) for v in pattern_props.values()}
            if len(pattern_props) > 1 and len(distinct) > 1:
                comp.unsupported("patternProperties", ptr, "several patterns with different schemas")
            for pat, psub in pattern_props.items():
                for m in self.s.get("properties", {}):
                    if m in keys and _py_search(pat, m, comp, ptr) and not trivial(self.s["properties"][m]):
                        comp.unsupported("patternProperties", ptr, f"property {m!r} also matches {pat!r}")
                if names_flat is not None:
                    comp.unsupported("propertyNames", ptr, "together with patternProperties")
                body = comp.pattern(pat, 0, None, pointer(ptr, "patternProperties", pat))
                val = comp.value(psub, pointer(ptr, "patternProperties", pat), self.base, frozenset())
                if body is None or val is None:
                    continue
                key = comp.rules.add("pkey", f'"\\"" {body} "\\""')
                options.append(comp.rules.add("pkv", f'{key} {ws} ":" {ws} {val} {ws}'))
            if additional is not False and not (
                trivial(additional) and all(trivial(v) for v in pattern_props.values())
            ):
                # keys matching no pattern would need the complement of a regex: allow only
                # keys that match a pattern (a subset of what the schema accepts, never more)
                additional = False
        if additional is not False and names is not False:
            val = comp.value(additional, pointer(ptr, "additionalProperties"), self.base, frozenset())
            if val is not None:
                xkey = self.extra_key(keys, names, names_flat)
                if xkey is not None:
                    options.append(comp.rules.add("xkv", f'{xkey} {ws} ":" {ws} {val} {ws}'))
        if not options:
            return None
        return comp.rules.add("extra", alt(options)) if len(options) > 1 else options[0]

    def extra_key(self, keys: list[str], names: Any, names_flat: Flat | None) -> str | None:
        comp = self.c
        if names_flat is not None:
            enum = names_flat.get("enum")
            if isinstance(enum, list):
                allowed = [
                    v for v in enum if isinstance(v, str) and v not in keys and self._name_ok(v, names)
                ]
                if not allowed:
                    return None
                return alt([literal(json.dumps(v, ensure_ascii=False)) for v in allowed])
            if any(self._name_ok(k, names) for k in keys):
                comp.unsupported("propertyNames", self.ptr, "extra keys must differ from listed properties")
            sub = names_flat.replace(
                keywords={**{k: v for k, v in names_flat.keywords.items() if k != "type"}, "type": ["string"]}
            )
            return comp.flat(sub, pointer(self.ptr, "propertyNames"), self.base, frozenset())
        if not keys:
            return comp.any_string()
        return _excluding_keys(comp, keys)

    def _slot(
        self, key: tuple[int, int, frozenset[str], bool]
    ) -> tuple[int, list[tuple[str, int | None]] | None]:
        """The state for ``key``: (index, its alternatives to fill) when new, (index, None)
        when it exists already."""
        found = self.memo.get(key)
        if found is not None:
            return found, None
        idx = len(self.states)
        self.memo[key] = idx
        alts: list[tuple[str, int | None]] = []  # (text, next state or None for the end)
        self.states.append(alts)
        return idx, alts

    def _step(self, count: int) -> tuple[str, bool, int]:
        """Separator before the next member, whether one more fits, and the count after it."""
        sep = "" if count == 0 else f'"," {self.ws} '
        can_add = self.max_p is None or count < self.max_p
        nxt_count = min(count + 1, self.cap) if self.max_p is None else count + 1
        return sep, can_add, nxt_count

    def _may_end(self, count: int, seen: frozenset[str]) -> bool:
        return (
            count >= self.min_p
            and all(set(self.deps[t]) <= seen for t in seen if t in self.deps)
            and not any(c <= seen for c in self.absent)
        )

    def state(self, i: int, count: int, seen: frozenset[str], extras_ok: bool) -> int:
        """Index of the state "before member i, ``count`` members emitted, ``seen`` keys"."""
        idx, alts = self._slot((i, count, seen, extras_ok))
        if alts is None:
            return idx
        sep, can_add, nxt_count = self._step(count)
        n = len(self.members)
        if i < n:
            k, kv, req = self.members[i]
            if can_add:
                seen2 = seen | {k} if k in self.relevant else seen
                alts.append((f"{sep}{kv}", self.state(i + 1, nxt_count, seen2, True)))
            if not req:
                alts.append(("", self.state(i + 1, count, seen, False)))
        if extras_ok and self.extras_expr is not None and can_add:
            alts.append((f"{sep}{self.extras_expr}", self.state(i, nxt_count, seen, True)))
        if i >= n and self._may_end(count, seen):
            alts.append(("", None))
        return idx

    def state_any(self, count: int, seen: frozenset[str]) -> int:
        """Index of the state "``seen`` keys emitted in any order, ``count`` members in all".

        Every listed key not yet seen may come next, so each key appears at most once and the
        required ones before the end; the key text tells the alternatives apart (extras exclude
        listed keys), so the grammar stays unambiguous.
        """
        idx, alts = self._slot((-1, count, seen, True))
        if alts is None:
            return idx
        sep, can_add, nxt_count = self._step(count)
        if can_add:
            for k, kv, _ in self.members:
                if k not in seen:
                    alts.append((f"{sep}{kv}", self.state_any(nxt_count, seen | {k})))
            if self.extras_expr is not None:
                alts.append((f"{sep}{self.extras_expr}", self.state_any(nxt_count, seen)))
        if self.required <= seen and self._may_end(count, seen):
            alts.append(("", None))
        return idx

    def emit(self, start: int) -> str | None:
        """Rules for the states that can reach the end; expression for ``start``."""
        productive: set[int] = set()
        changed = True
        while changed:
            changed = False
            for idx, alts in enumerate(self.states):
                if idx not in productive and any(n is None or n in productive for _, n in alts):
                    productive.add(idx)
                    changed = True
        if start not in productive:
            return None
        names: dict[int, str] = {}
        exprs: dict[int, str] = {}

        def expr(idx: int) -> str:
            if idx in exprs:
                return exprs[idx]
            alts = self.states[idx]
            live = [(t, nxt) for t, nxt in alts if nxt is None or nxt in productive]
            if live == [("", None)]:
                exprs[idx] = ""
                return ""
            name = self.c.rules.fresh("obj")
            names[idx] = name
            exprs[idx] = name
            texts = []
            for t, nxt in live:
                tail = "" if nxt is None else expr(nxt)
                texts.append(f"{t} {tail}".strip())
            texts = list(dict.fromkeys(texts))
            if texts == [""]:  # every way on is empty: no rule needed
                del self.c.rules.rules[name]
                exprs[idx] = ""
                return ""
            body = " | ".join(x for x in texts if x)
            # the empty alternative goes first: llama.cpp's parser misreads a trailing "| "
            self.c.rules.define(name, ("| " + body) if "" in texts else body)
            return name

        return expr(start)


def _excluding_keys(comp: _Compiler, keys: list[str]) -> str:
    """A JSON string token whose decoded value is none of ``keys`` (canonical escapes only)."""
    cache_key = "excl:" + json.dumps(sorted(keys))
    hit = comp._cache.get(cache_key)
    if hit:
        return hit
    trie: dict[str, Any] = {}
    for k in keys:
        node = trie
        for ch in k:
            node = node.setdefault(ch, {})
        node[""] = {}
    any_char = comp.chars(ANY_RANGES)
    rest = comp.rules.add("key-rest", f'{any_char}* "\\""')

    def build(node: dict[str, Any]) -> str:
        opts = []
        if "" not in node:
            opts.append('"\\""')
        children = [c for c in node if c]
        for ch in children:
            opts.append(f"{comp.chars(((ord(ch), ord(ch)),))} {build(node[ch])}")
        others = ANY_RANGES
        for ch in children:
            others = subtract(others, ((ord(ch), ord(ch)),))
        other = comp.chars(others)
        if other:
            opts.append(f"{other} {rest}")
        return comp.rules.add("key-not", " | ".join(opts))

    name = comp.rules.add("key", f'"\\"" {build(trie)}')
    comp._cache[cache_key] = name
    return name


# --- helpers -------------------------------------------------------------------------------


_ALLOF_CACHE: dict[tuple[int, int], tuple[Any, Any, dict[str, Any]]] = {}


def _all_of(a: Any, b: Any) -> Any:
    """``{"allOf": [a, b]}``, the same object for the same pair (so recursion can be named)."""
    if a is True or a == {}:
        return b
    if b is True or b == {}:
        return a
    if a is False or b is False:
        return False
    key = (id(a), id(b))
    hit = _ALLOF_CACHE.get(key)
    if hit is not None and hit[0] is a and hit[1] is b:
        return hit[2]
    out = {"allOf": [a, b]}
    if len(_ALLOF_CACHE) > 4096:
        _ALLOF_CACHE.clear()
    _ALLOF_CACHE[key] = (a, b, out)
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


def _decimal_places(step: Fraction) -> int | None:
    """d when step == 10**-d."""
    d = 0
    while step.denominator != 1 and d < 20:
        step *= 10
        d += 1
    return d if step == 1 else None


def _py_search(pattern: str, key: str, comp: _Compiler, ptr: str) -> bool:
    try:
        return re.search(pattern, key) is not None
    except re.error:
        comp.unsupported("patternProperties", ptr, f"cannot evaluate pattern {pattern!r}")
        return False


def _flatten_seq(node: _regex.Node) -> list[_regex.Node]:
    if node[0] == "seq":
        out: list[_regex.Node] = []
        for n in node[1]:
            out.extend(_flatten_seq(n))
        return out
    return [node]


def _fit_length(
    items: list[_regex.Node], min_len: int, max_len: int | None, budget: list[int] | None = None
) -> Any:
    """Pattern branch variants that also obey min/max length: a list of item lists, or "refuse".

    Exact when the length can be pushed into the pattern: alternations and optional parts are
    split into separate branches (a few), then the one part of variable length must be a
    repetition of a fixed-length piece, whose count is adjusted.
    """
    budget = [16] if budget is None else budget
    ranges = [_regex.length_range(n) for n in items]
    lo = sum(r[0] for r in ranges)
    his = [r[1] for r in ranges]
    hi = None if any(h is None for h in his) else sum(h for h in his if h is not None)
    if lo >= min_len and (max_len is None or (hi is not None and hi <= max_len)):
        return [items]
    if (hi is not None and hi < min_len) or (max_len is not None and lo > max_len):
        return []
    variable = [i for i, r in enumerate(ranges) if r[0] != r[1]]
    for v in variable:
        node = items[v]
        if node[0] == "alt":
            options = node[1]
        elif node[0] == "rep" and node[2] == 0 and node[3] == 1:
            options = [("seq", []), node[1]]
        else:
            continue
        budget[0] -= len(options)
        if budget[0] < 0:
            return "refuse"
        out: list[list[_regex.Node]] = []
        for opt in options:
            expanded = items[:v] + _flatten_seq(opt) + items[v + 1 :]
            sub = _fit_length(expanded, min_len, max_len, budget)
            if sub == "refuse":
                return "refuse"
            out.extend(sub)
        return out
    if len(variable) != 1:
        return "refuse"
    v = variable[0]
    node = items[v]
    if node[0] != "rep":
        return "refuse"
    piece, piece_hi = _regex.length_range(node[1])
    if piece != piece_hi or piece == 0:
        return "refuse"
    fixed = lo - ranges[v][0]
    new_lo = max(node[2], -(-(min_len - fixed) // piece))
    new_hi = node[3]
    if max_len is not None:
        cap = (max_len - fixed) // piece
        new_hi = cap if new_hi is None else min(new_hi, cap)
    if new_hi is not None and new_hi < new_lo:
        return []
    out_items = list(items)
    out_items[v] = ("rep", node[1], new_lo, new_hi)
    return [out_items]


def _nonempty(node: _regex.Node) -> _regex.Node | None:
    """A node for the non-empty strings ``node`` matches (None: it matches only "")."""
    kind = node[0]
    if kind == "set":
        return node
    if kind in ("bol", "eol"):
        return None
    if _regex.length_range(node)[0] > 0:
        return node
    if kind == "alt":
        opts = [x for x in (_nonempty(n) for n in node[1]) if x is not None]
        return ("alt", opts) if opts else None
    if kind == "rep":
        inner = _nonempty(node[1])
        if inner is None or node[3] == 0:
            return None
        return ("rep", inner, 1, node[3])
    if kind == "seq":
        parts = node[1]
        opts = []
        for i, p in enumerate(parts):
            ne = _nonempty(p)
            if ne is not None:
                opts.append(("seq", [*parts[:i], ne, *parts[i + 1 :]]))
        return ("alt", opts) if opts else None
    return node


def _pairwise_disjoint(schemas: list[Flat]) -> bool:
    for i in range(len(schemas)):
        for j in range(i + 1, len(schemas)):
            if not _disjoint(schemas[i], schemas[j]):
                return False
    return True


def _value_types(s: Flat) -> set[str]:
    if "enum" in s and isinstance(s["enum"], list):
        out = {type_of(v) for v in s["enum"]}
        return out | ({"number"} if "integer" in out else set())
    t = s.get("type")
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
    if "enum" in a and "enum" in b:
        return not ({json_key(v) for v in a["enum"]} & {json_key(v) for v in b["enum"]})
    if common <= {"object"}:
        return _objects_disjoint(a, b) or _objects_disjoint(b, a)
    if common <= {"number", "integer"}:
        return _ranges_disjoint(a, b)
    return False


def _objects_disjoint(a: Flat, b: Flat) -> bool:
    pa, pb = a.get("properties", {}), b.get("properties", {})
    ra, rb = set(a.get("required", [])), set(b.get("required", []))
    # a forbids extra keys and b requires a key a does not list
    if a.get("additionalProperties") is False and not a.get("patternProperties") and rb - set(pa):
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
        lo = s.get("exclusiveMinimum", s.get("minimum"))
        hi = s.get("exclusiveMaximum", s.get("maximum"))
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
