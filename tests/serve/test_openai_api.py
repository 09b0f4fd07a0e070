"""The OpenAI-compatible server through the real ``openai`` client: chat (plain and streamed),
tools, structured output, text completions, embeddings, models, health and metrics."""

from __future__ import annotations

import base64
import json
import time

import jsonschema
import numpy as np
import pytest
from pydantic import BaseModel

openai = pytest.importorskip("openai")
httpx = pytest.importorskip("httpx")

from _served import API_KEY, Served  # noqa: E402

WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TIME = {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "The weather of a city.",
                                      "parameters": WEATHER}},
    {"type": "function", "function": {"name": "get_time", "description": "The time in a time zone.",
                                      "parameters": TIME}},
]
SCHEMAS = {"get_weather": WEATHER, "get_time": TIME}
GREEDY = {"temperature": 0}


class Person(BaseModel):
    name: str
    age: int


@pytest.fixture(scope="module")
def client(served: Served) -> openai.OpenAI:
    return openai.OpenAI(base_url=served.base_url, api_key=API_KEY, timeout=120, max_retries=0)


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def collect_stream(stream) -> tuple[str, dict[int, dict[str, str]], list[str | None], object]:
    """(text, tool calls by index assembled from their deltas, finish reasons, usage)."""
    text, calls, finishes, usage = "", {}, [], None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            delta = choice.delta
            text += delta.content or ""
            for call in delta.tool_calls or ():
                entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                entry["id"] += call.id or ""
                if call.function is not None:
                    entry["name"] += call.function.name or ""
                    entry["arguments"] += call.function.arguments or ""
            finishes.append(choice.finish_reason)
    return text, calls, finishes, usage


