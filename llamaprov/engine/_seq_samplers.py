"""The samplers a scheduler's sequence samples with, made from its sampling settings."""

from __future__ import annotations

from typing import Any, NamedTuple

from ..errors import InvalidArgumentError
from ._closing import BudgetCloser
from ._ngram import NgramLimit
from .sampling import Sampler, SamplerChain, SamplingParams

__all__ = ["SeqSamplers", "seq_samplers"]


class SeqSamplers(NamedTuple):
    """What a sequence samples with, made from its sampling settings."""

    grammar: Sampler | None
    chain: SamplerChain  # the chain without the grammar
    owned: bool  # made here (closed with the sequence) rather than the caller's chain
    greedy: bool
    span: Sampler | None  # applied only inside the grammar's span (dry_scope="grammar")
    closer: BudgetCloser | None  # grammar_close / grammar_close_repeats / grammar_ngram_limit
    ngrams: NgramLimit | None  # grammar_ngram_limit


def seq_samplers(model: Any, seed: int | None, sampling: SamplingParams | SamplerChain | None,
                 kw: dict[str, Any]) -> SeqSamplers:
    """The samplers of one generation, from its sampling settings (``seed``: the context's,
    for settings without one)."""
    if isinstance(sampling, SamplerChain):
        if kw:
            raise InvalidArgumentError("pass sampling keywords or a SamplerChain, not both")
        if not len(sampling):
            raise InvalidArgumentError("the sampler chain is empty")
        return SeqSamplers(None, sampling, False, False, None, None, None)
    if sampling is None:
        params = SamplingParams(**kw) if kw else SamplingParams()
    elif isinstance(sampling, SamplingParams):
        params = sampling.replace(**kw) if kw else sampling
    else:
        raise InvalidArgumentError(f"sampling must be SamplingParams or SamplerChain, got {sampling!r}")
    if params.seed is None and seed is not None:
        params = params.replace(seed=seed)
    closer = None
    if (params.grammar_close or params.grammar_close_repeats or params.grammar_ngram_limit) \
            and params.grammar is not None:
        closer = BudgetCloser(model, params.grammar, params.grammar_root,
                              at_budget=params.grammar_close,
                              repeats=params.grammar_close_repeats)
    grammar = params.grammar_sampler(model)
    span = None
    try:
        span = params.span_sampler(model)
        ngrams = (NgramLimit(params.grammar_ngram_size, params.grammar_ngram_limit)
                  if params.grammar_ngram_limit and params.grammar is not None else None)
        return SeqSamplers(grammar, params._build(model, with_grammar=False), True,
                            params.is_greedy, span, closer, ngrams)
    except BaseException:
        for sampler in (grammar, span):
            if sampler is not None:
                sampler.close()
        raise
