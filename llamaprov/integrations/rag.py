"""An embedded hybrid-search store for retrieval-augmented generation.

:class:`RagStore` keeps documents, their chunks and metadata in one SQLite file (standard library
``sqlite3``, WAL mode): an FTS5 index gives BM25 search, float32 vectors are searched exactly with
numpy (normalised dot product over a matrix held in memory), and ``method="hybrid"`` fuses both
rankings by reciprocal rank. The file records which embedder filled it, so :meth:`RagStore.connect`
can rebuild it and refuses a different one.

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

import functools
import json
import math
import os
import re
import secrets
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

import numpy as np

from llamaprov._progress import ProgressBar
from llamaprov.errors import InvalidArgumentError, StoreClosedError, StoreError, describe
from llamaprov.integrations._bm25 import TOKENIZER, QueryPlanner
from llamaprov.integrations._chunking import Chunk, chunk_text
from llamaprov.integrations._documents import Document, read_document
from llamaprov.integrations.embedding import embedder_from_spec, embedder_id, embedder_spec

if TYPE_CHECKING:
    from langchain_core.retrievers import BaseRetriever

__all__ = [
    "Chunk",
    "Document",
    "RagStore",
    "RetrievedChunk",
    "chunk_text",
    "read_document",
    "register_retrieve_tool",
]

Embedder = Callable[[list[str]], Any]
Method = Literal["hybrid", "vector", "bm25"]

_F = TypeVar("_F", bound=Callable[..., Any])

_FORMAT = "llamaprov-rag"
_FORMAT_VERSION = 1
_SQLITE_MAGIC = b"SQLite format 3\x00"
_RRF_K = 20  # reciprocal-rank constant: below the usual 60 as our lists hold at most 50

_SCHEMA_TEMPLATE = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    n_chunks INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    text TEXT NOT NULL,
    context TEXT NOT NULL DEFAULT '',
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    vector BLOB NOT NULL
);
CREATE INDEX chunks_doc ON chunks(doc_id);
CREATE VIRTUAL TABLE chunks_fts USING fts5(
    text, context, content='chunks', content_rowid='id', tokenize='{tokenizer}'
);
"""

_SCHEMA = _SCHEMA_TEMPLATE.replace("{tokenizer}", TOKENIZER)


