"""OpenAI requests to llamaprov's values and back: messages to :class:`~llamaprov.chat.Turn`
objects, tools to :class:`~llamaprov.chat.ToolDef` objects, ``tool_choice`` and
``response_format`` to what :meth:`LlamaProvider.submit` takes, the sampling fields to
:class:`~llamaprov.chat.ChatParams` (which checks them); a finished turn to a chat message,
its finish reason and usage to OpenAI's."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from llamaprov.chat import (
    ChatParams,
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
    TokenUsage,
    ToolDef,
    Turn,
)
from llamaprov.chat.provider_llama import DEFAULT_MAX_TOKENS
from llamaprov.chat.types import to_json_schema
from llamaprov.errors import LlamaProvError
from llamaprov.serve._errors import APIError, bad_request, from_llamaprov
from llamaprov.serve._schemas import ChatCompletionRequest, CompletionRequest, Message, Tool

# request fields that are ChatParams knobs under the same name (lora needs loaded adapters;
# max_tokens and logit_bias are OpenAI fields of their own)
KNOBS = frozenset(f.name for f in fields(ChatParams)) - {"lora", "max_tokens", "logit_bias"}
_FINISH = {"eog": "stop", "stop": "stop", "length": "length", "tool_calls": "tool_calls",
           "cancelled": "stop"}


@dataclass
class ChatJob:
    """A chat request as the arguments of :meth:`LlamaProvider.submit` (``type``: the JSON
    schema of structured output, also what the reply is validated against)."""

    turns: list[Turn]
    tools: list[ToolDef] = field(default_factory=list)
    tool_choice: str = "auto"
    type: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    parallel_tool_calls: bool | None = None

    def submit_kwargs(self) -> dict[str, Any]:
        """The keywords of :meth:`LlamaProvider.submit`."""
        return {"tools": self.tools, "type": self.type, "params": self.params,
                "tool_choice": self.tool_choice, "parallel_tool_calls": self.parallel_tool_calls}


def sampling_params(body: ChatCompletionRequest | CompletionRequest, max_tokens: int | None,
                    limit: int) -> dict[str, Any]:
    """The ChatParams of a request (as a dict, checked): its knobs, ``max_tokens`` (at most
    ``limit``; None: the default, within the limit) and ``logit_bias``."""
    extra = body.model_extra or {}
    unknown = sorted(set(extra) - KNOBS)
    if unknown:
        raise bad_request(f"unrecognized request argument supplied: {unknown[0]}", param=unknown[0],
                          code="unknown_parameter")
    values = {name: value for name, value in extra.items() if value is not None}
    if max_tokens is not None and max_tokens > limit:
        raise bad_request(f"max_tokens is {max_tokens}, more than this server's limit of {limit}",
                          param="max_tokens", code="max_tokens_exceeded")
    values["max_tokens"] = max_tokens if max_tokens is not None else min(DEFAULT_MAX_TOKENS, limit)
    if body.logit_bias:
        try:
            values["logit_bias"] = {int(token): bias for token, bias in body.logit_bias.items()}
        except ValueError:
            raise bad_request("logit_bias keys must be token ids (integers as strings)",
                              param="logit_bias") from None
    try:
        ChatParams.coerce(values)
    except LlamaProvError as exc:
        raise from_llamaprov(exc) from None
    return values


def _text(content: str | list[dict[str, Any]] | None, param: str) -> str:
    """The text of a message's content (text parts only)."""
    if content is None or isinstance(content, str):
        return content or ""
    parts: list[str] = []
    for i, part in enumerate(content):
        kind = part.get("type")
        if kind != "text" or not isinstance(part.get("text"), str):
            raise bad_request(f"content parts of type {kind!r} are not supported (text only)",
                              param=f"{param}.content[{i}]")
        parts.append(part["text"])
    return "".join(parts)


def to_turns(messages: Sequence[Message]) -> list[Turn]:
    """The turns of ``messages``; consecutive ``tool`` messages become one user turn of tool
    results (llamaprov keeps tool results in user turns)."""
    if not messages:
        raise bad_request("messages must hold at least one message", param="messages")
    turns: list[Turn] = []
    names: dict[str, str] = {}  # tool call id -> tool name
    for i, message in enumerate(messages):
        param = f"messages[{i}]"
        text = _text(message.content, param)
        if message.role in ("system", "developer"):
            turns.append(Turn("system", [ContentText(text)]))
        elif message.role == "user":
            turns.append(Turn("user", [ContentText(text)]))
        elif message.role == "assistant":
            turns.append(Turn("assistant", _assistant_contents(message, text, param, names)))
        else:
            if not message.tool_call_id:
                raise bad_request("a tool message needs tool_call_id", param=f"{param}.tool_call_id")
            result = ContentToolResult(message.tool_call_id, value=text,
                                       name=names.get(message.tool_call_id, message.name))
            last = turns[-1] if turns else None
            if last is not None and last.role == "user" and last.tool_results:
                last.contents.append(result)
            else:
                turns.append(Turn("user", [result]))
    return turns


