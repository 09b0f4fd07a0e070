"""``llamaprov chat``: the read-eval-print loop of a chat, its slash commands, its input history,
and the loading of tool functions from a Python file (``/tools FILE.py``, ``--tools``).

:func:`run_repl` reads lines from stdin (with readline line editing and history on a terminal),
streams each reply through a :class:`~llamaprov._cli_output.ReplyWriter`, and turns a failed
command or reply into one error line; the loop goes on.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._cli_output import ReplyWriter
from .errors import InvalidArgumentError, LlamaProvError, ToolError

HELP = (
    "commands: /system TEXT (new system prompt), /tools FILE.py (its functions become tools), "
    "/save FILE, /load FILE, /tokens, /reset (forget the conversation), /help, /exit"
)
#: Most lines the history file keeps.
HISTORY_LENGTH = 500
# longer input lines (pasted documents) are not put in the history
_HISTORY_MAX_LINE = 2000


# ---------------------------------------------------------------------- tools from a file
def load_tool_functions(path: str | os.PathLike[str]) -> list[Callable[..., Any]]:
    """The public functions defined in the Python file ``path`` (not those it imports), in the
    order of the file. Running the file is running its code: it is the user's own file.

    Raises :class:`ToolError` when the file is missing, fails to run, or defines no function.
    """
    p = Path(path)
    if p.suffix != ".py" or not p.is_file():
        raise ToolError(f"tools come from a Python file (.py); no such file: {str(p)!r}")
    module_name = f"llamaprov_user_tools_{abs(hash(str(p.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, p)
    if spec is None or spec.loader is None:
        raise ToolError(f"cannot load {str(p)!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    # registered, as an imported module is: dataclasses and string annotations look it up there
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # the user's code: any failure is reported, not raised
        del sys.modules[module_name]
        raise ToolError(f"{str(p)!r} failed to run: {type(exc).__name__}: {exc}") from None
    functions: list[Callable[..., Any]] = [
        value for name, value in vars(module).items()
        if inspect.isfunction(value) and value.__module__ == module_name and not name.startswith("_")
    ]
    if not functions:
        raise ToolError(f"{str(p)!r} defines no public function to use as a tool")
    return functions


def register_tool_file(chat: Any, path: str | os.PathLike[str]) -> list[str]:
    """Register the functions of ``path`` as tools of ``chat``; returns their names."""
    return [chat.register_tool(func).name for func in load_tool_functions(path)]


# ------------------------------------------------------------------------------- history
def data_dir() -> Path:
    """The user's data directory for llamaprov (``$LLAMAPROV_DATA_DIR``, else the platform's:
    ``$XDG_DATA_HOME/llamaprov`` or ``~/.local/share/llamaprov``, ``~/Library/Application
    Support/llamaprov`` on macOS, ``%LOCALAPPDATA%\\llamaprov`` on Windows)."""
    explicit = os.environ.get("LLAMAPROV_DATA_DIR")
    if explicit:
        return Path(explicit)
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "llamaprov"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "llamaprov"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "llamaprov"


class _History:
    """readline line editing, with the history in a file of at most :data:`HISTORY_LENGTH` lines
    (none when ``path`` is None). Without readline (Windows) input is plain."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        try:
            import readline
        except ImportError:
            self._readline: Any = None
            return
        self._readline = readline
        readline.set_auto_history(False)
        readline.set_history_length(HISTORY_LENGTH)
        if path is not None and path.is_file():
            with contextlib.suppress(OSError):  # an unreadable history is no reason to refuse the chat
                readline.read_history_file(str(path))

    def add(self, line: str) -> None:
        if self._readline is not None and line.strip() and len(line) <= _HISTORY_MAX_LINE:
            self._readline.add_history(line)

    def save(self) -> None:
        if self._readline is None or self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._readline.write_history_file(str(self.path))  # truncated to the history length
        except OSError as exc:
            print(f"llamaprov: could not save the history to {str(self.path)!r}: {exc}", file=sys.stderr)


