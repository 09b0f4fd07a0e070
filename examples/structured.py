"""Structured output: extract a pydantic model from text with a grammar-constrained local model.

    python examples/structured.py [MODEL.gguf | owner/repo]
"""

from __future__ import annotations

import enum
import sys
from typing import Optional

from pydantic import BaseModel, Field

from llamaprov.chat import chat_llamaprov, parallel_chat_structured, type_integer, type_object


class Kind(str, enum.Enum):
    cat = "cat"
    dog = "dog"
    bird = "bird"


class Pet(BaseModel):
    name: str = Field(max_length=16)
    kind: Kind
    age: Optional[int] = None  # noqa: UP045


def main() -> None:
    chat = chat_llamaprov(
        sys.argv[1] if len(sys.argv) > 1 else None, params={"temperature": 0, "max_tokens": 64}
    )
    print(chat.chat_structured("Rex is a 3 year old dog.", type=Pet))
    # type specs work too, and so does a plain JSON-schema dict
    print(chat.chat_structured("I am 41 years old.", type=type_object(age=type_integer())))
    # many prompts decoded together in one context
    for pet in parallel_chat_structured(
        chat, ["Tweety is a bird.", "Tom is a 4 year old cat."], type=Pet
    ):
        print(pet)


if __name__ == "__main__":
    main()
