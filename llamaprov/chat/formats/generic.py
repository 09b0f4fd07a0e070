"""Tool calls for templates without tool support (SmolLM2, Gemma...): ``{"tool_call": {...}}``, or
``{"tool_calls": [{...}, ...]}`` when a reply may hold several calls (``parallel_tool_calls=True``;
by default one call: small models without tool training do better with one).

Under ``tool_choice="auto"`` the whole reply is constrained to one of two JSON objects, a call (or
the calls) or an answer ``{"response": "..."}`` (what llama.cpp's server does for such models): a model
without tool training otherwise drifts into prose and never calls. The parser unwraps the
answer's string as it is decoded, so callers see plain streamed text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from llamaprov import grammars
from llamaprov.chat.content import ContentJson, ContentText, ContentToolRequest, ContentToolResult
from llamaprov.chat.formats._base import ParsedCalls, ToolCallFormat, tool_listing, with_system_note
from llamaprov.chat.formats._gbnf import assemble_grammar, gbnf_literal, repeated
from llamaprov.chat.formats._json import call_from_object
from llamaprov.chat.formats._registry import register_tool_format
from llamaprov.chat.tools import ToolDef
from llamaprov.chat.turns import Turn
from llamaprov.errors import describe

# an answer under tool_choice="auto": {"response": "<the answer as a JSON string>"}
ANSWER_PREFIX = '{"response": "'
CALL_EXAMPLE = '{"tool_call": {"name": "<tool name>", "arguments": {<arguments>}}}'
CALLS_EXAMPLE = '{"tool_calls": [{"name": "<tool name>", "arguments": {<arguments>}}, ...]}'
# after tool results: models without tool training otherwise call again instead of answering
RESULT_NOTE = "Use these results to answer the user."


@register_tool_format
class GenericFormat(ToolCallFormat):
    """Templates without tool support: tools listed in the system prompt, a call is the JSON
    ``{"tool_call": {"name": ..., "arguments": {...}}}`` at the start of the reply; several calls
    (when parallel calls are allowed, not by default) ``{"tool_calls": [{"name": ..., ...}, ...]}``."""

    name = "generic"
    parallel = False
    start_triggers = ("{",)

    def __init__(self, template_tools: bool = False) -> None:
        super().__init__(template_tools=False)

    def call_example(self) -> str:
        return f"only this JSON: {CALL_EXAMPLE}"

    def tools_system_note(self, tools: Sequence[ToolDef], *, parallel: bool = False) -> str:
        # the call and the answer side by side: put as "to call a tool, reply with...; otherwise
        # answer", the 135M default model answered from memory what a tool was there to tell
        call = (f"{CALLS_EXAMPLE} to call tools (one entry per call)" if parallel
                else f"{CALL_EXAMPLE} to call a tool")
        return (f"You can call these tools:\n{tool_listing(tools)}\n"
                f"Reply with only JSON: {call}, or {ANSWER_PREFIX}<your answer>\"}} to answer the user.")

    def _call_rules(self, alternatives: str, max_calls: int | None) -> dict[str, str]:
        if max_calls == 1:
            return {
                "root": "tc-call",
                "tc-call": f'"{{\\"tool_call\\": {{\\"name\\": " ( {alternatives} ) "}}}}"',
            }
        calls, chain = repeated("tc-call", '", "', max_calls, "tc-more")
        return {
            "root": f'"{{\\"tool_calls\\": [" {calls} "]}}"',
            "tc-call": f'"{{\\"name\\": " ( {alternatives} ) "}}"',
            **chain,
        }

    def auto_sampling(self, tools: Sequence[ToolDef], *, parallel: bool | None = None,
                      max_calls: int | None = None) -> dict[str, Any]:
        """A call (the ``tool_calls`` array when several are allowed) or an answer object, the
        whole reply constrained (not a lazy grammar)."""
        rules, texts = self._grammar_parts(tools, self.call_limit(parallel, max_calls))
        rules["root"] = f"( {rules['root']} ) | tc-answer"
        answer_rules, answer = _answer_rules()
        return {"grammar": assemble_grammar({**rules, **answer_rules}, [*texts, answer])}

    def answer_sampling(self, tools: Sequence[ToolDef]) -> dict[str, Any] | None:
        """Only the answer object (the tools stay listed in the prompt)."""
        rules, answer = _answer_rules()
        return {"grammar": assemble_grammar({"root": "tc-answer", **rules}, [answer])}

    def answer_prefix(self) -> str:
        return ANSWER_PREFIX

    def parse_calls(self, region: str) -> ParsedCalls:
        value, end = json.JSONDecoder().raw_decode(region.strip())
        rest = region.strip()[end:]
        if not isinstance(value, dict):
            raise ValueError(f"expected a JSON object, got {describe(value)}")
        if "tool_call" in value:
            return ParsedCalls([call_from_object(value["tool_call"])], rest)
        if isinstance(value.get("tool_calls"), list):
            return ParsedCalls([call_from_object(v) for v in value["tool_calls"]], rest)
        if "name" in value:
            return ParsedCalls([call_from_object(value)], rest)
        raise ValueError(f"not a tool call: {describe(value)}")

    def render_messages(
        self, turns: Sequence[Turn], tools: Sequence[ToolDef], *, parallel: bool | None = None,
        max_calls: int | None = None,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
        """Like the base, but a round of tool calls is folded into the user message it answers
        (``Tool add({"a": 1}) returned: 2``): models without tool training otherwise copy their
        previous call instead of answering."""
        messages: list[dict[str, Any]] = []
        requests: dict[str, ContentToolRequest] = {}
        for turn in turns:
            if turn.role == "assistant":
                requests.update({r.id: r for r in turn.tool_requests})
                if turn.text or not turn.tool_requests:
                    message = {"role": "assistant", "content": turn.text}
                    if turn.thinking:
                        message["reasoning_content"] = turn.thinking
                    messages.append(message)
                continue
            lines = [self._result_line(r, requests.get(r.request_id)) for r in turn.tool_results]
            text = "".join(c.text for c in turn.contents if isinstance(c, ContentText))
            text += "".join(
                json.dumps(c.data, ensure_ascii=False)
                for c in turn.contents
                if isinstance(c, ContentJson)
            )
            if lines:
                lines.append(RESULT_NOTE)
            body = "\n".join(lines + ([text] if text else []))
            if lines and messages and messages[-1]["role"] == "user":
                messages[-1] = {"role": "user", "content": f"{messages[-1]['content']}\n\n{body}"}
            else:
                messages.append({"role": turn.role, "content": body})
        if tools:
            several = self.call_limit(parallel, max_calls) != 1
            messages = with_system_note(messages, self.tools_system_note(tools, parallel=several))
        return messages, None

    @staticmethod
    def _result_line(result: ContentToolResult, request: ContentToolRequest | None) -> str:
        name = result.name or (request.name if request else "tool")
        args = json.dumps(request.arguments, ensure_ascii=False) if request else ""
        verb = "failed with" if result.is_error else "returned:"
        return f"Tool {name}({args}) {verb} {result.as_text()}"


def _answer_rules() -> tuple[dict[str, str], str]:
    """The rule ``tc-answer`` of an answer object and the grammar of its JSON string."""
    string = grammars.json_schema_to_gbnf({"type": "string"}, whitespace="compact",
                                          rule_prefix="tc-answer-")
    return {"tc-answer": f'{gbnf_literal(ANSWER_PREFIX[:-1])} tc-answer-root "}}"'}, string
