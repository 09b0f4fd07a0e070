"""Markdown-aware text chunking for the RAG store.

A text is cut into *units* — heading lines, whole fenced code blocks, sentences, and (for sentences
longer than the chunk size) word windows — each a ``(start, end)`` span of the original text. A
chunk is a contiguous run of units of one section, so its text is an exact slice of the input; the
headings above it are kept as its ``context``. Code fences are never split: a code block longer than
``size`` becomes a chunk of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from llamaprov.errors import InvalidArgumentError, describe

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=\S)")


@dataclass(frozen=True)
class Chunk:
    """One piece of a text: ``text == source[start:end]``, ``context`` the headings above it."""

    text: str
    context: str
    start: int
    end: int


@dataclass
class _Block:
    kind: str  # "heading" | "code" | "para"
    start: int
    end: int
    level: int = 0
    title: str = ""


def chunk_text(text: str, *, size: int = 1000, overlap: int = 100) -> list[Chunk]:
    """Split markdown or plain text into chunks of about ``size`` characters.

    Chunks never cut a fenced code block, start a new chunk at every heading, and carry up to
    ``overlap`` characters of whole sentences from the previous chunk of the same section.
    ``context`` of each chunk is its heading path (``"# Guide > ## Install"``), empty for text
    before the first heading.
    """
    if not isinstance(text, str):
        raise InvalidArgumentError(f"chunk_text expects a str, got {describe(text)}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise InvalidArgumentError(f"size must be a positive int, got {describe(size)}")
    if not isinstance(overlap, int) or isinstance(overlap, bool) or not 0 <= overlap < size:
        raise InvalidArgumentError(
            f"overlap must be an int in [0, size={size}), got {describe(overlap)}"
        )

    chunks: list[Chunk] = []
    headings: list[tuple[int, str]] = []
    # units of the current section: (start, end, may_overlap); headings and code are never repeated
    section: list[tuple[int, int, bool]] = []

    def flush() -> None:
        context = " > ".join("#" * level + " " + title for level, title in headings)
        chunks.extend(_pack(text, section, context, size, overlap))
        section.clear()

    for block in _blocks(text):
        if block.kind == "heading":
            if any(not _is_heading_only(text, s, e) for s, e, _ in section):
                flush()
            while headings and headings[-1][0] >= block.level:
                headings.pop()
            headings.append((block.level, block.title))
            section.append((block.start, block.end, False))
        elif block.kind == "code":
            section.append((block.start, block.end, False))
        else:
            section.extend((s, e, True) for s, e in _split_long(text, block.start, block.end, size))
    flush()
    return chunks


def _is_heading_only(text: str, start: int, end: int) -> bool:
    return _HEADING.match(text[start:end]) is not None


def _pack(
    text: str, units: list[tuple[int, int, bool]], context: str, size: int, overlap: int
) -> list[Chunk]:
    """Greedily pack the units of one section into chunks, with sentence overlap between them."""
    out: list[Chunk] = []
    i = 0
    while i < len(units):
        first = i
        j = i + 1
        while j < len(units) and units[j][1] - units[first][0] <= size:
            j += 1
        start, end = units[first][0], units[j - 1][1]
        if text[start:end].strip():
            out.append(Chunk(text[start:end], context, start, end))
        if j >= len(units):
            break
        # Step back over whole sentences that fit in the overlap and still leave room for unit j.
        back = j
        while (
            back - 1 > first
            and units[back - 1][2]
            and units[j - 1][1] - units[back - 1][0] <= overlap
            and units[j][1] - units[back - 1][0] <= size
        ):
            back -= 1
        i = back
    return out


def _blocks(text: str) -> list[_Block]:
    """Headings, fenced code blocks and paragraphs of ``text``, as spans."""
    blocks: list[_Block] = []
    lines = text.splitlines(keepends=True)
    pos = 0
    fence: str | None = None
    fence_start = 0
    para_start: int | None = None
    para_end = 0

    def end_para() -> None:
        nonlocal para_start
        if para_start is not None:
            blocks.append(_Block("para", para_start, para_end))
            para_start = None

    for line in lines:
        start, pos = pos, pos + len(line)
        body = line.rstrip("\r\n")
        if fence is not None:
            stripped = body.strip()
            if stripped.startswith(fence) and stripped.rstrip(fence[0]) == "":
                blocks.append(_Block("code", fence_start, start + len(body)))
                fence = None
            continue
        fence_match = _FENCE.match(body)
        if fence_match:
            end_para()
            fence, fence_start = fence_match.group(1), start
            continue
        heading = _HEADING.match(body)
        if heading:
            end_para()
            blocks.append(
                _Block("heading", start, start + len(body), len(heading.group(1)), heading.group(2))
            )
            continue
        if not body.strip():
            end_para()
            continue
        if para_start is None:
            para_start = start + (len(body) - len(body.lstrip()))
        para_end = start + len(body)
    if fence is not None:  # unterminated fence: the rest of the text is code
        blocks.append(_Block("code", fence_start, len(text.rstrip())))
    end_para()
    return blocks


def _split_long(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """Sentences of a paragraph; a sentence longer than ``size`` is cut into word windows."""
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        spans.append((cursor, match.start()))
        cursor = match.end()
    spans.append((cursor, end))
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if e - s <= size:
            out.append((s, e))
            continue
        while e - s > size:
            cut = text.rfind(" ", s + 1, s + size)
            if cut <= s:
                cut = s + size
            out.append((s, cut))
            s = cut
            while s < e and text[s].isspace():
                s += 1
        if s < e:
            out.append((s, e))
    return out
