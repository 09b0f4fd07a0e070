"""Object grammars: properties (in definition order or any order), required keys, extra keys
(``additionalProperties``, ``patternProperties``, ``propertyNames``), property counts and the
key dependencies a grammar can track (``dependentRequired``, key sets that must not all appear).

An object is a chain of grammar states: (next listed property, members so far, tracked keys seen,
whether extra keys may come next); only states that can reach the closing brace become rules.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import UnsupportedSchemaError, describe
from . import _automaton, _regex
from ._builder import alt, literal
from ._keywords import VALIDATION, as_count, pointer, trivial
from ._normalize import all_of
from ._schema import Flat

if TYPE_CHECKING:
    from ._compiler import Compiler

# property_order="any" needs one grammar state per subset of the keys it tracks: objects listing
# up to 7 keys track them all (2**7 = 128 states of up to 7 alternatives)...
ANY_ORDER_MAX = 7
# ...larger ones track only the keys that must be counted (required ones, those of dependencies
# and key sets that must not all appear), the other optional keys in definition order among
# themselves (strict) or free (approximate mode: a key may repeat), while that takes at most this
# many states; else definition order for all
ANY_ORDER_STATES = 1024
# patternProperties schemas (distinct ones) split into key classes exactly; more take the old route
MAX_PATTERN_GROUPS = 6
# the string keywords a propertyNames schema may use for its keys to become an automaton
_NAME_KEYWORDS = frozenset(["type", "enum", "const", "minLength", "maxLength", "pattern", "not", "anyOf",
                            "allOf", "$ref"])
_FALLBACK = object()  # ObjectBuilder.extras_by_class: take the per-pattern route


class ObjectBuilder:
    """Grammar for one object schema: a chain of states (next property, count, seen keys)."""

    def __init__(self, comp: Compiler, s: Flat, ptr: str, base: str) -> None:
        self.c = comp
        self.s = s
        self.ptr = ptr
        self.base = base
        self.ws = comp.ws

    def build(self) -> str | None:
        """The object rule; None when no object is valid."""
        comp, s, ptr, ws = self.c, self.s, self.ptr, self.ws
        kw = s.keywords
        props = kw.get("properties", {})
        if not isinstance(props, dict):
            raise UnsupportedSchemaError("properties", ptr, f"expected an object, got {describe(props)}")
        required = kw.get("required", [])
        if not isinstance(required, list):
            raise UnsupportedSchemaError("required", ptr, f"expected an array, got {describe(required)}")
        required = [r for r in dict.fromkeys(required) if isinstance(r, str)]
        # A forced default is for objects that list their keys; one that lists none (a bare
        # {"type": "object"}) keeps the spec's "anything", or it could only ever be {}.
        declares_keys = "properties" in kw or "patternProperties" in kw
        additional = kw.get("additionalProperties", comp.additional_default if declares_keys else True)
        pattern_props = kw.get("patternProperties", {})
        names = kw.get("propertyNames")
        min_p = as_count(kw.get("minProperties", 0), "minProperties", ptr)
        max_p = kw.get("maxProperties")
        if max_p is not None:
            max_p = as_count(max_p, "maxProperties", ptr)
            if max_p < min_p:
                return None
        if kw.get("dependentSchemas"):
            comp.approx("dependentSchemas", ptr, "dependent schemas are not supported")

        names_flat = None
        if names is not None and names is not True and names != {}:
            names_flat = comp.norm.flatten(names, pointer(ptr, "propertyNames"), self.base)

        # each member's schema by key: this schema's properties/patternProperties/
        # additionalProperties, and those of allOf branches that did not merge into them
        self.maps = [_KeyMap(props, pattern_props, additional, ptr, self.base)]
        for km in s.key_maps:
            mk = km.keywords
            mprops, mpatterns = mk.get("properties", {}), mk.get("patternProperties", {})
            mdeclares = "properties" in mk or "patternProperties" in mk
            madditional = mk.get("additionalProperties", comp.additional_default if mdeclares else True)
            self.maps.append(_KeyMap(mprops, mpatterns, madditional, km.ptr, km.base))

        # members: (key, schema, pointer, required)
        members: list[tuple[str, Any, str, bool]] = []
        for m in self.maps:
            for k in m.props:
                if k not in {x[0] for x in members}:
                    members.append((k, self.key_schema(k), pointer(m.ptr, "properties", k), k in required))
        defined = {x[0] for x in members}
        # keys named by required, dependencies or oneOf-of-required but not listed: listed here
        # (at the end) so the object grammar can track them
        named_keys = list(required)
        dep = kw.get("dependentRequired", {})
        if isinstance(dep, dict):
            for trig, ds in dep.items():
                if isinstance(ds, list):
                    named_keys += [trig, *(d for d in ds if isinstance(d, str))]
        named_keys += [k for c in s.absent_all for k in c if isinstance(k, str)]
        for k in dict.fromkeys(named_keys):
            if k in defined:
                continue
            sch = self.key_schema(k)
            if sch is False:
                if k in required:
                    return None
                continue
            members.append((k, sch, pointer(ptr, "required"), k in required))
            defined.add(k)

        # property names: drop members whose key is not a valid name
        if names_flat is not None:
            kept = []
            for member in members:
                if self._name_ok(member[0], names):
                    kept.append(member)
                elif member[3]:
                    return None
            members = kept

        self.deps, forbidden = self._dependencies(kw.get("dependentRequired", {}), {k for k, *_ in members})
        combo_keys = {k for c in s.absent_all for k in c}
        hidden = (forbidden | combo_keys) - {member[0] for member in members}
        all_keys = [member[0] for member in members] + sorted(hidden)
        for member in members:
            if member[0] in forbidden and member[3]:
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
        start = self.start_any() if comp.any_order and len(member_exprs) > 1 else None
        if start is None:
            start = self.state(0, 0, frozenset(), True)
        body = self.emit(start)
        if body is None:
            return None
        return comp.rules.add("object", f'"{{" {ws} {body} "}}"')

    def key_schema(self, key: str) -> Any:
        """The schema a member's value must satisfy by its key: in every key map, its listed
        schema and those of the patterns it matches, or the map's ``additionalProperties`` when
        neither."""
        sch: Any = True
        for m in self.maps:
            parts = [m.props[key]] if key in m.props else []
            parts += [psub for pat, psub in m.patterns.items() if _py_search(pat, key, self.c, m.ptr)]
            for part in parts or [m.additional]:
                sch = all_of(sch, part)
        return sch

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
        if names is False:
            return None
        exact = self.extras_by_class(keys, additional, pattern_props, names_flat)
        if exact is not _FALLBACK:
            return exact
        return self.extras_per_pattern(keys, additional, pattern_props, names, names_flat)

    def extras_by_class(
        self, keys: list[str], additional: Any, pattern_props: dict[str, Any], names_flat: Flat | None
    ) -> Any:
        """Extra members, exactly: keys are split by which ``patternProperties`` patterns they
        match (a key matching several must satisfy each of their schemas, a key matching none the
        ``additionalProperties`` schema), as one product of deterministic automata (the
        patterns', the listed keys' exclusion and ``propertyNames``'); one member rule per class
        of keys. :data:`_FALLBACK` when that is not needed (:meth:`extras_per_pattern` is exact
        then) or not possible (a pattern the automata cannot read, too many states)."""
        comp, ws, ptr = self.c, self.ws, self.ptr
        # per key map: its patterns grouped by schema (JSON text), and its additionalProperties
        maps: list[tuple[list[tuple[Any, list[str]]], Any, _KeyMap]] = []
        for m in self.maps:
            groups: dict[str, tuple[Any, list[str]]] = {}
            for pat, psub in m.patterns.items():
                groups.setdefault(json.dumps(psub, sort_keys=True), (psub, []))[1].append(pat)
            maps.append((list(groups.values()), m.additional, m))
        if len(maps) == 1 and names_flat is None:
            groups_list = maps[0][0]
            if not groups_list:
                return _FALLBACK
            if len(groups_list) == 1 and additional is False:
                return _FALLBACK  # one schema for every pattern key: pattern_key is exact
            if additional is not False and all(
                json.dumps(g[0], sort_keys=True) == json.dumps(additional, sort_keys=True)
                or (trivial(g[0]) and trivial(additional))
                for g in groups_list
            ):
                maps = [([], additional, maps[0][2])]  # every extra key has the same schema
        # (map index, schema, patterns) of each pattern group, in the product's order
        flat_groups = [(i, g[0], g[1]) for i, (gs, _, _) in enumerate(maps) for g in gs]
        if len(flat_groups) > MAX_PATTERN_GROUPS:
            return _FALLBACK
        try:
            names_aut = None
            if names_flat is not None:
                names_aut = self.key_automaton(names_flat, pointer(ptr, "propertyNames"))
                if names_aut is None:
                    return _FALLBACK
            parts = [
                _automaton.determinize(_automaton.union([_automaton.from_pattern(p) for p in pats]))
                for _, _, pats in flat_groups
            ]
            parts.append(_automaton.excluding(keys))
            if names_aut is not None:
                parts.append(_automaton.determinize(names_aut))
            prod, tuples = _automaton.product(parts)
        except (_automaton.TooLarge, _regex.RegexUnsupported):
            return _FALLBACK
        n = len(flat_groups)
        classes: dict[int, set[int]] = {}  # bit set of the pattern groups matched -> product states
        for q, states in enumerate(tuples):
            if all(states[i] in parts[i].accept for i in range(n, len(parts))):
                mask = sum(1 << i for i in range(n) if states[i] in parts[i].accept)
                classes.setdefault(mask, set()).add(q)
        options: list[str] = []
        for mask in sorted(classes):
            sch: Any = True
            sptr = pointer(ptr, "additionalProperties")
            for i, (_, madditional, m) in enumerate(maps):
                hit = [j for j in range(n) if mask >> j & 1 and flat_groups[j][0] == i]
                if not hit:
                    sch = all_of(sch, madditional)
                for j in hit:
                    sch = all_of(sch, flat_groups[j][1])
                    sptr = pointer(m.ptr, "patternProperties", flat_groups[j][2][0])
            if sch is False:
                continue
            val = comp.value(sch, sptr, self.base, frozenset())
            if val is None:
                continue
            body = comp.strings.automaton(_automaton.Automaton(prod.start, classes[mask], prod.moves))
            if body is None:
                continue
            key = comp.rules.add("xkey", f'"\\"" {body} "\\""' if body else '"\\"\\""')
            options.append(comp.rules.add("xkv", f'{key} {ws} ":" {ws} {val} {ws}'))
        if not options:
            return None
        return comp.rules.add("extra", alt(options)) if len(options) > 1 else options[0]

    def key_automaton(self, f: Flat, ptr: str) -> _automaton.Automaton | None:
        """The strings valid under a flattened ``propertyNames`` schema, as an automaton; None
        when a keyword there has no automaton (``format``, ``oneOf``, ``if``...)."""
        if f.false:
            return _automaton.Automaton(0, set(), [[]])
        kw = f.keywords
        if any(k in VALIDATION and k not in _NAME_KEYWORDS for k in kw):
            return None
        types = kw.get("type")
        if isinstance(types, list) and "string" not in types:
            return _automaton.Automaton(0, set(), [[]])
        auts: list[_automaton.Automaton] = []
        min_len = as_count(kw.get("minLength", 0), "minLength", ptr)
        max_len = kw.get("maxLength")
        if max_len is not None:
            max_len = as_count(max_len, "maxLength", ptr)
        if min_len or max_len is not None:
            if max_len is not None and max_len < min_len:
                return _automaton.Automaton(0, set(), [[]])
            auts.append(_automaton.length(min_len, max_len))
        if not all(isinstance(p, str) for p in f.patterns):
            return None
        auts += [_automaton.from_pattern(p) for p in f.patterns]
        enum = kw.get("enum")
        if isinstance(enum, list):
            words = [v for v in enum if isinstance(v, str)]
            auts.append(_automaton.complement(_automaton.excluding(words)))
        for neg in f.negations:
            sub = self.c.norm.flatten(neg.schema, neg.ptr, self.base)
            inner = self.key_automaton(sub, neg.ptr)
            if inner is None:
                return None
            auts.append(_automaton.complement(inner))
        for group in f.alternatives:
            if group.kind != "anyOf":
                return None
            branches = []
            for i, b in enumerate(group.branches):
                bptr = pointer(group.ptr, "anyOf", i)
                inner = self.key_automaton(self.c.norm.flatten(b, bptr, group.base), bptr)
                if inner is None:
                    return None
                branches.append(inner)
            auts.append(_automaton.union(branches) if branches else _automaton.Automaton(0, set(), [[]]))
        if not auts:
            return _automaton.length(0, None)
        out = auts[0]
        for a in auts[1:]:
            out = _automaton.intersect(out, a)
        return out

    def extras_per_pattern(
        self,
        keys: list[str],
        additional: Any,
        pattern_props: dict[str, Any],
        names: Any,
        names_flat: Flat | None,
    ) -> str | None:
        """Extra members, one rule per pattern: exact for one pattern schema and no other extra
        keys; else keys matching no pattern are refused (a subset) and a key matching several
        patterns of different schemas satisfies one of them (approximated)."""
        comp, ws, ptr = self.c, self.ws, self.ptr
        if len(self.maps) > 1:
            comp.approx("patternProperties", ptr, "extra keys of allOf branches with different "
                        "patternProperties/additionalProperties (checked against the first only)")
        options: list[str] = []
        if pattern_props:
            distinct = {json.dumps(v, sort_keys=True) for v in pattern_props.values()}
            if len(pattern_props) > 1 and len(distinct) > 1:
                comp.approx("patternProperties", ptr, "several patterns with different schemas")
            for pat, psub in pattern_props.items():
                if names_flat is not None:
                    comp.unsupported("propertyNames", ptr, "together with patternProperties")
                body = self.pattern_key(pat, [m for m in keys if _py_search(pat, m, comp, ptr)])
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

    def pattern_key(self, pat: str, exclude: list[str]) -> str | None:
        """Key content matching ``pat`` and none of ``exclude`` (listed keys it also matches:
        they are members of their own, their schema merged with the pattern's)."""
        comp, pptr = self.c, pointer(self.ptr, "patternProperties", pat)
        if not exclude:
            return comp.strings.pattern(pat, 0, None, pptr)
        try:
            aut = _automaton.intersect(_automaton.from_pattern(pat), _automaton.excluding(exclude))
        except (_automaton.TooLarge, _regex.RegexUnsupported):
            comp.unsupported("patternProperties", self.ptr, f"properties {exclude!r} also match {pat!r}")
            return comp.strings.pattern(pat, 0, None, pptr)
        return comp.strings.automaton(aut)

    def extra_key(self, keys: list[str], names: Any, names_flat: Flat | None) -> str | None:
        """Rule for the key of an extra member: not among ``keys``, valid under ``propertyNames``."""
        comp = self.c
        if names_flat is not None:
            enum = names_flat.keywords.get("enum")
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
            return comp.strings.any_string()
        return comp.strings.excluding(keys)

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

    def start_any(self) -> int | None:
        """The first state of the any-order grammar; None when it would take too many states
        (the caller keeps the definition order)."""
        if len(self.members) <= ANY_ORDER_MAX:
            self.tracked = frozenset(k for k, _, _ in self.members)
        else:
            self.tracked = self.required | self.relevant
        # (key, member rule) of the optional keys not tracked, in definition order
        self.untracked = [(k, kv) for k, kv, _ in self.members if k not in self.tracked]
        self.free = bool(self.untracked) and self.c.approximating
        n_states = 2 ** len(self.tracked) * (1 if self.free else len(self.untracked) + 1)
        if n_states > ANY_ORDER_STATES:
            return None
        if self.free:
            self.c.approx(
                "properties", self.ptr,
                f"{len(self.members)} properties in any order: an optional one may repeat "
                "(reject duplicate keys when parsing)",
            )
        return self.state_any(0, frozenset(), 0)

    def state_any(self, count: int, seen: frozenset[str], j: int) -> int:
        """Index of the state "``seen`` tracked keys emitted in any order, ``count`` members in
        all, untracked optional keys from the ``j``-th on may come next".

        Every tracked key not yet seen may come next, so each appears at most once and the
        required ones before the end; untracked keys come in definition order among themselves,
        each at most once (free instead: any of them, again and again); the key text tells the
        alternatives apart (extras exclude listed keys), so the grammar stays unambiguous.
        """
        idx, alts = self._slot((-1 - j, count, seen, True))
        if alts is None:
            return idx
        sep, can_add, nxt_count = self._step(count)
        if can_add:
            pos = 0
            for k, kv, _ in self.members:
                if k in self.tracked:
                    if k not in seen:
                        alts.append((f"{sep}{kv}", self.state_any(nxt_count, seen | {k}, j)))
                    continue
                if self.free:
                    alts.append((f"{sep}{kv}", self.state_any(nxt_count, seen, 0)))
                elif pos >= j:
                    alts.append((f"{sep}{kv}", self.state_any(nxt_count, seen, pos + 1)))
                pos += 1
            if self.extras_expr is not None:
                alts.append((f"{sep}{self.extras_expr}", self.state_any(nxt_count, seen, j)))
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


@dataclass
class _KeyMap:
    """properties, patternProperties and additionalProperties (the default applied) of one
    schema an object's members must satisfy by key."""

    props: dict[str, Any]
    patterns: dict[str, Any]
    additional: Any
    ptr: str
    base: str


def _py_search(pattern: str, key: str, comp: Compiler, ptr: str) -> bool:
    """Whether ``pattern`` matches ``key`` (Python's re; one it cannot compile is unsupported)."""
    try:
        return re.search(pattern, key) is not None
    except re.error:
        comp.unsupported("patternProperties", ptr, f"cannot evaluate pattern {pattern!r}")
        return False
