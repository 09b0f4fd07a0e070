"""The loaded models of the LangChain components (private): :func:`llamaprov.models.resolve_model`'s
shared models, one per file and load options, used by every instance naming it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llamaprov.models import resolve_model

if TYPE_CHECKING:
    from llamaprov.engine import Model


def shared_model(model: Any = None, **load_kwargs: Any) -> Model:
    """The loaded model for ``model`` (a path, a Hub repo id, None for the default model, or a
    ``Model``, returned as is), loaded once per resolved file and load options."""
    from llamaprov.engine import Model

    if isinstance(model, Model):
        return model  # the load options of the component apply only to models it loads
    return resolve_model(model, shared=True, **load_kwargs)


def load_options(n_gpu_layers: int) -> dict[str, Any]:
    """Load keywords that differ from the defaults (so equal settings share one model)."""
    return {"n_gpu_layers": n_gpu_layers} if n_gpu_layers else {}
