"""Native tool-call formats: how tools are shown to a model, the grammar of a call, the trigger
that starts one, and the parser of the output (whole and streaming).

One :class:`ToolCallFormat` subclass per family, one module each:

* ``hermes``       Hermes 2 Pro / Qwen 2.5+: ``<tool_call>{"name": ..., "arguments": ...}</tool_call>``
* ``llama3``       Llama 3.1-3.3 JSON: ``{"name": ..., "parameters": ...}``, optionally after
  ``<|python_tag|>``
* ``mistral``      ``[TOOL_CALLS] [{"name": ..., "arguments": ...}, ...]``
* ``mistral_args`` Mistral Small 3.2 / Devstral / Magistral / Ministral 3:
  ``[TOOL_CALLS]name[ARGS]{arguments}`` per call
* ``nemotron``     Nemotron Nano v2 / Super v1.5: ``<TOOLCALL>[{"name": ..., "arguments": ...}]</TOOLCALL>``
* ``granite``      Granite 3.x: ``<|tool_call|>[{"name": ..., "arguments": ...}]``
* ``functionary_v31`` Functionary v3.1: ``<function=name>{arguments}</function>``
* ``apertus``      Apertus: ``<|tools_prefix|>[{"name": {arguments}}]<|tools_suffix|>``
* ``phi4``         Phi-4-mini: ``<|tool_call|>{"name": ..., "arguments": ...}<|/tool_call|>``
* ``command_r7b``  Command-R7B / Cohere2: ``<|START_ACTION|>[{"tool_call_id": ..., "tool_name": ...,
  "parameters": ...}]<|END_ACTION|>``
* ``firefunction`` firefunction v2: `` functools[{"name": ..., "arguments": ...}]``
* ``functionary``  Functionary v3.2: ``>>>name\\n{arguments}``
* ``generic``      any template without tool support (SmolLM2, Gemma...): tools are described in the
  system prompt and a call is ``{"tool_call": {"name": ..., "arguments": ...}}``

Each is registered with :func:`register_tool_format`, the one seam for a new format: the name
lookup (:data:`TOOL_FORMATS`, :func:`get_tool_format`) and :func:`detect_tool_format` use the
registry.
"""

from llamaprov.chat.formats._base import ParsedCalls, ToolCallFormat
from llamaprov.chat.formats._json import PartialCall
from llamaprov.chat.formats._parser import (
    THINKING_TAGS,
    StreamParser,
    make_parser,
    parse_output,
    thinking_tags,
)
from llamaprov.chat.formats._registry import (
    TOOL_FORMATS,
    detect_tool_format,
    get_tool_format,
    register_tool_format,
)

# the built-in formats, registered on import (the order of TOOL_FORMATS)
from llamaprov.chat.formats.hermes import HermesFormat  # isort: skip
from llamaprov.chat.formats.llama3 import Llama3Format  # isort: skip
from llamaprov.chat.formats.mistral import MistralFormat  # isort: skip
from llamaprov.chat.formats.functionary import FunctionaryFormat  # isort: skip
from llamaprov.chat.formats.generic import GenericFormat  # isort: skip
from llamaprov.chat.formats.mistral_args import MistralArgsFormat  # isort: skip
from llamaprov.chat.formats.nemotron import NemotronFormat  # isort: skip
from llamaprov.chat.formats.granite import GraniteFormat  # isort: skip
from llamaprov.chat.formats.firefunction import FirefunctionFormat  # isort: skip
from llamaprov.chat.formats.functionary_v31 import FunctionaryV31Format  # isort: skip
from llamaprov.chat.formats.apertus import ApertusFormat  # isort: skip
from llamaprov.chat.formats.phi4 import Phi4Format  # isort: skip
from llamaprov.chat.formats.command_r7b import CommandR7BFormat  # isort: skip

__all__ = [
    "THINKING_TAGS", "TOOL_FORMATS", "ApertusFormat", "CommandR7BFormat", "FirefunctionFormat",
    "FunctionaryFormat", "FunctionaryV31Format", "GenericFormat", "GraniteFormat", "HermesFormat",
    "Llama3Format", "MistralArgsFormat", "MistralFormat", "NemotronFormat", "ParsedCalls", "PartialCall",
    "Phi4Format", "StreamParser", "ToolCallFormat", "detect_tool_format", "get_tool_format", "make_parser",
    "parse_output", "register_tool_format", "thinking_tags",
]
