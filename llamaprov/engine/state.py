"""Context state: save what a context holds (KV cache, outputs) and restore it later.

The whole context (:func:`get_state`, :func:`save_state`) or one sequence (:func:`get_seq_state`,
:func:`save_seq_state`), as bytes or as files in llama.cpp's own session formats. Restoring
reads files in Python and hands llama.cpp only bytes, through its readers that check every
read against the data's length (its file readers abort the process on data that ends early).
When llama.cpp still refuses the data (another model's state, a damaged file), the context's
memory is cleared so that it stays usable, and :class:`~llamaprov.errors.StateError` names the
file or the reason.

:class:`~llamaprov.engine.Context` exposes these as methods (``ctx.save_state(path, tokens)``...).
"""

from __future__ import annotations

import ctypes
import os
import pathlib
import struct
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgumentError, StateError, describe
from ._checks import check_int
from ._ffi import c_str, lib, recent_log

if TYPE_CHECKING:
    from ._context import ContextCore as Context

__all__ = ["SEQ_FLAGS", "get_seq_state", "get_state", "load_seq_state", "load_state", "save_seq_state",
           "save_state", "seq_state_size", "set_seq_state", "set_state", "state_size"]

# llama_state_seq_flags, by name (the _ext variants of the per-sequence calls take them)
SEQ_FLAGS = {"swa_only": 1, "on_device": 2, "partial_only": 4}
# the file headers llama.cpp writes: magic and version (uint32 each), then a uint32 token count
_SESSION = (int(lib.LLAMA_SESSION_MAGIC), int(lib.LLAMA_SESSION_VERSION))
_SEQUENCE = (int(lib.LLAMA_STATE_SEQ_MAGIC), int(lib.LLAMA_STATE_SEQ_VERSION))
_SEQ_HEADER = 8  # bytes the per-sequence bytes form puts before what its file form holds


def _flags(flags: int | str | Iterable[str]) -> int:
    if isinstance(flags, int) and not isinstance(flags, bool):
        return check_int("flags", flags, 0, sum(SEQ_FLAGS.values()))
    names = [flags] if isinstance(flags, str) else list(flags) if isinstance(flags, Iterable) else None
    if names is None or any(n not in SEQ_FLAGS for n in names):
        raise InvalidArgumentError(
            f"flags must be an int or names from {sorted(SEQ_FLAGS)}, got {describe(flags)}")
    value = 0
    for n in names:
        value |= SEQ_FLAGS[n]
    return value


def _seq(ctx: Context, seq: int) -> int:
    return check_int("sequence id", seq, 0, ctx.n_seq_max - 1)


def _tokens(ctx: Context, tokens: Sequence[int]) -> Any:
    toks = ctx.model._check_tokens(tokens)
    return (lib.llama_token * max(1, len(toks)))(*toks), len(toks)


def _buffer(data: bytes | bytearray | memoryview) -> Any:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidArgumentError(f"state data must be bytes, got {type(data).__name__}")
    raw = bytes(data)
    if not raw:
        raise StateError("state data is empty")
    return (ctypes.c_uint8 * len(raw)).from_buffer_copy(raw), len(raw)


def _refused(ctx: Context, what: str) -> StateError:
    """Clear the memory a refused restore may have half-written; the error to raise."""
    reason = "; ".join(recent_log(clear=True)[-2:])
    lib.llama_memory_clear(lib.llama_get_memory(ctx._ptr), True)
    ctx.memory._forget_all()
    return StateError(f"{what}{': ' + reason if reason else ''} (the context's memory was cleared)")


