"""LlamaProvEmbedder, the one embedder: every form of ``model=`` (through llamaprov.models), what it
owns, and the options it records in its spec."""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np
import pytest

from llamaprov import hub
from llamaprov.engine import Model, load_model
from llamaprov.errors import InvalidArgumentError
from llamaprov.integrations.embedding import LlamaProvEmbedder, embed_llamaprov, embedder_from_spec


def test_a_hub_repo_id_is_resolved_and_the_model_is_owned(
    default_model_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[str, dict[str, Any]]] = []

    def fake_hub(repo_id: str, **options: Any) -> Model:  # no network: the default model stands in
        asked.append((repo_id, options))
        return load_model(default_model_path)

    monkeypatch.setattr(hub, "load_model_hf", fake_hub)
    with embed_llamaprov("owner/some-model-GGUF") as embedder:
        assert asked == [("owner/some-model-GGUF", {})]
        assert embedder(["hello"]).shape == (1, embedder.dim)
    assert embedder.closed and embedder.model.closed  # loaded for it: freed with it


def test_a_model_passed_in_stays_open(model: Model) -> None:
    with LlamaProvEmbedder(model) as embedder:
        assert embedder.model is model
    assert not model.closed


@pytest.mark.parametrize("bad", [42, b"model.gguf", ""])
def test_bad_models_raise(bad: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="model must be"):
        LlamaProvEmbedder(bad)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "16"])
def test_bad_n_ctx_raises(model: Model, bad: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="n_ctx"):
        LlamaProvEmbedder(model, n_ctx=bad)


def test_n_ctx_truncates_and_is_recorded_only_when_set(model: Model) -> None:
    long_text = "word " * 200
    plain = LlamaProvEmbedder(model)
    short = LlamaProvEmbedder(model, n_ctx=16)
    assert "n_ctx" not in plain.spec() and short.spec()["n_ctx"] == 16
    with pytest.warns(UserWarning, match="truncated"):
        cut = short([long_text])
    assert not np.allclose(cut, plain([long_text]))
    rebuilt = embedder_from_spec(short.spec())
    try:
        assert rebuilt.n_ctx == 16 and rebuilt.embedder_id == short.embedder_id
    finally:
        rebuilt.close()
