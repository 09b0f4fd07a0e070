"""Fine-tuning a model's weights in place: :func:`finetune` over ``llama_opt_init`` /
``llama_opt_epoch`` and ggml's optimizer datasets (see ``_ggml_opt``).

The recipe is llama.cpp's ``examples/training/finetune.cpp``: the texts become one token
stream, cut into windows of ``n_ctx + 1`` tokens (inputs and the same tokens shifted by one as
labels); every epoch trains on the training windows with AdamW (or SGD) and evaluates the
validation windows, cross-entropy loss per token. The model's weights change in memory;
``model.save(path)`` writes them.

llama.cpp asserts (aborting the process) on much of what it is handed here, so everything is
checked first: the model must be all F32 (llama.cpp trains F32 tensors only: an F16 or
quantized model would train just its norms, and BF16 weights abort the process), loaded with
``use_mmap=False`` (mapped weights are read-only: writing them segfaults), of an architecture
whose graph has a backward pass here; the windows must fill the context exactly, the optimizer
values must pass ggml's own checks.
"""

from __future__ import annotations

import ctypes
import dataclasses
import math
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._progress import ProgressBar
from ..errors import ClosedError, ContextError, InvalidArgumentError, NotSupportedError, describe
from ._checks import check_allocation, check_float, check_int, check_tokens
from ._context import _CPU, _MAX_THREADS, ContextCore, _default_threads
from ._ffi import lib
from ._ggml_opt import (
    EPOCH_CALLBACK,
    OPTIMIZERS,
    PARAM_FILTER,
    Dataset,
    LlamaOptParams,
    OptimizerParams,
    native,
)
from ._ggml_types import GGML_TYPE_F32
from .files import read_gguf_header

if TYPE_CHECKING:
    from .model import Model

__all__ = ["EpochResult", "FinetuneResult", "finetune"]

# llama.cpp pads every context to a multiple of this, and trains on whole contexts
CTX_PAD = 256
_MAX_N_CTX = 1 << 20
# architectures whose graphs were trained here without an abort (ggml lacks the backward pass
# of some operations other graphs use, and a missing one aborts the process)
TRAINABLE_ARCHITECTURES = frozenset({"llama"})
# llama.cpp offers these to the parameter filter but never trains them (its FIXMEs)
_NEVER_TRAINED = frozenset({"token_embd.weight", "rope_freqs.weight"})
# tensors each model has had marked trainable: llama.cpp cannot unmark them
_MARKED: weakref.WeakKeyDictionary[Model, set[str]] = weakref.WeakKeyDictionary()
# one training per model at a time: llama.cpp reads the training window back from the model's
# n_ctx_train, which a second training (or the restore after one) would change under the first
_TRAINING: weakref.WeakKeyDictionary[Model, threading.RLock] = weakref.WeakKeyDictionary()
_TRAINING_LOCK = threading.Lock()


@dataclass(frozen=True)
class EpochResult:
    """Losses (mean cross-entropy per token, nats) and accuracies of one epoch.

    ``*_unc`` is the standard error of the mean loss over micro-batches (NaN with fewer than
    two). The validation fields are None when ``val_split`` was 0.
    """

    epoch: int
    train_loss: float
    train_loss_unc: float
    train_accuracy: float
    val_loss: float | None
    val_loss_unc: float | None
    val_accuracy: float | None
    seconds: float


@dataclass(frozen=True)
class FinetuneResult:
    """What :func:`finetune` did: the loss before training and one :class:`EpochResult` per epoch.

    ``loss_before`` is measured on the validation windows (on the training windows when
    ``val_split`` is 0), like ``loss_after``.
    """

    loss_before: float
    loss_before_unc: float
    epochs: list[EpochResult] = field(default_factory=list)
    n_tokens: int = 0
    n_train_windows: int = 0
    n_val_windows: int = 0
    n_ctx: int = 0
    trained_tensors: tuple[str, ...] = ()
    stopped_early: bool = False

    @property
    def loss_after(self) -> float:
        """The validation loss after the last epoch (the training loss without validation)."""
        if not self.epochs:
            return self.loss_before
        last = self.epochs[-1]
        return last.train_loss if last.val_loss is None else last.val_loss


