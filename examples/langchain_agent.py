"""A LangChain agent with two tools on a local model.

The agent (LangChain's ``create_agent``, a LangGraph ReAct loop) runs on ``ChatLlamaProv`` with the
packaged default model, a 135M model without tool training. ``create_agent`` binds the tools
with ``tool_choice="auto"``: the model decides whether to call one. Its chat template has no
tool format, so llamaprov holds each reply to a tool call or an answer (a grammar), which keeps
even this small model from answering from memory in prose: it calls the tool, then answers from
the result.

Run: ``python examples/langchain_agent.py`` (needs ``pip install langchain langgraph``).
"""

from __future__ import annotations

from typing import Any

from langchain.agents import create_agent
from langchain_core.tools import tool

from llamaprov import ChatLlamaProv

TEMPERATURES = {"paris": 18, "oslo": 4, "cairo": 31}


@tool
def get_temperature(city: str) -> str:
    """Get the current temperature of a city in degrees Celsius.

    Args:
        city: the city's name, e.g. "Paris".
    """
    celsius = TEMPERATURES.get(city.strip().lower())
    return f"{celsius} °C in {city}" if celsius is not None else f"no data for {city}"


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first number.
        b: the second number.
    """
    return a + b


def build_agent(llm: ChatLlamaProv | None = None) -> Any:
    """The agent: a compiled LangGraph graph (``agent.invoke({"messages": [...]})``)."""
    llm = llm or ChatLlamaProv(temperature=0, max_tokens=128)
    return create_agent(
        llm,
        tools=[get_temperature, add],
        system_prompt="You are a helpful assistant. Use the tools to answer.",
    )


def main() -> None:
    agent = build_agent()
    for question in ("What is the temperature in Paris?", "What is 17 + 25?"):
        result = agent.invoke({"messages": [{"role": "user", "content": question}]})
        for message in result["messages"][1:]:
            calls = getattr(message, "tool_calls", None)
            shown = calls if calls else message.content
            print(f"{type(message).__name__}: {shown}")
        print()


if __name__ == "__main__":
    main()
