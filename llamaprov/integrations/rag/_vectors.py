"""Exact vector search for the RAG store: the chunks' vectors held in memory as one unit-length
float32 matrix, and the check of what an embedder returns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from llamaprov.errors import StoreError
from llamaprov.integrations.embedding import embedder_id

Embedder = Callable[[list[str]], Any]


class VectorMatrix:
    """Unit-length vectors in ascending chunk-id order, grown in place as chunks are added.

    Not thread-safe: its store serialises the calls.
    """

    def __init__(self, dim: int) -> None:
        """An empty matrix of ``dim``-dimensional vectors."""
        self.dim = dim
        self._ids = np.empty(0, dtype=np.int64)
        self._matrix = np.empty((0, dim), dtype=np.float32)
        self._n = 0

    def __len__(self) -> int:
        """Number of vectors held."""
        return self._n

    @property
    def last_id(self) -> int:
        """The highest chunk id held (0 when empty)."""
        return int(self._ids[self._n - 1]) if self._n else 0

    def clear(self, *, release: bool = False) -> None:
        """Forget every vector; with ``release`` also give the memory back."""
        self._n = 0
        if release:
            self._ids = np.empty(0, dtype=np.int64)
            self._matrix = np.empty((0, self.dim), dtype=np.float32)

    def append(self, rows: list[tuple[int, bytes]]) -> None:
        """Add ``(chunk id, float32 vector bytes)`` rows, ids above :attr:`last_id`, normalised."""
        need = self._n + len(rows)
        if need > len(self._ids):
            cap = max(need, 2 * len(self._ids), 256)
            ids = np.empty(cap, dtype=np.int64)
            matrix = np.empty((cap, self.dim), dtype=np.float32)
            ids[: self._n] = self._ids[: self._n]
            matrix[: self._n] = self._matrix[: self._n]
            self._ids, self._matrix = ids, matrix
        if not rows:
            return
        block = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        block = block.reshape(len(rows), self.dim)
        norms = np.linalg.norm(block, axis=1, keepdims=True)
        self._matrix[self._n : need] = block / np.where(norms > 0, norms, 1.0)
        self._ids[self._n : need] = [r[0] for r in rows]
        self._n = need

    def search(self, query: np.ndarray, n: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """The ``n`` chunks most similar to ``query`` (cosine), best first, as ``(chunk id,
        similarity)``; with ``allowed`` only those chunk ids."""
        if self._n == 0:
            return []
        norm = float(np.linalg.norm(query))
        q = query / norm if norm > 0 else query
        ids = self._ids[: self._n]
        scores = self._matrix[: self._n] @ q
        if allowed is not None:
            scores = np.where(np.isin(ids, allowed), scores, -np.inf)
        n = min(n, self._n)
        top = np.argpartition(-scores, n - 1)[:n] if n < self._n else np.arange(self._n)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(ids[i]), float(scores[i])) for i in top if np.isfinite(scores[i])]


def embed_checked(embed: Embedder, texts: list[str], dim: int | None) -> np.ndarray:
    """Call the embedder; check it gave one finite vector of the store's dimension per text."""
    try:
        out = np.asarray(embed(texts), dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise StoreError(
            f"embedder {embedder_id(embed)!r} returned no numeric array: {exc}"
        ) from exc
    if out.ndim != 2 or out.shape[0] != len(texts) or out.shape[1] == 0:
        raise StoreError(
            f"embedder {embedder_id(embed)!r} returned shape {out.shape} for {len(texts)} texts; "
            "expected one vector per text"
        )
    if dim is not None and out.shape[1] != dim:
        raise StoreError(
            f"embedder returned vectors of dimension {out.shape[1]}; "
            f"this store holds dimension {dim}"
        )
    if not np.isfinite(out).all():
        raise StoreError(f"embedder {embedder_id(embed)!r} returned non-finite values")
    return out