def _assistant_contents(message: Message, text: str, param: str, names: dict[str, str]) -> list[Any]:
    contents: list[Any] = []
    if message.reasoning_content:
        contents.append(ContentThinking(message.reasoning_content))
    if text or not message.tool_calls:
        contents.append(ContentText(text))
    for j, call in enumerate(message.tool_calls or ()):
        try:
            arguments = json.loads(call.function.arguments or "{}")
        except ValueError:
            arguments = None
        if not isinstance(arguments, dict):
            raise bad_request("tool call arguments must be a JSON object",
                              param=f"{param}.tool_calls[{j}].function.arguments")
        contents.append(ContentToolRequest(call.id, call.function.name, arguments))
        names[call.id] = call.function.name
    return contents


def to_tools(tools: Sequence[Tool] | None) -> list[ToolDef]:
    """The ToolDefs of ``tools`` (a tool without parameters takes none)."""
    out: list[ToolDef] = []
    for i, item in enumerate(tools or ()):
        fn = item.function
        parameters = fn.parameters if fn.parameters else {"type": "object", "properties": {}}
        if any(t.name == fn.name for t in out):
            raise bad_request(f"tool {fn.name!r} is defined twice", param=f"tools[{i}]")
        try:
            out.append(ToolDef(fn.name, fn.description or "", parameters))
        except LlamaProvError as exc:
            raise from_llamaprov(exc, param=f"tools[{i}]") from None
    return out


def to_tool_choice(choice: Any) -> str:
    """``tool_choice`` as llamaprov's: "auto", "none", "required" or a tool's name."""
    if choice is None:
        return "auto"
    if isinstance(choice, str) and choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function":
        fn = choice.get("function")
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            return str(fn["name"])
    raise bad_request(
        'tool_choice must be "auto", "none", "required" or {"type": "function", "function": '
        f'{{"name": ...}}}}, got {json.dumps(choice)[:80]}', param="tool_choice")


def chat_job(body: ChatCompletionRequest, limit: int) -> ChatJob:
    """The submit arguments of a chat request (shape and values checked; the provider checks
    the rest when the request is submitted)."""
    if body.n not in (None, 1):
        raise bad_request(f"n must be 1 (one choice per request), got {body.n}", param="n")
    if body.logprobs or body.top_logprobs:
        raise bad_request("logprobs are not supported", param="logprobs", code="unsupported")
    max_tokens = body.max_completion_tokens if body.max_completion_tokens is not None else body.max_tokens
    job = ChatJob(to_turns(body.messages), to_tools(body.tools), to_tool_choice(body.tool_choice),
                  params=sampling_params(body, max_tokens, limit),
                  parallel_tool_calls=body.parallel_tool_calls)
    fmt = body.response_format
    if fmt is not None and fmt.type != "text":
        if job.tools and job.tool_choice != "none":
            raise bad_request("response_format with tools is not supported: a reply is either tool "
                              'calls or structured output (use tool_choice "none")',
                              param="response_format")
        if fmt.type == "json_object":
            job.type = {"type": "object"}
        else:
            schema = fmt.json_schema.schema_ if fmt.json_schema is not None else None
            if schema is None:
                raise bad_request("response_format json_schema needs json_schema.schema",
                                  param="response_format")
            try:
                job.type = to_json_schema(schema)
            except LlamaProvError as exc:
                raise from_llamaprov(exc, param="response_format") from None
    return job


def finish_reason(turn: Turn) -> str:
    """OpenAI's finish reason of a turn."""
    return _FINISH.get(turn.finish_reason or "stop", "stop")


def usage(tokens: TokenUsage | None) -> dict[str, Any]:
    """OpenAI's usage object."""
    tokens = tokens or TokenUsage()
    return {"prompt_tokens": tokens.input, "completion_tokens": tokens.output,
            "total_tokens": tokens.total, "prompt_tokens_details": {"cached_tokens": tokens.cached}}


def tool_call(request: ContentToolRequest, index: int | None = None) -> dict[str, Any]:
    """An OpenAI tool call (``index`` for a streamed one)."""
    call: dict[str, Any] = {"id": request.id, "type": "function",
                            "function": {"name": request.name,
                                         "arguments": json.dumps(request.arguments, ensure_ascii=False)}}
    if index is not None:
        call["index"] = index
    return call


def message(turn: Turn) -> dict[str, Any]:
    """The chat message of an assistant turn: content, ``reasoning_content``, ``tool_calls``."""
    calls = [tool_call(r) for r in turn.tool_requests]
    text = turn.text
    out: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
    if turn.thinking:
        out["reasoning_content"] = turn.thinking
    if calls:
        out["tool_calls"] = calls
    return out


def check_model(requested: str, served: Sequence[str]) -> None:
    """404 for a model this server does not serve."""
    if requested not in served:
        raise APIError(404, f"the model {requested!r} does not exist; this server serves "
                            f"{', '.join(map(repr, served))}", param="model", code="model_not_found")


__all__ = ["KNOBS", "ChatJob", "chat_job", "check_model", "finish_reason", "message",
           "sampling_params", "to_tool_choice", "to_tools", "to_turns", "tool_call", "usage"]
