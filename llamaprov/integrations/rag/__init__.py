"""An embedded hybrid-search store for retrieval-augmented generation.

:class:`RagStore` keeps documents, their chunks and metadata in one SQLite file (standard library
``sqlite3``, WAL mode): an FTS5 index gives BM25 search, float32 vectors are searched exactly with
numpy (normalised dot product over a matrix held in memory), and ``method="hybrid"`` fuses both
rankings by reciprocal rank. The file records which embedder filled it, so :meth:`RagStore.connect`
can rebuild it and refuses a different one.

:class:`VectorIndex` is what retrieval needs from a store (``insert``, ``retrieve``, ``close``);
RagStore is its first implementation, and :func:`register_retrieve_tool` (a chat tool) and
:func:`as_retriever` (a LangChain retriever) take any.

```python
from llamaprov import embed_llamaprov
from llamaprov.integrations.rag import RagStore, read_document

store = RagStore.create("docs.ragstore", embed=embed_llamaprov())
store.insert([read_document("guide.md"), "A plain text note."])
for hit in store.retrieve("how do I install it?", k=3):
    print(hit.score, hit.text)
```
"""

from __future__ import annotations

# names importable from this module before it became a package, kept without being advertised
from llamaprov.integrations.embedding import embedder_from_spec as embedder_from_spec
from llamaprov.integrations.embedding import embedder_id as embedder_id
from llamaprov.integrations.embedding import embedder_spec as embedder_spec

from ._chunking import Chunk, chunk_text
from ._documents import Document, read_document
from ._index import RetrievedChunk, VectorIndex
from ._retriever import as_retriever
from ._store import Method as Method
from ._store import RagStore
from ._tool import register_retrieve_tool
from ._vectors import Embedder as Embedder

__all__ = [
    "Chunk",
    "Document",
    "RagStore",
    "RetrievedChunk",
    "VectorIndex",
    "as_retriever",
    "chunk_text",
    "read_document",
    "register_retrieve_tool",
]
