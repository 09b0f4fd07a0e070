"""A LangChain chain on a local model: ``prompt | ChatLlamaProv | StrOutputParser``.

    python examples/langchain_chain.py [MODEL.gguf | owner/repo]

``ChatLlamaProv`` is a LangChain chat model (``BaseChatModel``), so it composes with prompts,
parsers and the rest of LangChain Expression Language like any hosted model. Needs
``langchain-core`` (``pip install langchain-core``).
"""

from __future__ import annotations

import sys

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from llamaprov import ChatLlamaProv

# {country} is filled from the chain's input dict.
PROMPT = ChatPromptTemplate.from_messages([
    ("system", "You are a concise assistant. Answer in one short sentence."),
    ("human", "What is the capital of {country}?"),
])


def main() -> None:
    model = sys.argv[1] if len(sys.argv) > 1 else None  # None: the packaged default model
    llm = ChatLlamaProv(model=model, temperature=0, max_tokens=32)
    # The chain: the prompt formats messages, the model replies (an AIMessage), and the parser
    # turns the message into a plain str.
    chain = PROMPT | llm | StrOutputParser()

    answer = chain.invoke({"country": "France"})
    print(f"invoke: {answer}")

    # The same chain streamed: the parser passes the model's pieces through as they come.
    pieces = list(chain.stream({"country": "France"}))
    print(f"stream: {len(pieces)} pieces, joined equals invoke: {''.join(pieces) == answer}")

    # batch() decodes its inputs together as parallel sequences of one context.
    countries = ["Italy", "Japan"]
    replies = chain.batch([{"country": c} for c in countries])
    for country, reply in zip(countries, replies, strict=True):
        print(f"batch: {country} -> {reply}")


if __name__ == "__main__":
    main()
