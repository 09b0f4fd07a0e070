"""Fine-tuning: ``llamaprov.train.finetune(model, texts, ...)`` trains a model's weights in place.

A thin front over :mod:`llamaprov.engine.train` (llama.cpp's ``llama_opt_*`` and ggml's
optimizer datasets). The model must be all F32 and loaded with ``use_mmap=False``::

    import llamaprov, llamaprov.train

    model = llamaprov.load_model("model-f32.gguf", use_mmap=False)
    result = llamaprov.train.finetune(model, texts, epochs=3, lr=1e-4, n_ctx=256)
    print(result.loss_before, [e.val_loss for e in result.epochs])
    model.save("model-tuned.gguf")
"""

from __future__ import annotations

from .engine.train import EpochResult, FinetuneResult, finetune

__all__ = ["EpochResult", "FinetuneResult", "finetune"]
