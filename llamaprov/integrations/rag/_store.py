"""The SQLite implementation of :class:`~llamaprov.integrations.rag.VectorIndex`:
:class:`RagStore`, documents, chunks, a BM25 index and vectors in one file."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from llamaprov._progress import ProgressBar
from llamaprov.errors import InvalidArgumentError, StoreClosedError, StoreError, describe
from llamaprov.integrations.embedding import embedder_from_spec, embedder_id, embedder_spec

from ._bm25 import QueryPlanner
from ._chunking import Chunk, chunk_text
from ._documents import Document, normalize_documents
from ._filter import filter_sql
from ._fusion import reciprocal_rank_fusion
from ._index import RetrievedChunk
from ._schema import (
    as_path,
    new_meta,
    open_db,
    publish_new,
    read_meta,
    reset_in_place,
    sqlite_errors,
)
from ._vectors import Embedder, VectorMatrix, embed_checked

if TYPE_CHECKING:
    from langchain_core.retrievers import BaseRetriever

Method = Literal["hybrid", "vector", "bm25"]


class RagStore:
    """Documents, chunks, a BM25 index and vectors in one SQLite file: the SQLite
    :class:`~llamaprov.integrations.rag.VectorIndex`. Use :meth:`create` or :meth:`connect`.

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
        self._vectors = VectorMatrix(self._dim)
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
        p = as_path(path)
        exists = os.path.lexists(p)
        if exists and not overwrite:
            raise StoreError(f"{str(p)!r} already exists; pass overwrite=True to replace a store")
        if exists and p.is_file() and p.stat().st_size > 0:
            read_meta(p)  # raises StoreError if it is not a llamaprov store: never clobber other files
        elif exists and not p.is_file():
            raise StoreError(f"{str(p)!r} exists and is not a file")
        if not p.parent.is_dir():
            raise StoreError(f"directory {str(p.parent)!r} does not exist")
        probe = embed_checked(embed, ["dimension probe"], None)
        meta = new_meta(probe.shape[1], embedder_id(embed), embedder_spec(embed))
        if exists:
            reset_in_place(p, meta)
        elif not publish_new(p, meta):  # another thread or process created it meanwhile
            if not overwrite:
                raise StoreError(
                    f"{str(p)!r} already exists; pass overwrite=True to replace a store"
                )
            reset_in_place(p, meta)
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
        p = as_path(path)
        meta = read_meta(p)
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
        conn = open_db(path)
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
    @sqlite_errors("counting documents")
    def n_documents(self) -> int:
        """Number of documents stored."""
        with self._lock:
            return int(self._db().execute("SELECT count(*) FROM documents").fetchone()[0])

    @sqlite_errors("counting chunks")
    def __len__(self) -> int:
        """Number of chunks stored."""
        with self._lock:
            return int(self._db().execute("SELECT count(*) FROM chunks").fetchone()[0])

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._vectors)} chunks"
        return f"RagStore({str(self._path)!r}, {state}, embedder={self.embedder_id!r})"

    # ------------------------------------------------------------------ writing
    @sqlite_errors("insert")
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
        docs = normalize_documents(texts_or_documents, metadata)
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
                vectors[lo : lo + len(part)] = embed_checked(self._embed, part, self._dim)
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

    @sqlite_errors("delete")
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
    @sqlite_errors("retrieve")
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
        where, params = filter_sql(filter)
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
                ranked = reciprocal_rank_fusion(vec, bm)
            return self._materialize(ranked, k, vec_scores, bm_scores)

    def as_retriever(
        self, k: int = 5, *, method: Method = "hybrid", filter: Mapping[str, Any] | None = None
    ) -> BaseRetriever:
        """A LangChain ``BaseRetriever`` over this store (needs ``langchain-core``); see
        :func:`~llamaprov.integrations.rag.as_retriever`."""
        from ._retriever import as_retriever

        self._check_open()
        return as_retriever(self, k, method=method, filter=filter)

    # ------------------------------------------------------------------ lifecycle
    @sqlite_errors("close")
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
                self._vectors.clear(release=True)
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
        if full or count < len(self._vectors):
            self._vectors.clear()
        last = self._vectors.last_id
        rows = conn.execute(
            "SELECT id, vector FROM chunks WHERE id > ? ORDER BY id", (last,)
        ).fetchall()
        if len(self._vectors) + len(rows) != count:  # rows vanished below `last`: reload everything
            self._vectors.clear()
            rows = conn.execute("SELECT id, vector FROM chunks ORDER BY id").fetchall()
        self._vectors.append(rows)
        self._data_version = version
        self._planner.invalidate()

    def _filtered_ids(self, where: str, params: list[Any]) -> np.ndarray:
        rows = self._db().execute(f"SELECT id FROM chunks WHERE {where}", params).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def _vector_search(
        self, query: str, n: int, allowed: np.ndarray | None
    ) -> list[tuple[int, float]]:
        if not len(self._vectors):
            return []  # nothing to compare with: the query is not embedded
        q = embed_checked(self._embed, [query], self._dim)[0]
        return self._vectors.search(q, n, allowed)

    def _bm25_search(
        self, query: str, n: int, where: str, params: list[Any]
    ) -> list[tuple[int, float]]:
        match = self._planner.match(self._db(), query, len(self._vectors))
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


def _embedding_input(chunk: Chunk) -> str:
    """What gets embedded: the chunk with its heading path in front, unless it starts with it."""
    if chunk.context and not chunk.text.lstrip().startswith("#"):
        return f"{chunk.context}\n\n{chunk.text}"
    return chunk.text
