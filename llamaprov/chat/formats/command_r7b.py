"""Command-R7B / Cohere2 tool calls: ``<|START_ACTION|>[{"tool_call_id": "0", "tool_name": ...,
"parameters": {...}}, ...]<|END_ACTION|>``; answers come in ``<|START_RESPONSE|>...<|END_RESPONSE|>``."""

from __future__ import annotations

import json
from typing import Any

from llamaprov.chat.formats._gbnf import gbnf_literal, repeated
from llamaprov.chat.formats._json import PartialCall
from llamaprov.chat.formats._json_list import JsonListFormat, scan_tool_name_calls, tool_name_call
from llamaprov.chat.formats._registry import register_tool_format

_ARGS_KEY = ', "parameters": '


@register_tool_format
class CommandR7BFormat(JsonListFormat):
    """Cohere Command-R7B and Cohere2 (``<|START_ACTION|>`` templates): a JSON list of
    ``{"tool_call_id": ..., "tool_name": ..., "parameters": ...}`` closed by ``<|END_ACTION|>``;
    thinking in ``<|START_THINKING|>`` blocks, answers wrapped in ``<|START_RESPONSE|>``."""

    name = "command_r7b"
    triggers = ("<|START_ACTION|>",)
    opening = "<|START_ACTION|>"
    closing = "<|END_ACTION|>"
    text_markers = ("<|START_RESPONSE|>", "<|END_RESPONSE|>")
    detect_order = 18

    @classmethod
    def detects(cls, template: str) -> bool:
        return "<|START_ACTION|>" in template

    def call_example(self) -> str:
        return ('<|START_ACTION|>[{"tool_call_id": "0", "tool_name": <tool name>, '
                '"parameters": <arguments object>}]<|END_ACTION|>')

    def _name_args(self, tool_name: str, args_root: str) -> str:
        return f"{gbnf_literal(json.dumps(tool_name) + _ARGS_KEY)} {args_root}"

    def _call_rules(self, alternatives: str, max_calls: int | None) -> dict[str, str]:
        # the template writes the list one call a line, indented
        calls, chain = repeated("tc-call", '",\\n    "', max_calls, "tc-more")
        return {
            "root": f'{gbnf_literal(self.opening)} "[\\n    " {calls} "\\n]" {gbnf_literal(self.closing)}',
            "tc-call": '"{\\"tool_call_id\\": \\"" [0-9] [0-9]? "\\", \\"tool_name\\": " '
                       f'( {alternatives} ) "}}"',
            **chain,
        }

    def _item_call(self, item: Any) -> tuple[str, dict[str, Any], str | None]:
        return tool_name_call(item)

    def scan_calls(self, region: str) -> list[PartialCall]:
        return scan_tool_name_calls(self._list_text(region))
