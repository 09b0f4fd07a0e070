"""Native tool-call formats: how tools are shown to a model, the grammar of a call, the trigger
that starts one, and the parser (whole output and incremental).

One :class:`ToolCallFormat` subclass per family:

* ``hermes``       Hermes 2 Pro / Qwen 2.5+: ``<tool_call>{"name": ..., "arguments": ...}</tool_call>``
* ``llama3``       Llama 3.1-3.3 JSON: ``{"name": ..., "parameters": ...}``, optionally after
  ``<|python_tag|>``
* ``mistral``      ``[TOOL_CALLS] [{"name": ..., "arguments": ...}, ...]``
* ``functionary``  Functionary v3.2: ``>>>name\\n{arguments}``
* ``generic``      any template without tool support (SmolLM2, Gemma...): tools are described in the
  system prompt and a call is ``{"tool_call": {"name": ..., "arguments": ...}}``

:func:`detect_tool_format` picks one from a chat template. The call grammar is assembled from the
tools' argument grammars (compiled by :func:`llamaprov.grammars.json_schema_to_gbnf`) whose rule
names are prefixed per tool by :func:`_prefix_rules`, the one mechanism every format uses.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from llamaprov.chat.content import (
    Content,
    ContentJson,
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
)
from llamaprov.chat.events import (
    ParseEvent,
    TextDelta,
    ThinkingDelta,
    ToolRequestArgumentsDelta,
    ToolRequestDone,
    ToolRequestStart,
)
from llamaprov.chat.tools import ToolDef, new_tool_call_id
from llamaprov.chat.turns import Turn
from llamaprov.engine._text import holdback
from llamaprov.errors import InvalidArgumentError, ToolError, describe

# Whitespace style of tool-argument grammars: "bounded" lets the model keep its natural
# `{"a": 1, "b": 2}` spacing without letting it ramble in whitespace.
_ARGS_WHITESPACE = "bounded"

THINKING_TAGS: tuple[tuple[str, str], ...] = (
    ("<think>", "</think>"),
    ("<thinking>", "</thinking>"),
    ("<|START_THINKING|>", "<|END_THINKING|>"),
)


# ------------------------------------------------------------------------------------- GBNF bits
_RULE_DEF = re.compile(r"^[ \t]*([A-Za-z0-9_-]+)[ \t]*::=", re.MULTILINE)
_WORD = re.compile(r"[A-Za-z0-9_-]+")


def _prefix_rules(gbnf: str, prefix: str) -> str:
    """Rename every rule defined in ``gbnf`` to ``prefix + name`` (definitions and references).

    String literals, character classes, token literals (``<...>``), repetition counts and
    comments are left untouched, so the renamed grammar can be embedded in a larger one.
    """
    defined = set(_RULE_DEF.findall(gbnf))
    out: list[str] = []
    i, n = 0, len(gbnf)
    while i < n:
        c = gbnf[i]
        if c == '"' or c == "[":
            close = '"' if c == '"' else "]"
            j = i + 1
            while j < n and gbnf[j] != close:
                j += 2 if gbnf[j] == "\\" else 1
            out.append(gbnf[i : j + 1])
            i = j + 1
        elif c in "{<#":
            close = {"{": "}", "<": ">", "#": "\n"}[c]
            j = gbnf.find(close, i + 1)
            j = n - 1 if j < 0 else j
            out.append(gbnf[i : j + 1])
            i = j + 1
        else:
            m = _WORD.match(gbnf, i)
            if m:
                word = m.group(0)
                out.append(prefix + word if word in defined else word)
                i = m.end()
            else:
                out.append(c)
                i += 1
    return "".join(out)


def _lit(text: str) -> str:
    """A GBNF string literal matching ``text`` exactly."""
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


def _args_grammars(tools: Sequence[ToolDef]) -> tuple[list[str], list[str]]:
    """Compile each tool's arguments schema; return (root rule names, prefixed grammar texts)."""
    from llamaprov.grammars import json_schema_to_gbnf

    roots: list[str] = []
    texts: list[str] = []
    for i, td in enumerate(tools):
        try:
            gbnf = json_schema_to_gbnf(
                td.parameters, whitespace=_ARGS_WHITESPACE, additional_properties=False
            )
        except Exception as exc:
            raise ToolError(f"tool {td.name!r}: cannot compile its parameters schema: {exc}") from exc
        prefix = f"tool{i}-"
        roots.append(prefix + "root")
        texts.append(_prefix_rules(gbnf, prefix))
    return roots, texts


