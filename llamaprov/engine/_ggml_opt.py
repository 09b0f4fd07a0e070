"""ctypes bindings for training: ggml's optimizer datasets and results, and ``llama_opt_*``.

llama-cpp-python binds ``llama_opt_init`` with a ``llama_opt_params`` that lacks the last field
of the bundled llama.h (``enum ggml_opt_optimizer_type optimizer_type``). The struct is passed
by value, so with that binding libllama would read the optimizer type from whatever lies on
the stack behind it. This module declares the struct as the bundled header does and calls
``llama_opt_init`` / ``llama_opt_epoch`` through its own function pointers (the binding's
stay untouched). ggml's optimizer API (``ggml-opt.h``) is not bound at all: it lives in
``libggml-base``, loaded here.

Nothing here checks values: :mod:`llamaprov.engine.train` does that before calling in.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

import numpy as np

from ..errors import ContextError
from ._ffi import ggml, lib
from ._ggml_types import GGML_TYPE_COUNT, GGML_TYPE_I32

__all__ = ["EPOCH_CALLBACK", "OPTIMIZERS", "PARAM_FILTER", "Dataset", "LlamaOptParams", "OptimizerParams",
           "native"]

OPTIMIZERS = {"adamw": 0, "sgd": 1}  # enum ggml_opt_optimizer_type


class _AdamW(ctypes.Structure):
    _fields_ = [("alpha", ctypes.c_float), ("beta1", ctypes.c_float), ("beta2", ctypes.c_float),
                ("eps", ctypes.c_float), ("wd", ctypes.c_float)]


class _Sgd(ctypes.Structure):
    _fields_ = [("alpha", ctypes.c_float), ("wd", ctypes.c_float)]


class OptimizerParams(ctypes.Structure):
    """``struct ggml_opt_optimizer_params`` (ggml-opt.h), plus spare room at the end.

    The struct is returned in memory (it is larger than two registers), so a build whose
    struct grew at the end would write into the spare floats instead of past the buffer.
    """

    _fields_ = [("adamw", _AdamW), ("sgd", _Sgd), ("_spare", ctypes.c_float * 8)]


class LlamaOptParams(ctypes.Structure):
    """``struct llama_opt_params`` as the bundled llama.h declares it (six fields)."""

    _fields_ = [
        ("n_ctx_train", ctypes.c_uint32),
        ("param_filter", ctypes.c_void_p),
        ("param_filter_ud", ctypes.c_void_p),
        ("get_opt_pars", ctypes.c_void_p),
        ("get_opt_pars_ud", ctypes.c_void_p),
        ("optimizer_type", ctypes.c_int),
    ]


# bool (*llama_opt_param_filter)(const struct ggml_tensor * tensor, void * userdata)
PARAM_FILTER = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_void_p)
# void (*ggml_opt_epoch_callback)(bool train, ggml_opt_context_t, ggml_opt_dataset_t,
#                                 ggml_opt_result_t, int64_t ibatch, int64_t ibatch_max, int64_t t0)
EPOCH_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_bool, ctypes.c_void_p, ctypes.c_void_p,
                                  ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64)

_vp, _i64, _sz = ctypes.c_void_p, ctypes.c_int64, ctypes.c_size_t
_DOUBLE_P = ctypes.POINTER(ctypes.c_double)
# name -> (restype, argtypes), all in libggml-base
_GGML: dict[str, tuple[Any, list[Any]]] = {
    "ggml_opt_dataset_init": (_vp, [ctypes.c_int, ctypes.c_int, _i64, _i64, _i64, _i64]),
    "ggml_opt_dataset_free": (None, [_vp]),
    "ggml_opt_dataset_ndata": (_i64, [_vp]),
    "ggml_opt_dataset_data": (_vp, [_vp]),
    "ggml_opt_dataset_labels": (_vp, [_vp]),
    "ggml_opt_result_init": (_vp, []),
    "ggml_opt_result_free": (None, [_vp]),
    "ggml_opt_result_ndata": (None, [_vp, ctypes.POINTER(_i64)]),
    "ggml_opt_result_loss": (None, [_vp, _DOUBLE_P, _DOUBLE_P]),
    "ggml_opt_result_accuracy": (None, [_vp, _DOUBLE_P, _DOUBLE_P]),
    "ggml_opt_get_default_optimizer_params": (OptimizerParams, [_vp]),
    "ggml_nbytes": (_sz, [_vp]),
    "ggml_get_name": (ctypes.c_char_p, [_vp]),
    "ggml_get_data": (_vp, [_vp]),
    "ggml_type_name": (ctypes.c_char_p, [ctypes.c_int]),
    "ggml_backend_tensor_set": (None, [_vp, _vp, _sz, _sz]),
}
# in libllama, with the struct as the bundled llama.h declares it
_LLAMA_OPT: dict[str, tuple[Any, list[Any]]] = {
    "llama_opt_init": (None, [_vp, _vp, LlamaOptParams]),
    "llama_opt_epoch": (None, [_vp, _vp, _vp, _vp, _i64, _vp, _vp]),
}


class _Native:
    """The functions above, loaded on first use, and llama_opt_* with the right struct."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fns: dict[str, Any] | None = None
        self.constant_params_fn = 0  # address of ggml_opt_get_constant_optimizer_params

    def _load(self) -> dict[str, Any]:
        with self._lock:
            if self._fns is None:
                so = ggml.library("ggml-base")
                fns = ggml.bind(so, _GGML)
                # fresh pointers into llama-cpp-python's libllama: its own bindings stay untouched
                fns.update(ggml.bind(lib._lib, _LLAMA_OPT))
                self.constant_params_fn = int(ctypes.cast(
                    so["ggml_opt_get_constant_optimizer_params"], ctypes.c_void_p).value or 0)
                self._fns = fns
            return self._fns

    def __getattr__(self, name: str) -> Any:
        fns = self._load()
        try:
            return fns[name]
        except KeyError:
            raise AttributeError(name) from None

    def loss(self, result: int) -> tuple[float, float]:
        """Mean loss of a result and its uncertainty (NaN when unknown)."""
        loss, unc = ctypes.c_double(), ctypes.c_double()
        self.ggml_opt_result_loss(result, ctypes.byref(loss), ctypes.byref(unc))
        return loss.value, unc.value

    def accuracy(self, result: int) -> float:
        """Share of the result's tokens whose most likely prediction was the label."""
        acc, unc = ctypes.c_double(), ctypes.c_double()
        self.ggml_opt_result_accuracy(result, ctypes.byref(acc), ctypes.byref(unc))
        return acc.value

    def ndata(self, result: int) -> int:
        """Tokens a result has seen."""
        n = ctypes.c_int64()
        self.ggml_opt_result_ndata(result, ctypes.byref(n))
        return n.value

    def type_name(self, ggml_type: int) -> str:
        """ggml's name of a tensor type ("f32", "q8_0", ...)."""
        if not 0 <= ggml_type < GGML_TYPE_COUNT:
            return f"unknown ggml type {ggml_type}"
        raw = self.ggml_type_name(int(ggml_type))
        return raw.decode("utf-8", errors="replace") if raw else f"ggml type {ggml_type}"


