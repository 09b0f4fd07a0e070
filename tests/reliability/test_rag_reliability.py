"""RagStore under races, damaged files and kill -9: no lost stores, no raw sqlite3 errors.

The embedders here are cheap and deterministic (no model): these tests are about the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from llamaprov.errors import StoreError
from llamaprov.integrations.rag import RagStore

DIM = 32


class Hashed:
    """Feature-hashed bag of words with a fixed identity, so another process can reconnect."""

    embedder_id = "reliability:hashed-bow"

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def __call__(self, texts: list[str]) -> np.ndarray:
        if self.delay:
            time.sleep(self.delay)  # widens the window between "does the file exist" and creating it
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
                out[i, h % DIM] += 1.0
            out[i, 0] += 0.5  # never the zero vector
        return out


def _race(n: int, target) -> tuple[list[object], list[BaseException]]:
    barrier = threading.Barrier(n)
    results: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        try:
            value = target()
        except BaseException as exc:  # collected and checked by the test
            with lock:
                errors.append(exc)
        else:
            with lock:
                results.append(value)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def _check_consistent(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
        bad = conn.execute(
            "SELECT d.id FROM documents d WHERE d.n_chunks != "
            "(SELECT count(*) FROM chunks c WHERE c.doc_id = d.id)"
        ).fetchall()
        assert bad == [], f"documents with missing chunks: {bad}"
    finally:
        conn.close()


# ---------------------------------------------------------------------- create races
@pytest.mark.parametrize("round_", range(8))
def test_concurrent_create_one_wins_and_keeps_its_file(tmp_path: Path, round_: int) -> None:
    path = tmp_path / "race.ragstore"
    stores, errors = _race(4, lambda: RagStore.create(path, embed=Hashed(delay=0.02)))
    assert len(stores) == 1, errors
    assert all(isinstance(e, StoreError) and "already exists" in str(e) for e in errors), errors
    (store,) = stores
    assert isinstance(store, RagStore)
    assert path.is_file()
    store.insert(["The winner's store keeps working after the losers gave up."], progress=False)
    assert store.retrieve("winner store", k=1)[0].doc_id == 1
    store.close()
    with RagStore.connect(path, embed=Hashed()) as again:
        assert again.n_documents == 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


def test_concurrent_create_with_overwrite_leaves_one_valid_store(tmp_path: Path) -> None:
    path = tmp_path / "over.ragstore"
    with RagStore.create(path, embed=Hashed()) as s:
        s.insert(["old document one", "old document two"], progress=False)
    for _ in range(3):
        stores, errors = _race(
            4, lambda: RagStore.create(path, embed=Hashed(delay=0.01), overwrite=True)
        )
        assert all(isinstance(e, StoreError) for e in errors), errors
        assert stores
        for s in stores:
            assert isinstance(s, RagStore)
            s.close()
        with RagStore.connect(path, embed=Hashed()) as again:
            assert again.n_documents == 0
            again.insert(["new document"], progress=False)
        _check_consistent(path)


def test_overwrite_of_a_missing_path_races_with_plain_create(tmp_path: Path) -> None:
    path = tmp_path / "mixed.ragstore"
    calls = [
        lambda: RagStore.create(path, embed=Hashed(delay=0.02)),
        lambda: RagStore.create(path, embed=Hashed(delay=0.02), overwrite=True),
    ]
    counter = iter(range(4))
    lock = threading.Lock()

    def one() -> RagStore:
        with lock:
            i = next(counter)
        return calls[i % 2]()

    stores, errors = _race(4, one)
    assert stores and all(isinstance(e, StoreError) for e in errors), errors
    for s in stores:
        s.close()  # type: ignore[attr-defined]
    _check_consistent(path)


def test_failed_create_removes_only_its_own_files(tmp_path: Path) -> None:
    path = tmp_path / "nan.ragstore"

    def nan(texts: list[str]) -> np.ndarray:
        return np.full((len(texts), DIM), np.nan, dtype=np.float32)

    with pytest.raises(StoreError):
        RagStore.create(path, embed=nan)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- sqlite errors
def _damage(path: Path, sql: str) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(sql)
    conn.close()


@pytest.mark.parametrize(
    "call",
    ["len", "n_documents", "insert", "delete", "retrieve-bm25", "retrieve-vector", "retrieve-hybrid"],
)
def test_sqlite_errors_of_an_open_store_are_store_errors(tmp_path: Path, call: str) -> None:
    path = tmp_path / "damaged.ragstore"
    store = RagStore.create(path, embed=Hashed())
    store.insert(["alpha beta gamma", "delta epsilon"], progress=False)
    _damage(path, "DROP TABLE chunks_fts; DROP TABLE chunks; DROP TABLE documents;")
    actions = {
        "len": lambda: len(store),
        "n_documents": lambda: store.n_documents,
        "insert": lambda: store.insert("zeta eta", progress=False),
        "delete": lambda: store.delete(1),
        "retrieve-bm25": lambda: store.retrieve("alpha", method="bm25"),
        "retrieve-vector": lambda: store.retrieve("alpha", method="vector"),
        "retrieve-hybrid": lambda: store.retrieve("alpha", method="hybrid"),
    }
    with pytest.raises(StoreError, match=re.escape(str(path))) as info:
        actions[call]()
    assert isinstance(info.value.__cause__, sqlite3.Error)
    store.close()


def test_connect_to_a_damaged_store_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "halfgone.ragstore"
    RagStore.create(path, embed=Hashed()).close()
    _damage(path, "DROP TABLE chunks_fts; DROP TABLE chunks;")
    with pytest.raises(StoreError, match=re.escape(str(path))):
        RagStore.connect(path, embed=Hashed())


def test_corrupt_pages_raise_store_error(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.ragstore"
    with RagStore.create(path, embed=Hashed()) as s:
        s.insert([f"document number {i} " * 50 for i in range(40)], progress=False)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(path.read_bytes())
    for offset in range(2 * page, len(data), 3 * page):  # scribble over many pages, not the header
        data[offset : offset + page] = os.urandom(page)
    path.write_bytes(bytes(data))
    try:
        store = RagStore.connect(path, embed=Hashed())
    except StoreError:
        return
    with store:
        for action in (
            lambda: store.retrieve("document number 7", k=3),
            lambda: store.insert("more text", progress=False),
            lambda: len(store),
        ):
            with contextlib.suppress(StoreError):  # an error, if any, must be a StoreError
                action()


# ---------------------------------------------------------------------- kill -9 during insert
_CHILD = """
import hashlib, re, sys, time
import numpy as np
from llamaprov.integrations.rag import RagStore

