"""String grammars: JSON string tokens, length bounds, ``pattern`` (via :mod:`._regex`), ``format``
(via :mod:`._formats`), and key tokens that differ from a list of names.

Every grammar here matches the JSON text of a string, escapes included; a character a pattern
allows may be written only in its canonical JSON form (``\\n``, ``\\u001f``, ``\\"``), so a
grammar may reject an unusual spelling of a valid string, never accept an invalid one.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import UnsupportedSchemaError, describe
from . import _automaton, _regex
from ._builder import ANY_RANGES, RuleSet, alt, char_class, contains, group, intersect, literal, subtract
from ._formats import FORMAT_LENGTHS, FORMAT_PATTERNS, format_rule
from ._keywords import Unsupported, as_count
from ._schema import Flat

# Formats that validators commonly assert (jsonschema's FormatChecker) but we do not enforce;
# other unknown formats are annotations.
ASSERTED_FORMATS = frozenset(
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
_FAILED = object()  # StringCompiler.intersection could not build the automaton


class StringCompiler:
    """String rules of one grammar (shared :class:`RuleSet`), cached per character set and pattern."""

    def __init__(
        self, rules: RuleSet, unsupported: Unsupported, approximate: Unsupported | None = None
    ) -> None:
        self.rules = rules
        self.unsupported = unsupported
        # a constraint the grammar can only drop (a superset, checked after generation)
        self.approximate = approximate or unsupported
        self._cache: dict[str, str] = {}

    def json_char(self) -> str:
        """Rule for one character of JSON string content, any escape allowed."""
        return self.rules.add(
            "json-char",
            '[^"\\\\\\x00-\\x1f] | "\\\\" (["\\\\/bfnrt] | "u" '
            f"([0-9a-cA-Ce-fE-F] {_HEX} {_HEX} {_HEX} | [dD] [0-7] {_HEX} {_HEX}))",
        )

    def any_string(self) -> str:
        """Rule for any JSON string token."""
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

    def string(self, s: Flat, ptr: str) -> str | None:
        """A string valid under ``s`` (lengths, patterns, format); None if none is."""
        min_len = as_count(s.keywords.get("minLength", 0), "minLength", ptr)
        max_len = s.keywords.get("maxLength")
        if max_len is not None:
            max_len = as_count(max_len, "maxLength", ptr)
            if max_len < min_len:
                return None
        patterns = list(s.patterns)
        fmt = s.keywords.get("format")
        quote = '"\\""'
        if isinstance(fmt, str) and fmt in ASSERTED_FORMATS and format_rule(fmt, self.rules) is None:
            self.unsupported("format", ptr, f"format {fmt!r} cannot be enforced")
        if isinstance(fmt, str) and (rule := format_rule(fmt, self.rules)) is not None:
            shortest, longest = FORMAT_LENGTHS[fmt]
            if max_len is not None and max_len < shortest:
                return None
            if longest is not None and min_len > longest:
                return None
            lengths = min_len > shortest or (max_len is not None and (longest is None or longest > max_len))
            if patterns or lengths:
                fmt_pattern = FORMAT_PATTERNS.get(fmt)
                body = self.intersection(
                    [*patterns, fmt_pattern] if fmt_pattern else [], min_len, max_len, ptr
                )
                if body is not _FAILED:
                    return None if body is None else self.rules.add("string", f"{quote} {body} {quote}")
                if patterns:
                    self.approximate("format", ptr, "format together with pattern")
                else:
                    self.approximate("format", ptr, "format together with minLength/maxLength")
            return f"{quote} {rule} {quote}"
        if len(set(patterns)) > 1:
            body = self.intersection(list(dict.fromkeys(patterns)), min_len, max_len, ptr)
            if body is not _FAILED:
                return None if body is None else self.rules.add("string", f"{quote} {body} {quote}")
            self.approximate("pattern", ptr, "several different patterns (allOf)")
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
        """String content (no quotes) matching ``pattern`` with a length in bounds; None if none does."""
        if not isinstance(pattern, str):
            raise UnsupportedSchemaError("pattern", ptr, f"expected a string, got {describe(pattern)}")
        cache_key = f"pattern:{min_len}:{max_len}:{pattern}"
        if cache_key in self._cache:
            return self._cache[cache_key] or None
        try:
            branches = _regex.split_anchored(_regex.parse(pattern))
        except _regex.RegexUnsupported as exc:
            self.approximate("pattern", ptr, f"{exc} in {pattern!r}")
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
                exact = self.intersection([pattern], min_len, max_len, ptr)
                if exact is not _FAILED:
                    self._cache[cache_key] = exact or ""
                    return exact
                self.approximate("pattern", ptr, "pattern combined with minLength/maxLength")
                variants = [items]
            for variant in variants:
                expr = self.regex_expr(("seq", variant))
                if expr is not None:
                    options.append(expr)
        result = alt(options) if options else None
        self._cache[cache_key] = result or ""
        return result

    def intersection(self, patterns: list[str], min_len: int, max_len: int | None, ptr: str) -> Any:
        """String content matching every pattern with a length in bounds, as one automaton (None:
        no string does); :data:`_FAILED` when a pattern cannot be compiled or the automaton
        would be too large."""
        try:
            aut: _automaton.Automaton | None = None
            if min_len or max_len is not None:
                aut = _automaton.length(min_len, max_len)
            for p in patterns:
                pa = _automaton.from_pattern(p)
                aut = pa if aut is None else _automaton.intersect(aut, pa)
        except (_automaton.TooLarge, _regex.RegexUnsupported):
            return _FAILED
        if aut is None:
            return self.rules.repeat(self.json_char(), 0, None, "char")
        return self.automaton(aut)

    def automaton(self, aut: _automaton.Automaton) -> str | None:
        """String content (no quotes) of an automaton's strings; None if it has none."""
        return _automaton.emit(aut, self.chars, self.rules.fresh, self.rules.define)

    def regex_expr(self, node: _regex.Node) -> str | None:
        """GBNF for the strings a parsed regex node matches (None: none; "": only the empty one)."""
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

    def excluding(self, keys: list[str]) -> str:
        """A JSON string token whose decoded value is none of ``keys`` (canonical escapes only)."""
        cache_key = "excl:" + json.dumps(sorted(keys))
        hit = self._cache.get(cache_key)
        if hit:
            return hit
        trie: dict[str, Any] = {}
        for k in keys:
            node = trie
            for ch in k:
                node = node.setdefault(ch, {})
            node[""] = {}
        any_char = self.chars(ANY_RANGES)
        rest = self.rules.add("key-rest", f'{any_char}* "\\""')

        def build(node: dict[str, Any]) -> str:
            opts = []
            if "" not in node:
                opts.append('"\\""')
            children = [c for c in node if c]
            for ch in children:
                opts.append(f"{self.chars(((ord(ch), ord(ch)),))} {build(node[ch])}")
            others = ANY_RANGES
            for ch in children:
                others = subtract(others, ((ord(ch), ord(ch)),))
            other = self.chars(others)
            if other:
                opts.append(f"{other} {rest}")
            return self.rules.add("key-not", " | ".join(opts))

        name = self.rules.add("key", f'"\\"" {build(trie)}')
        self._cache[cache_key] = name
        return name


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
