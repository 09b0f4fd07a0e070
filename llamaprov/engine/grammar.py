"""Grammar samplers: every GBNF grammar handed to llama.cpp is checked here first.

llama.cpp's grammar engine has two fatal edges: its recursive-descent parser overflows the C
stack on deeply nested input, and accepting a token the grammar forbids throws a C++
exception that aborts the process. :func:`check_gbnf` rejects what would crash the parser,
:func:`new_grammar` turns parse errors into :class:`GrammarError`, :func:`allows` asks whether
a token may come next (without changing the grammar), and :class:`Trigger` runs the
"switch on at a trigger" logic in Python, where each token is checked before it is accepted
(llama.cpp's own lazy grammars replay the triggering text unchecked and parse trigger regexes
with ``std::regex``, which aborts on a bad pattern).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import regex

from ..errors import GrammarError, InvalidArgumentError, describe
from ._checks import check_token
from ._ffi import c_str, capture_stderr, lib, recent_log
from ._sampler import Sampler, allows

if TYPE_CHECKING:
    from .context import Context
    from .model import Model

__all__ = ["GrammarSampler", "LazyGrammarSampler", "Trigger", "accept_checked", "allows", "check_gbnf",
           "check_triggers", "feed_text", "new_grammar"]

# llama.cpp's parser recurses once per nesting level; 30,000 levels overflowed the C stack
MAX_NESTING = 1000
# llama.cpp's own limit on one {m,n} count
MAX_REPETITION = 2000
# seconds one trigger pattern may take on the output so far (the `regex` module enforces it)
PATTERN_TIMEOUT = 0.05


def check_gbnf(text: Any, root: Any = "root") -> None:
    """Raise :class:`GrammarError` for grammar text llama.cpp must never see.

    Checks the types, NUL characters (C would read the grammar as ending there), empty text,
    nesting depth and repetition counts. It does not parse the grammar: llama.cpp does that
    in :func:`new_grammar`.
    """
    if not isinstance(text, str):
        raise GrammarError(f"a GBNF grammar is a str, got {describe(text)}")
    if not isinstance(root, str) or not root or "\x00" in root:
        raise GrammarError(f"grammar root must be a rule name, got {describe(root)}")
    if "\x00" in text:
        raise GrammarError(f"grammar text contains a NUL character at offset {text.index(chr(0))}")
    if not text.strip():
        raise GrammarError("grammar text is empty")
    _check_structure(text)


def _check_structure(text: str) -> None:
    """Nesting depth of parentheses (outside strings, classes and comments), repetition counts."""
    depth = deepest = 0
    in_str = in_class = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and (in_str or in_class):
            i += 2
            continue
        if in_str:
            in_str = ch != '"'
        elif in_class:
            in_class = ch != "]"
        elif ch == '"':
            in_str = True
        elif ch == "[":
            in_class = True
        elif ch == "#":
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            continue
        elif ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth -= 1
        i += 1
    if deepest > MAX_NESTING:
        raise GrammarError(f"grammar nests parentheses {deepest} deep (at most {MAX_NESTING})")
    for m in re.finditer(r"\{\s*(\d+)\s*(?:,\s*(\d*)\s*)?\}", text):
        if any(g and int(g) > MAX_REPETITION for g in m.groups()):
            raise GrammarError(f"repetition {m.group(0)} exceeds llama.cpp's limit of {MAX_REPETITION}")


def new_grammar(vocab: Any, text: str, root: str = "root") -> Any:
    """A raw llama.cpp grammar sampler for checked GBNF (the caller owns and frees it).

    llama.cpp prints parse errors to stderr and returns NULL; the message becomes a
    :class:`GrammarError`.
    """
    check_gbnf(text, root)
    recent_log(clear=True)
    with capture_stderr() as printed:
        ptr = lib.llama_sampler_init_grammar(vocab, c_str(text), c_str(root))
    if not ptr:
        lines = [ln.strip() for ln in printed + recent_log(clear=True) if ln.strip()]
        detail = next((ln for ln in lines if "error" in ln.lower() and "parse" in ln.lower()), None)
        reason = detail or "; ".join(lines[-3:]) or "llama.cpp rejected the grammar"
        raise GrammarError(f"invalid GBNF grammar: {reason}")
    return ptr


def accept_checked(grammar: Any, token: int) -> None:
    """Accept ``token`` into a grammar sampler, refusing one it forbids (which would abort)."""
    if not allows(grammar, token):
        raise GrammarError(f"token {token} is not allowed by the grammar here")
    lib.llama_sampler_accept(grammar, token)


def check_triggers(patterns: Any, words: Any, tokens: Any) -> tuple[tuple[Any, ...],
                                                                    tuple[str, ...], tuple[int, ...]]:
    """Validate lazy-grammar triggers: Python regexes, non-empty literal words, int token ids."""
    compiled = []
    for p in _as_tuple("grammar_trigger_patterns", patterns):
        if not isinstance(p, str) or not p:
            raise GrammarError(f"a trigger pattern is a non-empty str, got {describe(p)}")
        try:
            compiled.append(regex.compile(p))
        except (regex.error, RecursionError, OverflowError, ValueError) as exc:
            raise GrammarError(f"trigger pattern {p!r} is not a valid regex: {exc}") from None
    out_words = []
    for w in _as_tuple("grammar_trigger_words", words):
        if not isinstance(w, str) or not w:
            raise GrammarError(f"a trigger word is a non-empty str, got {describe(w)}")
        out_words.append(w)
    out_tokens = []
    for t in _as_tuple("grammar_trigger_tokens", tokens):
        if isinstance(t, bool) or not isinstance(t, int) or t < 0:
            raise GrammarError(f"a trigger token is a token id, got {describe(t)}")
        out_tokens.append(int(t))
    return tuple(compiled), tuple(out_words), tuple(out_tokens)


def _as_tuple(name: str, value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, set, frozenset)):
        raise GrammarError(f"{name} must be a list, got {describe(value)}")
    return tuple(value)


class Trigger:
    """Finds where a lazy grammar switches on, in Python, as output tokens arrive.

    Triggers: ``words`` (literal text anywhere in the output; the grammar starts at the word),
    ``patterns`` (Python regexes that must match the whole output so far, so they are anchored
    at its start; the grammar starts at the first non-empty group, else at the match) and
    ``tokens`` (the grammar starts at the token). Words are searched only in the new text, so
    the cost per token does not grow with the output.
    """

    def __init__(self, model: Model, *, patterns: Sequence[str] = (), words: Sequence[str] = (),
                 tokens: Sequence[int] = ()) -> None:
        compiled, self._words, toks = check_triggers(patterns, words, tokens)
        if not (compiled or self._words or toks):
            raise InvalidArgumentError("a lazy grammar needs at least one trigger pattern, word or token")
        n_vocab = len(model.vocab)
        self._tokens = frozenset(check_token(t, n_vocab) for t in toks)
        self._patterns = compiled
        self._model = model
        self._max_word = max((len(w) for w in self._words), default=0)
        self.reset()

    def reset(self) -> None:
        """Forget the output seen so far."""
        self._text = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def copy(self) -> Trigger:
        """An independent copy in the same state."""
        other = object.__new__(Trigger)
        other.__dict__.update(self.__dict__)
        other._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        other._decoder.setstate(self._decoder.getstate())
        return other

    def find(self, token: int) -> tuple[Any, str | None]:
        """(the state after ``token``, the trigger text it completes or None); see :meth:`commit`."""
        piece = self._model.token_bytes(token, special=True)
        if token in self._tokens:
            return None, piece.decode("utf-8", errors="replace")
        saved = self._decoder.getstate()
        added = self._decoder.decode(piece)
        after = (self._text + added, self._decoder.getstate())
        self._decoder.setstate(saved)
        if not added:
            return after, None
        text = after[0]
        starts = []
        if self._words:
            lo = max(0, len(self._text) - self._max_word + 1)
            for w in self._words:
                i = text.find(w, lo)
                if i >= 0:
                    starts.append(i)
        for p in self._patterns:
            try:
                # a pattern that backtracks without end must not hang the generation
                m = p.fullmatch(text, timeout=PATTERN_TIMEOUT)
            except TimeoutError:
                raise GrammarError(f"trigger pattern {p.pattern!r} took over {PATTERN_TIMEOUT * 1000:.0f} ms "
                                   f"on {len(text)} characters of output") from None
            if m is not None:
                start = next((m.start(g) for g in range(1, p.groups + 1)
                              if m.start(g) >= 0 and m.end(g) > m.start(g)), m.start())
                starts.append(start)
        return after, (text[min(starts):] if starts else None)

    def commit(self, state: Any) -> None:
        """Move on to a state returned by :meth:`find` (a token that did not trigger)."""
        self._text, decoder_state = state
        self._decoder.setstate(decoder_state)


def feed_text(grammar: Any, model: Model, text: str) -> bool:
    """Feed ``text`` to a grammar sampler that has accepted nothing yet, token by token.

    Each token is checked before it is accepted. Returns False, with the grammar reset to its
    start, when the grammar cannot take the text.
    """
    for t in model.tokenize(text, add_special=False, parse_special=True):
        if not allows(grammar, t):
            lib.llama_sampler_reset(grammar)
            return False
        lib.llama_sampler_accept(grammar, t)
    return True


class GrammarSampler(Sampler):
    """A GBNF grammar sampler (see :func:`grammar`): ``accept`` refuses forbidden tokens."""

    def _grammars(self) -> list[Any]:
        return [self._ptr]

    def allows(self, token: int) -> bool:
        """Whether the grammar accepts ``token`` next (its state does not change)."""
        return allows(self._ptr, self._check_token(token))

    def _wrap_clone(self) -> Sampler:
        return GrammarSampler(lib.llama_sampler_clone(self._ptr), what="cloned", model=self._model)


class LazyGrammarSampler(GrammarSampler):
    """A grammar that applies only from a trigger on (see :func:`grammar_lazy`).

    The trigger is found in Python and the triggering text is fed to the grammar token by
    token, each checked, so no output can make llama.cpp abort. It runs in the engine's
    generation loop (``SamplingParams(grammar_lazy=True, ...)``) or on its own through
    :meth:`offer` / :meth:`accept`; it cannot join a native :class:`SamplerChain`.
    """

    _lazy = True

    def __init__(self, ptr: Any, trigger: Trigger, *, model: Model) -> None:
        super().__init__(ptr, what="lazy grammar", model=model)
        self._trigger = trigger
        self.triggered = False
        self.trigger_text = ""  # the output from where the grammar started, once triggered

    def _grammars(self) -> list[Any]:
        return [self._ptr] if self.triggered else []

    def allows(self, token: int) -> bool:
        token = self._check_token(token)
        if self.triggered:
            return allows(self._ptr, token)
        _, tail = self._trigger.find(token)
        if tail is None:
            return True
        trial = lib.llama_sampler_clone(self._ptr)
        try:
            return feed_text(trial, self._model, tail)  # type: ignore[arg-type]
        finally:
            lib.llama_sampler_free(trial)

    def offer(self, token: int) -> bool:
        """Take ``token`` as the next output token if the grammar allows it; False (nothing
        changed) when it does not, e.g. a token that completes a trigger with text the grammar
        cannot start with."""
        ptr = self._ptr
        token = self._check_token(token)
        if self.triggered:
            if not allows(ptr, token):
                return False
            lib.llama_sampler_accept(ptr, token)
            return True
        state, tail = self._trigger.find(token)
        if tail is None:
            self._trigger.commit(state)
            return True
        if not feed_text(ptr, self._model, tail):  # type: ignore[arg-type]
            return False
        self.triggered = True
        self.trigger_text = tail
        return True

    def accept(self, token: int) -> None:
        """Take ``token``; a token the grammar forbids raises :class:`GrammarError`."""
        if not self.offer(token):
            raise GrammarError(f"token {token} is not allowed by the grammar here")

    def reset(self) -> None:
        lib.llama_sampler_reset(self._ptr)
        self._trigger.reset()
        self.triggered = False
        self.trigger_text = ""

    def _wrap_clone(self) -> Sampler:
        other = LazyGrammarSampler(lib.llama_sampler_clone(self._ptr), self._trigger.copy(),
                                   model=self._model)  # type: ignore[arg-type]
        other.triggered = self.triggered
        other.trigger_text = self.trigger_text
        return other

    def sample(self, ctx: Context, idx: int = -1) -> int:
        raise InvalidArgumentError("a grammar does not choose tokens: sample with a chain, or "
                                   "generate with SamplingParams(grammar_lazy=True, ...)")

    @property
    def name(self) -> str:
        return "grammar-lazy"
