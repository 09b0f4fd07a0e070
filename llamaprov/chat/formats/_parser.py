"""The stream parser: generated text, as it arrives, split into thinking, text and tool-call events."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from llamaprov.chat.content import Content, ContentToolRequest
from llamaprov.chat.events import (
    ParseEvent,
    TextDelta,
    ThinkingDelta,
    ToolRequestArgumentsDelta,
    ToolRequestDone,
    ToolRequestStart,
    add_delta,
)
from llamaprov.chat.formats._base import ToolCallFormat
from llamaprov.chat.formats._json import PartialCall, clean_json
from llamaprov.chat.tools import new_tool_call_id
from llamaprov.engine._text import holdback

# reasoning markers (open, close); ``<think>`` is always recognised
THINKING_TAGS: tuple[tuple[str, str], ...] = (
    ("<think>", "</think>"),
    ("<thinking>", "</thinking>"),
    ("<|START_THINKING|>", "<|END_THINKING|>"),
    ("<seed:think>", "</seed:think>"),  # Seed-OSS
    ("[THINK]", "[/THINK]"),  # Magistral, Ministral 3 reasoning
    ("<|inner_prefix|>", "<|inner_suffix|>"),  # Apertus
    ("<mm:think>", "</mm:think>"),  # MiniMax-M3
    ("<think:opensource>", "</think:opensource>"),  # Hunyuan 3 (built as '<think{}>'.format(HYTK))
)

# a template constant ({% set NAME = 'text' %}) and a string formatted with one ('<x{}>'.format(NAME))
_SET_CONSTANT = re.compile(r"""\{%-?\s*set\s+(\w+)\s*=\s*(['"])([^'"{}]*)\2\s*-?%\}""")
_FORMATTED = re.compile(r"""(['"])([^'"{}]*)\{\}([^'"{}]*)\1\.format\((\w+)\)""")


def expand_formatted_markers(template: str) -> str:
    """``template`` with each string formatted with one of its constants written out, so that
    markers it builds that way are found as text (Hunyuan 3's ``'<think{}>'.format(HYTK)`` with
    ``HYTK = ':opensource'``)."""
    if ".format(" not in template:
        return template
    constants = {m[1]: m[3] for m in _SET_CONSTANT.finditer(template)}

    def expand(m: re.Match[str]) -> str:
        value = constants.get(m[4])
        return m[0] if value is None else f"{m[1]}{m[2]}{value}{m[3]}{m[1]}"

    return _FORMATTED.sub(expand, template)


def thinking_tags(template: str | None) -> list[tuple[str, str]]:
    """Reasoning markers to recognise: ``<think>`` always, others when the template uses them."""
    text = expand_formatted_markers(template) if template else ""
    tags = [THINKING_TAGS[0]]
    tags += [pair for pair in THINKING_TAGS[1:] if pair[0] in text]
    return tags



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
    # markers dropped from the text (None: ``fmt``'s); a reply without tools is parsed with no
    # format, but its answer still carries the family's header (Solar Open's <|content|>)
    text_markers: tuple[str, ...] | None = None
    _buf: str = ""
    _region: str | None = None
    _at_start: bool = True
    _after_thinking: bool = False
    _started: list[PartialCall] = field(default_factory=list)
    _ids: list[str] = field(default_factory=list)
    _sent_args: list[int] = field(default_factory=list)
    _contents: list[Content] = field(default_factory=list)
    _n_done: int = 0
    # inside an answer wrapped as a JSON string (see ToolCallFormat.answer_prefix): None before,
    # False while the string runs, True once it closed
    _answer_closed: bool | None = None
    error: str | None = None
    # a call region started but did not parse (the output was cut off, or malformed)
    call_unfinished: bool = False

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
        add_delta(self._contents, event)
        if isinstance(event, ToolRequestDone):
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
            if self._answer_closed is not None:
                self._step_answer(events, final)
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
        answer = self.fmt.answer_prefix() if self.fmt else ""
        if self._at_start and answer:
            stripped = buf.lstrip()
            if stripped.startswith(answer):
                self._answer_closed = False
                self._buf = stripped[len(answer):]
                return True
            if not final and answer.startswith(stripped):
                return False  # "{" may still become a call
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
        text_markers = self.text_markers if self.text_markers is not None else \
            self.fmt.text_markers if self.fmt else ()
        for t in text_markers:
            i = buf.find(t)
            if i >= 0:
                hits.append((i, "drop", t))
        if hits:
            i, kind, marker = min(hits)
            if i:
                self._emit_text(buf[:i], events)
            if kind == "drop":
                self._buf = buf[i + len(marker):]
                return True
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
        markers = [o for o, _ in self.tags] + list(triggers) + list(text_markers)
        keep = 0 if final else holdback(buf, markers)
        out = buf[: len(buf) - keep]
        if out:
            self._emit_text(out, events)
        self._buf = buf[len(out) :]
        return False

    def _step_answer(self, events: list[ParseEvent], final: bool) -> None:
        """Decode the answer's JSON string as far as it is complete; drop what follows it."""
        buf, out, i = self._buf, [], 0
        while i < len(buf) and not self._answer_closed:
            c = buf[i]
            if c == '"':
                self._answer_closed = True
                i = len(buf)  # the object's closing brace (the grammar allows nothing else)
            elif c != "\\":
                out.append(c)
                i += 1
            else:
                end = _escape_end(buf, i)
                if end is None:
                    if final:
                        i = len(buf)  # an escape cut off by the end of output
                    break
                out.append(_unescape(buf[i:end]))
                i = end
        self._buf = "" if self._answer_closed else buf[i:]
        if out:
            self._emit_text("".join(out), events)

    def _scan(self) -> list[ParseEvent]:
        assert self.fmt is not None and self._region is not None
        events: list[ParseEvent] = []
        for k, partial in enumerate(self.fmt.scan_calls(self._region)):
            if partial.name is None:
                break
            if k >= len(self._started):
                self._started.append(partial)
                self._ids.append(self._new_id(partial.id))
                self._sent_args.append(0)
                events.append(ToolRequestStart(k, self._ids[k], clean_json(partial.name)))
            text = partial.arguments_text
            if len(text) > self._sent_args[k]:
                delta = text[self._sent_args[k] :]
                events.append(ToolRequestArgumentsDelta(k, self._ids[k], delta))
                self._sent_args[k] = len(text)
            if partial.complete and k == self._n_done:
                try:
                    args = clean_json(json.loads(text))
                except (ValueError, RecursionError):  # malformed, or nested past the stack
                    continue
                if isinstance(args, dict):
                    request = ContentToolRequest(self._ids[k], clean_json(partial.name), args)
                    events.append(self._record(ToolRequestDone(k, request)))
                    self._n_done += 1
        return events

    def _new_id(self, model_id: str | None) -> str:
        """The id of the next call: the model's own (a format that has ids), unless it has none
        or repeats one of this reply's; else a fresh one."""
        if model_id and self.fmt is not None and self.fmt.keeps_call_ids and model_id not in self._ids:
            return model_id
        return new_tool_call_id()

    def _finish_calls(self) -> list[ParseEvent]:
        assert self.fmt is not None and self._region is not None
        events: list[ParseEvent] = []
        try:
            events += self._scan()
            parsed = self.fmt.parse_calls(self._region)
            calls = [(clean_json(name), clean_json(args), model_id)
                     for name, args, model_id in parsed.calls]
        except Exception as exc:  # ValueError, ToolError, RecursionError (deep nesting)...
            self.call_unfinished = True
            self.error = (f"malformed {self.fmt.name} tool call ({type(exc).__name__}: "
                          f"{str(exc)[:200]}); kept as text: {self._region[:200]!r}")
            events.append(self._record(TextDelta(self._region)))
            return events
        for k, (name, args, model_id) in enumerate(calls):
            if k < self._n_done:
                continue
            if k >= len(self._started):
                self._started.append(PartialCall(name, json.dumps(args), True))
                self._ids.append(self._new_id(model_id))
                events.append(ToolRequestStart(k, self._ids[k], name))
                events.append(ToolRequestArgumentsDelta(k, self._ids[k], json.dumps(args)))
            request = ContentToolRequest(self._ids[k], name, args)
            events.append(self._record(ToolRequestDone(k, request)))
        if parsed.trailing_text.strip():
            events.append(self._record(TextDelta(parsed.trailing_text)))
        return events


def _escape_end(text: str, i: int) -> int | None:
    """End of the JSON string escape at ``text[i]`` (a backslash); None while it is incomplete.
    A high surrogate (``\uD83D``) takes the escape of its low half with it."""
    if i + 1 >= len(text):
        return None
    if text[i + 1] != "u":
        return i + 2
    if i + 6 > len(text):
        return None
    if text[i + 2:i + 4].lower() not in ("d8", "d9", "da", "db"):
        return i + 6
    tail = text[i + 6:i + 12]
    if len(tail) < 6 and "\\u".startswith(tail[:2]):
        return None
    return i + 12 if tail.startswith("\\u") else i + 6


def _unescape(escape: str) -> str:
    """One JSON string escape decoded; a lone surrogate becomes U+FFFD (it has no UTF-8)."""
    try:
        text = json.loads(f'"{escape}"')
    except ValueError:
        return escape
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def parse_output(
    text: str,
    fmt: ToolCallFormat | None,
    *,
    tags: list[tuple[str, str]] | None = None,
    in_thinking: bool = False,
    prefix: str = "",
    text_markers: tuple[str, ...] | None = None,
) -> tuple[list[Content], str | None]:
    """Parse a whole reply into contents; returns (contents, error or None). Never raises: a
    tool call that does not parse is kept as text and the error says why. ``text_markers``:
    see :class:`StreamParser`."""
    parser = StreamParser(fmt, tags or [THINKING_TAGS[0]], in_thinking=in_thinking, prefix=prefix,
                          text_markers=text_markers)
    parser.feed(text)
    _, contents = parser.finish()
    return contents, parser.error


def make_parser(
    fmt: ToolCallFormat | None, tags: list[tuple[str, str]], prompt: str,
    text_markers: tuple[str, ...] | None = None,
) -> StreamParser:
    """A parser for the reply to ``prompt``: starts inside a thinking block when the prompt opened
    one (templates that prefill ``<think>``), and is fed the reply syntax the prompt ends with.
    ``text_markers``: see :class:`StreamParser`."""
    open_tag = None
    for opening, closing in tags:
        if prompt.rfind(opening) > prompt.rfind(closing):
            open_tag = opening
    parser = StreamParser(
        fmt, tags, in_thinking=open_tag is not None, prefix=fmt.reply_prefix(prompt) if fmt else "",
        text_markers=text_markers,
    )
    if open_tag is not None:
        parser._open_tag = open_tag
    return parser
