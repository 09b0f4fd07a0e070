"""Exceptions raised by llamaprov.

Every error llamaprov raises on purpose is a subclass of :class:`LlamaProvError`, so
``except llamaprov.LlamaProvError`` catches all of them. Messages name the offending value.
"""

from __future__ import annotations

from typing import Any


class LlamaProvError(Exception):
    """Base class of every llamaprov error."""


class InvalidArgumentError(LlamaProvError, ValueError):
    """A public function was called with a value it cannot accept."""


class ModelLoadError(LlamaProvError):
    """A model file could not be loaded (missing, not GGUF, truncated, unsupported)."""


class ModelNotFoundError(ModelLoadError, FileNotFoundError):
    """A model (file, packaged default, or Hub file) does not exist."""


class ContextError(LlamaProvError):
    """A context could not be created or a decode failed."""


class ContextOverflowError(ContextError):
    """The tokens do not fit in the context window."""

    def __init__(self, message: str, *, n_tokens: int, n_ctx: int) -> None:
        super().__init__(message)
        self.n_tokens = n_tokens
        self.n_ctx = n_ctx


class StateError(ContextError):
    """A context state could not be saved or restored (a damaged, foreign or other-model file)."""


class ClosedError(LlamaProvError):
    """An operation was attempted on a closed (freed) object."""


class GrammarError(LlamaProvError):
    """A GBNF grammar is malformed or was rejected by llama.cpp."""


class UnsupportedSchemaError(GrammarError):
    """A JSON Schema keyword cannot be enforced by a grammar."""

    def __init__(self, keyword: str, pointer: str, detail: str = "") -> None:
        msg = f"unsupported JSON Schema keyword {keyword!r} at {pointer or '#'}"
        if detail:
            msg += f": {detail}"
        super().__init__(msg)
        self.keyword = keyword
        self.pointer = pointer


class NotSupportedError(LlamaProvError, NotImplementedError):
    """An object was asked for an optional capability it does not offer (a provider's ``submit``)."""


class TemplateError(LlamaProvError):
    """A chat template failed to render (or tried something the sandbox forbids)."""


class ToolError(LlamaProvError):
    """A tool definition, tool call or tool argument is invalid."""


class StructuredOutputError(LlamaProvError):
    """The model's output could not be parsed or validated against the requested type."""

    def __init__(self, message: str, *, raw: str) -> None:
        super().__init__(message)
        self.raw = raw


class TruncatedOutputError(StructuredOutputError):
    """A tool call or a structured output was cut off by ``max_tokens`` before it was complete.

    ``raw`` is the output so far, ``max_tokens`` the budget it ran into (None where unknown);
    raise the budget, or lower what the output must hold.
    """

    def __init__(self, message: str, *, raw: str, max_tokens: int | None) -> None:
        super().__init__(message, raw=raw)
        self.max_tokens = max_tokens


class HubError(LlamaProvError):
    """A Hugging Face Hub operation failed."""


class StoreError(LlamaProvError):
    """A RAG store operation failed or the file is not a llamaprov store."""


def describe(value: Any, limit: int = 80) -> str:
    """Short ``repr`` of a value for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class StoreClosedError(StoreError, ClosedError):
    """A closed RAG store was used: both a :class:`StoreError` and a :class:`ClosedError`."""
