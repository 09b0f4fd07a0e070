"""What Hugging Face chat templates expect of Jinja beyond the sandbox's defaults.

Templates are written against ``transformers``' renderer, which enables loop controls and
knows the ``{% generation %}`` block (it marks the assistant's tokens for training; rendering
only outputs its body). Its ``tojson`` takes what ``map``/``select`` return (generators), and
with autoescaping off ``|safe`` changes nothing: here it returns plain text, because a
``Markup`` value escapes whatever text is joined to it (tool JSON came out as ``&#34;``).
``{% set message.key = value %}`` (MiroThinker) sets a key of a mapping as llama.cpp's
renderer does; Jinja allows it only on a ``namespace()``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.parser import Parser
from jinja2.runtime import Namespace

from ..errors import TemplateError

# items a generator may yield into tojson: beyond this a template is not rendering a chat
MAX_GENERATED_ITEMS = 100_000


class GenerationBlock(Extension):
    """``{% generation %}...{% endgeneration %}``: renders its body."""

    tags = {"generation"}  # noqa: RUF012 - jinja2's own class attribute

    def parse(self, parser: Parser) -> list[nodes.Node]:
        next(parser.stream)
        return parser.parse_statements(("name:endgeneration",), drop_needle=True)


def materialized(value: Any, depth: int = 0) -> Any:
    """``value`` with every generator or iterator in it (at any depth) made a list, for JSON."""
    if depth > 64:
        raise TemplateError("chat template asked tojson for a value nested over 64 levels")
    if isinstance(value, (str, bytes, int, float, bool)) or value is None:
        return value
    if isinstance(value, Mapping):
        return {k: materialized(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [materialized(v, depth + 1) for v in value]
    if isinstance(value, Iterator):
        items: list[Any] = []
        for item in value:
            if len(items) >= MAX_GENERATED_ITEMS:
                raise TemplateError(f"chat template asked tojson for over {MAX_GENERATED_ITEMS:,} "
                                    "generated items")
            items.append(materialized(item, depth + 1))
        return items
    return value


def plain_safe(value: Any) -> Any:
    """``|safe`` without ``Markup``: text stays text (autoescaping is off)."""
    return str(value) if isinstance(value, str) else value


def set_attribute(target: Any, attribute: str, value: Any) -> str:
    """``{% set target.attribute = value %}`` on a namespace or a mapping (outputs nothing)."""
    if isinstance(target, (Namespace, dict)):
        target[attribute] = value
        return ""
    raise TemplateError(f"chat template assigns {attribute!r} on a {type(target).__name__} object, "
                        "which is neither a namespace nor a mapping")
