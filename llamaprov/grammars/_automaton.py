"""Finite automata over code points, for string constraints that must hold together.

A ``pattern`` next to ``minLength``/``maxLength``, a ``format`` next to a ``pattern``, several
patterns, or a pattern for keys that must differ from the listed property names: each is a
regular language, and so is their intersection. :func:`from_regex` builds an automaton from a
parsed pattern (:mod:`._regex`), :func:`length` and :func:`excluding` the length bounds and the
key exclusion, :func:`intersect` the product, and :func:`emit` writes the result as right-linear
GBNF rules (one per state), so the grammar is exact. :func:`determinize` (the subset
construction over code point ranges) gives complete deterministic automata, so a language can be
complemented (:func:`complement`: keys matching no ``patternProperties`` pattern) and several
tracked at once (:func:`product`: which patterns a key matches).

Work is bounded: an automaton or product with more than :data:`MAX_STATES` states raises
:class:`TooLarge` (the caller then falls back to what it did before).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass

from . import _regex
from ._builder import ANY_RANGES, MAX_CODEPOINT, Ranges, alt, normalize, subtract
from ._builder import intersect as intersect_ranges

MAX_STATES = 1500


class TooLarge(Exception):
    """The automaton would have more than :data:`MAX_STATES` states."""


@dataclass
class Automaton:
    """States 0..n-1, ``start``, ``accept``ing states and per state ``(ranges, target)`` moves."""

    start: int
    accept: set[int]
    moves: list[list[tuple[Ranges, int]]]


class _Thompson:
    """Regex AST to an automaton with empty moves, then closed over them."""

    def __init__(self) -> None:
        self.eps: list[list[int]] = []
        self.moves: list[list[tuple[Ranges, int]]] = []

    def state(self) -> int:
        if len(self.eps) > 4 * MAX_STATES:
            raise TooLarge
        self.eps.append([])
        self.moves.append([])
        return len(self.eps) - 1

    def build(self, node: _regex.Node) -> tuple[int, int]:
        kind = node[0]
        a = self.state()
        if kind == "set":
            b = self.state()
            if node[1]:
                self.moves[a].append((node[1], b))
            return a, b
        if kind in ("bol", "eol"):
            raise _regex.RegexUnsupported("anchor inside the pattern")
        if kind == "seq":
            cur = a
            for n in node[1]:
                s, e = self.build(n)
                self.eps[cur].append(s)
                cur = e
            return a, cur
        if kind == "alt":
            b = self.state()
            for n in node[1]:
                s, e = self.build(n)
                self.eps[a].append(s)
                self.eps[e].append(b)
            return a, b
        if kind == "rep":
            inner, lo, hi = node[1], node[2], node[3]
            cur = a
            for _ in range(lo):
                s, e = self.build(inner)
                self.eps[cur].append(s)
                cur = e
            if hi is None:
                s, e = self.build(inner)
                self.eps[cur].append(s)
                self.eps[e].append(cur)
                return a, cur
            end = self.state()
            for _ in range(hi - lo):
                self.eps[cur].append(end)
                s, e = self.build(inner)
                self.eps[cur].append(s)
                cur = e
            self.eps[cur].append(end)
            return a, end
        raise _regex.RegexUnsupported(f"unexpected {kind}")

    def close(self, start: int, final: int) -> Automaton:
        """The equivalent automaton without empty moves, reachable states only."""
        closures: dict[int, list[int]] = {}

        def closure(q: int) -> list[int]:
            hit = closures.get(q)
            if hit is not None:
                return hit
            seen = {q}
            todo = [q]
            while todo:
                for r in self.eps[todo.pop()]:
                    if r not in seen:
                        seen.add(r)
                        todo.append(r)
            closures[q] = out = sorted(seen)
            return out

        index = {start: 0}
        order = [start]
        moves: list[list[tuple[Ranges, int]]] = []
        accept: set[int] = set()
        i = 0
        while i < len(order):
            q = order[i]
            cl = closure(q)
            if final in cl:
                accept.add(i)
            out: list[tuple[Ranges, int]] = []
            for r in cl:
                for ranges, t in self.moves[r]:
                    if t not in index:
                        if len(order) >= MAX_STATES:
                            raise TooLarge
                        index[t] = len(order)
                        order.append(t)
                    out.append((ranges, index[t]))
            moves.append(out)
            i += 1
        return Automaton(0, accept, moves)


def from_regex(node: _regex.Node) -> Automaton:
    """The automaton of a parsed, anchor-free regex node."""
    t = _Thompson()
    s, e = t.build(node)
    return t.close(s, e)


def from_pattern(pattern: str) -> Automaton:
    """The strings a JSON Schema ``pattern`` matches somewhere (ECMA-262 search semantics)."""
    anything: _regex.Node = ("rep", ("set", ANY_RANGES), 0, None)
    branches: list[_regex.Node] = []
    for start, end, body in _regex.split_anchored(_regex.parse(pattern)):
        items = [body]
        if not start:
            items.insert(0, anything)
        if not end:
            items.append(anything)
        branches.append(("seq", items))
    return from_regex(branches[0] if len(branches) == 1 else ("alt", branches))


def length(min_len: int, max_len: int | None) -> Automaton:
    """Strings of ``min_len`` to ``max_len`` (None: any number of) characters."""
    cap = max_len if max_len is not None else min_len
    if cap + 1 > MAX_STATES:
        raise TooLarge
    moves: list[list[tuple[Ranges, int]]] = [[(ANY_RANGES, i + 1)] for i in range(cap)]
    moves.append([(ANY_RANGES, cap)] if max_len is None else [])
    return Automaton(0, set(range(min_len, cap + 1)), moves)


def excluding(keys: list[str]) -> Automaton:
    """Strings that are none of ``keys`` (a trie, and a state for "differs from every key")."""
    children: list[dict[int, int]] = [{}]
    ends: set[int] = set()
    for k in keys:
        node = 0
        for ch in k:
            nxt = children[node].get(ord(ch))
            if nxt is None:
                nxt = len(children)
                children.append({})
                children[node][ord(ch)] = nxt
            node = nxt
        ends.add(node)
    other = len(children)
    moves: list[list[tuple[Ranges, int]]] = []
    for kids in children:
        out: list[tuple[Ranges, int]] = [(((cp, cp),), t) for cp, t in kids.items()]
        rest = subtract(ANY_RANGES, normalize([(cp, cp) for cp in kids]))
        if rest:
            out.append((rest, other))
        moves.append(out)
    moves.append([(ANY_RANGES, other)])
    accept = (set(range(len(children))) - ends) | {other}
    return Automaton(0, accept, moves)


def intersect(a: Automaton, b: Automaton) -> Automaton:
    """The strings both accept (the product, reachable states only)."""
    index = {(a.start, b.start): 0}
    order = [(a.start, b.start)]
    moves: list[list[tuple[Ranges, int]]] = []
    accept: set[int] = set()
    i = 0
    while i < len(order):
        p, q = order[i]
        if p in a.accept and q in b.accept:
            accept.add(i)
        out: list[tuple[Ranges, int]] = []
        for ra, ta in a.moves[p]:
            for rb, tb in b.moves[q]:
                r = intersect_ranges(ra, rb)
                if not r:
                    continue
                key = (ta, tb)
                j = index.get(key)
                if j is None:
                    if len(order) >= MAX_STATES:
                        raise TooLarge
                    j = index[key] = len(order)
                    order.append(key)
                out.append((r, j))
        moves.append(out)
        i += 1
    return Automaton(0, accept, moves)


def _partition(moves: list[tuple[Ranges, int]]) -> list[tuple[Ranges, frozenset[int]]]:
    """The code point ranges of ``moves`` split by the set of targets they lead to (only
    non-empty sets; each set once, its ranges normalized)."""
    events: dict[int, list[tuple[int, int]]] = {}
    for ranges, t in moves:
        for lo, hi in ranges:
            events.setdefault(lo, []).append((t, 1))
            events.setdefault(hi + 1, []).append((t, -1))
    active: dict[int, int] = {}
    by_set: dict[frozenset[int], list[tuple[int, int]]] = {}
    points = sorted(events)
    for i, p in enumerate(points):
        for t, d in events[p]:
            n = active.get(t, 0) + d
            if n:
                active[t] = n
            else:
                active.pop(t, None)
        if active and i + 1 < len(points):
            by_set.setdefault(frozenset(active), []).append((p, points[i + 1] - 1))
    return [(normalize(rs), targets) for targets, rs in by_set.items()]


def determinize(aut: Automaton) -> Automaton:
    """The equivalent minimal complete deterministic automaton (subset construction, then
    :func:`minimize`): from every state each code point has exactly one move (a dead state takes
    the rest)."""
    index = {frozenset([aut.start]): 0}
    order = [frozenset([aut.start])]
    moves: list[list[tuple[Ranges, int]]] = []
    accept: set[int] = set()
    dead: int | None = None

    def state(key: frozenset[int]) -> int:
        j = index.get(key)
        if j is None:
            if len(order) >= MAX_STATES:
                raise TooLarge
            j = index[key] = len(order)
            order.append(key)
        return j

    i = 0
    while i < len(order):
        members = order[i]
        if members & aut.accept:
            accept.add(i)
        out: list[tuple[Ranges, int]] = []
        covered: list[tuple[int, int]] = []
        for ranges, targets in _partition([m for q in members for m in aut.moves[q]]):
            out.append((ranges, state(targets)))
            covered.extend(ranges)
        rest = subtract(ANY_RANGES, normalize(covered))
        if rest:
            if dead is None:
                dead = state(frozenset())
            out.append((rest, dead))
        moves.append(out)
        i += 1
    return minimize(Automaton(0, accept, moves))


def minimize(d: Automaton) -> Automaton:
    """A complete deterministic automaton with equivalent states merged (Hopcroft's partition
    refinement over the code point intervals no move boundary splits)."""
    n = len(d.moves)
    bounds = sorted({0, *(x for m in d.moves for r, _ in m for lo, hi in r for x in (lo, hi + 1))})
    bounds = [b for b in bounds if b <= MAX_CODEPOINT]
    k = len(bounds)
    # inverse[a][t]: the states that move to t on interval a
    inverse: list[dict[int, list[int]]] = [{} for _ in range(k)]
    for q, m in enumerate(d.moves):
        for r, t in m:
            for lo, hi in r:
                for a in range(bisect.bisect_left(bounds, lo), bisect.bisect_right(bounds, hi)):
                    inverse[a].setdefault(t, []).append(q)
    accepting = set(d.accept)
    blocks = [b for b in (accepting, set(range(n)) - accepting) if b]
    block_of = [0] * n
    for i, b in enumerate(blocks):
        for q in b:
            block_of[q] = i
    waiting = list(range(len(blocks)))
    queued = set(waiting)
    while waiting:
        splitter = waiting.pop()
        queued.discard(splitter)
        members = list(blocks[splitter])
        for a in range(k):
            inv = inverse[a]
            touched: dict[int, set[int]] = {}
            for t in members:
                for q in inv.get(t, ()):
                    touched.setdefault(block_of[q], set()).add(q)
            for blk, part in touched.items():
                if len(part) == len(blocks[blk]):
                    continue
                new = len(blocks)
                blocks.append(part)
                blocks[blk] -= part
                for q in part:
                    block_of[q] = new
                if blk in queued or len(part) <= len(blocks[blk]):
                    waiting.append(new)
                    queued.add(new)
                else:
                    waiting.append(blk)
                    queued.add(blk)
    # renumber with the start first, in order of first appearance
    order: dict[int, int] = {block_of[d.start]: 0}
    for q in range(n):
        order.setdefault(block_of[q], len(order))
    moves: list[list[tuple[Ranges, int]]] = [[] for _ in order]
    done: set[int] = set()
    for q in range(n):
        c = order[block_of[q]]
        if c in done:
            continue
        done.add(c)
        by_target: dict[int, list[tuple[int, int]]] = {}
        for r, t in d.moves[q]:
            by_target.setdefault(order[block_of[t]], []).extend(r)
        moves[c] = [(normalize(rs), t) for t, rs in by_target.items()]
    return Automaton(0, {order[block_of[q]] for q in d.accept}, moves)


def complement(aut: Automaton) -> Automaton:
    """The strings ``aut`` does not accept."""
    d = determinize(aut)
    return Automaton(d.start, set(range(len(d.moves))) - d.accept, d.moves)


def union(auts: list[Automaton]) -> Automaton:
    """The strings any of ``auts`` accepts (a new start state with the starts' moves)."""
    moves: list[list[tuple[Ranges, int]]] = [[]]
    accept: set[int] = set()
    for a in auts:
        off = len(moves)
        if a.start in a.accept:
            accept.add(0)
        moves[0].extend((r, t + off) for r, t in a.moves[a.start])
        moves.extend([(r, t + off) for r, t in m] for m in a.moves)
        accept.update(q + off for q in a.accept)
        if len(moves) > 4 * MAX_STATES:
            raise TooLarge
    return Automaton(0, accept, moves)


def product(auts: list[Automaton]) -> tuple[Automaton, list[tuple[int, ...]]]:
    """The product of complete deterministic automata (reachable states only): an automaton
    without accepting states, and per state the tuple of the components' states (the caller
    picks the accepting ones, e.g. "the key matches patterns 0 and 2, not 1")."""
    start = tuple(a.start for a in auts)
    index = {start: 0}
    order = [start]
    moves: list[list[tuple[Ranges, int]]] = []
    i = 0
    while i < len(order):
        pieces: list[tuple[Ranges, tuple[int, ...]]] = [(ANY_RANGES, ())]
        for a, q in zip(auts, order[i], strict=False):
            pieces = [
                (r, (*targets, t))
                for ranges, targets in pieces
                for ra, t in a.moves[q]
                if (r := intersect_ranges(ranges, ra))
            ]
        out: list[tuple[Ranges, int]] = []
        for r, key in pieces:
            j = index.get(key)
            if j is None:
                if len(order) >= MAX_STATES:
                    raise TooLarge
                j = index[key] = len(order)
                order.append(key)
            out.append((r, j))
        moves.append(out)
        i += 1
    return Automaton(0, set(), moves), order


def emit(aut: Automaton, chars: Callable[[Ranges], str | None], fresh: Callable[[str], str],
         define: Callable[[str, str], None]) -> str | None:
    """GBNF for the automaton's strings (state rules made with ``fresh``/``define``, characters
    written by ``chars``); None when it accepts nothing, "" when only the empty string."""
    n = len(aut.moves)
    live = set(aut.accept)
    changed = True
    while changed:
        changed = False
        for q in range(n):
            if q not in live and any(t in live for _, t in aut.moves[q]):
                live.add(q)
                changed = True
    if aut.start not in live:
        return None
    names: dict[int, str] = {}
    bodies: dict[int, list[str]] = {}
    todo = [aut.start]
    while todo:
        q = todo.pop()
        if q in bodies:
            continue
        by_target: dict[int, list[tuple[int, int]]] = {}
        for r, t in aut.moves[q]:
            if t in live:
                by_target.setdefault(t, []).extend(r)
        opts = [""] if q in aut.accept else []
        for t, rs in by_target.items():
            c = chars(normalize(rs))
            if c is None:
                continue
            if not any(u in live for _, u in aut.moves[t]):
                opts.append(c)  # t only ends the string: no rule (an empty body breaks parsing)
                continue
            if t not in names:
                names[t] = fresh("sfa")
                todo.append(t)
            opts.append(f"{c} {names[t]}")
        bodies[q] = opts
    for q, name in names.items():
        body = alt(bodies[q])
        define(name, body[1:-1] if body.startswith("(") and body.endswith(")") else body)
    start = bodies[aut.start]
    if start == [""]:
        return ""
    return alt(start)
