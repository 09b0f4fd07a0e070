"""RagStore mechanics: schema, insert/retrieve/filter, persistence, concurrency and bad input.

These tests use a small deterministic bag-of-words embedder defined here (no model needed);
retrieval quality with the real default model is tested in test_rag_quality.py.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from llamaprov.errors import InvalidArgumentError, LlamaProvError, StoreError
from llamaprov.integrations.rag import Document, RagStore, RetrievedChunk

DIM = 64


def hashed_bow(texts: list[str]) -> np.ndarray:
    """Feature-hashed bag of words: texts sharing words get similar vectors."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for i, text in enumerate(texts):
        for word in re.findall(r"\w+", text.lower()):
            h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
            out[i, h % DIM] += 1.0 if (h >> 16) & 1 else -1.0
    return out


def other_embedder(texts: list[str]) -> np.ndarray:
    return hashed_bow(texts)


def wrong_dim(texts: list[str]) -> np.ndarray:
    return np.ones((len(texts), DIM + 1), dtype=np.float32)


TEXTS = [
    "Photosynthesis turns sunlight, water and carbon dioxide into glucose in plant leaves.",
    "The Eiffel Tower in Paris was finished in 1889 for the World's Fair.",
    "Python lists are mutable sequences; tuples are immutable.",
    "Volcanoes erupt when magma rises through cracks in the Earth's crust.",
    "The violin has four strings tuned in perfect fifths.",
]


def snapshot(path: Path) -> bytes:
    """Bytes of the store file and its WAL: equal snapshots mean the store was not touched."""
    wal = Path(str(path) + "-wal")
    return path.read_bytes() + b"|" + (wal.read_bytes() if wal.exists() else b"")


@pytest.fixture
def store(tmp_path: Path):
    s = RagStore.create(tmp_path / "s.ragstore", embed=hashed_bow)
    s.insert(
        TEXTS,
        metadata=[
            {"topic": t, "n": i} for i, t in enumerate(["bio", "geo", "code", "geo", "music"])
        ],
        progress=False,
    )
    yield s
    s.close()


@pytest.mark.parametrize("method", ["vector", "bm25", "hybrid"])
def test_retrieve_finds_the_matching_text(store: RagStore, method: str) -> None:
    hits = store.retrieve("When was the Eiffel Tower in Paris finished?", k=3, method=method)
    assert hits and isinstance(hits[0], RetrievedChunk)
    assert hits[0].text == TEXTS[1]
    assert hits[0].metadata == {"topic": "geo", "n": 1}
    assert len(hits) <= 3
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    if method == "hybrid":
        assert hits[0].vector_score is not None and hits[0].bm25_score is not None


def test_schema_wal_and_meta(store: RagStore) -> None:
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    assert meta["format"] == "llamaprov-rag" and meta["dim"] == str(DIM)
    assert meta["embedder_id"].endswith("hashed_bow")
    blob = conn.execute("SELECT vector FROM chunks ORDER BY id LIMIT 1").fetchone()[0]
    assert len(blob) == 4 * DIM
    assert (
        conn.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'violin'").fetchone()[
            0
        ]
        == 1
    )
    conn.close()
    assert len(store) == 5 and store.n_documents == 5 and store.dim == DIM


def test_filter_by_metadata(store: RagStore) -> None:
    for method in ("vector", "bm25", "hybrid"):
        hits = store.retrieve(
            "Eiffel Tower volcano magma", k=5, method=method, filter={"topic": "geo"}
        )
        assert {h.text for h in hits} <= {TEXTS[1], TEXTS[3]}
        assert hits
        hits = store.retrieve("Eiffel Tower", k=5, method=method, filter={"topic": "music"})
        assert all(h.metadata["topic"] == "music" for h in hits)
    assert [h.text for h in store.retrieve("strings", method="vector", filter={"n": 4})] == [
        TEXTS[4]
    ]
    hits = store.retrieve(
        "anything at all", k=5, method="vector", filter={"topic": ["bio", "code"]}
    )
    assert {h.metadata["topic"] for h in hits} == {"bio", "code"}
    assert store.retrieve("Eiffel", method="vector", filter={"topic": "nope"}) == []
    with pytest.raises(InvalidArgumentError, match="filter"):
        store.retrieve("x", filter={"topic": {"$ne": 1}})
    with pytest.raises(InvalidArgumentError, match="filter"):
        store.retrieve("x", filter=["topic"])  # type: ignore[arg-type]


def test_hybrid_deduplicates_identical_texts(tmp_path: Path) -> None:
    with RagStore.create(tmp_path / "d.ragstore", embed=hashed_bow) as s:
        s.insert([TEXTS[0], TEXTS[0], TEXTS[2]], progress=False)
        hits = s.retrieve("photosynthesis glucose", k=3)
        texts = [h.text for h in hits]
        assert texts.count(TEXTS[0]) == 1 and len(set(texts)) == len(texts)


