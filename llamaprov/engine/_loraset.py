"""LoRA adapter sets per generation: which adapters a sequence decodes with, switching a
context between sets, and which adapter set each sequence's cached tokens were computed with.

A :class:`~llamaprov.engine.Scheduler` decodes the sequences of each adapter set in a
``llama_decode`` of its own, with that set applied to the context (``llama_set_adapters_lora``,
called only when the set differs from the one applied). The KV cells of a prompt prefix hold
keys and values computed under the set applied when it was decoded, so a prefix is reused only
by a generation with the same set: the scheduler tags what it records for a sequence with the
set (:func:`tag`), and :func:`reusable` says how much of a sequence's record a set may reuse.

A set is a tuple of ``(adapter, scale)`` pairs sorted by the adapters' ids: equal sets compare
equal (adapters by identity, scales as floats). ``ctx._loras`` always holds the set applied to
the context in llama.cpp; adapters applied with ``ctx.apply_lora`` are the context's own set,
which a generation without ``lora=`` uses and which the scheduler puts back when it is done.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ClosedError, InvalidArgumentError, describe
from ._checks import check_float
from .adapters import LoraAdapter, _set_all

if TYPE_CHECKING:
    from ._context import ContextCore as Context

__all__ = ["LoraSet", "activate", "applied", "freeze", "reusable", "tag"]

LoraSet = tuple[tuple[LoraAdapter, float], ...]


def freeze(ctx: Context, lora: Any) -> LoraSet:
    """``lora`` (a mapping of adapters of ``ctx``'s model to scales) as a checked set."""
    if not isinstance(lora, Mapping):
        raise InvalidArgumentError(f"lora must be a mapping of LoraAdapter to scale, got {describe(lora)}")
    pairs: list[tuple[LoraAdapter, float]] = []
    for adapter, scale in lora.items():
        if not isinstance(adapter, LoraAdapter):
            raise InvalidArgumentError(f"lora keys must be LoraAdapter objects, got {describe(adapter)}")
        if adapter.closed:
            raise ClosedError(f"the LoRA adapter {adapter.path.name!r} is closed")
        if adapter.model is not ctx.model:
            raise InvalidArgumentError(
                f"the LoRA adapter {adapter.path.name!r} was loaded for model "
                f"{adapter.model.path.name!r}, not for this context's {ctx.model.path.name!r}")
        pairs.append((adapter, check_float(f"LoRA scale of {adapter.path.name!r}", scale, -1e6, 1e6)))
    return tuple(sorted(pairs, key=lambda pair: id(pair[0])))


def applied(ctx: Context) -> LoraSet:
    """The set applied to ``ctx`` now."""
    return tuple(sorted(ctx._loras.items(), key=lambda pair: id(pair[0])))


def activate(ctx: Context, lora: LoraSet, *, skip_closed: bool = False) -> None:
    """Apply ``lora`` to ``ctx`` in place of its current set; the caller holds the context.

    Each adapter is held while llama.cpp takes its pointer, so a ``close()`` from another thread
    waits instead of freeing it under the call. A closed adapter raises
    :class:`~llamaprov.errors.ClosedError` (``skip_closed``: it is left out instead).
    """
    now = _set_all(ctx, dict(lora), lock=False, skip_closed=skip_closed)
    before = ctx._loras
    ctx._loras = now
    for adapter in before:
        if adapter not in now:
            adapter._contexts.discard(ctx)
    for adapter in now:
        adapter._contexts.add(ctx)


@dataclass
class _Tag:
    """The set the first ``n`` tokens of one record list of a sequence were decoded with."""

    lora: LoraSet
    held: list[int]
    n: int


_tags: weakref.WeakKeyDictionary[Any, dict[int, _Tag]] = weakref.WeakKeyDictionary()
_tags_lock = threading.Lock()  # contexts of other threads add their entries concurrently


def tag(ctx: Context, seq: int, lora: LoraSet) -> None:
    """Every token ``ctx`` records for ``seq`` now was decoded with ``lora``."""
    held = ctx.memory._records().get(seq)
    tags = _tags.get(ctx)
    if tags is None:
        with _tags_lock:
            tags = _tags.setdefault(ctx, {})
    t = tags.get(seq)
    if held is None:
        tags.pop(seq, None)
    elif t is not None and t.held is held and t.lora == lora:
        t.n = len(held)
    else:
        tags[seq] = _Tag(lora, held, len(held))


def reusable(ctx: Context, seq: int, lora: LoraSet, base: LoraSet) -> int:
    """How many of the tokens recorded for ``seq`` a generation with ``lora`` may reuse.

    Tokens the scheduler tagged count for their own set only; tokens recorded otherwise
    (``ctx.decode``, a restored state) were decoded with the context's own set, ``base``.
    """
    held = ctx.memory._records().get(seq)
    if not held:
        return 0
    t = _tags.get(ctx, {}).get(seq)
    if t is not None and t.held is held:
        return min(t.n, len(held)) if t.lora == lora else 0
    return len(held) if lora == base else 0
