"""RAG with the real default model: the embedder, retrieval quality on a labelled corpus, Chroma,
and a chat that calls the retrieval tool."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from llamaprov.engine import Model
from llamaprov.errors import StoreError
from llamaprov.integrations.embedding import LlamaProvEmbedder, embed_llamaprov
from llamaprov.integrations.rag import Document, RagStore, register_retrieve_tool

CORPUS = json.loads((Path(__file__).parent / "data" / "rag_corpus.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def embedder(model: Model) -> LlamaProvEmbedder:
    return embed_llamaprov(model)


@pytest.fixture(scope="module")
def corpus_store(
    embedder: LlamaProvEmbedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RagStore]:
    path = tmp_path_factory.mktemp("rag") / "corpus.ragstore"
    store = RagStore.create(path, embed=embedder)
    docs = [Document(d["text"], {"id": d["id"], "topic": d["topic"]}) for d in CORPUS["documents"]]
    store.insert(docs, progress=False)
    yield store
    store.close()


def test_embedder_vectors(embedder: LlamaProvEmbedder) -> None:
    texts = ["The cat sat on the mat.", "Stock markets fell today.", "The cat sat on the mat."]
    vectors = embedder(texts)
    assert vectors.shape == (3, 576) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(vectors[0], vectors[2], atol=1e-5)
    assert embedder("one text").shape == (1, 576)
    assert embedder([]).shape == (0, 576)
    spec = embedder.spec()
    assert spec["kind"] == "llamaprov" and spec["dim"] == 576 and Path(spec["model_path"]).is_file()
    size = Path(spec["model_path"]).stat().st_size
    assert embedder.embedder_id.startswith("llamaprov:") and f":{size}:" in embedder.embedder_id
    raw = embed_llamaprov(embedder.model, normalize=False)
    assert raw.embedder_id != embedder.embedder_id
    assert not np.allclose(np.linalg.norm(raw(texts[:1]), axis=1), 1.0)


class _QueryCache:
    """The store's embedder with the questions embedded ahead in one batch (saves 60 decodes)."""

    def __init__(self, inner: LlamaProvEmbedder, texts: list[str]) -> None:
        self.inner = inner
        self.embedder_id = inner.embedder_id
        self.cache = dict(zip(texts, inner(texts), strict=True))

    def __call__(self, texts: list[str]) -> np.ndarray:
        if all(t in self.cache for t in texts):
            return np.stack([self.cache[t] for t in texts])
        return self.inner(texts)


def test_hybrid_hit_rate_on_labelled_corpus(corpus_store: RagStore) -> None:
    questions = CORPUS["questions"]
    assert len(CORPUS["documents"]) >= 30 and len(questions) >= 30
    rates = {}
    store = RagStore.connect(
        corpus_store.path, embed=_QueryCache(corpus_store.embed, [q["q"] for q in questions])
    )
    for method in ("vector", "bm25", "hybrid"):
        hits = 0
        for q in questions:
            found = [h.metadata["id"] for h in store.retrieve(q["q"], k=3, method=method)]
            hits += q["doc"] in found
        rates[method] = hits / len(questions)
    store.close()
    print("top-3 hit rate:", rates)
    assert rates["hybrid"] >= max(rates["bm25"], rates["vector"]), rates
    assert rates["hybrid"] >= 0.8, rates


def test_connect_rebuilds_the_recorded_embedder(corpus_store: RagStore, model: Model) -> None:
    query = "Which notes are the strings of a violin tuned to?"
    before = corpus_store.retrieve(query, k=3)
    with RagStore.connect(corpus_store.path) as reopened:  # no embed: rebuilt from the file
        assert isinstance(reopened.embed, LlamaProvEmbedder)
        assert reopened.embedder_id == corpus_store.embedder_id
        after = reopened.retrieve(query, k=3)
    assert [h.chunk_id for h in after] == [h.chunk_id for h in before]
    np.testing.assert_allclose([h.score for h in after], [h.score for h in before], rtol=1e-4)
    with pytest.raises(StoreError, match="different one"):
        RagStore.connect(corpus_store.path, embed=embed_llamaprov(model, pooling="last"))


def test_chroma_accepts_the_embedder(embedder: LlamaProvEmbedder) -> None:
    import chromadb
    from chromadb.config import Settings

    client = chromadb.EphemeralClient(Settings(anonymized_telemetry=False))
    collection = client.create_collection("llamaprov-test", embedding_function=embedder)
    docs = CORPUS["documents"][:8]
    collection.add(ids=[d["id"] for d in docs], documents=[d["text"] for d in docs])
    result = collection.query(query_texts=["How do plants turn light into sugar?"], n_results=3)
    assert "photosynthesis" in result["ids"][0]
    got = collection.get(ids=["volcano"], include=["embeddings"])
    alone = embedder([docs[1]["text"]])[0]  # batched and single decodes round slightly differently
    assert float(np.dot(got["embeddings"][0], alone)) > 0.999


def test_chat_answers_from_retrieved_passage(corpus_store: RagStore, model: Model) -> None:
    from llamaprov.chat import ContentToolRequest, ContentToolResult, chat_llamaprov

    chat = chat_llamaprov(model, params={"temperature": 0, "max_tokens": 96}, n_ctx=2048)
    tool = register_retrieve_tool(chat, corpus_store, k=2)
    assert tool.name == "search_documents" and "query" in tool.parameters["properties"]
    question = 'Look up "Eiffel Tower" in the documents and tell me when it was built.'
    answer = chat.chat(question, tool_choice="required")
    contents = [c for t in chat.get_turns() for c in t.contents]
    requests = [c for c in contents if isinstance(c, ContentToolRequest)]
    results = [c for c in contents if isinstance(c, ContentToolResult)]
    assert requests and results and not results[0].is_error
    query = requests[0].arguments["query"]
    # The tool result turn holds the passages the store retrieves for the model's query ...
    for hit in corpus_store.retrieve(query, k=2):
        assert hit.text in results[0].value
    eiffel = next(d["text"] for d in CORPUS["documents"] if d["id"] == "eiffel")
    assert eiffel in results[0].value, query
    # ... and the reply is drawn from that passage.
    assert any(fact in answer for fact in ("1889", "wrought-iron", "Gustave Eiffel")), answer
