"""How the CLI shows a streamed reply: answer text as it comes, the model's thinking dimmed, tool
calls with their arguments and tool results on lines of their own.

:class:`ReplyWriter` renders with ``rich`` when it is installed and stdout is a terminal, as plain
text otherwise (no escape codes in a pipe or a file).
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

_RESULT_PREVIEW = 200  # characters of a tool result shown


def _rich_console(stream: TextIO) -> Any:
    """A rich Console on ``stream`` when rich is installed and ``stream`` is a terminal, else None."""
    if not stream.isatty():
        return None
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console(file=stream, highlight=False, soft_wrap=True)


def _one_line(text: str, limit: int = _RESULT_PREVIEW) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def call_text(name: str, arguments: Any) -> str:
    """``name({"arg": 1})``: a tool call as the CLI shows it."""
    try:
        args = json.dumps(arguments, ensure_ascii=False)
    except (TypeError, ValueError):
        args = repr(arguments)
    return f"{name}({args})"


class ReplyWriter:
    """Writes the stream events of a chat reply (see :mod:`llamaprov.chat.events`).

    ``stream`` takes the answer; ``side`` (default: ``stream``) the thinking, tool calls and notes
    in plain mode, so that ``llamaprov ask ... > file`` keeps only the answer in the file.
    ``styled``: None picks rich on a terminal, False forces plain text.
    """

    def __init__(self, stream: TextIO | None = None, *, side: TextIO | None = None,
                 styled: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.side = side if side is not None else self.stream
        self._console = None if styled is False else _rich_console(self.stream)
        self._at_line_start = {id(self.stream): True, id(self.side): True}
        self._thinking = False

    @property
    def styled(self) -> bool:
        """True when output goes through rich."""
        return self._console is not None

    # ------------------------------------------------------------------ writing
    def _put(self, text: str, *, style: str | None = None, side: bool = False) -> None:
        if not text:
            return
        target = self.side if side and self._console is None else self.stream
        if self._console is not None:
            self._console.print(text, style=style, end="", markup=False, highlight=False)
            self._console.file.flush()
        else:
            target.write(text)
            target.flush()
        self._at_line_start[id(target)] = text.endswith("\n")

    def _line_start(self, *, side: bool = False) -> None:
        target = self.side if side and self._console is None else self.stream
        if not self._at_line_start.get(id(target), True):
            self._put("\n", side=side)

    def _end_thinking(self) -> None:
        if self._thinking:
            self._thinking = False
            self._line_start(side=True)

    def text(self, piece: str) -> None:
        """A piece of the answer."""
        self._end_thinking()
        self._put(piece)

    def thinking(self, piece: str) -> None:
        """A piece of the model's reasoning: dimmed (plain: after a ``thinking:`` mark)."""
        if not self._thinking:
            self._thinking = True
            self._line_start(side=True)
            if self._console is None:
                self._put("thinking: ", side=True)
            piece = piece.lstrip("\n")
        self._put(piece, style="dim italic", side=True)

    def tool_call(self, name: str, arguments: Any) -> None:
        """A tool call the model made, with its arguments."""
        self._end_thinking()
        self._line_start(side=True)
        self._put(f"-> {call_text(name, arguments)}\n", style="bold cyan", side=True)

    def tool_result(self, name: str | None, text: str, *, error: bool = False) -> None:
        """What a tool returned (shortened to one line)."""
        self._line_start(side=True)
        label = "error" if error else "result"
        self._put(f"<- {name or 'tool'} {label}: {_one_line(text)}\n",
                  style="red" if error else "cyan", side=True)

    def note(self, text: str) -> None:
        """A line of the CLI's own (a command's outcome), dimmed."""
        self._end_thinking()
        self._line_start()
        self._put(text + "\n", style="dim")

    def end(self) -> None:
        """Finish the reply: the cursor goes to the start of a line."""
        self._end_thinking()
        self._line_start()
        self._line_start(side=True)

    def event(self, event: Any) -> None:
        """Render one stream event of ``chat.stream(..., content=True)``."""
        from .chat import TextDelta, ThinkingDelta, ToolRequestDone, ToolResultEvent

        if isinstance(event, TextDelta):
            self.text(event.text)
        elif isinstance(event, ThinkingDelta):
            self.thinking(event.text)
        elif isinstance(event, ToolRequestDone):
            self.tool_call(event.request.name, event.request.arguments)
        elif isinstance(event, ToolResultEvent):
            result = event.result
            text = result.error if result.error is not None else result.as_text()
            self.tool_result(result.name, text, error=result.is_error)
