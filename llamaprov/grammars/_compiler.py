"""The compiler's dispatch: a schema to a GBNF expression, per keyword family.

:class:`Compiler` resolves references to named rules, flattens each schema (:mod:`._normalize`),
compiles ``anyOf``/``oneOf`` branch by branch (a ``oneOf`` only when its branches provably
exclude each other, :mod:`._disjoint`), ``enum``/``const`` as literals, and every other schema
per JSON type: strings (:mod:`._compile_strings`), numbers (:mod:`._compile_numbers`), arrays
(:mod:`._compile_arrays`) and objects (:mod:`._compile_objects`).
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import UnsupportedSchemaError, describe
from ._builder import RuleSet, alt, literal
from ._compile_arrays import compile_array
from ._compile_numbers import compile_number
from ._compile_objects import ObjectBuilder
from ._compile_strings import StringCompiler
from ._disjoint import pairwise_disjoint
from ._keywords import (
    CONTAINER_KEYWORDS,
    SCALAR_KEYWORDS,
    TYPES,
    VALIDATION,
    has_validation,
    pointer,
    type_of,
)
from ._normalize import Normalizer
from ._refs import DEFAULT_BASE, SchemaIndex
from ._schema import Flat

# anyOf/oneOf branches compiled in all (nested groups multiply): more is refused
MAX_BRANCHES = 512
# flattened subschemas compiled in all, and grammar rules made: beyond these a schema is refused
# (a clear error, never a compilation that runs for minutes)
MAX_WORK = 20_000
MAX_RULES = 40_000


class Compiler:
    """One compilation: the schema document, its options, the rules made so far and the notes
    (lenient mode) on keywords left unenforced."""

    def __init__(
        self,
        schema: Any,
        whitespace: str,
        additional: Any,
        strict: bool,
        any_order: bool = False,
        rule_prefix: str = "",
        approximate: bool = False,
    ) -> None:
        self.root = schema
        self.strict = strict
        self.approximating = approximate
        # (keyword, pointer, why) of each constraint the grammar only approximates (a superset)
        self.approximated: list[tuple[str, str, str]] = []
        self.any_order = any_order
        self.additional_default = True if additional is None else additional
        self.rules = RuleSet(rule_prefix)
        self.notes: list[str] = []
        self.ref_rules: dict[int, str] = {}
        self.unsat_refs: set[int] = set()
        self.branches = 0
        self.work = 0  # flattened subschemas compiled so far (see MAX_WORK)
        self._any_value: str | None = None
        self._validators: dict[int, tuple[Flat, Any]] = {}
        self.refs = SchemaIndex(schema)
        if isinstance(additional, dict):
            self.refs.index(additional, DEFAULT_BASE, "additional_properties")
        self.norm = Normalizer(self.refs, self.unsupported, self.approx)
        self.strings = StringCompiler(self.rules, self.unsupported, self.approx)
        if whitespace == "compact":
            self.ws = ""
        elif whitespace == "flexible":
            self.ws = self.rules.add("ws", "[ \\t\\n\\r]*")
        else:
            indent = self.rules.upto("[ \\t]", 20, "indent")
            self.ws = self.rules.add("ws", f'| " " | "\\n" {indent}')

    # --- public driver ---

    def compile(self) -> str:
        """The grammar text (root rule ``<rule_prefix>root``)."""
        expr = self.value(self.root, "#", DEFAULT_BASE, frozenset())
        if expr is None:
            raise UnsupportedSchemaError("false", "#", "the schema accepts no value at all")
        return self.rules.render(expr)

    def unsupported(self, keyword: str, ptr: str, detail: str) -> None:
        """Refuse (strict) or note and ignore (lenient) a keyword we cannot enforce."""
        if self.strict:
            raise UnsupportedSchemaError(keyword, ptr, detail)
        self.notes.append(f"ignoring JSON Schema keyword {keyword!r} at {ptr}: {detail}")

    def approx(self, keyword: str, ptr: str, detail: str) -> None:
        """A keyword the grammar can only drop or widen (it then accepts a superset): recorded when
        approximating (the caller validates the output with ``jsonschema``), else
        :meth:`unsupported`. Only call sites whose fallback accepts a superset come here, and
        never for ``format`` alone (``jsonschema`` does not assert formats by default)."""
        if self.approximating:
            self.approximated.append((keyword, ptr, detail))
        else:
            self.unsupported(keyword, ptr, detail)

    # --- references: named rules, so recursion works ---

    def ref_rule(self, ref: str, ptr: str, base: str, guard: frozenset[int]) -> str | None:
        """The rule for a ``$ref`` target (made once); None when no value is valid under it.

        ``guard`` holds the schemas being defined that no input has been consumed since: meeting
        one again would be left recursion, which llama.cpp cannot parse.
        """
        target, tbase, tptr = self.refs.resolve(ref, ptr, base)
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
        base = self.refs.base_of(schema, base)
        ref = schema.get("$ref")
        if isinstance(ref, str) and not has_validation(schema, ("$ref",)):
            return self.ref_rule(ref, ptr, base, guard)
        if not has_validation(schema):
            return self.any_value()
        if "allOf" in schema or "$ref" in schema:
            # may recurse through merged references: give it a named rule like a $ref target
            return self.named(schema, ptr, base, guard)
        return self.flat(self.norm.flatten(schema, ptr, base), ptr, base, guard)

    def body(self, schema: Any, ptr: str, base: str, guard: frozenset[int]) -> str | None:
        """Like :meth:`value`, but ``schema`` itself never gets a named rule (the caller's)."""
        if isinstance(schema, dict) and ("allOf" in schema or "$ref" in schema):
            ref = schema.get("$ref")
            if not (isinstance(ref, str) and not has_validation(schema, ("$ref",))):
                base = self.refs.base_of(schema, base)
                return self.flat(self.norm.flatten(schema, ptr, base), ptr, base, guard)
        return self.value(schema, ptr, base, guard)

    def named(self, schema: dict[str, Any], ptr: str, base: str, guard: frozenset[int]) -> str | None:
        """:meth:`value` for a schema with ``allOf``/``$ref``, as a named rule made once."""
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
        body = self.flat(self.norm.flatten(schema, ptr, base), ptr, base, guard | {key})
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
        self.work += 1
        if self.work > MAX_WORK or len(self.rules.rules) > MAX_RULES:
            raise UnsupportedSchemaError(
                "schema", ptr, f"compiling it takes too much work (over {MAX_WORK} subschemas "
                f"or {MAX_RULES} grammar rules)"
            )
        if s.false:
            return None, s
        if s.alternatives:
            return self.alternatives(s, ptr, base, guard), s
        if "enum" in s.keywords:
            values = s.keywords["enum"]
            if not isinstance(values, list):
                raise UnsupportedSchemaError("enum", ptr, f"expected an array, got {describe(values)}")
            s = self.check_keywords(s, ptr)
            return self.enum(values, s, ptr), s
        s = self.check_keywords(s, ptr)
        if s.false:  # checking the keywords folded in a negation that nothing satisfies (not: {})
            return None, s
        types = s.keywords.get("type")
        if types is None:
            types = list(TYPES)
        if not isinstance(types, list) or any(t not in TYPES for t in types):
            raise UnsupportedSchemaError("type", ptr, f"unknown type {describe(s.keywords.get('type'))}")
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
        """A value of JSON type ``t`` valid under ``s``; None if none is."""
        if t == "null":
            return '"null"'
        if t == "boolean":
            return '("true" | "false")'
        if t == "string":
            return self.strings.string(s, ptr)
        if t in ("number", "integer"):
            return compile_number(s, ptr, t == "integer", self.rules, self.approx)
        if t == "array":
            return compile_array(self, s, ptr, base)
        return ObjectBuilder(self, s, ptr, base).build()

    def check_keywords(self, s: Flat, ptr: str) -> Flat:
        """``s`` with its negations folded in; refuse the keywords a grammar cannot enforce."""
        if s.negations:
            s = self.norm.fold_negations(s)
        kw = s.keywords
        if ("then" in kw or "else" in kw) and "if" in kw:
            self.approx("if", ptr, "if/then/else cannot be expressed in a grammar")
        for name in ("unevaluatedProperties", "unevaluatedItems"):
            if name in kw and kw[name] is not True and kw[name] != {}:
                self.approx(name, ptr, "not supported")
        for name in ("$dynamicRef", "$recursiveRef"):
            if name in kw:
                self.unsupported(name, ptr, "dynamic references are not supported")
        return s

    def alternatives(self, s: Flat, ptr: str, base: str, guard: frozenset[int]) -> str | None:
        """The first anyOf/oneOf group of ``s``, each branch merged with the rest of ``s``."""
        group = s.alternatives[0]
        kind, branches, gptr, gbase = group.kind, group.branches, group.ptr, group.base
        rest = s.replace(alternatives=s.alternatives[1:])
        self.branches += len(branches)
        if self.branches > MAX_BRANCHES:
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
                merged = self.norm.merge(rest, self.norm.flatten(b, bptr, gbase), bptr, gbase)
                e, folded = self.flat_folded(merged, bptr, gbase, guard)
            if e is not None:
                exprs.append(e)
                if kind == "oneOf":
                    flats.append(folded if folded is not None else self._flatten_quiet(b, bptr, gbase))
        if kind == "oneOf":
            live = [f for f in flats if f is not None]
            if len(live) < len(exprs):
                self.approx("oneOf", gptr, "branches may overlap (compiled as anyOf)")
            elif not pairwise_disjoint(live):
                self.approx("oneOf", gptr, "branches may overlap (cannot prove exactly one matches)")
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
            branch = self.norm.merge(rest, Flat({"type": ["object"], "required": req}), ptr, base)
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
            f = self.norm.flatten(b, ptr, base)
        except UnsupportedSchemaError:
            return None
        return f

    # --- any JSON value ---

    def any_value(self) -> str:
        """Rule for any JSON value."""
        if self._any_value:
            return self._any_value
        ws = self.ws
        name = self.rules.fresh("json-value")
        self._any_value = name
        string = self.strings.any_string()
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
        types = s.keywords.get("type")
        vt = type_of(v)
        if types is not None and vt not in types and not (vt == "integer" and "number" in types):
            return False
        checks = {k: x for k, x in s.keywords.items() if k in SCALAR_KEYWORDS and k != "type"}
        if s.patterns:
            checks["allOf"] = [{"pattern": p} for p in s.patterns]
        if isinstance(v, (list, dict)) and (s.key_maps or any(k in CONTAINER_KEYWORDS for k in s.keywords)):
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
        """GBNF for the JSON texts of one value (numbers: ``1`` and ``1.0`` both)."""
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
