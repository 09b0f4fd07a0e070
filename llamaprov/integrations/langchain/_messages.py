"""Conversions between LangChain messages/tools and llamaprov's chat types (private).

LangChain messages become llamaprov :class:`~llamaprov.chat.Turn` objects (system messages
merged into one leading system turn, tool messages into user turns of tool results), and
llamaprov turns and stream events become ``AIMessage`` / ``AIMessageChunk`` objects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import tool_call as make_tool_call
from langchain_core.messages.tool import tool_call_chunk as make_tool_call_chunk
from langchain_core.utils.function_calling import convert_to_openai_tool

from llamaprov.chat import (
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    TokenUsage,
    ToolDef,
    ToolRequestArgumentsDelta,
    ToolRequestStart,
    Turn,
)
from llamaprov.chat.tools import _strip_titles
from llamaprov.errors import InvalidArgumentError, ToolError, describe

_CHAT_ROLES = {"user": "user", "human": "user", "assistant": "assistant", "ai": "assistant",
               "system": "system", "developer": "system"}
_UNSUPPORTED_BLOCKS = ("image", "image_url", "audio", "input_audio", "file", "video")


# ------------------------------------------------------------------------------ message contents
def _content_text(content: Any, where: str) -> str:
    """The text of a message's content (a str or a list of content blocks)."""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
            continue
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "text":
            parts.append(str(block.get("text", "")))
        elif kind in _UNSUPPORTED_BLOCKS:
            raise InvalidArgumentError(
                f"{where}: {kind!r} content is not supported by a text-only local model"
            )
        elif kind in ("tool_use", "tool_call", "thinking", "reasoning", "tool_result",
                      "tool_call_chunk", "server_tool_call", "server_tool_result"):
            continue  # handled through tool_calls / tool results, or not shown to the model
        else:
            raise InvalidArgumentError(f"{where}: unknown content block {describe(block)}")
    return "".join(parts)


def _anthropic_tool_results(content: Any) -> list[ContentToolResult]:
    """``tool_result`` blocks inside a human message (Anthropic-style histories)."""
    if isinstance(content, str):
        return []
    results = []
    for block in content:
        if isinstance(block, Mapping) and block.get("type") == "tool_result":
            text = _content_text(block.get("content") or "", "tool_result block")
            if block.get("is_error"):
                results.append(ContentToolResult(str(block.get("tool_use_id")), error=text))
            else:
                results.append(ContentToolResult(str(block.get("tool_use_id")), value=text))
    return results


def _thinking(message: BaseMessage) -> str:
    """An AI message's thinking: its ``reasoning``/``thinking`` content blocks, else
    ``additional_kwargs["reasoning_content"]`` (where :func:`turn_to_message` puts it)."""
    content = message.content
    blocks = [] if isinstance(content, str) else [
        str(block.get("thinking") or block.get("reasoning") or "")
        for block in content
        if isinstance(block, Mapping) and block.get("type") in ("thinking", "reasoning")
    ]
    if blocks:
        return "".join(blocks)
    kwarg = message.additional_kwargs.get("reasoning_content")
    return kwarg if isinstance(kwarg, str) else ""


# ------------------------------------------------------------------------------ messages -> turns
def messages_to_turns(messages: Sequence[BaseMessage]) -> list[Turn]:
    """LangChain messages as llamaprov turns.

    System messages are joined into one leading system turn; consecutive tool messages become
    one user turn of tool results (the name of each result is taken from the call it answers).
    """
    if not messages:
        raise InvalidArgumentError("a chat model needs at least one message")
    system: list[str] = []
    turns: list[Turn] = []
    call_names: dict[str, str] = {}
    for i, message in enumerate(messages):
        where = f"message {i} ({type(message).__name__})"
        role = _role_of(message, where)
        if role == "system":
            system.append(_content_text(message.content, where))
        elif role == "tool":
            assert isinstance(message, ToolMessage)
            result = _tool_result(message, call_names, where)
            if turns and turns[-1].role == "user" and turns[-1].tool_results and not (
                turns[-1].text
            ):
                turns[-1].contents.append(result)
            else:
                turns.append(Turn("user", [result]))
        elif role == "assistant":
            turns.append(_assistant_turn(message, where))
            for request in turns[-1].tool_requests:
                call_names[request.id] = request.name
        else:
            results = _anthropic_tool_results(message.content)
            results = [
                ContentToolResult(r.request_id, r.value, r.error, call_names.get(r.request_id))
                for r in results
            ]
            text = _content_text(message.content, where)
            turns.append(Turn("user", [*results, *([ContentText(text)] if text else [])]
                              or [ContentText("")]))
    head = [Turn("system", [ContentText("\n\n".join(system))])] if system else []
    if not turns:
        raise InvalidArgumentError("the messages hold only system messages; add a user message")
    return head + turns


