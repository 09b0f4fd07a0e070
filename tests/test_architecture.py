"""The architecture is a checked fact: import-linter's contracts in pyproject.toml hold.

Layers: integrations -> chat -> models/hub -> grammars -> engine -> errors (nothing imports
upward), and no import cycle inside ``llamaprov.engine`` or ``llamaprov.chat``.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    exe = shutil.which("lint-imports")
    assert exe, "import-linter is a dev dependency: pip install -e '.[dev]'"
    proc = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout
