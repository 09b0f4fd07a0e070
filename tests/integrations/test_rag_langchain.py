"""LlamaProvEmbeddings inside LangChain vector stores: in memory, and on disk (Chroma)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llamaprov.engine import Model

TEXTS = [
    "Photosynthesis turns sunlight, water and carbon dioxide into glucose in plant leaves.",
    "The Eiffel Tower in Paris was finished in 1889 for the World's Fair.",
    "Volcanoes erupt when magma rises through cracks in the Earth's crust.",
    "The violin has four strings tuned in perfect fifths.",
]


@pytest.fixture(scope="module")
def embeddings(model: Model):
    from llamaprov.integrations.langchain import LlamaProvEmbeddings

    return LlamaProvEmbeddings(model=model)


def test_in_memory_vector_store(embeddings) -> None:
    from langchain_core.vectorstores import InMemoryVectorStore

    store = InMemoryVectorStore.from_texts(
        TEXTS, embeddings, metadatas=[{"i": i} for i in range(len(TEXTS))]
    )
    hits = store.similarity_search("How do plants make sugar from sunlight?", k=2)
    assert hits[0].page_content == TEXTS[0] and hits[0].metadata == {"i": 0}
    scored = store.similarity_search_with_score("magma and eruptions", k=4)
    assert scored[0][0].page_content == TEXTS[2]
    assert [s for _, s in scored] == sorted((s for _, s in scored), reverse=True)


def test_on_disk_chroma_vector_store(embeddings, tmp_path: Path) -> None:
    from langchain_community.vectorstores import Chroma

    directory = str(tmp_path / "chroma")
    store = Chroma.from_texts(
        TEXTS,
        embeddings,
        persist_directory=directory,
        collection_name="llamaprov-lc",
        metadatas=[{"i": i} for i in range(len(TEXTS))],
    )
    assert store.similarity_search("magma and eruptions", k=1)[0].page_content == TEXTS[2]
    del store
    reopened = Chroma(
        persist_directory=directory, collection_name="llamaprov-lc", embedding_function=embeddings
    )
    hit = reopened.similarity_search("Which tower was built for the 1889 fair?", k=1)[0]
    assert hit.page_content == TEXTS[1] and hit.metadata == {"i": 1}
