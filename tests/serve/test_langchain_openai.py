"""LangChain's ChatOpenAI pointed at the server: invoke, stream, tools, structured output."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

langchain_openai = pytest.importorskip("langchain_openai")

from _served import API_KEY, Served  # noqa: E402


class City(BaseModel):
    """A city and its country."""

    name: str = Field(description="the city's name")
    country: str = Field(description="the country it is in")


def get_weather(city: str) -> str:
    """The weather of a city.

    Args:
        city: the city's name
    """
    return "sunny"


@pytest.fixture(scope="module")
def llm(served: Served):
    return langchain_openai.ChatOpenAI(model=served.model_id, base_url=served.base_url, api_key=API_KEY,
                                       temperature=0, max_tokens=24, max_retries=0, timeout=120)


def test_invoke_and_stream_give_the_same_reply(llm) -> None:
    reply = llm.invoke("Name a color.")
    assert isinstance(reply.content, str) and reply.content
    assert reply.usage_metadata["output_tokens"] > 0
    streamed = "".join(chunk.content for chunk in llm.stream("Name a color."))
    assert streamed == reply.content


def test_bound_tool_is_called(llm) -> None:
    reply = llm.bind_tools([get_weather], tool_choice="get_weather").invoke("Weather in Paris?")
    assert [c["name"] for c in reply.tool_calls] == ["get_weather"]
    assert isinstance(reply.tool_calls[0]["args"].get("city"), str)
    assert reply.tool_calls[0]["id"]


def test_structured_output_json_schema(llm) -> None:
    city = llm.with_structured_output(City, method="json_schema", strict=True).invoke(
        "Paris is in France.")
    assert isinstance(city, City) and city.name and city.country
