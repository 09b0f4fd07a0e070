"""Generation settings of a chat: :class:`ChatParams` and :func:`params`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from llamaprov.engine import LoraAdapter, SamplingParams
from llamaprov.errors import ClosedError, InvalidArgumentError, describe

# the settings that are not sampling knobs of the engine
_GENERATION_NAMES = ("stop", "max_tokens", "lora", "schema_in_prompt", "reasoning", "reasoning_budget")
#: The values of ``reasoning`` (see :class:`ChatParams`).
REASONING_MODES = ("auto", "on", "off")
# the largest LoRA scale magnitude the engine accepts
_MAX_LORA_SCALE = 1e6


@dataclass(frozen=True)
class ChatParams:
    """Generation settings of a chat; ``None`` leaves the engine's default.

    Every sampling knob of :class:`llamaprov.engine.SamplingParams` is here under the same name
    and is checked by building a ``SamplingParams`` from the knobs that are set, so it accepts
    exactly what the engine accepts. ``stop`` (a str or strings ending the reply, not shown)
    and ``max_tokens`` (the most tokens generated) are the chat's own, and so is ``lora``:
    ``{adapter: scale}`` with LoRA adapters loaded for the provider's model
    (``model.load_lora(path)``), the whole adapter set of a request (``{}``: none; None: the
    provider's default, none for a :class:`~llamaprov.chat.LlamaProvider`). ``schema_in_prompt``
    (default True): structured output shows the model its JSON schema (names, types,
    descriptions) in the prompt, since a grammar holds the shape but shows the model nothing.
    ``grammar_close`` (the engine's knob; default True for tool calls and structured output):
    when ``max_tokens`` is about to cut constrained output, its shortest valid completion is
    appended instead, so a call or a value is never cut off mid-way. ``grammar_close_repeats``
    (the engine's knob): constrained output caught in a cycle (one block of tokens repeated
    this many times in a row) is closed the same way, there and then. ``grammar_ngram_limit``
    (the engine's knob; default 4 for tool calls and structured output, 0 turns it off): a token
    that would make an n-gram (``grammar_ngram_size`` tokens, default 4) of the constrained
    output occur more often than this ends the string or array it loops in instead.

    ``reasoning`` (``"auto"``, the default, ``"on"`` or ``"off"``) turns the thinking of a
    reasoning model on or off through its chat template's switch ("auto": the template's
    default); "on" for a model whose template knows no thinking is an error.
    ``reasoning_budget`` (an int >= 0, default None: no limit) is the most tokens the thinking
    may take; then its closing marker (``</think>``) is written and the answer follows.
    ``max_tokens`` counts the thinking and the answer together.
    """

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
    typical_p: float | None = None
    penalty_last_n: int | None = None
    mirostat: int | None = None
    mirostat_tau: float | None = None
    mirostat_eta: float | None = None
    dry_multiplier: float | None = None
    dry_base: float | None = None
    dry_allowed_length: int | None = None
    dry_penalty_last_n: int | None = None
    dry_scope: str | None = None
    dry_sequence_breakers: tuple[str, ...] | None = None
    xtc_probability: float | None = None
    xtc_threshold: float | None = None
    top_n_sigma: float | None = None
    dynatemp_range: float | None = None
    dynatemp_exponent: float | None = None
    logit_bias: Mapping[int, float] | None = None
    grammar_close: bool | None = None
    grammar_close_repeats: int | None = None
    grammar_ngram_limit: int | None = None
    grammar_ngram_size: int | None = None
    lora: Mapping[LoraAdapter, float] | None = None
    schema_in_prompt: bool | None = None
    reasoning: str | None = None
    reasoning_budget: int | None = None

    def __post_init__(self) -> None:
        try:
            SamplingParams(**self.sampling_kwargs())
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(f"params: {exc}") from exc
        if self.logit_bias is not None:
            object.__setattr__(self, "logit_bias", dict(self.logit_bias))
        if self.dry_sequence_breakers is not None:
            object.__setattr__(self, "dry_sequence_breakers", tuple(self.dry_sequence_breakers))
        max_tokens = self.max_tokens
        if max_tokens is not None and (
            isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens <= 0
        ):
            raise InvalidArgumentError(f"params: max_tokens must be an int > 0, got {describe(max_tokens)}")
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
        if self.lora is not None:
            object.__setattr__(self, "lora", check_lora(self.lora))
        if self.schema_in_prompt is not None and not isinstance(self.schema_in_prompt, bool):
            raise InvalidArgumentError(
                f"params: schema_in_prompt must be a bool, got {describe(self.schema_in_prompt)}")
        if self.reasoning is not None:
            check_reasoning(self.reasoning, "params: ")
        budget = self.reasoning_budget
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 0):
            raise InvalidArgumentError(
                f"params: reasoning_budget must be an int >= 0, got {describe(budget)}")

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

    def sampling_kwargs(self) -> dict[str, Any]:
        """The sampling knobs that are set, as keywords of :class:`~llamaprov.engine.SamplingParams`."""
        return {n: v for n, v in self.as_dict().items() if n not in _GENERATION_NAMES}


_PARAM_NAMES = tuple(f.name for f in fields(ChatParams))


def check_lora(lora: Any) -> dict[LoraAdapter, float]:
    """``lora`` as a dict of open LoRA adapters to finite scales (which model they belong to is
    checked by the provider); raises InvalidArgumentError or ClosedError naming the adapter."""
    if not isinstance(lora, Mapping):
        raise InvalidArgumentError(
            f"params: lora must be a dict of LoraAdapter to scale, got {describe(lora)}")
    out: dict[LoraAdapter, float] = {}
    for adapter, scale in lora.items():
        if not isinstance(adapter, LoraAdapter):
            raise InvalidArgumentError(
                "params: lora keys must be LoraAdapter objects (model.load_lora(path)), "
                f"got {describe(adapter)}")
        if adapter.closed:
            raise ClosedError(f"params: the LoRA adapter {adapter.path.name!r} is closed")
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) \
                or abs(scale) > _MAX_LORA_SCALE:
            raise InvalidArgumentError(
                f"params: the scale of LoRA adapter {adapter.path.name!r} must be a finite number "
                f"in [-{_MAX_LORA_SCALE:g}, {_MAX_LORA_SCALE:g}], got {describe(scale)}")
        out[adapter] = float(scale)
    return out


def check_reasoning(mode: Any, where: str = "") -> str:
    """``mode`` checked to be one of :data:`REASONING_MODES` (InvalidArgumentError naming it)."""
    if not isinstance(mode, str) or mode not in REASONING_MODES:
        raise InvalidArgumentError(
            f"{where}reasoning must be one of {', '.join(map(repr, REASONING_MODES))}, "
            f"got {describe(mode)}")
    return mode


def params(**kwargs: Any) -> ChatParams:
    """Generation settings (see :class:`ChatParams`): every sampling knob of
    :class:`~llamaprov.engine.SamplingParams` (temperature, top_k, top_p, min_p, typical_p,
    repeat/frequency/presence_penalty, penalty_last_n, mirostat*, dry_*, xtc_*, top_n_sigma,
    dynatemp_*, logit_bias, grammar_close*, seed), plus stop, max_tokens, lora,
    schema_in_prompt, reasoning and reasoning_budget."""
    return ChatParams.coerce(kwargs)
