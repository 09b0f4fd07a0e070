"""RAG benchmarks: store retrieval latency at 100k chunks, and embedding ingestion throughput.

    python bench/bench_rag.py retrieval [--n 100000] [--queries 200]
    python bench/bench_rag.py ingest [--texts 128] [--rounds 3]
    python bench/bench_rag.py all

``retrieval`` fills a store with synthetic chunks (Zipf-distributed words) and 576-dimensional vectors
(the default model's width) from a hashing embedder, so it needs no model, then reports p50/p95 of
``store.retrieve`` for each method. Targets: p50 <= 30 ms for vector and hybrid.

``ingest`` embeds the same texts with ``llamaprov.engine.embed_batch`` and with the peer,
``langchain_community.embeddings.LlamaCppEmbeddings`` on the same model, in the same run, and compares
both to the prompt-processing ceiling: the engine's own tokens/s on one long prompt divided by the
mean tokens per text. The three run interleaved, ``--rounds`` times; medians are compared.
Targets: >= 1.15x the peer and >= 0.9x the ceiling.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

DIM = 576
VOCAB_SIZE = 5000


def _vocab() -> list[str]:
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = {"".join(rng.choice(letters, size=rng.integers(3, 10))) for _ in range(VOCAB_SIZE * 2)}
    return sorted(words)[:VOCAB_SIZE]


def _zipf_texts(n: int, words_per_text: int, seed: int) -> list[str]:
    vocab = _vocab()
    rng = np.random.default_rng(seed)
    ranks = np.minimum(rng.zipf(1.2, size=(n, words_per_text)), len(vocab)) - 1
    return [" ".join(vocab[i] for i in row) + "." for row in ranks]


def hash_embed(texts: list[str]) -> np.ndarray:
    """Deterministic random unit vectors, one per text (stands in for a model in the store bench)."""
    out = np.empty((len(texts), DIM), dtype=np.float32)
    for i, text in enumerate(texts):
        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
        out[i] = np.random.default_rng(seed).standard_normal(DIM, dtype=np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def bench_retrieval(n: int, n_queries: int) -> dict[str, object]:
    from llamaprov.integrations.rag import RagStore

    texts = _zipf_texts(n, 40, seed=1)
    queries = [" ".join(t.split()[:4]) for t in _zipf_texts(n_queries, 40, seed=2)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.ragstore"
        store = RagStore.create(path, embed=hash_embed)
        t0 = time.perf_counter()
        store.insert(texts, batch_size=1000, progress=False)
        insert_s = time.perf_counter() - t0
        store.close()
        t0 = time.perf_counter()
        store = RagStore.connect(path, embed=hash_embed)
        open_s = time.perf_counter() - t0
        result: dict[str, object] = {
            "chunks": len(store),
            "dim": store.dim,
            "insert_s": round(insert_s, 1),
            "open_s": round(open_s, 2),
            "file_mb": round(path.stat().st_size / 2**20, 1),
        }
        for method in ("vector", "bm25", "hybrid"):
            store.retrieve(queries[0], k=5, method=method)  # warm-up
            times = []
            for q in queries:
                t0 = time.perf_counter()
                store.retrieve(q, k=5, method=method)
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            result[f"{method}_p50_ms"] = round(statistics.median(times), 2)
            result[f"{method}_p95_ms"] = round(times[int(0.95 * (len(times) - 1))], 2)
        store.close()
    # The floor under vector search: one bare numpy matrix-vector product of the same size
    # (memory-bandwidth bound), measured in the same run.
    matrix = np.random.default_rng(4).standard_normal((n, DIM), dtype=np.float32)
    q = hash_embed(["floor"])[0]
    times = []
    for _ in range(n_queries):
        t0 = time.perf_counter()
        matrix @ q
        times.append((time.perf_counter() - t0) * 1000)
    result["numpy_matvec_p50_ms"] = round(statistics.median(times), 2)
    return result


def _ingest_texts(n: int) -> list[str]:
    """Short English-like passages of varied length (about 20-60 tokens each)."""
    topics = ["the river", "a small robot", "the old library", "quantum computers", "bread baking",
              "the night sky", "mountain trails", "a jazz band", "ocean tides", "solar panels"]
    verbs = ["changes", "explains", "surprises", "shapes", "connects", "challenges"]
    rng = np.random.default_rng(3)
    out = []
    for i in range(n):
        sentences = []
        for _ in range(int(rng.integers(1, 4))):
            a, b = rng.choice(topics, size=2, replace=False)
            sentences.append(f"In story {i}, {a} {rng.choice(verbs)} how people think about {b}.")
        out.append(" ".join(sentences))
    return out


def bench_ingest(n_texts: int, n_threads: int, rounds: int = 3) -> dict[str, object]:
    """Ceiling, ours and the peer, interleaved ``rounds`` times on the same texts; medians."""
    from llamaprov.engine import default_model_path, embed_batch, load_model

    path = default_model_path()
    texts = _ingest_texts(n_texts)
    model = load_model(path)
    n_tokens = [len(model.tokenize(t)) for t in texts]
    mean_tokens = sum(n_tokens) / len(n_tokens)
    # Ceiling: the engine's prompt-processing speed on one long prompt (512 tokens, one decode).
    long_tokens = model.tokenize(" ".join(texts))[:512]

    from langchain_community.embeddings import LlamaCppEmbeddings

    peer = LlamaCppEmbeddings(model_path=str(path), n_threads=n_threads, n_batch=512, n_ctx=512,
                              verbose=False)
    peer.embed_documents(texts[:8])  # warm-up
    embed_batch(model, texts[:8], n_threads=n_threads)
    pp, ours, theirs = [], [], []
    ours_out: object = None
    peer_out: list[object] = []
    for _ in range(rounds):
        with model.new_context(n_ctx=1024, n_batch=512, n_threads=n_threads,
                               n_threads_batch=n_threads) as ctx:
            t0 = time.perf_counter()
            ctx.decode(long_tokens)
            pp.append(len(long_tokens) / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        ours_out = embed_batch(model, texts, n_threads=n_threads)
        ours.append(n_texts / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        peer_out = peer.embed_documents(texts)
        theirs.append(n_texts / (time.perf_counter() - t0))
    pp_tok_s = statistics.median(pp)
    ceiling = pp_tok_s / mean_tokens
    ours_rate = statistics.median(ours)
    peer_rate = statistics.median(theirs)
    return {
        "texts": n_texts,
        "rounds": rounds,
        "mean_tokens_per_text": round(mean_tokens, 1),
        "ours_vectors": list(np.asarray(ours_out).shape),
        "peer_vectors": len(peer_out),
        "pp_tokens_per_s": round(pp_tok_s, 1),
        "ceiling_texts_per_s": round(ceiling, 2),
        "ours_texts_per_s": round(ours_rate, 2),
        "peer_texts_per_s": round(peer_rate, 2),
        "ours_vs_peer": round(ours_rate / peer_rate, 2),
        "ours_vs_ceiling": round(ours_rate / ceiling, 2),
        "peer_vs_ceiling": round(peer_rate / ceiling, 2),
        "targets": {"vs_peer": 1.15, "vs_ceiling": 0.9},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["retrieval", "ingest", "all"])
    parser.add_argument("--n", type=int, default=100_000, help="chunks in the retrieval store")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--texts", type=int, default=128, help="texts for the ingestion bench")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved ingestion rounds")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    report: dict[str, object] = {}
    if args.what in ("retrieval", "all"):
        report["retrieval"] = bench_retrieval(args.n, args.queries)
        print(json.dumps({"retrieval": report["retrieval"]}), flush=True)
    if args.what in ("ingest", "all"):
        report["ingest"] = bench_ingest(args.texts, args.threads, args.rounds)
        print(json.dumps({"ingest": report["ingest"]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
