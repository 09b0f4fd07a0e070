"""Model files: quantize a GGUF model, and name the parts of a split one.

:func:`quantize` runs llama.cpp's quantizer (``llama_model_quantize``) with the file type named
as llama.cpp's tools name it ("Q8_0", "Q4_K_M", "F16", ...). :func:`split_path` and
:func:`split_prefix` build and parse the ``<prefix>-00001-of-00003.gguf`` names of split models
(:func:`~llamaprov.engine.load_model` finds the other parts from the first).
"""

from __future__ import annotations

import ctypes
import os
import pathlib
import re
from typing import Any

from .._progress import ProgressBar
from ..errors import InvalidArgumentError, ModelLoadError, describe
from ._checks import check_int
from ._ffi import c_str, capture_log, lib, recent_log
from .files import check_gguf_file

__all__ = ["FILE_TYPES", "quantize", "split_path", "split_prefix"]

# llama_ftype by the names llama.cpp's quantize tool uses ("Q4_K_M", "F16", ...)
FILE_TYPES: dict[str, int] = {
    name.removeprefix("LLAMA_FTYPE_").removeprefix("MOSTLY_"): int(getattr(lib, name))
    for name in dir(lib)
    if name.startswith("LLAMA_FTYPE_") and name != "LLAMA_FTYPE_GUESSED"
}
# llama.cpp logs one line per tensor: "[  12/ 272]  blk.1.attn_q.weight - [...], type = f32, ..."
_TENSOR_LINE = re.compile(r"\[\s*(\d+)/\s*(\d+)\]")
# these need an importance matrix, which quantize() does not take
_NEEDS_IMATRIX = {"IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "Q2_K_S"}


def _ftype(name: Any) -> int:
    if not isinstance(name, str) or name.upper() not in FILE_TYPES:
        raise InvalidArgumentError(f"unknown quantization type {describe(name)}; one of {sorted(FILE_TYPES)}")
    if name.upper() in _NEEDS_IMATRIX:
        raise InvalidArgumentError(f"{name} needs an importance matrix, which quantize() does not take")
    return FILE_TYPES[name.upper()]


def quantize(src: str | os.PathLike[str], dst: str | os.PathLike[str], ftype: str, *,
             nthread: int | None = None, allow_requantize: bool = False,
             quantize_output_tensor: bool = True, only_copy: bool = False, pure: bool = False,
             keep_split: bool = False, progress: bool | None = True) -> pathlib.Path:
    """Quantize the GGUF model ``src`` to ``dst`` as ``ftype`` ("Q8_0", "Q4_K_M", ...).

    ``allow_requantize`` permits an already quantized source; ``pure`` quantizes every tensor
    to ``ftype`` (no mixed K-quant recipe); ``only_copy`` copies tensors as they are (metadata
    edits); ``keep_split`` writes a split source as parts again. ``progress`` shows a bar over
    the tensors (True: always, None: on a terminal, False: never). Returns ``dst``. An unknown type,
    an unreadable source or a failed run raises a llamaprov error naming the file.
    """
    source, target = pathlib.Path(src), pathlib.Path(dst)
    check_gguf_file(source)
    code = _ftype(ftype)
    if target.resolve() == source.resolve():
        raise InvalidArgumentError(f"quantize would overwrite its source {str(source)!r}")
    parent = target.parent if str(target.parent) else pathlib.Path(".")
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise InvalidArgumentError(f"cannot write a model file into {str(parent)!r}")
    params = lib.llama_model_quantize_default_params()
    params.nthread = 0 if nthread is None else check_int("nthread", nthread, 1, 512)
    params.ftype = code
    params.allow_requantize = bool(allow_requantize)
    params.quantize_output_tensor = bool(quantize_output_tensor)
    params.only_copy = bool(only_copy)
    params.pure = bool(pure)
    params.keep_split = bool(keep_split)
    recent_log(clear=True)
    with ProgressBar(0, enabled=progress, desc=f"quantizing to {ftype}", unit="tensor") as bar:
        done = [0]

        def on_line(line: str) -> None:
            match = _TENSOR_LINE.match(line)
            if match:
                index, total = int(match[1]), int(match[2])
                bar.set_total(total)
                bar.update(index - done[0])
                done[0] = index

        with capture_log(b"], type = ", on_line):
            rc = lib.llama_model_quantize(c_str(str(source), "source path"),
                                          c_str(str(target), "target path"), ctypes.byref(params))
    if rc != 0:
        reason = "; ".join(recent_log(clear=True)[-3:]) or f"llama_model_quantize returned {rc}"
        raise ModelLoadError(f"quantizing {str(source)!r} to {ftype} failed: {reason}")
    return target


def split_path(prefix: str | os.PathLike[str], split_no: int, split_count: int) -> str:
    """The path of part ``split_no`` (0-based) of ``split_count``: ``<prefix>-00001-of-00003.gguf``."""
    count = check_int("split_count", split_count, 1, 99999)
    no = check_int("split_no", split_no, 0, count - 1)
    buf = ctypes.create_string_buffer(4096)
    n = lib.llama_split_path(buf, len(buf), c_str(str(prefix), "split prefix"), no, count)
    if n <= 0 or n >= len(buf):
        raise InvalidArgumentError(f"cannot build a split path from {str(prefix)!r}")
    return buf.value.decode("utf-8")


def split_prefix(path: str | os.PathLike[str], split_no: int, split_count: int) -> str | None:
    """The prefix of a split part's path, or None when ``path`` is not part ``split_no`` of
    ``split_count``."""
    count = check_int("split_count", split_count, 1, 99999)
    no = check_int("split_no", split_no, 0, count - 1)
    buf = ctypes.create_string_buffer(4096)
    n = lib.llama_split_prefix(buf, len(buf), c_str(str(path), "split path"), no, count)
    return buf.value.decode("utf-8") if n > 0 else None
