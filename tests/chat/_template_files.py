"""The collection of real chat templates in tests/data/chat_templates (see SOURCES.md there)."""
from __future__ import annotations

import pathlib

TEMPLATE_DIR = pathlib.Path(__file__).resolve().parent.parent / "data" / "chat_templates"


def template_files() -> list[pathlib.Path]:
    """Every ``.jinja`` template of the collection, sorted by name."""
    return sorted(TEMPLATE_DIR.glob("*.jinja"))


def read_template(name: str) -> str:
    """The text of template ``name`` (its file name, with or without ``.jinja``), read verbatim."""
    file = TEMPLATE_DIR / (name if name.endswith(".jinja") else name + ".jinja")
    with open(file, encoding="utf-8", newline="") as f:
        return f.read()
