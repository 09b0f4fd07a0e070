"""A LangChain agent with two tools on a local model.

The agent (LangChain's ``create_agent``, a LangGraph ReAct loop) runs on ``ChatLlamaProv``. Small
models answer from memory instead of calling a tool, so a middleware forces a tool call
(``tool_choice="any"``) while the user's question has no tool result yet and forbids one
(``tool_choice="none"``) afterwards, so the model then answers from the result.

Run: ``python examples/langchain_agent.py`` (needs ``pip install langchain langgraph``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import ModelRequest, ModelResponse, wrap_model_call
from langchain_core.messages import ToolMessage
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


@wrap_model_call
def tool_first(
    request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]
) -> ModelResponse:
    """Force one tool call per question, then a plain answer from its result."""
    answered = bool(request.messages) and isinstance(request.messages[-1], ToolMessage)
    return handler(request.override(tool_choice="none" if answered else "any"))


def build_agent(llm: ChatLlamaProv | None = None) -> Any:
    """The agent: a compiled LangGraph graph (``agent.invoke({"messages": [...]})``)."""
    llm = llm or ChatLlamaProv(temperature=0, max_tokens=128)
    return create_agent(
        llm,
        tools=[get_temperature, add],
        system_prompt="You are a helpful assistant. Use the tools to answer.",
        middleware=[tool_first],
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
