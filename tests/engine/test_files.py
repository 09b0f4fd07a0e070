"""GGUF file rewriting: a copy under another architecture keeps every tensor and key."""

from __future__ import annotations

import pathlib

import pytest

from llamaprov import ModelLoadError, load_model
from llamaprov.engine.files import cache_dir, copy_with_architecture


def test_copy_with_architecture_renames_the_keys(model, tmp_path: pathlib.Path) -> None:
    target = tmp_path / "sub" / "copy.gguf"
    copy_with_architecture(model.path, target, "llama-embed")
    assert not list(target.parent.glob("*.part"))
    with load_model(target) as copy:
        meta, original = copy.meta, model.meta
        assert meta["general.architecture"] == "llama-embed"
        assert meta["llama-embed.block_count"] == original["llama.block_count"]
        assert not any(k.startswith("llama.") for k in meta)
        assert meta["tokenizer.ggml.model"] == original["tokenizer.ggml.model"]
        assert copy.info().n_params == model.info().n_params
        assert copy.tokenize("Hello there") == model.tokenize("Hello there")
    # tensor data is copied byte for byte, only the header changes size
    assert abs(target.stat().st_size - model.path.stat().st_size) < 4096


@pytest.mark.parametrize("content", [b"", b"GGUF\x03\x00\x00\x00", b"not a gguf file at all"])
def test_bad_source_raises_and_leaves_nothing(tmp_path: pathlib.Path, content: bytes) -> None:
    src = tmp_path / "bad.gguf"
    src.write_bytes(content)
    with pytest.raises(ModelLoadError, match=r"bad\.gguf"):
        copy_with_architecture(src, tmp_path / "out.gguf", "llama-embed")
    assert not (tmp_path / "out.gguf").exists()


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path: pathlib.Path) -> None:
    monkeypatch.setenv("LLAMAPROV_CACHE_DIR", str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.delenv("LLAMAPROV_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "llamaprov"
