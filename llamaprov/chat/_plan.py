"""The plan of one request to a :class:`~llamaprov.chat.LlamaProvider`: its prompt and how to
decode and parse the reply, and what a request adds to the conversation's prompt (the
structured output's schema note) or to its sampling (DRY inside constrained output)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llamaprov.chat.content import ContentText
from llamaprov.chat.formats import ToolCallFormat
from llamaprov.chat.params import ChatParams
from llamaprov.chat.turns import Turn
from llamaprov.engine import LoraAdapter, SamplingParams


@dataclass(frozen=True)
class _Plan:
    """One validated request: the prompt and how to decode and parse its answer."""

    prompt: str
    tokens: list[int]  # the prompt, tokenized once
    sampling: SamplingParams
    max_tokens: int
    stop: list[str]
    special: bool
    fmt: ToolCallFormat | None
    structured: bool
    lora: dict[LoraAdapter, float] | None  # None: the adapters applied to the context

    @property
    def cells(self) -> int:
        """KV cells the request may fill: its prompt and every token it may generate."""
        return len(self.tokens) + self.max_tokens + 1


# The DRY penalty inside grammar-constrained output, unless the request sets DRY itself: small
# models, greedy, loop inside JSON ("sampu, sampu, ...", the same array item again and again)
# until max_tokens cuts the output. Its sequence breakers are JSON-aware: llama.cpp's default
# breakers (newline, colon, quote, asterisk) end a repeat at every quote and colon, which in
# JSON is everywhere, so a repeated item or key-value run was never long enough to penalize;
# only a newline breaks a repeat here. Measured by bench/bench_forced_calls.py.
CONSTRAINED_DRY = {"dry_multiplier": 0.8, "dry_scope": "grammar", "dry_sequence_breakers": ("\n",)}


def _constrained_defaults(settings: ChatParams, grammar: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults for constrained output the request did not set: CONSTRAINED_DRY, and
    ``grammar_close`` (a call or value that max_tokens would cut gets its shortest valid
    completion instead)."""
    if "grammar" not in grammar:
        return {}
    out: dict[str, Any] = {}
    if settings.grammar_close is None:
        out["grammar_close"] = True
    if settings.dry_multiplier is None:
        out.update({k: v for k, v in CONSTRAINED_DRY.items() if getattr(settings, k) is None})
    return out


def _with_schema_note(turns: Sequence[Turn], schema: Mapping[str, Any]) -> list[Turn]:
    """``turns`` with the structured output's fields in the system prompt: the grammar holds the
    shape, but only the prompt shows the model what the fields mean. An object's fields are
    listed one per line (name, type, description), a form small models follow better than the
    schema's JSON; other schemas are shown as JSON."""
    props = schema.get("properties")
    if schema.get("type") == "object" and not props and not schema.get("$ref"):
        return list(turns)  # any object (JSON mode): no names or descriptions to show
    if schema.get("type") == "object" and isinstance(props, Mapping) and props:
        lines = []
        for name, sub in props.items():
            sub = sub if isinstance(sub, Mapping) else {}
            kind = sub.get("type", "any")
            kind = kind if isinstance(kind, str) else "/".join(map(str, kind))
            line = f"- {json.dumps(name, ensure_ascii=False)} ({kind})"
            if isinstance(sub.get("description"), str) and sub["description"]:
                line += f": {sub['description']}"
            lines.append(line)
        note = "Reply with a JSON object with these fields:\n" + "\n".join(lines)
    else:
        shown = json.dumps(schema, ensure_ascii=False)
        note = f"Reply with only a JSON value that matches this JSON schema:\n{shown}"
    if turns and turns[0].role == "system":
        text = turns[0].text
        return [Turn("system", [ContentText(f"{text}\n\n{note}" if text else note)]), *turns[1:]]
    return [Turn("system", [ContentText(note)]), *turns]
