"""Chat with local models: ellmer-style Provider/Chat, native tool calling, structured output.

Every public name is importable from here; each lives in the module of its concept:
``content`` / ``turns`` / ``events`` / ``tools`` / ``types`` (type specs) / ``params`` (the
values of a conversation), ``provider`` (the :class:`Provider` interface), ``provider_llama``
(:class:`LlamaProvider`), ``chat`` (:class:`Chat`), ``parallel`` (parallel chats), ``factory``
(:func:`chat_llamaprov`), ``formats`` (tool-call formats, one module each, and the stream
parser); ``_batcher`` is the batch queue behind :meth:`LlamaProvider.submit`.
"""

from llamaprov.chat.chat import Chat
from llamaprov.chat.content import (
    Content,
    ContentJson,
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
)
from llamaprov.chat.events import (
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolRequestArgumentsDelta,
    ToolRequestDone,
    ToolRequestStart,
    ToolResultEvent,
    TurnDone,
)
from llamaprov.chat.factory import chat_llamaprov
from llamaprov.chat.formats import (
    TOOL_FORMATS,
    ToolCallFormat,
    detect_tool_format,
    register_tool_format,
)
from llamaprov.chat.parallel import parallel_chat, parallel_chat_structured
from llamaprov.chat.params import ChatParams, params
from llamaprov.chat.provider import Provider
from llamaprov.chat.provider_llama import LlamaProvider
from llamaprov.chat.tools import ToolDef, tool
from llamaprov.chat.turns import TokenUsage, Turn, as_turn
from llamaprov.chat.types import (
    TypeSpec,
    type_array,
    type_boolean,
    type_enum,
    type_integer,
    type_number,
    type_object,
    type_string,
)

__all__ = [
    "TOOL_FORMATS",
    "Chat",
    "ChatParams",
    "Content",
    "ContentJson",
    "ContentText",
    "ContentThinking",
    "ContentToolRequest",
    "ContentToolResult",
    "LlamaProvider",
    "Provider",
    "StreamEvent",
    "TextDelta",
    "ThinkingDelta",
    "TokenUsage",
    "ToolCallFormat",
    "ToolDef",
    "ToolRequestArgumentsDelta",
    "ToolRequestDone",
    "ToolRequestStart",
    "ToolResultEvent",
    "Turn",
    "TurnDone",
    "TypeSpec",
    "as_turn",
    "chat_llamaprov",
    "detect_tool_format",
    "parallel_chat",
    "parallel_chat_structured",
    "params",
    "register_tool_format",
    "tool",
    "type_array",
    "type_boolean",
    "type_enum",
    "type_integer",
    "type_number",
    "type_object",
    "type_string",
]
