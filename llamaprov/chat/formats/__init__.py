"""Native tool-call formats: how tools are shown to a model, the grammar of a call, the trigger
that starts one, and the parser of the output (whole and streaming).

One :class:`ToolCallFormat` subclass per family, one module each:

* ``hermes``       Hermes 2 Pro / Qwen 2.5+: ``<tool_call>{"name": ..., "arguments": ...}</tool_call>``
* ``glm``          GLM 4.5-4.7: ``<tool_call>name<arg_key>k</arg_key><arg_value>v</arg_value></tool_call>``
* ``qwen3_coder``  Qwen3-Coder: ``<tool_call><function=name><parameter=k>v</parameter></function>...``
* ``seed_oss``     Seed-OSS: ``<seed:tool_call><function=name><parameter=k>v</parameter></function>...``
* ``minimax``      MiniMax-M2: ``<minimax:tool_call><invoke name="name"><parameter name="k">v</parameter>...``
* ``minicpm5``     MiniCPM 5: ``<function name="name"><param name="k">v</param>...</function>``
* ``hunyuan3``     Hunyuan 3: ``<tool_calls:opensource><tool_call:opensource>name<tool_sep:opensource>``
  and ``<arg_key:opensource>``/``<arg_value:opensource>`` elements
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
* ``apriel``       Apriel 1.5 / 1.6: ``<tool_calls>[{"name": ..., "arguments": ...}]</tool_calls>``,
  after thinking that ends at ``[BEGIN FINAL RESPONSE]``
* ``command_r_plus`` Command-R+: ``Action:`` and a fenced JSON list of ``{"tool_name": ...,
  "parameters": ...}`` (``directly-answer`` is no call)
* ``firefunction`` firefunction v2: `` functools[{"name": ..., "arguments": ...}]``
* ``functionary``  Functionary v3.2: ``>>>name\\n{arguments}``
* ``deepseek-r1``  DeepSeek-R1 and its distills: ``<｜tool▁call▁begin｜>function<｜tool▁sep｜>name`` and a
  fenced JSON block, in a ``<｜tool▁calls▁begin｜>`` section
* ``deepseek-v3.1`` DeepSeek-V3.1: ``<｜tool▁call▁begin｜>name<｜tool▁sep｜>{arguments}<｜tool▁call▁end｜>``
* ``deepseek-v3.2`` DeepSeek-V3.2 (DSML): ``<｜DSML｜function_calls>`` around ``<｜DSML｜invoke name="name">``
  elements of ``<｜DSML｜parameter name="k" string="true">v</｜DSML｜parameter>``
* ``deepseek-v4``  DeepSeek-V4 (DSML): as V3.2, in a ``<｜DSML｜tool_calls>`` block
* ``kimi-k2``      Kimi-K2: ``<|tool_call_begin|>functions.name:0<|tool_call_argument_begin|>{arguments}``
* ``kimi-k3``      Kimi-K3: ``<|open|>tools<|sep|><|open|>call tool="name" index="1"<|sep|>``
  ``<|open|>argument key="k" type="string"<|sep|>v<|close|>argument<|sep|>...``
* ``lfm2``         LFM2 / LFM2.5: ``<|tool_call_start|>[name(key=value, ...), ...]<|tool_call_end|>``
* ``gemma4``       Gemma 4: ``<|tool_call>call:name{key:value,...}<tool_call|>``, strings in ``<|"|>``
* ``harmony``      gpt-oss: ``<|channel|>commentary to=functions.name <|constrain|>json``
  ``<|message|>{arguments}``, after the ``analysis`` channel's thinking
* ``atem``         Muse Glimmer (ATEM): `` to=name<|message|><atem:function_calls>`` around an
  ``<atem:invoke name="name">`` element of ``<atem:parameter name="k">v</atem:parameter>``, after the
  ``to=self`` message's thinking
* ``gigachat-v3``  GigaChat 3.0: ``<|message_sep|>\\n\\nfunction call<|role_sep|>\\n{"name": ...,
  "arguments": ...}``
* ``gigachat-v3.1`` GigaChat 3.1: ``<|function_call|>{"name": ..., "arguments": ...}``
* ``gigachat-v3.5`` GigaChat 3.5: ``<｜GCML｜tool_calls>`` around ``<｜GCML｜invoke name="name">``
  elements of ``<｜GCML｜parameter name="k" string="true">v</｜GCML｜parameter>``
* ``solar_open``   Solar Open: ``<|tool_calls|><|tool_call:begin|>id<|tool_call:name|>name``
  ``<|tool_call:args|>{arguments}<|tool_call:end|>...<|calls|>``
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
from llamaprov.chat.formats.glm import GlmFormat  # isort: skip
from llamaprov.chat.formats.qwen3_coder import Qwen3CoderFormat  # isort: skip
from llamaprov.chat.formats.seed_oss import SeedOssFormat  # isort: skip
from llamaprov.chat.formats.minimax import MiniMaxFormat  # isort: skip
from llamaprov.chat.formats.minicpm5 import MiniCpm5Format  # isort: skip
from llamaprov.chat.formats.hunyuan3 import Hunyuan3Format  # isort: skip
from llamaprov.chat.formats.deepseek_r1 import DeepSeekR1Format  # isort: skip
from llamaprov.chat.formats.deepseek_v3 import DeepSeekV31Format  # isort: skip
from llamaprov.chat.formats.deepseek_dsml import DeepSeekV4Format, DeepSeekV32Format  # isort: skip
from llamaprov.chat.formats.kimi_k2 import KimiK2Format  # isort: skip
from llamaprov.chat.formats.kimi_k3 import KimiK3Format  # isort: skip
from llamaprov.chat.formats.mistral_args import MistralArgsFormat  # isort: skip
from llamaprov.chat.formats.nemotron import NemotronFormat  # isort: skip
from llamaprov.chat.formats.granite import GraniteFormat  # isort: skip
from llamaprov.chat.formats.firefunction import FirefunctionFormat  # isort: skip
from llamaprov.chat.formats.functionary_v31 import FunctionaryV31Format  # isort: skip
from llamaprov.chat.formats.apertus import ApertusFormat  # isort: skip
from llamaprov.chat.formats.phi4 import Phi4Format  # isort: skip
from llamaprov.chat.formats.command_r7b import CommandR7BFormat  # isort: skip
from llamaprov.chat.formats.lfm2 import Lfm2Format  # isort: skip
from llamaprov.chat.formats.gemma4 import Gemma4Format  # isort: skip
from llamaprov.chat.formats.harmony import HarmonyFormat  # isort: skip
from llamaprov.chat.formats.atem import AtemFormat  # isort: skip
from llamaprov.chat.formats.apriel import AprielFormat  # isort: skip
from llamaprov.chat.formats.command_r_plus import CommandRPlusFormat  # isort: skip
from llamaprov.chat.formats.gigachat import (  # isort: skip
    GigaChatV3Format,
    GigaChatV31Format,
    GigaChatV35Format,
)
from llamaprov.chat.formats.solar_open import SolarOpenFormat  # isort: skip

__all__ = [
    "THINKING_TAGS",
    "TOOL_FORMATS",
    "ApertusFormat",
    "AprielFormat",
    "AtemFormat",
    "CommandR7BFormat",
    "CommandRPlusFormat",
    "DeepSeekR1Format",
    "DeepSeekV4Format",
    "DeepSeekV31Format",
    "DeepSeekV32Format",
    "FirefunctionFormat",
    "FunctionaryFormat",
    "FunctionaryV31Format",
    "Gemma4Format",
    "GenericFormat",
    "GigaChatV3Format",
    "GigaChatV31Format",
    "GigaChatV35Format",
    "GlmFormat",
    "GraniteFormat",
    "HarmonyFormat",
    "HermesFormat",
    "Hunyuan3Format",
    "KimiK2Format",
    "KimiK3Format",
    "Lfm2Format",
    "Llama3Format",
    "MiniCpm5Format",
    "MiniMaxFormat",
    "MistralArgsFormat",
    "MistralFormat",
    "NemotronFormat",
    "ParsedCalls",
    "PartialCall",
    "Phi4Format",
    "Qwen3CoderFormat",
    "SeedOssFormat",
    "SolarOpenFormat",
    "StreamParser",
    "ToolCallFormat",
    "detect_tool_format",
    "get_tool_format",
    "make_parser",
    "parse_output",
    "register_tool_format",
    "thinking_tags",
]
