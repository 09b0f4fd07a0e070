"""Tools: :class:`ToolDef`, :func:`tool` (a ToolDef from a Python function), and running a call."""

from __future__ import annotations

import asyncio
import inspect
import re
import secrets
import string
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import pydantic

from llamaprov.chat.content import ContentToolRequest, ContentToolResult
from llamaprov.errors import InvalidArgumentError, ToolError, describe

TOOL_CHOICES = ("auto", "required", "any", "none")
_TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
_ID_ALPHABET = string.ascii_letters + string.digits


def new_tool_call_id() -> str:
    """A fresh 9-character alphanumeric id (the form Mistral templates require)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(9))


@dataclass
class ToolDef:
    """A tool the model may call.

    ``parameters`` is the JSON schema of the arguments object; ``func`` is called with the
    validated arguments as keywords. Build one from a function with :func:`tool`.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    func: Callable[..., Any] | None = None
    _model: type[pydantic.BaseModel] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _TOOL_NAME.match(self.name):
            raise ToolError(
                f"tool name must match {_TOOL_NAME.pattern} (letters, digits, _ . -), "
                f"got {describe(self.name)}"
            )
        if not isinstance(self.parameters, Mapping) or self.parameters.get("type") != "object":
            raise ToolError(
                f"tool {self.name!r}: parameters must be an object JSON schema, "
                f"got {describe(self.parameters)}"
            )
        try:
            jsonschema.validators.validator_for(self.parameters).check_schema(self.parameters)
        except jsonschema.SchemaError as exc:
            raise ToolError(f"tool {self.name!r}: invalid parameters schema: {exc.message}") from exc
        if self.func is not None and not callable(self.func):
            raise ToolError(f"tool {self.name!r}: func must be callable, got {describe(self.func)}")

    def validate_arguments(self, arguments: Any) -> dict[str, Any]:
        """Check ``arguments`` against the schema; return the keywords for ``func``.

        Raises :class:`~llamaprov.errors.ToolError` naming the problem.
        """
        if not isinstance(arguments, dict):
            raise ToolError(f"tool {self.name!r}: arguments must be an object, got {describe(arguments)}")
        try:
            jsonschema.validate(arguments, self.parameters)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path)
            raise ToolError(
                f"tool {self.name!r}: invalid arguments {describe(arguments)}"
                f"{' at ' + where if where else ''}: {exc.message}"
            ) from exc
        if self._model is None:
            return dict(arguments)
        try:
            parsed = self._model.model_validate(arguments)
        except pydantic.ValidationError as exc:
            raise ToolError(f"tool {self.name!r}: invalid arguments {describe(arguments)}: {exc}") from exc
        return {name: getattr(parsed, name) for name in type(parsed).model_fields}

    def to_openai(self) -> dict[str, Any]:
        """The ``{"type": "function", "function": {...}}`` form chat templates expect."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def __call__(self, **kwargs: Any) -> Any:
        """Call the tool's function with ``kwargs`` (see :meth:`validate_arguments`)."""
        if self.func is None:
            raise ToolError(f"tool {self.name!r} has no function to call")
        return self.func(**kwargs)


def _docstring_parts(doc: str) -> tuple[str, dict[str, str]]:
    """Split a docstring into its description and per-parameter descriptions.

    Understands Google style (``Args:`` sections) and reST (``:param name: text``).
    """
    description: list[str] = []
    params: dict[str, str] = {}
    section = "description"
    current: str | None = None
    entry_indent: int | None = None
    for line in inspect.cleandoc(doc).splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        rest = re.match(r":param\s+(?:\S+\s+)?(\w+):\s*(.*)", stripped)
        if rest:
            section, current = "rest", rest.group(1)
            params[current] = rest.group(2)
        elif re.match(r"^(Args|Arguments|Parameters|Params):\s*$", stripped):
            section, current, entry_indent = "google", None, None
        elif re.match(r"^(Returns?|Raises|Yields|Examples?|Notes?):\s*$", stripped) or (
            stripped.startswith(":")
        ):
            section, current = "other", None
        elif section == "description":
            description.append(line)
        elif section == "google":
            entry = re.match(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$", stripped)
            if entry and (entry_indent is None or indent == entry_indent):
                entry_indent = indent
                current = entry.group(1)
                params[current] = entry.group(2)
            elif current is not None and stripped:
                params[current] = f"{params[current]} {stripped}".strip()
        elif section == "rest" and current is not None and stripped:
            params[current] = f"{params[current]} {stripped}".strip()
    return "\n".join(description).strip(), params


def _strip_titles(schema: Any) -> Any:
    """Remove pydantic's auto-generated ``title`` keys (noise for the model and the grammar)."""
    if isinstance(schema, dict):
        out = {}
        for key, value in schema.items():
            if key == "title" and isinstance(value, str):
                continue
            if key == "properties" and isinstance(value, dict):
                out[key] = {name: _strip_titles(sub) for name, sub in value.items()}
            else:
                out[key] = _strip_titles(value)
        return out
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


def tool(
    func: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
) -> ToolDef:
    """Make a :class:`ToolDef` from a Python function.

    The arguments' schema comes from the type annotations (through pydantic), descriptions from
    the docstring (Google ``Args:`` or reST ``:param x:``). Parameters without an annotation
    accept any JSON value; ``*args``/``**kwargs`` are not allowed.
    """
    if isinstance(func, ToolDef):
        return func
    if not callable(func):
        raise ToolError(f"tool() needs a callable, got {describe(func)}")
    tool_name = name or getattr(func, "__name__", None)
    if not tool_name or tool_name == "<lambda>":
        raise ToolError(f"tool() needs name= for {describe(func)}")
    doc_text, doc_params = _docstring_parts(inspect.getdoc(func) or "")
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise ToolError(f"cannot read the signature of {describe(func)}") from exc
    try:
        hints = _type_hints(func)
    except Exception as exc:
        raise ToolError(f"tool {tool_name!r}: cannot resolve annotations: {exc}") from exc
    fields: dict[str, Any] = {}
    for pname, param in signature.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ToolError(f"tool {tool_name!r}: *args/**kwargs parameters are not supported")
        if param.kind is param.POSITIONAL_ONLY:
            raise ToolError(f"tool {tool_name!r}: positional-only parameter {pname!r} is not supported")
        annotation = hints.get(pname, Any)
        default = ... if param.default is param.empty else param.default
        fields[pname] = (
            annotation,
            pydantic.Field(default=default, description=doc_params.get(pname)),
        )
    try:
        model = pydantic.create_model(  # type: ignore[call-overload]
            f"{tool_name}_arguments",
            __config__=pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=False),
            **fields,
        )
        schema = _strip_titles(model.model_json_schema())
    except Exception as exc:
        raise ToolError(f"tool {tool_name!r}: cannot build an arguments schema: {exc}") from exc
    schema.setdefault("properties", {})
    schema["additionalProperties"] = False
    return ToolDef(
        name=tool_name,
        description=description if description is not None else doc_text,
        parameters=schema,
        func=func,
        _model=model,
    )


