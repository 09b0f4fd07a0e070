"""Documents for the RAG store: reading them from .txt, .md and .html files, and the documents of
an insert."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from llamaprov.errors import InvalidArgumentError, describe

_TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown"}
_HTML_SUFFIXES = {".html", ".htm"}


@dataclass
class Document:
    """A text to store, with JSON-serialisable ``metadata`` and an optional ``source``."""

    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str | None = None


def read_document(path: str | os.PathLike[str]) -> Document:
    """Read a .txt, .md or .html file into a :class:`Document`.

    HTML is converted to markdown-like text (headings become ``#`` lines, ``<pre>`` a code fence,
    scripts and styles dropped); its ``<title>`` goes to ``metadata["title"]``. Raises
    :class:`~llamaprov.errors.InvalidArgumentError` for a missing file, another extension, or bytes
    that are not UTF-8 text.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in _TEXT_SUFFIXES | _HTML_SUFFIXES:
        raise InvalidArgumentError(f"read_document reads .txt, .md and .html files, not {str(p)!r}")
    if not p.is_file():
        raise InvalidArgumentError(f"no such file: {str(p)!r}")
    data = p.read_bytes()
    if b"\x00" in data:
        raise InvalidArgumentError(f"{str(p)!r} is not a text file (it contains NUL bytes)")
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidArgumentError(f"{str(p)!r} is not UTF-8 text: {exc}") from None
    metadata: dict[str, Any] = {"source": str(p)}
    if suffix in _HTML_SUFFIXES:
        text, title = html_to_text(raw)
        if title:
            metadata["title"] = title
    else:
        text = raw
    return Document(text=text, metadata=metadata, source=str(p))


def html_to_text(html: str) -> tuple[str, str | None]:
    """Markdown-like text of an HTML page and its ``<title>`` (or None)."""
    if not isinstance(html, str):
        raise InvalidArgumentError(f"html_to_text expects a str, got {describe(html)}")
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return parser.text(), parser.title


class _HtmlText(HTMLParser):
    _SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head"})
    _BLOCK_TEXT = (
        "p div section article header footer main nav aside blockquote ul ol table tr form figure "
        "figcaption dl dt dd hr br"
    )
    _BLOCK = frozenset(_BLOCK_TEXT.split())

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._parts: list[str] = []
        self._skip = 0
        self._pre = 0
        self._in_title = False
        self._title: list[str] = []

    @property
    def title(self) -> str | None:
        title = " ".join("".join(self._title).split())
        return title or None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag in self._SKIP:
            self._skip += 1
        elif self._skip:
            return
        elif tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            self._parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag == "pre":
            self._pre += 1
            self._parts.append("\n\n```\n")
        elif tag == "li":
            self._parts.append("\n- ")
        elif tag in {"td", "th"}:
            self._parts.append(" | ")
        elif tag in self._BLOCK:
            self._parts.append("\n\n" if tag not in {"br", "tr"} else "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif self._skip:
            return
        elif tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            self._parts.append("\n\n")
        elif tag == "pre" and self._pre:
            self._pre -= 1
            self._parts.append("\n```\n\n")
        elif tag in self._BLOCK:
            self._parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title.append(data)
        if self._skip:
            return
        if self._pre:
            self._parts.append(data.strip("\n"))
        else:
            self._parts.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        lines = [line.rstrip() for line in "".join(self._parts).split("\n")]
        out: list[str] = []
        in_code = False
        for line in lines:
            if line.startswith("```"):
                in_code = not in_code
            elif not in_code:
                line = line.strip()
            out.append(line)
        return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip() + "\n"


def normalize_documents(items: Any, metadata: Any) -> list[Document]:
    """The documents of an insert: ``str``, :class:`Document` or LangChain documents (``page_content``
    + ``metadata``), each with ``metadata`` (one mapping, or one per item) merged over its own;
    empty texts and metadata that is not JSON raise :class:`InvalidArgumentError`."""
    if isinstance(items, (str, Document)) or hasattr(items, "page_content"):
        items = [items]
    if not isinstance(items, Iterable):
        raise InvalidArgumentError(f"insert expects texts or documents, got {describe(items)}")
    docs: list[Document] = []
    for item in items:
        if isinstance(item, str):
            docs.append(Document(text=item))
        elif isinstance(item, Document):
            docs.append(Document(item.text, dict(item.metadata), item.source))
        elif isinstance(getattr(item, "page_content", None), str):
            meta = dict(getattr(item, "metadata", None) or {})
            docs.append(Document(item.page_content, meta, meta.get("source")))
        else:
            raise InvalidArgumentError(
                f"insert expects str or Document items, got {describe(item)}"
            )
    if metadata is None:
        extra: list[Mapping[str, Any]] = [{}] * len(docs)
    elif isinstance(metadata, Mapping):
        extra = [metadata] * len(docs)
    elif isinstance(metadata, Sequence) and len(metadata) == len(docs):
        extra = list(metadata)
    else:
        raise InvalidArgumentError(
            f"metadata must be a mapping or one mapping per document ({len(docs)}), "
            f"got {describe(metadata)}"
        )
    for doc, more in zip(docs, extra, strict=True):
        if not isinstance(more, Mapping):
            raise InvalidArgumentError(f"metadata must be a mapping, got {describe(more)}")
        if not isinstance(doc.text, str) or not doc.text.strip():
            raise InvalidArgumentError(f"cannot insert an empty document: {describe(doc.text)}")
        doc.metadata.update(more)
        if doc.source is not None:
            doc.metadata.setdefault("source", doc.source)
        try:
            json.dumps(doc.metadata, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(
                f"metadata must be JSON-serialisable, got {describe(doc.metadata)}: {exc}"
            ) from None
    return docs
