"""Generation settings of a chat: :class:`ChatParams` and :func:`params`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from llamaprov.errors import InvalidArgumentError, describe

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