def _role_of(message: BaseMessage, where: str) -> str:
    if isinstance(message, SystemMessage):
        return "system"
    if isinstance(message, ToolMessage):
        return "tool"
    if isinstance(message, AIMessage):
        return "assistant"
    if isinstance(message, HumanMessage):
        return "user"
    if isinstance(message, ChatMessage) and message.role in _CHAT_ROLES:
        return _CHAT_ROLES[message.role]
    if isinstance(message, ChatMessage) and message.role == "tool":
        raise InvalidArgumentError(f"{where}: use ToolMessage for tool results")
    raise InvalidArgumentError(f"{where}: unsupported message {describe(message)}")


def _assistant_turn(message: BaseMessage, where: str) -> Turn:
    contents: list[Any] = []
    thinking = _thinking(message)
    if thinking:
        contents.append(ContentThinking(thinking))
    text = _content_text(message.content, where)
    if text:
        contents.append(ContentText(text))
    for call in getattr(message, "tool_calls", None) or []:
        args = call.get("args") or {}
        if not isinstance(args, dict):
            raise InvalidArgumentError(
                f"{where}: tool call arguments must be a dict, got {describe(args)}"
            )
        contents.append(ContentToolRequest(str(call.get("id") or ""), call["name"], args))
    return Turn("assistant", contents)


def _tool_result(
    message: ToolMessage, call_names: Mapping[str, str], where: str
) -> ContentToolResult:
    text = _content_text(message.content, where)
    name = message.name or call_names.get(message.tool_call_id)
    if message.status == "error":
        return ContentToolResult(message.tool_call_id, error=text, name=name)
    return ContentToolResult(message.tool_call_id, value=text, name=name)


# --------------------------------------------------------------------------------------- tools
def to_tool_defs(tools: Sequence[Any]) -> list[ToolDef]:
    """ToolDefs from anything ``convert_to_openai_tool`` understands (LangChain tools, functions,
    pydantic models, TypedDicts, OpenAI/Anthropic tool dicts). Identical repeats are dropped;
    two different tools of one name raise ToolError."""
    defs: list[ToolDef] = []
    seen: dict[str, ToolDef] = {}
    for item in tools:
        if isinstance(item, ToolDef):
            td = item
        else:
            try:
                spec = convert_to_openai_tool(item)["function"]
            except Exception as exc:
                raise ToolError(f"cannot turn {describe(item)} into a tool: {exc}") from exc
            parameters = _strip_titles(
                dict(spec.get("parameters") or {"type": "object", "properties": {}})
            )
            parameters.setdefault("type", "object")
            parameters.setdefault("properties", {})
            td = ToolDef(spec["name"], spec.get("description") or "", parameters)
        if td.name in seen:
            if (seen[td.name].description, seen[td.name].parameters) == (
                td.description, td.parameters
            ):
                continue  # the same tool given twice (e.g. a pydantic model and its schema)
            raise ToolError(f"two different tools are named {td.name!r}")
        seen[td.name] = td
        defs.append(td)
    return defs


