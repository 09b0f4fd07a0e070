"""The ASGI app: :func:`create_app` serves a :class:`~llamaprov.chat.LlamaProvider` with
OpenAI's endpoints (FastAPI; imported only when an app is made)."""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from llamaprov.chat import LlamaProvider
from llamaprov.errors import InvalidArgumentError, LlamaProvError, describe
from llamaprov.serve import _convert
from llamaprov.serve._auth import check_bearer
from llamaprov.serve._errors import APIError, bad_request, error_body, from_llamaprov, internal_error
from llamaprov.serve._limits import BodyLimit
from llamaprov.serve._metrics import Metrics
from llamaprov.serve._schemas import ChatCompletionRequest, CompletionRequest, EmbeddingRequest
from llamaprov.serve._stream import (
    ChatChunks,
    ClientGone,
    Pending,
    TextChunks,
    chat_stream,
    sse,
    text_stream,
)

log = logging.getLogger("llamaprov.serve")

#: The largest request body accepted by default (bytes).
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
_ENDPOINTS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models", "/health",
              "/metrics")


class _Counted:
    """ASGI middleware: counts every answered request by endpoint and status."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        endpoint = path if path in _ENDPOINTS else "/v1/models" if path.startswith("/v1/models/") \
            else "other"

        async def counted(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.metrics.request(endpoint, int(message["status"]))
            await send(message)

        await self.app(scope, receive, counted)


class _Embedder:
    """The embedder of the provider's model, made on first use."""

    def __init__(self, provider: LlamaProvider, embedder: Callable[[list[str]], Any] | None) -> None:
        self._provider = provider
        self._embedder = embedder
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> Any:
        with self._lock:
            if self._embedder is None:
                from llamaprov.integrations.embedding import LlamaProvEmbedder

                self._embedder = LlamaProvEmbedder(self._provider.model)
            embed = self._embedder
        return embed(texts)


def _validation_error(exc: RequestValidationError) -> APIError:
    errors = exc.errors()
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return bad_request("the request body is not valid JSON", code="invalid_json")
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(loc) or None
    message = first.get("msg", "invalid request")
    if first.get("type") == "missing":
        message = f"missing required parameter {param!r}"
    elif first.get("type") == "extra_forbidden":
        message = f"unrecognized request argument supplied: {param}"
    elif "input" in first:
        message = f"{message}: {param} = {describe(first['input'])}"
    return bad_request(message, param=param)


