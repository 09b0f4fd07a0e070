"""The ``llamaprov`` command: chat, ask, info, embed and hub.

Errors print one line (``llamaprov: error: ...``) and exit with status 1; no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import LlamaProvError

if TYPE_CHECKING:
    from .engine import Model

_DEFAULT_MAX_TOKENS = 512


def _model_spec(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """What the model options name, as :func:`llamaprov.models.resolve_model` takes it: a --hf
    repo id with the options choosing its file, a MODEL path, or None for the default model."""
    from ._cli_hub import hf_model

    hf = hf_model(args)
    if hf is None:
        return args.model, {}
    if args.model:
        raise LlamaProvError("give either a MODEL path or --hf, not both")
    return hf


def _load_model(args: argparse.Namespace) -> Model:
    """The model the command's options name, loaded (a --hf model downloaded first)."""
    from .models import resolve_model

    model, options = _model_spec(args)
    return resolve_model(model, **options)


def _new_chat(args: argparse.Namespace) -> Any:
    from .chat import chat_llamaprov

    chat = chat_llamaprov(_load_model(args), system_prompt=args.system, n_ctx=args.n_ctx)
    chat.params(max_tokens=args.max_tokens, temperature=args.temperature, seed=args.seed)
    return chat


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _ask(args: argparse.Namespace) -> int:
    chat = _new_chat(args)
    for piece in chat.stream(args.prompt):
        _write(piece)
    _write("\n")
    return 0


_CHAT_HELP = "commands: /exit, /reset (forget the conversation), /system TEXT (new system prompt)"


def _chat(args: argparse.Namespace) -> int:
    chat = _new_chat(args)
    interactive = sys.stdin.isatty()
    if interactive:
        print(f"llamaprov chat: {chat.model_info().get('name', 'model')}. {_CHAT_HELP}")
    while True:
        try:
            line = input("> " if interactive else "")
        except EOFError:
            break
        except KeyboardInterrupt:
            _write("\n")
            break
        text = line.strip()
        if not text:
            continue
        if text in ("/exit", "/quit"):
            break
        if text == "/reset":
            chat.set_turns([])
            print("(conversation cleared)")
            continue
        if text.startswith("/system"):
            chat.system_prompt = text[len("/system"):].strip() or None
            chat.set_turns([])
            print("(system prompt set; conversation cleared)")
            continue
        if text.startswith("/"):
            print(_CHAT_HELP)
            continue
        try:
            for piece in chat.stream(text):
                _write(piece)
        except KeyboardInterrupt:
            pass
        _write("\n")
    return 0


def _info(args: argparse.Namespace) -> int:
    with _load_model(args) as model:
        info = model.info()
        rows = [(k, str(v)) for k, v in vars(info).items()]
        rows += [("template", "yes" if model.chat_template() else "no")]
        if args.meta:
            rows += sorted(model.meta.items())
        width = max(len(k) for k, _ in rows)
        for key, value in rows:
            value = value if len(value) <= 100 else value[:97] + "..."
            print(f"{key.ljust(width)}  {value}")
    return 0


def _embed(args: argparse.Namespace) -> int:
    from .integrations.embedding import LlamaProvEmbedder

    with _load_model(args) as model, LlamaProvEmbedder(
        model, pooling=args.pooling, normalize=not args.no_normalize
    ) as embedder:
        vectors = embedder(args.texts)
    json.dump([[round(float(x), 6) for x in row] for row in vectors], sys.stdout)
    _write("\n")
    return 0


def _quantize(args: argparse.Namespace) -> int:
    from .engine import quantize

    target = quantize(args.src, args.dst, args.type, nthread=args.threads,
                      allow_requantize=args.allow_requantize, pure=args.pure,
                      keep_split=args.keep_split, progress=None)
    print(f"{target} ({target.stat().st_size:,} bytes, {args.type.upper()})")
    return 0


def _parser() -> argparse.ArgumentParser:
    from ._cli_hub import add_hf_model_options, add_hub_commands

    parser = argparse.ArgumentParser(prog="llamaprov", description="Local GGUF models from the command line.")
    parser.add_argument("-v", "--verbose", action="store_true", help="show llama.cpp's log")
    sub = parser.add_subparsers(dest="command", required=True)

    def model_options(p: argparse.ArgumentParser, *, positional: bool = True) -> None:
        if positional:
            p.add_argument("model", nargs="?", help="GGUF file (default: SmolLM2-135M-Instruct)")
        else:
            p.add_argument("--model", "-m", help="GGUF file (default: SmolLM2-135M-Instruct)")
        add_hf_model_options(p)

    def generation_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--max-tokens", type=int, default=_DEFAULT_MAX_TOKENS)
        p.add_argument("--temperature", type=float, default=0.7)
        p.add_argument("--seed", type=int, default=None)
        p.add_argument("--system", help="system prompt")
        p.add_argument("--n-ctx", type=int, default=None, help="context window in tokens")

    chat = sub.add_parser("chat", help="interactive, streaming chat")
    model_options(chat)
    generation_options(chat)
    chat.set_defaults(func=_chat)

    ask = sub.add_parser("ask", help="one question, the answer streamed to stdout")
    ask.add_argument("prompt")
    model_options(ask, positional=False)
    generation_options(ask)
    ask.set_defaults(func=_ask)

    info = sub.add_parser("info", help="a model's architecture and metadata")
    model_options(info)
    info.add_argument("--meta", action="store_true", help="also print all GGUF metadata")
    info.set_defaults(func=_info)

    embed = sub.add_parser("embed", help="embed texts; prints a JSON list of vectors")
    embed.add_argument("texts", nargs="+")
    model_options(embed, positional=False)
    embed.add_argument("--pooling", choices=["mean", "cls", "last"], default=None)
    embed.add_argument("--no-normalize", action="store_true")
    embed.set_defaults(func=_embed)

    from .engine.quantize import FILE_TYPES

    quant = sub.add_parser("quantize", help="quantize a GGUF model file (F32/F16 to Q8_0, Q4_K_M, ...)")
    quant.add_argument("src", help="the GGUF model to read")
    quant.add_argument("dst", help="the GGUF file to write")
    quant.add_argument("type", metavar="TYPE", help=f"one of {', '.join(sorted(FILE_TYPES))}")
    quant.add_argument("--threads", type=int, default=None, help="default: all cores")
    quant.add_argument("--allow-requantize", action="store_true", help="accept a quantized source")
    quant.add_argument("--pure", action="store_true", help="every tensor as TYPE (no mixed recipe)")
    quant.add_argument("--keep-split", action="store_true", help="write a split source as parts")
    quant.set_defaults(func=_quantize)

    add_hub_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``llamaprov`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.verbose:
        import logging

        from .engine import set_verbosity

        logging.basicConfig(level=logging.INFO, format="%(message)s")
        set_verbosity("info")
    try:
        return int(args.func(args) or 0)
    except LlamaProvError as exc:
        print(f"llamaprov: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