def _sqlite_errors(action: str) -> Callable[[_F], _F]:
    """Decorator of :class:`RagStore` methods: an ``sqlite3`` error escaping the method becomes a
    :class:`~llamaprov.errors.StoreError` naming the store file."""

    def decorate(method: _F) -> _F:
        @functools.wraps(method)
        def wrapper(self: RagStore, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                raise StoreError(f"{action} failed on store {str(self._path)!r}: {exc}") from exc

        return cast(_F, wrapper)

    return decorate


@dataclass(frozen=True)
class RetrievedChunk:
    """One search result.

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


class RagStore:
    """Documents, chunks, a BM25 index and vectors in one SQLite file. Use :meth:`create` or
    :meth:`connect`.

    A store object is safe to share between threads; several processes may read one file while
    another writes (SQLite WAL mode).
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, embed: Embedder, meta: dict[str, str]):
        """Internal: use :meth:`create` or :meth:`connect`."""
        self._conn = conn
        self._path = path
        self._embed = embed
        self._meta = meta
        self._dim = int(meta["dim"])
        self._lock = threading.RLock()
        self._ids = np.empty(0, dtype=np.int64)
        self._matrix = np.empty((0, self._dim), dtype=np.float32)
        self._n = 0
        self._data_version = -1
        self._closed = False
        self._owns_embed = False  # an embedder connect() rebuilt: closed with the store
        self._planner = QueryPlanner("temp.chunks_vocab")
        self._pool: ThreadPoolExecutor | None = None
        conn.execute(
            "CREATE VIRTUAL TABLE temp.chunks_vocab USING fts5vocab(main, chunks_fts, 'row')"
        )
        self._refresh(full=True)

    # ------------------------------------------------------------------ opening
    @classmethod
    def create(
        cls, path: str | os.PathLike[str], *, embed: Embedder, overwrite: bool = False
    ) -> RagStore:
        """Create a new store file at ``path`` filled by ``embed`` (a callable ``list[str] ->
        array``).

        The embedder is called once on a probe text to learn the vector dimension. The store is
        built in a temporary file and appears at ``path`` complete, only if no file is there yet:
        of several threads or processes creating one path, one wins and the others raise
        :class:`~llamaprov.errors.StoreError`. With ``overwrite=True`` an existing llamaprov store
        at ``path`` is emptied in place, in one transaction; any other existing file is never
        overwritten (:class:`~llamaprov.errors.StoreError`).
        """
        if not callable(embed):
            raise InvalidArgumentError(
                f"embed must be a callable list[str] -> array, got {describe(embed)}"
            )
        p = _as_path(path)
        exists = os.path.lexists(p)
        if exists and not overwrite:
            raise StoreError(f"{str(p)!r} already exists; pass overwrite=True to replace a store")
        if exists and p.is_file() and p.stat().st_size > 0:
            _read_meta(p)  # raises StoreError if it is not a llamaprov store: never clobber other files
        elif exists and not p.is_file():
            raise StoreError(f"{str(p)!r} exists and is not a file")
        if not p.parent.is_dir():
            raise StoreError(f"directory {str(p.parent)!r} does not exist")
        probe = _embed_checked(embed, ["dimension probe"], None)
        meta = {
            "format": _FORMAT,
            "format_version": str(_FORMAT_VERSION),
            "dim": str(probe.shape[1]),
            "embedder_id": embedder_id(embed),
            "embedder_spec": json.dumps(embedder_spec(embed)),
            "created_at": str(time.time()),
        }
        if exists:
            _reset_in_place(p, meta)
        elif not _publish_new(p, meta):  # another thread or process created it meanwhile
            if not overwrite:
                raise StoreError(
                    f"{str(p)!r} already exists; pass overwrite=True to replace a store"
                )
            _reset_in_place(p, meta)
        return cls._opened(p, embed, meta)

    @classmethod
    def connect(cls, path: str | os.PathLike[str], *, embed: Embedder | None = None) -> RagStore:
        """Open an existing store.

        With no ``embed`` the embedder recorded at creation (model, pooling, normalisation) is
        rebuilt (it loads its own model, which :meth:`close` frees); a store filled by a custom
        callable needs it passed again. An ``embed`` other than
        the recorded one raises :class:`~llamaprov.errors.StoreError`, as does a file that is not a
        llamaprov store.
        """
        p = _as_path(path)
        meta = _read_meta(p)
        if embed is None:
            spec = json.loads(meta["embedder_spec"])
            if spec is None:
                raise StoreError(
                    f"{str(p)!r} was filled by a custom embedder {meta['embedder_id']!r} "
                    "that cannot be rebuilt: pass it as embed="
                )
            rebuilt = embedder_from_spec(spec)
            try:
                store = cls._connect_with(p, rebuilt, meta)
            except BaseException:
                rebuilt.close()  # it loaded a model of its own: free it now, not at GC
                raise
            store._owns_embed = True
            return store
        if not callable(embed):
            raise InvalidArgumentError(
                f"embed must be a callable list[str] -> array, got {describe(embed)}"
            )
        return cls._connect_with(p, embed, meta)

    @classmethod
    def _connect_with(cls, p: Path, embed: Embedder, meta: dict[str, str]) -> RagStore:
        """Open the store at ``p`` with ``embed`` after checking it is the recorded embedder."""
        given = embedder_id(embed)
        if given != meta["embedder_id"]:
            raise StoreError(
                f"{str(p)!r} was filled by embedder {meta['embedder_id']!r}; "
                f"connecting with a different one ({given!r}) would mix incompatible vectors"
            )
        dim = getattr(embed, "dim", None)
        if isinstance(dim, int) and dim != int(meta["dim"]):
            raise StoreError(
                f"{str(p)!r} holds {meta['dim']}-dimensional vectors; the embedder makes {dim}"
            )
        return cls._opened(p, embed, meta)

    @classmethod
    def _opened(cls, path: Path, embed: Embedder, meta: dict[str, str]) -> RagStore:
        conn = _open(path)
        try:
            return cls(conn, path, embed, meta)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"cannot open store {str(path)!r}: {exc}") from exc
        except BaseException:
            conn.close()
            raise

    # ------------------------------------------------------------------ properties
    @property
    def path(self) -> Path:
        """The store file."""
        return self._path

    @property
    def dim(self) -> int:
        """Dimension of the stored vectors."""
        return self._dim

    @property
    def embedder_id(self) -> str:
        """Identity of the embedder that fills this store (model, pooling, normalisation)."""
        return self._meta["embedder_id"]

    @property
    def embed(self) -> Embedder:
        """The embedder in use."""
        return self._embed

    @property
    @_sqlite_errors("counting documents")
    def n_documents(self) -> int:
        """Number of documents stored."""
        with self._lock:
            return int(self._db().execute("SELECT count(*) FROM documents").fetchone()[0])

    @_sqlite_errors("counting chunks")
    def __len__(self) -> int:
        """Number of chunks stored."""
        with self._lock:
            return int(self._db().execute("SELECT count(*) FROM chunks").fetchone()[0])

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self._n} chunks"
        return f"RagStore({str(self._path)!r}, {state}, embedder={self.embedder_id!r})"

    # ------------------------------------------------------------------ writing
    @_sqlite_errors("insert")
    def insert(
        self,
        texts_or_documents: str | Document | Iterable[str | Document | Any],
        metadata: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        *,
        chunk_size: int = 1000,
        chunk_overlap: int = 100,
        batch_size: int = 64,
        progress: bool | None = None,
    ) -> list[int]:
        """Chunk, embed and store texts or documents; return the new document ids.

        Items may be ``str``, :class:`Document`, or LangChain documents (``page_content`` +
        ``metadata``). ``metadata`` is one mapping for all items or one per item; it is merged over
        each document's own metadata and can be filtered on in :meth:`retrieve`. Chunks are embedded
        ``batch_size`` at a time with a progress bar (``progress=None``: only on a terminal; needs
        ``tqdm``). Everything is validated and embedded before the single write transaction, so a
        failure leaves the store unchanged, and a process killed mid-insert leaves a store that
        reopens with all of this call's documents or none of them (and every earlier one).
        """
        self._check_open()
        docs = _normalize_documents(texts_or_documents, metadata)
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise InvalidArgumentError(
                f"batch_size must be a positive int, got {describe(batch_size)}"
            )
        planned: list[tuple[Document, list[Chunk]]] = []
        for doc in docs:
            chunks = chunk_text(doc.text, size=chunk_size, overlap=chunk_overlap)
            if not chunks:
                raise InvalidArgumentError(f"document {describe(doc.text)} has no text")
            planned.append((doc, chunks))
        if not planned:
            return []
        inputs = [_embedding_input(c) for _, chunks in planned for c in chunks]
        vectors = np.empty((len(inputs), self._dim), dtype=np.float32)
        with ProgressBar(len(inputs), enabled=progress, desc="embedding", unit="chunk") as bar:
            for lo in range(0, len(inputs), batch_size):
                part = inputs[lo : lo + batch_size]
                vectors[lo : lo + len(part)] = _embed_checked(self._embed, part, self._dim)
                bar.update(len(part))

        now = time.time()
        with self._lock:
            conn = self._db()
            doc_ids: list[int] = []
            row = 0
            with conn:
                for doc, chunks in planned:
                    meta_json = json.dumps(doc.metadata)
                    cur = conn.execute(
                        "INSERT INTO documents(source, metadata, n_chunks, created_at)"
                        " VALUES (?,?,?,?)",
                        (doc.source, meta_json, len(chunks), now),
                    )
                    doc_id = int(cur.lastrowid or 0)
                    doc_ids.append(doc_id)
                    for seq, chunk in enumerate(chunks):
                        cur = conn.execute(
                            "INSERT INTO chunks"
                            "(doc_id, seq, text, context, start, end, metadata, vector)"
                            " VALUES (?,?,?,?,?,?,?,?)",
                            (
                                doc_id,
                                seq,
                                chunk.text,
                                chunk.context,
                                chunk.start,
                                chunk.end,
                                meta_json,
                                vectors[row].tobytes(),
                            ),
                        )
                        conn.execute(
                            "INSERT INTO chunks_fts(rowid, text, context) VALUES (?,?,?)",
                            (cur.lastrowid, chunk.text, chunk.context),
                        )
                        row += 1
            self._refresh(force=True)
        return doc_ids

    @_sqlite_errors("delete")
    def delete(self, doc_ids: int | Iterable[int]) -> int:
        """Delete documents (and their chunks) by id; return how many documents were deleted."""
        self._check_open()
        ids = [doc_ids] if isinstance(doc_ids, int) else list(doc_ids)
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise InvalidArgumentError(f"doc_ids must be ints, got {describe(doc_ids)}")
        with self._lock:
            conn = self._db()
            deleted = 0
            with conn:
                for doc_id in ids:
                    rows = conn.execute(
                        "SELECT id, text, context FROM chunks WHERE doc_id = ?", (doc_id,)
                    ).fetchall()
                    conn.executemany(
                        "INSERT INTO chunks_fts(chunks_fts, rowid, text, context) "
                        "VALUES ('delete', ?, ?, ?)",
                        rows,
                    )
                    conn.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
                    deleted += conn.execute(
                        "DELETE FROM documents WHERE id = ?", (doc_id,)
                    ).rowcount
            self._refresh(full=True)
        return deleted

    # ------------------------------------------------------------------ reading
    @_sqlite_errors("retrieve")
    def retrieve(
        self,
        query: str,
        *,
        k: int = 5,
        method: Method = "hybrid",
        filter: Mapping[str, Any] | None = None,
    ) -> list[RetrievedChunk]:
        """The ``k`` chunks most relevant to ``query``, best first.

        ``method``: ``"vector"`` (cosine similarity), ``"bm25"`` (FTS5 full-text rank) or
        ``"hybrid"`` (reciprocal-rank fusion of both, de-duplicated). ``filter`` keeps chunks whose
        metadata equals each given value (a list value means any of them).
        """
        self._check_open()
        if not isinstance(query, str) or not query.strip():
            raise InvalidArgumentError(f"query must be a non-empty string, got {describe(query)}")
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise InvalidArgumentError(f"k must be a positive int, got {describe(k)}")
        if method not in ("hybrid", "vector", "bm25"):
            raise InvalidArgumentError(
                f"method must be 'hybrid', 'vector' or 'bm25', got {describe(method)}"
            )
        where, params = _filter_sql(filter)
        n_candidates = k if method != "hybrid" else max(50, 4 * k)
        with self._lock:
            self._refresh()
            allowed = self._filtered_ids(where, params) if where else None
            vec: list[tuple[int, float]] = []
            bm: list[tuple[int, float]] = []
            if method == "hybrid":
                # Both searches release the GIL (numpy, SQLite): run BM25 beside the matrix product.
                pending = self._worker().submit(
                    self._bm25_search, query, n_candidates, where, params
                )
                try:
                    vec = self._vector_search(query, n_candidates, allowed)
                finally:
                    bm = pending.result()
            elif method == "vector":
                vec = self._vector_search(query, n_candidates, allowed)
            else:
                bm = self._bm25_search(query, n_candidates, where, params)
            vec_scores, bm_scores = dict(vec), dict(bm)
            if method == "vector":
                ranked = vec
            elif method == "bm25":
                ranked = bm
            else:
                fused: dict[int, float] = {}
                for hits in (vec, bm):
                    for rank, (cid, _) in enumerate(hits):
                        fused[cid] = fused.get(cid, 0.0) + 1.0 / (_RRF_K + rank + 1)
                ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
            return self._materialize(ranked, k, vec_scores, bm_scores)

    def as_retriever(
        self, k: int = 5, *, method: Method = "hybrid", filter: Mapping[str, Any] | None = None
    ) -> BaseRetriever:
        """A LangChain ``BaseRetriever`` over this store (needs ``langchain-core``)."""
        self._check_open()
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise InvalidArgumentError(f"k must be a positive int, got {describe(k)}")
        return _retriever_class()(store=self, k=k, method=method, filter=dict(filter or {}) or None)

    # ------------------------------------------------------------------ lifecycle
    @_sqlite_errors("close")
    def close(self) -> None:
        """Close the database connection (waiting for a running call); safe to call twice.

        An embedder that :meth:`connect` rebuilt from the file is closed too (its model is
        freed); one that was passed in stays open for its owner. Later calls raise
        :class:`~llamaprov.errors.StoreClosedError`, both a :class:`~llamaprov.errors.StoreError`
        and a :class:`~llamaprov.errors.ClosedError`.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self._pool is not None:
                    self._pool.shutdown()
                self._conn.close()
                self._planner.close()
                self._matrix = np.empty((0, self._dim), dtype=np.float32)
            finally:
                if self._owns_embed:
                    close = getattr(self._embed, "close", None)
                    if callable(close):
                        close()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def __enter__(self) -> RagStore:
        self._check_open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals
    def _worker(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ragstore-bm25")
        return self._pool

    def _check_open(self) -> None:
        """Raise :class:`StoreClosedError` once the store is closed."""
        if self._closed:
            raise StoreClosedError(f"store {str(self._path)!r} is closed")

    def _db(self) -> sqlite3.Connection:
        self._check_open()
        return self._conn

    def _refresh(self, *, full: bool = False, force: bool = False) -> None:
        """Bring the in-memory vectors up to date with the file (new rows; all after deletes)."""
        conn = self._db()
        version = int(conn.execute("PRAGMA data_version").fetchone()[0])
        if not (full or force) and version == self._data_version:
            return  # nobody else committed (our own writes refresh with force=True)
        count = int(conn.execute("SELECT count(*) FROM chunks").fetchone()[0])
        if full or count < self._n:
            self._n = 0
        last = int(self._ids[self._n - 1]) if self._n else 0
        rows = conn.execute(
            "SELECT id, vector FROM chunks WHERE id > ? ORDER BY id", (last,)
        ).fetchall()
        if self._n + len(rows) != count:  # rows vanished below `last`: reload everything
            self._n, last = 0, 0
            rows = conn.execute("SELECT id, vector FROM chunks ORDER BY id").fetchall()
        self._append(rows)
        self._data_version = version
        self._planner.invalidate()

    def _append(self, rows: list[tuple[int, bytes]]) -> None:
        need = self._n + len(rows)
        if need > len(self._ids):
            cap = max(need, 2 * len(self._ids), 256)
            ids = np.empty(cap, dtype=np.int64)
            matrix = np.empty((cap, self._dim), dtype=np.float32)
            ids[: self._n] = self._ids[: self._n]
            matrix[: self._n] = self._matrix[: self._n]
            self._ids, self._matrix = ids, matrix
        if not rows:
            return
        block = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        block = block.reshape(len(rows), self._dim)
        norms = np.linalg.norm(block, axis=1, keepdims=True)
        self._matrix[self._n : need] = block / np.where(norms > 0, norms, 1.0)
        self._ids[self._n : need] = [r[0] for r in rows]
        self._n = need

    def _filtered_ids(self, where: str, params: list[Any]) -> np.ndarray:
        rows = self._db().execute(f"SELECT id FROM chunks WHERE {where}", params).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def _vector_search(
        self, query: str, n: int, allowed: np.ndarray | None
    ) -> list[tuple[int, float]]:
        if self._n == 0:
            return []
        q = _embed_checked(self._embed, [query], self._dim)[0]
        norm = float(np.linalg.norm(q))
        if norm > 0:
            q = q / norm
        ids = self._ids[: self._n]
        scores = self._matrix[: self._n] @ q
        if allowed is not None:
            scores = np.where(np.isin(ids, allowed), scores, -np.inf)
        n = min(n, self._n)
        top = np.argpartition(-scores, n - 1)[:n] if n < self._n else np.arange(self._n)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(ids[i]), float(scores[i])) for i in top if np.isfinite(scores[i])]

    def _bm25_search(
        self, query: str, n: int, where: str, params: list[Any]
    ) -> list[tuple[int, float]]:
        match = self._planner.match(self._db(), query, self._n)
        if match is None:
            return []
        sql = "SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ?"
        args: list[Any] = [match]
        if where:
            sql += f" AND rowid IN (SELECT id FROM chunks WHERE {where})"
            args += params
        sql += " ORDER BY rank LIMIT ?"
        rows = self._db().execute(sql, [*args, n]).fetchall()
        return [(int(cid), -float(rank)) for cid, rank in rows]

    def _materialize(
        self,
        ranked: list[tuple[int, float]],
        k: int,
        vec_scores: dict[int, float],
        bm_scores: dict[int, float],
    ) -> list[RetrievedChunk]:
        if not ranked:
            return []
        head = ranked[: max(k * 3, k + 10)]  # room to drop duplicate texts
        marks = ",".join("?" * len(head))
        rows = (
            self._db()
            .execute(
                "SELECT c.id, c.doc_id, c.text, c.context, c.metadata, d.source FROM chunks c "
                f"JOIN documents d ON d.id = c.doc_id WHERE c.id IN ({marks})",
                [cid for cid, _ in head],
            )
            .fetchall()
        )
        by_id = {r[0]: r for r in rows}
        out: list[RetrievedChunk] = []
        seen: set[str] = set()
        for cid, score in head:
            row = by_id.get(cid)
            if row is None:
                continue
            key = " ".join(row[2].split())
            if key in seen:
                continue
            seen.add(key)
            out.append(
                RetrievedChunk(
                    chunk_id=cid,
                    doc_id=row[1],
                    text=row[2],
                    context=row[3],
                    metadata=json.loads(row[4]),
                    score=score,
                    vector_score=vec_scores.get(cid),
                    bm25_score=bm_scores.get(cid),
                    source=row[5],
                )
            )
            if len(out) == k:
                break
        return out


# ---------------------------------------------------------------------- chat tool
def register_retrieve_tool(
    chat: Any,
    store: RagStore,
    *,
    k: int = 5,
    name: str = "search_documents",
    description: str | None = None,
    method: Method = "hybrid",
    filter: Mapping[str, Any] | None = None,
) -> Any:
    """Register on ``chat`` a tool ``name(query: str) -> str`` that returns the ``k`` best chunks.

    The tool result lists the passages (with their source), so the model can answer from them.
    Returns the tool definition that was registered.
    """
    from llamaprov.chat import tool as make_tool

    if not isinstance(store, RagStore):
        raise InvalidArgumentError(f"store must be a RagStore, got {describe(store)}")
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise InvalidArgumentError(f"k must be a positive int, got {describe(k)}")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]{0,63}", name):
        raise InvalidArgumentError(f"name must be a tool identifier, got {describe(name)}")

    def search_documents(query: str) -> str:
        hits = store.retrieve(query, k=k, method=method, filter=filter)
        if not hits:
            return "No matching passages."
        return "\n\n".join(_format_hit(i, hit) for i, hit in enumerate(hits, 1))

    desc = description or (
        "Search the document store and return the most relevant passages. "
        "Call it with a short search query describing what you need to know."
    )
    definition = make_tool(search_documents, name=name, description=desc)
    chat.register_tool(definition)
    return definition


def _format_hit(i: int, hit: RetrievedChunk) -> str:
    where = hit.source or hit.metadata.get("source") or f"document {hit.doc_id}"
    heading = f" — {hit.context}" if hit.context else ""
    return f"[{i}] ({where}{heading})\n{hit.text.strip()}"


# ---------------------------------------------------------------------- LangChain retriever
_RETRIEVER_CLASS: type | None = None


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
        """LangChain retriever over a :class:`RagStore`."""

        model_config = ConfigDict(arbitrary_types_allowed=True)
        store: Any
        k: int = 5
        method: str = "hybrid"
        filter: dict[str, Any] | None = None

        def _get_relevant_documents(
            self, query: str, *, run_manager: CallbackManagerForRetrieverRun
        ) -> list[LCDocument]:
            hits = self.store.retrieve(query, k=self.k, method=self.method, filter=self.filter)
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


# ---------------------------------------------------------------------- helpers
def _as_path(path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise InvalidArgumentError(f"path must be a file path, got {describe(path)}")
    return Path(path)


def _open(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open store {str(path)!r}: {exc}") from exc
    return conn


def _publish_new(path: Path, meta: dict[str, str]) -> bool:
    """Build a store in a temporary file beside ``path``, then give it the name ``path`` only if
    that name is free; False when a file is there already (nothing is touched then)."""
    # sqlite creates the file itself so it gets the usual permissions (mkstemp's are 0600)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    try:
        conn = sqlite3.connect(str(tmp))
        try:
            _write_schema(conn, meta, path)
        finally:
            conn.close()
        return _link_exclusive(tmp, path)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot create store {str(path)!r}: {exc}") from exc
    finally:
        for suffix in ("", "-journal"):
            Path(str(tmp) + suffix).unlink(missing_ok=True)


def _link_exclusive(src: Path, dst: Path) -> bool:
    """Make the complete file ``src`` appear at ``dst`` unless ``dst`` exists; False if it does."""
    try:
        os.link(src, dst)
        return True
    except FileExistsError:
        return False
    except OSError:
        pass  # no hard links on this file system: claim the name exclusively, then fill it
    try:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as data:
            shutil.copyfileobj(data, out)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        dst.unlink(missing_ok=True)  # the name was claimed by this call: nobody else wrote it
        raise
    return True


def _reset_in_place(path: Path, meta: dict[str, str]) -> None:
    """Empty the llamaprov store at ``path`` (or fill an empty file) in one transaction."""
    if path.stat().st_size > 0:
        _read_meta(path)
    try:
        conn = sqlite3.connect(str(path), timeout=30.0)
        try:
            _write_schema(conn, meta, path, replace=True)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot create store {str(path)!r}: {exc}") from exc


def _write_schema(
    conn: sqlite3.Connection, meta: dict[str, str], path: Path, *, replace: bool = False
) -> None:
    """Create the tables and write ``meta`` in one transaction; with ``replace`` first drop the
    tables of the llamaprov store in the file (any other database is refused, untouched)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if replace:
            _drop_store_tables(conn, path)
        for statement in _SCHEMA.split(";"):  # executescript would commit first
            if statement.strip():
                conn.execute(statement)
        conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", meta.items())
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


