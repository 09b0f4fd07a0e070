"""Samplers: every llama.cpp sampler as a :class:`Sampler`, chains, and :class:`SamplingParams`.

Factories follow the argument order of ``llama_sampler_init_*``; those that need the
vocabulary take the model first.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgumentError, describe
from ._checks import INT32_MAX, check_float, check_int, check_token
from ._ffi import c_str, lib
from ._sampler import Sampler, SamplerChain
from .grammar import GrammarSampler, LazyGrammarSampler, Trigger, check_gbnf, check_triggers, new_grammar

if TYPE_CHECKING:
    from .model import Model

__all__ = [
    "GrammarSampler", "LazyGrammarSampler", "Sampler", "SamplerChain", "SamplingParams", "adaptive_p",
    "dist", "dry", "grammar", "grammar_lazy", "greedy", "infill", "logit_bias", "min_p", "mirostat",
    "mirostat_v2", "penalties", "temp", "temp_ext", "top_k", "top_n_sigma", "top_p", "typical", "xtc",
]

_DEFAULT_SEED = 0xFFFFFFFF  # LLAMA_DEFAULT_SEED: a random seed


# -- factories ----------------------------------------------------------------------------
_FLT = 3.4e38  # float32's largest finite value: the samplers compute in float
# where the DRY penalty acts: the whole output, or only inside a grammar's span
DRY_SCOPES = ("all", "grammar")
# llama.cpp's default DRY sequence breakers: a repeat is not matched across them
DRY_BREAKERS = ("\n", ":", '"', "*")
_MAX_WINDOW = 1 << 20  # most tokens a penalty window may remember (llama.cpp allocates it at once)


def _vocab(model: Model) -> Any:
    return model._vocab_ptr


def _n_vocab(model: Model) -> int:
    return int(lib.llama_vocab_n_tokens(model._vocab_ptr))


def _seed(seed: int | None) -> int:
    if seed is None:
        return _DEFAULT_SEED
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= 0xFFFFFFFF:
        raise InvalidArgumentError(f"seed must be an int in 0..2**32-1 or None, got {seed!r}")
    return seed


def _prob(name: str, value: Any) -> float:
    return check_float(name, value, 0.0, 1.0)


def _finite(name: str, value: Any, lo: float = -_FLT) -> float:
    return check_float(name, value, lo, _FLT)


def _window(name: str, value: Any, model: Model | None = None) -> int:
    """A penalty window in tokens; -1 means the model's training context (bounded)."""
    n = check_int(name, value, -1, _MAX_WINDOW)
    if n == -1 and model is not None:
        return min(model.n_ctx_train or _MAX_WINDOW, _MAX_WINDOW)
    return n


def greedy() -> Sampler:
    """Always the most likely token."""
    return Sampler(lib.llama_sampler_init_greedy(), what="greedy")


def dist(seed: int | None = None) -> Sampler:
    """Draw from the distribution (the final sampler of a random chain)."""
    return Sampler(lib.llama_sampler_init_dist(_seed(seed)), what="dist")


def top_k(k: int) -> Sampler:
    """Keep the ``k`` most likely tokens (k <= 0: all)."""
    return Sampler(lib.llama_sampler_init_top_k(check_int("top_k", k, -INT32_MAX)), what="top_k")


def top_p(p: float, min_keep: int = 1) -> Sampler:
    """Nucleus sampling."""
    return Sampler(lib.llama_sampler_init_top_p(_prob("top_p", p), check_int("min_keep", min_keep)),
                   what="top_p")


def min_p(p: float, min_keep: int = 1) -> Sampler:
    """Drop tokens less likely than ``p`` times the most likely one."""
    return Sampler(lib.llama_sampler_init_min_p(_prob("min_p", p), check_int("min_keep", min_keep)),
                   what="min_p")


def typical(p: float, min_keep: int = 1) -> Sampler:
    """Locally typical sampling."""
    return Sampler(lib.llama_sampler_init_typical(_prob("typical_p", p), check_int("min_keep", min_keep)),
                   what="typical")


def temp(t: float) -> Sampler:
    """Scale logits by 1/t."""
    return Sampler(lib.llama_sampler_init_temp(_finite("temperature", t)), what="temp")


