"""The RAG store's file: its SQLite schema and meta table, and creating, opening, emptying and
checking store files without ever clobbering a file that is not a store."""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from llamaprov.errors import InvalidArgumentError, StoreError, describe

from ._bm25 import TOKENIZER

_F = TypeVar("_F", bound=Callable[..., Any])

FORMAT = "llamaprov-rag"
FORMAT_VERSION = 1
_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA_TEMPLATE = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    n_chunks INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    text TEXT NOT NULL,
    context TEXT NOT NULL DEFAULT '',
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    vector BLOB NOT NULL
);
CREATE INDEX chunks_doc ON chunks(doc_id);
CREATE VIRTUAL TABLE chunks_fts USING fts5(
    text, context, content='chunks', content_rowid='id', tokenize='{tokenizer}'
);
"""

_SCHEMA = _SCHEMA_TEMPLATE.replace("{tokenizer}", TOKENIZER)


def new_meta(dim: int, embedder_id: str, embedder_spec: dict[str, Any] | None) -> dict[str, str]:
    """The meta table of a new store: format, vector dimension and the embedder that fills it."""
    return {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "dim": str(dim),
        "embedder_id": embedder_id,
        "embedder_spec": json.dumps(embedder_spec),
        "created_at": str(time.time()),
    }


def sqlite_errors(action: str) -> Callable[[_F], _F]:
    """Decorator of store methods: an ``sqlite3`` error escaping the method becomes a
    :class:`~llamaprov.errors.StoreError` naming the store file (``self._path``)."""

    def decorate(method: _F) -> _F:
        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                raise StoreError(f"{action} failed on store {str(self._path)!r}: {exc}") from exc

        return cast(_F, wrapper)

    return decorate


def as_path(path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise InvalidArgumentError(f"path must be a file path, got {describe(path)}")
    return Path(path)


def open_db(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open store {str(path)!r}: {exc}") from exc
    return conn


def publish_new(path: Path, meta: dict[str, str]) -> bool:
    """Build a store in a temporary file beside ``path``, then give it the name ``path`` only if
    that name is free; False when a file is there already (nothing is touched then)."""
    # sqlite creates the file itself so it gets the usual permissions (mkstemp's are 0600)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    try:
        conn = sqlite3.connect(str(tmp))
        try:
            _write_schema(conn, meta, path)
        finally:
            conn.close()
        return _link_exclusive(tmp, path)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot create store {str(path)!r}: {exc}") from exc
    finally:
        for suffix in ("", "-journal"):
            Path(str(tmp) + suffix).unlink(missing_ok=True)


def _link_exclusive(src: Path, dst: Path) -> bool:
    """Make the complete file ``src`` appear at ``dst`` unless ``dst`` exists; False if it does."""
    try:
        os.link(src, dst)
        return True
    except FileExistsError:
        return False
    except OSError:
        pass  # no hard links on this file system: claim the name exclusively, then fill it
    try:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as data:
            shutil.copyfileobj(data, out)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        dst.unlink(missing_ok=True)  # the name was claimed by this call: nobody else wrote it
        raise
    return True


def reset_in_place(path: Path, meta: dict[str, str]) -> None:
    """Empty the llamaprov store at ``path`` (or fill an empty file) in one transaction."""
    if path.stat().st_size > 0:
        read_meta(path)
    try:
        conn = sqlite3.connect(str(path), timeout=30.0)
        try:
            _write_schema(conn, meta, path, replace=True)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot create store {str(path)!r}: {exc}") from exc


def _write_schema(
    conn: sqlite3.Connection, meta: dict[str, str], path: Path, *, replace: bool = False
) -> None:
    """Create the tables and write ``meta`` in one transaction; with ``replace`` first drop the
    tables of the llamaprov store in the file (any other database is refused, untouched)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if replace:
            _drop_store_tables(conn, path)
        for statement in _SCHEMA.split(";"):  # executescript would commit first
            if statement.strip():
                conn.execute(statement)
        conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", meta.items())
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


def _drop_store_tables(conn: sqlite3.Connection, path: Path) -> None:
    """Inside a write transaction: check the file is a llamaprov store (or empty), drop its tables."""
    tables = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    if not tables:
        return
    fmt = None
    if any(name == "meta" for name, _ in tables):
        fmt = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    if fmt is None or fmt[0] != FORMAT:
        raise StoreError(f"{str(path)!r} is not a llamaprov store; it is left unchanged")
    # virtual tables first: dropping one drops its shadow tables
    tables.sort(key=lambda t: not (t[1] or "").upper().startswith("CREATE VIRTUAL"))
    for name, _ in tables:
        conn.execute(f'DROP TABLE IF EXISTS "{name.replace(chr(34), chr(34) * 2)}"')


def read_meta(path: Path) -> dict[str, str]:
    """The meta table of a llamaprov store, read without writing anything to the file."""
    if not path.is_file():
        raise StoreError(f"no store at {str(path)!r}")
    with open(path, "rb") as fh:
        if fh.read(len(_SQLITE_MAGIC)) != _SQLITE_MAGIC:
            raise StoreError(f"{str(path)!r} is not a llamaprov store (not an SQLite database)")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(f"{str(path)!r} is not a llamaprov store: {exc}") from None
    if meta.get("format") != FORMAT:
        raise StoreError(f"{str(path)!r} is not a llamaprov store (format {meta.get('format')!r})")
    version = meta.get("format_version", "")
    if not version.isdigit() or int(version) > FORMAT_VERSION:
        raise StoreError(
            f"{str(path)!r} has store format version {version!r}; this llamaprov reads up to "
            f"{FORMAT_VERSION}"
        )
    for key in ("dim", "embedder_id", "embedder_spec"):
        if key not in meta:
            raise StoreError(f"{str(path)!r} is a damaged llamaprov store (no {key!r} in meta)")
    return meta
