"""OpenAI-shaped errors: :class:`APIError` (what a route raises for a bad request) and how
llamaprov's errors map to an HTTP status and an ``{"error": {...}}`` body. No traceback ever
reaches a client: an unexpected exception becomes a generic 500."""

from __future__ import annotations

import re
from typing import Any

from llamaprov.errors import (
    ClosedError,
    ContextOverflowError,
    GrammarError,
    InvalidArgumentError,
    LlamaProvError,
    ModelNotFoundError,
    NotSupportedError,
    StructuredOutputError,
    TemplateError,
    ToolError,
    TruncatedOutputError,
    UnsupportedSchemaError,
)

# the ChatParams field an "params: <name> must be ..." message names (the request's parameter)
_PARAM_IN_MESSAGE = re.compile(r"^(?:params: )?([a-z_]+)(?: must |=)")


class APIError(Exception):
    """An error answered with ``status`` and OpenAI's error object."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        """``{"error": {"message", "type", "param", "code"}}``."""
        return error_body(self.message, type=self.type, param=self.param, code=self.code)


def error_body(message: str, *, type: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    """OpenAI's error object."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def bad_request(message: str, param: str | None = None, code: str | None = None) -> APIError:
    """A 400 ``invalid_request_error``."""
    return APIError(400, message, param=param, code=code)


def from_llamaprov(exc: LlamaProvError, param: str | None = None) -> APIError:
    """The answer to a llamaprov error raised while serving a request: the request's fault (a
    value llamaprov refused, a schema no grammar can enforce, a prompt that does not fit, a
    reply cut by the request's max_tokens) is a 4xx; a model output that fails its schema or a
    closed provider is a 5xx."""
    message = str(exc)
    if isinstance(exc, TruncatedOutputError):
        return APIError(400, message, param="max_tokens", code="output_truncated")
    if isinstance(exc, StructuredOutputError):
        return APIError(500, message, type="server_error", code="invalid_model_output")
    if isinstance(exc, ContextOverflowError):
        return APIError(400, message, param=param or "messages", code="context_length_exceeded")
    if isinstance(exc, UnsupportedSchemaError):
        return APIError(400, message, param=param or "response_format", code="unsupported_schema")
    if isinstance(exc, ModelNotFoundError):
        return APIError(404, message, param="model", code="model_not_found")
    if isinstance(exc, ClosedError):
        return APIError(503, message, type="server_error", code="unavailable")
    if isinstance(exc, (InvalidArgumentError, GrammarError, ToolError, TemplateError, NotSupportedError)):
        if param is None:
            found = _PARAM_IN_MESSAGE.match(message)
            param = found.group(1) if found else None
        code = "unsupported" if isinstance(exc, NotSupportedError) else None
        return APIError(400, message, param=param, code=code)
    return APIError(500, message, type="server_error")


def internal_error() -> APIError:
    """The answer to an unexpected exception (its details stay in the server's log)."""
    return APIError(500, "the server had an error while processing the request", type="server_error")


__all__ = ["APIError", "bad_request", "error_body", "from_llamaprov", "internal_error"]