def _drop_store_tables(conn: sqlite3.Connection, path: Path) -> None:
    """Inside a write transaction: check the file is a llamaprov store (or empty), drop its tables."""
    tables = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    if not tables:
        return
    fmt = None
    if any(name == "meta" for name, _ in tables):
        fmt = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    if fmt is None or fmt[0] != _FORMAT:
        raise StoreError(f"{str(path)!r} is not a llamaprov store; it is left unchanged")
    # virtual tables first: dropping one drops its shadow tables
    tables.sort(key=lambda t: not (t[1] or "").upper().startswith("CREATE VIRTUAL"))
    for name, _ in tables:
        conn.execute(f'DROP TABLE IF EXISTS "{name.replace(chr(34), chr(34) * 2)}"')


def _read_meta(path: Path) -> dict[str, str]:
    """The meta table of a llamaprov store, read without writing anything to the file."""
    if not path.is_file():
        raise StoreError(f"no store at {str(path)!r}")
    with open(path, "rb") as fh:
        if fh.read(len(_SQLITE_MAGIC)) != _SQLITE_MAGIC:
            raise StoreError(f"{str(path)!r} is not a llamaprov store (not an SQLite database)")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(f"{str(path)!r} is not a llamaprov store: {exc}") from None
    if meta.get("format") != _FORMAT:
        raise StoreError(f"{str(path)!r} is not a llamaprov store (format {meta.get('format')!r})")
    version = meta.get("format_version", "")
    if not version.isdigit() or int(version) > _FORMAT_VERSION:
        raise StoreError(
            f"{str(path)!r} has store format version {version!r}; this llamaprov reads up to "
            f"{_FORMAT_VERSION}"
        )
    for key in ("dim", "embedder_id", "embedder_spec"):
        if key not in meta:
            raise StoreError(f"{str(path)!r} is a damaged llamaprov store (no {key!r} in meta)")
    return meta