def temp_ext(t: float, delta: float, exponent: float) -> Sampler:
    """Dynamic temperature in [t - delta, t + delta]."""
    return Sampler(lib.llama_sampler_init_temp_ext(_finite("temperature", t),
                                                   _finite("dynatemp_range", delta, 0.0),
                                                   _finite("dynatemp_exponent", exponent)),
                   what="temp_ext")


def xtc(p: float, t: float, min_keep: int = 1, seed: int | None = None) -> Sampler:
    """Exclude top choices (XTC)."""
    return Sampler(lib.llama_sampler_init_xtc(_prob("xtc_probability", p), _prob("xtc_threshold", t),
                                              check_int("min_keep", min_keep), _seed(seed)),
                   what="xtc")


def top_n_sigma(n: float) -> Sampler:
    """Keep tokens within ``n`` standard deviations of the top logit."""
    return Sampler(lib.llama_sampler_init_top_n_sigma(_finite("top_n_sigma", n)), what="top_n_sigma")


def mirostat(model: Model, seed: int | None, tau: float, eta: float, m: int = 100) -> Sampler:
    """Mirostat v1 (a final sampler)."""
    n_vocab = _n_vocab(model)
    return Sampler(lib.llama_sampler_init_mirostat(n_vocab, _seed(seed), _finite("mirostat_tau", tau, 0.0),
                                                   _finite("mirostat_eta", eta, 0.0),
                                                   check_int("mirostat m", m, 1, n_vocab)),
                   what="mirostat")


def mirostat_v2(seed: int | None, tau: float, eta: float) -> Sampler:
    """Mirostat v2 (a final sampler)."""
    return Sampler(lib.llama_sampler_init_mirostat_v2(_seed(seed), _finite("mirostat_tau", tau, 0.0),
                                                      _finite("mirostat_eta", eta, 0.0)),
                   what="mirostat_v2")


def penalties(model: Model, penalty_last_n: int, penalty_repeat: float = 1.0,
              penalty_freq: float = 0.0, penalty_present: float = 0.0) -> Sampler:
    """Repeat, frequency and presence penalties over the last ``penalty_last_n`` tokens
    (-1: the model's training context)."""
    return Sampler(lib.llama_sampler_init_penalties(
        _n_vocab(model), _window("penalty_last_n", penalty_last_n, model),
        _finite("repeat_penalty", penalty_repeat, 0.0), _finite("frequency_penalty", penalty_freq),
        _finite("presence_penalty", penalty_present)), what="penalties")


def _breakers(breakers: Any) -> tuple[str, ...]:
    """DRY sequence breakers checked: a list of non-empty strings without NUL."""
    if isinstance(breakers, (str, bytes)) or not isinstance(breakers, Sequence) or not all(
            isinstance(b, str) and b and "\x00" not in b for b in breakers):
        raise InvalidArgumentError(f"dry_sequence_breakers must be a list of non-empty str without "
                                   f"NUL, got {describe(breakers)}")
    return tuple(breakers)


def dry(model: Model, multiplier: float, base: float, allowed_length: int, penalty_last_n: int,
        breakers: Sequence[str] = DRY_BREAKERS) -> Sampler:
    """DRY repetition penalty (``penalty_last_n`` -1: the model's training context; llama.cpp
    itself reads -1 as no window at all, which turns the penalty off)."""
    breakers = _breakers(breakers)
    arr = (ctypes.c_char_p * max(1, len(breakers)))(*[c_str(b) for b in breakers])
    return Sampler(lib.llama_sampler_init_dry(_vocab(model), _finite("dry_multiplier", multiplier, 0.0),
                                              _finite("dry_base", base, 0.0),
                                              check_int("dry_allowed_length", allowed_length),
                                              _window("dry_penalty_last_n", penalty_last_n, model), arr,
                                              len(breakers)), what="dry", model=model)


def adaptive_p(target: float, decay: float, seed: int | None = None) -> Sampler:
    """Adaptive-p sampler (a final sampler)."""
    return Sampler(lib.llama_sampler_init_adaptive_p(_prob("target", target), _prob("decay", decay),
                                                     _seed(seed)), what="adaptive_p")


