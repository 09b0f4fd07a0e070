"""The tool-call formats moved to :mod:`llamaprov.chat.formats`; their names stay importable here
until the integrations import them from ``llamaprov.chat``."""

from llamaprov.chat.formats import (
    THINKING_TAGS,
    TOOL_FORMATS,
    FunctionaryFormat,
    GenericFormat,
    HermesFormat,
    Llama3Format,
    MistralFormat,
    ParsedCalls,
    PartialCall,
    StreamParser,
    ToolCallFormat,
    detect_tool_format,
    get_tool_format,
    make_parser,
    parse_output,
    thinking_tags,
)

__all__ = [
    "THINKING_TAGS", "TOOL_FORMATS", "FunctionaryFormat", "GenericFormat", "HermesFormat", "Llama3Format",
    "MistralFormat", "ParsedCalls", "PartialCall", "StreamParser", "ToolCallFormat", "detect_tool_format",
    "get_tool_format", "make_parser", "parse_output", "thinking_tags",
]
