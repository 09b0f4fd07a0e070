"""Running the app: :func:`serve` (blocks until interrupted; ``llamaprov serve`` calls it) and
:class:`BackgroundServer` (uvicorn in a thread on a loopback port, for tests, examples and
benchmarks)."""

from __future__ import annotations

import importlib
import threading
import time
from typing import Any

from llamaprov.errors import InvalidArgumentError, NotSupportedError, describe

_NEEDED = ("fastapi", "uvicorn", "sse_starlette")
# seconds a background server may take to start (the model is already loaded)
_START_TIMEOUT = 60.0


def require_server_extra() -> None:
    """Raise :class:`~llamaprov.errors.NotSupportedError` naming the extra when the server's
    packages (FastAPI, uvicorn, sse-starlette) are not installed."""
    missing = []
    for name in _NEEDED:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise NotSupportedError(
            f"the OpenAI-compatible server needs {', '.join(missing)}: "
            'pip install "llamaprov[server]"')


def _check_port(port: Any) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise InvalidArgumentError(f"port must be an int in [0, 65535], got {describe(port)}")
    return port


def serve(model: str | None = None, *, host: str = "127.0.0.1", port: int = 8000, max_parallel: int = 4,
          api_key: str | None = None, n_ctx: int | None = None, n_gpu_layers: int = 0) -> None:
    """Serve ``model`` (a GGUF path or Hugging Face repo id, None: the default model) with an
    OpenAI-compatible API on ``host``:``port`` until interrupted (Ctrl-C).

    ``max_parallel`` requests are decoded together (more wait in the queue); ``api_key`` (when
    set) is the bearer token every ``/v1`` request must carry; ``n_ctx`` is the context shared by
    the running requests (None: the model's training length, at most 4096); ``n_gpu_layers`` the
    layers offloaded to a GPU. Binds 127.0.0.1 unless told otherwise.
    """
    require_server_extra()
    import uvicorn

    from llamaprov.chat import LlamaProvider
    from llamaprov.models import resolve_model
    from llamaprov.serve._app import create_app

    _check_port(port)
    if not isinstance(host, str) or not host:
        raise InvalidArgumentError(f"host must be a non-empty str, got {describe(host)}")
    options: dict[str, Any] = {"n_gpu_layers": n_gpu_layers} if n_gpu_layers else {}
    loaded = resolve_model(model, **options)
    provider = None
    try:
        provider = LlamaProvider(loaded, n_ctx=n_ctx, max_parallel=max_parallel)
        app = create_app(provider, api_key=api_key)
        uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)
    finally:
        if provider is not None:
            provider.close()
        loaded.close()


class BackgroundServer:
    """An ASGI ``app`` served by uvicorn in a daemon thread on ``host`` (loopback by default)
    and ``port`` (0: a free one); :attr:`url` is its base URL (``http://127.0.0.1:PORT``).
    Use it as a context manager, or call :meth:`start` and :meth:`stop`."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0,
                 log_level: str = "warning") -> None:
        require_server_extra()
        import uvicorn

        config = uvicorn.Config(app, host=host, port=_check_port(port), log_level=log_level,
                                timeout_graceful_shutdown=3, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self.host = host
        self.port = 0

    @property
    def url(self) -> str:
        """The server's base URL (no ``/v1``)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        """Start serving; returns once the socket is bound."""
        self._thread = threading.Thread(target=self._server.run, name="llamaprov-serve", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise InvalidArgumentError(f"the server did not start on {self.host}")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait (up to ``timeout`` seconds) for the thread to end."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["BackgroundServer", "require_server_extra", "serve"]