def test_documents_chunks_and_sources(tmp_path: Path) -> None:
    md = (
        "# Guide\n\n## Install\n\n"
        + "Run pip install llamaprov now. " * 30
        + "\n\n## Usage\n\nCall chat().\n"
    )
    with RagStore.create(tmp_path / "c.ragstore", embed=hashed_bow) as s:
        (doc_id,) = s.insert(
            Document(md, {"kind": "guide"}, source="guide.md"),
            chunk_size=200,
            chunk_overlap=40,
            progress=False,
        )
        assert len(s) > 3
        hit = s.retrieve("usage call chat", k=1, method="bm25")[0]
        assert hit.context == "# Guide > ## Usage" and hit.doc_id == doc_id
        assert hit.source == "guide.md" and hit.metadata == {"kind": "guide", "source": "guide.md"}
        assert s.delete(doc_id) == 1
        assert len(s) == 0 and s.retrieve("usage", k=1) == []


def test_persistence_same_results_after_reopen(tmp_path: Path) -> None:
    path = tmp_path / "p.ragstore"
    with RagStore.create(path, embed=hashed_bow) as s:
        s.insert(TEXTS, progress=False)
        before = {
            m: s.retrieve("plant leaves and sunlight", k=3, method=m)
            for m in ("vector", "bm25", "hybrid")
        }
    with RagStore.connect(path, embed=hashed_bow) as s:
        after = {
            m: s.retrieve("plant leaves and sunlight", k=3, method=m)
            for m in ("vector", "bm25", "hybrid")
        }
        assert len(s) == len(TEXTS)
    assert before == after


def test_connect_checks_the_embedder(tmp_path: Path) -> None:
    path = tmp_path / "e.ragstore"
    RagStore.create(path, embed=hashed_bow).close()
    with pytest.raises(StoreError, match="custom embedder"):
        RagStore.connect(path)
    with pytest.raises(StoreError, match="different one"):
        RagStore.connect(path, embed=other_embedder)


def test_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "o.ragstore"
    with RagStore.create(path, embed=hashed_bow) as s:
        s.insert(TEXTS[:2], progress=False)
    with pytest.raises(StoreError, match="already exists"):
        RagStore.create(path, embed=hashed_bow)
    with RagStore.create(path, embed=hashed_bow, overwrite=True) as s:
        assert len(s) == 0


def test_two_connections_see_each_others_writes(tmp_path: Path) -> None:
    path = tmp_path / "t.ragstore"
    a = RagStore.create(path, embed=hashed_bow)
    b = RagStore.connect(path, embed=hashed_bow)
    a.insert(TEXTS[:2], progress=False)
    assert b.retrieve("violin strings", k=5, method="vector") != []
    a.insert(TEXTS[4], progress=False)
    assert b.retrieve("violin strings fifths", k=1, method="vector")[0].text == TEXTS[4]
    a.close()
    b.close()


def test_write_during_read_is_safe(tmp_path: Path) -> None:
    path = tmp_path / "w.ragstore"
    with RagStore.create(path, embed=hashed_bow) as s:
        s.insert(TEXTS, progress=False)
    # A reader holding an open read transaction keeps its snapshot while a writer commits.
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM chunks").fetchone()[0] == 5
    writer = RagStore.connect(path, embed=hashed_bow)
    readers = [RagStore.connect(path, embed=hashed_bow) for _ in range(2)]
    errors: list[BaseException] = []
    stop = threading.Event()

    def read_loop(r: RagStore) -> None:
        try:
            while not stop.is_set():
                for m in ("vector", "bm25", "hybrid"):
                    r.retrieve("magma volcano eruption", k=3, method=m)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read_loop, args=(r,)) for r in readers]
    for t in threads:
        t.start()
    for i in range(20):
        writer.insert(
            f"Extra note {i} about volcano magma and eruptions number {i}.", progress=False
        )
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    assert reader.execute("SELECT count(*) FROM chunks").fetchone()[0] == 5  # snapshot unchanged
    reader.execute("COMMIT")
    assert reader.execute("SELECT count(*) FROM chunks").fetchone()[0] == 25
    assert reader.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    reader.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
    for r in readers:
        assert len(r) == 25 and len(r.retrieve("volcano", k=30, method="vector")) == 25
        assert "number 19" in r.retrieve("Extra note 19", k=1, method="bm25")[0].text
        r.close()
    writer.close()
    reader.close()


# ---------------------------------------------------------------------- bad input
def test_empty_query_and_bad_arguments(store: RagStore) -> None:
    for bad in ("", "   ", None, 3):
        with pytest.raises(InvalidArgumentError, match="query"):
            store.retrieve(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="k must"):
        store.retrieve("x", k=0)
    with pytest.raises(InvalidArgumentError, match="method"):
        store.retrieve("x", method="dense")  # type: ignore[arg-type]
    assert (
        store.retrieve("?!", method="bm25") == []
    )  # no words: no BM25 hits, not an FTS syntax error


