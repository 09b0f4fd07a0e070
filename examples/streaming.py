"""Streaming: print a reply as it is generated, then compare it with the stored reply.

    python examples/streaming.py [MODEL.gguf | owner/repo]

``chat.stream(...)`` yields the reply text piece by piece; with ``content=True`` it yields typed
events instead (text deltas, tool-call events, and a final ``TurnDone`` with the finished turn).
"""

from __future__ import annotations

import sys

from llamaprov.chat import TextDelta, TurnDone, chat_llamaprov


def main() -> None:
    model = sys.argv[1] if len(sys.argv) > 1 else None  # None: the packaged default model
    with chat_llamaprov(model, params={"temperature": 0, "max_tokens": 40}) as chat:
        # 1. Plain text pieces: print each as soon as it arrives.
        pieces = []
        for piece in chat.stream("Write one sentence about the sea."):
            pieces.append(piece)
            print(piece, end="", flush=True)
        print()
        streamed = "".join(pieces)
        # The pieces joined are the reply the conversation kept.
        stored = chat.last_turn().text
        print(f"pieces: {len(pieces)}")
        print(f"joined equals the stored reply: {streamed == stored}")

        # 2. Typed events: text deltas, then TurnDone with the whole turn and its token usage.
        deltas, done = [], None
        for event in chat.stream("Now one about the mountains.", content=True):
            if isinstance(event, TextDelta):
                deltas.append(event.text)
                print(event.text, end="", flush=True)
            elif isinstance(event, TurnDone):
                done = event.turn
        print()
        assert done is not None
        print(f"events: {len(deltas)} text deltas; finish_reason={done.finish_reason}; "
              f"output tokens={done.tokens.output}")
        print(f"deltas joined equal the final turn: {''.join(deltas) == done.text}")


if __name__ == "__main__":
    main()