def _assemble(rules: dict[str, str], parts: list[str]) -> str:
    head = "\n".join(f"{name} ::= {body}" for name, body in rules.items())
    return head + "\n" + "\n".join(parts) + "\n"


# ------------------------------------------------------------------------------ JSON scanning
_NAME_RE = re.compile(r'"name"\s*:\s*"((?:[^"\\]|\\.)*)"')
_ARGS_RE = re.compile(r'"(?:arguments|parameters)"\s*:\s*')


def _json_value_end(text: str, start: int) -> int | None:
    """Index just past the JSON value starting at ``start`` (after spaces), None if incomplete."""
    i, n = start, len(text)
    while i < n and text[i] in " \t\r\n":
        i += 1
    if i >= n:
        return None
    if text[i] == '"':
        j = i + 1
        while j < n:
            if text[j] == "\\":
                j += 2
                continue
            if text[j] == '"':
                return j + 1
            j += 1
        return None
    if text[i] in "{[":
        depth, j, in_str = 0, i, False
        while j < n:
            ch = text[j]
            if in_str:
                if ch == "\\":
                    j += 1
                elif ch == '"':
                    in_str = False
            elif ch == '"':
                in_str = True
            elif ch in "{[":
                depth += 1
            elif ch in "}]":
                depth -= 1
                if depth == 0:
                    return j + 1
            j += 1
        return None
    m = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null").match(text, i)
    if m and m.end() < n:
        return m.end()
    return None


@dataclass
class PartialCall:
    """A tool call as far as it has been generated: name once known, raw argument text so far."""

    name: str | None
    arguments_text: str = ""
    complete: bool = False


def _json_string(body: str) -> str:
    """The value of a JSON string literal's body; the raw text when it is malformed (a model may
    write ``\\x``)."""
    try:
        return str(json.loads(f'"{body}"'))
    except ValueError:
        return body


def _clean(value: Any) -> Any:
    """``value`` (parsed JSON) with lone surrogates, which JSON escapes can produce but UTF-8
    cannot encode, replaced by U+FFFD."""
    if isinstance(value, str):
        if value.isascii():
            return value
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _scan_json_calls(text: str) -> list[PartialCall]:
    """Partial calls in ``text`` written as JSON objects with "name" and "arguments"/"parameters"."""
    calls: list[PartialCall] = []
    pos = 0
    while True:
        m = _NAME_RE.search(text, pos)
        if not m:
            return calls
        name = _json_string(m.group(1))
        a = _ARGS_RE.search(text, m.end())
        if not a:
            calls.append(PartialCall(name))
            return calls
        end = _json_value_end(text, a.end())
        if end is None:
            calls.append(PartialCall(name, text[a.end() :].lstrip()))
            return calls
        calls.append(PartialCall(name, text[a.end() : end].lstrip(), True))
        pos = end


