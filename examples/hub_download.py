"""Hugging Face Hub: list the GGUF models of a repository, download one, load it and chat.

    python examples/hub_download.py [REPO_ID] [--quant Q4_K_M] [--endpoint URL]

REPO_ID defaults to ``bartowski/SmolLM2-135M-Instruct-GGUF`` (about 100 MB per file). The
endpoint is ``--endpoint``, else ``$HF_ENDPOINT``, else the Hub itself (a mirror or a local
server speaking the Hub API works too). Downloads go to the Hugging Face cache shared with
transformers (``$HF_HUB_CACHE``, else ``~/.cache/huggingface/hub``); a second run finds them
there and downloads nothing.
"""

from __future__ import annotations

import argparse
import os

from llamaprov import hub, load_model
from llamaprov.chat import chat_llamaprov

DEFAULT_REPO = "bartowski/SmolLM2-135M-Instruct-GGUF"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", nargs="?", default=DEFAULT_REPO, help="Hub repository id, owner/name")
    parser.add_argument("--quant", help="quantization to pick, e.g. Q4_K_M (default: Q4_K_M, "
                                        "then Q4_0, then the smallest model)")
    parser.add_argument("--endpoint", default=os.environ.get("HF_ENDPOINT"),
                        help="Hub API endpoint (default: $HF_ENDPOINT, else huggingface.co)")
    args = parser.parse_args()
    if args.endpoint:
        # llamaprov.hub reads HF_ENDPOINT at each call, so setting it here is enough.
        os.environ["HF_ENDPOINT"] = args.endpoint
    print(f"endpoint: {args.endpoint or 'https://huggingface.co'}")
    print(f"cache: {hub.cache_dir()}")

    # 1. What the repository offers: one entry per model (a split model counts once).
    for f in hub.list_gguf(args.repo):
        split = f" in {f.split_count} parts" if f.is_split else ""
        print(f"  {f.filename}: {f.quant}, {f.size / 1e6:.1f} MB{split}")

    # 2. Download one (or find it in the cache): the local path of the file llama.cpp loads.
    path = hub.download(args.repo, quant=args.quant, progress=False)
    print(f"downloaded: {path.name}")
    # A second call finds the file in the cache and transfers nothing.
    again = hub.download(args.repo, quant=args.quant, progress=False)
    print(f"second call, same cached file: {again == path}")

    # 3. Load it and use it. (llamaprov.load_model_hf(repo, quant=...) does steps 2 and 3 in
    # one call, and chat_llamaprov("owner/name") accepts a repo id directly.)
    with load_model(path) as model:
        info = model.info()
        print(f"model: {info.desc}, {info.n_params / 1e6:.1f}M parameters, n_ctx_train={info.n_ctx_train}")
        if model.chat_template() is not None:
            with chat_llamaprov(model, params={"temperature": 0, "max_tokens": 24}) as chat:
                print("reply:", chat.chat("Say hello in one sentence."))
        else:
            print("(no chat template: a base model; use model.new_context().completion(...))")


if __name__ == "__main__":
    main()
