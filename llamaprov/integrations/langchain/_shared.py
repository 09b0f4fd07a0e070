"""The loaded models of the LangChain components (private): one per file and load options,
shared by every instance naming it."""

from __future__ import annotations

import os
import pathlib
import threading
from typing import TYPE_CHECKING, Any

from llamaprov.errors import InvalidArgumentError, describe

if TYPE_CHECKING:
    from llamaprov.engine import Model

_MODELS: dict[tuple[Any, ...], Model] = {}
_MODELS_LOCK = threading.Lock()


def _cache_key(model: Any, load_kwargs: dict[str, Any]) -> tuple[Any, ...]:
    options = tuple(sorted(load_kwargs.items()))
    if isinstance(model, (str, os.PathLike)) and os.path.exists(model):
        return ("path", str(pathlib.Path(model).resolve()), options)
    return ("hub", str(model), options)


def _check_model_spec(model: Any) -> None:
    """Cheap validation of ``model=`` (nothing is loaded)."""
    from llamaprov.engine import Model

    if model is None or isinstance(model, (Model, os.PathLike)):
        return
    if not isinstance(model, str) or not model:
        raise InvalidArgumentError(
            "model must be a GGUF path, a loaded Model, a Hub repo id or None, "
            f"got {describe(model)}"
        )


def shared_model(model: Any = None, **load_kwargs: Any) -> Model:
    """The loaded model for ``model`` (a path, a Hub repo id, None for the default model, or a
    ``Model``, returned as is), loading it once per resolved path and load options."""
    from llamaprov.engine import Model, default_model_path, load_model

    if isinstance(model, Model):
        return model
    _check_model_spec(model)
    if model is None:
        model = default_model_path()
    key = _cache_key(model, load_kwargs)
    with _MODELS_LOCK:
        loaded = _MODELS.get(key)
        if loaded is not None and not loaded.closed:
            return loaded
        if key[0] == "path" or not (isinstance(model, str) and model.count("/") == 1):
            loaded = load_model(model, **load_kwargs)  # raises ModelNotFoundError for a bad path
        else:
            from llamaprov.hub import load_model_hf

            loaded = load_model_hf(model, **load_kwargs)
        _MODELS[key] = loaded
        return loaded


def _load_options(n_gpu_layers: int) -> dict[str, Any]:
    """Load keywords that differ from the defaults (so equal settings share a cache entry)."""
    return {"n_gpu_layers": n_gpu_layers} if n_gpu_layers else {}


def _model_name(model: Any) -> str:
    from llamaprov.engine import Model, default_model_path

    if isinstance(model, Model):
        return model.path.name
    if model is None:
        return default_model_path().name
    if isinstance(model, os.PathLike) or os.path.exists(str(model)):
        return pathlib.Path(model).name
    return str(model)
