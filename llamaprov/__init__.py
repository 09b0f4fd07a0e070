"""llamaprov: any local GGUF model as a first-class LLM provider for Python.

The engine names (``load_model``, ``Model``, ``Context``, ``SamplingParams``, ...) load with the
package; the chat layer, grammars, Hub and integrations load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import errors
from ._version import __version__ as __version__
from .engine import (
    BackendDevice,
    Batch,
    Completion,
    CompletionChunk,
    Context,
    FitResult,
    Memory,
    Model,
    ModelInfo,
    Sampler,
    SamplerChain,
    SamplingParams,
    Scheduler,
    Usage,
    Vocab,
    backend_devices,
    chat_builtin_templates,
    default_model_path,
    embed_batch,
    fit_params,
    get_verbosity,
    load_model,
    max_devices,
    max_parallel_sequences,
    max_tensor_buft_overrides,
    meta_key_str,
    numa_init,
    quantize,
    sampling,
    set_verbosity,
    split_path,
    split_prefix,
    supports_gpu,
    supports_mlock,
    supports_mmap,
    supports_rpc,
    system_info,
    time_us,
)
from .errors import (
    ClosedError,
    ContextError,
    ContextOverflowError,
    GrammarError,
    HubError,
    InvalidArgumentError,
    LlamaProvError,
    ModelLoadError,
    ModelNotFoundError,
    NotSupportedError,
    StateError,
    StoreError,
    StructuredOutputError,
    TemplateError,
    ToolError,
    TruncatedOutputError,
    UnsupportedSchemaError,
)

# name -> module that defines it, imported on first access.
_LAZY = {
    "Chat": "llamaprov.chat",
    "Provider": "llamaprov.chat",
    "LlamaProvider": "llamaprov.chat",
    "chat_llamaprov": "llamaprov.chat",
    "parallel_chat": "llamaprov.chat",
    "parallel_chat_structured": "llamaprov.chat",
    "Turn": "llamaprov.chat",
    "ContentText": "llamaprov.chat",
    "ContentThinking": "llamaprov.chat",
    "ContentToolRequest": "llamaprov.chat",
    "ContentToolResult": "llamaprov.chat",
    "ContentJson": "llamaprov.chat",
    "TokenUsage": "llamaprov.chat",
    "ToolDef": "llamaprov.chat",
    "StreamEvent": "llamaprov.chat",
    "as_turn": "llamaprov.chat",
    "tool": "llamaprov.chat",
    "params": "llamaprov.chat",
    "ChatParams": "llamaprov.chat",
    "TypeSpec": "llamaprov.chat",
    "TextDelta": "llamaprov.chat",
    "ThinkingDelta": "llamaprov.chat",
    "ToolRequestStart": "llamaprov.chat",
    "ToolRequestArgumentsDelta": "llamaprov.chat",
    "ToolRequestDone": "llamaprov.chat",
    "ToolResultEvent": "llamaprov.chat",
    "TurnDone": "llamaprov.chat",
    "ToolCallFormat": "llamaprov.chat",
    "detect_tool_format": "llamaprov.chat",
    "register_tool_format": "llamaprov.chat",
    "type_string": "llamaprov.chat",
    "type_integer": "llamaprov.chat",
    "type_number": "llamaprov.chat",
    "type_boolean": "llamaprov.chat",
    "type_enum": "llamaprov.chat",
    "type_array": "llamaprov.chat",
    "type_object": "llamaprov.chat",
    "json_schema_to_gbnf": "llamaprov.grammars",
    "validate_gbnf": "llamaprov.grammars",
    "load_model_hf": "llamaprov.hub",
    "embed_llamaprov": "llamaprov.integrations.embedding",
    "LlamaProvEmbedder": "llamaprov.integrations.embedding",
    "RagStore": "llamaprov.integrations.rag",
    "RetrievedChunk": "llamaprov.integrations.rag",
    "chunk_text": "llamaprov.integrations.rag",
    "read_document": "llamaprov.integrations.rag",
    "register_retrieve_tool": "llamaprov.integrations.rag",
    "ChatLlamaProv": "llamaprov.integrations.langchain",
    "LlamaProvEmbeddings": "llamaprov.integrations.langchain",
}
_SUBMODULES = {"chat", "grammars", "hub", "integrations", "types", "cli", "train"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"llamaprov.{name}")
    raise AttributeError(f"module 'llamaprov' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)


__all__ = [
    "BackendDevice", "Batch", "ClosedError", "Completion", "CompletionChunk", "Context", "FitResult",
    "ContextError", "ContextOverflowError", "GrammarError", "HubError", "InvalidArgumentError",
    "LlamaProvError", "Memory", "Model", "ModelInfo", "ModelLoadError", "ModelNotFoundError",
    "NotSupportedError", "Sampler", "SamplerChain", "SamplingParams", "Scheduler", "StateError", "StoreError",
    "StructuredOutputError", "TemplateError", "ToolError", "TruncatedOutputError",
    "UnsupportedSchemaError", "Usage",
    "Vocab", "backend_devices", "chat_builtin_templates", "default_model_path", "embed_batch",
    "errors", "fit_params", "get_verbosity", "load_model", "max_devices", "max_parallel_sequences",
    "max_tensor_buft_overrides", "meta_key_str", "numa_init", "quantize", "sampling", "set_verbosity",
    "split_path", "split_prefix",
    "supports_gpu", "supports_mlock", "supports_mmap", "supports_rpc", "system_info", "time_us",
    *sorted(_LAZY),
]
