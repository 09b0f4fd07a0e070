"""GBNF text building blocks: rule set with deduplication, literals, character classes, repetition.

Everything here emits grammar text that llama.cpp's parser accepts: rule names made of
``[a-zA-Z0-9-]``, only the escapes it knows (``\\xHH``, ``\\uHHHH``, ``\\UHHHHHHHH``), and no
``{m,n}`` repetition at all (bounded repetition is spelled out as rule chains whose length grows
with the square root of the bound, so large ``maxLength``/``maxItems`` stay cheap and shallow).
"""

from __future__ import annotations

import math
import re

MAX_CODEPOINT = 0x10FFFF
ANY_RANGES: tuple[tuple[int, int], ...] = ((0, MAX_CODEPOINT),)

Ranges = tuple[tuple[int, int], ...]

_NAME_BAD = re.compile(r"[^a-zA-Z0-9-]+")
_CHAIN_LIMIT = 48  # optional-repetition chains longer than this use the square-root layout


def esc_char(cp: int) -> str:
    """A code point as it may appear inside a GBNF literal or character class."""
    if cp < 0x80 and (chr(cp).isalnum() or chr(cp) in " !#$%&'()*+,./:;<=>?@_`{|}~"):
        return chr(cp)
    if cp < 0x100:
        return f"\\x{cp:02x}"
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def literal(text: str) -> str:
    """A GBNF string literal matching ``text`` exactly."""
    return '"' + "".join(esc_char(ord(c)) for c in text) + '"'


def char_class(ranges: Ranges) -> str:
    """A GBNF character class for non-empty, sorted, disjoint code point ranges."""
    parts = []
    for lo, hi in ranges:
        if lo == hi:
            parts.append(_class_char(lo))
        elif hi == lo + 1:
            parts.append(_class_char(lo) + _class_char(hi))
        else:
            parts.append(f"{_class_char(lo)}-{_class_char(hi)}")
    return "[" + "".join(parts) + "]"


def _class_char(cp: int) -> str:
    if cp < 0x80 and chr(cp).isalnum():
        return chr(cp)
    return esc_char(cp) if cp >= 0x100 else f"\\x{cp:02x}"


# --- code point range sets -------------------------------------------------------------------


def normalize(ranges: list[tuple[int, int]] | Ranges) -> Ranges:
    """Sort and merge overlapping/adjacent ranges."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


def complement(ranges: Ranges) -> Ranges:
    """The code points (up to U+10FFFF) not in ``ranges``."""
    out = []
    nxt = 0
    for lo, hi in ranges:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= MAX_CODEPOINT:
        out.append((nxt, MAX_CODEPOINT))
    return tuple(out)


def subtract(a: Ranges, b: Ranges) -> Ranges:
    """The code points in ``a`` and not in ``b``."""
    return intersect(a, complement(b))


def intersect(a: Ranges, b: Ranges) -> Ranges:
    """The code points in both (each argument sorted and disjoint)."""
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def contains(ranges: Ranges, cp: int) -> bool:
    """Whether ``cp`` is in ``ranges``."""
    return any(lo <= cp <= hi for lo, hi in ranges)


# --- rule set --------------------------------------------------------------------------------


class RuleSet:
    """Named GBNF rules; identical bodies share one name. Every name, the root's included, starts
    with ``prefix`` (letters, digits and ``-``)."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.rules: dict[str, str] = {}
        self._by_body: dict[str, str] = {}
        self._counts: dict[str, int] = {"root": 1}  # "root" is written by render()

    def fresh(self, hint: str) -> str:
        """Reserve a new unique rule name (for rules defined later, e.g. recursive ones)."""
        base = _NAME_BAD.sub("-", hint).strip("-")[:40] or "r"
        if base[0].isdigit():
            base = "r" + base
        n = self._counts.get(base, 0)
        self._counts[base] = n + 1
        name = self.prefix + (base if n == 0 else f"{base}-{n}")
        while name in self.rules:
            n += 1
            self._counts[base] = n + 1
            name = f"{self.prefix}{base}-{n}"
        self.rules[name] = ""
        return name

    def define(self, name: str, body: str) -> None:
        """Set the body of a rule (one reserved with :meth:`fresh`)."""
        self.rules[name] = body
        self._by_body.setdefault(body, name)

    def add(self, hint: str, body: str) -> str:
        """Name for a rule with this body, creating it when new."""
        found = self._by_body.get(body)
        if found is not None:
            return found
        name = self.fresh(hint)
        self.define(name, body)
        return name

    def render(self, root: str) -> str:
        """The grammar text: rule ``<prefix>root`` matching the expression ``root``, then the rules."""
        lines = [f"{self.prefix}root ::= {root}"]
        for name, body in self.rules.items():
            lines.append(f"{name} ::= {body}")
        return "\n".join(lines) + "\n"

    # --- repetition ---

    def times(self, atom: str, n: int, hint: str) -> str:
        """Exactly ``n`` copies of ``atom`` (an atom: name, literal, class or group)."""
        if n <= 0:
            return ""
        if n <= 64:
            return " ".join([atom] * n)
        block = math.isqrt(n)
        q, r = divmod(n, block)
        blk = self.add(hint + "-x" + str(block), " ".join([atom] * block))
        return self.times(blk, q, hint) + ("" if r == 0 else " " + " ".join([atom] * r))

    def upto(self, atom: str, k: int, hint: str) -> str:
        """Between 0 and ``k`` copies of ``atom``; an atom or empty string."""
        if k <= 0:
            return ""
        if k == 1:
            return atom + "?"
        if k <= _CHAIN_LIMIT:
            prev = atom + "?"
            for j in range(2, k + 1):
                name = self.add(f"{hint}-upto{j}", f"({atom} {prev})?")
                prev = name
            return prev
        block = math.isqrt(k)
        small = self.upto(atom, block - 1, hint)
        blk = self.add(f"{hint}-x{block}", " ".join([atom] * block))
        level = self.upto(atom, k % block, hint) if k % block else ""
        # level_j accepts 0..(j*block + k%block) copies
        cur = level
        for _ in range(k // block):
            tail = f"{blk} {cur}".strip()
            alts = f"{small} | {tail}" if small else f"| {tail}"
            cur = self.add(f"{hint}-upto", alts)
        return cur

    def repeat(self, atom: str, lo: int, hi: int | None, hint: str) -> str:
        """``lo`` to ``hi`` (None: unbounded) copies of ``atom``; may be the empty string."""
        req = self.times(atom, lo, hint)
        opt = atom + "*" if hi is None else self.upto(atom, hi - lo, hint)
        return f"{req} {opt}".strip()


def group(expr: str) -> str:
    """Parenthesize an expression unless it is already a single atom."""
    if _is_atom(expr):
        return expr
    return f"({expr})"


_ATOM = re.compile(r'^(?:[a-zA-Z0-9-]+|"(?:[^"\\]|\\.)*"|\[(?:[^\]\\]|\\.)*\])[*+?]?$')


def _is_atom(expr: str) -> bool:
    return bool(_ATOM.match(expr))


def alt(options: list[str]) -> str:
    """Alternation of expressions (deduplicated, order kept); '' stands for the empty string."""
    seen: list[str] = []
    for o in options:
        if o not in seen:
            seen.append(o)
    if len(seen) == 1:
        return seen[0]
    if "" in seen:  # empty alternative first (llama.cpp misreads a trailing "| ")
        seen.remove("")
        return "( | " + " | ".join(seen) + ")"
    return "(" + " | ".join(seen) + ")"
