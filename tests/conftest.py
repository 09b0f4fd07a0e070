"""Shared fixtures: the default model, loaded once per test session."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from llamaprov.engine import Model, default_model_path, load_model


@pytest.fixture(scope="session", name="default_model_path")
def _default_model_path() -> pathlib.Path:
    return default_model_path()


@pytest.fixture(scope="session")
def model(default_model_path: pathlib.Path) -> Iterator[Model]:
    m = load_model(default_model_path)
    yield m
    m.close()