native = _Native()


class Dataset:
    """A ggml optimizer dataset of I32 token windows: row i of ``windows`` (n_ctx + 1 tokens)
    gives the inputs ``[:-1]`` and the labels ``[1:]`` of datapoint i."""

    def __init__(self, windows: np.ndarray) -> None:
        n, width = windows.shape
        self.n = int(n)
        self.ptr = native.ggml_opt_dataset_init(GGML_TYPE_I32, GGML_TYPE_I32, width - 1, width - 1,
                                                self.n, 1)
        if not self.ptr:
            raise ContextError("ggml could not allocate the training dataset")
        try:
            self.write(windows)
        except BaseException:
            self.free()
            raise

    def write(self, windows: np.ndarray) -> None:
        """Replace the windows (same shape), e.g. shuffled."""
        for tensor, part in ((native.ggml_opt_dataset_data(self.ptr), windows[:, :-1]),
                             (native.ggml_opt_dataset_labels(self.ptr), windows[:, 1:])):
            block = np.ascontiguousarray(part, dtype=np.int32)
            # never write past the tensor, nor into one whose buffer could not be allocated
            fits = bool(tensor) and int(native.ggml_nbytes(tensor)) == block.nbytes
            if not fits or not native.ggml_get_data(tensor):
                raise ContextError("ggml could not allocate the training dataset")
            native.ggml_backend_tensor_set(tensor, block.ctypes.data, 0, block.nbytes)

    def free(self) -> None:
        """Release the dataset; safe to call twice."""
        if self.ptr:
            native.ggml_opt_dataset_free(self.ptr)
            self.ptr = None

