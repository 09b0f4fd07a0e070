"""Which model: one resolver from what a user names to a loaded :class:`~llamaprov.engine.Model`.

Everything that takes a ``model=`` argument (chats, LangChain components, embedders, the
command line) goes through :func:`resolve_model`. A model is named as

- a loaded :class:`~llamaprov.engine.Model` (used as it is),
- a path to a GGUF file (``str`` or ``os.PathLike``),
- a Hugging Face Hub repo id ``"owner/name"`` (downloaded into the Hub cache; ``quant=`` or
  ``filename=`` choose the file),
- ``None``: the packaged default model (SmolLM2-135M-Instruct).

With ``shared=True`` a model loaded for one caller is reused by the next caller that names the
same file with the same load options, for as long as it is open: two LangChain components on
one model file hold one copy of the weights. A shared model belongs to the process; its users
do not close it.
"""

from __future__ import annotations

import os
import pathlib
import threading
from typing import TYPE_CHECKING, Any

from .errors import InvalidArgumentError, describe

if TYPE_CHECKING:
    from .engine import Model

__all__ = ["check_model", "is_hub_id", "model_name", "resolve_model", "shared_models"]

_HUB_OPTIONS = ("quant", "filename", "revision", "progress")
_lock = threading.Lock()
_shared: dict[tuple[Any, ...], Model] = {}


def is_hub_id(model: Any) -> bool:
    """Whether ``model`` names a Hub repo (``"owner/name"``) rather than a local file."""
    return (isinstance(model, str) and model.count("/") == 1 and not model.endswith(".gguf")
            and not os.path.exists(model) and all(model.split("/")))


def check_model(model: Any) -> None:
    """Raise :class:`InvalidArgumentError` unless ``model`` has one of the forms
    :func:`resolve_model` takes; nothing is loaded or downloaded (for checks at construction)."""
    from .engine import Model

    if model is None or isinstance(model, (Model, os.PathLike)):
        return
    if not isinstance(model, str) or not model:
        raise InvalidArgumentError(
            f"model must be a GGUF path, a loaded Model, a Hub repo id or None, got {describe(model)}")


def _key(model: Any, options: dict[str, Any]) -> tuple[Any, ...]:
    frozen = tuple(sorted((k, repr(v)) for k, v in options.items()))
    if is_hub_id(model):
        return ("hub", model, frozen)
    return ("path", str(pathlib.Path(model).resolve()), frozen)


def _load(model: Any, options: dict[str, Any]) -> Model:
    from .engine import load_model

    if is_hub_id(model):
        from .hub import load_model_hf

        return load_model_hf(model, **options)
    hub_only = sorted(set(options) & set(_HUB_OPTIONS))
    if hub_only:
        raise InvalidArgumentError(f"{hub_only} apply to Hub repo ids, not to the file {str(model)!r}")
    return load_model(model, **options)  # a missing file raises ModelNotFoundError naming it


def resolve_model(model: Any = None, *, shared: bool = False, **options: Any) -> Model:
    """The loaded model that ``model`` names (see the module docs for the forms).

    ``options`` go to :func:`~llamaprov.engine.load_model` (``n_gpu_layers=``...) or, for a Hub
    repo id, to :func:`~llamaprov.hub.load_model_hf` (``quant=``, ``filename=``...). With
    ``shared=True`` an open model already loaded the same way is returned instead of a new one.
    Options given with an already loaded Model raise :class:`InvalidArgumentError`.
    """
    from .engine import Model, default_model_path

    if isinstance(model, Model):
        if options:
            raise InvalidArgumentError(f"load options {sorted(options)} given with an already loaded Model")
        return model
    check_model(model)
    if model is None:
        model = default_model_path()
    if not shared:
        return _load(model, options)
    key = _key(model, options)
    with _lock:
        found = _shared.get(key)
        if found is not None and not found.closed:
            return found
        loaded = _shared[key] = _load(model, options)
        return loaded


def shared_models() -> list[Model]:
    """The open models :func:`resolve_model` shares (for diagnostics and tests)."""
    with _lock:
        return [m for m in _shared.values() if not m.closed]


def model_name(model: Any = None) -> str:
    """A display name for what ``model`` names, without loading it: the file name, or the Hub
    repo id."""
    from .engine import Model, default_model_path

    if isinstance(model, Model):
        return model.path.name
    if model is None:
        return default_model_path().name
    check_model(model)
    if is_hub_id(model):
        return str(model)
    return pathlib.Path(model).name
