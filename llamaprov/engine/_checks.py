"""The one place where values are checked before they cross into llama.cpp.

llama.cpp trusts its callers: an out-of-range token id, a size that does not fit its C type or
an allocation it cannot make ends the process (abort or segfault) instead of returning an
error. Every engine function that hands a number to C passes it through one of these checks
first, so a bad value raises :class:`~llamaprov.errors.InvalidArgumentError` naming it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ..errors import InvalidArgumentError, describe

INT32_MAX = 2**31 - 1
UINT32_MAX = 2**32 - 1
# Most bytes one call may ask llama.cpp to allocate for a Python-side request (a batch, a
# penalty window): an allocation that fails inside llama.cpp is not reported, it crashes.
_FALLBACK_AVAILABLE = 16 << 30


def check_int(name: str, value: Any, lo: int = 0, hi: int = INT32_MAX) -> int:
    """``value`` as an int in ``[lo, hi]`` (bools and floats are refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{name} must be an int, got {describe(value)}")
    if not lo <= value <= hi:
        raise InvalidArgumentError(f"{name} must be in [{lo}, {hi}], got {value!r}")
    return int(value)


def check_float(name: str, value: Any, lo: float = -math.inf, hi: float = math.inf) -> float:
    """``value`` as a float in ``[lo, hi]``; NaN is always refused, infinities unless in range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgumentError(f"{name} must be a number, got {describe(value)}")
    x = float(value)
    if math.isnan(x) or not lo <= x <= hi:
        raise InvalidArgumentError(f"{name} must be a number in [{lo}, {hi}], got {value!r}")
    return x


def check_token(token: Any, n_vocab: int) -> int:
    """A token id of a vocabulary of ``n_vocab`` tokens."""
    if isinstance(token, bool) or not isinstance(token, int) or not 0 <= token < n_vocab:
        raise InvalidArgumentError(f"token {describe(token)} is not in the vocabulary (0..{n_vocab - 1})")
    return int(token)


def check_tokens(tokens: Iterable[Any], n_vocab: int) -> list[int]:
    """Token ids as a list, each checked against the vocabulary."""
    if isinstance(tokens, (str, bytes, bytearray)):
        raise InvalidArgumentError(f"expected a sequence of token ids, got {describe(tokens)}")
    try:
        out = list(tokens)
    except TypeError:
        raise InvalidArgumentError(f"expected a sequence of token ids, got {describe(tokens)}") from None
    for t in out:
        check_token(t, n_vocab)
    if len(out) > INT32_MAX:
        raise InvalidArgumentError(f"{len(out)} tokens do not fit in one call")
    return out


def check_pos(name: str, value: Any) -> int:
    """A KV-cache position: an int32, negative meaning "open end"."""
    return check_int(name, value, -INT32_MAX - 1, INT32_MAX)


def available_memory() -> int:
    """Bytes of memory the system can still give (MemAvailable), or a generous fallback."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return _FALLBACK_AVAILABLE


def check_allocation(what: str, n_bytes: int) -> None:
    """Refuse a request whose native allocation would not fit in available memory."""
    if n_bytes > available_memory():
        raise InvalidArgumentError(
            f"{what} needs {n_bytes / 2**30:.1f} GiB, more than the memory available")
