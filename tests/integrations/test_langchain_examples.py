"""The LangChain examples run on the default model: the agent (tools bound with tool_choice="auto")
and the structured-output chain."""

from __future__ import annotations

import importlib.util
import pathlib
from types import ModuleType
from typing import Any

import langchain_core  # noqa: F401 - a dev dependency: fail loudly if missing
import pytest
from langchain_core.messages import AIMessage, ToolMessage

from llamaprov.integrations.langchain import ChatLlamaProv

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("question", "call", "result", "answer"),
    [
        ("What is the temperature in Paris?", ("get_temperature", {"city": "Paris"}), "18 °C in Paris", "18"),
        ("What is 17 + 25?", ("add", {"a": 17, "b": 25}), "42", "42"),
    ],
)
def test_agent_calls_the_right_tool_then_answers_from_its_result(
    default_model_path: pathlib.Path, question: str, call: tuple[str, dict[str, Any]], result: str,
    answer: str,
) -> None:
    # tool_choice="auto" throughout: create_agent binds the tools, no middleware
    example = _load("langchain_agent")
    llm = ChatLlamaProv(model=str(default_model_path), temperature=0, max_tokens=128)
    agent = example.build_agent(llm)
    messages = agent.invoke({"messages": [{"role": "user", "content": question}]})["messages"]
    calls = [(c["name"], c["args"]) for m in messages if isinstance(m, AIMessage) for c in m.tool_calls]
    assert calls == [call]
    assert [m.content for m in messages if isinstance(m, ToolMessage)] == [result]
    final = messages[-1]
    assert isinstance(final, AIMessage) and not final.tool_calls and answer in final.text


def test_structured_chain_returns_the_model(default_model_path: pathlib.Path) -> None:
    example = _load("langchain_structured")
    llm = ChatLlamaProv(model=str(default_model_path), temperature=0, max_tokens=96)
    chain = example.build_chain(llm)
    contact = chain.invoke({"text": "Contact: Alan Turing, alan@example.com, aged 41."})
    assert contact == example.Contact(name="Alan Turing", email="alan@example.com", age=41)