def test_models_and_health(served: Served, client) -> None:
    models = client.models.list().data
    assert [m.id for m in models] == [served.model_id]
    assert client.models.retrieve(served.model_id).id == served.model_id
    health = httpx.get(served.url + "/health", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok"


def test_chat_reply_and_usage(served: Served, client) -> None:
    reply = client.chat.completions.create(model=served.model_id, messages=ask("Say hello."),
                                           max_tokens=8, **GREEDY)
    choice = reply.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason in ("stop", "length")
    usage = reply.usage
    assert 0 < usage.completion_tokens <= 8 and usage.prompt_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_streamed_chat_is_the_same_reply(served: Served, client) -> None:
    messages = [{"role": "system", "content": "You are terse."}, *ask("Name a fruit.")]
    whole = client.chat.completions.create(model=served.model_id, messages=messages, max_tokens=12,
                                           **GREEDY)
    stream = client.chat.completions.create(model=served.model_id, messages=messages, max_tokens=12,
                                            stream=True, stream_options={"include_usage": True}, **GREEDY)
    text, calls, finishes, usage = collect_stream(stream)
    assert text == whole.choices[0].message.content and not calls
    assert finishes[-1] == whole.choices[0].finish_reason and finishes.count(None) == len(finishes) - 1
    assert usage is not None and usage.completion_tokens == whole.usage.completion_tokens


@pytest.mark.parametrize("choice", ["required", "named"])
def test_forced_tool_calls(served: Served, client, choice: str) -> None:
    tool_choice = "required" if choice == "required" else {"type": "function",
                                                         "function": {"name": "get_time"}}
    reply = client.chat.completions.create(model=served.model_id, messages=ask("Weather in Paris?"),
                                           tools=TOOLS, tool_choice=tool_choice, max_tokens=48, **GREEDY)
    message = reply.choices[0].message
    assert reply.choices[0].finish_reason == "tool_calls" and message.tool_calls
    for call in message.tool_calls:
        assert call.id and call.function.name in SCHEMAS
        jsonschema.validate(json.loads(call.function.arguments), SCHEMAS[call.function.name])
    if choice == "named":
        assert [c.function.name for c in message.tool_calls] == ["get_time"]


def test_streamed_tool_call_deltas(served: Served, client) -> None:
    stream = client.chat.completions.create(
        model=served.model_id, messages=ask("Weather in Rome?"), tools=TOOLS, max_tokens=48,
        tool_choice={"type": "function", "function": {"name": "get_weather"}}, stream=True, **GREEDY)
    _, calls, finishes, _ = collect_stream(stream)
    assert list(calls) == [0] and finishes[-1] == "tool_calls"
    call = calls[0]
    assert call["id"] and call["name"] == "get_weather"
    jsonschema.validate(json.loads(call["arguments"]), WEATHER)


def test_auto_tool_choice_and_a_tool_result(served: Served, client) -> None:
    reply = client.chat.completions.create(model=served.model_id, messages=ask("Weather in Oslo?"),
                                           tools=TOOLS, tool_choice="auto", max_tokens=48, **GREEDY)
    message = reply.choices[0].message
    for call in message.tool_calls or ():  # the model may call or answer
        jsonschema.validate(json.loads(call.function.arguments), SCHEMAS[call.function.name])
    assert message.tool_calls or message.content
    # a conversation with a call and its result goes back to the model
    history = [*ask("Weather in Oslo?"),
               {"role": "assistant", "content": None, "tool_calls": [
                   {"id": "call1", "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
               {"role": "tool", "tool_call_id": "call1", "content": "sunny, 21 C"}]
    answer = client.chat.completions.create(model=served.model_id, messages=history, tools=TOOLS,
                                            tool_choice="none", max_tokens=16, **GREEDY)
    assert answer.choices[0].message.content and not answer.choices[0].message.tool_calls


def test_structured_output_json_schema_strict(served: Served, client) -> None:
    reply = client.chat.completions.parse(model=served.model_id, response_format=Person,
                                          messages=ask("Bob is 30 years old."), max_tokens=40, **GREEDY)
    person = reply.choices[0].message.parsed
    assert isinstance(person, Person) and person.name
    data = json.loads(reply.choices[0].message.content)
    jsonschema.validate(data, Person.model_json_schema())


def test_json_object_mode(served: Served, client) -> None:
    reply = client.chat.completions.create(model=served.model_id, messages=ask("Describe a cat in JSON."),
                                           response_format={"type": "json_object"}, max_tokens=40, **GREEDY)
    assert isinstance(json.loads(reply.choices[0].message.content), dict)


def test_text_completion_streamed_and_not(served: Served, client) -> None:
    whole = client.completions.create(model=served.model_id, prompt="The capital of France is",
                                      max_tokens=6, **GREEDY)
    pieces = [c.choices[0].text for c in client.completions.create(
        model=served.model_id, prompt="The capital of France is", max_tokens=6, stream=True, **GREEDY)
        if c.choices]
    assert whole.choices[0].text and "".join(pieces) == whole.choices[0].text
    assert 0 < whole.usage.completion_tokens <= 6


def test_embeddings(served: Served, client) -> None:
    result = client.embeddings.create(model=served.model_id, input=["a red apple", "quantum physics"])
    vectors = np.array([d.embedding for d in result.data])
    assert vectors.shape[0] == 2 and vectors.shape[1] > 8
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert not np.allclose(vectors[0], vectors[1])
    raw = httpx.post(served.base_url + "/embeddings", headers={"Authorization": f"Bearer {API_KEY}"},
                     json={"model": served.model_id, "input": "a red apple", "encoding_format": "base64"},
                     timeout=60).json()
    decoded = np.frombuffer(base64.b64decode(raw["data"][0]["embedding"]), dtype=np.float32)
    assert np.allclose(decoded, vectors[0], atol=1e-5)


def test_metrics_count_requests_tokens_and_the_queue(served: Served, client) -> None:
    client.chat.completions.create(model=served.model_id, messages=ask("Hi"), max_tokens=4)
    text = httpx.get(served.url + "/metrics", headers={"Authorization": f"Bearer {API_KEY}"},
                     timeout=10).text
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    assert samples['llamaprov_requests_total{endpoint="/v1/chat/completions",status="200"}'] >= 1
    assert samples["llamaprov_completion_tokens_total"] >= 1
    assert samples["llamaprov_prompt_tokens_total"] >= 1
    for name in ("llamaprov_queue_depth", "llamaprov_running_sequences", "llamaprov_kv_cells_used",
                 "llamaprov_kv_cache_usage_ratio", "llamaprov_requests_in_flight"):
        assert name in samples
    assert samples["llamaprov_kv_cells_total"] == 2048


def _metric(served: Served, name: str) -> float:
    text = httpx.get(served.url + "/metrics", headers={"Authorization": f"Bearer {API_KEY}"},
                     timeout=10).text
    return next(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + " "))


def test_a_client_that_leaves_frees_its_sequence(served: Served, client) -> None:
    left = _metric(served, "llamaprov_client_disconnects_total")
    body = {"model": served.model_id, "prompt": "Count from one to one thousand: one, two,",
            "max_tokens": 1000, "stream": True, "temperature": 0}
    with httpx.stream("POST", served.base_url + "/completions", json=body, timeout=60,
                      headers={"Authorization": f"Bearer {API_KEY}"}) as response:
        got = 0
        for line in response.iter_lines():
            got += line.startswith("data: {")
            if got == 3:
                break
    deadline = time.monotonic() + 20
    while served.provider.batch_stats()["running"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert served.provider.batch_stats()["running"] == 0
    assert _metric(served, "llamaprov_client_disconnects_total") == left + 1
    assert _metric(served, "llamaprov_requests_in_flight") == 0
    reply = client.completions.create(model=served.model_id, prompt="One, two,", max_tokens=3)
    assert reply.choices[0].text
