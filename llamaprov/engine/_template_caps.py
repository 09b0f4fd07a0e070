"""What a chat template accepts, probed once per template, and conversations fitted to it.

Templates differ in the conversation shapes they take: Gemma's raises "System role not
supported", others drop a system message without a word. Like llama.cpp's server, the engine
renders a probe conversation once per template and, where the template has no system role,
folds the system prompt into the first user message instead of failing or losing it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import LlamaProvError

_SYSTEM_PROBE = "<<llamaprov system probe>>"
_USER_PROBE = "<<llamaprov user probe>>"


@dataclass(frozen=True)
class TemplateCaps:
    """What a template was seen to accept."""

    system_role: bool  # a system message renders (its text shows, as the user's does)


@functools.lru_cache(maxsize=32)
def _probe(source: str, render: Callable[..., str]) -> TemplateCaps:
    user = {"role": "user", "content": _USER_PROBE}
    try:
        out = render(source, messages=[{"role": "system", "content": _SYSTEM_PROBE}, user],
                     add_generation_prompt=True, bos_token="", eos_token="")
    except LlamaProvError:
        try:  # refused: for the system message, if the same without it renders
            render(source, messages=[user], add_generation_prompt=True, bos_token="", eos_token="")
        except LlamaProvError:
            return TemplateCaps(system_role=True)  # not for the system message: left as it is
        return TemplateCaps(system_role=False)
    # dropped: the user's text shows but not the system's (a template that shows no text at
    # all tells nothing, and is left as it is)
    system = _SYSTEM_PROBE in out or _USER_PROBE not in out
    return TemplateCaps(system_role=system)


def template_caps(source: str, render: Callable[..., str]) -> TemplateCaps:
    """The capabilities of Jinja template ``source`` (``render(source, **variables)`` renders
    it in the sandbox); probed once per template."""
    return _probe(source, render)


def fitted(messages: Sequence[dict[str, Any]], caps: TemplateCaps) -> list[dict[str, Any]]:
    """``messages`` in a shape the template takes: without a system role, the system messages'
    text goes before the first user message's (llama.cpp's server does the same)."""
    out = [dict(m) for m in messages]
    if caps.system_role or not any(m["role"] == "system" for m in out):
        return out
    system = "\n\n".join(str(m.get("content") or "") for m in out if m["role"] == "system")
    out = [m for m in out if m["role"] != "system"]
    for m in out:
        if m["role"] == "user" and isinstance(m.get("content") or "", str):
            m["content"] = f"{system}\n\n{m.get('content') or ''}" if system else m.get("content")
            return out
    return [{"role": "user", "content": system}, *out]
