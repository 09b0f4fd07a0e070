"""An OpenAI-compatible server on llamaprov's own engine and chat layer (``pip install
"llamaprov[server]"``): FastAPI + uvicorn, server-sent events by sse-starlette.

:func:`serve` serves a model until interrupted (``llamaprov serve``); :func:`create_app` makes
the ASGI app for a :class:`~llamaprov.chat.LlamaProvider`; :class:`BackgroundServer` runs an app
in a thread on a loopback port. Endpoints: ``/v1/chat/completions`` (streamed or not; tools,
``tool_choice``, ``parallel_tool_calls``, ``response_format``, every sampling knob of
:class:`~llamaprov.chat.ChatParams`; reasoning as ``reasoning_content``), ``/v1/completions``,
``/v1/embeddings``, ``/v1/models``, ``/health``, ``/metrics`` (Prometheus). Every generation
request joins the provider's continuous-batching queue (:meth:`LlamaProvider.submit`), so
concurrent clients share decode steps; a client that leaves frees its sequence at once.

The package imports without FastAPI installed; its functions raise
:class:`~llamaprov.errors.NotSupportedError` naming the extra then. One module per concept:
``_app`` (the routes), ``_schemas`` (request bodies), ``_convert`` (OpenAI <-> llamaprov values),
``_stream`` (the queue's events to SSE chunks), ``_errors``, ``_auth``, ``_limits`` (body size),
``_metrics``, ``_server`` (running it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llamaprov.serve._server import BackgroundServer, require_server_extra, serve

if TYPE_CHECKING:
    from llamaprov.chat import LlamaProvider


def create_app(provider: LlamaProvider, **options: Any) -> Any:
    """The ASGI app serving ``provider`` (see :func:`llamaprov.serve._app.create_app` for the
    options: ``model_id``, ``api_key``, ``embedder``, ``max_tokens_limit``, ``max_body_bytes``)."""
    require_server_extra()
    from llamaprov.serve._app import create_app as make

    return make(provider, **options)


__all__ = ["BackgroundServer", "create_app", "serve"]
