"""ECMA-262 regular expressions (JSON Schema ``pattern``) parsed into a small AST.

Nodes are tuples:
``("set", ranges)`` one character from code point ranges, ``("seq", [nodes])``,
``("alt", [nodes])``, ``("rep", node, min, max_or_None)``, ``("bol",)``, ``("eol",)``.
Constructs a context-free grammar cannot enforce exactly (lookaround, backreferences, word
boundaries, Unicode property escapes) raise :class:`RegexUnsupported`.
"""

from __future__ import annotations

from typing import Any

from ._builder import MAX_CODEPOINT, Ranges, complement, normalize

Node = tuple[Any, ...]


class RegexUnsupported(Exception):
    """The pattern is malformed or uses a construct that cannot be compiled."""


DIGIT: Ranges = ((0x30, 0x39),)
WORD: Ranges = ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A))
SPACE: Ranges = normalize(
    [
        (0x09, 0x0D),
        (0x20, 0x20),
        (0xA0, 0xA0),
        (0x1680, 0x1680),
        (0x2000, 0x200A),
        (0x2028, 0x2029),
        (0x202F, 0x202F),
        (0x205F, 0x205F),
        (0x3000, 0x3000),
        (0xFEFF, 0xFEFF),
    ]
)
DOT: Ranges = complement(((0x0A, 0x0A), (0x0D, 0x0D), (0x2028, 0x2029)))
ANY: Ranges = ((0, MAX_CODEPOINT),)

_CLASS_ESCAPES = {
    "d": DIGIT,
    "D": complement(DIGIT),
    "w": WORD,
    "W": complement(WORD),
    "s": SPACE,
    "S": complement(SPACE),
}
_CONTROL_ESCAPES = {"t": 9, "n": 10, "v": 11, "f": 12, "r": 13}


