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

from ..errors import GrammarError, InvalidArgumentError
from ._ffi import c_str, capture_stderr, lib, recent_log
from ._sampler import Sampler, SamplerChain

if TYPE_CHECKING:
    from .model import Model

__all__ = [
    "Sampler", "SamplerChain", "SamplingParams", "adaptive_p", "dist", "dry", "grammar",
    "grammar_lazy", "greedy", "infill", "logit_bias", "min_p", "mirostat", "mirostat_v2",
    "penalties", "temp", "temp_ext", "top_k", "top_n_sigma", "top_p", "typical", "xtc",
]

_DEFAULT_SEED = 0xFFFFFFFF  # LLAMA_DEFAULT_SEED: a random seed


# -- factories ----------------------------------------------------------------------------
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


def greedy() -> Sampler:
    """Always the most likely token."""
    return Sampler(lib.llama_sampler_init_greedy(), what="greedy")


def dist(seed: int | None = None) -> Sampler:
    """Draw from the distribution (the final sampler of a random chain)."""
    return Sampler(lib.llama_sampler_init_dist(_seed(seed)), what="dist")


def top_k(k: int) -> Sampler:
    """Keep the ``k`` most likely tokens (k <= 0: all)."""
    return Sampler(lib.llama_sampler_init_top_k(int(k)), what="top_k")


def top_p(p: float, min_keep: int = 1) -> Sampler:
    """Nucleus sampling."""
    return Sampler(lib.llama_sampler_init_top_p(float(p), int(min_keep)), what="top_p")


def min_p(p: float, min_keep: int = 1) -> Sampler:
    """Drop tokens less likely than ``p`` times the most likely one."""
    return Sampler(lib.llama_sampler_init_min_p(float(p), int(min_keep)), what="min_p")


def typical(p: float, min_keep: int = 1) -> Sampler:
    """Locally typical sampling."""
    return Sampler(lib.llama_sampler_init_typical(float(p), int(min_keep)), what="typical")


def temp(t: float) -> Sampler:
    """Scale logits by 1/t."""
    return Sampler(lib.llama_sampler_init_temp(float(t)), what="temp")


def temp_ext(t: float, delta: float, exponent: float) -> Sampler:
    """Dynamic temperature in [t - delta, t + delta]."""
    return Sampler(lib.llama_sampler_init_temp_ext(float(t), float(delta), float(exponent)),
                   what="temp_ext")


def xtc(p: float, t: float, min_keep: int = 1, seed: int | None = None) -> Sampler:
    """Exclude top choices (XTC)."""
    return Sampler(lib.llama_sampler_init_xtc(float(p), float(t), int(min_keep), _seed(seed)),
                   what="xtc")


def top_n_sigma(n: float) -> Sampler:
    """Keep tokens within ``n`` standard deviations of the top logit."""
    return Sampler(lib.llama_sampler_init_top_n_sigma(float(n)), what="top_n_sigma")


def mirostat(model: Model, seed: int | None, tau: float, eta: float, m: int = 100) -> Sampler:
    """Mirostat v1 (a final sampler)."""
    return Sampler(lib.llama_sampler_init_mirostat(_n_vocab(model), _seed(seed), float(tau),
                                                   float(eta), int(m)), what="mirostat")


def mirostat_v2(seed: int | None, tau: float, eta: float) -> Sampler:
    """Mirostat v2 (a final sampler)."""
    return Sampler(lib.llama_sampler_init_mirostat_v2(_seed(seed), float(tau), float(eta)),
                   what="mirostat_v2")


def penalties(model: Model, penalty_last_n: int, penalty_repeat: float = 1.0,
              penalty_freq: float = 0.0, penalty_present: float = 0.0) -> Sampler:
    """Repeat, frequency and presence penalties over the last ``penalty_last_n`` tokens."""
    return Sampler(lib.llama_sampler_init_penalties(_n_vocab(model), int(penalty_last_n),
                                                    float(penalty_repeat), float(penalty_freq),
                                                    float(penalty_present)), what="penalties")


def dry(model: Model, multiplier: float, base: float, allowed_length: int, penalty_last_n: int,
        breakers: Sequence[str] = ("\n", ":", '"', "*")) -> Sampler:
    """DRY repetition penalty."""
    arr = (ctypes.c_char_p * len(breakers))(*[c_str(b) for b in breakers])
    return Sampler(lib.llama_sampler_init_dry(_vocab(model), float(multiplier), float(base),
                                              int(allowed_length), int(penalty_last_n), arr,
                                              len(breakers)), what="dry")


def adaptive_p(target: float, decay: float, seed: int | None = None) -> Sampler:
    """Adaptive-p sampler (a final sampler)."""
    return Sampler(lib.llama_sampler_init_adaptive_p(float(target), float(decay), _seed(seed)),
                   what="adaptive_p")


