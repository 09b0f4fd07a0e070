"""Embeddings: one pooled vector per text, pooling modes, batching, truncation."""

from __future__ import annotations

import numpy as np
import pytest

from llamaprov import ContextOverflowError, InvalidArgumentError, embed_batch

TEXTS = ["The cat sat on the mat.", "A kitten rests on a rug.", "Quarterly tax filing deadlines."]


def test_one_vector_per_text(model):
    vectors = embed_batch(model, TEXTS)
    assert vectors.shape == (3, model.n_embd) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2]  # the cat sentences are closer to each other


def test_batched_equals_one_at_a_time(model):
    together = embed_batch(model, TEXTS, batch_size=8)
    alone = np.stack([embed_batch(model, [t])[0] for t in TEXTS])
    assert np.allclose(together, alone, atol=2e-3)


@pytest.mark.parametrize("pooling", ["mean", "cls", "last"])
def test_pooling_modes_differ(model, pooling):
    vec = embed_batch(model, TEXTS[:1], pooling=pooling)[0]
    mean = embed_batch(model, TEXTS[:1], pooling="mean")[0]
    assert vec.shape == (model.n_embd,)
    assert np.allclose(vec, mean) == (pooling == "mean")


def test_unnormalized(model):
    raw = embed_batch(model, TEXTS[:1], normalize=False)[0]
    assert abs(np.linalg.norm(raw) - 1.0) > 1e-3


def test_context_embed_and_token_vectors(model):
    with model.new_context(n_ctx=512, n_seq_max=2, embeddings=True) as ctx:
        assert ctx.pooling_type == "mean"
        one = ctx.embed(TEXTS[0])
        assert one.shape == (model.n_embd,)
        many = ctx.embed(TEXTS)
        assert many.shape == (3, model.n_embd)
        assert np.allclose(many[0], one, atol=2e-3)
        per_token = ctx.embed(TEXTS[0], pooling="none", normalize=False)
        n_tokens = len(model.tokenize(TEXTS[0]))
        assert per_token.shape == (n_tokens, model.n_embd)
        with pytest.raises(InvalidArgumentError, match="rank"):
            ctx.embed(TEXTS[0], pooling="rank")
    with model.new_context(n_ctx=256) as plain, pytest.raises(InvalidArgumentError, match="embeddings=True"):
        plain.embed("hi")


def test_long_texts_truncate_or_raise(model):
    long = "word " * 3000
    with pytest.warns(UserWarning, match="truncated"):
        vec = embed_batch(model, [long, "short"], n_ctx=512)
    assert vec.shape == (2, model.n_embd)
    with pytest.raises(ContextOverflowError):
        embed_batch(model, [long], n_ctx=512, truncate=False)


def test_bad_input(model):
    with pytest.raises(InvalidArgumentError):
        embed_batch(model, [""])
    with pytest.raises(InvalidArgumentError):
        embed_batch(model, [1, 2])  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentError):
        embed_batch(model, TEXTS, batch_size=0)
    assert embed_batch(model, []).shape == (0, model.n_embd)


def test_progress_bar(model, capsys):
    embed_batch(model, TEXTS, progress=True)
    assert "3/3" in capsys.readouterr().err


def test_llama_models_embed_through_the_encoder_graph_when_asked(model, tmp_path, monkeypatch):
    # embedding_graph="copy" decodes with a copy of the file under llama.cpp's "llama-embed"
    # architecture (no LM head): the vectors equal those of the model's own graph
    from llamaprov import ModelLoadError, load_model
    from llamaprov.engine.embed import _embedding_model

    monkeypatch.delenv("LLAMAPROV_EMBEDDING_GRAPH", raising=False)
    assert _embedding_model(model, "model") is model
    sibling = _embedding_model(model, "copy")
    assert sibling is not model and sibling.desc.startswith("llama-embed")
    assert _embedding_model(model, "copy") is sibling  # loaded once per model
    with model.new_context(n_ctx=512, n_seq_max=3, embeddings=True) as own:
        direct = own.embed(TEXTS)
    assert np.allclose(embed_batch(model, TEXTS, embedding_graph="copy"), direct, atol=1e-5)
    assert np.allclose(embed_batch(model, TEXTS), direct, atol=1e-5)

    # asked for, a copy that cannot be written is an error naming the cache
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("LLAMAPROV_CACHE_DIR", str(blocker))
    with load_model(model.path) as fresh:
        with pytest.raises(ModelLoadError, match="llama-embed copy"):
            embed_batch(fresh, TEXTS, embedding_graph="copy")
        assert np.allclose(embed_batch(fresh, TEXTS), direct, atol=1e-5)  # the default writes nothing
    with load_model(model.path) as closing:
        monkeypatch.setenv("LLAMAPROV_CACHE_DIR", str(tmp_path / "cache"))
        copy = _embedding_model(closing, "copy")
    assert copy.closed  # closed with its model

    # a new version of a model file replaces its stale copy in the cache
    import shutil

    mine = tmp_path / "mine.gguf"
    shutil.copy(model.path, mine)
    with load_model(mine) as first:
        _embedding_model(first, "copy")
    with open(mine, "r+b") as fh:  # a changed file: the last byte of tensor data
        fh.seek(-1, 2)
        last = fh.read(1)
        fh.seek(-1, 2)
        fh.write(bytes([last[0] ^ 1]))
    with load_model(mine) as second:
        _embedding_model(second, "copy")
    assert len(list((tmp_path / "cache" / "embedding").glob("mine-*.gguf"))) == 1
