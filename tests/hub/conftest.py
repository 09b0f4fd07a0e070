"""Fixtures for the Hub tests: a local fake Hub on 127.0.0.1 and a per-test cache folder."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
for _p in (_HERE, _HERE.parent):  # tests/hub for _server, tests/ for _tiny_gguf
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from _server import FakeHub, build_test_repos  # noqa: E402


@pytest.fixture(scope="session")
def fake_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeHub]:
    """The fake Hub server, shared by the session (built once, stopped at the end)."""
    root = tmp_path_factory.mktemp("fake-hub")
    build_test_repos(root)
    hub = FakeHub(root).start()
    try:
        yield hub
    finally:
        hub.stop()


@pytest.fixture
def hub(fake_hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    """The fake Hub with faults and the request log reset, and the environment pointing at it.

    ``HF_HOME``/``HF_HUB_CACHE`` point at an empty per-test folder; ``huggingface_hub``'s
    import-time offline flag is cleared so ``HF_HUB_OFFLINE`` set by a test is what counts.
    """
    from huggingface_hub import constants

    fake_hub.reset()
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_ENDPOINT", fake_hub.endpoint)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return fake_hub
