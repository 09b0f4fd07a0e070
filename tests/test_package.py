"""The package front: every name it advertises exists."""

from __future__ import annotations

import llamaprov


def test_every_advertised_name_resolves() -> None:
    missing = [name for name in dir(llamaprov) if not name.startswith("_") and not hasattr(llamaprov, name)]
    assert missing == []
    assert set(llamaprov.__all__) <= set(dir(llamaprov))


def test_no_phantom_submodules() -> None:
    assert not hasattr(llamaprov, "train")  # advertised before it existed (issue 13 builds it)
    assert llamaprov.integrations.__name__ == "llamaprov.integrations"
