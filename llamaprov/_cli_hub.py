"""``llamaprov hub ls|pull|cache`` and the ``--hf``/``--quant`` model options of other commands.

:func:`add_hub_commands` registers the ``hub`` command on the CLI's subparsers; each handler is
stored as ``func`` in the parsed namespace, takes it and returns the exit status. Failures raise
:class:`llamaprov.errors.LlamaProvError` subclasses, which the CLI prints as one line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from llamaprov import hub
from llamaprov.errors import InvalidArgumentError
from llamaprov.models import is_hub_id

_CLEAR_ALL = "\0all"


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
    return "\n".join(line.rstrip() for line in lines)


def _ls(args: argparse.Namespace) -> int:
    files = hub.list_gguf(args.repo, revision=args.revision)
    if not files:
        print(f"{args.repo}: no GGUF files")
        return 0
    rows = [("FILE", "QUANT", "SIZE", "PARTS")]
    rows += [(f.filename, f.quant or "-", _size(f.size), str(f.split_count)) for f in files]
    print(_table(rows))
    return 0


def _pull(args: argparse.Namespace) -> int:
    path = hub.download(
        args.repo, args.file, quant=args.quant, revision=args.revision,
        progress=not args.quiet and sys.stderr.isatty(),  # no bar in a log or a pipe
    )
    print(path)
    return 0


def _cache(args: argparse.Namespace) -> int:
    if args.clear is not None:
        repo = None if args.clear == _CLEAR_ALL else args.clear
        freed = hub.cache_clear(repo)
        print(f"removed {repo or 'all GGUF model repositories'}: {_size(freed)} freed")
        return 0
    info = hub.cache_info()
    print(f"cache: {info.cache_dir}")
    if not info.repos:
        print("no GGUF models cached")
        return 0
    rows = [("REPO", "FILES", "SIZE")]
    rows += [(r.repo_id, str(len(r.files)), _size(r.size)) for r in info.repos]
    rows.append(("total", str(info.n_files), _size(info.total_size)))
    print(_table(rows))
    return 0


def add_hub_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``hub ls|pull|cache`` on an ``argparse`` subparsers object; returns the parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "hub", help="list, download and cache GGUF models from the Hugging Face Hub"
    )
    sub = parser.add_subparsers(dest="hub_command", required=True, metavar="{ls,pull,cache}")

    ls = sub.add_parser("ls", help="list the GGUF models of a Hub repository")
    ls.add_argument("repo", help="repository id, e.g. bartowski/SmolLM2-135M-Instruct-GGUF")
    ls.add_argument("--revision", help="branch, tag or commit (default: main)")
    ls.set_defaults(func=_ls)

    pull = sub.add_parser("pull", help="download a GGUF model into the Hub cache; prints its path")
    pull.add_argument("repo", help="repository id")
    pull.add_argument("--quant", help="quantization to pick, e.g. Q4_K_M")
    pull.add_argument("--file", help="exact file name in the repository (instead of --quant)")
    pull.add_argument("--revision", help="branch, tag or commit (default: main)")
    pull.add_argument("--quiet", action="store_true", help="no progress bar")
    pull.set_defaults(func=_pull)

    cache = sub.add_parser("cache", help="show the cached GGUF models, or clear them")
    cache.add_argument(
        "--clear", nargs="?", const=_CLEAR_ALL, default=None, metavar="REPO",
        help="delete REPO from the cache, or every cached GGUF model repository",
    )
    cache.set_defaults(func=_cache)
    return parser


def add_hf_model_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--hf REPO``, ``--quant Q``, ``--hf-file F`` and ``--revision R`` to a command."""
    parser.add_argument("--hf", metavar="REPO", help="load a GGUF model from this Hub repository")
    parser.add_argument("--quant", help="quantization to pick with --hf, e.g. Q4_K_M")
    parser.add_argument("--hf-file", metavar="FILE", help="exact file name with --hf")
    parser.add_argument("--revision", help="branch, tag or commit with --hf (default: main)")


def hf_model(args: argparse.Namespace) -> tuple[str, dict[str, Any]] | None:
    """The Hub repo id given with :func:`add_hf_model_options` and the options choosing its file
    (for :func:`llamaprov.models.resolve_model`), or None without ``--hf``."""
    if getattr(args, "hf", None) is None:
        return None
    if not is_hub_id(args.hf):
        raise InvalidArgumentError(f"--hf takes a Hub repo id 'owner/name', got {args.hf!r}")
    chosen = {"quant": args.quant, "filename": args.hf_file, "revision": args.revision}
    return args.hf, {key: value for key, value in chosen.items() if value is not None}
