""":func:`chat_llamaprov`: a :class:`~llamaprov.chat.chat.Chat` on a local model, in one call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llamaprov.chat.chat import Chat
from llamaprov.chat.formats import ToolCallFormat
from llamaprov.chat.params import ChatParams
from llamaprov.chat.provider_llama import DEFAULT_MAX_PARALLEL, LlamaProvider
from llamaprov.models import resolve_model


def chat_llamaprov(
    model: Any = None,
    *,
    system_prompt: str | None = None,
    params: ChatParams | dict[str, Any] | None = None,
    n_ctx: int | None = None,
    tools: Sequence[Any] = (),
    tool_choice: str = "auto",
    tool_format: str | ToolCallFormat | None = None,
    template: str | None = None,
    max_tool_rounds: int = 8,
    n_threads: int | None = None,
    max_calls_per_round: int = 16,
    context_policy: str = "error",
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    parallel_tool_calls: bool | None = None,
    **load_kwargs: Any,
) -> Chat:
    """A :class:`~llamaprov.chat.chat.Chat` on a local model.

    ``model`` is a GGUF path, a loaded ``Model``, a Hugging Face repo id (``"owner/name"``), or
    None for the packaged default model, resolved by :func:`llamaprov.models.resolve_model`
    with ``load_kwargs`` (``n_gpu_layers=``..., ``quant=`` for a repo id). Each Chat gets its
    own context on the model.
    ``max_tool_rounds`` and ``max_calls_per_round`` bound the tool calls of one ``chat`` call,
    ``parallel_tool_calls`` says whether one reply may hold several (see
    :class:`~llamaprov.chat.chat.Chat`). ``context_policy`` says what happens when the
    conversation outgrows the context: ``"error"`` (ContextOverflowError) or
    ``"truncate_oldest"`` (see :class:`LlamaProvider`). ``max_parallel`` bounds how many
    requests the provider decodes together (:func:`~llamaprov.chat.parallel.parallel_chat`).
    """
    loaded = resolve_model(model, **load_kwargs)
    provider = LlamaProvider(
        loaded, n_ctx=n_ctx, template=template, tool_format=tool_format, n_threads=n_threads,
        context_policy=context_policy, max_parallel=max_parallel,
    )
    chat = Chat(
        provider,
        system_prompt=system_prompt,
        params=params,
        tools=tools,
        tool_choice=tool_choice,
        max_tool_rounds=max_tool_rounds,
        max_calls_per_round=max_calls_per_round,
        parallel_tool_calls=parallel_tool_calls,
    )
    chat._owns_provider = True  # chat.close() closes it
    return chat


__all__ = ["chat_llamaprov"]
