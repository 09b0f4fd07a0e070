"""What a generation returns: :class:`Completion` (iterate it for :class:`CompletionChunk`
pieces), its :class:`Usage`, and the per-sequence state a :class:`~llamaprov.engine.Scheduler`
keeps for it (stop strings held back, UTF-8 decoded, tokens generated)."""

from __future__ import annotations

import codecs
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._text import holdback

if TYPE_CHECKING:
    from ._closing import BudgetCloser
    from ._ngram import NgramLimit
    from ._sampler import Sampler, SamplerChain
    from .generate import Scheduler

__all__ = ["Completion", "CompletionChunk", "Usage"]


@dataclass(frozen=True)
class Usage:
    """Token counts of one generation; ``cached_tokens`` of the prompt came from the KV cache."""

    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class CompletionChunk:
    """A piece of generated text and the token ids it came from."""

    text: str
    tokens: list[int] = field(default_factory=list)


class _StopMatcher:
    """Holds back text that could still become a stop string; cuts at the first stop found."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = [s for s in stops if s]
        self.buf = ""

    def push(self, text: str) -> tuple[str, str | None]:
        if not self.stops:
            return text, None
        buf = self.buf + text
        first: tuple[int, str] | None = None
        for s in self.stops:
            i = buf.find(s)
            if i >= 0 and (first is None or i < first[0]):
                first = (i, s)
        if first is not None:
            self.buf = ""
            return buf[: first[0]], first[1]
        hold = holdback(buf, self.stops)
        self.buf = buf[len(buf) - hold:] if hold else ""
        return (buf[: len(buf) - hold] if hold else buf), None

    def flush(self) -> str:
        out, self.buf = self.buf, ""
        return out


class _Sequence:
    """Per-sequence state inside a scheduler."""

    __slots__ = (
        "chain",
        "closed",
        "closer",
        "completion",
        "decoder",
        "done",
        "eog",
        "error",
        "fed",
        "finish_reason",
        "generated",
        "grammar",
        "greedy",
        "logit_index",
        "max_tokens",
        "n_cached",
        "n_prompt",
        "ngrams",
        "out",
        "owns_chain",
        "pending",
        "piece",
        "pos",
        "prompt",
        "reuse",
        "seq_id",
        "span",
        "stop",
        "stop_string",
        "texts",
        "unsent",
    )

    def __init__(self, seq_id: int, prompt: list[int], chain: SamplerChain, owns_chain: bool,
                 max_tokens: int, stops: Sequence[str], eog: frozenset[int], piece: Any,
                 grammar: Sampler | None = None) -> None:
        self.seq_id = seq_id
        self.prompt = prompt
        self.chain = chain
        self.grammar = grammar
        self.span: Sampler | None = None  # applied only inside the grammar's span (dry_scope)
        self.closer: BudgetCloser | None = None  # SamplingParams.grammar_close
        self.ngrams: NgramLimit | None = None  # SamplingParams.grammar_ngram_limit
        self.closed = False  # the grammar's shortest completion was forced at the budget
        self.greedy = False
        self.owns_chain = owns_chain
        self.max_tokens = max_tokens
        self.stop = _StopMatcher(stops)
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.eog = eog
        self.piece = piece
        self.pending: list[int] = []
        self.fed = 0
        self.pos = 0
        self.generated: list[int] = []
        self.unsent: list[int] = []
        self.out: deque[CompletionChunk] = deque()
        self.texts: list[str] = []
        self.done = False
        self.error: Exception | None = None
        self.finish_reason: str | None = None
        self.stop_string: str | None = None
        self.logit_index = -1
        self.n_prompt = len(prompt)
        self.n_cached = 0
        self.completion: Completion | None = None
        self.reuse = True


class Completion:
    """A running or finished generation: iterate it for :class:`CompletionChunk` pieces.

    After the iteration ends (or :meth:`result`), ``text``, ``tokens``, ``finish_reason``
    ("eog", "stop", "length", "cancelled" or "error"), ``stop_string`` and ``usage`` are final.
    A generation that cannot go on (e.g. a grammar with every allowed token banned by
    ``logit_bias``) ends with finish_reason "error"; iterating it then raises its ``error``.
    Use it as a context manager (or call :meth:`close`) to release the context early.
    """

    def __init__(self, scheduler: Scheduler, seq: _Sequence) -> None:
        self._scheduler = scheduler
        self._seq = seq

    def __iter__(self) -> Iterator[CompletionChunk]:
        return self

    def __next__(self) -> CompletionChunk:
        seq = self._seq
        while not seq.out:
            if seq.done:
                self._scheduler._release_if_idle()
                if seq.error is not None:
                    raise seq.error
                raise StopIteration
            self._scheduler._step_for(self)
        return seq.out.popleft()

    def result(self) -> Completion:
        """Run to the end; returns self."""
        for _ in self:
            pass
        return self

    def close(self) -> None:
        """Stop this generation (finish_reason "cancelled" if it was still running)."""
        self._scheduler._finish(self._seq, "cancelled", flush=False)
        self._scheduler._release_if_idle()

    def __enter__(self) -> Completion:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if not self._seq.done:
                self.close()
        except Exception:
            pass

    @property
    def done(self) -> bool:
        """True once the generation has finished."""
        return self._seq.done

    @property
    def text(self) -> str:
        """Text generated so far (all of it once done)."""
        return "".join(self._seq.texts)

    @property
    def tokens(self) -> list[int]:
        """Generated token ids (end-of-generation token excluded)."""
        return list(self._seq.generated)

    @property
    def finish_reason(self) -> str | None:
        """Why it stopped: "eog", "stop", "length", "cancelled", "error"; None while running."""
        return self._seq.finish_reason

    @property
    def closed(self) -> bool:
        """Whether the token budget ran out inside grammar-constrained output and the grammar's
        shortest completion was appended (``SamplingParams(grammar_close=True)``): the text is
        complete for the grammar, and finish_reason is "length"."""
        return self._seq.closed

    @property
    def error(self) -> Exception | None:
        """The error that ended it (finish_reason "error"), raised by iteration and result()."""
        return self._seq.error

    @property
    def stop_string(self) -> str | None:
        """The stop string that ended it, if any."""
        return self._seq.stop_string

    @property
    def usage(self) -> Usage:
        """Prompt, cached prompt and completion token counts."""
        s = self._seq
        return Usage(prompt_tokens=s.n_prompt, cached_tokens=s.n_cached,
                     completion_tokens=len(s.generated))

    @property
    def seq_id(self) -> int:
        """The sequence of the context this generation ran in."""
        return self._seq.seq_id
