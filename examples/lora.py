"""LoRA adapters: load an adapter for a model and use it per chat or per call, at any scale.

    python examples/lora.py ADAPTER.gguf [MODEL.gguf]

ADAPTER is a LoRA adapter in GGUF (llama.cpp's ``convert_lora_to_gguf.py`` makes one from a PEFT
adapter) trained for MODEL (default: the packaged SmolLM2-135M). An adapter is loaded once and
applied per request as ``{adapter: scale}``: requests with different adapters can share one
model, and ``{}`` means none.
"""

from __future__ import annotations

import sys

from llamaprov import default_model_path, load_model
from llamaprov.chat import chat_llamaprov

PROMPT = "Name three colors."


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(f"usage: python {sys.argv[0]} ADAPTER.gguf [MODEL.gguf]")
    adapter_path = sys.argv[1]
    model_path = sys.argv[2] if len(sys.argv) > 2 else default_model_path()

    with load_model(model_path) as model:
        # Load the adapter for this model (its tensors must match the model's).
        adapter = model.load_lora(adapter_path)
        print(f"adapter: {adapter_path}")

        # The chat's default: no adapter. Greedy decoding, so the replies can be compared.
        with chat_llamaprov(model, params={"temperature": 0, "max_tokens": 16}) as chat:
            base = chat.chat(PROMPT)
            print(f"base: {base!r}")
            chat.set_turns([])  # start over for each reply, so only the adapter differs
            # lora= on one call: the adapter at full strength ...
            tuned = chat.chat(PROMPT, lora={adapter: 1.0})
            print(f"lora 1.0: {tuned!r}")
            chat.set_turns([])
            # ... or scaled down: 0.0 switches its effect off entirely.
            off = chat.chat(PROMPT, lora={adapter: 0.0})
            print(f"lora 0.0: {off!r}")

        # The adapter for every request of a chat: params={"lora": {adapter: scale}}.
        with chat_llamaprov(model, params={"temperature": 0, "max_tokens": 16,
                                           "lora": {adapter: 1.0}}) as chat:
            print(f"chat with lora: {chat.chat(PROMPT)!r}")


if __name__ == "__main__":
    main()
