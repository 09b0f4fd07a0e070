"""Bundled GBNF grammars (``*.gbnf`` files next to this module)."""

from __future__ import annotations

import functools
import pathlib

from ..errors import InvalidArgumentError, describe

__all__ = ["available", "load"]

_DIR = pathlib.Path(__file__).parent


def available() -> list[str]:
    """Names of the bundled grammars."""
    return sorted(p.stem for p in _DIR.glob("*.gbnf"))


@functools.cache
def load(name: str) -> str:
    """Text of a bundled grammar: ``json``, ``json_arr``, ``list``, ``yes_no``, ``number``."""
    if not isinstance(name, str) or name not in available():
        raise InvalidArgumentError(f"unknown grammar {describe(name)}; bundled: {available()}")
    return (_DIR / f"{name}.gbnf").read_text(encoding="utf-8")