def _decode_json_sequence(text: str, separators: str = " \t\r\n;,") -> list[Any]:
    """All JSON values in ``text`` one after another (separated by spaces, ``;`` or ``,``)."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in separators:
            i += 1
        if i >= n:
            return values
        value, i = decoder.raw_decode(text, i)
        values.append(value)


def _call_from_object(obj: Any) -> tuple[str, dict[str, Any], str | None]:
    """(name, arguments, id) from a ``{"name": ..., "arguments"|"parameters": ...}`` object."""
    if not isinstance(obj, dict):
        raise ValueError(f"a tool call must be a JSON object, got {describe(obj)}")
    if isinstance(obj.get("function"), dict):  # OpenAI style {"type": "function", "function": {...}}
        obj = {**obj["function"], "id": obj.get("id")}
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"a tool call needs a string 'name', got {describe(obj)}")
    args = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):
        args = json.loads(args) if args.strip() else {}
    if not isinstance(args, dict):
        raise ValueError(f"tool call {name!r}: arguments must be an object, got {describe(args)}")
    call_id = obj.get("id")
    return name, args, call_id if isinstance(call_id, str) and call_id else None


# ----------------------------------------------------------------------------------- the formats
@dataclass
class ParsedCalls:
    """Calls found in a call region, plus any text that followed them."""

    calls: list[tuple[str, dict[str, Any], str | None]]
    trailing_text: str = ""


@dataclass
class ToolCallFormat(ABC):
    """How one model family presents tools and writes tool calls.

    ``template_tools``: the chat template renders the ``tools`` variable itself (otherwise the
    tools are described in the system prompt).
    """

    template_tools: bool = True
    name: ClassVar[str] = ""
    parallel: ClassVar[bool] = True
    # literal texts that start a call anywhere in the output
    triggers: ClassVar[tuple[str, ...]] = ()
    # literal texts that start a call only at the very beginning of the output (after spaces)
    start_triggers: ClassVar[tuple[str, ...]] = ()

    # ---- presentation
    def render_messages(
        self, turns: Sequence[Turn], tools: Sequence[ToolDef]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
        """Messages for ``apply_chat_template`` and the value of its ``tools`` variable."""
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
        return _with_system_note(messages, self.tools_system_note(tools)), None

    def assistant_message(self, turn: Turn) -> dict[str, Any]:
        """An assistant turn as a template message (OpenAI ``tool_calls`` for its requests)."""
        message: dict[str, Any] = {"role": "assistant", "content": turn.text}
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

    def tools_system_note(self, tools: Sequence[ToolDef]) -> str:
        """Tool descriptions for templates that do not render ``tools`` themselves."""
        listing = "\n".join(
            json.dumps(
                {"name": t.name, "description": t.description, "parameters": t.parameters},
                ensure_ascii=False,
            )
            for t in tools
        )
        return (
            "You can call these tools:\n"
            f"{listing}\n"
            f"To call a tool, reply with {self.call_example()}. "
            "Otherwise answer the user directly."
        )

    @abstractmethod
    def call_example(self) -> str:
        """How a call looks, for instructions in prompts."""

    # ---- grammar
    @abstractmethod
    def _call_rules(self, alternatives: str) -> dict[str, str]:
        """Rules (root first) of one or more calls; ``alternatives`` is the name-args rule."""

    def _name_args(self, tool_name: str, args_root: str) -> str:
        return f'{_lit(json.dumps(tool_name) + ", " + self._args_key() + ": ")} {args_root}'

    def _args_key(self) -> str:
        return '"arguments"'

    def grammar(self, tools: Sequence[ToolDef]) -> str:
        """GBNF of the call(s) to ``tools``; the root starts with the trigger text."""
        if not tools:
            raise ToolError("a tool-call grammar needs at least one tool")
        roots, texts = _args_grammars(tools)
        alternatives = " | ".join(
            f"( {self._name_args(td.name, root)} )" for td, root in zip(tools, roots, strict=True)
        )
        return _assemble(self._call_rules(alternatives), texts)

    def trigger_words(self, tools: Sequence[ToolDef]) -> list[str]:
        """Lazy-grammar trigger words: literal texts that start a call anywhere in the output
        (the grammar starts at the word)."""
        return list(self.triggers)

    def trigger_patterns(self, tools: Sequence[ToolDef]) -> list[str]:
        """Lazy-grammar trigger regexes, anchored at the start of the output (full match; group 1
        starts the grammar): a start trigger such as ``{`` met later in prose stays prose."""
        return [rf"\s*({re.escape(t)})[\s\S]*" for t in self.start_triggers]

    # ---- parsing
    @abstractmethod
    def parse_calls(self, region: str) -> ParsedCalls:
        """Parse a complete call region (it starts with a trigger). Raises ``ValueError``."""

    def scan_calls(self, region: str) -> list[PartialCall]:
        """Calls in a partial region, for streaming."""
        return _scan_json_calls(region)

    def text_prefix(self) -> str:
        """What follows a trigger when it introduces plain text instead of a call (stripped)."""
        return ""

    def reply_prefix(self, prompt: str) -> str:
        """Reply syntax the rendered prompt already contains (fed to the parser first)."""
        return ""


def _with_system_note(messages: list[dict[str, Any]], note: str) -> list[dict[str, Any]]:
    if messages and messages[0]["role"] == "system":
        first = dict(messages[0])
        first["content"] = f"{first['content']}\n\n{note}" if first["content"] else note
        return [first, *messages[1:]]
    return [{"role": "system", "content": note}, *messages]


class HermesFormat(ToolCallFormat):
    """Hermes 2 Pro / Qwen 2.5+: ``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>``."""

    name = "hermes"
    triggers = ("<tool_call>",)

    def call_example(self) -> str:
        return '<tool_call>\n{"name": <tool name>, "arguments": <arguments object>}\n</tool_call>'

    def _call_rules(self, alternatives: str) -> dict[str, str]:
        return {
            "root": 'tc-call ( "\\n" tc-call )*' if self.parallel else "tc-call",
            "tc-call": f'"<tool_call>\\n{{\\"name\\": " ( {alternatives} ) "}}\\n</tool_call>"',
        }

    def parse_calls(self, region: str) -> ParsedCalls:
        calls = []
        pos = 0
        pattern = re.compile(r"<tool_call>([\s\S]*?)(?:</tool_call>|$)")
        for m in pattern.finditer(region):
            if region[pos : m.start()].strip():
                raise ValueError(f"unexpected text between tool calls: {region[pos:m.start()]!r}")
            body = m.group(1).strip()
            if not body and m.end() == len(region):
                break
            values = _decode_json_sequence(body)
            if len(values) != 1:
                raise ValueError(f"expected one JSON object in <tool_call>, got {body!r}")
            calls.append(_call_from_object(values[0]))
            pos = m.end()
        if not calls:
            raise ValueError(f"no tool call found in {region!r}")
        return ParsedCalls(calls, region[pos:])


class Llama3Format(ToolCallFormat):
    """Llama 3.1-3.3: ``{"name": ..., "parameters": {...}}``, optionally after ``<|python_tag|>``."""

    name = "llama3"
    parallel = False
    triggers = ("<|python_tag|>",)
    start_triggers = ("{",)

    def call_example(self) -> str:
        return '{"name": <tool name>, "parameters": <arguments object>}'

    def _args_key(self) -> str:
        return '"parameters"'

    def _call_rules(self, alternatives: str) -> dict[str, str]:
        return {
            "root": '"<|python_tag|>"? tc-call',
            "tc-call": f'"{{\\"name\\": " ( {alternatives} ) "}}"',
        }

    def parse_calls(self, region: str) -> ParsedCalls:
        body = region.replace("<|python_tag|>", "").strip()
        decoder = json.JSONDecoder()
        calls = []
        i = 0
        while i < len(body):
            value, i = decoder.raw_decode(body, i)
            calls.append(_call_from_object(value))
            while i < len(body) and body[i] in " \t\r\n;":
                i += 1
            if i < len(body) and body[i] != "{":
                break
        return ParsedCalls(calls, body[i:])


class MistralFormat(ToolCallFormat):
    """Mistral v0.3 / Nemo: ``[TOOL_CALLS] [{"name": ..., "arguments": {...}}, ...]``."""

    name = "mistral"
    triggers = ("[TOOL_CALLS]",)

    def call_example(self) -> str:
        return '[TOOL_CALLS] [{"name": <tool name>, "arguments": <arguments object>}]'

    def _call_rules(self, alternatives: str) -> dict[str, str]:
        more = '( ", " tc-call )*' if self.parallel else ""
        return {
            "root": f'"[TOOL_CALLS]" " "? "[" tc-call {more} "]"',
            "tc-call": f'"{{\\"name\\": " ( {alternatives} ) "}}"',
        }

    def parse_calls(self, region: str) -> ParsedCalls:
        body = region[len("[TOOL_CALLS]") :] if region.startswith("[TOOL_CALLS]") else region
        value, end = json.JSONDecoder().raw_decode(body.lstrip())
        items = value if isinstance(value, list) else [value]
        return ParsedCalls([_call_from_object(v) for v in items], body.lstrip()[end:])

    def assistant_message(self, turn: Turn) -> dict[str, Any]:
        message = super().assistant_message(turn)
        if "tool_calls" in message and not message["content"]:
            message.pop("content")  # Mistral templates test `content` before `tool_calls`
        return message


class FunctionaryFormat(ToolCallFormat):
    """Functionary v3.2: the prompt ends with ``>>>``; a reply is ``all\\ntext`` or
    ``name\\n{arguments}``, further calls follow as ``>>>name\\n{arguments}``."""

    name = "functionary"
    triggers = (">>>",)

    def call_example(self) -> str:
        return ">>>tool name\n<arguments object>"

    def _name_args(self, tool_name: str, args_root: str) -> str:
        return f"{_lit(tool_name + chr(10))} {args_root}"

    def _call_rules(self, alternatives: str) -> dict[str, str]:
        return {
            # a lazy grammar may start at the ">>>" of a later call (see trigger_words)
            "root": '">>>"? tc-call ( ">>>" tc-call )*' if self.parallel else '">>>"? tc-call',
            "tc-call": f"( {alternatives} )",
        }

    def trigger_words(self, tools: Sequence[ToolDef]) -> list[str]:
        return [f">>>{t.name}\n" for t in tools]

    def trigger_patterns(self, tools: Sequence[ToolDef]) -> list[str]:
        names = "|".join(re.escape(t.name) for t in tools)
        return [rf"((?:{names})\n)[\s\S]*"]

    def text_prefix(self) -> str:
        return "all\n"

    def reply_prefix(self, prompt: str) -> str:
        return ">>>" if prompt.endswith(">>>") else ""

    def _segments(self, region: str) -> list[str]:
        return [s for s in region.split(">>>") if s]

    def parse_calls(self, region: str) -> ParsedCalls:
        calls: list[tuple[str, dict[str, Any], str | None]] = []
        trailing = ""
        for seg in self._segments(region):
            name, sep, rest = seg.partition("\n")
            if name == "all":
                trailing += rest
                continue
            if not sep:
                raise ValueError(f"functionary call without arguments: {seg!r}")
            value, end = json.JSONDecoder().raw_decode(rest.strip() or "{}")
            if not isinstance(value, dict):
                raise ValueError(f"tool call {name!r}: arguments must be an object, got {value!r}")
            calls.append((name.strip(), value, None))
            trailing += rest.strip()[end:]
        return ParsedCalls(calls, trailing)

    def scan_calls(self, region: str) -> list[PartialCall]:
        calls = []
        for seg in self._segments(region):
            name, sep, rest = seg.partition("\n")
            if not sep or name == "all":
                continue
            end = _json_value_end(rest, 0)
            calls.append(PartialCall(name, rest[:end].lstrip() if end else rest.lstrip(), end is not None))
        return calls

    def assistant_message(self, turn: Turn) -> dict[str, Any]:
        message = super().assistant_message(turn)
        for call in message.get("tool_calls", []):  # the template writes arguments verbatim
            call["function"]["arguments"] = json.dumps(call["function"]["arguments"])
        return message


class GenericFormat(ToolCallFormat):
    """Templates without tool support: tools listed in the system prompt, a call is the JSON
    ``{"tool_call": {"name": ..., "arguments": {...}}}`` at the start of the reply."""

    name = "generic"
    parallel = False
    start_triggers = ("{",)

    def __init__(self, template_tools: bool = False) -> None:
        super().__init__(template_tools=False)

    def call_example(self) -> str:
        return 'only this JSON: {"tool_call": {"name": "<tool name>", "arguments": {<arguments>}}}'

    def _call_rules(self, alternatives: str) -> dict[str, str]:
        return {
            "root": "tc-call",
            "tc-call": f'"{{\\"tool_call\\": {{\\"name\\": " ( {alternatives} ) "}}}}"',
        }

    def parse_calls(self, region: str) -> ParsedCalls:
        value, end = json.JSONDecoder().raw_decode(region.strip())
        rest = region.strip()[end:]
        if not isinstance(value, dict):
            raise ValueError(f"expected a JSON object, got {describe(value)}")
        if "tool_call" in value:
            return ParsedCalls([_call_from_object(value["tool_call"])], rest)
        if isinstance(value.get("tool_calls"), list):
            return ParsedCalls([_call_from_object(v) for v in value["tool_calls"]], rest)
        if "name" in value:
            return ParsedCalls([_call_from_object(value)], rest)
        raise ValueError(f"not a tool call: {describe(value)}")

    def render_messages(
        self, turns: Sequence[Turn], tools: Sequence[ToolDef]
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
                    messages.append({"role": "assistant", "content": turn.text})
                continue
            lines = [self._result_line(r, requests.get(r.request_id)) for r in turn.tool_results]
            text = "".join(c.text for c in turn.contents if isinstance(c, ContentText))
            text += "".join(
                json.dumps(c.data, ensure_ascii=False)
                for c in turn.contents
                if isinstance(c, ContentJson)
            )
            body = "\n".join(lines + ([text] if text else []))
            if lines and messages and messages[-1]["role"] == "user":
                messages[-1] = {"role": "user", "content": f"{messages[-1]['content']}\n\n{body}"}
            else:
                messages.append({"role": turn.role, "content": body})
        if tools:
            messages = _with_system_note(messages, self.tools_system_note(tools))
        return messages, None

    @staticmethod
    def _result_line(result: ContentToolResult, request: ContentToolRequest | None) -> str:
        name = result.name or (request.name if request else "tool")
        args = json.dumps(request.arguments, ensure_ascii=False) if request else ""
        verb = "failed with" if result.is_error else "returned:"
        return f"Tool {name}({args}) {verb} {result.as_text()}"


TOOL_FORMATS: dict[str, type[ToolCallFormat]] = {
    cls.name: cls
    for cls in (HermesFormat, Llama3Format, MistralFormat, FunctionaryFormat, GenericFormat)
}


def detect_tool_format(template: str | None) -> ToolCallFormat:
    """The tool-call format a chat template was written for (``generic`` when it has none)."""
    if not template:
        return GenericFormat()
    has_tools = re.search(r"\btools\b", template) is not None
    if "<tool_call>" in template:
        return HermesFormat(template_tools=has_tools)
    if "[TOOL_CALLS]" in template:
        return MistralFormat(template_tools=has_tools)
    if ">>>all" in template or (">>>" in template and "recipient" in template):
        return FunctionaryFormat(template_tools=has_tools)
    if "<|python_tag|>" in template or (
        "<|start_header_id|>" in template and "ipython" in template
    ):
        return Llama3Format(template_tools=has_tools)
    return GenericFormat()


def get_tool_format(spec: str | ToolCallFormat | None, template: str | None) -> ToolCallFormat:
    """A format from a name, an instance, or (None) detected from ``template``."""
    if spec is None:
        return detect_tool_format(template)
    if isinstance(spec, ToolCallFormat):
        return spec
    if isinstance(spec, str) and spec in TOOL_FORMATS:
        cls = TOOL_FORMATS[spec]
        has_tools = bool(template) and re.search(r"\btools\b", template or "") is not None
        return cls(template_tools=has_tools)
    raise InvalidArgumentError(
        f"unknown tool format {describe(spec)}; known: {', '.join(TOOL_FORMATS)}"
    )


def thinking_tags(template: str | None) -> list[tuple[str, str]]:
    """Reasoning markers to recognise: ``<think>`` always, others when the template uses them."""
    tags = [THINKING_TAGS[0]]
    tags += [pair for pair in THINKING_TAGS[1:] if template and pair[0] in template]
    return tags


# ----------------------------------------------------------------------------- stream parsing
@dataclass
class StreamParser:
    """Splits generated text, as it arrives, into thinking, text and tool-call events.

    ``fmt`` is None when no tools are offered (no call detection). Text is emitted as soon as it
    cannot be the start of a marker; argument fragments as they are decoded.
    """

    fmt: ToolCallFormat | None
    tags: list[tuple[str, str]] = field(default_factory=lambda: [THINKING_TAGS[0]])
    in_thinking: bool = False
    # text the prompt ended with that belongs to the reply's syntax (Functionary's ">>>")
    prefix: str = ""
    _buf: str = ""
    _region: str | None = None
    _at_start: bool = True
    _after_thinking: bool = False
    _started: list[PartialCall] = field(default_factory=list)
    _ids: list[str] = field(default_factory=list)
    _sent_args: list[int] = field(default_factory=list)
    _contents: list[Content] = field(default_factory=list)
    _n_done: int = 0
    error: str | None = None

    def __post_init__(self) -> None:
        self._buf = self.prefix

    def feed(self, text: str) -> list[ParseEvent]:
        """Events for the next piece of generated text. Never raises (see :meth:`finish`)."""
        self._buf += text
        try:
            return self._drain(final=False)
        except Exception as exc:
            return self._give_up(exc)

    def finish(self) -> tuple[list[ParseEvent], list[Content]]:
        """Flush held-back text, parse the call region; return (last events, all contents).

        Never raises: output that cannot be parsed is kept as text and described in
        :attr:`error`."""
        try:
            events = self._drain(final=True)
            if self._region is not None:
                events += self._finish_calls()
        except Exception as exc:
            events = self._give_up(exc)
        return events, self._contents

    def _give_up(self, exc: Exception) -> list[ParseEvent]:
        """After an unexpected parse failure: the rest of the output is plain text."""
        self.error = self.error or f"could not parse the output ({type(exc).__name__}: {exc}); kept as text"
        rest = (self._region or "") + self._buf
        self.fmt, self.tags, self.in_thinking = None, [], False
        self._region, self._buf = None, ""
        return [self._record(TextDelta(rest))] if rest else []

    # -- internals
    def _record(self, event: ParseEvent) -> ParseEvent:
        last = self._contents[-1] if self._contents else None
        if isinstance(event, TextDelta):
            if isinstance(last, ContentText):
                self._contents[-1] = ContentText(last.text + event.text)
            else:
                self._contents.append(ContentText(event.text))
        elif isinstance(event, ThinkingDelta):
            if isinstance(last, ContentThinking):
                self._contents[-1] = ContentThinking(last.thinking + event.text)
            else:
                self._contents.append(ContentThinking(event.text))
        elif isinstance(event, ToolRequestDone):
            self._contents.append(event.request)
        return event

    def _emit_text(self, text: str, events: list[ParseEvent]) -> None:
        if self._at_start and self._after_thinking:
            text = text.lstrip()
        if text:
            self._at_start = False
            events.append(self._record(TextDelta(text)))

    def _drain(self, final: bool) -> list[ParseEvent]:
        events: list[ParseEvent] = []
        while self._buf:
            if self._region is not None:
                self._region += self._buf
                self._buf = ""
                events += self._scan()
                break
            if self.in_thinking:
                close = next(c for o, c in self.tags if o == self._open_tag)
                idx = self._buf.find(close)
                if idx >= 0:
                    if idx:
                        events.append(self._record(ThinkingDelta(self._buf[:idx])))
                    self._buf = self._buf[idx + len(close) :]
                    self.in_thinking = False
                    self._after_thinking = True
                    self._at_start = True
                    continue
                keep = 0 if final else holdback(self._buf, [close])
                out = self._buf[: len(self._buf) - keep]
                if out:
                    events.append(self._record(ThinkingDelta(out)))
                self._buf = self._buf[len(out) :]
                break
            if not self._step_text(events, final):
                break
        return events

    _open_tag: str = "<think>"

    def _step_text(self, events: list[ParseEvent], final: bool) -> bool:
        """Process text-state buffer; True when the state changed and draining should go on."""
        buf = self._buf
        triggers = self.fmt.triggers if self.fmt else ()
        start_triggers = self.fmt.start_triggers if self.fmt else ()
        if self._at_start and start_triggers:
            stripped = buf.lstrip()
            if any(stripped.startswith(t) for t in start_triggers):
                self._region = stripped
                self._buf = ""
                return True
            if not final and (not stripped or any(t.startswith(stripped) for t in start_triggers)):
                return False
        # earliest thinking tag or trigger
        hits: list[tuple[int, str, str]] = []
        for open_tag, _ in self.tags:
            i = buf.find(open_tag)
            if i >= 0:
                hits.append((i, "think", open_tag))
        for t in triggers:
            i = buf.find(t)
            if i >= 0:
                hits.append((i, "call", t))
        if hits:
            i, kind, marker = min(hits)
            if i:
                self._emit_text(buf[:i], events)
            if kind == "think":
                self._open_tag = marker
                self.in_thinking = True
                self._buf = buf[i + len(marker) :]
                return True
            after = buf[i + len(marker) :]
            text_prefix = self.fmt.text_prefix() if self.fmt else ""
            if text_prefix and after.startswith(text_prefix):  # a marker introducing more text
                self._buf = after[len(text_prefix) :]
                return True
            if text_prefix and text_prefix.startswith(after) and not final:
                self._buf = buf[i:]
                return False
            self._region = buf[i:]
            self._buf = ""
            return True
        markers = [o for o, _ in self.tags] + list(triggers)
        keep = 0 if final else holdback(buf, markers)
        out = buf[: len(buf) - keep]
        if out:
            self._emit_text(out, events)
        self._buf = buf[len(out) :]
        return False

    def _scan(self) -> list[ParseEvent]:
        assert self.fmt is not None and self._region is not None
        events: list[ParseEvent] = []
        for k, partial in enumerate(self.fmt.scan_calls(self._region)):
            if partial.name is None:
                break
            if k >= len(self._started):
                self._started.append(partial)
                self._ids.append(new_tool_call_id())
                self._sent_args.append(0)
                events.append(ToolRequestStart(k, self._ids[k], _clean(partial.name)))
            text = partial.arguments_text
            if len(text) > self._sent_args[k]:
                delta = text[self._sent_args[k] :]
                events.append(ToolRequestArgumentsDelta(k, self._ids[k], delta))
                self._sent_args[k] = len(text)
            if partial.complete and k == self._n_done:
                try:
                    args = _clean(json.loads(text))
                except (ValueError, RecursionError):  # malformed, or nested past the stack
                    continue
                if isinstance(args, dict):
                    request = ContentToolRequest(self._ids[k], _clean(partial.name), args)
                    events.append(self._record(ToolRequestDone(k, request)))
                    self._n_done += 1
        return events

    def _finish_calls(self) -> list[ParseEvent]:
        assert self.fmt is not None and self._region is not None
        events: list[ParseEvent] = []
        try:
            events += self._scan()
            parsed = self.fmt.parse_calls(self._region)
            calls = [(_clean(name), _clean(args)) for name, args, _model_id in parsed.calls]
        except Exception as exc:  # ValueError, ToolError, RecursionError (deep nesting)...
            self.error = (f"malformed {self.fmt.name} tool call ({type(exc).__name__}: "
                          f"{str(exc)[:200]}); kept as text: {self._region[:200]!r}")
            events.append(self._record(TextDelta(self._region)))
            return events
        for k, (name, args) in enumerate(calls):
            if k < self._n_done:
                continue
            if k >= len(self._started):
                self._started.append(PartialCall(name, json.dumps(args), True))
                self._ids.append(new_tool_call_id())
                events.append(ToolRequestStart(k, self._ids[k], name))
                events.append(ToolRequestArgumentsDelta(k, self._ids[k], json.dumps(args)))
            request = ContentToolRequest(self._ids[k], name, args)
            events.append(self._record(ToolRequestDone(k, request)))
        if parsed.trailing_text.strip():
            events.append(self._record(TextDelta(parsed.trailing_text)))
        return events


def parse_output(
    text: str,
    fmt: ToolCallFormat | None,
    *,
    tags: list[tuple[str, str]] | None = None,
    in_thinking: bool = False,
    prefix: str = "",
) -> tuple[list[Content], str | None]:
    """Parse a whole reply into contents; returns (contents, error or None). Never raises: a
    tool call that does not parse is kept as text and the error says why."""
    parser = StreamParser(fmt, tags or [THINKING_TAGS[0]], in_thinking=in_thinking, prefix=prefix)
    parser.feed(text)
    _, contents = parser.finish()
    return contents, parser.error


def make_parser(
    fmt: ToolCallFormat | None, tags: list[tuple[str, str]], prompt: str
) -> StreamParser:
    """A parser for the reply to ``prompt``: starts inside a thinking block when the prompt opened
    one (templates that prefill ``<think>``), and is fed the reply syntax the prompt ends with."""
    open_tag = None
    for opening, closing in tags:
        if prompt.rfind(opening) > prompt.rfind(closing):
            open_tag = opening
    parser = StreamParser(
        fmt, tags, in_thinking=open_tag is not None, prefix=fmt.reply_prefix(prompt) if fmt else ""
    )
    if open_tag is not None:
        parser._open_tag = open_tag
    return parser
