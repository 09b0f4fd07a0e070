"""``llamaprov rag ingest|ask``: fill a :class:`~llamaprov.integrations.rag.RagStore` from a folder
of documents, and answer a question from the passages it finds.

:func:`add_rag_commands` registers the ``rag`` command on the CLI's subparsers; each handler is
stored as ``func`` in the parsed namespace, takes it and returns the exit status.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import InvalidArgumentError

#: The file types ``rag ingest`` reads (those :func:`~llamaprov.integrations.rag.read_document` knows).
DOCUMENT_SUFFIXES = (".txt", ".text", ".md", ".markdown", ".html", ".htm")

_ANSWER_SYSTEM = (
    "Answer the user's question from the numbered passages below. Cite the passages you use by "
    "their number, like [1]. If the passages do not hold the answer, say that you do not know."
)


def document_files(root: Path) -> list[Path]:
    """The documents under ``root`` (a folder, searched recursively, or one file), sorted; hidden
    files and folders are skipped."""
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise InvalidArgumentError(f"no such folder: {str(root)!r}")
    files = [
        p for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in DOCUMENT_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]
    if not files:
        raise InvalidArgumentError(
            f"no documents ({', '.join(DOCUMENT_SUFFIXES)}) under {str(root)!r}")
    return sorted(files)


def _ingest(args: argparse.Namespace) -> int:
    from .integrations.embedding import embed_llamaprov
    from .integrations.rag import RagStore, read_document

    files = document_files(Path(args.dir))
    documents = [read_document(p) for p in files]
    store_path = Path(args.store)
    create = args.overwrite or not store_path.exists()
    # an existing store rebuilds the embedder it was made with, unless one is named
    embed = embed_llamaprov(args.embed_model) if create or args.embed_model else None
    try:
        store = (RagStore.create(store_path, embed=embed, overwrite=args.overwrite)
                 if create and embed is not None else RagStore.connect(store_path, embed=embed))
        with store:
            ids = store.insert(documents, chunk_size=args.chunk_size,
                               chunk_overlap=args.chunk_overlap, progress=None)
            print(f"{store.path}: added {len(ids)} documents; "
                  f"{store.n_documents} documents, {len(store)} chunks in all")
    finally:
        if embed is not None:
            embed.close()
    return 0


def _passages(hits: list[Any]) -> str:
    blocks = []
    for i, hit in enumerate(hits, 1):
        where = hit.source or hit.metadata.get("source") or f"document {hit.doc_id}"
        blocks.append(f"[{i}] ({where})\n{hit.text.strip()}")
    return "\n\n".join(blocks)


def _ask(args: argparse.Namespace, new_chat: Callable[[argparse.Namespace], Any],
         read_prompt: Callable[[str], str]) -> int:
    from ._cli_output import ReplyWriter
    from .integrations.rag import RagStore

    question = read_prompt(args.question)
    if not Path(args.store).is_file():
        raise InvalidArgumentError(f"no such store: {args.store!r} (make one with 'llamaprov rag ingest')")
    with RagStore.connect(args.store) as store:
        hits = store.retrieve(question, k=args.k, method=args.method)
    if not hits:
        raise InvalidArgumentError(f"the store {args.store!r} holds no passages")
    system = f"{args.system}\n\n" if args.system else ""
    args.system = f"{system}{_ANSWER_SYSTEM}\n\n{_passages(hits)}"
    out = ReplyWriter(side=sys.stdout if sys.stdout.isatty() else sys.stderr)
    with new_chat(args) as chat:
        for event in chat.stream(question, content=True):
            out.event(event)
    out.end()
    if not args.no_sources:
        for i, hit in enumerate(hits, 1):
            where = hit.source or hit.metadata.get("source") or f"document {hit.doc_id}"
            out.note(f"[{i}] {where}" + (f" — {hit.context}" if hit.context else ""))
    return 0


def add_rag_commands(subparsers: Any, *, model_options: Callable[[argparse.ArgumentParser], None],
                     generation_options: Callable[[argparse.ArgumentParser], None],
                     new_chat: Callable[[argparse.Namespace], Any],
                     read_prompt: Callable[[str], str]) -> argparse.ArgumentParser:
    """Register ``rag ingest|ask`` on an ``argparse`` subparsers object; returns the parser.

    ``model_options``/``generation_options`` add the chat model's options to ``rag ask``,
    ``new_chat(args)`` makes its chat, ``read_prompt(text)`` reads ``-`` from stdin."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "rag", help="retrieval-augmented answers: ingest documents into a store, ask it questions")
    sub = parser.add_subparsers(dest="rag_command", required=True, metavar="{ingest,ask}")

    ingest = sub.add_parser("ingest", help="chunk, embed and store the documents of a folder")
    ingest.add_argument("dir", help=f"folder searched recursively for {', '.join(DOCUMENT_SUFFIXES)} files")
    ingest.add_argument("--store", required=True, metavar="FILE",
                        help="the store file (created, or added to when it exists)")
    ingest.add_argument("--embed-model", metavar="MODEL",
                        help="GGUF file or Hub repo id of the embedding model (default: the packaged "
                             "model; an existing store uses the one it was made with)")
    ingest.add_argument("--chunk-size", type=int, default=1000, help="characters per chunk")
    ingest.add_argument("--chunk-overlap", type=int, default=100, help="characters chunks share")
    ingest.add_argument("--overwrite", action="store_true", help="empty an existing store first")
    ingest.set_defaults(func=_ingest)

    ask = sub.add_parser("ask", help="answer a question from the passages of a store")
    ask.add_argument("store", help="a store file made by 'llamaprov rag ingest'")
    ask.add_argument("question", help="the question ('-' reads it from stdin)")
    ask.add_argument("-k", type=int, default=4, help="passages given to the model (default 4)")
    ask.add_argument("--method", choices=["hybrid", "vector", "bm25"], default="hybrid")
    ask.add_argument("--no-sources", action="store_true", help="do not list the passages' sources")
    model_options(ask)
    generation_options(ask)
    ask.set_defaults(func=lambda args: _ask(args, new_chat, read_prompt))
    return parser
