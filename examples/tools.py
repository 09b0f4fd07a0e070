"""Tool calling with a local model.

    python examples/tools.py [MODEL.gguf | owner/repo]

The default model (SmolLM2-135M) has no tool support in its chat template, so llamaprov uses its
generic format: tools described in the system prompt, the call constrained by a grammar.
"""

from __future__ import annotations

import sys

from llamaprov.chat import TextDelta, ToolRequestDone, ToolResultEvent, chat_llamaprov

SECRETS = {7: "pineapple", 3: "volcano"}


def secret_word(number: int) -> str:
    """The secret word for a number.

    Args:
        number: which secret word to look up
    """
    return SECRETS.get(number, "unknown")


def main() -> None:
    chat = chat_llamaprov(
        sys.argv[1] if len(sys.argv) > 1 else None,
        params={"temperature": 0, "max_tokens": 64},
        tools=[secret_word],
    )
    # "required" forces a call on the first round; then the model answers with the result
    for event in chat.stream("What is the secret word for number 7?", content=True,
                             tool_choice="required"):
        if isinstance(event, ToolRequestDone):
            print(f"[call] {event.request.name}({event.request.arguments})")
        elif isinstance(event, ToolResultEvent):
            print(f"[result] {event.result.as_text()}")
        elif isinstance(event, TextDelta):
            print(event.text, end="", flush=True)
    print()
    print("tokens used:", chat.tokens_used())


if __name__ == "__main__":
    main()