def logit_bias(model: Model, biases: Mapping[int, float]) -> Sampler:
    """Add a bias to chosen tokens' logits (``-inf`` bans a token)."""
    n_vocab = _n_vocab(model)
    items = list(biases.items())
    for token, _ in items:
        if isinstance(token, bool) or not isinstance(token, int) or not 0 <= token < n_vocab:
            raise InvalidArgumentError(f"logit_bias token {token!r} is not in the vocabulary")
    arr = (lib.llama_logit_bias * max(1, len(items)))()
    for i, (token, bias) in enumerate(items):
        arr[i] = lib.llama_logit_bias(token=token, bias=float(bias))
    return Sampler(lib.llama_sampler_init_logit_bias(n_vocab, len(items), arr), what="logit_bias")


def infill(model: Model) -> Sampler:
    """Fill-in-the-middle sampler."""
    return Sampler(lib.llama_sampler_init_infill(_vocab(model)), what="infill")


def _grammar_sampler(init: Any, *args: Any) -> Sampler:
    """Create a grammar sampler, turning llama.cpp's parse errors into GrammarError."""
    recent_log(clear=True)
    with capture_stderr() as printed:
        ptr = init(*args)
    if not ptr:
        lines = [ln.strip() for ln in printed + recent_log(clear=True) if ln.strip()]
        detail = next((ln for ln in lines if "error" in ln.lower() and "parse" in ln.lower()), None)
        reason = detail or "; ".join(lines[-3:]) or "llama.cpp rejected the grammar"
        raise GrammarError(f"invalid GBNF grammar: {reason}")
    return Sampler(ptr, what="grammar")


def _check_grammar_args(text: str, root: str) -> None:
    if not isinstance(text, str) or not text.strip():
        raise GrammarError(f"grammar must be non-empty GBNF text, got {text!r}")
    if not isinstance(root, str) or not root:
        raise GrammarError(f"grammar root must be a rule name, got {root!r}")


def grammar(model: Model, text: str, root: str = "root") -> Sampler:
    """Constrain output to a GBNF grammar. A malformed grammar raises GrammarError."""
    _check_grammar_args(text, root)
    return _grammar_sampler(lib.llama_sampler_init_grammar, _vocab(model), c_str(text), c_str(root))


def grammar_lazy(model: Model, text: str, *, patterns: Sequence[str] = (),
                 tokens: Sequence[int] = (), root: str = "root") -> Sampler:
    """A grammar that switches on only once a trigger pattern matches or a trigger token appears.

    Each pattern is a regex matched against the whole generated text; its first group marks
    where the grammar starts (the grammar itself must begin with the trigger text).
    """
    _check_grammar_args(text, root)
    if not patterns and not tokens:
        raise InvalidArgumentError("a lazy grammar needs at least one trigger pattern or token")
    pats = (ctypes.c_char_p * max(1, len(patterns)))(*[c_str(p) for p in patterns])
    toks = (lib.llama_token * max(1, len(tokens)))(*[int(t) for t in tokens])
    return _grammar_sampler(lib.llama_sampler_init_grammar_lazy_patterns, _vocab(model),
                            c_str(text), c_str(root), pats, len(patterns), toks, len(tokens))


# -- parameters ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SamplingParams:
    """The usual sampling knobs, mapped to a :class:`SamplerChain` by :meth:`build`.

    ``temperature=0`` is greedy and deterministic. ``grammar`` is GBNF text; with
    ``grammar_lazy=True`` it applies only after a trigger pattern/token (see :func:`grammar_lazy`).
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
    grammar_trigger_tokens: Sequence[int] = field(default_factory=tuple)
    seed: int | None = None

    def __post_init__(self) -> None:
        checks = [
            ("temperature", self.temperature, 0.0, math.inf),
            ("top_p", self.top_p, 0.0, 1.0),
            ("min_p", self.min_p, 0.0, 1.0),
            ("typical_p", self.typical_p, 0.0, 1.0),
            ("repeat_penalty", self.repeat_penalty, 0.0, math.inf),
            ("xtc_probability", self.xtc_probability, 0.0, 1.0),
        ]
        for name, value, lo, hi in checks:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
                    or not lo <= value <= hi:
                raise InvalidArgumentError(f"{name} must be a number in [{lo}, {hi}], got {value!r}")
        if self.mirostat not in (0, 1, 2):
            raise InvalidArgumentError(f"mirostat must be 0, 1 or 2, got {self.mirostat!r}")
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int):
            raise InvalidArgumentError(f"top_k must be an int, got {self.top_k!r}")
        _seed(self.seed)
        if self.grammar_lazy and not (self.grammar_trigger_patterns or self.grammar_trigger_tokens):
            raise InvalidArgumentError("grammar_lazy=True needs grammar_trigger_patterns or _tokens")

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
        """The sampler chain for these parameters on ``model`` (the grammar first)."""
        return self._build(model, with_grammar=True)

    def grammar_sampler(self, model: Model) -> Sampler | None:
        """The grammar sampler alone (None without a grammar)."""
        if self.grammar is None:
            return None
        if self.grammar_lazy:
            return grammar_lazy(model, self.grammar, patterns=self.grammar_trigger_patterns,
                                tokens=self.grammar_trigger_tokens, root=self.grammar_root)
        return grammar(model, self.grammar, self.grammar_root)

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
            if self.dry_multiplier > 0:
                chain.add(dry(model, self.dry_multiplier, self.dry_base, self.dry_allowed_length,
                              self.dry_penalty_last_n))
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
