"""Generation: a scheduler that runs one or many sequences over a shared context.

Every generation, single or parallel, goes through :class:`Scheduler`: each step packs the
pending tokens of all active sequences into one ``llama_batch``, makes one ``llama_decode``
call, then samples each sequence from its own logits with its own sampler chain. Sequences
with different LoRA adapter sets (``submit(..., lora=...)``) are decoded in one
``llama_decode`` per set, with that set applied (see :mod:`._loraset`).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ClosedError, ContextOverflowError, GrammarError, InvalidArgumentError
from . import _loraset
from ._candidates import _Candidates
from ._closing import closing_after, closing_instead, closing_start, grammar_takes
from ._context import DecodeAborted
from ._ffi import lib
from ._sampler import allows
from ._seq_samplers import seq_samplers
from .completion import Completion, CompletionChunk, Usage, _Sequence
from .grammar import LazyGrammarSampler
from .sampling import SamplerChain, SamplingParams

if TYPE_CHECKING:
    from ._context import ContextCore as Context
    from ._loraset import LoraSet
    from .adapters import LoraAdapter

__all__ = ["Completion", "CompletionChunk", "Scheduler", "Usage"]


class _NoTokenLeft(GrammarError):
    """Every token was ruled out: by the grammar together with logit_bias or the samplers."""


# samples a lazy grammar may refuse in one step (tokens completing a trigger it cannot take)
_MAX_REFUSED = 32


# a prefix shorter than this is cheaper to decode again than to wait a step for
_MIN_SHARED_PREFIX = 16


def _common_prefix(a: Sequence[int], b: Sequence[int], limit: int) -> int:
    n = 0
    limit = min(limit, len(a), len(b))
    while n < limit and a[n] == b[n]:
        n += 1
    return n


class Scheduler:
    """Runs several generations over one context, one ``llama_decode`` per step.

    ``submit`` prompts (each gets a free sequence id), then iterate any completion or call
    :meth:`run`. The context is held (other threads wait) from the first step until every
    submitted generation has finished.

    Each generation decodes with its own LoRA adapter set (``lora=``; by default the adapters
    applied to the context). The sequences of one set share a ``llama_decode``, different sets
    get one each; a cached prompt prefix is reused only by a generation with the set it was
    decoded with. While the scheduler holds the context, ``ctx.loras`` shows the set applied
    at the moment; the context's own set is put back when it lets go.
    """

    def __init__(self, ctx: Context, *, _private: bool = False) -> None:
        self.ctx = ctx
        self._model = ctx.model
        self._seqs: list[_Sequence] = []
        self._holding = False
        self._cancelled = False
        self._candidates: _Candidates | None = None
        # each sequence's adapter set (None until it starts: the context's own set, _base)
        self._lora: dict[_Sequence, LoraSet | None] = {}
        self._base: LoraSet | None = None  # the context's own set, while this scheduler holds it

    # -- submission -------------------------------------------------------------------------
    def submit(self, prompt: str | Sequence[int], *, max_tokens: int = 256,
               stop: str | Sequence[str] | None = None,
               sampling: SamplingParams | SamplerChain | None = None, seq_id: int | None = None,
               reuse_cache: bool = True, special: bool = False,
               lora: Mapping[LoraAdapter, float] | None = None,
               **sampling_kw: Any) -> Completion:
        """Queue one generation; returns its :class:`Completion` (not started yet).

        ``special=True`` renders generated control tokens (``[TOOL_CALLS]``,
        ``<|python_tag|>``...) as their text instead of dropping them. ``lora`` maps LoRA
        adapters of the context's model to scales: the whole adapter set of this generation
        (``{}``: none), in place of the adapters applied to the context (the default).
        """
        ctx = self.ctx
        model = self._model
        if isinstance(prompt, str):
            if not prompt:
                raise InvalidArgumentError("prompt is empty")
            tokens = model.tokenize(prompt, add_special=True, parse_special=True)
        else:
            tokens = model._check_tokens(prompt)
        if not tokens:
            raise InvalidArgumentError("prompt has no tokens")
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise InvalidArgumentError(f"max_tokens must be a positive int, got {max_tokens!r}")
        frozen = None if lora is None else _loraset.freeze(ctx, lora)
        stops = [stop] if isinstance(stop, str) else list(stop or [])
        if not all(isinstance(s, str) for s in stops):
            raise InvalidArgumentError(f"stop must be a str or a list of str, got {stop!r}")
        n_ctx = ctx.n_ctx_seq
        if len(tokens) >= n_ctx:
            raise ContextOverflowError(
                f"prompt of {len(tokens)} tokens does not fit in the context of {n_ctx} tokens "
                f"(room is also needed for at least one generated token)",
                n_tokens=len(tokens), n_ctx=n_ctx)
        seq_id = self._pick_seq_id(seq_id)
        samplers = seq_samplers(self._model, self.ctx.seed, sampling, sampling_kw)
        seq = _Sequence(seq_id, tokens, samplers.chain, samplers.owned, max_tokens, stops,
                        model.vocab.eog_tokens(),
                        functools.partial(model.token_bytes, special=True) if special
                        else model.token_bytes, samplers.grammar)
        seq.greedy = samplers.greedy
        seq.span = samplers.span
        seq.closer = samplers.closer
        seq.ngrams = samplers.ngrams
        seq.pending = tokens  # trimmed to the uncached suffix when the sequence starts
        seq.pos = -1  # not started
        self._seqs.append(seq)
        completion = Completion(self, seq)
        seq.completion = completion
        seq.reuse = bool(reuse_cache)
        self._lora[seq] = frozen
        return completion

    def _pick_seq_id(self, seq_id: int | None) -> int:
        used = {s.seq_id for s in self._seqs if not s.done}
        n = self.ctx.n_seq_max
        if seq_id is None:
            for candidate in range(n):
                if candidate not in used:
                    return candidate
            raise InvalidArgumentError(f"all {n} sequences of the context are busy (n_seq_max={n})")
        if isinstance(seq_id, bool) or not isinstance(seq_id, int) or not 0 <= seq_id < n:
            raise InvalidArgumentError(f"seq_id {seq_id!r} out of range (0..{n - 1})")
        if seq_id in used:
            raise InvalidArgumentError(f"sequence {seq_id} is already generating")
        return seq_id

    # -- running ----------------------------------------------------------------------------
    def step(self) -> list[Completion]:
        """Advance every unfinished generation by one ``llama_decode``; returns those that
        finished in it. Finished generations are then forgotten by the scheduler, so a caller
        that keeps submitting between steps (continuous batching) never accumulates them."""
        before = [s for s in self._seqs if not s.done]
        if before:
            self._step()
        self._release_if_idle()
        self._seqs = [s for s in self._seqs if not s.done]
        self._lora = {s: v for s, v in self._lora.items() if not s.done}
        return [s.completion for s in before if s.done and s.completion is not None]

    def run(self) -> list[Completion]:
        """Drive every submitted generation to its end; returns the completions in order."""
        while any(not s.done for s in self._seqs):
            self._step()
        self._release_if_idle()
        return [s.completion for s in self._seqs if s.completion is not None]

    def _step_for(self, completion: Completion) -> None:
        if self._cancelled:
            raise ClosedError("this generation was cancelled: its thread started another one "
                              "on the same context")
        self._step()

    def _cancel(self) -> None:
        """Called by the context lock when the same thread starts a newer job."""
        self._cancelled = True
        for s in self._seqs:
            self._finish(s, "cancelled", flush=False)
        self._restore_base()
        self._holding = False

    def _acquire(self) -> None:
        if not self._holding:
            self.ctx._session.acquire(self)
            self._holding = True
            self._base = _loraset.applied(self.ctx)

    def _release_if_idle(self) -> None:
        if self._holding and all(s.done for s in self._seqs):
            self._restore_base()
            self._holding = False
            self.ctx._session.release(self)

    def _restore_base(self) -> None:
        """Put the context's own adapter set back (adapters closed meanwhile stay off)."""
        base, self._base = self._base, None
        ctx = self.ctx
        if base is None or ctx.closed or _loraset.applied(ctx) == base:
            return
        with contextlib.suppress(ClosedError, InvalidArgumentError):  # the context closed meanwhile
            _loraset.activate(ctx, base, skip_closed=True)

    def _lora_of(self, seq: _Sequence) -> LoraSet:
        """``seq``'s adapter set (the context's own unless it was given one)."""
        lora = self._lora.get(seq)
        if lora is None:
            lora = self._lora[seq] = self._base or ()
        return lora

    def _reusable(self, seq_id: int, lora: LoraSet) -> int:
        return _loraset.reusable(self.ctx, seq_id, lora, self._base or ())

    def _start(self, seq: _Sequence) -> None:
        """Reuse the longest cached prefix of the prompt, drop the rest of the sequence's KV.

        The prefix may come from the sequence's own cache or, in a unified KV cache, from
        another sequence's (its cells are shared, not recomputed): parallel prompts that open
        with the same chat template and system prompt decode that part once.
        """
        memory = self.ctx.memory
        cached = memory._records().get(seq.seq_id, [])
        prompt = seq.prompt
        lora = self._lora_of(seq)
        limit = min(len(prompt) - 1, self._reusable(seq.seq_id, lora))  # the last prompt token
        n_common = _common_prefix(cached, prompt, limit) if seq.reuse else 0  # is always decoded
        donor, n_donor = self._donor(seq, n_common)
        if donor is not None:
            memory._share(donor, seq.seq_id, n_donor)
            n_common = n_donor
        else:
            n_common = memory._keep(seq.seq_id, n_common)
        _loraset.tag(self.ctx, seq.seq_id, lora)
        seq.n_cached = n_common
        seq.pending = prompt[n_common:]
        seq.fed = 0
        seq.pos = n_common

    def _may_share(self, seq: _Sequence) -> bool:
        """Whether ``seq`` may take prompt cells from other sequences (a unified KV cache)."""
        return seq.reuse and self.ctx._kv_unified

    def _donor(self, seq: _Sequence, own: int) -> tuple[int | None, int]:
        """Another sequence whose cached tokens share a longer prompt prefix than ``own``."""
        if not self._may_share(seq):
            return None, 0
        best, best_n = None, own + _MIN_SHARED_PREFIX - 1
        lora = self._lora_of(seq)
        for sid, tokens in self.ctx.memory._records().items():
            if sid != seq.seq_id:
                n = _common_prefix(tokens, seq.prompt,
                                   min(len(seq.prompt) - 1, self._reusable(sid, lora)))
                if n > best_n:
                    best, best_n = sid, n
        return (best, best_n) if best is not None else (None, 0)

    def _should_wait(self, seq: _Sequence) -> bool:
        """Whether ``seq`` should start a step later: a started sequence is still decoding a
        prompt that shares a long prefix with it, which it can then copy instead of decode."""
        if not self._may_share(seq):
            return False
        lora = self._lora_of(seq)
        have = _common_prefix(self.ctx.memory._records().get(seq.seq_id, []), seq.prompt,
                              min(len(seq.prompt) - 1, self._reusable(seq.seq_id, lora)))
        for other in self._seqs:
            if other is seq or other.done or other.pos < 0 or other.generated \
                    or self._lora.get(other) != lora:
                continue
            if _common_prefix(other.prompt, seq.prompt, len(seq.prompt) - 1) >= have + _MIN_SHARED_PREFIX:
                return True
        return False

    def _step(self) -> None:
        self._acquire()
        ctx = self.ctx
        if ctx._take_abort():
            self._cancel_running()
            return
        with ctx._native:
            try:
                self._step_locked()
            except DecodeAborted:
                ctx._take_abort()
                self._cancel_running()

    def _cancel_running(self) -> None:
        """End every unfinished generation ("cancelled"), dropping cells a stopped decode left."""
        mem = lib.llama_get_memory(self.ctx._ptr)
        for s in self._seqs:
            if not s.done:
                if s.pos >= 0:
                    held = self.ctx.memory._records().get(s.seq_id, [])
                    lib.llama_memory_seq_rm(mem, s.seq_id, len(held), -1)
                self._finish(s, "cancelled", flush=True)
        self._release_if_idle()

    def _step_locked(self) -> None:
        ctx = self.ctx
        ctx._ptr  # noqa: B018 - "this context is closed" once another thread closed it
        active = [s for s in self._seqs if not s.done]
        if not active:
            return
        for s in active:
            if s.pos < 0 and not self._should_wait(s):
                self._start(s)
        active = [s for s in active if s.pos >= 0]
        groups: dict[LoraSet, list[_Sequence]] = {}
        for s in active:
            groups.setdefault(self._lora_of(s), []).append(s)
        now = _loraset.applied(ctx)
        for lora in sorted(groups, key=lambda key: key != now):  # the set applied now first
            if lora == _loraset.applied(ctx) or self._switch(lora, groups[lora]):
                self._decode_group(groups[lora])

    def _switch(self, lora: LoraSet, members: list[_Sequence]) -> bool:
        """Apply ``lora`` for ``members``; when it cannot be (an adapter was closed since the
        submit), they end with that error instead."""
        try:
            _loraset.activate(self.ctx, lora)
        except (ClosedError, InvalidArgumentError) as exc:
            for s in members:
                s.error = exc
                self._finish(s, "error")
            return False
        return True

    def _decode_group(self, active: list[_Sequence]) -> None:
        """One ``llama_decode`` of ``active`` (sequences of one adapter set), then sampling."""
        ctx = self.ctx
        batch = ctx._batch
        b = batch._ptr
        budget = batch.capacity
        n = 0
        fed: list[tuple[_Sequence, int]] = []
        # Generating sequences first (one token each), then prompt chunks in the space left.
        for s in sorted(active, key=lambda q: len(q.pending) - q.fed):
            remaining = len(s.pending) - s.fed
            take = min(remaining, budget - n)
            if take <= 0:
                s.logit_index = -1
                continue
            base = s.pos
            sid = s.seq_id
            toks = s.pending
            start = s.fed
            for k in range(take):
                b.token[n] = toks[start + k]
                b.pos[n] = base + k
                b.n_seq_id[n] = 1
                b.seq_id[n][0] = sid
                b.logits[n] = 0
                n += 1
            if take == remaining:
                b.logits[n - 1] = 1
                s.logit_index = n - 1
            else:
                s.logit_index = -1
            fed.append((s, take))
        b.n_tokens = n
        try:
            ctx._decode_batch(batch)
        except BaseException:
            # failed, aborted, or interrupted (KeyboardInterrupt lands as the C call returns):
            # drop whatever this step left in the cache, so it holds what memory records
            mem = lib.llama_get_memory(ctx._ptr)
            for s, _ in fed:
                lib.llama_memory_seq_rm(mem, s.seq_id, s.pos, -1)
            raise
        for s, take in fed:
            ctx.memory._record(s.seq_id, s.pending[s.fed:s.fed + take])
            _loraset.tag(ctx, s.seq_id, self._lora_of(s))
            s.fed += take
            s.pos += take
        n_ctx = ctx.n_ctx_seq
        for s, _ in fed:
            if s.logit_index >= 0:
                try:
                    if s.grammar is not None:
                        token = self._sample_with_grammar(s, n_ctx)
                        if token is None:  # the grammar was closed in the token's place
                            continue
                    elif s.owns_chain:  # built from SamplingParams: ends in a selecting sampler
                        token = int(lib.llama_sampler_sample(s.chain._ptr, ctx._ptr, s.logit_index))
                    else:
                        token = self._sample_checked(s)
                except GrammarError as exc:  # no token left, or a trigger pattern that ran too long
                    s.error = exc
                    self._finish(s, "error")
                    continue
                self._advance(s, token, n_ctx)

    def _cands(self) -> _Candidates:
        cand = self._candidates
        if cand is None:
            cand = self._candidates = _Candidates(self._model)
        return cand

    def _sample_checked(self, s: _Sequence) -> int:
        """Sample with a caller's chain, which may hold a grammar or end without choosing."""
        cand = self._cands()
        chain = s.chain._ptr
        lib.llama_sampler_apply(chain, cand.fill(self.ctx, s.logit_index))
        token = cand.selected()
        if token is None:
            raise _NoTokenLeft("the sampler chain chose no token: it must end in a selecting "
                               "sampler (greedy, dist, mirostat), and its grammar or logit_bias "
                               "must leave one token")
        lib.llama_sampler_accept(chain, token)
        return token

    def _sample_with_grammar(self, s: _Sequence, n_ctx: int) -> int | None:
        """Sample a token the grammar allows and accept it (None: the grammar's closing went
        in its place, see :func:`closing_instead`)."""
        grammar = s.grammar
        assert grammar is not None
        if isinstance(grammar, LazyGrammarSampler) and not grammar.triggered:
            return self._sample_before_trigger(s, grammar)
        token = self._pick_allowed(s, [])
        if s.ngrams is not None:
            token = self._within_ngram_limit(s, token)
        instead = closing_instead(s, token, n_ctx) if s.closer is not None else None
        if instead is not None and self._append_closing(s, instead, "length"):
            return None
        lib.llama_sampler_accept(grammar._ptr, token)
        if s.span is not None:
            lib.llama_sampler_accept(s.span._ptr, token)
        lib.llama_sampler_accept(s.chain._ptr, token)
        return token

    def _within_ngram_limit(self, s: _Sequence, token: int) -> int:
        """``token``, or in its place, when it would take an n-gram past ``grammar_ngram_limit``:
        the first token of the grammar's shortest completion (the way out of the value the
        output loops in), else the best token within the limit. A token the grammar forces
        stays, and so does one where the grammar allows only its own literal characters."""
        assert s.ngrams is not None and s.grammar is not None
        over = s.ngrams.banned(s.generated)
        if token not in over:
            return token
        # the format's own syntax repeats by design (an XML format's parameter after parameter):
        # the limit applies where the grammar leaves the text free, inside values
        if s.closer is not None and not s.closer.at_free_text():
            return token
        out = closing_start(s)
        if out is not None and out not in over and allows(s.grammar._ptr, out):
            return out
        try:
            return self._pick_allowed(s, over)
        except _NoTokenLeft:
            return token

    def _pick_allowed(self, s: _Sequence, bans: list[int]) -> int:
        """The token the samplers choose among those the grammar allows, ``bans`` ruled out.

        Applying a grammar to the whole vocabulary is the costly part of constrained
        decoding; most tokens the model picks are allowed, so the full pass runs only when
        the first choice is rejected. No token reaches the grammar unchecked: accepting one
        it forbids would abort the process.
        """
        assert s.grammar is not None
        cand = self._cands()
        chain, g = s.chain._ptr, s.grammar._ptr
        span = s.span._ptr if s.span is not None else None
        cur = cand.fill(self.ctx, s.logit_index)
        if bans:
            cand.ban(bans)
        if span is not None:
            lib.llama_sampler_apply(span, cur)
        lib.llama_sampler_apply(chain, cur)
        token = cand.selected()
        if token is None or not allows(g, token):
            # Greedy: the answer is the best-scoring allowed token, so try the runners-up
            # one by one before paying for a pass over the whole vocabulary.
            found = cand.best_allowed(g) if s.greedy else None
            if found is None:
                cur = cand.fill(self.ctx, s.logit_index)
                if bans:
                    cand.ban(bans)
                lib.llama_sampler_apply(g, cur)
                if span is not None:
                    lib.llama_sampler_apply(span, cur)
                lib.llama_sampler_apply(chain, cur)
                found = cand.selected()
                if found is None or not allows(g, found):
                    raise _NoTokenLeft("no token is left that the grammar allows: logit_bias or the "
                                       "samplers ruled out every one")
            token = found
        return token

    def _sample_before_trigger(self, s: _Sequence, grammar: LazyGrammarSampler) -> int:
        """Sample freely; a token that completes a trigger must start text the grammar takes,
        else it is ruled out and another is sampled."""
        cand = self._cands()
        chain = s.chain._ptr
        refused: list[int] = []
        for _ in range(_MAX_REFUSED):
            cur = cand.fill(self.ctx, s.logit_index)
            if refused:
                cand.ban(refused)
            lib.llama_sampler_apply(chain, cur)
            token = cand.selected()
            if token is None:
                break
            if token in s.eog or grammar.offer(token):
                lib.llama_sampler_accept(chain, token)
                return token
            refused.append(token)
        raise _NoTokenLeft(f"no token is left to sample: {len(refused)} candidates completed a "
                           "grammar trigger with text the grammar does not allow")

    def _advance(self, s: _Sequence, token: int, n_ctx: int) -> None:
        if token in s.eog:
            self._finish(s, "eog")
            return
        decoded = self._emit(s, token)
        if s.done:
            return
        forced = closing_after(s, token, decoded, n_ctx) if s.closer is not None else None
        if forced and self._append_closing(s, *forced):
            return
        if len(s.generated) >= s.max_tokens or s.pos + 1 >= n_ctx:
            self._finish(s, "length")
        else:
            s.pending = [token]
            s.fed = 0

    def _emit(self, s: _Sequence, token: int) -> str:
        """Record a generated token and send its text (ends the sequence at a stop string);
        returns the token's decoded text."""
        s.generated.append(token)
        s.unsent.append(token)
        decoded = s.decoder.decode(s.piece(token))
        text, stopped = s.stop.push(decoded)
        if text:
            s.out.append(CompletionChunk(text, s.unsent))
            s.texts.append(text)
            s.unsent = []
        if stopped is not None:
            s.stop_string = stopped
            self._finish(s, "stop", flush=False)
        return decoded

    def _append_closing(self, s: _Sequence, tokens: list[int], reason: str) -> bool:
        """Append a grammar's closing and end the sequence (``closed``) with ``reason``; when
        llama.cpp's grammar disagrees with the closing, nothing is appended, the closing is
        given up for the sequence and False returned."""
        assert s.grammar is not None
        g = s.grammar._ptr
        if not grammar_takes(g, tokens):
            s.closer = None
            return False
        for t in tokens:
            lib.llama_sampler_accept(g, t)
            self._emit(s, t)
            if s.done:
                return True
        s.closed = True
        self._finish(s, reason)
        return True

    def _finish(self, s: _Sequence, reason: str, *, flush: bool = True) -> None:
        if s.done:
            return
        if flush:
            tail, stopped = s.stop.push(s.decoder.decode(b"", final=True))
            tail += "" if stopped else s.stop.flush()
            if stopped is not None:
                s.stop_string = stopped
                reason = "stop"
            if tail:
                s.out.append(CompletionChunk(tail, s.unsent))
                s.texts.append(tail)
                s.unsent = []
        s.done = True
        s.finish_reason = reason
        if s.owns_chain:
            s.chain.close()
            for sampler in (s.grammar, s.span):
                if sampler is not None:
                    sampler.close()
