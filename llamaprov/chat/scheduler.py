"""Many independent prompts of one chat, decoded together as parallel sequences of one context."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from llamaprov.chat.chat import Chat
from llamaprov.chat.provider import DEFAULT_MAX_TOKENS, LlamaProvider
from llamaprov.chat.types import ContentText, Turn, validate_against_type
from llamaprov.errors import InvalidArgumentError, StructuredOutputError, describe

_DEFAULT_MAX_ACTIVE = 8


def _check(chat: Any, prompts: Any, max_active: Any) -> tuple[LlamaProvider, list[str], int]:
    if not isinstance(chat, Chat) or not isinstance(chat.provider, LlamaProvider):
        raise InvalidArgumentError(f"parallel chats need a Chat on a LlamaProvider, got {describe(chat)}")
    if isinstance(prompts, str) or not isinstance(prompts, Sequence):
        raise InvalidArgumentError(f"prompts must be a list of str, got {describe(prompts)}")
    if not all(isinstance(p, str) and p for p in prompts):
        raise InvalidArgumentError(f"prompts must be non-empty strings, got {describe(prompts)}")
    if max_active is None:
        max_active = min(len(prompts), _DEFAULT_MAX_ACTIVE) or 1
    if isinstance(max_active, bool) or not isinstance(max_active, int) or max_active < 1:
        raise InvalidArgumentError(f"max_active must be an int >= 1, got {describe(max_active)}")
    return chat.provider, list(prompts), max_active


def _run_parallel(chat: Chat, prompts: list[str], max_active: int | None, type: Any) -> list[Any]:
    """Generate one reply per prompt (each continuing ``chat``'s conversation independently);
    returns the completions in prompt order."""
    from llamaprov.engine import SamplingParams

    provider, prompts, max_active = _check(chat, prompts, max_active)
    settings = chat.params()
    base = chat.get_turns(include_system_prompt=True)
    grammar = None
    if type is not None:
        from llamaprov.chat.types import to_json_schema
        from llamaprov.grammars import json_schema_to_gbnf

        grammar = json_schema_to_gbnf(
            to_json_schema(type), whitespace="compact", additional_properties=False
        )
    kwargs = {k: v for k, v in settings.as_dict().items() if k not in ("stop", "max_tokens")}
    if grammar is not None:
        kwargs["grammar"] = grammar
    texts = [provider.format_turns([*base, Turn("user", [ContentText(p)])]) for p in prompts]
    max_tokens = settings.max_tokens or DEFAULT_MAX_TOKENS
    longest = max(
        len(provider.model.tokenize(t, add_special=True, parse_special=True)) for t in texts
    )
    per_seq = -(-(longest + max_tokens + 1) // 256) * 256  # rounded up to a multiple of 256
    n_seq = min(max_active, len(prompts))
    results: list[Any] = []
    with provider.model.new_context(n_ctx=per_seq * n_seq, n_seq_max=n_seq) as ctx:
        for start in range(0, len(texts), n_seq):
            scheduler = ctx.scheduler()
            wave = [
                scheduler.submit(
                    text,
                    max_tokens=max_tokens,
                    stop=list(settings.stop or ()),
                    sampling=SamplingParams(**kwargs),
                )
                for text in texts[start : start + n_seq]
            ]
            scheduler.run()
            results.extend(wave)
    return results


def parallel_chat(chat: Chat, prompts: Sequence[str], *, max_active: int | None = None) -> list[str]:
    """Reply to each prompt as a separate continuation of ``chat`` (which is not modified),
    decoding up to ``max_active`` sequences at once in one context. Tools are not offered."""
    _check(chat, prompts, max_active)
    if not prompts:
        return []
    completions = _run_parallel(chat, list(prompts), max_active, None)
    return [c.text for c in completions]


def parallel_chat_structured(
    chat: Chat, prompts: Sequence[str], *, type: Any, max_active: int | None = None
) -> list[Any]:
    """Extract data of ``type`` from each prompt in parallel (see :func:`parallel_chat`).
    Raises StructuredOutputError (with ``raw``) for the first result that does not validate."""
    _check(chat, prompts, max_active)
    if not prompts:
        return []
    completions = _run_parallel(chat, list(prompts), max_active, type)
    values = []
    for completion in completions:
        raw = completion.text
        if completion.finish_reason == "length":
            raise StructuredOutputError(
                f"structured output was cut off by max_tokens: {describe(raw, 200)}", raw=raw
            )
        try:
            values.append(validate_against_type(json.loads(raw), type))
        except ValueError as exc:
            raise StructuredOutputError(f"structured output is invalid: {exc}", raw=raw) from exc
    return values