def _type_hints(func: Callable[..., Any]) -> dict[str, Any]:
    target = func if inspect.isfunction(func) or inspect.ismethod(func) else func.__call__  # type: ignore[operator]
    return typing.get_type_hints(target)


def as_tools(tools: Iterable[Any]) -> list[ToolDef]:
    """Normalize functions and ToolDefs to a list of ToolDefs with unique names."""
    out: list[ToolDef] = []
    seen: set[str] = set()
    for item in tools:
        td = item if isinstance(item, ToolDef) else tool(item)
        if td.name in seen:
            raise ToolError(f"duplicate tool name {td.name!r}")
        seen.add(td.name)
        out.append(td)
    return out


def run_tool(td: ToolDef, request: ContentToolRequest, loop: asyncio.AbstractEventLoop | None = None
             ) -> ContentToolResult:
    """Validate the request's arguments and call the tool; errors become an error result.

    A coroutine function is awaited on ``loop`` when given (from a worker thread), otherwise
    with ``asyncio.run``.
    """
    try:
        kwargs = td.validate_arguments(request.arguments)
        value = td(**kwargs)
        if inspect.isawaitable(value):
            if loop is not None:
                value = asyncio.run_coroutine_threadsafe(_await(value), loop).result()
            else:
                value = asyncio.run(_await(value))
    except Exception as exc:
        message = str(exc) or type(exc).__name__
        if not isinstance(exc, ToolError):
            message = f"{type(exc).__name__}: {message}"
        return ContentToolResult(request.id, error=message, name=td.name)
    return ContentToolResult(request.id, value=value, name=td.name)


async def _await(awaitable: Any) -> Any:
    return await awaitable


class _CheckedToolChoice(str):
    """A ``tool_choice`` that :func:`check_tool_choice` accepted for the tools named ``tool_names``."""

    tool_names: tuple[str, ...]


def _checked(tool_choice: str, names: tuple[str, ...]) -> _CheckedToolChoice:
    checked = _CheckedToolChoice(tool_choice)
    checked.tool_names = names
    return checked


def check_tool_choice(tool_choice: Any, tools: Sequence[ToolDef]) -> str:
    """Validate ``tool_choice`` against the offered tools; returns it normalized.

    The value returned is marked as checked: passed on with the same tools (from a Chat to its
    provider, from one round to the next), it is returned as is instead of being checked again.
    """
    names = tuple(t.name for t in tools)
    if isinstance(tool_choice, _CheckedToolChoice) and tool_choice.tool_names == names:
        return tool_choice
    if tool_choice == "any":
        tool_choice = "required"
    if tool_choice in ("auto", "required", "none"):
        if tool_choice == "required" and not tools:
            raise InvalidArgumentError("tool_choice='required' but no tools are registered")
        return _checked(str(tool_choice), names)
    if isinstance(tool_choice, str) and tool_choice in names:
        return _checked(tool_choice, names)
    raise InvalidArgumentError(
        f"tool_choice must be one of {TOOL_CHOICES} or a registered tool name {list(names)}, "
        f"got {describe(tool_choice)}"
    )


def check_parallel_tool_calls(value: Any, name: str = "parallel_tool_calls") -> bool | None:
    """Validate a ``parallel_tool_calls`` setting: True (a reply may hold several tool calls),
    False (exactly one), or None (the tool format's default); returns it."""
    if value is not None and not isinstance(value, bool):
        raise InvalidArgumentError(f"{name} must be True, False or None, got {describe(value)}")
    return value


def check_max_tool_calls(value: Any, name: str = "max_tool_calls") -> int | None:
    """Validate a bound on the tool calls of one reply: an int >= 1, or None (no bound); returns it."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise InvalidArgumentError(f"{name} must be an int >= 1 or None, got {describe(value)}")
    return value
