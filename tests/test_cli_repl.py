"""``llamaprov chat``: the REPL in a pseudo-terminal on the default model, and its parts (reply
rendering, slash commands, tools from a file, history) on scripted chats."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from _stub_provider import StubProvider

from llamaprov._cli_output import ReplyWriter
from llamaprov._cli_repl import HISTORY_LENGTH, Repl, data_dir, load_tool_functions
from llamaprov.chat import (
    Chat,
    ContentText,
    ContentToolRequest,
    ContentToolResult,
    TextDelta,
    ThinkingDelta,
    TokenUsage,
    ToolDef,
    ToolRequestDone,
    ToolResultEvent,
    Turn,
    TurnDone,
)
from llamaprov.errors import ToolError

REPO = Path(__file__).resolve().parents[1]
TOOLS_FILE = '''
from __future__ import annotations

from dataclasses import dataclass
from os.path import join  # imported: not a tool


@dataclass
class Point:
    x: int
    y: int


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def norm1(p: Point) -> int:
    """The taxicab length of a point."""
    return abs(p.x) + abs(p.y)

def _helper() -> None:
    pass
'''


def test_chat_in_a_terminal(tmp_path):
    pexpect = pytest.importorskip("pexpect")
    env = {**os.environ, "PYTHONPATH": str(REPO), "LLAMAPROV_DATA_DIR": str(tmp_path / "data")}
    (tmp_path / "tools.py").write_text(TOOLS_FILE)
    child = pexpect.spawn(sys.executable, ["-m", "llamaprov.cli", "chat", "--max-tokens", "16",
                                           "--temperature", "0"],
                          cwd=str(tmp_path), env=env, encoding="utf-8", timeout=240, dimensions=(40, 200))
    try:
        child.expect("commands: ")
        child.expect("> ")
        child.sendline("What is the capital of France?")
        child.expect("> ")
        answer = child.before.split("France?", 1)[1].strip()
        assert answer, "no answer was streamed"
        child.sendline("/tokens")
        child.expect(r"tokens: (\d+) prompt \(\d+ from cache\), (\d+) generated")
        assert int(child.match.group(1)) > 5 and 0 < int(child.match.group(2)) <= 16
        child.expect("> ")
        child.sendline("/tools tools.py")
        child.expect(r"tools added: add, norm1\)")
        child.expect("> ")
        child.sendline("/save conv.chat")
        child.expect("saved 2 turns")
        child.expect("> ")
        child.sendline("/exit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, child.before
    assert (tmp_path / "conv.chat").stat().st_size > 0
    history = (tmp_path / "data" / "chat_history").read_text().splitlines()
    assert "What is the capital of France?" in history and "/exit" in history


# ------------------------------------------------------------------ rendering of a reply
def _reply_events() -> list[Any]:
    request = ContentToolRequest("c1", "add", {"a": 2, "b": 3})
    return [
        ThinkingDelta("\nI should add."), ThinkingDelta(" Then answer."),
        ToolRequestDone(0, request),
        ToolResultEvent(ContentToolResult("c1", value=5, name="add")),
        ToolResultEvent(ContentToolResult("c2", error="boom " * 100, name="div")),
        TextDelta("It is "), TextDelta("5."),
    ]


def test_plain_rendering_marks_thinking_and_tool_calls():
    answer, side = io.StringIO(), io.StringIO()
    out = ReplyWriter(answer, side=side)
    assert not out.styled  # a StringIO is no terminal
    for event in _reply_events():
        out.event(event)
    out.end()
    assert answer.getvalue() == "It is 5.\n"
    lines = side.getvalue().splitlines()
    assert lines[0] == "thinking: I should add. Then answer."
    assert lines[1] == '-> add({"a": 2, "b": 3})'
    assert lines[2] == "<- add result: 5"
    assert lines[3].startswith("<- div error: boom boom") and len(lines[3]) < 230


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_styled_rendering_dims_the_thinking_only():
    pytest.importorskip("rich")
    stream = _Terminal()
    out = ReplyWriter(stream)
    assert out.styled
    for event in _reply_events():
        out.event(event)
    out.end()
    text = stream.getvalue()
    thinking_at = text.index("I should add.")
    assert "\x1b[2" in text[max(0, thinking_at - 12):thinking_at]  # dim starts right before it
    answer_at = text.index("It is ")
    assert "\x1b[2" not in text[answer_at - 6:answer_at] and "thinking:" not in text
    assert 'add({"a": 2, "b": 3})' in text


def test_plain_when_asked_even_on_a_terminal():
    stream = _Terminal()
    out = ReplyWriter(stream, styled=False)
    out.event(TextDelta("hi"))
    out.end()
    assert stream.getvalue() == "hi\n"


# ------------------------------------------------------------------ tools from a file
def test_tool_file_gives_its_own_public_functions(tmp_path):
    path = tmp_path / "tools.py"
    path.write_text(TOOLS_FILE)
    functions = load_tool_functions(path)
    assert [f.__name__ for f in functions] == ["add", "norm1"] and functions[0](2, 3) == 5
    chat = Chat(Scripted([]))
    for func in functions:  # string annotations naming the file's own classes resolve
        chat.register_tool(func)
    norm1 = chat.get_tools()[1]
    assert norm1.name == "norm1" and "x" in json.dumps(norm1.parameters)


@pytest.mark.parametrize(("name", "source", "message"), [
    ("broken.py", "def f(:\n", "failed to run: SyntaxError"),
    ("raises.py", "raise SystemExit(3)\n", "failed to run: SystemExit"),
    ("empty.py", "X = 1\n", "defines no public function"),
    ("notes.txt", "def f(): pass\n", "Python file"),
])
def test_bad_tool_files_raise_tool_error(tmp_path, name, source, message):
    path = tmp_path / name
    path.write_text(source)
    with pytest.raises(ToolError, match=message):
        load_tool_functions(path)
    with pytest.raises(ToolError, match="no such file"):
        load_tool_functions(tmp_path / "missing.py")


# ------------------------------------------------------------------ the loop on a scripted chat
class Scripted(StubProvider):
    """Answers every request with the next prepared text, streamed in two pieces."""

    def __init__(self, replies: Sequence[str]) -> None:
        self.replies = list(replies)
        self.requests: list[list[Turn]] = []

    def stream_perform(self, turns: Sequence[Turn], *, tools: Sequence[ToolDef] = (), type: Any = None,
                       params: Any = None, tool_choice: str = "auto", parallel_tool_calls: bool | None = None,
                       max_tool_calls: int | None = None) -> Iterator[Any]:
        self.requests.append(list(turns))
        text = self.replies.pop(0)
        half = len(text) // 2
        yield TextDelta(text[:half])
        yield TextDelta(text[half:])
        yield TurnDone(Turn("assistant", [ContentText(text)], tokens=TokenUsage(10, 3), finish_reason="eog"))


def _run(chat: Chat, lines: Sequence[str], monkeypatch, capsys) -> tuple[int, str, str]:
    feed = iter(lines)

    def fake_input(prompt: str = "") -> str:
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr("builtins.input", fake_input)
    status = Repl(chat, ReplyWriter(), interactive=False).run()
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_commands_act_on_the_conversation(tmp_path, monkeypatch, capsys):
    provider = Scripted(["Paris.", "Blue.", "Red."])
    chat = Chat(provider)
    save = tmp_path / "c.chat"
    status, out, err = _run(chat, [
        "Capital of France?", "/tokens", f"/save {save}", "/system Be brief.", "Color?",
        "/reset", f"/load {save}", "/tokens", "Another color?", "/nope", "/exit", "never read",
    ], monkeypatch, capsys)
    assert status == 0 and err == ""
    assert "Paris.\n" in out and "Blue.\n" in out
    assert "(tokens: 10 prompt (0 from cache), 3 generated, 13 in all)" in out
    assert f"(saved 2 turns to {save})" in out
    assert "(system prompt set; conversation cleared)" in out and "(conversation cleared)" in out
    assert "unknown command '/nope'" in out
    assert len(provider.replies) == 0
    # the system prompt reached the model; the loaded chat went on from the saved exchange
    assert provider.requests[1][0].role == "system" and provider.requests[1][0].text == "Be brief."
    assert [t.text for t in provider.requests[2]] == ["Capital of France?", "Paris.", "Another color?"]


def test_errors_in_the_loop_are_one_line_and_the_loop_goes_on(tmp_path, monkeypatch, capsys):
    chat = Chat(Scripted(["Still here."]))
    status, out, err = _run(chat, [f"/load {tmp_path / 'missing.chat'}", "/tools nope.py", "/save",
                                   "Hello?"], monkeypatch, capsys)
    assert status == 0 and "Still here." in out
    lines = err.splitlines()
    assert len(lines) == 3 and all(line.startswith("llamaprov: error: ") for line in lines)
    assert "Traceback" not in err


# ------------------------------------------------------------------ history
def test_data_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LLAMAPROV_DATA_DIR", str(tmp_path / "d"))
    assert data_dir() == tmp_path / "d"
    monkeypatch.delenv("LLAMAPROV_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert data_dir() == tmp_path / "xdg" / "llamaprov"


def test_history_file_stays_small(tmp_path, monkeypatch, capsys):
    readline = pytest.importorskip("readline")
    path = tmp_path / "hist"
    long = "/system " + "x" * 5000  # a pasted document: not kept
    lines = [f"/system line {i}" for i in range(HISTORY_LENGTH + 50)] + [long, "/exit"]
    feed = iter(lines)
    monkeypatch.setattr("builtins.input", lambda prompt="": next(feed))
    readline.clear_history()
    Repl(Chat(Scripted([])), ReplyWriter(), interactive=True, history=path).run()
    capsys.readouterr()
    saved = path.read_text().splitlines()
    assert len(saved) <= HISTORY_LENGTH and saved[-1] == "/exit" and long not in saved
    assert f"/system line {HISTORY_LENGTH + 49}" in saved
    readline.clear_history()
