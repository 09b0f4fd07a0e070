"""chunk_text (markdown-aware) and read_document (.txt/.md/.html)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from llamaprov.errors import InvalidArgumentError
from llamaprov.integrations.rag import chunk_text, read_document

MARKDOWN = """Preface text before any heading.

# Manual

Intro to the manual. It has several sentences. Each one is short.

## Install

Install with pip. Then check the version. Then read the rest of this manual carefully.

```python
def main():

    # a blank line above must not end the code block
    return 42
```

After the code. One more sentence here.

### Details

Details text.

## Usage

Usage text.
"""


def test_chunks_are_exact_slices_with_heading_context() -> None:
    chunks = chunk_text(MARKDOWN, size=120, overlap=40)
    for c in chunks:
        assert MARKDOWN[c.start : c.end] == c.text and c.text.strip()
    contexts = [c.context for c in chunks]
    assert contexts[0] == ""
    assert "# Manual > ## Install" in contexts
    assert "# Manual > ## Install > ### Details" in contexts
    assert contexts[-1] == "# Manual > ## Usage"  # "### Details" was popped by "## Usage"
    # each chunk belongs to one section: no heading after the start of a chunk
    for c in chunks:
        assert all(
            not line.startswith("#") for line in c.text.splitlines()[1:] if "```" not in c.text
        )


def test_code_fence_is_never_split() -> None:
    for size in (20, 60, 120, 1000):
        chunks = chunk_text(MARKDOWN, size=size, overlap=size // 4)
        fenced = [c for c in chunks if "```" in c.text]
        assert fenced, size
        for c in fenced:
            assert c.text.count("```") == 2, (size, c.text)
            assert "return 42" in c.text and "# a blank line" in c.text


def test_sizes_and_overlap() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(200))
    chunks = chunk_text(text, size=200, overlap=60)
    assert all(len(c.text) <= 200 for c in chunks)
    assert len(chunks) > 20
    # consecutive chunks share whole sentences, and every chunk moves forward
    for a, b in itertools.pairwise(chunks):
        assert b.start > a.start and b.end > a.end
        assert b.start < a.end
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    no_overlap = chunk_text(text, size=200, overlap=0)
    assert all(b.start >= a.end for a, b in itertools.pairwise(no_overlap))


def test_long_word_run_is_cut_into_windows() -> None:
    text = "x" * 1000
    chunks = chunk_text(text, size=300, overlap=0)
    assert "".join(c.text for c in chunks) == text and all(len(c.text) <= 300 for c in chunks)


def test_unterminated_fence_and_empty_text() -> None:
    chunks = chunk_text("Intro.\n\n```\ncode without end\nmore code\n", size=10, overlap=0)
    assert chunks[-1].text.startswith("```") and "more code" in chunks[-1].text
    assert chunk_text("", size=100, overlap=0) == []
    assert chunk_text("  \n\n ", size=100, overlap=0) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"size": 0, "overlap": 0}, "size"),
        ({"size": 100, "overlap": 100}, "overlap"),
        ({"size": 100, "overlap": -1}, "overlap"),
        ({"size": 10.5, "overlap": 0}, "size"),
    ],
)
def test_chunk_text_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        chunk_text("text", **kwargs)
    with pytest.raises(InvalidArgumentError, match="str"):
        chunk_text(b"bytes")  # type: ignore[arg-type]


def test_read_markdown_and_text(tmp_path: Path) -> None:
    md = tmp_path / "guide.md"
    md.write_text(MARKDOWN, encoding="utf-8")
    doc = read_document(md)
    assert doc.text == MARKDOWN and doc.source == str(md) and doc.metadata == {"source": str(md)}
    txt = tmp_path / "note.txt"
    txt.write_text("héllo wörld\n", encoding="utf-8")
    assert read_document(str(txt)).text == "héllo wörld\n"


def test_read_html(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        "<html><head><title> The  Page </title><style>p{color:red}</style></head><body>"
        "<h1>Main</h1><p>First <b>para</b>\n graph &amp; more.</p><script>var x = 1;</script>"
        "<h2>Code</h2><pre>def f():\n    return 1</pre>"
        "<ul><li>one</li><li>two</li></ul></body></html>",
        encoding="utf-8",
    )
    doc = read_document(page)
    assert doc.metadata["title"] == "The Page"
    assert "# Main" in doc.text and "## Code" in doc.text
    assert "First para graph & more." in doc.text
    assert "```\ndef f():\n    return 1\n```" in doc.text
    assert "- one" in doc.text and "- two" in doc.text
    assert "color" not in doc.text and "var x" not in doc.text
    contexts = {c.context for c in chunk_text(doc.text, size=200, overlap=0)}
    assert "# Main > ## Code" in contexts


def test_read_document_bad_files(tmp_path: Path) -> None:
    png = tmp_path / "image.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    with pytest.raises(InvalidArgumentError, match=r"image\.png"):
        read_document(png)
    binary = tmp_path / "fake.txt"
    binary.write_bytes(b"abc\x00def")
    with pytest.raises(InvalidArgumentError, match="not a text file"):
        read_document(binary)
    latin = tmp_path / "latin.md"
    latin.write_bytes("café".encode("latin-1"))
    with pytest.raises(InvalidArgumentError, match="not UTF-8"):
        read_document(latin)
    with pytest.raises(InvalidArgumentError, match="no such file"):
        read_document(tmp_path / "missing.md")
    folder = tmp_path / "folder.md"
    folder.mkdir()
    with pytest.raises(InvalidArgumentError, match="no such file"):
        read_document(folder)
