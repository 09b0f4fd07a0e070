"""The VectorIndex interface: RagStore implements it, and the chat tool and the LangChain retriever
take any implementation (no model needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llamaprov.errors import InvalidArgumentError
from llamaprov.integrations.rag import (
    RagStore,
    RetrievedChunk,
    VectorIndex,
    as_retriever,
    register_retrieve_tool,
)


class WordIndex:
    """A VectorIndex that is not a RagStore: chunks ranked by the words they share with the query.
    Its retrieve takes no options beyond k."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def insert(self, texts_or_documents: Any, metadata: Any = None) -> list[int]:
        self.texts += list(texts_or_documents)
        return list(range(len(self.texts) - len(texts_or_documents), len(self.texts)))

    def retrieve(self, query: str, *, k: int = 5) -> list[RetrievedChunk]:
        words = set(query.lower().split())
        shared = [(len(words & set(t.lower().split())), i) for i, t in enumerate(self.texts)]
        best = sorted((pair for pair in shared if pair[0]), key=lambda pair: -pair[0])[:k]
        return [RetrievedChunk(chunk_id=i, doc_id=i, text=self.texts[i], context="", metadata={},
                               score=float(n)) for n, i in best]

    def close(self) -> None:
        self.texts = []


class FakeChat:
    def __init__(self) -> None:
        self.tools: list[Any] = []

    def register_tool(self, definition: Any) -> None:
        self.tools.append(definition)


def letters(texts: list[str]) -> np.ndarray:
    out = np.zeros((len(texts), 26), dtype=np.float32)
    for i, text in enumerate(texts):
        for ch in text.lower():
            if "a" <= ch <= "z":
                out[i, ord(ch) - 97] += 1
    return out


def test_rag_store_and_others_are_vector_indexes(tmp_path: Path) -> None:
    with RagStore.create(tmp_path / "s.ragstore", embed=letters) as store:
        assert isinstance(store, VectorIndex)
    assert isinstance(WordIndex(), VectorIndex)
    assert not isinstance(object(), VectorIndex)


def test_the_chat_tool_takes_any_index() -> None:
    index = WordIndex()
    index.insert(["cats purr softly", "dogs bark loudly"])
    chat = FakeChat()
    tool = register_retrieve_tool(chat, index, k=1)
    assert chat.tools == [tool]
    assert tool.func(query="why do cats purr") == "[1] (document 0)\ncats purr softly"
    assert tool.func(query="zebras") == "No matching passages."


def test_the_langchain_retriever_takes_any_index() -> None:
    pytest.importorskip("langchain_core")
    index = WordIndex()
    index.insert(["cats purr softly", "dogs bark loudly"])
    docs = as_retriever(index, k=1).invoke("dogs bark")
    assert [d.page_content for d in docs] == ["dogs bark loudly"]


def test_options_reach_a_rag_store(tmp_path: Path) -> None:
    with RagStore.create(tmp_path / "s.ragstore", embed=letters) as store:
        store.insert(["cats purr", "cats sleep"], metadata=[{"n": 1}, {"n": 2}], progress=False)
        tool = register_retrieve_tool(FakeChat(), store, k=2, method="bm25", filter={"n": 2})
        assert tool.func(query="cats") == "[1] (document 2)\ncats sleep"
        docs = as_retriever(store, k=2, method="bm25", filter={"n": 1}).invoke("cats")
        assert [d.page_content for d in docs] == ["cats purr"]


@pytest.mark.parametrize("bad", [object(), "store.ragstore", None])
def test_something_else_is_refused_clearly(bad: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="VectorIndex"):
        register_retrieve_tool(FakeChat(), bad)
    with pytest.raises(InvalidArgumentError, match="VectorIndex"):
        as_retriever(bad)
