"""The repeated n-gram limit of constrained output (``SamplingParams.grammar_ngram_limit``).

Greedy small models loop inside constrained output (``"the discovery of the discovery of
..."``, ``"SCOTUS.SCOTUS..."``, ``[1.0,2.0,3.0,...]`` until the budget). A penalty such as DRY
only lowers a repeat's score, and the loop goes on in a variant. Here, a token that would make
an n-gram of the constrained output occur more than ``limit`` times is replaced by the first
token of the grammar's shortest completion: the way out of the value the output loops in (the
closing quote of a string, the ``]`` of an array). Where that token is no way out (the same
token, or one over the limit too), the over-limit tokens are ruled out instead; a token the
grammar forces (a key written once per array item) always stays. The scheduler applies it;
this module counts.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["NgramLimit"]


class NgramLimit:
    """Counts the n-grams of one output from where its constrained span starts.

    ``size`` is n; ``limit`` the most times one n-gram may occur.
    """

    __slots__ = ("_counted", "_next", "limit", "size", "start")

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        self.start: int | None = None  # index in the output where the span starts
        self._counted = 0  # n-grams counted from start
        # the first n-1 tokens of an n-gram -> {its last token: occurrences}
        self._next: dict[tuple[int, ...], dict[int, int]] = {}

    def banned(self, tokens: Sequence[int]) -> list[int]:
        """The tokens that, appended to ``tokens`` (the output so far), would make an n-gram
        occur more than ``limit`` times. The first call marks where the span starts."""
        if self.start is None:
            self.start = len(tokens)
        n, start = self.size, self.start
        i = start + self._counted
        while i + n <= len(tokens):
            head = tuple(tokens[i:i + n - 1])
            seen = self._next.setdefault(head, {})
            last = tokens[i + n - 1]
            seen[last] = seen.get(last, 0) + 1
            i += 1
        self._counted = i - start
        if len(tokens) - start < n - 1:
            return []
        after = self._next.get(tuple(tokens[len(tokens) - n + 1:]) if n > 1 else ())
        if not after:
            return []
        return [t for t, c in after.items() if c >= self.limit]
