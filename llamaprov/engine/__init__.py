"""The engine: a safe, Pythonic layer over llama.cpp's C API."""

from __future__ import annotations

from . import sampling
from .adapters import LoraAdapter
from .backend import (
    BackendDevice,
    backend_devices,
    flash_attn_type_name,
    get_verbosity,
    max_devices,
    max_parallel_sequences,
    max_tensor_buft_overrides,
    numa_init,
    set_verbosity,
    supports_gpu,
    supports_mlock,
    supports_mmap,
    supports_rpc,
    system_info,
    time_us,
)
from .batch import Batch
from .completion import Completion, CompletionChunk, Usage
from .context import Context
from .embed import embed_batch
from .fit import FitResult, fit_params
from .footprint import memory_breakdown, memory_breakdown_print
from .generate import Scheduler
from .memory import Memory
from .model import Model, ModelInfo, default_model_path, load_model, meta_key_str
from .quantize import quantize, split_path, split_prefix
from .sampling import Sampler, SamplerChain, SamplingParams
from .templates import chat_builtin_templates
from .vocab import Vocab

__all__ = [
    "BackendDevice",
    "Batch",
    "Completion",
    "CompletionChunk",
    "Context",
    "FitResult",
    "LoraAdapter",
    "Memory",
    "Model",
    "ModelInfo",
    "Sampler",
    "SamplerChain",
    "SamplingParams",
    "Scheduler",
    "Usage",
    "Vocab",
    "backend_devices",
    "chat_builtin_templates",
    "default_model_path",
    "embed_batch",
    "fit_params",
    "flash_attn_type_name",
    "get_verbosity",
    "load_model",
    "max_devices",
    "max_parallel_sequences",
    "max_tensor_buft_overrides",
    "memory_breakdown",
    "memory_breakdown_print",
    "meta_key_str",
    "numa_init",
    "quantize",
    "sampling",
    "set_verbosity",
    "split_path",
    "split_prefix",
    "supports_gpu",
    "supports_mlock",
    "supports_mmap",
    "supports_rpc",
    "system_info",
    "time_us",
]
