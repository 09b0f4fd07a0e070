"""The version of llamaprov: the one place it is written (pyproject.toml reads it through hatchling)."""

__version__ = "0.1.0"