# ---------------------------------------------------------------------------------- REPL
class Repl:
    """A chat's read-eval-print loop. ``chat`` is the conversation (``/load`` replaces it on the
    same provider); ``out`` renders replies and notes; ``interactive`` shows a prompt and a
    banner and keeps a readline history in ``history`` (None: no history file)."""

    def __init__(self, chat: Any, out: ReplyWriter, *, interactive: bool,
                 history: Path | None = None) -> None:
        self.chat = chat
        self.out = out
        self.interactive = interactive
        self._history = _History(history) if interactive else None
        self._commands: dict[str, Callable[[str], bool]] = {
            "/exit": self._exit, "/quit": self._exit, "/reset": self._reset,
            "/system": self._system, "/tools": self._tools, "/save": self._save,
            "/load": self._load, "/tokens": self._tokens, "/help": self._help,
        }

    def run(self) -> int:
        """Read and answer lines until ``/exit`` or end of input; returns the exit status."""
        if self.interactive:
            name = self.chat.model_info().get("name", "model")
            self.out.note(f"llamaprov chat: {name}. {HELP}")
        try:
            while True:
                try:
                    line = input("> " if self.interactive else "")
                except EOFError:
                    break
                except KeyboardInterrupt:
                    self.out.end()
                    self.out.note("(/exit or ctrl-d to quit)")
                    continue
                if self._history is not None:
                    self._history.add(line)
                if not self.handle(line.strip()):
                    break
        finally:
            if self._history is not None:
                self._history.save()
        self.out.end()
        return 0

    def handle(self, text: str) -> bool:
        """Answer one input line (a message or a command); False when the loop is to end."""
        if not text:
            return True
        try:
            if text.startswith("/"):
                command, _, rest = text.partition(" ")
                action = self._commands.get(command)
                if action is None:
                    self.out.note(f"unknown command {command!r}; {HELP}")
                    return True
                return action(rest.strip())
            self._reply(text)
        except LlamaProvError as exc:
            self.out.end()
            print(f"llamaprov: error: {exc}", file=sys.stderr, flush=True)
        return True

    def _reply(self, text: str) -> None:
        try:
            for event in self.chat.stream(text, content=True):
                self.out.event(event)
        except KeyboardInterrupt:  # stop this reply; the chat keeps what was generated
            self.out.end()
            self.out.note("(interrupted)")
        self.out.end()

    # --------------------------------------------------------------------------- commands
    def _exit(self, _rest: str) -> bool:
        return False

    def _reset(self, _rest: str) -> bool:
        self.chat.set_turns([])
        self.out.note("(conversation cleared)")
        return True

    def _system(self, rest: str) -> bool:
        self.chat.system_prompt = rest or None
        self.chat.set_turns([])
        self.out.note("(system prompt set; conversation cleared)" if rest
                      else "(system prompt removed; conversation cleared)")
        return True

    def _tools(self, rest: str) -> bool:
        if rest:
            names = register_tool_file(self.chat, rest)
            self.out.note(f"(tools added: {', '.join(names)})")
        else:
            names = [t.name for t in self.chat.get_tools()]
            self.out.note(f"(tools: {', '.join(names) or 'none'}; "
                          "/tools FILE.py adds the functions of a file)")
        return True

    def _save(self, rest: str) -> bool:
        if not rest:
            raise InvalidArgumentError("/save needs a file name: /save FILE")
        path = self.chat.save(rest)
        self.out.note(f"(saved {len(self.chat.get_turns())} turns to {path})")
        return True

    def _load(self, rest: str) -> bool:
        if not rest:
            raise InvalidArgumentError("/load needs a file name: /load FILE")
        from .chat import Chat

        loaded = Chat.load(rest, self.chat.provider, tools=self.chat.get_tools())
        loaded.params(**self.chat.params().as_dict())  # this session's settings go on
        self.chat = loaded
        self.out.note(f"(loaded {len(loaded.get_turns())} turns from {rest})")
        return True

    def _tokens(self, _rest: str) -> bool:
        used = self.chat.tokens_used()
        per_turn = self.chat.tokens_used(per_turn=True)
        line = (f"(tokens: {used.input} prompt ({used.cached} from cache), {used.output} generated, "
                f"{used.total} in all")
        context = getattr(self.chat.provider, "context", None) if per_turn else None
        n_ctx = getattr(context, "n_ctx", None)
        if n_ctx:
            last = per_turn[-1]
            line += f"; context: {last.input + last.output} of {n_ctx}"
        self.out.note(line + ")")
        return True

    def _help(self, _rest: str) -> bool:
        self.out.note(HELP)
        return True