def _read_file(path: pathlib.Path, header: tuple[int, int], ctx: Context) -> tuple[list[int], bytes]:
    """(tokens, state data) of a session or sequence state file, read and checked in Python.

    llama.cpp's own file readers abort the process on state data that ends early, so restoring
    goes through its bytes readers, which check every read against the data's length.
    """
    kind = "session" if header == _SESSION else "sequence state"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StateError(f"cannot read the state file {str(path)!r}: {exc}") from exc
    if len(data) < 12:
        raise StateError(f"{str(path)!r} is not a llama.cpp {kind} file (it ends after {len(data)} bytes)")
    magic, version, n_tokens = struct.unpack_from("<III", data)
    if (magic, version) != header:
        raise StateError(f"{str(path)!r} is not a llama.cpp {kind} file of this version "
                         f"(magic {magic:#x} version {version}, expected {header[0]:#x} version {header[1]})")
    if n_tokens > ctx.n_ctx:
        raise StateError(f"{str(path)!r} holds {n_tokens} tokens, more than this context's {ctx.n_ctx}")
    end = 12 + 4 * n_tokens
    if len(data) <= end:
        raise StateError(f"{str(path)!r} ends before its state data ({len(data)} bytes)")
    tokens = list(struct.unpack_from(f"<{n_tokens}i", data, 12))
    try:
        ctx.model._check_tokens(tokens)
    except InvalidArgumentError as exc:
        raise StateError(f"{str(path)!r} holds tokens this model does not have: {exc}") from exc
    return tokens, data[end:]


def _path(path: str | os.PathLike[str]) -> pathlib.Path:
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidArgumentError(f"a state file path is a str or path, got {describe(path)}")
    return pathlib.Path(path)


def _record(ctx: Context, seq: int, tokens: list[int]) -> None:
    """Remember ``tokens`` as what ``seq`` holds when the restored cache agrees on the length,
    so a resumed conversation reuses its prompt instead of decoding it again."""
    ctx.memory._forget(seq, None)
    if tokens and ctx.memory.seq_pos_range(seq)[1] + 1 == len(tokens):
        ctx.memory._record(seq, tokens)


# -- the whole context ----------------------------------------------------------------------
def state_size(ctx: Context) -> int:
    """Bytes :func:`get_state` returns now."""
    with ctx._locked(), ctx._native:
        return int(lib.llama_state_get_size(ctx._ptr))


def get_state(ctx: Context) -> bytes:
    """The context's whole state (every sequence's KV cache, the last outputs) as bytes."""
    with ctx._locked(), ctx._native:
        size = int(lib.llama_state_get_size(ctx._ptr))
        buf = (ctypes.c_uint8 * size)()
        n = int(lib.llama_state_get_data(ctx._ptr, buf, size))
    return bytes(buf[:n])


def set_state(ctx: Context, data: bytes) -> None:
    """Restore a state from :func:`get_state` (of a context on the same model and settings)."""
    buf, size = _buffer(data)
    with ctx._locked(), ctx._native:
        recent_log(clear=True)
        if int(lib.llama_state_set_data(ctx._ptr, buf, size)) == 0:
            raise _refused(ctx, "llama.cpp refused the state data")
        ctx.memory._forget_all()


def save_state(ctx: Context, path: str | os.PathLike[str], tokens: Sequence[int]) -> None:
    """Write the whole state and ``tokens`` (what sequence 0 holds, usually) to ``path``."""
    target = _path(path)
    arr, n = _tokens(ctx, tokens)
    with ctx._locked(), ctx._native:
        recent_log(clear=True)
        if not lib.llama_state_save_file(ctx._ptr, c_str(str(target), "state path"), arr, n):
            reason = "; ".join(recent_log(clear=True)[-2:])
            raise StateError(f"cannot write the state file {str(target)!r}{': ' + reason if reason else ''}")


def load_state(ctx: Context, path: str | os.PathLike[str]) -> list[int]:
    """Restore a file from :func:`save_state`; returns the tokens saved with it."""
    source = _path(path)
    tokens, data = _read_file(source, _SESSION, ctx)
    buf, size = _buffer(data)
    with ctx._locked(), ctx._native:
        recent_log(clear=True)
        if int(lib.llama_state_set_data(ctx._ptr, buf, size)) == 0:
            raise _refused(ctx, f"cannot restore the state file {str(source)!r}")
        ctx.memory._forget_all()
        _record(ctx, 0, tokens)
    return tokens


