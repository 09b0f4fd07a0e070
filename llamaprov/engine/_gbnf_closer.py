"""A GBNF grammar run in Python: which text it accepts so far, and the shortest text that
completes it.

llama.cpp's grammar sampler holds the same state (a set of pushdown stacks) but exposes neither
its stacks nor a way to finish a partial output. :class:`GbnfCloser` follows the generated text
character by character the way llama.cpp does and answers :meth:`GbnfCloser.closing`: the
shortest string that makes the output so far a complete sentence of the grammar. The engine
forces it when the token budget would otherwise cut constrained output short.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

from llamaprov.errors import GrammarError

# a state of more stacks than this (an ambiguous grammar on a long output) is given up on
MAX_STACKS = 2048
# a stack deeper than this (left recursion, or nesting without end) is given up on
MAX_DEPTH = 4096

_ANY = (True, ())  # "." : every character (a negated empty class)
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_REPEAT = re.compile(r"\{\s*(\d+)\s*(,\s*(\d*)\s*)?\}")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "[": "[", "]": "]", "-": "-",
            "^": "^", "/": "/"}

# a character set: (negated, ((lo, hi), ...)) over code points
CharSet = tuple[bool, tuple[tuple[int, int], ...]]
# a position: (sequence id, element index); a stack lists positions, its top last
Stack = tuple[tuple[int, int], ...]


def _matches(cs: CharSet, cp: int) -> bool:
    negated, ranges = cs
    for lo, hi in ranges:
        if lo <= cp <= hi:
            return not negated
    return negated


def _pick(cs: CharSet) -> str:
    """A readable character of ``cs`` (for completions)."""
    for ch in "a0 ._-":
        if _matches(cs, ord(ch)):
            return ch
    for cp in range(0x21, 0x7F):
        if _matches(cs, cp):
            return chr(cp)
    negated, ranges = cs
    if not negated:
        return chr(ranges[0][0])
    cp = 0
    for lo, hi in sorted(ranges):
        if cp < lo:
            break
        cp = max(cp, hi + 1)
    return chr(cp)


@functools.lru_cache(maxsize=4096)
def _width(cs: CharSet) -> int:
    """The UTF-8 length of the character :func:`_pick` gives for ``cs``: completions are
    measured in bytes, which bound their length in tokens (a token holds at least one byte)."""
    return len(_pick(cs).encode("utf-8"))


class _Parser:
    """GBNF text to rules: each rule a list of alternatives, each a list of elements (a rule
    number or a :data:`CharSet`); repetitions become helper rules."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.names: dict[str, int] = {}
        self.rules: list[list[list[int | CharSet]]] = []

    def rule_id(self, name: str) -> int:
        if name not in self.names:
            self.names[name] = len(self.rules)
            self.rules.append([])
        return self.names[name]

    def fresh(self, alts: list[list[int | CharSet]]) -> int:
        self.rules.append(alts)
        return len(self.rules) - 1

    def space(self) -> None:
        text, n = self.text, len(self.text)
        while self.pos < n:
            ch = text[self.pos]
            if ch in " \t\r\n":
                self.pos += 1
            elif ch == "#":
                end = text.find("\n", self.pos)
                self.pos = n if end < 0 else end
            else:
                return

    def at_rule_start(self) -> bool:
        m = _NAME.match(self.text, self.pos)
        if not m:
            return False
        rest = self.text[m.end():m.end() + 64].lstrip(" \t")
        return rest.startswith("::=")

    def parse(self) -> None:
        self.space()
        while self.pos < len(self.text):
            m = _NAME.match(self.text, self.pos)
            if not m or not self.at_rule_start():
                raise GrammarError(f"GBNF: expected a rule at offset {self.pos}")
            rid = self.rule_id(m.group(0))
            self.pos = self.text.index("::=", m.end()) + 3
            self.rules[rid].extend(self.alternatives(nested=False))
            self.space()
        for name, rid in self.names.items():
            if not self.rules[rid]:
                raise GrammarError(f"GBNF: rule {name!r} is used but not defined")

    def alternatives(self, nested: bool) -> list[list[int | CharSet]]:
        alts = [self.sequence(nested)]
        while self.pos < len(self.text) and self.text[self.pos] == "|":
            self.pos += 1
            alts.append(self.sequence(nested))
        return alts

    def sequence(self, nested: bool) -> list[int | CharSet]:
        seq: list[int | CharSet] = []
        while True:
            self.space()
            if self.pos >= len(self.text):
                return seq
            ch = self.text[self.pos]
            if ch in "|)" or (not nested and self.at_rule_start()):
                return seq
            start = len(seq)
            if ch == '"':
                self.pos += 1
                while self.text[self.pos] != '"':
                    seq.append((False, ((cp := self.char(), cp),)))
                self.pos += 1
            elif ch == "[":
                seq.append(self.char_class())
            elif ch == ".":
                self.pos += 1
                seq.append(_ANY)
            elif ch == "(":
                self.pos += 1
                inner = self.alternatives(nested=True)
                self.space()
                if self.pos >= len(self.text) or self.text[self.pos] != ")":
                    raise GrammarError(f"GBNF: unclosed '(' before offset {self.pos}")
                self.pos += 1
                seq.append(self.fresh(inner))
            else:
                m = _NAME.match(self.text, self.pos)
                if not m:
                    raise GrammarError(f"GBNF: unexpected {ch!r} at offset {self.pos}")
                self.pos = m.end()
                seq.append(self.rule_id(m.group(0)))
            self.postfix(seq, start)

    def postfix(self, seq: list[int | CharSet], start: int) -> None:
        text = self.text
        if self.pos >= len(text):
            return
        ch = text[self.pos]
        if ch not in "*+?{":
            return
        item = seq[start:]
        del seq[start:]
        if ch == "{":
            m = _REPEAT.match(text, self.pos)
            if not m:
                raise GrammarError(f"GBNF: bad repetition at offset {self.pos}")
            self.pos = m.end()
            lo = int(m.group(1))
            hi: int | None = lo if m.group(2) is None else (int(m.group(3)) if m.group(3) else None)
        else:
            self.pos += 1
            lo, hi = {"*": (0, None), "+": (1, None), "?": (0, 1)}[ch]
        for _ in range(lo):
            seq.extend(item)
        if hi is None:
            star = len(self.rules)
            self.rules.append([[*item, star], []])
            seq.append(star)
        elif hi > lo:
            tail = self.fresh([item, []])
            for _ in range(hi - lo - 1):
                tail = self.fresh([[*item, tail], []])
            seq.append(tail)

    def char(self) -> int:
        text = self.text
        ch = text[self.pos]
        if ch != "\\":
            self.pos += 1
            return ord(ch)
        kind = text[self.pos + 1]
        if kind in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[kind]
            digits = text[self.pos + 2:self.pos + 2 + width]
            self.pos += 2 + width
            return int(digits, 16)
        self.pos += 2
        return ord(_ESCAPES.get(kind, kind))

    def char_class(self) -> CharSet:
        self.pos += 1
        negated = self.text[self.pos] == "^"
        if negated:
            self.pos += 1
        ranges: list[tuple[int, int]] = []
        while self.text[self.pos] != "]":
            lo = self.char()
            hi = lo
            if self.text[self.pos] == "-" and self.text[self.pos + 1] != "]":
                self.pos += 1
                hi = self.char()
            ranges.append((lo, hi))
        self.pos += 1
        return (negated, tuple(ranges))


