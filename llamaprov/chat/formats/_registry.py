"""The registry of tool-call formats: lookup by name and detection from a chat template."""

from __future__ import annotations

import re
from typing import TypeVar

from llamaprov.chat.formats._base import ToolCallFormat
from llamaprov.errors import InvalidArgumentError, describe

# The format of templates that no registered format claims.
FALLBACK_FORMAT = "generic"

TOOL_FORMATS: dict[str, type[ToolCallFormat]] = {}
"""The registered formats by name, in registration order (see :func:`register_tool_format`)."""

F = TypeVar("F", bound=type[ToolCallFormat])


def register_tool_format(cls: F) -> F:
    """Register a :class:`ToolCallFormat` subclass under its ``name``; returns it (a decorator).

    The format can then be named (``tool_format="name"``), and :func:`detect_tool_format` picks
    it for templates its :meth:`~ToolCallFormat.detects` accepts. Formats are tried by their
    ``detect_order`` (lower first; the built-in ones use 10-40, so a format registered with the
    default 0 is tried before them), the latest registered first among equals. Registering a
    name again replaces the format of that name.
    """
    if not (isinstance(cls, type) and issubclass(cls, ToolCallFormat)):
        raise InvalidArgumentError(
            f"register_tool_format needs a ToolCallFormat subclass, got {describe(cls)}")
    if not isinstance(cls.name, str) or not cls.name:
        raise InvalidArgumentError(f"a tool format needs a non-empty str name, got {describe(cls.name)} "
                                   f"on {cls.__name__}")
    TOOL_FORMATS.pop(cls.name, None)
    TOOL_FORMATS[cls.name] = cls
    return cls


def _renders_tools(template: str | None) -> bool:
    """Whether a chat template renders the ``tools`` variable itself."""
    return bool(template) and re.search(r"\btools\b", template or "") is not None


def detect_tool_format(template: str | None) -> ToolCallFormat:
    """The tool-call format a chat template was written for (``generic`` when it has none)."""
    if template:
        registered = list(TOOL_FORMATS.values())
        order = sorted(range(len(registered)), key=lambda i: (registered[i].detect_order, -i))
        for i in order:
            if registered[i].detects(template):
                return registered[i](template_tools=_renders_tools(template))
    return TOOL_FORMATS[FALLBACK_FORMAT]()


def get_tool_format(spec: str | ToolCallFormat | None, template: str | None) -> ToolCallFormat:
    """A format from a name, an instance, or (None) detected from ``template``."""
    if spec is None:
        return detect_tool_format(template)
    if isinstance(spec, ToolCallFormat):
        return spec
    if isinstance(spec, str) and spec in TOOL_FORMATS:
        return TOOL_FORMATS[spec](template_tools=_renders_tools(template))
    raise InvalidArgumentError(
        f"unknown tool format {describe(spec)}; known: {', '.join(TOOL_FORMATS)}"
    )