def logit_bias(model: Model, biases: Mapping[int, float]) -> Sampler:
    """Add a bias to chosen tokens' logits (``-inf`` bans a token)."""
    if not isinstance(biases, Mapping):
        raise InvalidArgumentError(f"logit_bias must be a mapping of token id to bias, got "
                                   f"{describe(biases)}")
    n_vocab = _n_vocab(model)
    items = [(check_token(t, n_vocab), check_float(f"logit_bias of token {t}", b, -math.inf, _FLT))
             for t, b in biases.items()]
    arr = (lib.llama_logit_bias * max(1, len(items)))()
    for i, (token, bias) in enumerate(items):
        arr[i] = lib.llama_logit_bias(token=token, bias=bias)
    return Sampler(lib.llama_sampler_init_logit_bias(n_vocab, len(items), arr), what="logit_bias")


def infill(model: Model) -> Sampler:
    """Fill-in-the-middle sampler."""
    return Sampler(lib.llama_sampler_init_infill(_vocab(model)), what="infill", model=model)


def grammar(model: Model, text: str, root: str = "root") -> GrammarSampler:
    """Constrain output to a GBNF grammar. A malformed grammar raises GrammarError."""
    return GrammarSampler(new_grammar(_vocab(model), text, root), what="grammar", model=model)


def grammar_lazy(model: Model, text: str, *, patterns: Sequence[str] = (), words: Sequence[str] = (),
                 tokens: Sequence[int] = (), root: str = "root") -> LazyGrammarSampler:
    """A grammar that switches on only once a trigger appears in the output.

    ``words`` are literal texts found anywhere in the output (the grammar starts at the word);
    ``patterns`` are Python regexes matched against the whole output so far (so anchored at
    its start: ``\\s*(\\{)[\\s\\S]*`` fires on a reply that opens with ``{``, never on a ``{``
    later in prose), the grammar starting at the first non-empty group; ``tokens`` start it at
    the token. The grammar text must begin with the trigger text. Invalid patterns raise
    :class:`GrammarError`.
    """
    trigger = Trigger(model, patterns=patterns, words=words, tokens=tokens)
    return LazyGrammarSampler(new_grammar(_vocab(model), text, root), trigger, model=model)