def normalize_tool_choice(tool_choice: Any, tools: Sequence[ToolDef]) -> str:
    """LangChain's tool_choice values as llamaprov's: "auto", "required", "none" or a tool name.

    Accepts "auto", "any", "required", "none", a tool name, True (the one bound tool must be
    called), None/False ("auto"), and ``{"type": "function", "function": {"name": ...}}`` or
    ``{"name": ...}`` dicts.
    """
    names = [t.name for t in tools]
    if tool_choice is None or tool_choice is False:
        return "auto"
    if tool_choice is True:
        if len(tools) != 1:
            raise InvalidArgumentError(
                f"tool_choice=True needs exactly one bound tool, got {len(tools)}: {names}"
            )
        return "required"
    if isinstance(tool_choice, Mapping):
        inner = tool_choice.get("function", tool_choice)
        if tool_choice.get("type") in ("any", "required", "auto", "none") and "name" not in inner:
            tool_choice = tool_choice["type"]
        elif isinstance(inner, Mapping) and isinstance(inner.get("name"), str):
            tool_choice = inner["name"]
        else:
            raise InvalidArgumentError(f"tool_choice dict names no tool: {describe(tool_choice)}")
    if tool_choice == "any":
        tool_choice = "required"
    if tool_choice in ("auto", "required", "none"):
        if tool_choice == "required" and not tools:
            raise InvalidArgumentError("tool_choice='any'/'required' needs at least one bound tool")
        return str(tool_choice)
    if isinstance(tool_choice, str) and tool_choice in names:
        return tool_choice
    raise InvalidArgumentError(
        "tool_choice must be 'auto', 'any', 'required', 'none', True, a bound tool name "
        f"{names} or a dict naming one, got {describe(tool_choice)}"
    )


# ------------------------------------------------------------------------------ turns -> messages
def usage_metadata(tokens: TokenUsage | None) -> UsageMetadata | None:
    """LangChain usage metadata (cache reads are the prompt tokens reused from the KV cache)."""
    if tokens is None:
        return None
    return UsageMetadata(
        input_tokens=tokens.input,
        output_tokens=tokens.output,
        total_tokens=tokens.total,
        input_token_details={"cache_read": tokens.cached},
        output_token_details={},
    )


def turn_to_message(turn: Turn, response_metadata: dict[str, Any]) -> AIMessage:
    """An assistant turn as an ``AIMessage`` with tool_calls, usage and metadata; its thinking
    goes to ``additional_kwargs["reasoning_content"]``, which LangChain shows as the message's
    ``reasoning`` content block, and never into ``content``."""
    calls = [
        make_tool_call(name=r.name, args=r.arguments, id=r.id) for r in turn.tool_requests
    ]
    extra: dict[str, Any] = {}
    if turn.thinking:
        extra["reasoning_content"] = turn.thinking
    return AIMessage(
        content=turn.text,
        tool_calls=calls,
        additional_kwargs=extra,
        usage_metadata=usage_metadata(turn.tokens),
        response_metadata=response_metadata,
    )


def event_to_chunk(event: StreamEvent) -> AIMessageChunk | None:
    """The chunk for one stream event (None for events with nothing to add)."""
    if isinstance(event, TextDelta):
        return AIMessageChunk(content=event.text)
    if isinstance(event, ThinkingDelta):
        return AIMessageChunk(content="", additional_kwargs={"reasoning_content": event.text})
    if isinstance(event, ToolRequestStart):
        return AIMessageChunk(
            content="",
            tool_call_chunks=[
                make_tool_call_chunk(name=event.name, args="", id=event.id, index=event.index)
            ],
        )
    if isinstance(event, ToolRequestArgumentsDelta):
        return AIMessageChunk(
            content="",
            tool_call_chunks=[
                make_tool_call_chunk(name=None, args=event.delta, id=None, index=event.index)
            ],
        )
    return None


def last_chunk(turn: Turn, response_metadata: dict[str, Any]) -> AIMessageChunk:
    """The closing chunk of a stream: usage, metadata and ``chunk_position="last"``."""
    return AIMessageChunk(
        content="",
        usage_metadata=usage_metadata(turn.tokens),
        response_metadata=response_metadata,
        chunk_position="last",
    )


def json_dumps(value: Any) -> str:
    """Compact JSON keeping non-ASCII characters."""
    return json.dumps(value, ensure_ascii=False)
