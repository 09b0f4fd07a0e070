"""Shared fixtures: the default model, loaded once per test session.

Files llamaprov derives from models (the embedding-graph copies) go to a temporary cache for
the session, never to the user's own.
"""

from __future__ import annotations

import os
import pathlib
import tempfile
from collections.abc import Iterator

import pytest

os.environ["LLAMAPROV_CACHE_DIR"] = tempfile.mkdtemp(prefix="llamaprov-test-cache-")

from llamaprov.engine import Model, default_model_path, load_model


@pytest.fixture(scope="session", name="default_model_path")
def _default_model_path() -> pathlib.Path:
    return default_model_path()


@pytest.fixture(scope="session")
def model(default_model_path: pathlib.Path) -> Iterator[Model]:
    m = load_model(default_model_path)
    yield m
    m.close()
