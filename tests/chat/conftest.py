"""Chat-test setup: makes tests/chat importable for the template strings."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def default_model_path() -> Path:
    """The packaged SmolLM2-135M-Instruct GGUF."""
    from llamaprov.engine import default_model_path as find

    return find()


@pytest.fixture(scope="session")
def model(default_model_path: Path):
    """The default model, loaded once for the chat tests."""
    from llamaprov.engine import load_model

    with load_model(default_model_path) as loaded:
        yield loaded
