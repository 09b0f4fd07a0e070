"""Reasoning: the thinking of a reasoning model, streamed and kept apart from its answer, and
a budget on how long it may think.

    python examples/reasoning.py [MODEL.gguf | owner/repo]

With a reasoning model (Qwen3, DeepSeek-R1, SmolLM3, gpt-oss, ...) try e.g.
``python examples/reasoning.py Qwen/Qwen3-0.6B-GGUF``. The packaged default model,
SmolLM2-135M, does not think: its chat template has no thinking block. The script shows what
the API says about such a model, then lends it a minimal Qwen3-style template (written below)
so the mechanics can be seen on it; its "thinking" is then just whatever it writes after
``<think>``, since it was never trained to reason.
"""

from __future__ import annotations

import sys

from llamaprov import InvalidArgumentError
from llamaprov.chat import Chat, TextDelta, ThinkingDelta, TurnDone, chat_llamaprov

# A ChatML template with Qwen3's thinking switch: "<think>" plus an `enable_thinking` variable is
# how llamaprov recognises the Qwen3 family (which thinks unless the switch is off).
THINKING_TEMPLATE = (
    "{%- for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n"
    "{%- if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n"
    "{%- endif %}{%- endif %}"
)
# The most tokens the thinking may take; then "</think>" is written and the answer follows. Small
# for the demonstration on the default model; a real reasoning model gets room to think.
BUDGET, REAL_BUDGET = 8, 512
QUESTION = "Is 17 a prime number?"


def ask(chat: Chat, question: str) -> None:
    """Stream one reply, thinking and answer apart, and say how it went."""
    thinking, answer, turn = [], [], None
    for event in chat.stream(question, content=True):
        if isinstance(event, ThinkingDelta):
            thinking.append(event.text)  # the thinking comes first, as its own events
        elif isinstance(event, TextDelta):
            answer.append(event.text)
        elif isinstance(event, TurnDone):
            turn = event.turn
    assert turn is not None
    budget = chat.params().reasoning_budget
    print(f"  thinking ({len(thinking)} pieces, budget {budget}): {''.join(thinking).strip()!r}")
    print(f"  answer: {''.join(answer).strip()!r}")
    # The turn keeps them apart too: turn.thinking and turn.text.
    print(f"  turn.thinking == streamed thinking: {turn.thinking == ''.join(thinking)}")
    print(f"  turn.text == streamed answer: {turn.text == ''.join(answer)}")


def main() -> None:
    model = sys.argv[1] if len(sys.argv) > 1 else None  # None: the packaged default model
    # reasoning: "auto" (the template's default), "on" or "off"; reasoning_budget caps the
    # thinking in tokens; max_tokens counts the thinking and the answer together.
    settings = {"temperature": 0, "max_tokens": 80, "reasoning_budget": BUDGET}

    with chat_llamaprov(model, params=settings) as chat:
        family = chat.model_info()["reasoning"]  # None: the template knows no thinking
        print(f"reasoning family: {family}")
        if family is not None:  # a model that thinks: room for it (max_tokens counts both)
            chat.params(reasoning_budget=REAL_BUDGET, max_tokens=REAL_BUDGET + 256)
        ask(chat, QUESTION)
        if family is None:
            # Asking a model that cannot think to think is an error, not a silent no-op.
            chat.params(reasoning="on")
            try:
                chat.chat(QUESTION)
            except InvalidArgumentError as exc:
                print(f"reasoning='on' refused: {exc}")
    if family is not None:
        return

    # The same model with a template that has a thinking block: the reply now starts inside
    # <think>, streams as ThinkingDelta events, and the budget closes it after BUDGET tokens.
    print("with a Qwen3-style template (mechanics only: this model was not trained to think):")
    with chat_llamaprov(model, params=settings, template=THINKING_TEMPLATE) as chat:
        print(f"reasoning family: {chat.model_info()['reasoning']}")
        ask(chat, QUESTION)
        print("and with reasoning='off' (the template's switch closes an empty block):")
        chat.params(reasoning="off")
        ask(chat, QUESTION)


if __name__ == "__main__":
    main()