def _embed_checked(embed: Embedder, texts: list[str], dim: int | None) -> np.ndarray:
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


def _embedding_input(chunk: Chunk) -> str:
    """What gets embedded: the chunk with its heading path in front, unless it starts with it."""
    if chunk.context and not chunk.text.lstrip().startswith("#"):
        return f"{chunk.context}\n\n{chunk.text}"
    return chunk.text


def _normalize_documents(items: Any, metadata: Any) -> list[Document]:
    if isinstance(items, (str, Document)) or hasattr(items, "page_content"):
        items = [items]
    if not isinstance(items, Iterable):
        raise InvalidArgumentError(f"insert expects texts or documents, got {describe(items)}")
    docs: list[Document] = []
    for item in items:
        if isinstance(item, str):
            docs.append(Document(text=item))
        elif isinstance(item, Document):
            docs.append(Document(item.text, dict(item.metadata), item.source))
        elif isinstance(getattr(item, "page_content", None), str):
            meta = dict(getattr(item, "metadata", None) or {})
            docs.append(Document(item.page_content, meta, meta.get("source")))
        else:
            raise InvalidArgumentError(
                f"insert expects str or Document items, got {describe(item)}"
            )
    if metadata is None:
        extra: list[Mapping[str, Any]] = [{}] * len(docs)
    elif isinstance(metadata, Mapping):
        extra = [metadata] * len(docs)
    elif isinstance(metadata, Sequence) and len(metadata) == len(docs):
        extra = list(metadata)
    else:
        raise InvalidArgumentError(
            f"metadata must be a mapping or one mapping per document ({len(docs)}), "
            f"got {describe(metadata)}"
        )
    for doc, more in zip(docs, extra, strict=True):
        if not isinstance(more, Mapping):
            raise InvalidArgumentError(f"metadata must be a mapping, got {describe(more)}")
        if not isinstance(doc.text, str) or not doc.text.strip():
            raise InvalidArgumentError(f"cannot insert an empty document: {describe(doc.text)}")
        doc.metadata.update(more)
        if doc.source is not None:
            doc.metadata.setdefault("source", doc.source)
        try:
            json.dumps(doc.metadata, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(
                f"metadata must be JSON-serialisable, got {describe(doc.metadata)}: {exc}"
            ) from None
    return docs


def _filter_sql(flt: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
    """SQL condition on ``chunks.metadata`` for an equality filter (list value = any of)."""
    if flt is None:
        return "", []
    if not isinstance(flt, Mapping):
        raise InvalidArgumentError(f"filter must be a dict of metadata values, got {describe(flt)}")
    clauses: list[str] = []
    params: list[Any] = []
    for key, value in flt.items():
        if not isinstance(key, str) or not key or '"' in key or "\\" in key:
            raise InvalidArgumentError(f"filter keys must be plain strings, got {describe(key)}")
        path = f'$."{key}"'
        options = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
        if not options:
            raise InvalidArgumentError(f"filter value for {key!r} is an empty list")
        alternatives = []
        for option in options:
            if option is None:
                alternatives.append("coalesce(json_type(metadata, ?), 'null') = 'null'")
                params.append(path)
            elif isinstance(option, bool):
                alternatives.append("json_type(metadata, ?) = ?")
                params += [path, "true" if option else "false"]
            elif isinstance(option, (int, float)) and math.isfinite(option):
                alternatives.append(
                    "(json_type(metadata, ?) IN ('integer', 'real')"
                    " AND json_extract(metadata, ?) = ?)"
                )
                params += [path, path, option]
            elif isinstance(option, str):
                alternatives.append(
                    "(json_type(metadata, ?) = 'text' AND json_extract(metadata, ?) = ?)"
                )
                params += [path, path, option]
            else:
                raise InvalidArgumentError(
                    f"filter value for {key!r} must be str, number, bool or None, "
                    f"got {describe(option)}"
                )
        clauses.append("(" + " OR ".join(alternatives) + ")")
    return " AND ".join(clauses), params
