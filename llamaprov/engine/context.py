"""`Context`: an inference session on a model (KV cache, threads, decode, generation)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ._context import ContextCore
from .embed import _embed_with_context
from .generate import Completion, Scheduler
from .sampling import SamplerChain, SamplingParams

__all__ = ["Context"]


class Context(ContextCore):
    """A llama.cpp context: KV cache and compute buffers for one or more sequences.

    Create with :meth:`Model.new_context`. A context is used by one job at a time; concurrent
    calls from several threads are serialized by a lock. For parallelism across threads, give
    each thread its own context on the shared model.

    Args:
        n_ctx: context window in tokens (default: the training length, at most 4096).
        n_batch, n_ubatch: logical and physical batch sizes.
        n_seq_max: how many sequences can share the context (parallel generation).
        n_threads, n_threads_batch: CPU threads for generation and prompt processing.
        embeddings: extract embeddings; ``pooling``: none, mean, cls, last or rank
            (default: the model's own, else mean).
        flash_attn: "auto", True or False. ``type_k``/``type_v``: KV cache types ("f16", "q8_0", ...).
        seed: default sampling seed for this context (None: random per generation).
    """

    # -- embeddings -------------------------------------------------------------------------
    def embed(self, texts: str | Sequence[str], *, pooling: str | None = None,
              normalize: bool = True, truncate: bool = True) -> np.ndarray:
        """One pooled vector per text: shape (n_embd,) for a str, (n, n_embd) for a list.

        The context must be made with ``embeddings=True``; ``pooling`` must match its pooling
        (see :func:`embed_batch` for any pooling without managing contexts).
        """
        return _embed_with_context(self, texts, pooling=pooling, normalize=normalize,
                                   truncate=truncate)

    # -- generation -------------------------------------------------------------------------
    def completion(self, prompt: str | Sequence[int], *, max_tokens: int = 256,
                   stop: str | Sequence[str] | None = None,
                   sampling: SamplingParams | SamplerChain | None = None, seq_id: int = 0,
                   reuse_cache: bool = True, special: bool = False,
                   **sampling_kw: Any) -> Completion:
        """Start a generation; iterate the returned :class:`Completion` for text chunks.

        ``prompt`` as text is tokenized with special tokens parsed (chat templates contain
        them). With ``reuse_cache`` only the tokens after the longest prefix already in the KV
        cache of ``seq_id`` are decoded.
        """
        return Scheduler(self, _private=True).submit(
            prompt, max_tokens=max_tokens, stop=stop, sampling=sampling, seq_id=seq_id,
            reuse_cache=reuse_cache, special=special, **sampling_kw)

    def generate(self, prompt: str | Sequence[int], **kwargs: Any) -> str:
        """Generate and return the whole text (same arguments as :meth:`completion`)."""
        with self.completion(prompt, **kwargs) as completion:
            return completion.result().text

    def stream(self, prompt: str | Sequence[int], **kwargs: Any) -> Iterator[str]:
        """Generate, yielding UTF-8-safe text pieces (same arguments as :meth:`completion`)."""
        with self.completion(prompt, **kwargs) as completion:
            for chunk in completion:
                yield chunk.text

    def scheduler(self) -> Scheduler:
        """A :class:`Scheduler` running several sequences on this context together."""
        return Scheduler(self)