# -- parameters ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SamplingParams:
    """The usual sampling knobs, mapped to a :class:`SamplerChain` by :meth:`build`.

    ``temperature=0`` is greedy and deterministic. ``grammar`` is GBNF text; with
    ``grammar_lazy=True`` it applies only after a trigger pattern/token (see :func:`grammar_lazy`).
    ``dry_scope="grammar"`` applies the DRY penalty only to what the grammar constrains (from a
    lazy grammar's trigger on): constrained output of small models loops inside strings, while
    prose keeps its natural repetitions. ``grammar_close=True``: when the tokens left by
    ``max_tokens`` (or the context) would no longer hold the shortest text that completes the
    grammar from where the output is, that text is appended and the generation ends
    (``completion.closed``), so constrained output is never cut off mid-value.
    ``grammar_close_repeats=N`` (N >= 2; 0 off) ends constrained output the same way, with
    finish_reason "stop", once its last tokens are one block repeated N times in a row (over
    at least 12 tokens): a greedy small model caught in such a cycle (``["data","data",...``,
    objects nested without end) would run on until ``max_tokens``.
    ``grammar_ngram_limit=N`` (0 off): inside the grammar's span, a token that would make an
    n-gram (``grammar_ngram_size`` tokens, default 4) of the constrained output occur more than
    N times is replaced by the first token of the grammar's shortest completion (the way out of
    the looping string or array), or else ruled out; tokens the grammar forces (the keys of each
    array item) stay. It ends the loops a penalty only varies (``"the discovery of the
    discovery of ..."``), and also cuts a run repeated on purpose (``[0,0,0,0,0,0]``) short.
    """

    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    typical_p: float = 1.0
    repeat_penalty: float = 1.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    penalty_last_n: int = 64
    mirostat: int = 0
    mirostat_tau: float = 5.0
    mirostat_eta: float = 0.1
    dry_multiplier: float = 0.0
    dry_base: float = 1.75
    dry_allowed_length: int = 2
    dry_penalty_last_n: int = -1
    dry_scope: str = "all"
    dry_sequence_breakers: Sequence[str] = DRY_BREAKERS
    xtc_probability: float = 0.0
    xtc_threshold: float = 0.1
    top_n_sigma: float = -1.0
    dynatemp_range: float = 0.0
    dynatemp_exponent: float = 1.0
    logit_bias: Mapping[int, float] | None = None
    grammar: str | None = None
    grammar_root: str = "root"
    grammar_lazy: bool = False
    grammar_trigger_patterns: Sequence[str] = field(default_factory=tuple)
    grammar_trigger_words: Sequence[str] = field(default_factory=tuple)
    grammar_trigger_tokens: Sequence[int] = field(default_factory=tuple)
    grammar_close: bool = False
    grammar_close_repeats: int = 0
    grammar_ngram_limit: int = 0
    grammar_ngram_size: int = 4
    seed: int | None = None

    def __post_init__(self) -> None:
        # every knob is checked here, before any of it can reach llama.cpp
        for name in ("top_p", "min_p", "typical_p", "xtc_probability", "xtc_threshold"):
            _prob(name, getattr(self, name))
        for name in ("temperature", "repeat_penalty", "mirostat_tau", "mirostat_eta", "dry_multiplier",
                     "dry_base", "dynatemp_range"):
            _finite(name, getattr(self, name), 0.0)
        for name in ("frequency_penalty", "presence_penalty", "top_n_sigma", "dynatemp_exponent"):
            _finite(name, getattr(self, name))
        check_int("top_k", self.top_k, -INT32_MAX)
        check_int("dry_allowed_length", self.dry_allowed_length)
        _window("penalty_last_n", self.penalty_last_n)
        _window("dry_penalty_last_n", self.dry_penalty_last_n)
        if self.mirostat not in (0, 1, 2) or isinstance(self.mirostat, bool):
            raise InvalidArgumentError(f"mirostat must be 0, 1 or 2, got {self.mirostat!r}")
        object.__setattr__(self, "dry_sequence_breakers", _breakers(self.dry_sequence_breakers))
        if self.dry_scope not in DRY_SCOPES:
            raise InvalidArgumentError(
                f"dry_scope must be one of {DRY_SCOPES}, got {describe(self.dry_scope)}")
        _seed(self.seed)
        if self.logit_bias is not None:
            if not isinstance(self.logit_bias, Mapping):
                raise InvalidArgumentError(
                    f"logit_bias must be a mapping of token id to bias, got {describe(self.logit_bias)}")
            for t, b in self.logit_bias.items():
                check_int("logit_bias token", t)
                check_float(f"logit_bias of token {t}", b, -math.inf, _FLT)
        if self.grammar is not None:
            check_gbnf(self.grammar, self.grammar_root)
        if not isinstance(self.grammar_lazy, bool):
            raise InvalidArgumentError(f"grammar_lazy must be a bool, got {describe(self.grammar_lazy)}")
        if not isinstance(self.grammar_close, bool):
            raise InvalidArgumentError(f"grammar_close must be a bool, got {describe(self.grammar_close)}")
        check_int("grammar_close_repeats", self.grammar_close_repeats, 0, 1000)
        if self.grammar_close_repeats == 1:
            raise InvalidArgumentError("grammar_close_repeats must be 0 (off) or at least 2, got 1")
        check_int("grammar_ngram_limit", self.grammar_ngram_limit, 0, 1_000_000)
        check_int("grammar_ngram_size", self.grammar_ngram_size, 1, 1024)
        patterns, words, tokens = check_triggers(self.grammar_trigger_patterns, self.grammar_trigger_words,
                                                 self.grammar_trigger_tokens)
        if self.grammar_lazy and not (patterns or words or tokens):
            raise InvalidArgumentError(
                "grammar_lazy=True needs grammar_trigger_patterns, grammar_trigger_words or "
                "grammar_trigger_tokens")

    @property
    def is_greedy(self) -> bool:
        """True when the chain always picks the most likely token."""
        return self.temperature <= 0 and self.mirostat == 0

    def replace(self, **changes: Any) -> SamplingParams:
        """A copy with some fields changed (validated)."""
        unknown = set(changes) - set(self.__dataclass_fields__)
        if unknown:
            raise InvalidArgumentError(f"unknown sampling parameter(s): {sorted(unknown)}")
        return replace(self, **changes)

    def build(self, model: Model) -> SamplerChain:
        """The sampler chain for these parameters on ``model`` (the grammar first).

        A lazy grammar runs in the generation loop, not in a native chain: pass these
        parameters to ``ctx.completion`` / a :class:`Scheduler` instead.
        """
        if self.grammar is not None and self.grammar_lazy:
            raise InvalidArgumentError(
                "a lazy grammar cannot be part of a native sampler chain; generate with these "
                "SamplingParams (ctx.completion, ctx.stream, Scheduler.submit) instead")
        return self._build(model, with_grammar=True)

    def grammar_sampler(self, model: Model) -> GrammarSampler | None:
        """The grammar sampler alone (None without a grammar)."""
        if self.grammar is None:
            return None
        if self.grammar_lazy:
            return grammar_lazy(model, self.grammar, patterns=self.grammar_trigger_patterns,
                                words=self.grammar_trigger_words, tokens=self.grammar_trigger_tokens,
                                root=self.grammar_root)
        return grammar(model, self.grammar, self.grammar_root)

    def span_sampler(self, model: Model) -> Sampler | None:
        """The DRY sampler of ``dry_scope="grammar"``, which a generation loop applies only
        inside the grammar's span (None when there is no such span or no penalty)."""
        if self.dry_multiplier <= 0 or self.dry_scope != "grammar" or self.grammar is None:
            return None
        return dry(model, self.dry_multiplier, self.dry_base, self.dry_allowed_length,
                   self.dry_penalty_last_n, self.dry_sequence_breakers)

    def _build(self, model: Model, *, with_grammar: bool) -> SamplerChain:
        chain = SamplerChain()
        try:
            # The grammar goes first: later samplers must never keep only forbidden tokens.
            g = self.grammar_sampler(model) if with_grammar else None
            if g is not None:
                chain.add(g)
            if self.logit_bias:
                chain.add(logit_bias(model, self.logit_bias))
            if (self.repeat_penalty != 1.0 or self.frequency_penalty or self.presence_penalty):
                chain.add(penalties(model, self.penalty_last_n, self.repeat_penalty,
                                    self.frequency_penalty, self.presence_penalty))
            # scope "grammar": a native chain holds a strict grammar's whole output; a generation
            # loop applies it itself (span_sampler), from the trigger of a lazy grammar on
            if self.dry_multiplier > 0 and (self.dry_scope == "all" or g is not None):
                chain.add(dry(model, self.dry_multiplier, self.dry_base, self.dry_allowed_length,
                              self.dry_penalty_last_n, self.dry_sequence_breakers))
            if self.is_greedy:
                chain.add(greedy())
                return chain
            if self.mirostat == 1:
                chain.add(temp(self.temperature))
                chain.add(mirostat(model, self.seed, self.mirostat_tau, self.mirostat_eta))
                return chain
            if self.mirostat == 2:
                chain.add(temp(self.temperature))
                chain.add(mirostat_v2(self.seed, self.mirostat_tau, self.mirostat_eta))
                return chain
            if self.top_k > 0:
                chain.add(top_k(self.top_k))
            if self.top_n_sigma > 0:
                chain.add(top_n_sigma(self.top_n_sigma))
            if self.typical_p < 1.0:
                chain.add(typical(self.typical_p))
            if self.top_p < 1.0:
                chain.add(top_p(self.top_p))
            if self.min_p > 0.0:
                chain.add(min_p(self.min_p))
            if self.xtc_probability > 0:
                chain.add(xtc(self.xtc_probability, self.xtc_threshold, 1, self.seed))
            if self.dynatemp_range > 0:
                chain.add(temp_ext(self.temperature, self.dynatemp_range, self.dynatemp_exponent))
            else:
                chain.add(temp(self.temperature))
            chain.add(dist(self.seed))
            return chain
        except BaseException:
            chain.close()
            raise