class _Grammar:
    """A parsed grammar: its sequences (alternatives of every rule, numbered) and the shortest
    text each rule derives."""

    def __init__(self, text: str, root: str) -> None:
        parser = _Parser(text)
        parser.parse()
        if root not in parser.names:
            raise GrammarError(f"GBNF: no rule named {root!r}")
        self.seqs: list[tuple[int | CharSet, ...]] = []
        self.alts: list[tuple[int, ...]] = []  # rule -> its sequence ids
        for alternatives in parser.rules:
            ids = []
            for alt in alternatives:
                ids.append(len(self.seqs))
                self.seqs.append(tuple(alt))
            self.alts.append(tuple(ids))
        self.root = parser.names[root]
        self._suffix_len: dict[tuple[int, int], float] = {}
        self._shortest_rules()

    def _shortest_rules(self) -> None:
        """The shortest derivation of every rule (a fixpoint over the rules; a rule keeps the
        alternative that first reached its length, so following choices always ends)."""
        inf = float("inf")
        length = [inf] * len(self.alts)
        choice = [-1] * len(self.alts)
        changed = True
        while changed:
            changed = False
            for rule, seq_ids in enumerate(self.alts):
                for sid in seq_ids:
                    total = sum(_width(e) if isinstance(e, tuple) else length[e] for e in self.seqs[sid])
                    if total < length[rule]:
                        length[rule], choice[rule] = total, sid
                        changed = True
        self.rule_len = length
        self.rule_choice = choice

    def suffix_len(self, sid: int, i: int) -> float:
        """UTF-8 length of the shortest text of sequence ``sid`` from its element ``i`` on."""
        key = (sid, i)
        n = self._suffix_len.get(key)
        if n is None:
            n = self._suffix_len[key] = sum(
                _width(e) if isinstance(e, tuple) else self.rule_len[e] for e in self.seqs[sid][i:])
        return n

    def suffix_text(self, sid: int, i: int) -> str:
        """The shortest text of sequence ``sid`` from its element ``i`` on."""
        out: list[str] = []
        work: list[int | CharSet] = list(reversed(self.seqs[sid][i:]))
        while work:
            e = work.pop()
            if isinstance(e, tuple):
                out.append(_pick(e))
            else:
                work.extend(reversed(self.seqs[self.rule_choice[e]]))
        return "".join(out)


@functools.lru_cache(maxsize=32)
def _parsed(grammar: str, root: str) -> _Grammar:
    """A grammar parsed once for every generation that uses it (it does not change)."""
    return _Grammar(grammar, root)


