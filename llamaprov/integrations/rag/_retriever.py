"""A LangChain ``BaseRetriever`` over any :class:`~llamaprov.integrations.rag.VectorIndex`:
:func:`as_retriever` (langchain-core stays optional: the class is made on first use)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from llamaprov.errors import InvalidArgumentError, StoreError, describe

from ._index import VectorIndex, check_index
from ._tool import retrieve_options

if TYPE_CHECKING:
    from langchain_core.retrievers import BaseRetriever

_RETRIEVER_CLASS: type | None = None


def as_retriever(
    index: VectorIndex, k: int = 5, *, method: str | None = None,
    filter: Mapping[str, Any] | None = None,
) -> BaseRetriever:
    """A LangChain ``BaseRetriever`` returning the ``k`` best chunks of ``index`` as LangChain
    documents (needs ``langchain-core``). ``method`` and ``filter`` go to the index's ``retrieve``
    when given."""
    check_index(index, "index")
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise InvalidArgumentError(f"k must be a positive int, got {describe(k)}")
    return _retriever_class()(store=index, k=k, method=method, filter=dict(filter or {}) or None)


def _retriever_class() -> type:
    """The ``BaseRetriever`` subclass, defined on first use so langchain-core stays optional."""
    global _RETRIEVER_CLASS
    if _RETRIEVER_CLASS is not None:
        return _RETRIEVER_CLASS
    try:
        from langchain_core.callbacks import CallbackManagerForRetrieverRun
        from langchain_core.documents import Document as LCDocument
        from langchain_core.retrievers import BaseRetriever
    except ImportError as exc:
        raise StoreError(
            "as_retriever needs langchain-core: pip install 'llamaprov[langchain]'"
        ) from exc
    from pydantic import ConfigDict

    class RagStoreRetriever(BaseRetriever):  # type: ignore[misc,valid-type]
        """LangChain retriever over a :class:`VectorIndex` (a RagStore or another)."""

        model_config = ConfigDict(arbitrary_types_allowed=True)
        store: Any
        k: int = 5
        method: str | None = None
        filter: dict[str, Any] | None = None

        def _get_relevant_documents(
            self, query: str, *, run_manager: CallbackManagerForRetrieverRun
        ) -> list[LCDocument]:
            hits = self.store.retrieve(query, k=self.k, **retrieve_options(self.method, self.filter))
            return [
                LCDocument(
                    page_content=h.text,
                    id=str(h.chunk_id),
                    metadata={
                        **h.metadata,
                        "chunk_id": h.chunk_id,
                        "doc_id": h.doc_id,
                        "context": h.context,
                        "score": h.score,
                    },
                )
                for h in hits
            ]

    _RETRIEVER_CLASS = RagStoreRetriever
    return RagStoreRetriever
