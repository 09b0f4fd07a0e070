"""The server under test: the app on the default model, served by uvicorn in a background
thread on a free loopback port, once per test module (see _served.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

from _served import Served, serve_default  # noqa: E402


@pytest.fixture(scope="module")
def served(model, request: pytest.FixtureRequest) -> Iterator[Served]:
    yield from serve_default(model, request)
