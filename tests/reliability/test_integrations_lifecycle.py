"""Closing the integration objects (issue 11): RagStore, LlamaProvEmbedder, LlamaProvEmbeddings.

After ``close()`` every call raises :class:`~llamaprov.errors.ClosedError` (for a store, a
:class:`~llamaprov.errors.StoreClosedError`, also a ``StoreError``), before any argument check;
``close()`` is idempotent and frees only what the object owns: a model passed in, or one shared
through llamaprov.models (as the LangChain components' are), stays open for its other users. Cases
that free a model run in a child process (``isolated``), so a use-after-free shows as a failure,
not a dead pytest.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llamaprov.errors import ClosedError, LlamaProvError, StoreClosedError, StoreError
from llamaprov.integrations.rag import RagStore
from llamaprov.integrations.rag import _store as store_module

DIM = 16


class Embedder:
    """A cheap deterministic embedder with an identity, a spec and a close() that is counted."""

    def __init__(self, embedder_id: str = "test:hashed") -> None:
        self.embedder_id = embedder_id
        self.closes = 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
                out[i, h % DIM] += 1.0
        return out

    def spec(self) -> dict[str, Any]:
        return {"kind": "test", "id": self.embedder_id}

    def close(self) -> None:
        self.closes += 1


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "s.ragstore"
    with RagStore.create(path, embed=Embedder()) as s:
        s.insert(["cats purr", "dogs bark"])
    return path


def test_store_closed_error_is_both_a_store_error_and_a_closed_error() -> None:
    assert issubclass(StoreClosedError, StoreError)
    assert issubclass(StoreClosedError, ClosedError)
    assert issubclass(StoreClosedError, LlamaProvError)


@pytest.mark.parametrize(
    "label, call",
    [
        ("insert", lambda s: s.insert(["x"])),
        ("insert (bad arguments)", lambda s: s.insert([], batch_size=0)),
        ("retrieve", lambda s: s.retrieve("cats")),
        ("retrieve (bad arguments)", lambda s: s.retrieve("", k=0)),
        ("retrieve bm25", lambda s: s.retrieve("cats", method="bm25")),
        ("delete", lambda s: s.delete([1])),
        ("delete (bad arguments)", lambda s: s.delete(["x"])),
        ("len", len),
        ("n_documents", lambda s: s.n_documents),
        ("as_retriever", lambda s: s.as_retriever()),
        ("with", lambda s: s.__enter__()),
    ],
)
def test_store_use_after_close_raises_store_closed_error(store_path: Path, label: str, call: Any) -> None:
    store = RagStore.connect(store_path, embed=Embedder())
    store.close()
    with pytest.raises(StoreClosedError, match="closed"):
        call(store)


def test_store_close_is_idempotent_and_keeps_its_description(store_path: Path) -> None:
    with RagStore.connect(store_path, embed=Embedder()) as store:
        assert not store.closed
        assert len(store) == 2
    assert store.closed
    store.close()
    assert "closed" in repr(store)
    assert store.embedder_id == "test:hashed" and store.dim == DIM


def test_store_close_leaves_an_embedder_passed_in_open(tmp_path: Path) -> None:
    embed = Embedder()
    RagStore.create(tmp_path / "a.ragstore", embed=embed).close()
    RagStore.connect(tmp_path / "a.ragstore", embed=embed).close()
    assert embed.closes == 0
    assert embed(["still usable"]).shape == (1, DIM)


def test_store_closes_the_embedder_connect_rebuilt(
    store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rebuilt: list[Embedder] = []

    def from_spec(spec: dict[str, Any]) -> Embedder:
        rebuilt.append(Embedder(spec["id"]))
        return rebuilt[-1]

    monkeypatch.setattr(store_module, "embedder_from_spec", from_spec)
    store = RagStore.connect(store_path)
    assert store.embed is rebuilt[0]
    assert [h.text for h in store.retrieve("cats", k=1)] == ["cats purr"]
    store.close()
    store.close()
    assert rebuilt[0].closes == 1


def test_connect_closes_the_rebuilt_embedder_when_it_fails(
    store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rebuilt: list[Embedder] = []

    def from_spec(spec: dict[str, Any]) -> Embedder:
        rebuilt.append(Embedder("test:another-model"))  # not the embedder that filled the store
        return rebuilt[-1]

    monkeypatch.setattr(store_module, "embedder_from_spec", from_spec)
    with pytest.raises(StoreError, match="different one"):
        RagStore.connect(store_path)
    assert rebuilt[0].closes == 1


# ------------------------------------------------------------------- with the model (children)

def test_embedder_from_a_path_frees_its_model_on_close(isolated) -> None:
    isolated("""
        from llamaprov.errors import ClosedError
        import threading, time

        def closed_error(fn):
            try:
                fn()
            except ClosedError:
                return True
            return False

        with llamaprov.embed_llamaprov(default_model_path()) as e:
            assert e(["hi"]).shape == (1, e.dim)
        assert e.closed and e.model.closed, "the model it loaded must be freed"
        e.close()  # twice
        assert "closed" in repr(e) and e.spec()["dim"] == e.dim
        for label, fn in [("call", lambda: e(["hi"])), ("empty call", lambda: e([])),
                          ("str call", lambda: e("hi")), ("embed_query", lambda: e.embed_query("hi")),
                          ("embed_documents", lambda: e.embed_documents(["hi"])),
                          ("with", lambda: e.__enter__())]:
            assert closed_error(fn), label

        # close from another thread while calls run: each call finishes or raises ClosedError
        e = llamaprov.embed_llamaprov(default_model_path())
        outcomes = []

        def worker():
            for _ in range(50):
                try:
                    e([f"text number {i}" for i in range(16)])
                    outcomes.append("ok")
                except ClosedError:
                    outcomes.append("closed")

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        while not outcomes:
            time.sleep(0.01)
        e.close()
        for t in threads:
            t.join()
        assert e.model.closed and "closed" in outcomes and outcomes[0] == "ok", outcomes[:5]
        print("done")
    """)


def test_embedder_on_a_model_passed_in_leaves_it_open(isolated) -> None:
    isolated("""
        from llamaprov.errors import ClosedError
        m = load_model(default_model_path())
        first = llamaprov.embed_llamaprov(m)
        second = llamaprov.embed_llamaprov(m)
        first(["hi"])
        first.close()
        assert not m.closed, "a Model passed in belongs to the caller"
        assert second(["still works"]).shape == (1, second.dim)
        assert llamaprov.embed_batch(m, ["and so does the model"]).shape[0] == 1
        try:
            first(["hi"])
        except ClosedError:
            pass
        else:
            raise AssertionError("a closed embedder embedded")
        m.close()
        try:
            second(["hi"])
        except ClosedError:
            pass
        else:
            raise AssertionError("an embedder whose model is closed embedded")
        print("done")
    """)


def test_rag_store_frees_the_model_of_the_embedder_it_rebuilt(isolated) -> None:
    isolated("""
        import tempfile, pathlib
        from llamaprov.errors import ClosedError, StoreClosedError
        from llamaprov.integrations.embedding import LlamaProvEmbedder
        path = pathlib.Path(tempfile.mkdtemp()) / "s.ragstore"
        with llamaprov.embed_llamaprov(default_model_path()) as mine:
            with llamaprov.RagStore.create(path, embed=mine) as store:
                store.insert(["cats purr", "dogs bark"])
            assert not mine.closed and mine(["a store leaves an embedder passed in open"]).shape[0] == 1
        store = llamaprov.RagStore.connect(path)  # the embedder is rebuilt from the file
        rebuilt = store.embed
        assert isinstance(rebuilt, LlamaProvEmbedder)
        assert store.retrieve("cats", k=1)[0].text == "cats purr"
        store.close()
        assert rebuilt.closed and rebuilt.model.closed
        for fn in (lambda: store.retrieve("cats"), lambda: rebuilt(["x"])):
            try:
                fn()
            except ClosedError:
                pass
            else:
                raise AssertionError("no ClosedError")
        try:
            store.insert(["x"])
        except StoreClosedError:
            pass
        print("done")
    """)


def test_langchain_embeddings_close_never_frees_a_shared_model(isolated) -> None:
    isolated("""
        import asyncio
        from llamaprov.errors import ClosedError
        from llamaprov.integrations.langchain import LlamaProvEmbeddings, shared_model
        path = str(default_model_path())
        with LlamaProvEmbeddings(model=path) as a:
            b = LlamaProvEmbeddings(model=path)
            a.embed_query("hi")
        assert a.closed and not b.closed
        a.close()  # twice
        assert not shared_model(path).closed, "the cached model is shared with other instances"
        assert len(b.embed_query("the other instance still works")) > 0
        for label, fn in [("embed_query", lambda: a.embed_query("hi")),
                          ("embed_documents", lambda: a.embed_documents(["hi"])),
                          ("embed_documents([])", lambda: a.embed_documents([])),
                          ("bad argument", lambda: a.embed_query(7)),
                          ("aembed_query", lambda: asyncio.run(a.aembed_query("hi"))),
                          ("aembed_documents", lambda: asyncio.run(a.aembed_documents(["hi"]))),
                          ("with", lambda: a.__enter__())]:
            try:
                fn()
            except ClosedError:
                pass
            else:
                raise AssertionError(f"{label}: no ClosedError")

        m = load_model(default_model_path())
        mine = LlamaProvEmbeddings(model=m)
        mine.embed_query("hi")
        mine.close()
        assert not m.closed, "a Model passed in belongs to the caller"
        assert llamaprov.embed_batch(m, ["x"]).shape[0] == 1
        print("done")
    """)