class GbnfCloser:
    """Follows text through a GBNF grammar; :meth:`closing` is the shortest text that completes
    it. Raises :class:`~llamaprov.errors.GrammarError` for text the grammar cannot parse."""

    def __init__(self, grammar: str, root: str = "root") -> None:
        self._g = _parsed(grammar, root)
        self._stacks: set[Stack] = set()
        self._accepting = False
        self.failed: str | None = None  # why the state was given up (then closing() is None)
        self._length_of: tuple[Any, float | None] = (None, None)  # (stacks, closing_length)
        self._expand_all([((sid, 0),) for sid in self._g.alts[self._g.root]])

    # -- following text
    def _expand_all(self, starts: Iterable[Stack]) -> None:
        stacks: set[Stack] = set()
        accepting = False
        seen: set[Stack] = set()
        work = list(starts)
        seqs, alts = self._g.seqs, self._g.alts
        while work:
            stack = work.pop()
            if stack in seen:
                continue
            seen.add(stack)
            if not stack:
                accepting = True
                continue
            if len(stack) > MAX_DEPTH:
                self._give_up(f"a grammar stack grew past {MAX_DEPTH} frames")
                return
            sid, i = stack[-1]
            elems = seqs[sid]
            if i == len(elems):
                work.append(stack[:-1])
                continue
            e = elems[i]
            if isinstance(e, tuple):
                stacks.add(stack)
                continue
            rest = (*stack[:-1], (sid, i + 1)) if i + 1 < len(elems) else stack[:-1]
            for alt in alts[e]:
                work.append((*rest, (alt, 0)))
        if len(stacks) > MAX_STACKS:
            self._give_up(f"the grammar's state grew past {MAX_STACKS} stacks")
            return
        self._stacks, self._accepting = stacks, accepting

    def _give_up(self, why: str) -> None:
        self.failed = why
        self._stacks, self._accepting = set(), False

    def feed(self, text: str) -> None:
        """Follow ``text``; a character the grammar does not allow gives the state up."""
        seqs = self._g.seqs
        for ch in text:
            if self.failed is not None:
                return
            cp = ord(ch)
            nxt = []
            for stack in self._stacks:
                sid, i = stack[-1]
                if _matches(seqs[sid][i], cp):  # type: ignore[arg-type]
                    nxt.append((*stack[:-1], (sid, i + 1)))
            if not nxt:
                self._give_up(f"the grammar does not allow {ch!r} here")
                return
            self._expand_all(nxt)

    def state(self) -> Any:
        """The state reached so far, for :meth:`restore` (cheap: states are never changed in place)."""
        return self._stacks, self._accepting, self.failed

    def restore(self, state: Any) -> None:
        """Go back to a state of :meth:`state`."""
        self._stacks, self._accepting, self.failed = state

    @property
    def accepting(self) -> bool:
        """Whether the text so far is a complete sentence of the grammar."""
        return self._accepting

    def at_free_text(self) -> bool:
        """Whether the next character may be one of many (the text of a value), not only one of
        the grammar's literal characters (its syntax, or a choice between keys or elements)."""
        seqs = self._g.seqs
        for stack in self._stacks:
            sid, i = stack[-1]
            negated, ranges = seqs[sid][i]  # type: ignore[misc]
            if negated or len(ranges) > 1 or (ranges and ranges[0][0] != ranges[0][1]):
                return True
        return False

    def _shortest(self) -> tuple[float, Stack] | None:
        """(length, stack) of the shortest completion over the live stacks; None when none."""
        g = self._g
        best: tuple[float, Stack] | None = None
        for stack in self._stacks:
            sid, i = stack[-1]
            top = g.seqs[sid][i]
            assert isinstance(top, tuple)  # a stack's top is a character set
            cost = _width(top) + g.suffix_len(sid, i + 1) + sum(g.suffix_len(s, j) for s, j in stack[:-1])
            if best is None or cost < best[0]:
                best = (cost, stack)
        return best

    def closing_length(self) -> float | None:
        """The UTF-8 length of :meth:`closing`, without building it (None likewise): it bounds
        the closing's length in tokens."""
        if self.failed is not None:
            return None
        if self._accepting:
            return 0
        stacks, length = self._length_of
        if stacks is not self._stacks:  # asked once per state (a state is never changed in place)
            best = self._shortest()
            length = None if best is None else best[0]
            self._length_of = self._stacks, length
        return length

    def closing(self) -> str | None:
        """The shortest text that completes the text so far ("" when it is complete already);
        None once the state was given up (see :attr:`failed`)."""
        if self.failed is not None:
            return None
        if self._accepting:
            return ""
        best = self._shortest()
        if best is None:
            return None
        g, stack = self._g, best[1]
        sid, i = stack[-1]
        parts = [_pick(g.seqs[sid][i]), g.suffix_text(sid, i + 1)]  # type: ignore[arg-type]
        parts += [g.suffix_text(s, j) for s, j in reversed(stack[:-1])]
        return "".join(parts)
