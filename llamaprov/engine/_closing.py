"""Grammar closing during generation (``SamplingParams.grammar_close`` and
``grammar_close_repeats``): when constrained output would be cut by the token budget, or runs in
a cycle, the grammar's shortest completion (see :mod:`._gbnf_closer`) is forced in its place.

:class:`BudgetCloser` follows one sequence's constrained text and says when and what to force;
the scheduler checks the forced tokens against llama.cpp's own grammar before they are accepted
(:func:`grammar_takes`): a token the grammar forbids would abort the process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._ffi import lib
from ._gbnf_closer import GbnfCloser
from ._sampler import allows
from .grammar import LazyGrammarSampler

if TYPE_CHECKING:
    from .completion import _Sequence

# force the closing when fewer than this many tokens would be left after it: the closing can
# grow by a few tokens in one step (a new nested object), and then it would no longer fit
CLOSE_MARGIN = 3
# a character is at most this many tokens more once its first byte is out (UTF-8): the closing
# waits for the character to be whole, so output with such characters closes that much earlier
UTF8_TAIL = 3
# a repeated block counts as a cycle once its repeats span this many tokens (short legitimate
# repeats such as "0,0,0" do not), and blocks are at most this long
MIN_CYCLE_SPAN = 12
MAX_PERIOD = 64


class BudgetCloser:
    """Per generation: follows the grammar-constrained output and says when to force the
    grammar's shortest completion: when the tokens left would no longer hold it
    (``SamplingParams(grammar_close=True)``), or when the output's last tokens are one block
    repeated ``repeats`` times in a row (``grammar_close_repeats``): greedy decoding in such a
    cycle runs on until the budget ends it."""

    def __init__(self, model: Any, grammar: str, root: str, *, at_budget: bool,
                 repeats: int) -> None:
        self._model = model
        self._closer = GbnfCloser(grammar, root)
        self.at_budget = at_budget
        self.repeats = repeats
        self._recent: list[int] = []
        self._keep = MAX_PERIOD * max(repeats, MIN_CYCLE_SPAN)
        self.live = False  # following text: from the start, or from a lazy grammar's trigger
        self.cycled = False  # the last closing forced was for a cycle, not for the budget
        self._tried: tuple[Any, str] | None = None  # (state before, text) of fits_after
        self.multibyte = False  # non-ASCII text was followed (see UTF8_TAIL)

    def fits_after(self, text: str, left: int) -> bool:
        """Whether the closing still takes at most ``left`` tokens after ``text`` (the next
        token's): a token that opens a new item can make the closing longer by more than
        CLOSE_MARGIN in one step, too late to force it then. The text is followed on trial:
        :meth:`follow` with the same text keeps it, :meth:`undo` drops it."""
        self.undo()
        self._tried = self._closer.state(), text
        self._closer.feed(text)
        length = self._closer.closing_length()
        if not length or length <= left:  # bytes bound tokens (see forced)
            return True
        tokens = self.closing_tokens()
        return tokens is None or len(tokens) <= left

    def at_free_text(self) -> bool:
        """Whether the output followed so far is inside the text of a value (see
        :meth:`GbnfCloser.at_free_text`)."""
        return self._closer.at_free_text()

    def undo(self) -> None:
        """Drop the text of the last :meth:`fits_after` not followed since."""
        if self._tried is not None:
            self._closer.restore(self._tried[0])
            self._tried = None

    def closing_tokens(self) -> list[int] | None:
        """The tokens of the grammar's shortest completion from here ([] when the text is
        complete; None when the reader gave up)."""
        closing = self._closer.closing()
        if not closing:
            return None if closing is None else []
        tokens: list[int] = self._model.tokenize(closing, add_special=False, parse_special=False)
        if self._model.detokenize(tokens) != closing:  # a space prefix added
            tokens = [t for ch in closing
                      for t in self._model.tokenize(ch, add_special=False, parse_special=False)]
        return tokens

    def follow(self, text: str, token: int | None = None) -> None:
        """The next piece of constrained text (and the token it came from, if it is one); the
        text of :meth:`fits_after` is kept when it is the same, else undone first."""
        tried, self._tried = self._tried, None
        if not text.isascii():
            self.multibyte = True
        if tried is None or tried[1] != text:
            if tried is not None:
                self._closer.restore(tried[0])
            self._closer.feed(text)
        if token is not None and self.repeats:
            self._recent.append(token)
            if len(self._recent) > 2 * self._keep:
                del self._recent[:-self._keep]

    def cycling(self) -> bool:
        """Whether the last tokens are one block repeated ``repeats`` times in a row (and span
        at least MIN_CYCLE_SPAN tokens)."""
        toks, r = self._recent, self.repeats
        n = len(toks)
        if r < 2 or n < MIN_CYCLE_SPAN:
            return False
        last = toks[-1]
        for p in range(1, min(MAX_PERIOD, n // r) + 1):
            if toks[-1 - p] != last:
                continue
            k = max(r, -(-MIN_CYCLE_SPAN // p))
            if k * p > n:
                continue
            window = toks[n - k * p:]
            if window[p:] == window[:-p]:
                return True
        return False

    def forced(self, left: int, budget: int) -> list[int] | None:
        """The closing's tokens when they must be forced now (``left``: tokens the generation
        may still produce; ``budget``: of which the closing may take at most), else None."""
        cycling = self.cycling()
        if not (cycling or self.at_budget):
            return None
        # a closing's UTF-8 length bounds its length in tokens, so the text is built and
        # tokenized only once that length comes near what is left
        margin = CLOSE_MARGIN + (UTF8_TAIL if self.multibyte else 0)
        length = self._closer.closing_length()
        if not length or (not cycling and length + margin < left):
            return None
        tokens = self.closing_tokens()
        assert tokens
        if (not cycling and len(tokens) + margin < left) or len(tokens) > budget:
            return None
        self.cycled = cycling
        return tokens


def grammar_takes(g: Any, tokens: Sequence[int]) -> bool:
    """Whether grammar sampler ``g`` accepts ``tokens`` in a row (tried on a copy)."""
    trial = lib.llama_sampler_clone(g)
    try:
        for t in tokens:
            if not allows(trial, t):
                return False
            lib.llama_sampler_accept(trial, t)
        return True
    finally:
        lib.llama_sampler_free(trial)


def mid_character(s: _Sequence) -> bool:
    """Whether the output ends inside a character (a token gave the first bytes of one): the
    grammar has taken those bytes, the closer sees the character once it is whole, and a
    closing forced in between would not fit either."""
    return bool(s.decoder.getstate()[0])


def closing_after(s: _Sequence, token: int, decoded: str, n_ctx: int) -> tuple[list[int], str] | None:
    """Follow ``token`` (just generated, its text ``decoded``) of constrained output; when the
    tokens left would no longer hold the grammar's shortest completion, or the output is caught
    in a cycle: (that completion's tokens, the finish reason: "length" at the budget, "stop"
    for a cycle), else None (always inside a character, see :func:`mid_character`)."""
    closer, grammar = s.closer, s.grammar
    assert closer is not None and grammar is not None
    if isinstance(grammar, LazyGrammarSampler):
        if not grammar.triggered:
            return None
        if not closer.live:  # this token triggered it: follow from the trigger on
            closer.live = True
            closer.follow(grammar.trigger_text)
            decoded = ""
    closer.follow(decoded, token)
    if mid_character(s):
        return None
    budget = s.max_tokens - len(s.generated)
    tokens = closer.forced(min(budget, n_ctx - 1 - s.pos), budget)
    if tokens is None:
        return None
    return tokens, "stop" if closer.cycled else "length"


def closing_instead(s: _Sequence, token: int, n_ctx: int) -> list[int] | None:
    """``grammar_close`` one token ahead: when the grammar's shortest completion would no longer
    fit after ``token`` (sampled, not yet accepted), that completion from the state before it,
    to go in the token's place ([] where the output is complete there: a token that would open
    another call or item it has no room for ends it instead); else None."""
    closer, grammar = s.closer, s.grammar
    assert closer is not None and grammar is not None
    if not closer.at_budget or token in s.eog or mid_character(s) or (
            isinstance(grammar, LazyGrammarSampler) and not closer.live):
        return None
    left = min(s.max_tokens - len(s.generated), n_ctx - 1 - s.pos)
    if closer.fits_after(s.piece(token).decode("utf-8", "replace"), left - 1):
        return None
    closer.undo()
    tokens = closer.closing_tokens()
    if tokens is None or len(tokens) > left:  # too late already: the token goes on
        return None
    return tokens  # [] when the output is complete: it ends here


def closing_start(s: _Sequence) -> int | None:
    """The first token of the grammar's shortest completion from where the constrained output
    is (None when there is none, or no text is followed yet)."""
    closer, grammar = s.closer, s.grammar
    if closer is None or mid_character(s) or (
            isinstance(grammar, LazyGrammarSampler) and not closer.live):
        return None
    tokens = closer.closing_tokens()
    return tokens[0] if tokens else None
