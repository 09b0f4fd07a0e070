"""A base for providers scripted by chat tests: what a :class:`Provider` must have that those
tests do not exercise (the prompt is the turns themselves, no usage, no model info)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llamaprov.chat import Provider, TokenUsage, ToolDef, Turn


class StubProvider(Provider):
    """Subclasses write ``stream_perform`` (and what else they script)."""

    def format_turns(self, turns: Sequence[Turn], tools: Sequence[ToolDef] = ()) -> Any:
        return turns

    def tokens_used(self) -> TokenUsage:
        return TokenUsage()

    def model_info(self) -> dict[str, Any]:
        return {}