# -- checks -----------------------------------------------------------------------------------
def _check_model(model: Model) -> None:
    """Refuse, before llama.cpp sees it, a model whose training would abort the process."""
    model._weights()  # ClosedError, or InvalidArgumentError for a vocab-only model
    name = repr(model.path.name)
    options = model._load_options
    if options is None:
        raise NotSupportedError(f"model {name} was loaded from split files; fine-tune a model "
                                "loaded from one GGUF file")
    if options.get("use_mmap") and lib.llama_supports_mmap():
        raise InvalidArgumentError(
            f"model {name} was loaded with use_mmap=True: its weights are mapped read-only from "
            "the file and training writes them; load it with load_model(path, use_mmap=False)")
    arch = model.meta_get("general.architecture", "") or ""
    if arch not in TRAINABLE_ARCHITECTURES:
        raise NotSupportedError(
            f"fine-tuning supports the {sorted(TRAINABLE_ARCHITECTURES)} architectures; model "
            f"{name} is {arch!r}")
    bad = [(t.name, t.ggml_type) for t in read_gguf_header(model.path).tensors
           if t.ggml_type != GGML_TYPE_F32]
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise NotSupportedError(
            f"fine-tuning needs a model whose tensors are all F32: llama.cpp trains F32 tensors "
            f"only (with F16 or quantized weights it would train just the norms, and BF16 ones "
            f"abort the process); in model {name} tensor {bad[0][0]!r} is "
            f"{native.type_name(bad[0][1]).upper()}{more}. Convert the original weights with "
            "--outtype f32")


def _check_lr(lr: Any) -> float:
    value = check_float("lr", lr, 0.0, math.inf)
    as_f32 = ctypes.c_float(value).value
    if not 0.0 < as_f32 < math.inf:  # ggml asserts alpha > 0 on the float32 it receives
        raise InvalidArgumentError(f"lr must be a positive float32 number, got {lr!r}")
    return value


def _token_stream(model: Model, data: Any) -> list[int]:
    """One token stream from a text, a list of texts, token ids, or lists of token ids.

    Texts are tokenized with the model's special tokens (a BOS where the vocabulary adds one)
    and each ends with EOS, so the model learns where a text ends.
    """
    if isinstance(data, str):
        data = [data]
    if isinstance(data, (bytes, bytearray)) or not isinstance(data, Sequence) or not data:
        raise InvalidArgumentError(
            f"finetune needs a text, a non-empty list of texts or of token ids, got {describe(data)}")
    if all(isinstance(t, str) for t in data):
        eos = model.vocab.eos
        tokens: list[int] = []
        for text in data:
            toks = model.tokenize(text, add_special=True)
            if eos is not None and (not toks or toks[-1] != eos):
                toks.append(eos)
            tokens += toks
        return tokens
    if all(isinstance(t, Sequence) and not isinstance(t, (str, bytes, bytearray)) for t in data):
        return [t for part in data for t in model._check_tokens(part)]
    return model._check_tokens(data)


def _windows(tokens: list[int], n_ctx: int, stride: int) -> np.ndarray:
    """Windows of ``n_ctx + 1`` tokens every ``stride`` tokens, shape (n, n_ctx + 1)."""
    width = n_ctx + 1
    if len(tokens) < width:
        return np.zeros((0, width), dtype=np.int32)
    arr = np.asarray(tokens, dtype=np.int32)
    n = (len(tokens) - width) // stride + 1
    return np.lib.stride_tricks.sliding_window_view(arr, width)[::stride][:n].copy()


