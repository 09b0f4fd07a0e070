"""The LangChain examples run on the default model: the agent (tool_choice="any" on the first
step) and the structured-output chain."""

from __future__ import annotations

import importlib.util
import pathlib
from types import ModuleType

import langchain_core  # noqa: F401 - a dev dependency: fail loudly if missing
from langchain_core.messages import AIMessage, ToolMessage

from llamaprov.integrations.langchain import ChatLlamaProv

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_agent_calls_a_tool_then_answers(default_model_path: pathlib.Path) -> None:
    example = _load("langchain_agent")
    llm = ChatLlamaProv(model=str(default_model_path), temperature=0, max_tokens=64)
    agent = example.build_agent(llm)
    result = agent.invoke({"messages": [{"role": "user", "content": "What is 17 + 25?"}]})
    messages = result["messages"]
    calls = [c for m in messages if isinstance(m, AIMessage) for c in m.tool_calls]
    assert [c["name"] for c in calls] == ["add"]
    assert calls[0]["args"] == {"a": 17, "b": 25}
    tool_results = [m for m in messages if isinstance(m, ToolMessage)]
    assert [m.content for m in tool_results] == ["42"]
    final = messages[-1]
    assert isinstance(final, AIMessage) and not final.tool_calls and final.text


def test_structured_chain_returns_the_model(default_model_path: pathlib.Path) -> None:
    example = _load("langchain_structured")
    llm = ChatLlamaProv(model=str(default_model_path), temperature=0, max_tokens=96)
    chain = example.build_chain(llm)
    contact = chain.invoke({"text": "Contact: Alan Turing, alan@example.com, aged 41."})
    assert contact == example.Contact(name="Alan Turing", email="alan@example.com", age=41)
