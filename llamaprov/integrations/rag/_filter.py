"""Metadata filters of RAG store searches, as SQL over the chunks' JSON metadata."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from llamaprov.errors import InvalidArgumentError, describe


def filter_sql(flt: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
    """SQL condition on ``chunks.metadata`` for an equality filter (list value = any of)."""
    if flt is None:
        return "", []
    if not isinstance(flt, Mapping):
        raise InvalidArgumentError(f"filter must be a dict of metadata values, got {describe(flt)}")
    clauses: list[str] = []
    params: list[Any] = []
    for key, value in flt.items():
        if not isinstance(key, str) or not key or '"' in key or "\\" in key:
            raise InvalidArgumentError(f"filter keys must be plain strings, got {describe(key)}")
        path = f'$."{key}"'
        options = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
        if not options:
            raise InvalidArgumentError(f"filter value for {key!r} is an empty list")
        alternatives = []
        for option in options:
            if option is None:
                alternatives.append("coalesce(json_type(metadata, ?), 'null') = 'null'")
                params.append(path)
            elif isinstance(option, bool):
                alternatives.append("json_type(metadata, ?) = ?")
                params += [path, "true" if option else "false"]
            elif isinstance(option, (int, float)) and math.isfinite(option):
                alternatives.append(
                    "(json_type(metadata, ?) IN ('integer', 'real')"
                    " AND json_extract(metadata, ?) = ?)"
                )
                params += [path, path, option]
            elif isinstance(option, str):
                alternatives.append(
                    "(json_type(metadata, ?) = 'text' AND json_extract(metadata, ?) = ?)"
                )
                params += [path, path, option]
            else:
                raise InvalidArgumentError(
                    f"filter value for {key!r} must be str, number, bool or None, "
                    f"got {describe(option)}"
                )
        clauses.append("(" + " OR ".join(alternatives) + ")")
    return " AND ".join(clauses), params
