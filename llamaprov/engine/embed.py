"""Embeddings: one pooled vector per text, many texts per decode."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._progress import ProgressBar
from ..errors import ContextOverflowError, InvalidArgumentError, ModelLoadError
from ._ffi import lib

if TYPE_CHECKING:
    from ._context import ContextCore as Context
    from .model import Model

__all__ = ["embed_batch", "resolve_embedding_graph"]

_log = logging.getLogger("llamaprov.engine")

# Architectures llama.cpp also builds as plain encoders of hidden states. Decoding embeddings
# with the usual graph computes the LM head for every token (embeddings contexts output all
# tokens) although no logit is read: for SmolLM2-135M, whose 49k-token head is a fifth of its
# weights, that is about 16% of the decode time. The same weights under the sibling
# architecture give the same vectors without it, but llama.cpp builds that graph only for a file
# that says so (kv_overrides do not reach the per-layer head counts): it takes a copy of the file.
_EMBEDDING_GRAPHS = {"llama": "llama-embed"}
GRAPH_ENV = "LLAMAPROV_EMBEDDING_GRAPH"
_GRAPHS = ("model", "copy")


def resolve_embedding_graph(graph: str | None = None) -> str:
    """Which graph embeddings decode with: ``graph`` when given, else ``$LLAMAPROV_EMBEDDING_GRAPH``,
    else ``"model"``.

    ``"model"`` (the default) decodes with the model itself and writes nothing. ``"copy"`` opts in
    to llama.cpp's encoder graph for the architecture (``llama`` -> ``llama-embed``: the same
    weights without the LM head; the same vectors, about 15% faster for SmolLM2-135M): a copy of
    the model file under that architecture is written to ``files.cache_dir()/embedding`` (as big
    as the model; once per file content, after a free-space check) and loaded once per model.
    Models of other architectures use their own graph either way.
    """
    explicit = graph is not None
    value = graph if explicit else os.environ.get(GRAPH_ENV, "").strip() or "model"
    if value not in _GRAPHS:
        where = "embedding_graph" if explicit else f"${GRAPH_ENV}"
        raise InvalidArgumentError(f"{where} must be 'model' or 'copy', got {value!r}")
    return value


def _as_texts(texts: str | Sequence[str]) -> tuple[list[str], bool]:
    if isinstance(texts, str):
        return [texts], True
    if isinstance(texts, (bytes, bytearray)) or not isinstance(texts, Sequence):
        raise InvalidArgumentError(f"texts must be a str or a list of str, got {type(texts).__name__}")
    items = list(texts)
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise InvalidArgumentError(f"text {i} is not a str: {t!r}")
    return items, False


def _tokenize_all(model: Model, texts: list[str], limit: int, truncate: bool) -> list[list[int]]:
    out = []
    for i, text in enumerate(texts):
        toks = model.tokenize(text, add_special=True, parse_special=False)
        if not toks:
            raise InvalidArgumentError(f"text {i} is empty: {text!r}")
        if len(toks) > limit:
            if not truncate:
                raise ContextOverflowError(
                    f"text {i} has {len(toks)} tokens, more than the {limit} that fit",
                    n_tokens=len(toks), n_ctx=limit)
            warnings.warn(f"text {i} truncated from {len(toks)} to {limit} tokens", stacklevel=3)
            toks = toks[:limit]
        out.append(toks)
    return out


def _pool(rows: np.ndarray, pooling: str) -> np.ndarray:
    if pooling == "mean":
        return rows.mean(axis=0)
    if pooling == "cls":
        return rows[0]
    if pooling == "last":
        return rows[-1]
    return rows  # "none": one row per token


def _embed_tokens(ctx: Context, token_lists: list[list[int]], pooling: str, normalize: bool,
                  progress: Any = None) -> list[np.ndarray]:
    """Decode many sequences per batch and pool each one's token embeddings."""
    batch = ctx._batch
    b = batch._ptr
    cap = batch.capacity
    n_seq = 1 if pooling == "rank" else ctx.n_seq_max
    mem = lib.llama_get_memory(ctx._ptr)
    results: list[np.ndarray] = [np.empty(0)] * len(token_lists)
    i = 0
    with ctx._locked():
        ctx.memory._forget_all()
        while i < len(token_lists):
            lib.llama_memory_clear(mem, True)
            n = 0
            members: list[tuple[int, int, int]] = []  # (text index, first row, n rows)
            while i < len(token_lists) and len(members) < n_seq and n + len(token_lists[i]) <= cap:
                toks = token_lists[i]
                sid = len(members)
                for k, t in enumerate(toks):
                    b.token[n + k] = t
                    b.pos[n + k] = k
                    b.n_seq_id[n + k] = 1
                    b.seq_id[n + k][0] = sid
                    b.logits[n + k] = 1
                members.append((i, n, len(toks)))
                n += len(toks)
                i += 1
            b.n_tokens = n
            ctx._decode_batch(batch)
            if pooling == "rank":
                vectors = [ctx.embeddings_seq(sid) for sid in range(len(members))]
            else:
                rows = ctx.embeddings_all()
                vectors = [_pool(rows[first:first + count], pooling) for _, first, count in members]
            for (idx, _, _), vec in zip(members, vectors, strict=True):
                results[idx] = vec
            if progress is not None:
                progress.update(len(members))
        lib.llama_memory_clear(mem, True)
    if normalize and pooling != "rank":
        for k, vec in enumerate(results):
            norm = np.linalg.norm(vec, axis=-1, keepdims=True)
            results[k] = vec / np.where(norm == 0, 1.0, norm)
    return results


