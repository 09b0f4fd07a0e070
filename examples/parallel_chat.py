"""Parallel chat: several conversations decoded together, as sequences of one shared context.

    python examples/parallel_chat.py [MODEL.gguf | owner/repo]

Two ways in: ``parallel_chat(chat, prompts)`` answers each prompt as its own continuation of a
chat, and ``provider.submit(turns)`` queues any conversation (from any thread) and returns a
``concurrent.futures.Future`` of its reply. Requests queued together are decoded in the same
batches (up to the provider's ``max_parallel`` at once), which on most hardware is much faster
than answering them one after another.
"""

from __future__ import annotations

import sys

from llamaprov.chat import Turn, chat_llamaprov, parallel_chat

COUNTRIES = ["France", "Italy", "Japan"]


def main() -> None:
    model = sys.argv[1] if len(sys.argv) > 1 else None  # None: the packaged default model
    with chat_llamaprov(
        model,
        system_prompt="Answer in one short sentence.",
        params={"temperature": 0, "max_tokens": 24},
        max_parallel=4,  # at most 4 sequences decoded together
    ) as chat:
        # 1. parallel_chat: one reply per prompt; the chat itself is not changed.
        prompts = [f"What is the capital of {c}?" for c in COUNTRIES]
        for country, reply in zip(COUNTRIES, parallel_chat(chat, prompts), strict=True):
            print(f"parallel_chat {country}: {reply}")
        print(f"chat turns after parallel_chat: {len(chat.get_turns())}")

        # 2. provider.submit: whole conversations, each with its own history and settings.
        provider = chat.provider
        conversations = [
            [Turn("system", ["Answer in one short sentence."]),
             Turn("user", [f"What is the capital of {c}?"])]
            for c in COUNTRIES
        ]
        futures = [provider.submit(turns, params={"temperature": 0, "max_tokens": 24})
                   for turns in conversations]
        for country, future in zip(COUNTRIES, futures, strict=True):
            turn = future.result()  # blocks until this reply is done
            print(f"submit {country}: {turn.text} [{turn.finish_reason}, {turn.tokens.output} tokens]")


if __name__ == "__main__":
    main()
