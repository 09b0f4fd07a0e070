"""GigaChat 3.x tool calls. Each version's template writes them its own way:

* 3.0 (``gigachat-v3``): the call is a message of its own, in the ``function call`` role, after
  the assistant's text: ``<|message_sep|>\\n\\nfunction call<|role_sep|>\\n{"name": ...,
  "arguments": {...}}``
* 3.1 (``gigachat-v3.1``): inside the assistant's message, after its text:
  ``<|function_call|>{"name": ..., "arguments": {...}}``
* 3.5 (``gigachat-v3.5``): a GCML block after the text, each argument in its own element that
  says whether the value is raw text or JSON: ``<｜GCML｜tool_calls>\\n<｜GCML｜invoke name="NAME">\\n
  <｜GCML｜parameter name="k" string="true">v</｜GCML｜parameter>\\n</｜GCML｜invoke>\\n
  </｜GCML｜tool_calls>``; thinking in ``<think>`` blocks

3.0 and 3.1 render one call per assistant message (the first of its ``tool_calls``), so a reply
holds one call; 3.5's block holds several, though its default system prompt asks for calls one
after another ("sequential"), so a reply holds one unless a request allows more.
"""

from __future__ import annotations

import json
from typing import ClassVar

from llamaprov.chat.formats._base import ParsedCalls, ToolCallFormat
from llamaprov.chat.formats._gbnf import gbnf_literal
from llamaprov.chat.formats._invoke_blocks import InvokeBlocksFormat
from llamaprov.chat.formats._json import PartialCall, call_from_object, scan_json_calls
from llamaprov.chat.formats._registry import register_tool_format

ROLE_SEP = "<|role_sep|>"
MESSAGE_SEP = "<|message_sep|>"
FUNCTION_CALL = "<|function_call|>"
GCML = "<｜GCML｜"  # the fullwidth bars of GigaChat 3.5's markers


@register_tool_format
class GigaChatV3Format(ToolCallFormat):
    """GigaChat 3.0: ``<|message_sep|>\\n\\nfunction call<|role_sep|>\\n{"name": ..., "arguments":
    {...}}`` after the assistant's text; one call per reply."""

    name = "gigachat-v3"
    triggers: ClassVar[tuple[str, ...]] = (f"{MESSAGE_SEP}\n\nfunction call{ROLE_SEP}",)
    parallel = False
    supports_parallel = False
    detect_order = 6
    # what the grammar writes from the trigger up to the call's JSON object
    opening: ClassVar[str] = f"{MESSAGE_SEP}\n\nfunction call{ROLE_SEP}\n"

    @classmethod
    def detects(cls, template: str) -> bool:
        return (ROLE_SEP in template and MESSAGE_SEP in template and FUNCTION_CALL not in template
                and GCML not in template and "function call" in template)

    def call_example(self) -> str:
        return f'{self.opening}{{"name": <tool name>, "arguments": <arguments object>}}'

    def _call_rules(self, alternatives: str, max_calls: int | None) -> dict[str, str]:
        return {"root": f'{gbnf_literal(self.opening)} "{{\\"name\\": " ( {alternatives} ) "}}"'}

    def parse_calls(self, region: str) -> ParsedCalls:
        trigger = next((t for t in self.triggers if region.lstrip().startswith(t)), None)
        if trigger is None:
            raise ValueError(f"expected {self.triggers[0]!r} at the start of {region[:60]!r}")
        body = region.lstrip()[len(trigger):].lstrip()
        obj, end = json.JSONDecoder().raw_decode(body)
        rest = body[end:]
        if any(t in rest for t in self.triggers):
            raise ValueError(f"{self.name} writes one call per reply, got another in {rest[:60]!r}")
        if rest.lstrip().startswith(MESSAGE_SEP):  # the end of the message, where not a stop token
            rest = rest.lstrip()[len(MESSAGE_SEP):]
        return ParsedCalls([call_from_object(obj)], rest)

    def scan_calls(self, region: str) -> list[PartialCall]:
        return scan_json_calls(region)[:1]


@register_tool_format
class GigaChatV31Format(GigaChatV3Format):
    """GigaChat 3.1: ``<|function_call|>{"name": ..., "arguments": {...}}`` after the assistant's
    text, in the same message; one call per reply."""

    name = "gigachat-v3.1"
    triggers = (FUNCTION_CALL,)
    opening = FUNCTION_CALL

    @classmethod
    def detects(cls, template: str) -> bool:
        return ROLE_SEP in template and FUNCTION_CALL in template


@register_tool_format
class GigaChatV35Format(InvokeBlocksFormat):
    """GigaChat 3.5: a ``<｜GCML｜tool_calls>`` block of ``<｜GCML｜invoke name="NAME">`` elements,
    each argument ``<｜GCML｜parameter name="k" string="true|false">`` (raw text, or JSON)."""

    name = "gigachat-v3.5"
    marker = GCML[1:]
    parallel = False
    detect_order = 6

    @classmethod
    def detects(cls, template: str) -> bool:
        return f"{GCML}invoke name=" in template and ROLE_SEP in template
