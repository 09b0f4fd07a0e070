"""ctypes glue: the llama.cpp bindings, the bundled libggml, and the log callback.

Everything that touches ``llama_cpp.llama_cpp`` directly for process-wide setup lives here, so
the rest of the engine can import ``lib`` and the few helpers below.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import logging
import os
import pathlib
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import llama_cpp.llama_cpp as lib

from ..errors import InvalidArgumentError

__all__ = ["c_str", "capture_log", "capture_stderr", "ggml", "lib", "log_threshold", "recent_log",
           "set_log_threshold", "utf8"]

_logger = logging.getLogger("llamaprov.llama_cpp")
logging.getLogger("llamaprov").addHandler(logging.NullHandler())

# ggml_log_level: NONE=0, DEBUG=1, INFO=2, WARN=3, ERROR=4, CONT=5
_GGML_TO_LOGGING = {0: logging.DEBUG, 1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING,
                    4: logging.ERROR}
_OFF = logging.CRITICAL + 10

_state_lock = threading.Lock()
_threshold = _OFF
_last_level = logging.DEBUG
# Recent warning/error lines, attached to error messages (e.g. why a model failed to load).
_recent: collections.deque[str] = collections.deque(maxlen=32)


# threads inside capture_log(): (marker, lines, on_line) - the lines containing marker, any level
_captures: dict[int, tuple[bytes, list[str], Callable[[str], None] | None]] = {}


def _on_log(level: int, text: bytes | None, _user_data: ctypes.c_void_p) -> None:
    global _last_level
    py_level = _last_level if level == 5 else _GGML_TO_LOGGING.get(level, logging.INFO)
    _last_level = py_level
    capture = _captures.get(threading.get_ident()) if _captures else None
    if capture is not None and text and capture[0] in text:
        line = text.decode("utf-8", errors="replace")
        capture[1].append(line)
        if capture[2] is not None:
            try:
                capture[2](line)
            except Exception as exc:  # an exception must not cross into C; the caller sees it later
                capture[1].append(f"(on_line failed: {exc!r})")
    if py_level < logging.WARNING and py_level < _threshold:
        return
    message = (text or b"").decode("utf-8", errors="replace").rstrip("\n")
    if not message:
        return
    if py_level >= logging.WARNING:
        _recent.append(message)
    if py_level >= _threshold:
        _logger.log(py_level, "%s", message)


# The callback object must stay referenced for the life of the process: llama.cpp keeps the
# raw pointer, and a collected callback crashes the interpreter at the next log line.
_LOG_CALLBACK = lib.llama_log_callback(_on_log)
lib.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p(0))
lib.llama_backend_init()


def set_log_threshold(level: int) -> None:
    """Forward llama.cpp log lines at ``level`` or above to the ``llamaprov.llama_cpp`` logger."""
    global _threshold
    with _state_lock:
        _threshold = level


def log_threshold() -> int:
    """The current forwarding threshold (a :mod:`logging` level; above CRITICAL means off)."""
    return _threshold


def recent_log(clear: bool = False) -> list[str]:
    """Recent llama.cpp warning and error lines (most recent last)."""
    lines = list(_recent)
    if clear:
        _recent.clear()
    return lines


@contextlib.contextmanager
def capture_log(marker: bytes, on_line: Callable[[str], None] | None = None) -> Iterator[list[str]]:
    """Collect the lines containing ``marker`` that llama.cpp logs from this thread inside the
    block, at any level (e.g. the buffer sizes it reports while creating a context).

    ``on_line`` is called with each such line as it is logged (a progress display); what it
    raises is swallowed, since the call comes from inside C.
    """
    lines: list[str] = []
    me = threading.get_ident()
    _captures[me] = (marker, lines, on_line)
    try:
        yield lines
    finally:
        _captures.pop(me, None)


_stderr_lock = threading.Lock()


@contextlib.contextmanager
def capture_stderr() -> Iterator[list[str]]:
    """Capture what C code writes to file descriptor 2 (llama.cpp's grammar parser does).

    Yields a list that holds the captured lines once the block ends.
    """
    lines: list[str] = []
    with _stderr_lock, tempfile.TemporaryFile() as tmp:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(tmp.fileno(), 2)
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            lines.extend(tmp.read().decode("utf-8", errors="replace").splitlines())


def utf8(text: str, what: str = "text") -> bytes:
    """Encode text for llama.cpp; a lone surrogate (not encodable) raises InvalidArgumentError."""
    if not isinstance(text, str):
        raise InvalidArgumentError(f"{what} must be a str, got {type(text).__name__}")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidArgumentError(
            f"{what} is not valid Unicode: {exc.object[exc.start:exc.end]!r} at index {exc.start} "
            "(a lone surrogate) cannot be encoded as UTF-8") from None


def c_str(text: str, what: str = "text") -> bytes:
    """Encode text for a NUL-terminated ``const char *`` argument (no NUL inside)."""
    data = utf8(text, what)
    if b"\x00" in data:
        raise InvalidArgumentError(f"{what} contains a NUL character at byte {data.index(0)}")
    return data


class _Ggml:
    """Functions of the bundled libggml that llama-cpp-python does not bind, and the one way
    to declare the ctypes signatures of bundled functions: :meth:`library` opens a bundled
    library, :meth:`bind` declares signatures on it (as ``_ggml_opt`` does for libggml-base)."""

    def __init__(self) -> None:
        self._lib: ctypes.CDLL | None = None
        self._lock = threading.Lock()

    @staticmethod
    def library(stem: str) -> ctypes.CDLL:
        """The bundled shared library ``stem`` ("ggml", "ggml-base"), next to libllama."""
        base = pathlib.Path(lib.__file__).parent / "lib"
        candidates = sorted(base.glob(f"lib{stem}.*")) + sorted(base.glob(f"{stem}.*"))
        if not candidates:
            raise OSError(f"lib{stem} not found next to libllama in {base}")
        return ctypes.CDLL(str(candidates[0]))

    @staticmethod
    def bind(so: ctypes.CDLL, signatures: Mapping[str, tuple[Any, Sequence[Any]]]) -> dict[str, Any]:
        """The functions ``signatures`` names (name -> (restype, argtypes)) in ``so``, each a
        fresh function pointer with that signature: the library's own attributes (which other
        bindings of it may use) keep theirs."""
        fns: dict[str, Any] = {}
        for name, (restype, argtypes) in signatures.items():
            fn = so[name]
            fn.restype, fn.argtypes = restype, list(argtypes)
            fns[name] = fn
        return fns

    def _load(self) -> ctypes.CDLL:
        with self._lock:
            if self._lib is None:
                so = self.library("ggml")
                vp, sz, i = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int
                signatures: dict[str, tuple[Any, list[Any]]] = {
                    "ggml_backend_dev_count": (sz, []),
                    "ggml_backend_dev_get": (vp, [sz]),
                    "ggml_backend_dev_name": (ctypes.c_char_p, [vp]),
                    "ggml_backend_dev_description": (ctypes.c_char_p, [vp]),
                    "ggml_backend_dev_type": (i, [vp]),
                    "ggml_backend_dev_memory": (None, [vp, ctypes.POINTER(sz), ctypes.POINTER(sz)]),
                    "ggml_backend_load_all": (None, []),
                }
                for name, fn in self.bind(so, signatures).items():
                    setattr(so, name, fn)  # what ggml.<name> returns
                self._lib = so
            return self._lib

    def __getattr__(self, name: str) -> Any:
        return getattr(self._load(), name)


ggml = _Ggml()