DIM = {dim}

class Hashed:
    embedder_id = "reliability:hashed-bow"
    def __call__(self, texts):
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\\w+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
                out[i, h % DIM] += 1.0
            out[i, 0] += 0.5
        return out

store = RagStore.connect(sys.argv[1], embed=Hashed())
n = store.n_documents
print("ready", n, flush=True)
while True:
    batch = [f"document {{n + j}} " + "filler words for several chunks " * 60 for j in range(10)]
    print("begin", n, flush=True)
    store.insert(batch, chunk_size=300, chunk_overlap=30, progress=False)
    n += len(batch)
    print("committed", n, flush=True)
"""


def test_kill_during_insert_keeps_every_committed_document(tmp_path: Path) -> None:
    path = tmp_path / "killed.ragstore"
    RagStore.create(path, embed=Hashed()).close()
    script = textwrap.dedent(_CHILD.format(dim=DIM))
    committed = 0
    for round_, delay in enumerate((0.3, 0.55, 0.8, 1.1)):
        child = subprocess.Popen(
            [sys.executable, "-c", script, str(path)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert child.stdout is not None
        ready = child.stdout.readline().split()
        assert ready[:1] == ["ready"], child.stderr.read() if child.stderr else ""
        assert int(ready[1]) >= committed
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL
        lines = child.stdout.read().splitlines()
        done = [int(line.split()[1]) for line in lines if line.startswith("committed")]
        assert done, f"round {round_}: the child committed nothing before the kill"
        committed = done[-1]

        _check_consistent(path)
        with RagStore.connect(path, embed=Hashed()) as store:
            n = store.n_documents
            # a batch is one transaction: the one being written at the kill is all there or absent
            assert n in (committed, committed + 10), (n, committed)
            committed = n
            assert len(store) > 0
            hit = store.retrieve(f"document {committed - 1}", k=1, method="bm25")
            assert hit and f"document {committed - 1} " in hit[0].text
