"""Text embeddings from a local GGUF model, as a plain callable.

:func:`embed_llamaprov` returns a :class:`LlamaProvEmbedder`: ``embedder(["a", "b"])`` is a
``(2, dim)`` float32 array. It is the ``embed`` of :class:`llamaprov.integrations.rag.RagStore` and
also satisfies Chroma's ``EmbeddingFunction`` protocol (``__call__(self, input)``, ``name``,
``get_config``, ``build_from_config``), so it can be passed as ``embedding_function=`` to a Chroma
collection.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from llamaprov.errors import ClosedError, InvalidArgumentError, StoreError, describe

if TYPE_CHECKING:
    from llamaprov.engine import Model

_KIND = "llamaprov"


class LlamaProvEmbedder:
    """Callable ``texts -> numpy.ndarray`` (one pooled vector per text) over a llama.cpp model.

    Records what it takes to rebuild it (:meth:`spec`) and a stable identity (:attr:`embedder_id`:
    the model's GGUF ``general.name`` and file size, pooling, normalisation) that stores compare on
    connect. Safe to share between threads (calls are serialised).

    :meth:`close` (or leaving a ``with`` block) frees the model the embedder loaded from a path or
    Hub repo id; a :class:`~llamaprov.engine.Model` passed in stays open for its owner. Calls after
    close raise :class:`~llamaprov.errors.ClosedError`.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | Model | None = None,
        *,
        pooling: str | None = None,
        normalize: bool = True,
        batch_size: int | None = None,
        n_threads: int | None = None,
        embedding_graph: str | None = None,
        n_ctx: int | None = None,
    ) -> None:
        """See :func:`embed_llamaprov`."""
        from llamaprov.engine import Model
        from llamaprov.engine.embed import resolve_embedding_graph
        from llamaprov.models import resolve_model

        if pooling is not None and not isinstance(pooling, str):
            raise InvalidArgumentError(f"pooling must be a string or None, got {describe(pooling)}")
        if not isinstance(normalize, bool):
            raise InvalidArgumentError(f"normalize must be a bool, got {describe(normalize)}")
        if batch_size is not None and (
            not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1
        ):
            raise InvalidArgumentError(
                f"batch_size must be a positive int, got {describe(batch_size)}"
            )
        if n_ctx is not None and (not isinstance(n_ctx, int) or isinstance(n_ctx, bool) or n_ctx < 1):
            raise InvalidArgumentError(f"n_ctx must be a positive int or None, got {describe(n_ctx)}")
        if embedding_graph is not None:
            resolve_embedding_graph(embedding_graph)  # fail here, not at the first call
        # a Model passed in is the caller's (it closes it); one loaded here (unshared) is ours
        self._owns_model = not isinstance(model, Model)
        self._model = resolve_model(model)
        self.pooling = pooling
        self.normalize = normalize
        self.batch_size = batch_size
        self.n_threads = n_threads
        self.embedding_graph = embedding_graph
        self.n_ctx = n_ctx
        self._lock = threading.Lock()
        self._closed = False
        path = Path(self._model.path).resolve()
        self.model_path = path
        name = self._model.meta_get("general.name") or path.stem
        size = path.stat().st_size if path.is_file() else 0
        self.model_id = f"{name}:{size}"
        self.dim = int(self._model.n_embd)

    @property
    def model(self) -> Model:
        """The loaded model."""
        return self._model

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """Release the embedder; safe to call twice, and waits for a call running in another thread.

        The model it loaded (from a path or repo id) is freed; a :class:`~llamaprov.engine.Model`
        passed to it is left open (its owner may still use it). Later calls raise
        :class:`~llamaprov.errors.ClosedError`.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._owns_model:
                self._model.close()

    def __enter__(self) -> LlamaProvEmbedder:
        self._check_open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError(f"embedder {self.embedder_id!r} is closed")

    @property
    def embedder_id(self) -> str:
        """Identity of the vectors this embedder makes: model, pooling, normalisation."""
        norm = "normalized" if self.normalize else "raw"
        return f"{_KIND}:{self.model_id}:pooling={self.pooling or 'default'}:{norm}"

    def __call__(self, input: str | Sequence[str]) -> np.ndarray:
        """Embed texts: a ``(len(input), dim)`` float32 array (a single str gives one row)."""
        from llamaprov.engine import embed_batch

        self._check_open()
        texts = [input] if isinstance(input, str) else list(input)
        for text in texts:
            if not isinstance(text, str):
                raise InvalidArgumentError(f"texts to embed must be str, got {describe(text)}")
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        kwargs: dict[str, Any] = {"pooling": self.pooling, "normalize": self.normalize}
        if self.batch_size is not None:
            kwargs["batch_size"] = self.batch_size
        if self.n_threads is not None:
            kwargs["n_threads"] = self.n_threads
        if self.embedding_graph is not None:
            kwargs["embedding_graph"] = self.embedding_graph
        if self.n_ctx is not None:
            kwargs["n_ctx"] = self.n_ctx
        with self._lock:
            self._check_open()  # closed while this call waited for the lock
            out = embed_batch(self._model, texts, **kwargs)
        return np.asarray(out, dtype=np.float32)

    def embed_query(self, input: str | Sequence[str]) -> np.ndarray:
        """Same as calling the embedder (the model embeds queries and documents alike)."""
        return self(input)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """LangChain-style: one list of floats per text."""
        return self(list(texts)).tolist()

    def spec(self) -> dict[str, Any]:
        """JSON-serialisable description that :func:`embedder_from_spec` rebuilds this from."""
        return {
            "kind": _KIND,
            "model_path": str(self.model_path),
            "model_id": self.model_id,
            "pooling": self.pooling,
            "normalize": self.normalize,
            "batch_size": self.batch_size,
            "embedding_graph": self.embedding_graph,
            "dim": self.dim,
            # only when set, so the specs recorded by earlier versions stay the same
            **({"n_ctx": self.n_ctx} if self.n_ctx is not None else {}),
        }

    # -- Chroma EmbeddingFunction protocol --------------------------------------------------
    @staticmethod
    def name() -> str:
        """Name under which Chroma records this embedding function."""
        return _KIND

    def get_config(self) -> dict[str, Any]:
        """Chroma config: the same as :meth:`spec`."""
        return self.spec()

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> LlamaProvEmbedder:
        """Rebuild from :meth:`get_config` (Chroma protocol)."""
        built = embedder_from_spec(config)
        assert isinstance(built, LlamaProvEmbedder)
        return built

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        """Chroma protocol: check a config can be rebuilt."""
        if (
            not isinstance(config, Mapping)
            or config.get("kind") != _KIND
            or "model_path" not in config
        ):
            raise InvalidArgumentError(f"not a llamaprov embedder config: {describe(config)}")

    def validate_config_update(
        self, old_config: dict[str, Any], new_config: dict[str, Any]
    ) -> None:
        """Chroma protocol: a different model or pooling would change the vectors."""
        for key in ("model_id", "pooling", "normalize"):
            if old_config.get(key) != new_config.get(key):
                raise InvalidArgumentError(f"cannot change {key!r} of an embedding function in use")

    def is_legacy(self) -> bool:
        """Chroma protocol: this embedder implements the current protocol."""
        return False

    def default_space(self) -> str:
        """Chroma protocol: vectors are compared by cosine similarity."""
        return "cosine"

    def supported_spaces(self) -> list[str]:
        """Chroma protocol: distance spaces that make sense for these vectors."""
        return ["cosine", "ip", "l2"]

    def __repr__(self) -> str:
        state = ", closed" if self._closed else ""
        return f"LlamaProvEmbedder({self.embedder_id!r}, dim={self.dim}{state})"


def embed_llamaprov(
    model: str | os.PathLike[str] | Model | None = None,
    *,
    pooling: str | None = None,
    normalize: bool = True,
    batch_size: int | None = None,
    n_threads: int | None = None,
    embedding_graph: str | None = None,
    n_ctx: int | None = None,
) -> LlamaProvEmbedder:
    """An embedder over a local GGUF model: ``model`` is a GGUF path, a loaded ``Model``, a Hugging
    Face repo id (``"owner/name"``, downloaded into the Hub cache) or None for the packaged
    SmolLM2-135M (see :func:`llamaprov.models.resolve_model`).

    ``pooling`` is passed to :func:`llamaprov.engine.embed_batch` (None: the model's own, or the
    engine's default when the model declares none); ``normalize`` scales vectors to unit length;
    ``batch_size`` is the engine's batch (None: its default); ``n_threads`` its CPU threads (not
    part of the embedder's identity). ``embedding_graph="copy"`` opts in to decoding llama models
    through a cached encoder-only copy of the model file (same vectors, about 15% faster, a file
    as big as the model written to the cache); None follows ``$LLAMAPROV_EMBEDDING_GRAPH``, else
    the model's own graph (see :func:`llamaprov.engine.embed.resolve_embedding_graph`). Not part
    of the identity either. ``n_ctx`` is the longest text in tokens (None: the model's training
    length, at most 2048); longer texts are truncated with a warning. The result is a callable
    ``list[str] -> (n, dim) ndarray``; its ``close()`` frees a model it loaded from a path or repo
    id (a ``Model`` passed in stays open).
    """
    return LlamaProvEmbedder(
        model,
        pooling=pooling,
        normalize=normalize,
        batch_size=batch_size,
        n_threads=n_threads,
        embedding_graph=embedding_graph,
        n_ctx=n_ctx,
    )


def embedder_id(embed: Callable[..., Any]) -> str:
    """A stable identity of an embedder, recorded by stores to refuse mixing vector spaces.

    ``embed.embedder_id`` when it has one; ``chroma:<name()>`` for Chroma embedding functions;
    otherwise the qualified name of the function or class.
    """
    ident = getattr(embed, "embedder_id", None)
    if isinstance(ident, str) and ident:
        return ident
    name = getattr(embed, "name", None)
    if callable(name) and callable(getattr(embed, "get_config", None)):
        try:
            value = name()
        except Exception:
            value = None
        if isinstance(value, str) and value:
            return f"chroma:{value}"
    target = embed if hasattr(embed, "__qualname__") else type(embed)
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"


def embedder_spec(embed: Callable[..., Any]) -> dict[str, Any] | None:
    """What :func:`embedder_from_spec` needs to rebuild ``embed``, or None for a custom callable."""
    spec = getattr(embed, "spec", None)
    if callable(spec):
        value = spec()
        if isinstance(value, dict):
            json.dumps(value)
            return value
    return None


def embedder_from_spec(spec: Mapping[str, Any]) -> LlamaProvEmbedder:
    """Rebuild an embedder recorded by :func:`embedder_spec` (the model file must still exist).

    The embedder loads a model of its own: close it when done to free the model.
    """
    if not isinstance(spec, Mapping) or spec.get("kind") != _KIND:
        raise StoreError(f"cannot rebuild an embedder from {describe(spec)}")
    return LlamaProvEmbedder(
        spec["model_path"],
        pooling=spec.get("pooling"),
        normalize=bool(spec.get("normalize", True)),
        batch_size=spec.get("batch_size"),
        embedding_graph=spec.get("embedding_graph"),
        n_ctx=spec.get("n_ctx"),
    )
