"""Command-R+ tool calls: ``Action:`` and a fenced JSON list of ``{"tool_name": ..., "parameters":
{...}}``; the ``directly-answer`` pseudo-tool stands for no call."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from llamaprov.chat.formats._base import ParsedCalls
from llamaprov.chat.formats._gbnf import gbnf_literal, repeated
from llamaprov.chat.formats._json import PartialCall
from llamaprov.chat.formats._json_list import JsonListFormat, scan_tool_name_calls, tool_name_call
from llamaprov.chat.formats._registry import register_tool_format
from llamaprov.chat.tools import ToolDef
from llamaprov.chat.turns import Turn

_ACTION = "Action:"
_FENCES = ("```json", "```")
# the template writes each call's keys on lines of their own, indented
_ITEM_OPEN = '    {\n        "tool_name": '
_ARGS_KEY = ',\n        "parameters": '
_ITEM_CLOSE = "\n    }"
_LIST_OPEN = _ACTION + "\n```json\n[\n"
_LIST_CLOSE = "\n]```"
DIRECTLY_ANSWER = "directly-answer"
"""The pseudo-tool a Command-R+ reply calls when it answers without tools; not a call."""

_DIRECT_TOOL = ToolDef(DIRECTLY_ANSWER, "Answer the user directly, without calling a tool.",
                       {"type": "object", "properties": {}})


@register_tool_format
class CommandRPlusFormat(JsonListFormat):
    """Cohere Command-R+ (the ``tool_use`` template): ``Action:``, then a ```` ```json ````
    fenced list of ``{"tool_name": ..., "parameters": ...}`` items; calls of ``directly-answer``
    are dropped (a reply of only that calls nothing)."""

    name = "command_r_plus"
    # the template asks every reply to start with "Action:"; later in a reply it starts a line
    start_triggers = (_ACTION,)
    triggers = ("\n" + _ACTION,)
    opening = _ACTION
    detect_order = 19

    @classmethod
    def detects(cls, template: str) -> bool:
        return DIRECTLY_ANSWER in template and '"tool_name"' in template and _ACTION in template

    def call_example(self) -> str:
        return ('Action:\n```json\n[\n    {\n        "tool_name": <tool name>,\n'
                '        "parameters": <arguments object>\n    }\n]```')

    def _name_args(self, tool_name: str, args_root: str) -> str:
        return f"{gbnf_literal(json.dumps(tool_name) + _ARGS_KEY)} {args_root}"

    def _call_rules(self, alternatives: str, max_calls: int | None) -> dict[str, str]:
        calls, chain = repeated("tc-call", '",\\n"', max_calls, "tc-more")
        return {
            # the lazy grammar starts at the trigger, a newline or "Action:" itself
            "root": f'"\\n"? {gbnf_literal(_LIST_OPEN)} {calls} {gbnf_literal(_LIST_CLOSE)}',
            "tc-call": f"{gbnf_literal(_ITEM_OPEN)} ( {alternatives} ) {gbnf_literal(_ITEM_CLOSE)}",
            **chain,
        }

    def render_messages(
        self, turns: Sequence[Turn], tools: Sequence[ToolDef], *, parallel: bool | None = None,
        max_calls: int | None = None,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
        messages, template_tools = super().render_messages(turns, tools, parallel=parallel,
                                                           max_calls=max_calls)
        return messages, None if template_tools is None else [_documented(t) for t in template_tools]

    def auto_sampling(self, tools: Sequence[ToolDef], *, parallel: bool | None = None,
                      max_calls: int | None = None) -> dict[str, Any]:
        # the model starts every reply with an action: directly-answer lets it answer instead
        return super().auto_sampling([*tools, _DIRECT_TOOL], parallel=parallel, max_calls=max_calls)

    def _item_call(self, item: Any) -> tuple[str, dict[str, Any], str | None]:
        return tool_name_call(item)

    def _list_text(self, region: str) -> str:
        body = region.lstrip()
        if not body.startswith(_ACTION):
            return ""
        body = body[len(_ACTION):].lstrip()
        for fence in _FENCES:
            if body.startswith(fence):
                body = body[len(fence):].lstrip()
                break
        return body if body.startswith("[") else ""

    def scan_calls(self, region: str) -> list[PartialCall]:
        return [c for c in scan_tool_name_calls(self._list_text(region)) if c.name != DIRECTLY_ANSWER]

    def parse_calls(self, region: str) -> ParsedCalls:
        body = self._list_text(region)
        if not body:
            raise ValueError(f"a command_r_plus call is {_ACTION!r} and a JSON list, got {region[:60]!r}")
        value, end = json.JSONDecoder().raw_decode(body)
        if not isinstance(value, list) or not value:
            raise ValueError(f"expected a non-empty JSON list of actions, got {value!r}")
        calls = [self._item_call(v) for v in value]
        rest = body[end:]
        if rest.lstrip().startswith("```"):
            rest = rest.lstrip()[3:]
        return ParsedCalls([c for c in calls if c[0] != DIRECTLY_ANSWER], rest)


def _documented(tool: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI tool as the template can list it: it writes each parameter's description and
    looks names up in ``required``, and fails where a schema has none (empty ones are added)."""
    function = dict(tool.get("function", {}))
    parameters = dict(function.get("parameters") or {})
    properties = parameters.get("properties")
    if isinstance(properties, dict):
        parameters["properties"] = {
            k: {"description": "", **v} if isinstance(v, dict) else v for k, v in properties.items()}
    parameters.setdefault("properties", {})
    parameters.setdefault("required", [])
    function["parameters"] = parameters
    function.setdefault("description", "")
    return {**tool, "function": function}
