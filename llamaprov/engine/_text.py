"""Text that may still become a marker: the one hold-back rule of streamed output."""

from __future__ import annotations

from collections.abc import Sequence


def holdback(text: str, markers: Sequence[str]) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of one of ``markers``.

    A stream emits ``text`` without that suffix and keeps it until the next piece shows whether
    a marker (a stop string, a tool-call trigger, a thinking tag) begins there.
    """
    best = 0
    for marker in markers:
        for k in range(min(len(marker) - 1, len(text)), best, -1):
            if text.endswith(marker[:k]):
                best = k
                break
    return best
