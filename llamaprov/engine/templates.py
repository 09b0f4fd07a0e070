"""Chat templates: GGUF Jinja templates rendered in a sandbox, and llama.cpp's built-in ones.

Templates shipped inside model files are untrusted code. They run in
:class:`jinja2.sandbox.ImmutableSandboxedEnvironment` with only the helpers Hugging Face
templates rely on (``raise_exception``, ``tojson``, ``strftime_now``).
"""

from __future__ import annotations

import ctypes
import datetime
import functools
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..errors import InvalidArgumentError, TemplateError
from ._ffi import c_str, lib

if TYPE_CHECKING:
    from .model import Model

__all__ = ["chat_builtin_templates", "render_chat", "render_jinja"]

_FALLBACK = "chatml"


def chat_builtin_templates() -> list[str]:
    """Names of the chat templates llama.cpp can format without Jinja."""
    n = lib.llama_chat_builtin_templates(None, 0)
    arr = (ctypes.c_char_p * n)()
    lib.llama_chat_builtin_templates(arr, n)
    return [name.decode() for name in arr[:n] if name]


class _TemplateRaised(Exception):
    """raise_exception() called by a template."""


def _raise_exception(message: str) -> None:
    raise _TemplateRaised(str(message))


def _tojson(value: Any, indent: int | None = None, ensure_ascii: bool = False,
            sort_keys: bool = False, separators: Any = None) -> str:
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii, sort_keys=sort_keys,
                      separators=tuple(separators) if separators else None)


def _strftime_now(fmt: str) -> str:
    return datetime.datetime.now().strftime(str(fmt))


class _StrictSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, but reaching for an unsafe attribute is an error, not ''."""

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise jinja2.exceptions.SecurityError(
            f"access to attribute {attribute!r} of a {type(obj).__name__!r} object is unsafe")


@functools.lru_cache(maxsize=1)
def _environment() -> ImmutableSandboxedEnvironment:
    env = _StrictSandbox(trim_blocks=True, lstrip_blocks=True,
                                        undefined=jinja2.ChainableUndefined)
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env


@functools.lru_cache(maxsize=32)
def _compile(source: str) -> jinja2.Template:
    try:
        return _environment().from_string(source)
    except jinja2.TemplateError as exc:
        raise TemplateError(f"chat template does not compile: {exc}") from None


def render_jinja(source: str, **variables: Any) -> str:
    """Render Jinja template ``source`` in the sandbox. Any failure is a TemplateError."""
    template = _compile(source)
    try:
        return template.render(**variables)
    except _TemplateRaised as exc:
        raise TemplateError(f"chat template raised: {exc}") from None
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(f"chat template tried an unsafe operation: {exc}") from None
    except Exception as exc:
        raise TemplateError(f"chat template failed: {type(exc).__name__}: {exc}") from None


def _check_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise InvalidArgumentError(f"messages must be a list of dicts, got {type(messages).__name__}")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or not isinstance(m.get("role"), str):
            raise InvalidArgumentError(f"message {i} must be a dict with a 'role' str, got {m!r}")
        content = m.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise InvalidArgumentError(f"message {i} content must be a str, list or None, got {content!r}")
        out.append(dict(m))
    return out


def _is_jinja(source: str) -> bool:
    return "{%" in source or "{{" in source


def _builtin(name: str, messages: list[dict[str, Any]], add_generation_prompt: bool) -> str:
    keep = [(c_str(m["role"]), c_str(m.get("content") or "")) for m in messages]
    arr = (lib.llama_chat_message * max(1, len(keep)))()
    for i, (role, content) in enumerate(keep):
        arr[i].role = role
        arr[i].content = content
    size = 256 + 2 * sum(len(r) + len(c) for r, c in keep)
    for _ in range(2):
        buf = ctypes.create_string_buffer(size)
        n = lib.llama_chat_apply_template(c_str(name), arr, len(keep), add_generation_prompt, buf, size)
        if n < 0:
            raise TemplateError(f"llama.cpp does not know the chat template {name!r}")
        if n <= size:
            return buf.raw[:n].decode("utf-8", errors="replace")
        size = n + 1
    raise TemplateError(f"chat template {name!r} output did not fit")  # pragma: no cover


def render_chat(model: Model, messages: Sequence[Mapping[str, Any]], *,
                add_generation_prompt: bool = True, tools: Sequence[Any] | None = None,
                template: str | None = None, extra: Mapping[str, Any] | None = None) -> str:
    """Render ``messages`` with ``template`` (Jinja or built-in name) or the model's own."""
    msgs = _check_messages(messages)
    if template is not None and not isinstance(template, str):
        raise InvalidArgumentError(f"template must be a str, got {template!r}")
    source = template if template is not None else model.chat_template()
    if source is None:
        source = _FALLBACK
    if not _is_jinja(source):
        if tools:
            raise TemplateError(f"built-in template {source!r} cannot present tools; use a Jinja template")
        return _builtin(source, msgs, add_generation_prompt)
    vocab = model.vocab
    bos, eos = vocab.bos, vocab.eos
    variables: dict[str, Any] = {
        "messages": msgs,
        "add_generation_prompt": add_generation_prompt,
        "bos_token": model.token_to_piece(bos, special=True) if bos is not None else "",
        "eos_token": model.token_to_piece(eos, special=True) if eos is not None else "",
    }
    if tools is not None:
        variables["tools"] = list(tools)
    variables.update(extra or {})
    return render_jinja(source, **variables)
