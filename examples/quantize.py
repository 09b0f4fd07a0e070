"""Quantize a GGUF model: store its weights in fewer bits, then load and run the smaller file.

    python examples/quantize.py [MODEL.gguf] [TYPE]

TYPE is a llama.cpp file type: Q8_0, Q6_K, Q5_K_M, Q4_K_M (usually the best trade-off), Q4_0,
F16 ... (default Q4_0, smaller than the default model's Q4_1; Q4_K_M keeps some tensors at 6
bits and would come out a little larger than that Q4_1 file). Start from an F32, F16 or BF16
file where you have one: the packaged default model (SmolLM2-135M) is already quantized, so it
is requantized here, which costs a little more quality. The result is written into a temporary
folder and removed at the end; pass a real path to ``quantize`` to keep it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from llamaprov import default_model_path, load_model, quantize

PROMPT = "The capital of France is"


def describe(path: Path) -> str:
    """The model at ``path``: its description, file size and a short greedy continuation."""
    with load_model(path) as model, model.new_context(n_ctx=128) as ctx:
        text = ctx.completion(PROMPT, max_tokens=8, temperature=0).result().text
        return f"{path.name}: {model.desc}, {path.stat().st_size} bytes; continues {text!r}"


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else default_model_path()
    ftype = sys.argv[2] if len(sys.argv) > 2 else "Q4_0"
    print(f"source: {describe(source)}")

    with tempfile.TemporaryDirectory(prefix="llamaprov-quantize-") as tmp:
        target = Path(tmp) / f"{source.stem}-{ftype}.gguf"
        # allow_requantize: the source may already be quantized (as the default model is).
        quantize(source, target, ftype, allow_requantize=True, progress=False)
        # The new file loads and generates like any other (compare the continuations).
        print(f"quantized: {describe(target)}")
        print(f"size ratio: {target.stat().st_size / source.stat().st_size:.2f}")


if __name__ == "__main__":
    main()
