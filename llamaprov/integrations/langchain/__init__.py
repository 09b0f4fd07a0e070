"""LangChain integration: :class:`ChatLlamaProv` (a ``BaseChatModel``, in ``chat_models``) and
:class:`LlamaProvEmbeddings` (an ``Embeddings``, in ``embeddings``) on local GGUF models.

Both take ``model=`` as a GGUF path, a loaded :class:`llamaprov.Model`, a Hugging Face repo id
(``"owner/name"``) or None for the packaged default model. Instances naming the same file (with
the same load options) share one loaded model.

Install the extra: ``pip install llamaprov[langchain]``.
"""

from __future__ import annotations

from ._shared import shared_model as shared_model  # importable here, as before; not advertised
from .chat_models import ChatLlamaProv
from .embeddings import LlamaProvEmbeddings

__all__ = ["ChatLlamaProv", "LlamaProvEmbeddings"]
