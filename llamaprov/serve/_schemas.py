"""The request bodies of the OpenAI-compatible endpoints, as pydantic models.

The models check the shape of a request (types, required fields); the values of the sampling
knobs are checked by :class:`~llamaprov.chat.ChatParams`, as for any llamaprov request. Every
knob of ChatParams may be given by its name next to OpenAI's fields (``top_k``, ``min_p``,
``repeat_penalty``, ``dry_multiplier``, ``reasoning``...); any other unknown field is a 400.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    # extra fields are kept: the sampling knobs of ChatParams (checked by the converter)
    model_config = ConfigDict(extra="allow")


class FunctionCall(BaseModel):
    """The function of an assistant message's tool call."""

    name: str
    arguments: str = "{}"


class ToolCall(BaseModel):
    """A tool call of an assistant message."""

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class Message(BaseModel):
    """One message of ``messages``: ``content`` is a str or a list of ``{"type": "text"}``
    parts; ``developer`` is a system message; ``tool`` answers ``tool_call_id``."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    reasoning_content: str | None = None


class FunctionDef(BaseModel):
    """A tool's function: its name, description and JSON schema of arguments."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(BaseModel):
    """A tool offered to the model."""

    type: Literal["function"] = "function"
    function: FunctionDef


class JsonSchemaFormat(BaseModel):
    """``response_format.json_schema``."""

    name: str = "response"
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormat(BaseModel):
    """``response_format``: text, any JSON object, or JSON under a schema."""

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class StreamOptions(BaseModel):
    """``stream_options``."""

    include_usage: bool = False


class ChatCompletionRequest(_Body):
    """``POST /v1/chat/completions``."""

    model: str
    messages: list[Message]
    stream: bool = False
    stream_options: StreamOptions | None = None
    tools: list[Tool] | None = None
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    n: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    logit_bias: dict[str, float] | None = None
    # accepted and not used: they change nothing in the reply
    user: str | None = None
    store: bool | None = None
    metadata: dict[str, Any] | None = None
    service_tier: str | None = None


class CompletionRequest(_Body):
    """``POST /v1/completions``."""

    model: str
    prompt: str | list[str]
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = 16
    n: int | None = None
    best_of: int | None = None
    echo: bool | None = None
    suffix: str | None = None
    logprobs: int | None = None
    logit_bias: dict[str, float] | None = None
    user: str | None = None


class EmbeddingRequest(BaseModel):
    """``POST /v1/embeddings``."""

    model_config = ConfigDict(extra="forbid")

    model: str
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    user: str | None = None


__all__ = [
    "ChatCompletionRequest",
    "CompletionRequest",
    "EmbeddingRequest",
    "Message",
    "ResponseFormat",
    "Tool",
]
