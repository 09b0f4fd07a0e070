"""A LangChain chain with structured output on a local model:
``prompt | ChatLlamaProv.with_structured_output(PydanticModel)``.

Generation is constrained by a grammar compiled from the model's JSON schema, so the reply always
parses into a ``Contact`` (no retries, no "please answer in JSON").

Run: ``python examples/langchain_structured.py``.
"""

from __future__ import annotations

from typing import Any

from langchain_core.prompts import ChatPromptTemplate
from pydantic import BaseModel, Field

from llamaprov import ChatLlamaProv


class Contact(BaseModel):
    """A person's contact details."""

    name: str = Field(description="the person's full name")
    email: str = Field(description="the email address")
    age: int = Field(description="age in years")


PROMPT = ChatPromptTemplate.from_messages(
    [
        (
            "system",
            "Copy the person's name, email address and age from the text into JSON.\n"
            "Example: 'Bob Stone, bob@mail.net, 52' gives "
            '{{"name": "Bob Stone", "email": "bob@mail.net", "age": 52}}',
        ),
        ("human", "{text}"),
    ]
)


def build_chain(llm: ChatLlamaProv | None = None) -> Any:
    """``prompt | llm.with_structured_output(Contact)``: text in, a Contact out."""
    llm = llm or ChatLlamaProv(temperature=0, max_tokens=96)
    return PROMPT | llm.with_structured_output(Contact)


def main() -> None:
    chain = build_chain()
    texts = [
        "Hi, I'm Ada Lovelace (ada@example.org), 36 years old.",
        "Contact: Alan Turing, alan@example.com, aged 41.",
    ]
    for contact in chain.batch([{"text": t} for t in texts]):
        print(repr(contact))


if __name__ == "__main__":
    main()
