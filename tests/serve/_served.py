"""The server under test (see conftest.py's ``served`` fixture): its settings and handle."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from llamaprov.chat import LlamaProvider
from llamaprov.integrations.embedding import embed_llamaprov
from llamaprov.serve import BackgroundServer, create_app

API_KEY = "test-key"
MAX_TOKENS_LIMIT = 1024
MAX_BODY_BYTES = 256 * 1024


@dataclass
class Served:
    url: str
    model_id: str
    provider: LlamaProvider
    app: Any

    @property
    def base_url(self) -> str:
        return self.url + "/v1"


def serve_default(model, request: pytest.FixtureRequest) -> Iterator[Served]:
    """The app on ``model`` served by uvicorn in a background thread on a free loopback port
    (``MAX_PARALLEL`` of the requesting test module: the sequences decoded together)."""
    # one thread per decode: the test machine has 2 cores, often shared (llama.cpp's threads
    # spin while they wait, so more threads than free cores slow everything down)
    max_parallel = getattr(request.module, "MAX_PARALLEL", 8)
    provider = LlamaProvider(model, n_ctx=2048, max_parallel=max_parallel, n_threads=1)
    embedder = embed_llamaprov(model, n_threads=1)
    app = create_app(provider, api_key=API_KEY, embedder=embedder, max_tokens_limit=MAX_TOKENS_LIMIT,
                     max_body_bytes=MAX_BODY_BYTES)
    server = BackgroundServer(app).start()
    try:
        yield Served(server.url, model.path.name.removesuffix(".gguf"), provider, app)
    finally:
        server.stop()
        provider.close()
        embedder.close()
