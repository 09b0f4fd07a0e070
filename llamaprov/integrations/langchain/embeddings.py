"""LangChain embeddings on a local GGUF model: :class:`LlamaProvEmbeddings`, a LangChain
``Embeddings`` around llamaprov's one embedder,
:class:`~llamaprov.integrations.embedding.LlamaProvEmbedder`."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from llamaprov.errors import ClosedError, InvalidArgumentError, describe
from llamaprov.integrations.embedding import LlamaProvEmbedder
from llamaprov.models import check_model, model_name

from ._shared import load_options, shared_model

if TYPE_CHECKING:
    from llamaprov.engine import Model

__all__ = ["LlamaProvEmbeddings"]


class LlamaProvEmbeddings(BaseModel, Embeddings):
    """LangChain embeddings from a local GGUF model: one pooled vector per text.

    Texts are embedded by a :class:`~llamaprov.integrations.embedding.LlamaProvEmbedder` (the
    embedder of RAG stores and Chroma) in batches of ``batch_size`` sequences per decode.
    ``pooling`` is the model's own when it declares one, else "mean"; vectors are L2-normalized
    unless ``normalize=False``.

    :meth:`close` (or leaving a ``with`` block) ends this object: later calls raise
    :class:`~llamaprov.errors.ClosedError`. It owns no model: one loaded from a path or repo id is
    shared with every other instance naming it and stays loaded, and a ``Model`` passed in belongs
    to the caller.

    Example:
        ```python
        from llamaprov import LlamaProvEmbeddings

        emb = LlamaProvEmbeddings()          # the packaged default model
        vectors = emb.embed_documents(["a cat", "a dog"])
        ```
    """

    model: Any = None
    """A GGUF path, a loaded ``llamaprov.Model``, a Hub repo id or None for the default model."""
    batch_size: int = Field(default=32, ge=1)
    pooling: Literal["mean", "cls", "last", "rank"] | None = None
    normalize: bool = True
    n_ctx: int | None = Field(default=None, ge=16)
    """Longest text in tokens (longer ones are truncated with a warning)."""
    n_threads: int | None = Field(default=None, ge=1)
    n_gpu_layers: int = 0
    embedding_graph: Literal["model", "copy"] | None = None
    """With ``"copy"`` llama models decode through a cached encoder-only copy of the model file
    (same vectors, about 15% faster, a file as big as the model in the cache); None follows
    ``$LLAMAPROV_EMBEDDING_GRAPH``, else the model's own graph."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    _closed: bool = PrivateAttr(default=False)

    @model_validator(mode="after")
    def _validate(self) -> LlamaProvEmbeddings:
        check_model(self.model)
        return self

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """End this object; safe to call twice. Later calls raise
        :class:`~llamaprov.errors.ClosedError`.

        Nothing is freed under other users: the model is shared (or the caller's) and stays
        loaded; each call's context is already freed when the call returns, and a call running
        in another thread finishes normally.
        """
        self._closed = True

    def __enter__(self) -> LlamaProvEmbeddings:
        self._check_open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError(f"LlamaProvEmbeddings on {model_name(self.model)!r} is closed")

    def _load(self) -> Model:
        self._check_open()
        return shared_model(self.model, **load_options(self.n_gpu_layers))

    def _embedder(self) -> LlamaProvEmbedder:
        """The :class:`LlamaProvEmbedder` of one call, on the shared model. A new one per call
        (cheap: the model is loaded once) because an embedder runs its calls one at a time, and
        calls of this object from several threads each decode on a context of their own."""
        return LlamaProvEmbedder(self._load(), pooling=self.pooling, normalize=self.normalize,
                                 batch_size=self.batch_size, n_threads=self.n_threads,
                                 embedding_graph=self.embedding_graph, n_ctx=self.n_ctx)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text."""
        self._check_open()
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise InvalidArgumentError(
                f"embed_documents needs a list of str, got {describe(texts)}"
            )
        if not texts:
            return []
        return self._embedder().embed_documents(list(texts))

    def embed_query(self, text: str) -> list[float]:
        """The vector of one text."""
        self._check_open()
        if not isinstance(text, str):
            raise InvalidArgumentError(f"embed_query needs a str, got {describe(text)}")
        return self.embed_documents([text])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """:meth:`embed_documents` on a worker thread (the event loop keeps running)."""
        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        """:meth:`embed_query` on a worker thread."""
        return await asyncio.to_thread(self.embed_query, text)
