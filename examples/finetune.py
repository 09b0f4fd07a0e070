"""Fine-tuning: train a model's weights on your own text for a few steps, then save and reload it.

    python examples/finetune.py [MODEL-F32.gguf]

``llamaprov.train.finetune`` trains all F32 weights in place (llama.cpp's optimizer, AdamW by
default) and reports the validation loss before and after. The model must be an all-F32 GGUF
loaded with ``use_mmap=False``. Without an argument the packaged default model (SmolLM2-135M,
stored as Q4_1) is first expanded to F32 in a temporary folder (about 540 MB) so it can be
trained; on a CPU that takes a few minutes. Everything written goes to a temporary folder.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import llamaprov.train
from llamaprov import default_model_path, load_model, quantize

# The text to learn: here a short made-up passage, repeated so there are a few training windows.
TEXT = ("The lighthouse keeper of Varrow Point lights the lamp at dusk and logs every passing "
        "ship in a green notebook. ") * 36


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="llamaprov-finetune-") as tmp:
        if len(sys.argv) > 1:
            source = Path(sys.argv[1])
        else:
            # Training needs F32 weights: expand the quantized default model ("ALL_F32").
            source = Path(tmp) / "model-f32.gguf"
            quantize(default_model_path(), source, "ALL_F32", allow_requantize=True, progress=False)

        # use_mmap=False: the weights are trained in memory, not read from the file.
        with load_model(source, use_mmap=False) as model:
            # The learning rate: a real model needs a small one, or it forgets what it knew; a
            # tiny test model (a few million parameters) takes a large one and learns fast.
            lr = 1e-3 if model.info().n_params < 10_000_000 else 2e-5
            result = llamaprov.train.finetune(
                model, TEXT,
                epochs=2,          # passes over the training windows
                lr=lr,             # AdamW's learning rate
                n_ctx=256,         # window length in tokens (a multiple of 256)
                val_split=0.2,     # the last 20% of the windows measure the loss
                progress=False,
                callback=lambda e: print(f"epoch {e.epoch}: train loss {e.train_loss:.3f}, "
                                         f"validation loss {e.val_loss:.3f}"),
            )
            print(f"trained {len(result.trained_tensors)} tensors on {result.n_train_windows} windows")
            print(f"loss before: {result.loss_before:.3f}")
            print(f"loss after: {result.loss_after:.3f}")

            # The trained weights are only in memory until saved.
            tuned = Path(tmp) / "model-tuned.gguf"
            model.save(tuned)
        with load_model(tuned) as reloaded, reloaded.new_context(n_ctx=256) as ctx:
            text = ctx.completion("The lighthouse keeper", max_tokens=12, temperature=0).result().text
            print(f"saved and reloaded; it continues: {text!r}")


if __name__ == "__main__":
    main()
