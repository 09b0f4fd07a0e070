"""OpenAI values to llamaprov's and back, without a model: messages, tools, tool_choice, the
sampling fields, and the streamed deltas of reasoning and tool-call events."""

from __future__ import annotations

import json

import pytest

from llamaprov.chat import (
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
    TextDelta,
    ThinkingDelta,
    TokenUsage,
    ToolRequestArgumentsDelta,
    ToolRequestDone,
    ToolRequestStart,
    Turn,
)
from llamaprov.serve import _convert
from llamaprov.serve._errors import APIError
from llamaprov.serve._schemas import ChatCompletionRequest
from llamaprov.serve._stream import ChatChunks


def request(**fields) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields})


def test_messages_become_turns_with_tool_results_in_one_user_turn() -> None:
    body = request(messages=[
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Weather "},
                                     {"type": "text", "text": "here?"}]},
        {"role": "assistant", "content": None, "reasoning_content": "I should call.", "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "w", "arguments": '{"city": "X"}'}},
            {"id": "b", "type": "function", "function": {"name": "t", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "a", "content": "sunny"},
        {"role": "tool", "tool_call_id": "b", "content": "noon"},
    ])
    turns = _convert.to_turns(body.messages)
    assert [t.role for t in turns] == ["system", "user", "assistant", "user"]
    assert turns[0].text == "Be brief." and turns[1].text == "Weather here?"
    assert turns[2].contents == [ContentThinking("I should call."),
                                 ContentToolRequest("a", "w", {"city": "X"}),
                                 ContentToolRequest("b", "t", {})]
    assert turns[3].contents == [ContentToolResult("a", value="sunny", name="w"),
                                 ContentToolResult("b", value="noon", name="t")]


@pytest.mark.parametrize(("messages", "param"), [
    ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
     "messages[0].content[0]"),
    ([{"role": "tool", "content": "x"}], "messages[0].tool_call_id"),
    ([{"role": "assistant", "tool_calls": [{"id": "a", "function": {"name": "w", "arguments": "[1]"}}]}],
     "messages[0].tool_calls[0].function.arguments"),
])
def test_bad_messages_name_their_place(messages, param) -> None:
    with pytest.raises(APIError) as caught:
        _convert.to_turns(request(messages=messages).messages)
    assert caught.value.status == 400 and caught.value.param == param


def test_tool_choice_forms() -> None:
    assert _convert.to_tool_choice(None) == "auto"
    assert _convert.to_tool_choice("required") == "required"
    assert _convert.to_tool_choice({"type": "function", "function": {"name": "w"}}) == "w"
    for bad in ("any_tool", {"type": "function"}, 3):
        with pytest.raises(APIError):
            _convert.to_tool_choice(bad)


def test_sampling_fields_are_chat_params() -> None:
    body = request(temperature=0.5, top_k=20, min_p=0.1, seed=7, stop=["\n"], max_completion_tokens=9,
                   logit_bias={"42": -5})
    job = _convert.chat_job(body, limit=100)
    assert job.params == {"temperature": 0.5, "top_k": 20, "min_p": 0.1, "seed": 7, "stop": ["\n"],
                          "max_tokens": 9, "logit_bias": {42: -5}}
    assert _convert.chat_job(request(), limit=100).params["max_tokens"] == 100  # the default, limited


def test_a_turn_becomes_a_message_with_reasoning_and_calls() -> None:
    contents = [ContentThinking("hmm"), ContentText("ok"), ContentToolRequest("i", "w", {"a": 1})]
    turn = Turn("assistant", contents, tokens=TokenUsage(10, 3, 4), finish_reason="tool_calls")
    message = _convert.message(turn)
    assert message["reasoning_content"] == "hmm" and message["content"] == "ok"
    assert message["tool_calls"] == [{"id": "i", "type": "function",
                                      "function": {"name": "w", "arguments": '{"a": 1}'}}]
    assert _convert.finish_reason(turn) == "tool_calls"
    assert _convert.usage(turn.tokens) == {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13,
                                           "prompt_tokens_details": {"cached_tokens": 4}}
    assert _convert.finish_reason(Turn("assistant", "x", finish_reason="eog")) == "stop"


def test_stream_deltas_of_reasoning_text_and_tool_calls() -> None:
    chunks = ChatChunks("m")
    request_ = ContentToolRequest("id1", "w", {"city": "X"})
    deltas = [chunks.delta(e) for e in (
        ThinkingDelta("think"), TextDelta("hi"), ToolRequestStart(0, "id1", "w"),
        ToolRequestArgumentsDelta(0, "id1", '{"city": '), ToolRequestArgumentsDelta(0, "id1", '"X"}'),
        ToolRequestDone(0, request_))]
    assert deltas[0] == {"reasoning_content": "think"} and deltas[1] == {"content": "hi"}
    assert deltas[2] == {"tool_calls": [{"index": 0, "id": "id1", "type": "function",
                                         "function": {"name": "w", "arguments": ""}}]}
    args = "".join(d["tool_calls"][0]["function"]["arguments"] for d in deltas[3:5])
    assert json.loads(args) == request_.arguments and deltas[5] is None
    # a call announced only when done is sent whole; arguments never streamed are sent at the end
    other = ChatChunks("m")
    assert other.delta(ToolRequestDone(1, request_)) == {"tool_calls": [_convert.tool_call(request_, 1)]}
    other.delta(ToolRequestStart(2, "id2", "w"))
    done = other.delta(ToolRequestDone(2, ContentToolRequest("id2", "w", {"a": 1})))
    assert done == {"tool_calls": [{"index": 2, "function": {"arguments": '{"a": 1}'}}]}
