"""The one model resolver: every form of ``model=`` and sharing."""

from __future__ import annotations

import pytest

from llamaprov import InvalidArgumentError, ModelNotFoundError
from llamaprov.models import check_model, is_hub_id, model_name, resolve_model, shared_models


def test_a_loaded_model_is_used_as_it_is(model) -> None:
    assert resolve_model(model) is model
    with pytest.raises(InvalidArgumentError, match="n_gpu_layers"):
        resolve_model(model, n_gpu_layers=1)


def test_shared_models_are_loaded_once_per_file_and_options(default_model_path) -> None:
    first = resolve_model(None, shared=True)
    again = resolve_model(str(default_model_path), shared=True)
    assert first is again and first in shared_models()
    other = resolve_model(None, shared=True, use_mmap=False)
    assert other is not first
    own = resolve_model(None)
    assert own is not first
    own.close()
    other.close()
    assert other not in shared_models()
    assert resolve_model(None, shared=True, use_mmap=False) is not other  # a closed one is reloaded


@pytest.mark.parametrize("bad", [42, b"model.gguf", "", ["a.gguf"]])
def test_bad_model_values_raise(bad) -> None:
    with pytest.raises(InvalidArgumentError):
        resolve_model(bad)
    with pytest.raises(InvalidArgumentError, match="model must be"):
        check_model(bad)


def test_check_model_loads_nothing(model) -> None:
    for good in (None, model, "owner/repo", "/no/such/file.gguf"):
        check_model(good)


def test_missing_files_and_hub_only_options(tmp_path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"nope\.gguf"):
        resolve_model(tmp_path / "nope.gguf")
    with pytest.raises(InvalidArgumentError, match="quant"):
        resolve_model(tmp_path / "nope.gguf", quant="Q4_K_M")


def test_hub_ids_and_names(default_model_path) -> None:
    assert is_hub_id("bartowski/SmolLM2-135M-Instruct-GGUF")
    assert not is_hub_id("models/x.gguf") and not is_hub_id("a/b/c")
    assert not is_hub_id(str(default_model_path))
    assert not is_hub_id("/abs") and not is_hub_id("owner/")
    assert model_name(None) == default_model_path.name
    assert model_name("owner/repo") == "owner/repo"
    assert model_name(str(default_model_path)) == default_model_path.name