def test_empty_document_leaves_store_untouched(store: RagStore) -> None:
    before = snapshot(store.path)
    for bad in ("", "  \n ", ["ok text", ""], [Document("")], [42]):
        with pytest.raises(InvalidArgumentError):
            store.insert(bad, progress=False)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="metadata"):
        store.insert(["a", "b"], metadata=[{"x": 1}], progress=False)
    with pytest.raises(InvalidArgumentError, match="JSON"):
        store.insert("a", metadata={"x": object()}, progress=False)
    assert snapshot(store.path) == before and len(store) == 5


def test_wrong_dimension_vector_leaves_store_untouched(tmp_path: Path) -> None:
    path = tmp_path / "dim.ragstore"
    with RagStore.create(path, embed=hashed_bow) as s:
        s.insert(TEXTS, progress=False)
    before = snapshot(path)
    s = RagStore.connect(path, embed=hashed_bow)
    s._embed = wrong_dim  # an embedder that changed its output under the store
    with pytest.raises(StoreError, match=f"dimension {DIM + 1}.*dimension {DIM}"):
        s.insert("new text here", progress=False)
    with pytest.raises(StoreError, match="dimension"):
        s.retrieve("query", method="vector")
    s.close()
    assert snapshot(path) == before

    def nan_embed(texts: list[str]) -> np.ndarray:
        return np.full((len(texts), DIM), np.nan, dtype=np.float32)

    with pytest.raises(StoreError, match="non-finite"):
        RagStore.create(tmp_path / "nan.ragstore", embed=nan_embed)
    assert not (tmp_path / "nan.ragstore").exists()


@pytest.mark.parametrize(
    "content", [b"just some text, not a database\n", b"", b"\x00\x01\x02" * 100]
)
def test_not_a_store_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    with pytest.raises(StoreError, match="not a llamaprov store"):
        RagStore.connect(path, embed=hashed_bow)
    with pytest.raises(StoreError):
        RagStore.create(path, embed=hashed_bow)
    if content:
        with pytest.raises(StoreError, match="not a llamaprov store"):
            RagStore.create(path, embed=hashed_bow, overwrite=True)
    assert path.read_bytes() == content


def test_other_sqlite_database_is_not_touched(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users(name TEXT)")
    conn.execute("INSERT INTO users VALUES ('ada')")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    for call in (
        lambda: RagStore.connect(path, embed=hashed_bow),
        lambda: RagStore.create(path, embed=hashed_bow, overwrite=True),
    ):
        with pytest.raises(StoreError, match="not a llamaprov store"):
            call()
    assert path.read_bytes() == before
    assert not Path(str(path) + "-wal").exists()


def test_missing_store_and_closed_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store"):
        RagStore.connect(tmp_path / "missing.ragstore", embed=hashed_bow)
    with pytest.raises(StoreError, match="does not exist"):
        RagStore.create(tmp_path / "no" / "dir.ragstore", embed=hashed_bow)
    with pytest.raises(InvalidArgumentError, match="embed"):
        RagStore.create(tmp_path / "x.ragstore", embed="not callable")  # type: ignore[arg-type]
    s = RagStore.create(tmp_path / "c.ragstore", embed=hashed_bow)
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.retrieve("x")
    assert issubclass(StoreError, LlamaProvError)


def test_as_retriever_returns_langchain_documents(store: RagStore) -> None:
    from langchain_core.retrievers import BaseRetriever

    retriever = store.as_retriever(k=2)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("Eiffel Tower Paris")
    assert len(docs) == 2 and docs[0].page_content == TEXTS[1]
    assert docs[0].metadata["topic"] == "geo" and docs[0].metadata["chunk_id"] >= 1
    filtered = store.as_retriever(k=3, method="vector", filter={"topic": "music"}).invoke("Paris")
    assert [d.page_content for d in filtered] == [TEXTS[4]]


def test_bm25_ignores_words_found_in_most_chunks(tmp_path: Path) -> None:
    with RagStore.create(tmp_path / "b.ragstore", embed=hashed_bow) as s:
        s.insert([f"common filler text number {i}" for i in range(30)], progress=False)
        s.insert("common filler with the rare zeppelin word", progress=False)
        hits = s.retrieve("common zeppelin", k=3, method="bm25")
        assert [h.text for h in hits] == ["common filler with the rare zeppelin word"]
        # a query of common words only still ranks by the rarest of them
        assert len(s.retrieve("common filler", k=5, method="bm25")) == 5
        assert s.retrieve("absentword", k=5, method="bm25") == []


def test_insert_progress_bar_is_optional(tmp_path: Path, capsys, monkeypatch) -> None:
    pytest.importorskip("tqdm")
    with RagStore.create(tmp_path / "p.ragstore", embed=hashed_bow) as s:
        s.insert(TEXTS[:2], progress=True)
        assert "embedding" in capsys.readouterr().err
        monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # tqdm not installed
        s.insert(TEXTS[2:], progress=True)
        assert capsys.readouterr().err == "" and len(s) == len(TEXTS)