def _split(tokens: list[int], n_ctx: int, stride: int, val_split: float) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation windows; the validation ones come from the end of the stream
    and share no token with the training ones."""
    width = n_ctx + 1
    total = len(_windows(tokens, n_ctx, stride))
    need = 2 * width if val_split > 0 else width
    if total and val_split > 0:
        n_val = max(1, round(total * val_split))
        val_len = (n_val - 1) * stride + width
        train, val = _windows(tokens[:len(tokens) - val_len], n_ctx, stride), \
            _windows(tokens[len(tokens) - val_len:], n_ctx, stride)
    else:
        train, val = _windows(tokens, n_ctx, stride), np.zeros((0, width), dtype=np.int32)
    if not len(train) or (val_split > 0 and not len(val)):
        needs = "a training and a validation window" if val_split > 0 else "one window"
        raise InvalidArgumentError(
            f"{len(tokens)} tokens are too few: a window is n_ctx + 1 = {width} tokens and "
            f"val_split={val_split} needs {needs} (at least {need} tokens); give more text, a "
            "smaller n_ctx or val_split=0")
    return train, val


def _estimate_bytes(model: Model, n_ctx: int, n_ubatch: int, n_windows: int) -> int:
    """A rough lower bound of what training allocates: gradients and AdamW moments for the
    weights, the activations of one micro-batch, the datasets."""
    info = model.info()
    per_layer = 24 * info.n_embd + 3 * info.n_head * n_ctx
    activations = n_ubatch * 4 * (4 * info.n_vocab + info.n_layer * per_layer)
    return 3 * info.size + activations + n_windows * n_ctx * 8


# -- native pieces ------------------------------------------------------------------------------
class _Run:
    """One training context with its optimizer, callbacks and the errors they caught."""

    def __init__(self, ctx: ContextCore, bar: ProgressBar) -> None:
        self.ctx = ctx
        self.errors: list[BaseException] = []
        self.selected: list[str] = []
        self.refused: list[str] = []

        def on_batch(_train: bool, _opt: Any, _ds: Any, _res: Any, _i: int, _n: int, _t0: int) -> None:
            if self.errors:
                return
            try:
                bar.update(1)
            except BaseException as exc:  # nothing may unwind through C
                self.errors.append(exc)

        self.on_batch = EPOCH_CALLBACK(on_batch)  # referenced for as long as C may call it

    def init(self, model: Model, opt: OptimizerParams, optimizer: int,
             param_filter: Callable[[str], bool] | None) -> None:
        def keep(tensor: Any, _ud: Any) -> bool:
            if self.errors:
                return False
            try:
                name = (native.ggml_get_name(tensor) or b"").decode("utf-8", errors="replace")
                ok = True if param_filter is None else bool(param_filter(name))
            except BaseException as exc:
                self.errors.append(exc)
                return False
            (self.selected if ok else self.refused).append(name)
            return ok

        self.keep = PARAM_FILTER(keep)
        params = LlamaOptParams(
            # 0: the context's n_ctx. opt_epoch reads the window length back from the model's
            # n_ctx_train, so it must be exactly the context's (more would overrun its buffers)
            n_ctx_train=0,
            param_filter=ctypes.cast(self.keep, ctypes.c_void_p).value,
            param_filter_ud=None,
            get_opt_pars=native.constant_params_fn,
            get_opt_pars_ud=ctypes.addressof(opt),
            optimizer_type=optimizer,
        )
        with self.ctx._native, model._using() as mptr:
            native.llama_opt_init(self.ctx._ptr, mptr, params)

    def epoch(self, ds: Dataset, *, train: bool) -> tuple[float, float, float]:
        """Train on (or only evaluate) every window of ``ds``; returns (loss, unc, accuracy)."""
        result = native.ggml_opt_result_init()
        try:
            with self.ctx._native, _CPU.hold(self.ctx._threads_batch):
                cb = ctypes.cast(self.on_batch, ctypes.c_void_p).value
                native.llama_opt_epoch(self.ctx._ptr, ds.ptr, result if train else None,
                                       None if train else result, ds.n if train else 0,
                                       cb if train else None, None if train else cb)
            self.raise_caught()
            loss, unc = native.loss(result)
            return loss, unc, native.accuracy(result)
        finally:
            native.ggml_opt_result_free(result)

    def raise_caught(self) -> None:
        if self.errors:
            raise self.errors[0]


def _restore_n_ctx_train(model: Model, n_ctx_train: int) -> None:
    """Put the model's training context length back after llama_opt_init replaced it.

    llama.cpp's opt_init stores the training window in the model's ``n_ctx_train`` (saved as
    the GGUF's context length). A second, tiny context whose batch is one token may set it to
    any value: its optimizer is initialized without marking a single tensor.
    """
    try:
        if n_ctx_train <= 0 or model.n_ctx_train == n_ctx_train:
            return
        ctx = ContextCore(model, n_ctx=CTX_PAD, n_batch=1, n_ubatch=1, type_k="f32", type_v="f32",
                          flash_attn=False, n_threads=1)
    except ClosedError:  # closed from another thread meanwhile: nothing to put back
        return
    except ContextError as exc:  # best effort: never hide why the training itself ended
        warnings.warn(f"the model's n_ctx_train stays {model.n_ctx_train} after training: {exc}",
                      RuntimeWarning, stacklevel=3)
        return
    try:
        refuse = PARAM_FILTER(lambda _t, _ud: False)
        defaults = native.ggml_opt_get_default_optimizer_params(None)  # never read: no epoch runs
        params = LlamaOptParams(n_ctx_train=n_ctx_train,
                                param_filter=ctypes.cast(refuse, ctypes.c_void_p).value,
                                get_opt_pars=native.constant_params_fn,
                                get_opt_pars_ud=ctypes.addressof(defaults), optimizer_type=0)
        with ctx._native, model._using() as mptr:
            native.llama_opt_init(ctx._ptr, mptr, params)
    except ClosedError:
        pass
    finally:
        ctx.close()


@dataclass(frozen=True)
class _Options:
    epochs: int
    lr: float
    n_ctx: int
    batch: int
    ubatch: int
    val_split: float
    stride: int
    weight_decay: float
    optimizer: int
    seed: int
    threads: int
    shuffle: bool


def _check_options(epochs: Any, lr: Any, n_ctx: Any, batch_size: Any, ubatch_size: Any,
                   val_split: Any, stride: Any, weight_decay: Any, optimizer: Any, seed: Any,
                   n_threads: Any, shuffle: Any) -> _Options:
    epochs = check_int("epochs", epochs, 1, 1_000_000)
    lr = _check_lr(lr)
    n_ctx = check_int("n_ctx", n_ctx, 1, _MAX_N_CTX)
    if n_ctx % CTX_PAD:
        raise InvalidArgumentError(
            f"n_ctx must be a multiple of {CTX_PAD} (llama.cpp pads the context to it and trains "
            f"on whole contexts), got {n_ctx}")
    batch = check_int("batch_size", n_ctx if batch_size is None else batch_size, 1, n_ctx)
    if n_ctx % batch:
        raise InvalidArgumentError(f"batch_size must divide n_ctx={n_ctx}, got {batch}")
    ubatch = check_int("ubatch_size", batch if ubatch_size is None else ubatch_size, 1, batch)
    if batch % ubatch:
        raise InvalidArgumentError(f"ubatch_size must divide batch_size={batch}, got {ubatch}")
    val_split = check_float("val_split", val_split, 0.0, 1.0)
    if val_split >= 1.0:
        raise InvalidArgumentError(f"val_split must be in [0, 1), got {val_split!r}")
    stride = check_int("stride", n_ctx // 2 if stride is None else stride, 1, _MAX_N_CTX)
    weight_decay = check_float("weight_decay", weight_decay, 0.0, 1.0)
    if not isinstance(optimizer, str) or optimizer not in OPTIMIZERS:
        raise InvalidArgumentError(
            f"optimizer must be one of {sorted(OPTIMIZERS)}, got {describe(optimizer)}")
    seed = check_int("seed", seed, 0, 2**63 - 1)
    threads = check_int("n_threads", _default_threads() if n_threads is None else n_threads, 1,
                        _MAX_THREADS)
    return _Options(epochs, lr, n_ctx, batch, ubatch, val_split, stride, weight_decay,
                    OPTIMIZERS[optimizer], seed, threads, bool(shuffle))


def _train(model: Model, o: _Options, train_w: np.ndarray, val_w: np.ndarray,
           param_filter: Callable[[str], bool] | None, callback: Callable[[EpochResult], Any] | None,
           bar: ProgressBar) -> FinetuneResult:
    """The native part: a training context, its datasets, llama_opt_init, the epochs."""
    opt = native.ggml_opt_get_default_optimizer_params(None)
    ctypes.memset(ctypes.addressof(opt._spare), 0, ctypes.sizeof(opt._spare))
    opt.adamw.alpha, opt.adamw.wd = o.lr, o.weight_decay
    opt.sgd.alpha, opt.sgd.wd = o.lr, o.weight_decay
    rng = np.random.default_rng(o.seed)
    datasets: list[Dataset] = []
    ctx = ContextCore(model, n_ctx=o.n_ctx, n_batch=o.batch, n_ubatch=o.ubatch, type_k="f32",
                      type_v="f32", flash_attn=False, n_threads=o.threads)
    try:
        if (ctx.n_ctx, ctx.n_batch, ctx.n_ubatch) != (o.n_ctx, o.batch, o.ubatch):
            raise ContextError(f"llama.cpp made a context of n_ctx={ctx.n_ctx}, n_batch={ctx.n_batch}, "
                               f"n_ubatch={ctx.n_ubatch}; training needs {o.n_ctx}, {o.batch}, {o.ubatch}")
        datasets.append(train_ds := Dataset(train_w))
        val_ds = Dataset(val_w) if len(val_w) else None
        if val_ds is not None:
            datasets.append(val_ds)
        run = _Run(ctx, bar)
        with ctx._locked():
            run.init(model, opt, o.optimizer, param_filter)
            marked = _MARKED.setdefault(model, set())
            sticky = sorted(marked.intersection(run.refused))
            marked.update(run.selected)
            run.raise_caught()
            trained = tuple(n for n in run.selected if n not in _NEVER_TRAINED)
            if sticky:
                raise NotSupportedError(
                    f"tensors {sticky[:3]} were trained by an earlier finetune of this model and "
                    "llama.cpp cannot stop training them; load the model again to leave them out")
            if not trained:
                raise InvalidArgumentError("param_filter selected no tensor that llama.cpp trains")
            loss0, unc0, _ = run.epoch(val_ds or train_ds, train=False)
            result = FinetuneResult(loss0, unc0, [], 0, len(train_w), len(val_w), o.n_ctx, trained)
            for i in range(1, o.epochs + 1):
                start = time.perf_counter()
                if o.shuffle and len(train_w) > 1:
                    train_ds.write(train_w[rng.permutation(len(train_w))])
                t_loss, t_unc, t_acc = run.epoch(train_ds, train=True)
                v_loss = v_unc = v_acc = None
                if val_ds is not None:
                    v_loss, v_unc, v_acc = run.epoch(val_ds, train=False)
                record = EpochResult(i, t_loss, t_unc, t_acc, v_loss, v_unc, v_acc,
                                     time.perf_counter() - start)
                result.epochs.append(record)
                if callback is not None and callback(record) is False:
                    return dataclasses.replace(result, stopped_early=i < o.epochs)
            return result
    finally:
        for ds in datasets:
            ds.free()
        ctx.close()


# -- the public function --------------------------------------------------------------------------
def finetune(
    model: Model,
    texts_or_tokens: str | Sequence[str] | Sequence[int] | Sequence[Sequence[int]],
    *,
    epochs: int = 2,
    lr: float = 1e-5,
    n_ctx: int = 256,
    batch_size: int | None = None,
    ubatch_size: int | None = None,
    val_split: float = 0.05,
    stride: int | None = None,
    weight_decay: float = 0.0,
    optimizer: str = "adamw",
    shuffle: bool = True,
    seed: int = 0,
    n_threads: int | None = None,
    param_filter: Callable[[str], bool] | None = None,
    callback: Callable[[EpochResult], Any] | None = None,
    progress: bool | None = True,
) -> FinetuneResult:
    """Fine-tune ``model``'s weights in place on texts (or token ids); save with ``model.save``.

    The model must be all F32, loaded from one GGUF file with ``use_mmap=False``, of a llama
    architecture. Texts are tokenized (BOS as the vocabulary adds it, EOS after each) into one
    stream, cut into windows of ``n_ctx + 1`` tokens every ``stride`` tokens (default
    ``n_ctx // 2``); ``n_ctx`` must be a multiple of 256 (llama.cpp pads contexts to 256 and
    trains on whole contexts). The last ``val_split`` of the windows, taken from the end of the
    stream with no token shared with the training windows, is the validation set.

    An optimizer step follows every ``batch_size`` tokens (default ``n_ctx``, a divisor of it),
    computed ``ubatch_size`` tokens at a time (default ``batch_size``, a divisor of it). ``lr``
    is AdamW's learning rate (or SGD's, ``optimizer="sgd"``), ``weight_decay`` in [0, 1].
    ``param_filter(name)`` picks the tensors to train (default: all; llama.cpp offers only F32
    ones and never trains ``token_embd.weight``). Training windows are shuffled every epoch
    (``seed``) unless ``shuffle=False``.

    ``callback(epoch_result)`` runs after every epoch; returning False stops the training.
    ``progress`` shows a bar over the micro-batches (True, None: on a terminal, False). Returns a
    :class:`FinetuneResult` with the validation loss before training and the losses per epoch.

    llama.cpp records the training window as the model's training context length while it
    trains; it is put back afterwards. Tensors once trained stay marked trainable in llama.cpp,
    so a later ``finetune`` of the same model whose ``param_filter`` leaves out one of them
    raises :class:`~llamaprov.errors.NotSupportedError` (load the model again).
    """
    o = _check_options(epochs, lr, n_ctx, batch_size, ubatch_size, val_split, stride, weight_decay,
                       optimizer, seed, n_threads, shuffle)
    for what, fn in (("param_filter", param_filter), ("callback", callback)):
        if fn is not None and not callable(fn):
            raise InvalidArgumentError(f"{what} must be callable or None, got {describe(fn)}")
    if progress is not None and not isinstance(progress, bool):
        raise InvalidArgumentError(f"progress must be True, False or None, got {describe(progress)}")
    _check_model(model)
    tokens = _token_stream(model, texts_or_tokens)
    check_tokens(tokens, model.n_vocab)
    train_w, val_w = _split(tokens, o.n_ctx, o.stride, o.val_split)
    check_allocation(f"fine-tuning with n_ctx={o.n_ctx}",
                     _estimate_bytes(model, o.n_ctx, o.ubatch, len(train_w) + len(val_w)))
    per_window = o.n_ctx // o.ubatch
    total = per_window * (len(val_w if len(val_w) else train_w) + o.epochs * (len(train_w) + len(val_w)))
    with _TRAINING_LOCK:
        one_at_a_time = _TRAINING.setdefault(model, threading.RLock())
    # the model is held throughout: a close() from another thread waits for the training to end
    with one_at_a_time, model._using(), \
            ProgressBar(total, enabled=progress, desc="fine-tuning", unit="ubatch") as bar:
        n_ctx_train = model.n_ctx_train
        try:
            result = _train(model, o, train_w, val_w, param_filter, callback, bar)
        finally:
            _restore_n_ctx_train(model, n_ctx_train)
    return dataclasses.replace(result, n_tokens=len(tokens))
