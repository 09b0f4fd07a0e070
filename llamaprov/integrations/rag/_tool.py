"""The retrieval tool of a chat: :func:`register_retrieve_tool`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from llamaprov.errors import InvalidArgumentError, describe

from ._index import RetrievedChunk, VectorIndex, check_index


def register_retrieve_tool(
    chat: Any,
    store: VectorIndex,
    *,
    k: int = 5,
    name: str = "search_documents",
    description: str | None = None,
    method: str | None = None,
    filter: Mapping[str, Any] | None = None,
) -> Any:
    """Register on ``chat`` a tool ``name(query: str) -> str`` that returns the ``k`` best chunks.

    ``store`` is any :class:`~llamaprov.integrations.rag.VectorIndex`, a
    :class:`~llamaprov.integrations.rag.RagStore` or another. ``method`` and ``filter`` go to its
    ``retrieve`` when given (a RagStore searches ``"hybrid"`` by default). The tool result lists the
    passages (with their source), so the model can answer from them. Returns the tool definition
    that was registered.
    """
    from llamaprov.chat import tool as make_tool

    check_index(store)
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise InvalidArgumentError(f"k must be a positive int, got {describe(k)}")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]{0,63}", name):
        raise InvalidArgumentError(f"name must be a tool identifier, got {describe(name)}")
    options = retrieve_options(method, filter)

    def search_documents(query: str) -> str:
        hits = store.retrieve(query, k=k, **options)
        if not hits:
            return "No matching passages."
        return "\n\n".join(_format_hit(i, hit) for i, hit in enumerate(hits, 1))

    desc = description or (
        "Search the document store and return the most relevant passages. "
        "Call it with a short search query describing what you need to know."
    )
    definition = make_tool(search_documents, name=name, description=desc)
    chat.register_tool(definition)
    return definition


def retrieve_options(method: str | None, filter: Mapping[str, Any] | None) -> dict[str, Any]:
    """The keyword options of a ``retrieve`` call: only those asked for, so an index without them
    works too."""
    options: dict[str, Any] = {}
    if method is not None:
        options["method"] = method
    if filter is not None:
        options["filter"] = filter
    return options


def _format_hit(i: int, hit: RetrievedChunk) -> str:
    where = hit.source or hit.metadata.get("source") or f"document {hit.doc_id}"
    heading = f" — {hit.context}" if hit.context else ""
    return f"[{i}] ({where}{heading})\n{hit.text.strip()}"
