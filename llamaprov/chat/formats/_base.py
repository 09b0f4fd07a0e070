"""The :class:`ToolCallFormat` interface: how one model family presents tools and writes calls."""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from llamaprov.chat.content import ContentJson, ContentText, ContentToolResult
from llamaprov.chat.formats._gbnf import args_grammars, assemble_grammar, gbnf_literal
from llamaprov.chat.formats._json import PartialCall, scan_json_calls
from llamaprov.chat.tools import ToolDef, check_max_tool_calls, check_parallel_tool_calls
from llamaprov.chat.turns import Turn
from llamaprov.errors import ToolError


@dataclass
class ParsedCalls:
    """Calls found in a call region, plus any text that followed them."""

    calls: list[tuple[str, dict[str, Any], str | None]]
    trailing_text: str = ""


@dataclass
class ToolCallFormat(ABC):
    """How one model family presents tools and writes tool calls.

    ``template_tools``: the chat template renders the ``tools`` variable itself (otherwise the
    tools are described in the system prompt). A new format subclasses this, sets ``name`` and
    the triggers, implements the abstract methods (and :meth:`detects` to be picked for
    templates), and is registered with :func:`~llamaprov.chat.formats.register_tool_format`.
    """

    template_tools: bool = True
    name: ClassVar[str] = ""
    # several calls in one reply when a request leaves it open (parallel=None; see call_limit)
    parallel: ClassVar[bool] = True
    # whether a reply can hold several calls at all
    supports_parallel: ClassVar[bool] = True
    # literal texts that start a call anywhere in the output
    triggers: ClassVar[tuple[str, ...]] = ()
    # literal texts that start a call only at the very beginning of the output (after spaces)
    start_triggers: ClassVar[tuple[str, ...]] = ()
    # literal markers that wrap a plain-text answer (Command-R7B's <|START_RESPONSE|>): dropped
    # from the reply's text
    text_markers: ClassVar[tuple[str, ...]] = ()
    # when detection tries this format: lower first (see register_tool_format)
    detect_order: ClassVar[int] = 0
    # the model writes an id with each call, kept as the request's id (Kimi-K2's
    # ``functions.NAME:IDX``); otherwise ids are made up and any the output holds are ignored
    keeps_call_ids: ClassVar[bool] = False

    @classmethod
    def detects(cls, template: str) -> bool:
        """Whether ``template`` (a non-empty chat template) was written for this format."""
        return False

    # ---- presentation
    def render_messages(
        self, turns: Sequence[Turn], tools: Sequence[ToolDef], *, parallel: bool | None = None,
        max_calls: int | None = None,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
        """Messages for ``apply_chat_template`` and the value of its ``tools`` variable
        (``parallel``, ``max_calls``: the request's, for the tools' note; see :meth:`grammar`)."""
        messages: list[dict[str, Any]] = []
        for turn in turns:
            if turn.role == "assistant":
                messages.append(self.assistant_message(turn))
                continue
            for result in turn.tool_results:
                messages.append(self.tool_result_message(result))
            text = "".join(c.text for c in turn.contents if isinstance(c, ContentText))
            text += "".join(
                json.dumps(c.data, ensure_ascii=False)
                for c in turn.contents
                if isinstance(c, ContentJson)
            )
            if text or not turn.tool_results:
                messages.append({"role": turn.role, "content": text})
        if not tools:
            return messages, None
        if self.template_tools:
            return messages, [td.to_openai() for td in tools]
        several = self.call_limit(parallel, max_calls) != 1
        return with_system_note(messages, self.tools_system_note(tools, parallel=several)), None

    def template_variables(self, tools: Sequence[ToolDef]) -> dict[str, Any]:
        """Variables the family's chat template expects from its runtime besides ``messages``
        and ``tools`` (firefunction's ``functions`` and ``datetime``); none by default."""
        return {}

    def assistant_message(self, turn: Turn) -> dict[str, Any]:
        """An assistant turn as a template message: its text as ``content``, its thinking apart
        as ``reasoning_content`` (the key templates of reasoning models such as Qwen3 read; the
        template decides what of it to show), its requests as OpenAI ``tool_calls``."""
        message: dict[str, Any] = {"role": "assistant", "content": turn.text}
        if turn.thinking:
            message["reasoning_content"] = turn.thinking
        if turn.tool_requests:
            message["tool_calls"] = [
                {
                    "id": r.id,
                    "type": "function",
                    "function": {"name": r.name, "arguments": r.arguments},
                }
                for r in turn.tool_requests
            ]
        return message

    def tool_result_message(self, result: ContentToolResult) -> dict[str, Any]:
        """A tool result as a template message."""
        return {
            "role": "tool",
            "tool_call_id": result.request_id,
            "name": result.name or "",
            "content": result.as_text(),
        }

    def tools_system_note(self, tools: Sequence[ToolDef], *, parallel: bool = False) -> str:
        """Tool descriptions for templates that do not render ``tools`` themselves; ``parallel``:
        the reply may hold several calls (native formats write them as the model was trained
        to, so their note does not change)."""
        return (
            "You can call these tools:\n"
            f"{tool_listing(tools)}\n"
            f"To call a tool, reply with {self.call_example()}. "
            "Otherwise answer the user directly."
        )

    @abstractmethod
    def call_example(self) -> str:
        """How a call looks, for instructions in prompts."""

    # ---- grammar
    def call_limit(self, parallel: bool | None = None, max_calls: int | None = None) -> int | None:
        """How many calls one reply may hold: 1, unless parallel calls are allowed (``parallel``;
        None: the format's default, :attr:`parallel`) and the format can write several
        (:attr:`supports_parallel`); then at most ``max_calls`` (None: no bound)."""
        parallel = check_parallel_tool_calls(parallel, "parallel")
        max_calls = check_max_tool_calls(max_calls, "max_calls")
        if not (self.parallel if parallel is None else parallel) or not self.supports_parallel:
            return 1
        return max_calls

    @abstractmethod
    def _call_rules(self, alternatives: str, max_calls: int | None) -> dict[str, str]:
        """Rules (root first) of the calls of one reply; ``alternatives`` is the name-args rule,
        ``max_calls`` how many calls the reply may hold (1: exactly one; None: no bound)."""

    def _name_args(self, tool_name: str, args_root: str) -> str:
        return f'{gbnf_literal(json.dumps(tool_name) + ", " + self._args_key() + ": ")} {args_root}'

    def _args_key(self) -> str:
        return '"arguments"'

    def grammar(self, tools: Sequence[ToolDef], *, parallel: bool | None = None,
                max_calls: int | None = None) -> str:
        """GBNF of the call(s) to ``tools``; the root starts with the trigger text. ``parallel``
        and ``max_calls``: how many calls the reply may hold (see :meth:`call_limit`)."""
        rules, texts = self._grammar_parts(tools, self.call_limit(parallel, max_calls))
        return assemble_grammar(rules, texts)

    def _grammar_parts(self, tools: Sequence[ToolDef],
                       max_calls: int | None) -> tuple[dict[str, str], list[str]]:
        """The call rules (root first) and the tools' argument grammars they refer to."""
        if not tools:
            raise ToolError("a tool-call grammar needs at least one tool")
        roots, texts = args_grammars(tools)
        alternatives = " | ".join(
            f"( {self._name_args(td.name, root)} )" for td, root in zip(tools, roots, strict=True)
        )
        return self._call_rules(alternatives, max_calls), texts

    def auto_sampling(self, tools: Sequence[ToolDef], *, parallel: bool | None = None,
                      max_calls: int | None = None) -> dict[str, Any]:
        """The grammar under ``tool_choice="auto"``, as :class:`SamplingParams` keywords
        (``parallel``, ``max_calls``: see :meth:`grammar`).

        Native formats: a lazy grammar that starts at a trigger, so a reply in prose is free
        text. Formats for models without tool training may constrain the whole reply instead
        (see :meth:`answer_prefix`).
        """
        return {"grammar": self.grammar(tools, parallel=parallel, max_calls=max_calls),
                "grammar_lazy": True,
                "grammar_trigger_patterns": tuple(self.trigger_patterns(tools)),
                "grammar_trigger_words": tuple(self.trigger_words(tools))}

    def answer_sampling(self, tools: Sequence[ToolDef]) -> dict[str, Any] | None:
        """The grammar of a reply that must answer while ``tools`` stay shown (the prompt of a
        call-or-answer reply, unchanged), as :class:`SamplingParams` keywords; None for formats
        whose answers are plain text."""
        return None

    def answer_prefix(self) -> str:
        """The text that opens an answer wrapped as a JSON string (``{"response": "``), which
        the parser unwraps as it streams; empty when answers are plain text."""
        return ""

    def trigger_words(self, tools: Sequence[ToolDef]) -> list[str]:
        """Lazy-grammar trigger words: literal texts that start a call anywhere in the output
        (the grammar starts at the word)."""
        return list(self.triggers)

    def trigger_patterns(self, tools: Sequence[ToolDef]) -> list[str]:
        """Lazy-grammar trigger regexes, anchored at the start of the output (full match; group 1
        starts the grammar): a start trigger such as ``{`` met later in prose stays prose."""
        return [rf"\s*({re.escape(t)})[\s\S]*" for t in self.start_triggers]

    # ---- parsing
    def for_tools(self, tools: Sequence[ToolDef]) -> ToolCallFormat:
        """This format for parsing the reply to a request that offers ``tools``: itself, or for
        formats that read argument values by the tools' schemas (a value written as raw text
        may be a string or a number), a copy that knows them."""
        return self

    @abstractmethod
    def parse_calls(self, region: str) -> ParsedCalls:
        """Parse a complete call region (it starts with a trigger). Raises ``ValueError``."""

    def scan_calls(self, region: str) -> list[PartialCall]:
        """Calls in a partial region, for streaming."""
        return scan_json_calls(region)

    def thinking_after(self, after: str) -> str:
        """What follows the closing marker of a reply's thinking when tools are shown, given
        ``after``, the reasoning family's (the answer's header): unchanged by default; harmony
        leaves the channel to the model, so that the reply may be a call."""
        return after

    def text_prefix(self) -> str:
        """What follows a trigger when it introduces plain text instead of a call (stripped)."""
        return ""

    def reply_prefix(self, prompt: str) -> str:
        """Reply syntax the rendered prompt already contains (fed to the parser first)."""
        return ""


def tool_listing(tools: Sequence[ToolDef]) -> str:
    """The tools for a prompt, one JSON object (name, description, parameters) a line."""
    return "\n".join(
        json.dumps({"name": t.name, "description": t.description, "parameters": t.parameters},
                   ensure_ascii=False)
        for t in tools
    )


def with_system_note(messages: list[dict[str, Any]], note: str) -> list[dict[str, Any]]:
    """``messages`` with ``note`` appended to the system message (or as a new first one)."""
    if messages and messages[0]["role"] == "system":
        first = dict(messages[0])
        first["content"] = f"{first['content']}\n\n{note}" if first["content"] else note
        return [first, *messages[1:]]
    return [{"role": "system", "content": note}, *messages]
