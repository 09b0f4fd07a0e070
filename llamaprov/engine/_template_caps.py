"""What a chat template accepts, probed once per template, and conversations fitted to it.

Templates differ in the conversation shapes they take: Gemma's raises "System role not
supported", others drop a system message without a word; some join tool-call arguments to
strings and fail on the objects others iterate. Like llama.cpp's server, the engine renders
probe conversations once per template and fits each conversation to what it saw: the system
prompt folded into the first user message, arguments given as JSON text.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import LlamaProvError

_SYSTEM_PROBE = "<<llamaprov system probe>>"
_USER_PROBE = "<<llamaprov user probe>>"
_ARGUMENT_PROBE = "llamaprov-argument-probe"


@dataclass(frozen=True)
class TemplateCaps:
    """What a template was seen to accept."""

    system_role: bool  # a system message renders (its text shows, as the user's does)
    string_arguments: bool = False  # tool-call arguments render only as JSON text, not objects


@functools.lru_cache(maxsize=32)
def _probe(source: str, render: Callable[..., str]) -> TemplateCaps:
    user = {"role": "user", "content": _USER_PROBE}
    try:
        out = render(source, messages=[{"role": "system", "content": _SYSTEM_PROBE}, user],
                     add_generation_prompt=True, bos_token="", eos_token="")
    except LlamaProvError:
        try:  # refused: for the system message, if the same without it renders
            render(source, messages=[user], add_generation_prompt=True, bos_token="", eos_token="")
        except LlamaProvError:  # not for the system message: left as it is
            return TemplateCaps(system_role=True, string_arguments=_string_arguments(source, render))
        return TemplateCaps(system_role=False, string_arguments=_string_arguments(source, render))
    # dropped: the user's text shows but not the system's (a template that shows no text at
    # all tells nothing, and is left as it is)
    system = _SYSTEM_PROBE in out or _USER_PROBE not in out
    return TemplateCaps(system_role=system, string_arguments=_string_arguments(source, render))


def _call_probe(arguments: Any) -> list[dict[str, Any]]:
    call = {"id": "call_0", "type": "function",
            "function": {"name": "probe_tool", "arguments": arguments}}
    return [{"role": "user", "content": _USER_PROBE},
            {"role": "assistant", "content": "", "tool_calls": [call]}]


def _shows_arguments(source: str, render: Callable[..., str], arguments: Any) -> bool:
    try:
        out = render(source, messages=_call_probe(arguments), add_generation_prompt=False,
                     bos_token="", eos_token="")
    except LlamaProvError:
        return False
    return _ARGUMENT_PROBE in out


def _string_arguments(source: str, render: Callable[..., str]) -> bool:
    """Whether tool-call arguments show only when given as JSON text (templates that join them
    to strings); a template that shows them neither way is left as it is."""
    value = {"probe_arg": _ARGUMENT_PROBE}
    return (not _shows_arguments(source, render, value)
            and _shows_arguments(source, render, json.dumps(value)))


def template_caps(source: str, render: Callable[..., str]) -> TemplateCaps:
    """The capabilities of Jinja template ``source`` (``render(source, **variables)`` renders
    it in the sandbox); probed once per template."""
    return _probe(source, render)


def fitted(messages: Sequence[dict[str, Any]], caps: TemplateCaps) -> list[dict[str, Any]]:
    """``messages`` in a shape the template takes: without a system role, the system messages'
    text goes before the first user message's (llama.cpp's server does the same)."""
    out = [dict(m) for m in messages]
    if caps.string_arguments:
        for m in out:
            if m.get("tool_calls"):
                m["tool_calls"] = [_with_string_arguments(c) for c in m["tool_calls"]]
    if caps.system_role or not any(m["role"] == "system" for m in out):
        return out
    system = "\n\n".join(str(m.get("content") or "") for m in out if m["role"] == "system")
    out = [m for m in out if m["role"] != "system"]
    for m in out:
        if m["role"] == "user" and isinstance(m.get("content") or "", str):
            m["content"] = f"{system}\n\n{m.get('content') or ''}" if system else m.get("content")
            return out
    return [{"role": "user", "content": system}, *out]


def _with_string_arguments(call: Any) -> Any:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or isinstance(function.get("arguments"), str):
        return call
    arguments = json.dumps(function.get("arguments"), ensure_ascii=False)
    return {**call, "function": {**function, "arguments": arguments}}
