"""Finite automata over code points (llamaprov.grammars._automaton): determinizing, minimizing,
complementing and the product, checked against Python's re on random strings."""

from __future__ import annotations

import itertools
import random
import re

import pytest

from llamaprov.grammars import _automaton as A

PATTERNS = ["a", "^a.b$", "[allow|disallow]", "/.*/", "^(ab|a)*c$", "x{2,3}", "^$", "\\d+", "^a|b$",
            "^[a-z]{1,3}$", "[a-c1]{1,255}", "ab?", "b*a{2,}c?$", "^x?a{1,4}"]
# no "\n": Python's "$" also matches before a final newline, ECMA-262's does not
WORDS = ["".join(random.Random(i).choice("abcx/1é") for _ in range(i % 7)) for i in range(1500)]


def _accepts(aut: A.Automaton, text: str) -> bool:
    states = {aut.start}
    for ch in text:
        cp = ord(ch)
        states = {t for q in states for r, t in aut.moves[q] if any(lo <= cp <= hi for lo, hi in r)}
    return bool(states & aut.accept)


def _deterministic_and_complete(aut: A.Automaton) -> bool:
    for moves in aut.moves:
        ranges = sorted(x for r, _ in moves for x in r)
        if ranges[0][0] != 0 or ranges[-1][1] != 0x10FFFF:
            return False
        if any(a[1] + 1 != b[0] for a, b in itertools.pairwise(ranges)):
            return False
    return True


@pytest.mark.parametrize("pattern", PATTERNS)
def test_determinize_and_complement_agree_with_re(pattern: str) -> None:
    nfa = A.from_pattern(pattern)
    dfa = A.determinize(nfa)
    neg = A.complement(nfa)
    assert _deterministic_and_complete(dfa)
    for w in WORDS:
        expected = re.search(pattern, w) is not None
        assert _accepts(dfa, w) == expected, w
        assert _accepts(neg, w) != expected, w


def test_minimize_merges_equivalent_states() -> None:
    # ".*a.*": before an "a" and after one (the accepting sink), plus nothing else
    assert len(A.determinize(A.from_pattern("a")).moves) == 2
    assert len(A.determinize(A.from_pattern("/.*/")).moves) == 3


def test_unanchored_repetition_keeps_its_minimum() -> None:
    # "[a-c1]{1,255}" searched matches where "[a-c1]" does: two states, not 256
    assert len(A.determinize(A.from_pattern("[a-c1]{1,255}")).moves) == 2
    assert len(A.determinize(A.from_pattern("^[a-c1]{1,255}$")).moves) == 257


def test_product_tracks_every_component() -> None:
    parts = [A.determinize(A.from_pattern(p)) for p in ("a", "b")] + [A.excluding(["ab", "ba"])]
    prod, comps = A.product(parts)
    for w in WORDS:
        states = {prod.start}
        for ch in w:
            states = {t for q in states for r, t in prod.moves[q] if any(lo <= ord(ch) <= hi for lo, hi in r)}
        assert len(states) == 1
        a, b, x = comps[states.pop()]
        assert (a in parts[0].accept) == ("a" in w)
        assert (b in parts[1].accept) == ("b" in w)
        assert (x in parts[2].accept) == (w not in ("ab", "ba"))


def test_union() -> None:
    u = A.union([A.from_pattern("^a$"), A.from_pattern("^b+$")])
    assert [_accepts(u, w) for w in ["a", "b", "bb", "ab", ""]] == [True, True, True, False, False]


def test_determinize_is_bounded() -> None:
    # "an a, then n characters" needs 2**n deterministic states
    with pytest.raises(A.TooLarge):
        A.determinize(A.from_pattern("a.{12}$"))
