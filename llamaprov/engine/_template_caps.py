"""What a chat template accepts, probed once per template, and conversations fitted to it.

Templates differ in the conversation shapes they take: Gemma's raises "System role not
supported", others drop a system message without a word; some join tool-call arguments to
strings and fail on the objects others iterate; templates of models without tool training
know no ``tool`` role and show no ``tool_calls``. Like llama.cpp's server, the engine renders
probe conversations once per template and fits each conversation to what it saw: the system
prompt folded into the first user message, arguments given as JSON text, calls written into
the assistant's text and results sent as user messages, as JSON.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import LlamaProvError

_SYSTEM_PROBE = "<<llamaprov system probe>>"
_USER_PROBE = "<<llamaprov user probe>>"
_ARGUMENT_PROBE = "llamaprov-argument-probe"
_TOOL_PROBE = "llamaprov_probe_tool"
_RESULT_PROBE = "<<llamaprov result probe>>"
# alphanumeric and 9 long: Mistral's templates refuse other tool-call ids
_ID_PROBE = "probe1234"


@dataclass(frozen=True)
class TemplateCaps:
    """What a template was seen to accept."""

    system_role: bool  # a system message renders (its text shows, as the user's does)
    string_arguments: bool = False  # tool-call arguments render only as JSON text, not objects
    tool_calls: bool = True  # an assistant message's tool_calls render (the name or arguments show)
    tool_role: bool = True  # a tool message renders (its content shows)


@functools.lru_cache(maxsize=32)
def _probe(source: str, render: Callable[..., str]) -> TemplateCaps:
    system = _system_role(source, render)
    strings = _string_arguments(source, render)
    value = {"probe_arg": _ARGUMENT_PROBE}
    calls = _shows(source, render, _call_probe(json.dumps(value) if strings else value),
                   _TOOL_PROBE, _ARGUMENT_PROBE)
    return TemplateCaps(system_role=system, string_arguments=strings, tool_calls=calls,
                        tool_role=_tool_role(source, render, TemplateCaps(system, strings, calls)))


def _system_role(source: str, render: Callable[..., str]) -> bool:
    user = {"role": "user", "content": _USER_PROBE}
    try:
        out = render(source, messages=[{"role": "system", "content": _SYSTEM_PROBE}, user],
                     add_generation_prompt=True, bos_token="", eos_token="")
    except LlamaProvError:
        try:  # refused: for the system message, if the same without it renders
            render(source, messages=[user], add_generation_prompt=True, bos_token="", eos_token="")
        except LlamaProvError:  # not for the system message: left as it is
            return True
        return False
    # dropped: the user's text shows but not the system's (a template that shows no text at
    # all tells nothing, and is left as it is)
    return _SYSTEM_PROBE in out or _USER_PROBE not in out


def _tool_role(source: str, render: Callable[..., str], caps: TemplateCaps) -> bool:
    """Whether a tool message's content shows after a call (the call in the shape the template
    takes); a template that refuses or drops it gets results as user messages."""
    arguments: Any = json.dumps({}) if caps.string_arguments else {}
    messages = [*_call_probe(arguments),
                {"role": "tool", "tool_call_id": _ID_PROBE, "name": _TOOL_PROBE,
                 "content": _RESULT_PROBE}]
    return _shows(source, render, fitted(messages, caps), _RESULT_PROBE, generation=True)


def _call_probe(arguments: Any) -> list[dict[str, Any]]:
    call = {"id": _ID_PROBE, "type": "function",
            "function": {"name": _TOOL_PROBE, "arguments": arguments}}
    return [{"role": "user", "content": _USER_PROBE},
            {"role": "assistant", "content": "", "tool_calls": [call]}]


def _shows(source: str, render: Callable[..., str], messages: list[dict[str, Any]], *texts: str,
           generation: bool = False) -> bool:
    """Whether ``messages`` render with one of ``texts`` in the output (False when refused)."""
    try:
        out = render(source, messages=messages, add_generation_prompt=generation,
                     bos_token="", eos_token="")
    except LlamaProvError:
        return False
    return any(text in out for text in texts)


def _string_arguments(source: str, render: Callable[..., str]) -> bool:
    """Whether tool-call arguments show only when given as JSON text (templates that join them
    to strings); a template that shows them neither way is left as it is."""
    value = {"probe_arg": _ARGUMENT_PROBE}
    return (not _shows(source, render, _call_probe(value), _ARGUMENT_PROBE)
            and _shows(source, render, _call_probe(json.dumps(value)), _ARGUMENT_PROBE))


def template_caps(source: str, render: Callable[..., str]) -> TemplateCaps:
    """The capabilities of Jinja template ``source`` (``render(source, **variables)`` renders
    it in the sandbox); probed once per template."""
    return _probe(source, render)


def fitted(messages: Sequence[dict[str, Any]], caps: TemplateCaps) -> list[dict[str, Any]]:
    """``messages`` in a shape the template takes: without a system role, the system messages'
    text goes before the first user message's (llama.cpp's server does the same); calls and
    results the template cannot show go into the text as JSON (``{"tool_calls": [...]}`` after
    the assistant's text, ``{"tool_response": ...}`` as a user message)."""
    out = [dict(m) for m in messages]
    if caps.string_arguments:
        for m in out:
            if m.get("tool_calls"):
                m["tool_calls"] = [_with_string_arguments(c) for c in m["tool_calls"]]
    if not caps.tool_calls:
        out = [_calls_as_text(m) if m.get("tool_calls") else m for m in out]
    if not caps.tool_role:
        out = _merged_users([_result_as_user(m) if m["role"] == "tool" else m for m in out])
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


def _calls_as_text(message: dict[str, Any]) -> dict[str, Any]:
    calls = []
    for call in message.pop("tool_calls"):
        function = call.get("function", {}) if isinstance(call, dict) else {}
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            with contextlib.suppress(ValueError):
                arguments = json.loads(arguments)
        calls.append({"name": function.get("name"), "arguments": arguments,
                      **({"id": call["id"]} if call.get("id") else {})})
    text = json.dumps({"tool_calls": calls}, ensure_ascii=False)
    content = message.get("content") or ""
    return {**message, "content": f"{content}\n{text}" if content else text}


def _result_as_user(message: dict[str, Any]) -> dict[str, Any]:
    response = {"tool": message.get("name") or "", "content": message.get("content") or ""}
    if message.get("tool_call_id"):
        response["tool_call_id"] = message["tool_call_id"]
    return {"role": "user", "content": json.dumps({"tool_response": response}, ensure_ascii=False)}


def _merged_users(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive user messages of text joined into one (templates that check the roles
    alternate refuse two in a row)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        prev = out[-1] if out else None
        if (prev is not None and m["role"] == prev["role"] == "user"
                and isinstance(m.get("content") or "", str)
                and isinstance(prev.get("content") or "", str)):
            out[-1] = {**prev, "content": f"{prev.get('content') or ''}\n\n{m.get('content') or ''}"}
        else:
            out.append(m)
    return out