# -- one sequence ----------------------------------------------------------------------------
def seq_state_size(ctx: Context, seq: int, flags: int | str | Iterable[str] = 0) -> int:
    """Bytes :func:`get_seq_state` returns now for ``seq``."""
    seq, f = _seq(ctx, seq), _flags(flags)
    with ctx._locked(), ctx._native:
        return int(lib.llama_state_seq_get_size_ext(ctx._ptr, seq, f))


def get_seq_state(ctx: Context, seq: int, flags: int | str | Iterable[str] = 0) -> bytes:
    """The KV cache of sequence ``seq`` as bytes (``flags``: names from :data:`SEQ_FLAGS`)."""
    seq, f = _seq(ctx, seq), _flags(flags)
    with ctx._locked(), ctx._native:
        size = int(lib.llama_state_seq_get_size_ext(ctx._ptr, seq, f))
        buf = (ctypes.c_uint8 * max(size, 1))()
        n = int(lib.llama_state_seq_get_data_ext(ctx._ptr, buf, size, seq, f))
    return bytes(buf[:n])


def set_seq_state(ctx: Context, data: bytes, seq: int, flags: int | str | Iterable[str] = 0) -> None:
    """Restore bytes from :func:`get_seq_state` into sequence ``seq`` (any sequence: a copy)."""
    seq, f = _seq(ctx, seq), _flags(flags)
    buf, size = _buffer(data)
    with ctx._locked(), ctx._native:
        recent_log(clear=True)
        if int(lib.llama_state_seq_set_data_ext(ctx._ptr, buf, size, seq, f)) == 0:
            raise _refused(ctx, f"llama.cpp refused the state data for sequence {seq}")
        ctx.memory._forget(seq, None)


def save_seq_state(ctx: Context, path: str | os.PathLike[str], seq: int, tokens: Sequence[int]) -> int:
    """Write sequence ``seq`` and ``tokens`` (what it holds) to ``path``; returns the bytes written."""
    target, seq = _path(path), _seq(ctx, seq)
    arr, n = _tokens(ctx, tokens)
    with ctx._locked(), ctx._native:
        recent_log(clear=True)
        written = int(lib.llama_state_seq_save_file(ctx._ptr, c_str(str(target), "state path"), seq, arr, n))
    if written == 0:
        raise StateError(f"cannot write the sequence state file {str(target)!r}")
    return written


def load_seq_state(ctx: Context, path: str | os.PathLike[str], seq: int) -> list[int]:
    """Restore a file from :func:`save_seq_state` into sequence ``seq``; returns its tokens."""
    source, seq = _path(path), _seq(ctx, seq)
    tokens, data = _read_file(source, _SEQUENCE, ctx)
    with ctx._locked(), ctx._native:
        recent_log(clear=True)
        lib.llama_memory_seq_rm(lib.llama_get_memory(ctx._ptr), seq, -1, -1)
        ctx.memory._forget(seq, None)
        # the bytes form opens with a header the file form lacks: take it from the (now
        # empty) sequence; should it ever change size, llama.cpp refuses the data below
        size = int(lib.llama_state_seq_get_size_ext(ctx._ptr, seq, 0))
        empty = (ctypes.c_uint8 * max(size, 1))()
        n = int(lib.llama_state_seq_get_data_ext(ctx._ptr, empty, size, seq, 0))
        buf, total = _buffer(bytes(empty[:min(n, _SEQ_HEADER)]) + data)
        if int(lib.llama_state_seq_set_data_ext(ctx._ptr, buf, total, seq, 0)) == 0:
            raise _refused(ctx, f"cannot restore the sequence state file {str(source)!r}")
        _record(ctx, seq, tokens)
    return tokens
