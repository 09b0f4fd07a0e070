"""The package front: every name it advertises exists."""

from __future__ import annotations

import llamaprov


def test_every_advertised_name_resolves() -> None:
    missing = [name for name in dir(llamaprov) if not name.startswith("_") and not hasattr(llamaprov, name)]
    assert missing == []
    assert set(llamaprov.__all__) <= set(dir(llamaprov))


def test_every_advertised_submodule_exists() -> None:
    for name in llamaprov._SUBMODULES:
        assert getattr(llamaprov, name).__name__ == f"llamaprov.{name}"
    assert callable(llamaprov.train.finetune)
    assert llamaprov.integrations.__name__ == "llamaprov.integrations"