def _embed_with_context(ctx: Context, texts: str | Sequence[str], *, pooling: str | None,
                        normalize: bool, truncate: bool) -> np.ndarray:
    if not ctx.embeddings:
        raise InvalidArgumentError("this context was not made with embeddings=True")
    pooling = pooling or ctx.pooling_type
    if pooling not in ("none", "mean", "cls", "last", "rank"):
        raise InvalidArgumentError(f"unknown pooling {pooling!r}")
    if (pooling == "rank") != (ctx.pooling_type == "rank"):
        raise InvalidArgumentError(
            f"pooling {pooling!r} needs a context made with pooling={pooling!r}; this one has "
            f"{ctx.pooling_type!r}")
    items, single = _as_texts(texts)
    if not items:
        return np.zeros((0, ctx._embd_width()), dtype=np.float32)
    token_lists = _tokenize_all(ctx.model, items, min(ctx._batch.capacity, ctx.n_ctx), truncate)
    vectors = _embed_tokens(ctx, token_lists, pooling, normalize)
    if pooling == "none":
        return vectors[0] if single else np.array(vectors, dtype=object)
    stacked = np.stack(vectors).astype(np.float32, copy=False)
    return stacked[0] if single else stacked


def embed_batch(model: Model, texts: Sequence[str], *, batch_size: int = 64,
                pooling: str | None = None, normalize: bool = True, progress: bool = False,
                truncate: bool = True, n_ctx: int | None = None,
                n_threads: int | None = None, embedding_graph: str | None = None) -> np.ndarray:
    """Embed many texts, packing up to ``batch_size`` texts into each decode.

    Returns an (n_texts, n_embd) float32 array, one pooled vector per text (mean pooling for
    decoder-only models unless ``pooling`` says otherwise). Texts longer than the context are
    truncated with a warning, or rejected with ``truncate=False``. ``progress=True`` shows a
    progress bar (needs ``tqdm``). ``embedding_graph="copy"`` (or ``$LLAMAPROV_EMBEDDING_GRAPH``)
    decodes llama models through a cached encoder-only copy of the file: see
    :func:`resolve_embedding_graph`.
    """
    graph = resolve_embedding_graph(embedding_graph)
    items, _ = _as_texts(texts)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be a positive int, got {batch_size!r}")
    if pooling == "none":
        raise InvalidArgumentError("embed_batch returns pooled vectors; use ctx.embed for pooling='none'")
    if not items:
        return np.zeros((0, model.n_embd), dtype=np.float32)
    limit = n_ctx or min(model.n_ctx_train or 2048, 2048)
    token_lists = _tokenize_all(model, items, limit, truncate)
    longest = max(len(t) for t in token_lists)
    # Attention in a decode spans every token in the batch (masked across sequences, but still
    # computed), so big batches cost quadratically: pack about 256 tokens per decode.
    size = max(min(limit, 256), longest)
    n_seq = min(batch_size, len(items), lib.llama_max_parallel_sequences())
    bar = ProgressBar(len(items), desc="embedding", unit="text", required=True) if progress else None
    source = model if pooling == "rank" else _embedding_model(model, graph)
    with source.new_context(n_ctx=size, n_batch=size, n_ubatch=size, n_seq_max=n_seq,
                            embeddings=True, pooling=pooling, n_threads=n_threads) as ctx:
        try:
            vectors = _embed_tokens(ctx, token_lists, ctx.pooling_type, normalize, bar)
        finally:
            if bar is not None:
                bar.close()
    return np.stack(vectors).astype(np.float32, copy=False)


def _embedding_model(model: Model, graph: str) -> Model:
    """The model to decode embeddings with: ``model`` itself, or with ``graph="copy"`` and an
    architecture in ``_EMBEDDING_GRAPHS`` a copy of its file under the encoder architecture
    (written once per file content to :func:`~llamaprov.engine.files.cache_dir`, loaded once per
    model, closed with it). A copy that cannot be written or loaded raises
    :class:`~llamaprov.errors.ModelLoadError`."""
    from .files import cache_dir, cached_copy_with_architecture

    if graph != "copy":
        return model
    sibling_arch = _EMBEDDING_GRAPHS.get(model.meta_get("general.architecture") or "")
    if sibling_arch is None or model._load_options is None or model.vocab_only:
        return model
    with model._embedding_lock:
        if model._embedding_model is not None:
            return model._embedding_model
        folder = cache_dir() / "embedding"
        try:
            target = cached_copy_with_architecture(model.path, sibling_arch, folder)
        except OSError as exc:
            raise ModelLoadError(
                f"cannot write the {sibling_arch} copy of {str(model.path)!r} to {str(folder)!r} "
                f"(embedding_graph='copy'): {exc}") from exc
        _log.info("embedding %s through %s", model.path.name, target)
        model._embedding_model = model._load_like(target)
        return model._embedding_model
