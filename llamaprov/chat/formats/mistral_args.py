"""Mistral Small 3.2 / Devstral / Magistral / Ministral 3 tool calls:
``[TOOL_CALLS]name[ARGS]{arguments}``, one such block per call."""

from __future__ import annotations

import json
import re
from typing import Any

from llamaprov.chat.formats._base import ParsedCalls, ToolCallFormat
from llamaprov.chat.formats._gbnf import gbnf_literal, repeated
from llamaprov.chat.formats._json import PartialCall, call_from_object, json_value_end
from llamaprov.chat.formats._registry import register_tool_format

_OPEN = "[TOOL_CALLS]"
# name, then the id Mistral Small 3.2's template writes ([CALL_ID]), then [ARGS]
_HEAD = re.compile(r"\s*([^\s\[\]{}]+)(?:\[CALL_ID\]([A-Za-z0-9]*))?\[ARGS\]")


@register_tool_format
class MistralArgsFormat(ToolCallFormat):
    """Mistral's tokenizer v11+ syntax: ``[TOOL_CALLS]name[ARGS]{...}`` (Mistral Small 3.2 adds
    ``[CALL_ID]id`` before ``[ARGS]``); several calls repeat the block. Not the Nemo list
    ``[TOOL_CALLS] [{...}]`` (:mod:`~llamaprov.chat.formats.mistral`)."""

    name = "mistral_args"
    triggers = (_OPEN,)
    # before "mistral", whose templates also hold [TOOL_CALLS]
    detect_order = 15

    @classmethod
    def detects(cls, template: str) -> bool:
        # the template writes calls of its history as name[ARGS]arguments
        return _OPEN in template and "[ARGS]" in template

    def call_example(self) -> str:
        return "[TOOL_CALLS]<tool name>[ARGS]<arguments object>"

    def _name_args(self, tool_name: str, args_root: str) -> str:
        return f'{gbnf_literal(tool_name)} tc-id? "[ARGS]" {args_root}'

    def _call_rules(self, alternatives: str, max_calls: int | None) -> dict[str, str]:
        calls, chain = repeated("tc-call", "", max_calls, "tc-more")
        return {
            "root": calls,
            "tc-call": f'"{_OPEN}" ( {alternatives} )',
            "tc-id": '"[CALL_ID]" ' + " ".join(["[A-Za-z0-9]"] * 9),
            **chain,
        }

    def _blocks(self, region: str) -> list[str]:
        if not region.lstrip().startswith(_OPEN):
            raise ValueError(f"a {self.name} call starts with {_OPEN}, got {region[:40]!r}")
        return region.lstrip()[len(_OPEN):].split(_OPEN)

    def parse_calls(self, region: str) -> ParsedCalls:
        calls: list[tuple[str, dict[str, Any], str | None]] = []
        blocks = self._blocks(region)
        trailing = ""
        for k, block in enumerate(blocks):
            if trailing.strip():
                raise ValueError(f"unexpected text between tool calls: {trailing!r}")
            head = _HEAD.match(block)
            if head is None:
                if block.lstrip()[:1] in ("[", "{"):  # the Nemo list, which some fine-tunes keep
                    value, end = json.JSONDecoder().raw_decode(block.lstrip())
                    calls += [call_from_object(v) for v in (value if isinstance(value, list) else [value])]
                    trailing = block.lstrip()[end:]
                    continue
                raise ValueError(f"expected name[ARGS]{{...}} after {_OPEN}, got {block[:60]!r}")
            value, end = json.JSONDecoder().raw_decode(block, head.end())
            if not isinstance(value, dict):
                raise ValueError(f"tool call {head.group(1)!r}: arguments must be an object, got {value!r}")
            calls.append((head.group(1), value, head.group(2) or None))
            trailing = block[end:]
            if k + 1 < len(blocks) and trailing.strip():
                raise ValueError(f"unexpected text between tool calls: {trailing!r}")
        return ParsedCalls(calls, trailing)

    def scan_calls(self, region: str) -> list[PartialCall]:
        calls = []
        for block in self._blocks(region):
            head = _HEAD.match(block)
            if head is None:  # the name is still being written
                break
            end = json_value_end(block, head.end())
            args = block[head.end():end] if end is not None else block[head.end():]
            calls.append(PartialCall(head.group(1), args.lstrip(), end is not None))
            if end is None or block[end:].strip():  # cut off, or text the whole parse refuses
                break
        return calls
