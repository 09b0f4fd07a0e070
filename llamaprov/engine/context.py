"""`Context`: an inference session on a model (KV cache, threads, decode, generation)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from . import adapters as _adapters
from . import state as _state
from ._context import ContextCore
from .completion import Completion
from .embed import _embed_with_context
from .generate import Scheduler
from .sampling import SamplerChain, SamplingParams

__all__ = ["Context"]


class Context(ContextCore):
    """A llama.cpp context: KV cache and compute buffers for one or more sequences.

    Create with :meth:`Model.new_context`. A context is used by one job at a time; concurrent
    calls from several threads are serialized by a lock. For parallelism across threads, give
    each thread its own context on the shared model.

    Args:
        n_ctx: context window in tokens (default: the training length, at most 4096).
        n_batch: logical batch size (tokens per ``llama_decode`` call).
        n_ubatch: physical batch size (tokens per compute step).
        n_seq_max: how many sequences can share the context (parallel generation).
        n_threads: CPU threads for generation.
        n_threads_batch: CPU threads for prompt processing.
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
                   lora: Mapping[_adapters.LoraAdapter, float] | None = None,
                   **sampling_kw: Any) -> Completion:
        """Start a generation; iterate the returned :class:`Completion` for text chunks.

        ``prompt`` as text is tokenized with special tokens parsed (chat templates contain
        them). With ``reuse_cache`` only the tokens after the longest prefix already in the KV
        cache of ``seq_id`` (decoded with the same LoRA adapters) are decoded. ``lora``
        (``{adapter: scale}``, ``{}`` for none) is this generation's whole adapter set, in
        place of the adapters applied to the context (see :meth:`Scheduler.submit`).
        """
        return Scheduler(self, _private=True).submit(
            prompt, max_tokens=max_tokens, stop=stop, sampling=sampling, seq_id=seq_id,
            reuse_cache=reuse_cache, special=special, lora=lora, **sampling_kw)

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

    # -- state ---------------------------------------------------------------------------------
    def state_size(self) -> int:
        """Bytes :meth:`get_state` returns now."""
        return _state.state_size(self)

    def get_state(self) -> bytes:
        """The whole state (every sequence's KV cache, the last outputs) as bytes."""
        return _state.get_state(self)

    def set_state(self, data: bytes) -> None:
        """Restore :meth:`get_state` bytes (same model and settings); refused data raises
        :class:`~llamaprov.errors.StateError` and leaves the context empty but usable."""
        _state.set_state(self, data)

    def save_state(self, path: str | os.PathLike[str], tokens: Sequence[int]) -> None:
        """Write the whole state and ``tokens`` (what sequence 0 holds) to a session file."""
        _state.save_state(self, path, tokens)

    def load_state(self, path: str | os.PathLike[str]) -> list[int]:
        """Restore a :meth:`save_state` file; returns its tokens (then reused as a prompt prefix)."""
        return _state.load_state(self, path)

    def seq_state_size(self, seq: int, flags: int | str | Iterable[str] = 0) -> int:
        """Bytes :meth:`get_seq_state` returns now for ``seq``."""
        return _state.seq_state_size(self, seq, flags)

    def get_seq_state(self, seq: int, flags: int | str | Iterable[str] = 0) -> bytes:
        """Sequence ``seq``'s KV cache as bytes (``flags``: "swa_only", "on_device", "partial_only")."""
        return _state.get_seq_state(self, seq, flags)

    def set_seq_state(self, data: bytes, seq: int, flags: int | str | Iterable[str] = 0) -> None:
        """Restore :meth:`get_seq_state` bytes into sequence ``seq`` (any sequence: a copy)."""
        _state.set_seq_state(self, data, seq, flags)

    def save_seq_state(self, path: str | os.PathLike[str], seq: int, tokens: Sequence[int]) -> int:
        """Write sequence ``seq`` and its ``tokens`` to a file; returns the bytes written."""
        return _state.save_seq_state(self, path, seq, tokens)

    def load_seq_state(self, path: str | os.PathLike[str], seq: int) -> list[int]:
        """Restore a :meth:`save_seq_state` file into sequence ``seq``; returns its tokens."""
        return _state.load_seq_state(self, path, seq)

    # -- adapters ------------------------------------------------------------------------------
    def apply_lora(self, adapter: _adapters.LoraAdapter, scale: float = 1.0) -> None:
        """Apply a LoRA adapter of this context's model at ``scale`` (again: a new scale)."""
        _adapters.apply(self, adapter, scale)

    def remove_lora(self, adapter: _adapters.LoraAdapter) -> None:
        """Take ``adapter`` off this context."""
        _adapters.remove(self, adapter)

    def clear_lora(self) -> None:
        """Take every LoRA adapter off this context."""
        _adapters.clear(self)

    @property
    def loras(self) -> dict[_adapters.LoraAdapter, float]:
        """The applied LoRA adapters and their scales."""
        return dict(self._loras)

    def apply_control_vector(self, data_or_path: Any, *, strength: float = 1.0,
                             layer_start: int | None = None, layer_end: int | None = None) -> None:
        """Add a control vector (a control-vector GGUF path, ``{layer: vector}`` or an
        ``(n_layer, n_embd)`` array) times ``strength`` to layers ``layer_start..layer_end``."""
        _adapters.apply_control_vector(self, data_or_path, strength, layer_start, layer_end)

    def clear_control_vector(self) -> None:
        """Remove the control vector."""
        _adapters.clear_control_vector(self)
