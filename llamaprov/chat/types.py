"""Conversation value types: turns, contents, token usage, tools and type specs.

These are plain data objects shared by every provider. A :class:`Turn` is one message of a
conversation (``system``, ``user`` or ``assistant``) made of typed contents; tool results travel
in ``user`` turns, as in ellmer.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import re
import secrets
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import pydantic

from llamaprov.errors import InvalidArgumentError, ToolError, describe

ROLES = ("system", "user", "assistant")


# --------------------------------------------------------------------------------------- contents
@dataclass(frozen=True)
class ContentText:
    """Plain text."""

    text: str


@dataclass(frozen=True)
class ContentThinking:
    """The model's reasoning (``<think>...</think>`` and similar), kept apart from the answer."""

    thinking: str


@dataclass(frozen=True)
class ContentToolRequest:
    """The model asks for a tool to be called with ``arguments``."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ContentToolResult:
    """The outcome of a tool call: ``value`` on success, ``error`` (a message) on failure."""

    request_id: str
    value: Any = None
    error: str | None = None
    name: str | None = None

    @property
    def is_error(self) -> bool:
        """True when the tool failed."""
        return self.error is not None

    def as_text(self) -> str:
        """The result as the text shown to the model."""
        if self.error is not None:
            return f"Error: {self.error}"
        if isinstance(self.value, str):
            return self.value
        try:
            return json.dumps(self.value, ensure_ascii=False)
        except (TypeError, ValueError):
            return str(self.value)


@dataclass(frozen=True)
class ContentJson:
    """Structured data produced under a JSON schema."""

    data: Any


Content = ContentText | ContentThinking | ContentToolRequest | ContentToolResult | ContentJson
CONTENT_TYPES = (ContentText, ContentThinking, ContentToolRequest, ContentToolResult, ContentJson)


# ------------------------------------------------------------------------------------------ usage
@dataclass(frozen=True)
class TokenUsage:
    """Tokens of one request (or a sum of requests).

    ``input`` counts every prompt token, ``cached`` how many of them were reused from the KV cache
    instead of being decoded again (a subset of ``input``), ``output`` the generated tokens.
    """

    input: int = 0
    output: int = 0
    cached: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        if not isinstance(other, TokenUsage):
            return NotImplemented
        return TokenUsage(
            self.input + other.input, self.output + other.output, self.cached + other.cached
        )

    @property
    def total(self) -> int:
        """Prompt plus generated tokens."""
        return self.input + self.output


# ------------------------------------------------------------------------------------------- turn
@dataclass
class Turn:
    """One message of a conversation.

    An assistant turn's ``finish_reason`` says why its generation ended: ``"eog"`` (the model
    ended it), ``"stop"`` (a stop string), ``"length"`` (max_tokens or the context's end),
    ``"tool_calls"`` (it requested tools), or ``"cancelled"``: the generation was interrupted
    (a stream closed early, ``KeyboardInterrupt``, asyncio task cancellation,
    ``ctx.abort()``) and the turn holds what was generated until then (see :attr:`incomplete`).
    """

    role: str
    contents: list[Content] = field(default_factory=list)
    tokens: TokenUsage | None = None
    finish_reason: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise InvalidArgumentError(f"Turn role must be one of {ROLES}, got {describe(self.role)}")
        if isinstance(self.contents, (str, *CONTENT_TYPES)):
            self.contents = [self.contents]  # type: ignore[list-item]
        self.contents = [_as_content(c) for c in self.contents]

    @property
    def text(self) -> str:
        """The text contents joined (JSON data rendered as JSON)."""
        parts: list[str] = []
        for c in self.contents:
            if isinstance(c, ContentText):
                parts.append(c.text)
            elif isinstance(c, ContentJson):
                parts.append(json.dumps(c.data, ensure_ascii=False))
        return "".join(parts)

    @property
    def incomplete(self) -> bool:
        """True for an assistant turn cut short by a cancellation (``finish_reason ==
        "cancelled"``): its text is partial, and tool calls it was making were not run."""
        return self.finish_reason == "cancelled"

    @property
    def thinking(self) -> str:
        """The thinking contents joined."""
        return "".join(c.thinking for c in self.contents if isinstance(c, ContentThinking))

    @property
    def tool_requests(self) -> list[ContentToolRequest]:
        """The tool requests of this turn, in order."""
        return [c for c in self.contents if isinstance(c, ContentToolRequest)]

    @property
    def tool_results(self) -> list[ContentToolResult]:
        """The tool results of this turn, in order."""
        return [c for c in self.contents if isinstance(c, ContentToolResult)]


def _as_content(value: Any) -> Content:
    if isinstance(value, CONTENT_TYPES):
        return value
    if isinstance(value, str):
        return ContentText(value)
    raise InvalidArgumentError(
        f"a turn's contents must be str or Content objects, got {describe(value)}"
    )


def as_turn(value: Any, *, role: str = "user") -> Turn:
    """Turn ``value`` into a :class:`Turn`.

    A ``Turn`` is returned as is; a string or a content object (or a list of them) becomes a turn
    of ``role``; a finished engine ``Completion`` becomes an assistant turn with its text and usage.
    """
    if isinstance(value, Turn):
        return value
    if isinstance(value, (str, *CONTENT_TYPES)):
        return Turn(role, [_as_content(value)])
    if isinstance(value, (list, tuple)):
        return Turn(role, list(value))
    usage = getattr(value, "usage", None)
    if hasattr(value, "finish_reason") and hasattr(value, "text") and usage is not None:
        return Turn(
            "assistant",
            [ContentText(value.text)],
            tokens=TokenUsage(usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens),
            finish_reason=value.finish_reason,
        )
    raise InvalidArgumentError(f"cannot make a Turn from {describe(value)}")


# ----------------------------------------------------------------------------------- stream events
@dataclass(frozen=True)
class TextDelta:
    """A piece of answer text."""

    text: str


@dataclass(frozen=True)
class ThinkingDelta:
    """A piece of the model's reasoning."""

    text: str


@dataclass(frozen=True)
class ToolRequestStart:
    """A tool call began; its name is known."""

    index: int
    id: str
    name: str


@dataclass(frozen=True)
class ToolRequestArgumentsDelta:
    """More raw JSON text of a tool call's arguments."""

    index: int
    id: str
    delta: str


@dataclass(frozen=True)
class ToolRequestDone:
    """A tool call is complete and parsed."""

    index: int
    request: ContentToolRequest


ParseEvent = (
    TextDelta | ThinkingDelta | ToolRequestStart | ToolRequestArgumentsDelta | ToolRequestDone
)


@dataclass(frozen=True)
class ToolResultEvent:
    """A tool ran (or failed); its result goes back to the model."""

    result: ContentToolResult


@dataclass(frozen=True)
class TurnDone:
    """An assistant turn is complete; ``turn.tokens`` holds its usage."""

    turn: Turn


StreamEvent = ParseEvent | ToolResultEvent | TurnDone



# ------------------------------------------------------------------------------------- type specs
@dataclass(frozen=True)
class TypeSpec:
    """A JSON-schema type built by the ``type_*`` helpers; ``required`` applies inside objects."""

    schema: dict[str, Any]
    required: bool = True


def _with_description(schema: dict[str, Any], description: str | None) -> dict[str, Any]:
    if description is not None:
        schema["description"] = description
    return schema


def type_string(description: str | None = None, *, required: bool = True) -> TypeSpec:
    """A string."""
    return TypeSpec(_with_description({"type": "string"}, description), required)


def type_integer(description: str | None = None, *, required: bool = True) -> TypeSpec:
    """An integer."""
    return TypeSpec(_with_description({"type": "integer"}, description), required)


def type_number(description: str | None = None, *, required: bool = True) -> TypeSpec:
    """A number (integer or float)."""
    return TypeSpec(_with_description({"type": "number"}, description), required)


def type_boolean(description: str | None = None, *, required: bool = True) -> TypeSpec:
    """true or false."""
    return TypeSpec(_with_description({"type": "boolean"}, description), required)


def type_enum(
    values: Sequence[str | int | float | bool],
    description: str | None = None,
    *,
    required: bool = True,
) -> TypeSpec:
    """One of ``values``."""
    if isinstance(values, (str, bytes)) or not values:
        raise InvalidArgumentError(f"type_enum needs a non-empty list of values, got {describe(values)}")
    return TypeSpec(_with_description({"enum": list(values)}, description), required)


def type_array(
    items: Any,
    description: str | None = None,
    *,
    min_items: int | None = None,
    max_items: int | None = None,
    required: bool = True,
) -> TypeSpec:
    """A list whose elements are of type ``items`` (any accepted type spec)."""
    schema: dict[str, Any] = {"type": "array", "items": to_json_schema(items)}
    if min_items is not None:
        schema["minItems"] = min_items
    if max_items is not None:
        schema["maxItems"] = max_items
    return TypeSpec(_with_description(schema, description), required)


def type_object(
    properties: Mapping[str, Any] | None = None,
    /,
    *,
    description: str | None = None,
    additional_properties: bool = False,
    required: bool = True,
    **props: Any,
) -> TypeSpec:
    """An object; each property is a type spec, given as keywords or as a mapping.

    A property is required unless its spec says ``required=False``.
    """
    merged = {**(properties or {}), **props}
    schema_props: dict[str, Any] = {}
    required_names: list[str] = []
    for name, spec in merged.items():
        schema_props[name] = to_json_schema(spec)
        if not isinstance(spec, TypeSpec) or spec.required:
            required_names.append(name)
    schema: dict[str, Any] = {
        "type": "object",
        "properties": schema_props,
        "required": required_names,
        "additionalProperties": additional_properties,
    }
    return TypeSpec(_with_description(schema, description), required)


def _is_pydantic_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, pydantic.BaseModel)