def create_app(provider: LlamaProvider, *, model_id: str | None = None, api_key: str | None = None,
               embedder: Callable[[list[str]], Any] | None = None, max_tokens_limit: int | None = None,
               max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> Any:
    """An ASGI app (FastAPI) serving ``provider`` with OpenAI's API: ``/v1/chat/completions``,
    ``/v1/completions``, ``/v1/embeddings``, ``/v1/models``, plus ``/health`` and ``/metrics``.

    ``model_id``: the model's name in ``/v1/models`` and the ``model`` requests must give (default:
    the model file's name without ``.gguf``); ``api_key``: when set, ``/v1/*`` and ``/metrics`` need
    ``Authorization: Bearer <api_key>``; ``embedder``: ``texts -> (n, dim) array`` for
    ``/v1/embeddings`` (default: a :class:`~llamaprov.integrations.embedding.LlamaProvEmbedder`
    of the provider's model, made on first use); ``max_tokens_limit``: the largest ``max_tokens``
    a request may ask for (default: the provider's context size); ``max_body_bytes``: the largest
    request body. The provider stays the caller's (the app does not close it).
    """
    if not isinstance(provider, LlamaProvider):
        raise InvalidArgumentError(f"create_app needs a LlamaProvider, got {describe(provider)}")
    if api_key is not None and (not isinstance(api_key, str) or not api_key):
        raise InvalidArgumentError("api_key must be a non-empty str or None")
    for name, value in (("max_tokens_limit", max_tokens_limit), ("max_body_bytes", max_body_bytes)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise InvalidArgumentError(f"{name} must be an int >= 1, got {describe(value)}")
    name = model_id or provider.model.path.name.removesuffix(".gguf")
    served = (name,)
    limit = max_tokens_limit or provider.batch_stats()["n_ctx"]
    metrics = Metrics(provider.batch_stats)
    embed = _Embedder(provider, embedder)

    app = FastAPI(title="llamaprov", docs_url=None, redoc_url=None, openapi_url=None)

    async def auth(request: Request) -> None:
        check_bearer(request.headers.get("authorization"), api_key)

    @app.exception_handler(APIError)
    async def on_api_error(request: Request, exc: APIError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        error = _validation_error(exc)
        return JSONResponse(error.body(), status_code=error.status)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "not_found" if exc.status_code == 404 else None
        return JSONResponse(error_body(str(exc.detail), code=kind), status_code=exc.status_code)

    @app.exception_handler(LlamaProvError)
    async def on_llamaprov(request: Request, exc: LlamaProvError) -> JSONResponse:
        error = from_llamaprov(exc)
        return JSONResponse(error.body(), status_code=error.status)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error serving %s", request.url.path, exc_info=exc)
        return JSONResponse(internal_error().body(), status_code=500)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model": name}

    @app.get("/metrics", dependencies=[Depends(auth)])
    async def metrics_text() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    def model_card() -> dict[str, Any]:
        return {"id": name, "object": "model", "created": int(provider.model.path.stat().st_mtime),
                "owned_by": "llamaprov", "meta": provider.model_info()}

    @app.get("/v1/models", dependencies=[Depends(auth)])
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [model_card()]}

    @app.get("/v1/models/{model:path}", dependencies=[Depends(auth)])
    async def one_model(model: str) -> dict[str, Any]:
        _convert.check_model(model, served)
        return model_card()

    async def generate(request: Request, pending: Pending, stream: bool, start: Callable[..., Any],
                       chunks: Any, include_usage: bool, done: Callable[[Any], dict[str, Any]]) -> Any:
        metrics.started()
        try:
            await pending.submit(start, stream=stream)
        except BaseException:
            pending.end()
            raise
        if stream:
            return sse(pending, chunks(pending, include_usage))
        try:
            turn = await pending.wait(request)
        except ClientGone:
            return JSONResponse(error_body("the client closed the request"), status_code=499)
        finally:
            pending.end()
        return done(turn)

    @app.post("/v1/chat/completions", dependencies=[Depends(auth)])
    async def chat_completions(body: ChatCompletionRequest, request: Request) -> Any:
        _convert.check_model(body.model, served)
        job = _convert.chat_job(body, limit)
        kwargs = job.submit_kwargs()
        pending = Pending(provider, metrics)
        chunks = ChatChunks(name)
        include_usage = bool(body.stream_options and body.stream_options.include_usage)

        def start(on_event: Any) -> Any:
            return provider.submit(job.turns, on_event=on_event, **kwargs)

        def done(turn: Any) -> dict[str, Any]:
            if job.type is not None:
                _check_structured(turn, job.type)
            return {"id": chunks.id, "object": "chat.completion", "created": chunks.created,
                    "model": name, "system_fingerprint": None,
                    "choices": [{"index": 0, "message": _convert.message(turn), "logprobs": None,
                                 "finish_reason": _convert.finish_reason(turn)}],
                    "usage": _convert.usage(turn.tokens)}

        return await generate(request, pending, body.stream, start,
                              lambda p, u: chat_stream(p, chunks, u), include_usage, done)

    @app.post("/v1/completions", dependencies=[Depends(auth)])
    async def completions(body: CompletionRequest, request: Request) -> Any:
        _convert.check_model(body.model, served)
        prompt = body.prompt
        if isinstance(prompt, list):
            if len(prompt) != 1:
                raise bad_request("prompt must be one string (one completion per request)", param="prompt")
            prompt = prompt[0]
        for field in ("echo", "suffix", "logprobs"):
            if getattr(body, field):
                raise bad_request(f"{field} is not supported", param=field, code="unsupported")
        for field in ("n", "best_of"):
            if getattr(body, field) not in (None, 1):
                raise bad_request(f"{field} must be 1", param=field)
        params = _convert.sampling_params(body, body.max_tokens, limit)
        pending = Pending(provider, metrics)
        chunks = TextChunks(name)
        include_usage = bool(body.stream_options and body.stream_options.include_usage)

        def start(on_event: Any) -> Any:
            return provider.submit_text(prompt, params=params, on_event=on_event)

        def done(turn: Any) -> dict[str, Any]:
            out = chunks.chunk(turn.text, _convert.finish_reason(turn))
            out["usage"] = _convert.usage(turn.tokens)
            return out

        return await generate(request, pending, body.stream, start,
                              lambda p, u: text_stream(p, chunks, u), include_usage, done)

    @app.post("/v1/embeddings", dependencies=[Depends(auth)])
    async def embeddings(body: EmbeddingRequest) -> dict[str, Any]:
        _convert.check_model(body.model, served)
        given: list[Any] = [body.input] if isinstance(body.input, str) else list(body.input)
        if not given or not all(isinstance(t, str) for t in given):
            raise bad_request("input must be a string or a non-empty list of strings (token arrays "
                              "are not supported)", param="input")
        texts: list[str] = given
        try:
            vectors = await run_in_threadpool(embed, texts)
        except LlamaProvError as exc:
            raise from_llamaprov(exc, param="input") from None
        vectors = np.asarray(vectors, dtype=np.float32)
        if body.dimensions is not None and body.dimensions != vectors.shape[1]:
            raise bad_request(f"dimensions must be this model's {vectors.shape[1]}", param="dimensions")
        data = []
        for i, vector in enumerate(vectors):
            value: Any = (base64.b64encode(vector.tobytes()).decode() if body.encoding_format == "base64"
                          else vector.tolist())
            data.append({"object": "embedding", "index": i, "embedding": value})
        n_tokens = sum(len(provider.model.tokenize(t, add_special=True)) for t in texts)
        return {"object": "list", "data": data, "model": name,
                "usage": {"prompt_tokens": n_tokens, "total_tokens": n_tokens}}

    wrapped = BodyLimit(_Counted(app, metrics), max_body_bytes)
    # the FastAPI app behind the middlewares (for tests and for adding routes)
    wrapped.fastapi = app  # type: ignore[attr-defined]
    wrapped.metrics = metrics  # type: ignore[attr-defined]
    return wrapped


def _check_structured(turn: Any, schema: Any) -> None:
    """Validate a structured reply against its schema (the grammar may only approximate it)."""
    from llamaprov.chat.types import parse_structured

    parse_structured(turn, schema)


__all__ = ["DEFAULT_MAX_BODY_BYTES", "create_app"]