def parse(pattern: str) -> Node:
    """Parse an ECMA-262 pattern (no flags)."""
    p = _Parser(pattern)
    node = p.alternation()
    if p.i != len(pattern):
        raise RegexUnsupported(f"unbalanced ')' at {p.i}")
    return node


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def alternation(self) -> Node:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.i += 1
            branches.append(self.sequence())
        return branches[0] if len(branches) == 1 else ("alt", branches)

    def sequence(self) -> Node:
        items: list[Node] = []
        while self.i < len(self.s) and self.peek() not in "|)":
            atom = self.atom()
            items.append(self.quantified(atom))
        return items[0] if len(items) == 1 else ("seq", items)

    def quantified(self, atom: Node) -> Node:
        c = self.peek()
        lo: int
        hi: int | None
        if c == "*":
            lo, hi = 0, None
        elif c == "+":
            lo, hi = 1, None
        elif c == "?":
            lo, hi = 0, 1
        elif c == "{" and (q := self._brace_quantifier()) is not None:
            lo, hi, end = q
            self.i = end - 1
        else:
            return atom
        self.i += 1
        if self.peek() == "?":  # lazy: same language
            self.i += 1
        if atom[0] in ("bol", "eol"):
            raise RegexUnsupported("quantified anchor")
        if hi is not None and hi < lo:
            raise RegexUnsupported("quantifier range out of order")
        if self.peek() in ("*", "+", "?") or (self.peek() == "{" and self._brace_quantifier()):
            raise RegexUnsupported("nothing to repeat")
        return ("rep", atom, lo, hi)

    def _brace_quantifier(self) -> tuple[int, int | None, int] | None:
        j = self.i + 1
        s = self.s
        k = j
        while k < len(s) and s[k].isdigit():
            k += 1
        if k == j:
            return None
        lo = int(s[j:k])
        hi: int | None = lo
        if k < len(s) and s[k] == ",":
            m = k + 1
            while m < len(s) and s[m].isdigit():
                m += 1
            hi = int(s[k + 1 : m]) if m > k + 1 else None
            k = m
        if k < len(s) and s[k] == "}":
            return lo, hi, k + 1
        return None

    def atom(self) -> Node:
        c = self.s[self.i]
        self.i += 1
        if c == "^":
            return ("bol",)
        if c == "$":
            return ("eol",)
        if c == ".":
            return ("set", DOT)
        if c == "(":
            if self.s.startswith("?:", self.i):
                self.i += 2
            elif self.s.startswith("?<", self.i) and self.s[self.i + 2 : self.i + 3] not in (
                "=",
                "!",
            ):
                end = self.s.find(">", self.i)
                if end < 0:
                    raise RegexUnsupported("bad group name")
                self.i = end + 1
            elif self.peek() == "?":
                raise RegexUnsupported("lookaround assertion")
            node = self.alternation()
            if self.peek() != ")":
                raise RegexUnsupported("missing ')'")
            self.i += 1
            return node
        if c == "[":
            return ("set", self.char_class())
        if c == "\\":
            return self.escape(in_class=False)
        if c in "*+?":
            raise RegexUnsupported("nothing to repeat")
        if c == "{" and self._brace_quantifier_at(self.i - 1):
            raise RegexUnsupported("nothing to repeat")
        return ("set", ((ord(c), ord(c)),))

    def _brace_quantifier_at(self, pos: int) -> bool:
        save = self.i
        self.i = pos
        try:
            return self._brace_quantifier() is not None
        finally:
            self.i = save

    def escape(self, in_class: bool) -> Node:
        if self.i >= len(self.s):
            raise RegexUnsupported("trailing backslash")
        c = self.s[self.i]
        self.i += 1
        if c in _CLASS_ESCAPES:
            return ("set", _CLASS_ESCAPES[c])
        if c in _CONTROL_ESCAPES:
            return _char(_CONTROL_ESCAPES[c])
        if c == "b":
            if in_class:
                return _char(8)
            raise RegexUnsupported("word boundary \\b")
        if c == "B":
            raise RegexUnsupported("word boundary \\B")
        if c == "0" and not self.peek().isdigit():
            return _char(0)
        if c.isdigit():
            if in_class:
                raise RegexUnsupported("octal escape")
            raise RegexUnsupported("backreference")
        if c == "c" and self.peek().isalpha():
            self.i += 1
            return _char(ord(self.s[self.i - 1]) % 32)
        if c == "x":
            h = self.s[self.i : self.i + 2]
            if len(h) == 2 and _is_hex(h):
                self.i += 2
                return _char(int(h, 16))
            return _char(ord("x"))
        if c == "u":
            if self.peek() == "{":
                end = self.s.find("}", self.i)
                h = self.s[self.i + 1 : end] if end > 0 else ""
                if h and _is_hex(h) and int(h, 16) <= MAX_CODEPOINT:
                    self.i = end + 1
                    return _char(int(h, 16))
                raise RegexUnsupported("bad \\u{...} escape")
            h = self.s[self.i : self.i + 4]
            if len(h) == 4 and _is_hex(h):
                self.i += 4
                cp = int(h, 16)
                if 0xD800 <= cp < 0xDC00 and self.s[self.i : self.i + 2] == "\\u":
                    low = self.s[self.i + 2 : self.i + 6]
                    if len(low) == 4 and _is_hex(low) and 0xDC00 <= int(low, 16) < 0xE000:
                        self.i += 6
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (int(low, 16) - 0xDC00)
                return _char(cp)
            return _char(ord("u"))
        if c in "pPk":
            raise RegexUnsupported(f"\\{c} escape")
        return _char(ord(c))

    def char_class(self) -> Ranges:
        negate = self.peek() == "^"
        if negate:
            self.i += 1
        ranges: list[tuple[int, int]] = []
        while True:
            if self.i >= len(self.s):
                raise RegexUnsupported("missing ']'")
            if self.peek() == "]":
                self.i += 1
                break
            lo_set = self.class_atom()
            if self.peek() == "-" and self.i + 1 < len(self.s) and self.s[self.i + 1] != "]":
                self.i += 1
                hi_set = self.class_atom()
                if _single(lo_set) is None or _single(hi_set) is None:
                    # Annex B: a class escape next to '-' makes the '-' literal
                    ranges.extend(lo_set)
                    ranges.append((0x2D, 0x2D))
                    ranges.extend(hi_set)
                    continue
                lo, hi = _single(lo_set), _single(hi_set)
                assert lo is not None and hi is not None
                if lo > hi:
                    raise RegexUnsupported("class range out of order")
                ranges.append((lo, hi))
            else:
                ranges.extend(lo_set)
        out = normalize(ranges)
        return complement(out) if negate else out

    def class_atom(self) -> Ranges:
        c = self.s[self.i]
        self.i += 1
        if c == "\\":
            if self.peek() == "-":
                self.i += 1
                return ((0x2D, 0x2D),)
            node = self.escape(in_class=True)
            return node[1]  # type: ignore[no-any-return]
        return ((ord(c), ord(c)),)