def to_json_schema(type_: Any) -> dict[str, Any]:
    """The JSON schema of a type spec: a pydantic model, a JSON-schema dict, a ``type_*`` helper
    result, or a Python annotation (``int``, ``list[str]``, a ``TypedDict``...)."""
    if isinstance(type_, TypeSpec):
        return copy.deepcopy(type_.schema)
    if isinstance(type_, Mapping):
        schema = dict(type_)
        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise InvalidArgumentError(f"invalid JSON schema {describe(schema)}: {exc.message}") from exc
        return copy.deepcopy(schema)
    if _is_pydantic_model(type_):
        return type_.model_json_schema()
    try:
        return pydantic.TypeAdapter(type_).json_schema()
    except (pydantic.PydanticSchemaGenerationError, TypeError, pydantic.PydanticUserError) as exc:
        raise InvalidArgumentError(
            f"expected a pydantic model, a JSON-schema dict or a type spec, got {describe(type_)}"
        ) from exc


def validate_against_type(data: Any, type_: Any) -> Any:
    """Validate parsed JSON ``data`` against ``type_``; return a pydantic instance for a pydantic
    model, the (validated) data otherwise. Raises ``ValueError`` with the reason when invalid."""
    if _is_pydantic_model(type_):
        try:
            return type_.model_validate(data)
        except pydantic.ValidationError as exc:
            raise ValueError(str(exc)) from exc
    if isinstance(type_, (TypeSpec, Mapping)):
        schema = to_json_schema(type_)
        try:
            jsonschema.validate(data, schema)
        except jsonschema.ValidationError as exc:
            raise ValueError(exc.message) from exc
        return data
    try:
        return pydantic.TypeAdapter(type_).validate_python(data)
    except pydantic.ValidationError as exc:
        raise ValueError(str(exc)) from exc


