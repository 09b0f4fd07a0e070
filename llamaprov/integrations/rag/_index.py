"""What retrieval needs from a document store: the :class:`VectorIndex` protocol and its results,
:class:`RetrievedChunk`. :class:`~llamaprov.integrations.rag.RagStore` (SQLite) is the first
implementation; the chat tool and the LangChain retriever take any."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from llamaprov.errors import InvalidArgumentError, describe

__all__ = ["RetrievedChunk", "VectorIndex", "check_index"]


@dataclass(frozen=True)
class RetrievedChunk:
    """One search result, as every :class:`VectorIndex` returns them.

    ``score`` is the ranking score of the method asked for (cosine similarity for ``"vector"``, BM25
    for ``"bm25"`` — higher is better —, the reciprocal-rank-fusion sum for ``"hybrid"``);
    ``vector_score`` and ``bm25_score`` are the component scores where the chunk was found by that
    search.
    """

    chunk_id: int
    doc_id: int
    text: str
    context: str
    metadata: dict[str, Any]
    score: float
    vector_score: float | None = None
    bm25_score: float | None = None
    source: str | None = field(default=None)


@runtime_checkable
class VectorIndex(Protocol):
    """A searchable store of documents: documents go in, the chunks most relevant to a query
    come out.

    An implementation may take more keyword options in :meth:`retrieve`
    (:class:`~llamaprov.integrations.rag.RagStore`: ``method=``, ``filter=``); callers such as
    :func:`~llamaprov.integrations.rag.register_retrieve_tool` pass them only when asked to.
    """

    def insert(self, texts_or_documents: Any, metadata: Any = None) -> list[Any]:
        """Store texts or documents (with optional metadata); return their ids."""
        ...

    def retrieve(self, query: str, *, k: int = 5) -> list[RetrievedChunk]:
        """The ``k`` chunks most relevant to ``query``, best first."""
        ...

    def close(self) -> None:
        """Release what the index holds; later calls may raise
        :class:`~llamaprov.errors.ClosedError`."""
        ...


def check_index(index: Any, what: str = "store") -> None:
    """Raise :class:`InvalidArgumentError` unless ``index`` implements :class:`VectorIndex`."""
    if not isinstance(index, VectorIndex):
        raise InvalidArgumentError(
            f"{what} must be a VectorIndex (insert, retrieve and close, as RagStore has), "
            f"got {describe(index)}"
        )