def _is_hex(h: str) -> bool:
    return all(ch in "0123456789abcdefABCDEF" for ch in h)


def _char(cp: int) -> Node:
    return ("set", ((cp, cp),))


def _single(ranges: Ranges) -> int | None:
    if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
        return ranges[0][0]
    return None


# --- analysis --------------------------------------------------------------------------------


def length_range(node: Node) -> tuple[int, int | None]:
    """Minimum and maximum (None: unbounded) number of characters the node matches."""
    kind = node[0]
    if kind == "set":
        return (1, 1) if node[1] else (0, 0)
    if kind in ("bol", "eol"):
        return (0, 0)
    if kind == "seq":
        lo = 0
        hi_n: int | None = 0
        for n in node[1]:
            a, b = length_range(n)
            lo += a
            hi_n = None if hi_n is None or b is None else hi_n + b
        return lo, hi_n
    if kind == "alt":
        rs = [length_range(n) for n in node[1]]
        los = min(r[0] for r in rs)
        his = [r[1] for r in rs]
        return los, None if any(h is None for h in his) else max(h for h in his if h is not None)
    if kind == "rep":
        a, b = length_range(node[1])
        hi: int | None = None if node[3] is None or b is None else b * node[3]
        if node[3] is not None and b == 0:
            hi = 0
        return a * node[2], hi
    raise AssertionError(kind)


def has_anchor(node: Node) -> bool:
    """Whether ``^`` or ``$`` occurs anywhere in ``node``."""
    kind = node[0]
    if kind in ("bol", "eol"):
        return True
    if kind in ("seq", "alt"):
        return any(has_anchor(n) for n in node[1])
    if kind == "rep":
        return has_anchor(node[1])
    return False


def split_anchored(node: Node) -> list[tuple[bool, bool, Node]]:
    """Top-level branches as (anchored at start, anchored at end, anchor-free node); a
    repetition at an unanchored edge keeps only its minimum count (the same strings match)."""
    if node[0] == "alt":
        out = []
        for b in node[1]:
            out.extend(split_anchored(b))
        return out
    items = list(node[1]) if node[0] == "seq" else [node]
    start = end = False
    while items and items[0][0] == "bol":
        start = True
        items.pop(0)
    while items and items[-1][0] == "eol":
        end = True
        items.pop()
    if len(items) == 1 and items[0][0] == "alt" and has_anchor(items[0]) and not (start or end):
        return split_anchored(items[0])
    if len(items) == 1 and items[0][0] == "alt" and has_anchor(items[0]):
        inner = split_anchored(items[0])
        return [(s or start, e or end, n) for s, e, n in inner]
    if any(has_anchor(i) for i in items):
        raise RegexUnsupported("anchor inside the pattern")
    # a search needs only the shortest repetition at an unanchored edge: "x{1,255}" without
    # anchors matches where "x" does, "ab?" where "a" does
    if not end:
        while items and items[-1][0] == "rep" and items[-1][2] != items[-1][3]:
            rep = items.pop()
            if rep[2]:
                items.append(("rep", rep[1], rep[2], rep[2]))
                break
    if not start:
        while items and items[0][0] == "rep" and items[0][2] != items[0][3]:
            rep = items.pop(0)
            if rep[2]:
                items.insert(0, ("rep", rep[1], rep[2], rep[2]))
                break
    return [(start, end, ("seq", items))]
