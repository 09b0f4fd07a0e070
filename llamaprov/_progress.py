"""The one progress bar of llamaprov's long loops (embedding a corpus, ...): tqdm when it is
installed and wanted, otherwise nothing. A leaf module (it imports only ``errors``), so every
layer, the engine included, can use it."""

from __future__ import annotations

from typing import Any

from .errors import InvalidArgumentError

__all__ = ["ProgressBar"]


class ProgressBar:
    """``with ProgressBar(total, desc="embedding", unit="chunk") as bar: bar.update(n)``.

    ``enabled``: True shows the bar, None only on a terminal, False never. Without ``tqdm`` the
    bar shows nothing, or with ``required=True`` raises :class:`InvalidArgumentError` (for an
    explicit ``progress=True`` the caller cannot honour).
    """

    def __init__(self, total: int, *, enabled: bool | None = True, desc: str = "", unit: str = "it",
                 required: bool = False) -> None:
        """See the class docs."""
        self._bar: Any = None
        if enabled is False:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError as exc:
            if required:
                raise InvalidArgumentError("progress=True needs tqdm: pip install tqdm") from exc
            return
        # tqdm's disable=None means: show only on a terminal
        self._bar = tqdm(total=total, desc=desc, unit=unit, disable=None if enabled is None else False)

    def update(self, n: int) -> None:
        """Advance the bar by ``n``."""
        if self._bar is not None:
            self._bar.update(n)

    def set_total(self, total: int) -> None:
        """Set the total once it is known (a loop that learns its length as it goes)."""
        if self._bar is not None and self._bar.total != total:
            self._bar.total = total
            self._bar.refresh()

    def close(self) -> None:
        """Take the bar off the terminal; safe to call twice."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
