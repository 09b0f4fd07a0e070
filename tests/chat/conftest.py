"""Chat-test setup: makes tests/chat importable for the template strings.

The ``model`` and ``default_model_path`` fixtures come from tests/conftest.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))