# ------------------------------------------------------------------------------------------ tools
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
    import typing

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


# ----------------------------------------------------------------------------------------- params
_PARAM_NAMES = (
    "temperature", "top_p", "top_k", "min_p", "seed", "stop", "max_tokens",
    "repeat_penalty", "frequency_penalty", "presence_penalty",
)


@dataclass(frozen=True)
class ChatParams:
    """Generation settings of a chat; ``None`` leaves the engine's default."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] | None = None
    max_tokens: int | None = None
    repeat_penalty: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None

    def __post_init__(self) -> None:
        checks: list[tuple[str, Any, Callable[[Any], bool], str]] = [
            ("temperature", self.temperature, lambda v: v >= 0, ">= 0"),
            ("top_p", self.top_p, lambda v: 0 <= v <= 1, "in [0, 1]"),
            ("min_p", self.min_p, lambda v: 0 <= v <= 1, "in [0, 1]"),
            ("top_k", self.top_k, lambda v: isinstance(v, int) and v >= 0, "an int >= 0"),
            ("max_tokens", self.max_tokens, lambda v: isinstance(v, int) and v > 0, "an int > 0"),
            ("seed", self.seed, lambda v: isinstance(v, int) and v >= 0, "an int >= 0"),
            ("repeat_penalty", self.repeat_penalty, lambda v: v > 0, "> 0"),
            ("frequency_penalty", self.frequency_penalty, lambda v: True, "a number"),
            ("presence_penalty", self.presence_penalty, lambda v: True, "a number"),
        ]
        for pname, value, ok, what in checks:
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not ok(value):
                raise InvalidArgumentError(f"params: {pname} must be {what}, got {describe(value)}")
        if self.stop is not None:
            if not isinstance(self.stop, (str, Iterable)):
                raise InvalidArgumentError(
                    f"params: stop must be a str or a list of str, got {describe(self.stop)}"
                )
            stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)
            if not all(isinstance(s, str) and s for s in stop):
                raise InvalidArgumentError(
                    f"params: stop must be non-empty strings, got {describe(self.stop)}"
                )
            object.__setattr__(self, "stop", stop)

    @classmethod
    def coerce(cls, value: ChatParams | Mapping[str, Any] | None) -> ChatParams:
        """A ChatParams from a ChatParams, a dict of its fields, or None."""
        if value is None:
            return cls()
        if isinstance(value, ChatParams):
            return value
        if isinstance(value, Mapping):
            unknown = set(value) - set(_PARAM_NAMES)
            if unknown:
                raise InvalidArgumentError(
                    f"unknown params {sorted(unknown)}; known: {', '.join(_PARAM_NAMES)}"
                )
            return cls(**value)
        raise InvalidArgumentError(f"params must be a dict or ChatParams, got {describe(value)}")

    def merged(self, other: ChatParams | Mapping[str, Any] | None) -> ChatParams:
        """These params overridden by the non-None fields of ``other``."""
        over = ChatParams.coerce(other)
        values = {n: getattr(self, n) for n in _PARAM_NAMES}
        values.update({n: getattr(over, n) for n in _PARAM_NAMES if getattr(over, n) is not None})
        return ChatParams(**values)

    def as_dict(self) -> dict[str, Any]:
        """The fields that are set."""
        return {n: getattr(self, n) for n in _PARAM_NAMES if getattr(self, n) is not None}


def params(**kwargs: Any) -> ChatParams:
    """Generation settings: temperature, top_p, top_k, min_p, seed, stop, max_tokens,
    repeat_penalty, frequency_penalty, presence_penalty."""
    return ChatParams.coerce(kwargs)
