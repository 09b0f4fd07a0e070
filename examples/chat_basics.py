"""Chat basics: a system prompt, a two-turn conversation, and the tokens it used.

    python examples/chat_basics.py [MODEL.gguf | owner/repo]

Without an argument the packaged default model (SmolLM2-135M-Instruct) is used.
"""

from __future__ import annotations

import sys

from llamaprov.chat import chat_llamaprov


def main() -> None:
    model = sys.argv[1] if len(sys.argv) > 1 else None  # None: the packaged default model
    # One call loads the model and opens a conversation on it. The system prompt goes first in
    # every prompt; params are the generation settings of each reply (greedy, short replies).
    chat = chat_llamaprov(
        model,
        system_prompt="You are a concise assistant. Answer in one short sentence.",
        params={"temperature": 0, "max_tokens": 48},
    )
    with chat:  # leaving the block frees the model and its context
        # First turn: chat() sends the user message and returns the reply text.
        print("assistant:", chat.chat("What is the capital of France?"))
        # Second turn: the conversation so far is part of the prompt, so "it" means Paris.
        # Its prompt prefix is still in the KV cache, so only the new tokens are decoded.
        print("assistant:", chat.chat("Name one famous museum in it."))

        # The conversation: the user and assistant turns (the system prompt is kept apart).
        for turn in chat.get_turns():
            print(f"[{turn.role}] {turn.text}")

        # Tokens per reply and in total: input (prompt), cached (prompt tokens reused from
        # the KV cache instead of decoded again) and output (generated).
        for i, usage in enumerate(chat.tokens_used(per_turn=True), 1):
            print(f"reply {i}: input={usage.input} cached={usage.cached} output={usage.output}")
        total = chat.tokens_used()
        print(f"total: input={total.input} cached={total.cached} output={total.output}")


if __name__ == "__main__":
    main()
